/* Unit tests for the answer parsers of tools/estclient-parse.c. */
#include "ac-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/err.h"
#include "tests/unit/tap.h"
#include "tools/estclient.h"

static struct estc_resp *resp_of(int, const char *, const char *);
static void test_expect_ok(void);
static void test_answer_certs(void);
static void test_multipart(void);
static void test_base64(void);

/* An answer as libcurl hands it over: status, Content-Type, body. */
static struct estc_resp *
resp_of(int status, const char *ctype, const char *body)
{
	struct estc_resp *r;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->body = (unsigned char *)strdup(body)) == NULL) {
		free(r);
		return NULL;
	}
	r->status = status;
	snprintf(r->ctype, sizeof(r->ctype), "%s", ctype);
	r->retry_after = -1;
	r->len = strlen(body);
	return r;
}

static void
test_expect_ok(void)
{
	struct estc_resp *r;
	struct ca_err err;

	ca_err_clear(&err);
	r = resp_of(200, "", "");
	TAP_INT_EQ(r != NULL ? estc_expect_ok(r, "x", &err) : -1, 0,
	    "200 is fine");
	estc_resp_free(r);
	ca_err_clear(&err);
	r = resp_of(403, "text/plain; charset=utf-8",
	    "template x: no\r\nsecond line");
	TAP_OK(r != NULL && estc_expect_ok(r, "simpleenroll", &err) ==
	    CA_ERR_POLICY, "403 is refused");
	TAP_STR_EQ(err.msg, "server said 403: template x: no",
	    "403: the first line of a text body is the reason");
	estc_resp_free(r);
	ca_err_clear(&err);
	r = resp_of(401, "Text/Plain", "wrong \x01password");
	TAP_OK(r != NULL && estc_expect_ok(r, "simpleenroll", &err) ==
	    CA_ERR_AUTH, "401 is an authentication error");
	TAP_STR_EQ(err.msg, "server said 401: wrong ?password",
	    "401: control characters are not printed");
	estc_resp_free(r);
	ca_err_clear(&err);
	r = resp_of(500, "application/json", "{\"e\": 1}");
	TAP_OK(r != NULL && estc_expect_ok(r, "fullcmc", &err) != 0,
	    "500 is refused");
	TAP_STR_EQ(err.msg, "server said 500 (no reason given, Content-Type "
	    "\"application/json\") to fullcmc",
	    "a body that is not text is no reason");
	estc_resp_free(r);
	ca_err_clear(&err);
	if ((r = resp_of(202, "text/plain", "waiting")) != NULL)
		r->retry_after = 60;
	TAP_OK(r != NULL && estc_expect_ok(r, "simpleenroll", &err) != 0,
	    "202 is not a certificate");
	TAP_STR_EQ(err.msg, "server said 202: simpleenroll is pending, "
	    "nothing issued yet (retry after 60 s): waiting",
	    "202: pending, with Retry-After and the reason");
	estc_resp_free(r);
}

static void
test_answer_certs(void)
{
	STACK_OF(X509) *certs = NULL;
	struct estc_resp *r;
	struct ca_err err;

	ca_err_clear(&err);
	r = resp_of(200, "text/html", "<html></html>");
	TAP_OK(r != NULL && estc_answer_certs(r, "simpleenroll", &certs,
	    &err) != 0 && certs == NULL, "a text/html answer is refused");
	TAP_STR_EQ(err.msg, "simpleenroll: the server answered "
	    "\"text/html\", not application/pkcs7-mime",
	    "the wrong Content-Type is named");
	estc_resp_free(r);
	ca_err_clear(&err);
	r = resp_of(200, "", "MIIB");
	TAP_OK(r != NULL && estc_answer_certs(r, "simpleenroll", &certs,
	    &err) != 0, "an answer without Content-Type is refused");
	TAP_STR_EQ(err.msg, "simpleenroll: the server's answer has no "
	    "Content-Type (wanted application/pkcs7-mime)",
	    "a missing Content-Type is named");
	estc_resp_free(r);
	ca_err_clear(&err);
	r = resp_of(200, "application/pkcs7-mime; smime-type=certs-only",
	    "TUlJQg==");
	TAP_OK(r != NULL && estc_answer_certs(r, "simpleenroll", &certs,
	    &err) != 0 && certs == NULL,
	    "base64 of something else is not a certs-only PKCS#7");
	estc_resp_free(r);
}

