/* Unit tests for the parsers of tools/estclient.c (network input). */
#include "ac-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/err.h"
#include "tests/unit/tap.h"
#include "tools/estclient.h"

static int parse(const char *, size_t, int, struct estc_resp **);
static void test_http(void);
static void test_http_prefixes(const char *, const char *);
static void test_http_bad(void);
static void test_multipart(void);
static void test_base64(void);

static int
parse(const char *s, size_t len, int eof, struct estc_resp **respp)
{
	struct ca_err err;

	ca_err_clear(&err);
	return estc_http_parse((const unsigned char *)s, len, eof, respp,
	    &err);
}

static void
test_http(void)
{
	static const char cl[] = "HTTP/1.1 403 Forbidden\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: 5\r\n\r\nno!\n\nignored";
	static const char chunked[] = "HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: chunked\r\n"
	    "Content-Type: application/pkcs7-mime\r\n\r\n"
	    "4;ext=1\r\nMIIB\r\n3\r\nabc\r\n0\r\nX-Trailer: y\r\n\r\n";
	static const char interim[] = "HTTP/1.1 100 Continue\r\n\r\n"
	    "HTTP/1.1 202 Accepted\r\nRetry-After: 60\r\n"
	    "Content-Length: 0\r\n\r\n";
	static const char eofdelim[] = "HTTP/1.0 200 OK\n"
	    "content-type: application/x-pem-file\n\nPEM";
	struct estc_resp *r = NULL;

	TAP_INT_EQ(parse(cl, sizeof(cl) - 1, 0, &r), 0,
	    "Content-Length answer parses");
	if (r != NULL) {
		TAP_INT_EQ(r->status, 403, "status 403");
		TAP_STR_EQ(r->ctype, "text/plain; charset=utf-8",
		    "Content-Type kept as sent");
		TAP_INT_EQ(r->len, 5, "body of Content-Length bytes");
		TAP_STR_EQ((char *)r->body, "no!\n\n", "body bytes");
		TAP_INT_EQ(r->retry_after, -1, "no Retry-After");
	}
	estc_resp_free(r);
	r = NULL;
	TAP_INT_EQ(parse(chunked, sizeof(chunked) - 1, 0, &r), 0,
	    "chunked answer parses");
	if (r != NULL)
		TAP_STR_EQ((char *)r->body, "MIIBabc", "chunks joined");
	estc_resp_free(r);
	r = NULL;
	TAP_INT_EQ(parse(interim, sizeof(interim) - 1, 0, &r), 0,
	    "an interim 100 answer is skipped");
	if (r != NULL) {
		TAP_INT_EQ(r->status, 202, "the real answer: 202");
		TAP_INT_EQ(r->retry_after, 60, "Retry-After: 60");
	}
	estc_resp_free(r);
	r = NULL;
	TAP_INT_EQ(parse(eofdelim, sizeof(eofdelim) - 1, 0, &r), ESTC_MORE,
	    "no framing: more until EOF");
	TAP_INT_EQ(parse(eofdelim, sizeof(eofdelim) - 1, 1, &r), 0,
	    "no framing: complete at EOF, LF line ends");
	if (r != NULL) {
		TAP_STR_EQ((char *)r->body, "PEM", "body up to EOF");
		TAP_STR_EQ(r->ctype, "application/x-pem-file",
		    "header names are case-insensitive");
	}
	estc_resp_free(r);
	test_http_prefixes(cl, "no!\n\n");
	test_http_prefixes(chunked, "MIIBabc");
}

/* Every proper prefix is ESTC_MORE (or an error at EOF). */
static void
test_http_prefixes(const char *msg, const char *body)
{
	struct estc_resp *r = NULL;
	size_t i, n = strlen(msg), end;
	int more = 1, eoferr = 1, rc;

	end = strstr(msg, body) != NULL && strstr(msg, "chunked") == NULL ?
	    (size_t)(strstr(msg, body) - msg) + strlen(body) : n;
	for (i = 0; i < end; i++) {
		if ((rc = parse(msg, i, 0, &r)) != ESTC_MORE)
			more = 0;
		estc_resp_free(r);
		r = NULL;
		if ((rc = parse(msg, i, 1, &r)) >= 0)
			eoferr = 0;
		estc_resp_free(r);
		r = NULL;
	}
	TAP_OK(more, "each of %zu prefixes wants more", end);
	TAP_OK(eoferr, "each prefix is an error at EOF");
}

static void
test_http_bad(void)
{
	static const char *bad[] = {
		"HTTP/2 200 OK\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 200OK\r\n\r\n",
		"HTTP/1.1 099 x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\nab",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
		    "Content-Length: 3\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n"
		    "\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1048577\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n",
		"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "zz\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "2\r\nabX\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "ffffffffffffffffffff\r\n",
	};
	struct estc_resp *r = NULL;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc = parse(bad[i], strlen(bad[i]), 1, &r);
		TAP_OK(rc < 0 && r == NULL, "malformed answer %zu refused",
		    i);
		estc_resp_free(r);
		r = NULL;
	}
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

	test_http();
	test_http_bad();
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