static void
test_multipart(void)
{
	static const char body[] = "preamble\r\n"
	    "--b-7f\r\n"
	    "Content-Type: application/pkcs8\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n"
	    "S0VZ\r\n"
	    "--b-7f\r\n"
	    "content-type: application/pkcs7-mime; smime-type=certs-only\r\n"
	    "\r\n"
	    "Q0VSVA==\r\n"
	    "--b-7f--\r\n";
	static const char lf[] = "--x\nContent-Type: a/b\n\nline1\nline2\n"
	    "--x--\n";
	static const char unterminated[] = "--b-7f\r\nContent-Type: a/b\r\n"
	    "\r\nno end";
	static const char lookalike[] = "--b-7f\r\n\r\none\r\n--b-7fx\r\n"
	    "--b-7f--";
	struct estc_part parts[4];
	struct ca_err err;
	size_t n = 0;
	int rc;

	ca_err_clear(&err);
	rc = estc_multipart("multipart/mixed; boundary=b-7f",
	    (const unsigned char *)body, sizeof(body) - 1, parts, 4, &n, &err);
	TAP_INT_EQ(rc, 0, "multipart as smimecad sends it parses");
	TAP_INT_EQ(n, 2, "two parts");
	if (rc == 0 && n == 2) {
		TAP_STR_EQ(parts[0].ctype, "application/pkcs8",
		    "part 1 Content-Type");
		TAP_OK(parts[0].len == 4 &&
		    memcmp(parts[0].body, "S0VZ", 4) == 0,
		    "part 1 body without the delimiter's CRLF");
		TAP_STR_EQ(parts[1].ctype,
		    "application/pkcs7-mime; smime-type=certs-only",
		    "part 2 Content-Type (header name in lower case)");
		TAP_OK(parts[1].len == 8 &&
		    memcmp(parts[1].body, "Q0VSVA==", 8) == 0, "part 2 body");
	}
	rc = estc_multipart("Multipart/Mixed; charset=x; boundary=\"x\"",
	    (const unsigned char *)lf, sizeof(lf) - 1, parts, 4, &n, &err);
	TAP_OK(rc == 0 && n == 1 && parts[0].len == 11 &&
	    memcmp(parts[0].body, "line1\nline2", 11) == 0,
	    "LF line ends and a quoted boundary");
	rc = estc_multipart("multipart/mixed; boundary=b-7f",
	    (const unsigned char *)lookalike, sizeof(lookalike) - 1, parts, 4,
	    &n, &err);
	TAP_OK(rc == 0 && n == 1 && parts[0].len == 12,
	    "a longer boundary-like line is content, not a delimiter");
	TAP_OK(estc_multipart("multipart/mixed; boundary=b-7f",
	    (const unsigned char *)unterminated, sizeof(unterminated) - 1,
	    parts, 4, &n, &err) != 0, "an unterminated part is refused");
	TAP_OK(estc_multipart("multipart/mixed",
	    (const unsigned char *)body, sizeof(body) - 1, parts, 4, &n,
	    &err) != 0, "no boundary parameter is refused");
	TAP_OK(estc_multipart("application/pkcs7-mime; boundary=b-7f",
	    (const unsigned char *)body, sizeof(body) - 1, parts, 4, &n,
	    &err) != 0, "not multipart is refused");
	TAP_OK(estc_multipart("multipart/mixed; boundary=b-7f",
	    (const unsigned char *)body, sizeof(body) - 1, parts, 1, &n,
	    &err) != 0, "more parts than room is refused");
}

static void
test_base64(void)
{
	static const struct {
		const char *in;
		const char *out;	/* NULL: refused */
	} cases[] = {
		{ "TUlJ", "MII" },
		{ "TUk=", "MI" },
		{ "TQ==", "M" },
		{ "TUlJ\r\nTUk=\n", "MIIMI" },
		{ " T U l J ", "MII" },
		{ "", NULL },
		{ "TUl", NULL },
		{ "TQ=a", NULL },
		{ "T===", NULL },
		{ "TU*J", NULL },
		{ "TQ==TQ==", NULL },
	};
	struct ca_err err;
	unsigned char *out;
	size_t i, len;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ca_err_clear(&err);
		rc = estc_unbase64((const unsigned char *)cases[i].in,
		    strlen(cases[i].in), &out, &len, &err);
		if (cases[i].out == NULL)
			TAP_OK(rc != 0 && out == NULL, "base64 case %zu "
			    "refused", i);
		else
			TAP_OK(rc == 0 && len == strlen(cases[i].out) &&
			    memcmp(out, cases[i].out, len) == 0,
			    "base64 case %zu decodes", i);
		free(out);
	}
}

int
main(void)
{
	char mt[64];

	test_expect_ok();
	test_answer_certs();
	test_multipart();
	test_base64();
	estc_media_type(" Application/PKCS7-MIME ; smime-type=x", mt,
	    sizeof(mt));
	TAP_STR_EQ(mt, "application/pkcs7-mime", "media type lower-cased");
	estc_media_type("multipart/mixed", mt, sizeof(mt));
	TAP_STR_EQ(mt, "multipart/mixed", "media type without parameters");
	TAP_OK(estc_label_ok("smime-encryption") && !estc_label_ok("a/b") &&
	    !estc_label_ok(".x") && !estc_label_ok(""),
	    "template names for the EST path");
	return tap_done();
}
