/*
 * The answers of an EST server as smimeca-enroll reads them: the status
 * and the server's reason, the Content-Type, multipart bodies, base64,
 * certs-only PKCS#7, a CMC PKIResponse and the CA exchange certificate.
 * Network input: nothing here trusts a length it did not check, and the
 * fuzz harness tests/fuzz/fuzz_est_answer.c links this file alone.
 */
#include "ac-config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

#include "archive/cmc_asn1.h"
#include "ca/err.h"
#include "tools/estclient.h"

#define REASON_MAX	300	/* bytes of a server's reason we print */
#define MAX_PARTS	8

static void printable(const unsigned char *, size_t, char *, size_t);
static int param_of(const char *, const char *, char *, size_t);
static const unsigned char *next_line(const unsigned char *,
    const unsigned char *, const unsigned char **);
static int header_is(const unsigned char *, size_t, const char *);
static const unsigned char *find_delim(const unsigned char *,
    const unsigned char *, const char *, size_t);
static int media_is(const struct estc_resp *, const char *, const char *,
    struct ca_err *);
static int keygen_part(const struct estc_part *, EVP_PKEY **,
    STACK_OF(X509) **, struct ca_err *);
static int octets(const ASN1_TYPE *, unsigned char *, size_t *);
static int cmc_controls(CMC_PKIRESPONSE *, struct estc_cmc *,
    struct ca_err *);

void
estc_resp_free(struct estc_resp *resp)
{
	if (resp == NULL)
		return;
	if (resp->body != NULL)
		OPENSSL_clear_free(resp->body, resp->len + 1);
	free(resp);
}

/* Bytes as one printable line, at most outlen - 1 of them. */
static void
printable(const unsigned char *s, size_t len, char *out, size_t outlen)
{
	size_t i, j = 0;

	for (i = 0; i < len && j + 1 < outlen; i++) {
		if (s[i] == '\r' || s[i] == '\n')
			break;
		out[j++] = s[i] >= 0x20 && s[i] != 0x7f ? (char)s[i] : '?';
	}
	while (j > 0 && out[j - 1] == ' ')
		j--;
	out[j] = '\0';
}

int
estc_expect_ok(const struct estc_resp *resp, const char *what,
    struct ca_err *err)
{
	char mt[64], reason[REASON_MAX + 1] = "";

	if (resp->status == 200)
		return 0;
	estc_media_type(resp->ctype, mt, sizeof(mt));
	if (strncmp(mt, "text/", 5) == 0)
		printable(resp->body, resp->len, reason, sizeof(reason));
	if (resp->status == 202 && resp->retry_after >= 0)
		return ca_err_set(err, CA_ERR_POLICY, "server said 202: %s is "
		    "pending, nothing issued yet (retry after %ld s)%s%s",
		    what, resp->retry_after, *reason ? ": " : "", reason);
	if (resp->status == 202)
		return ca_err_set(err, CA_ERR_POLICY, "server said 202: %s is "
		    "pending, nothing issued yet%s%s", what,
		    *reason ? ": " : "", reason);
	if (*reason == '\0')
		return ca_err_set(err, resp->status == 401 ? CA_ERR_AUTH :
		    CA_ERR_POLICY, "server said %d (no reason given, "
		    "Content-Type \"%s\") to %s", resp->status, resp->ctype,
		    what);
	return ca_err_set(err, resp->status == 401 ? CA_ERR_AUTH :
	    CA_ERR_POLICY, "server said %d: %s", resp->status, reason);
}

int
estc_label_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!(s[i] >= 'a' && s[i] <= 'z') &&
		    !(s[i] >= 'A' && s[i] <= 'Z') &&
		    !(s[i] >= '0' && s[i] <= '9') &&
		    strchr("-_.", s[i]) == NULL)
			return 0;
	return i > 0 && i <= 63 && s[0] != '.';
}

void
estc_media_type(const char *ctype, char *buf, size_t len)
{
	size_t n;

	while (*ctype == ' ' || *ctype == '\t')
		ctype++;
	n = strcspn(ctype, ";");

	while (n > 0 && (ctype[n - 1] == ' ' || ctype[n - 1] == '\t'))
		n--;
	if (len == 0)
		return;
	if (n >= len)
		n = 0;	/* too long to be one we know */
	memcpy(buf, ctype, n);
	buf[n] = '\0';
	for (n = 0; buf[n] != '\0'; n++)
		if (buf[n] >= 'A' && buf[n] <= 'Z')
			buf[n] += 'a' - 'A';
}

/* A Content-Type parameter's value (token or quoted-string); 0 if found. */
static int
param_of(const char *ctype, const char *name, char *out, size_t outlen)
{
	const char *p = strchr(ctype, ';');
	size_t nlen = strlen(name), n;

	while (p != NULL) {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, name, nlen) == 0 && p[nlen] == '=') {
			p += nlen + 1;
			if (*p == '"') {
				p++;
				n = strcspn(p, "\"");
				if (p[n] != '"')
					return -1;
			} else {
				n = strcspn(p, "; \t");
			}
			if (n == 0 || n >= outlen)
				return -1;
			memcpy(out, p, n);
			out[n] = '\0';
			return 0;
		}
		p = strchr(p, ';');
	}
	return -1;
}

static int
media_is(const struct estc_resp *resp, const char *want, const char *what,
    struct ca_err *err)
{
	char mt[64];

	estc_media_type(resp->ctype, mt, sizeof(mt));
	if (strcmp(mt, want) == 0)
		return 0;
	if (*resp->ctype == '\0')
		return ca_err_set(err, CA_ERR_INVALID, "%s: the server's "
		    "answer has no Content-Type (wanted %s)", what, want);
	return ca_err_set(err, CA_ERR_INVALID, "%s: the server answered "
	    "\"%s\", not %s", what, resp->ctype, want);
}

/* The line at p (without CR LF) ends at *lendp; NULL if incomplete. */
static const unsigned char *
next_line(const unsigned char *p, const unsigned char *end,
    const unsigned char **lendp)
{
	const unsigned char *nl;

	if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
		return NULL;
	*lendp = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
	return nl + 1;
}

/* Is the header line a "name:"? */
static int
header_is(const unsigned char *line, size_t len, const char *name)
{
	size_t n = strlen(name);

	return len > n && line[n] == ':' &&
	    strncasecmp((const char *)line, name, n) == 0;
}

/*
 * The next "--boundary" that starts a line and is followed by "--",
 * blanks or the end of the line; NULL if none.
 */
static const unsigned char *
find_delim(const unsigned char *p, const unsigned char *end,
    const char *delim, size_t dlen)
{
	const unsigned char *start = p, *q;

	while ((size_t)(end - p) >= dlen) {
		if ((q = memchr(p, '-', (size_t)(end - p) - dlen + 1)) ==
		    NULL)
			return NULL;
		if (memcmp(q, delim, dlen) == 0 &&
		    (q == start || q[-1] == '\n') &&
		    (q + dlen == end || q[dlen] == '-' || q[dlen] == ' ' ||
		    q[dlen] == '\t' || q[dlen] == '\r' || q[dlen] == '\n'))
			return q;
		p = q + 1;
	}
	return NULL;
}

int
estc_multipart(const char *ctype, const unsigned char *body, size_t len,
    struct estc_part *parts, size_t maxparts, size_t *np,
    struct ca_err *err)
{
	const unsigned char *end = body + len, *p, *d, *nd, *pend, *lend;
	const unsigned char *next, *v;
	char mt[64], boundary[71], delim[75];
	size_t dlen, n = 0, vlen;

	*np = 0;
	estc_media_type(ctype, mt, sizeof(mt));
	if (strncmp(mt, "multipart/", 10) != 0 ||
	    param_of(ctype, "boundary", boundary, sizeof(boundary)) != 0)
		return ca_err_set(err, CA_ERR_INVALID, "the answer is not "
		    "multipart with a boundary (Content-Type \"%s\")", ctype);
	dlen = (size_t)snprintf(delim, sizeof(delim), "--%s", boundary);
	if ((d = find_delim(body, end, delim, dlen)) == NULL)
		goto bad;
	for (;;) {
		p = d + dlen;
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			break;	/* the close delimiter */
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p < end && *p == '\r')
			p++;
		if (p >= end || *p != '\n')
			goto bad;
		p++;
		if ((nd = find_delim(p, end, delim, dlen)) == NULL)
			goto bad;
		/* The line break before a delimiter belongs to it. */
		pend = nd;
		if (pend > p && pend[-1] == '\n')
			pend--;
		if (pend > p && pend[-1] == '\r')
			pend--;
		if (n == maxparts)
			return ca_err_set(err, CA_ERR_INVALID, "the multipart "
			    "answer has more than %zu parts", maxparts);
		memset(&parts[n], 0, sizeof(parts[n]));
		for (;; p = next) {
			if ((next = next_line(p, pend, &lend)) == NULL)
				goto bad;
			if (lend == p)
				break;
			if (!header_is(p, (size_t)(lend - p), "content-type"))
				continue;
			v = (const unsigned char *)memchr(p, ':',
			    (size_t)(lend - p)) + 1;
			while (v < lend && (*v == ' ' || *v == '\t'))
				v++;
			vlen = (size_t)(lend - v);
			if (vlen >= sizeof(parts[n].ctype))
				goto bad;
			memcpy(parts[n].ctype, v, vlen);
			parts[n].ctype[vlen] = '\0';
		}
		parts[n].body = next;
		parts[n].len = (size_t)(pend - next);
		n++;
		d = nd;
	}
	*np = n;
	return 0;
 bad:
	return ca_err_set(err, CA_ERR_INVALID, "the multipart answer is "
	    "malformed (boundary \"%s\")", boundary);
}

int
estc_unbase64(const unsigned char *in, size_t len, unsigned char **outp,
    size_t *lenp, struct ca_err *err)
{
	unsigned char *clean = NULL, *out = NULL;
	size_t i, n = 0, pad = 0;
	int dl, r = CA_ERR_INVALID;

	*outp = NULL;
	*lenp = 0;
	if (len > ESTC_MAX_RESP)
		return ca_err_set(err, CA_ERR_INVALID, "base64 too long");
	if ((clean = malloc(len + 1)) == NULL ||
	    (out = malloc(len / 4 * 3 + 3)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < len; i++) {
		unsigned char ch = in[i];

		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
			continue;
		if (pad > 0 && ch != '=')
			goto bad;	/* '=' only at the end */
		if (ch == '=')
			pad++;
		else if (!((ch >= 'A' && ch <= 'Z') ||
		    (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    ch == '+' || ch == '/'))
			goto bad;
		clean[n++] = ch;
	}
	if (n == 0 || n % 4 != 0 || pad > 2)
		goto bad;
	if ((dl = EVP_DecodeBlock(out, clean, (int)n)) < 0 ||
	    (size_t)dl < pad)
		goto bad;
	*lenp = (size_t)dl - pad;
	*outp = out;
	out = NULL;
	r = 0;
	goto out;
 bad:
	r = ca_err_set(err, CA_ERR_INVALID, "the answer is not base64");
 out:
	if (clean != NULL)
		OPENSSL_clear_free(clean, len + 1);
	if (out != NULL)
		OPENSSL_clear_free(out, len / 4 * 3 + 3);
	return r;
}

int
estc_certs_only(const unsigned char *der, size_t len,
    STACK_OF(X509) **certsp, struct ca_err *err)
{
	const unsigned char *p = der;
	STACK_OF(X509) *in, *certs = NULL;
	PKCS7 *p7 = NULL;
	X509 *x;
	int i, r = CA_ERR_INVALID;

	*certsp = NULL;
	if (len > LONG_MAX ||
	    (p7 = d2i_PKCS7(NULL, &p, (long)len)) == NULL ||
	    p != der + len || !PKCS7_type_is_signed(p7) ||
	    p7->d.sign == NULL || (in = p7->d.sign->cert) == NULL ||
	    sk_X509_num(in) == 0) {
		r = ca_err_ssl(err, CA_ERR_INVALID, "the answer is not a "
		    "certs-only PKCS#7 with a certificate in it");
		goto out;
	}
	if ((certs = sk_X509_new_null()) == NULL)
		goto nomem;
	for (i = 0; i < sk_X509_num(in); i++) {
		x = sk_X509_value(in, i);
		if (!X509_up_ref(x))
			goto nomem;
		if (!sk_X509_push(certs, x)) {
			X509_free(x);
			goto nomem;
		}
	}
	*certsp = certs;
	certs = NULL;
	r = 0;
	goto out;
 nomem:
	r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
 out:
	sk_X509_pop_free(certs, X509_free);
	PKCS7_free(p7);
	return r;
}

int
estc_answer_certs(const struct estc_resp *resp, const char *what,
    STACK_OF(X509) **certsp, struct ca_err *err)
{
	unsigned char *p7 = NULL;
	size_t p7len = 0;
	int r;

	*certsp = NULL;
	if ((r = estc_expect_ok(resp, what, err)) != 0 ||
	    (r = media_is(resp, "application/pkcs7-mime", what, err)) != 0 ||
	    (r = estc_unbase64(resp->body, resp->len, &p7, &p7len,
	    err)) != 0 ||
	    (r = estc_certs_only(p7, p7len, certsp, err)) != 0)
		goto out;
	r = 0;
 out:
	if (p7 != NULL)
		OPENSSL_clear_free(p7, p7len);
	return r;
}

/*
 * One part of a serverkeygen answer: the key (application/pkcs8) or the
 * certificates (certs-only) unless one came already; others are ignored.
 */
static int
keygen_part(const struct estc_part *part, EVP_PKEY **keyp,
    STACK_OF(X509) **certsp, struct ca_err *err)
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t len = 0;
	char mt[64], st[64];
	int r = 0;

	estc_media_type(part->ctype, mt, sizeof(mt));
	if (strcmp(mt, "application/pkcs8") == 0 && *keyp == NULL) {
		if ((r = estc_unbase64(part->body, part->len, &der, &len,
		    err)) != 0)
			goto out;
		p = der;
		if ((p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p,
		    (long)len)) == NULL || p != der + len ||
		    (*keyp = EVP_PKCS82PKEY(p8)) == NULL)
			r = ca_err_ssl(err, CA_ERR_INVALID, "serverkeygen: the "
			    "application/pkcs8 part is not a PKCS#8 private "
			    "key");
	} else if (strcmp(mt, "application/pkcs7-mime") == 0 &&
	    (param_of(part->ctype, "smime-type", st, sizeof(st)) != 0 ||
	    strcasecmp(st, "certs-only") == 0)) {
		if (*certsp == NULL &&
		    (r = estc_unbase64(part->body, part->len, &der, &len,
		    err)) == 0)
			r = estc_certs_only(der, len, certsp, err);
	} else if (strcmp(mt, "application/pkcs7-mime") == 0)
		r = ca_err_set(err, CA_ERR_INVALID, "serverkeygen: the server "
		    "sent the key encrypted (%s), which this client does not "
		    "take", part->ctype);
 out:
	PKCS8_PRIV_KEY_INFO_free(p8);
	if (der != NULL)
		OPENSSL_clear_free(der, len);
	return r;
}

int
estc_answer_keygen(const struct estc_resp *resp, EVP_PKEY **keyp,
    STACK_OF(X509) **certsp, struct ca_err *err)
{
	struct estc_part parts[MAX_PARTS];
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *key = NULL;
	size_t np = 0, i;
	int r;

	*keyp = NULL;
	*certsp = NULL;
	if ((r = estc_expect_ok(resp, "serverkeygen", err)) != 0 ||
	    (r = estc_multipart(resp->ctype, resp->body, resp->len, parts,
	    MAX_PARTS, &np, err)) != 0)
		goto out;
	for (i = 0; i < np; i++)
		if ((r = keygen_part(&parts[i], &key, &certs, err)) != 0)
			goto out;
	if (key == NULL || certs == NULL) {
		r = ca_err_set(err, CA_ERR_INVALID, "serverkeygen: the answer "
		    "lacks the %s part", key == NULL ? "application/pkcs8 "
		    "(key)" : "certs-only (certificate)");
		goto out;
	}
	*keyp = key;
	*certsp = certs;
	key = NULL;
	certs = NULL;
	r = 0;
 out:
	EVP_PKEY_free(key);
	sk_X509_pop_free(certs, X509_free);
	return r;
}

/* An OCTET STRING attribute value, copied if it fits. */
static int
octets(const ASN1_TYPE *t, unsigned char *out, size_t *lenp)
{
	int n;

	if (t == NULL || t->type != V_ASN1_OCTET_STRING ||
	    (n = ASN1_STRING_length(t->value.octet_string)) <= 0 ||
	    n > EVP_MAX_MD_SIZE)
		return -1;
	memcpy(out, ASN1_STRING_get0_data(t->value.octet_string),
	    (size_t)n);
	*lenp = (size_t)n;
	return 0;
}

static int
cmc_controls(CMC_PKIRESPONSE *resp, struct estc_cmc *cmc,
    struct ca_err *err)
{
	CMC_TAGGED_ATTR *ta;
	CMC_STATUS_INFO *si = NULL;
	CMC_ADD_ATTRS *aa = NULL;
	X509_ATTRIBUTE *a;
	ASN1_TYPE *t;
	char oid[80];
	int i, j, r = CA_ERR_INVALID;

	for (i = 0; i < sk_CMC_TAGGED_ATTR_num(resp->controls); i++) {
		ta = sk_CMC_TAGGED_ATTR_value(resp->controls, i);
		if (OBJ_obj2txt(oid, sizeof(oid), ta->type, 1) <= 0 ||
		    sk_ASN1_TYPE_num(ta->values) < 1)
			continue;
		t = sk_ASN1_TYPE_value(ta->values, 0);
		if (strcmp(oid, OID_CMC_STATUS_INFO) == 0) {
			if (t->type != V_ASN1_SEQUENCE || (si =
			    ASN1_item_unpack(t->value.sequence,
			    ASN1_ITEM_rptr(CMC_STATUS_INFO))) == NULL)
				goto bad;
			cmc->status = ASN1_INTEGER_get(si->status);
			if (si->fail_info != NULL)
				cmc->fail_info = ASN1_INTEGER_get(
				    si->fail_info);
			if (si->status_string != NULL)
				printable(ASN1_STRING_get0_data(
				    si->status_string),
				    (size_t)ASN1_STRING_length(
				    si->status_string), cmc->status_string,
				    sizeof(cmc->status_string));
			CMC_STATUS_INFO_free(si);
			si = NULL;
		} else if (strcmp(oid, OID_MS_CMC_ADD_ATTRS) == 0) {
			if (t->type != V_ASN1_SEQUENCE || (aa =
			    ASN1_item_unpack(t->value.sequence,
			    ASN1_ITEM_rptr(CMC_ADD_ATTRS))) == NULL)
				goto bad;
			for (j = 0; j < sk_X509_ATTRIBUTE_num(aa->attrs);
			    j++) {
				a = sk_X509_ATTRIBUTE_value(aa->attrs, j);
				if (OBJ_obj2txt(oid, sizeof(oid),
				    X509_ATTRIBUTE_get0_object(a), 1) <= 0)
					continue;
				if (strcmp(oid, OID_MS_ISSUED_CERT_HASH) == 0 &&
				    octets(X509_ATTRIBUTE_get0_type(a, 0),
				    cmc->cert_hash, &cmc->cert_hash_len) != 0)
					goto bad;
				if (strcmp(oid, OID_MS_ENC_KEY_HASH) == 0 &&
				    octets(X509_ATTRIBUTE_get0_type(a, 0),
				    cmc->key_hash, &cmc->key_hash_len) != 0)
					goto bad;
			}
			CMC_ADD_ATTRS_free(aa);
			aa = NULL;
		}
	}
	return 0;
 bad:
	r = ca_err_set(err, CA_ERR_INVALID, "the CMC response has a "
	    "malformed %s control", oid);
	CMC_STATUS_INFO_free(si);
	CMC_ADD_ATTRS_free(aa);
	return r;
}

int
estc_answer_cmc(const struct estc_resp *resp, X509_STORE *store,
    const char *cafile, struct estc_cmc *cmc, struct ca_err *err)
{
	CMS_ContentInfo *cms = NULL;
	CMC_PKIRESPONSE *pr = NULL;
	STACK_OF(X509) *signers = NULL;
	ASN1_OBJECT *want = NULL;
	BIO *out = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	char *content;
	size_t len = 0;
	long clen;
	int r;

	memset(cmc, 0, sizeof(*cmc));
	cmc->status = cmc->fail_info = -1;
	if ((r = estc_expect_ok(resp, "fullcmc", err)) != 0 ||
	    (r = media_is(resp, "application/pkcs7-mime", "fullcmc",
	    err)) != 0 ||
	    (r = estc_unbase64(resp->body, resp->len, &der, &len, err)) != 0)
		goto out;
	r = CA_ERR_INVALID;
	p = der;
	if ((cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) == NULL ||
	    p != der + len ||
	    OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed ||
	    (want = OBJ_txt2obj(OID_CCT_PKIRESPONSE, 1)) == NULL ||
	    OBJ_cmp(CMS_get0_eContentType(cms), want) != 0) {
		ca_err_ssl(err, r, "fullcmc: the answer is not a CMS "
		    "SignedData of a CMC PKIResponse");
		goto out;
	}
	if ((out = BIO_new(BIO_s_mem())) == NULL ||
	    CMS_verify(cms, NULL, store, NULL, out, CMS_BINARY) != 1) {
		ca_err_ssl(err, CA_ERR_AUTH, "fullcmc: the signature of the "
		    "CMC response does not verify against --cacert %s",
		    cafile);
		r = CA_ERR_AUTH;
		goto out;
	}
	if ((signers = CMS_get0_signers(cms)) == NULL ||
	    sk_X509_num(signers) != 1 ||
	    X509_check_ca(sk_X509_value(signers, 0)) == 0) {
		r = ca_err_set(err, CA_ERR_AUTH, "fullcmc: the CMC response "
		    "is not signed by one CA certificate");
		goto out;
	}
	cmc->signer = sk_X509_value(signers, 0);
	if (!X509_up_ref(cmc->signer)) {
		cmc->signer = NULL;
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	clen = BIO_get_mem_data(out, &content);
	p = (const unsigned char *)content;
	if ((pr = d2i_CMC_PKIRESPONSE(NULL, &p, clen)) == NULL ||
	    p != (const unsigned char *)content + clen) {
		ca_err_ssl(err, r, "fullcmc: the CMC response's content is "
		    "not a PKIResponse");
		goto out;
	}
	if ((r = cmc_controls(pr, cmc, err)) != 0)
		goto out;
	if ((cmc->certs = CMS_get1_certs(cms)) == NULL)
		cmc->certs = sk_X509_new_null();
	r = cmc->certs != NULL ? 0 : ca_err_set(err, CA_ERR_NOMEM,
	    "out of memory");
 out:
	if (r != 0)
		estc_cmc_clear(cmc);
	ERR_clear_error();
	sk_X509_free(signers);
	CMC_PKIRESPONSE_free(pr);
	BIO_free(out);
	ASN1_OBJECT_free(want);
	CMS_ContentInfo_free(cms);
	free(der);
	return r;
}

void
estc_cmc_clear(struct estc_cmc *cmc)
{
	sk_X509_pop_free(cmc->certs, X509_free);
	X509_free(cmc->signer);
	memset(cmc, 0, sizeof(*cmc));
	cmc->status = cmc->fail_info = -1;
}


int
estc_answer_exchange(const struct estc_resp *resp, X509_STORE *store,
    const char *server, const char *cafile, X509 **certp,
    struct ca_err *err)
{
	X509_STORE_CTX *ctx = NULL;
	EXTENDED_KEY_USAGE *eku = NULL;
	ASN1_OBJECT *want = NULL;
	X509 *x = NULL;
	BIO *b = NULL;
	int i, found = 0, r;

	*certp = NULL;
	if ((r = estc_expect_ok(resp, "/ca/exchange", err)) != 0)
		goto out;
	r = CA_ERR_INVALID;
	if (resp->len > INT_MAX ||
	    (b = BIO_new_mem_buf(resp->body, (int)resp->len)) == NULL ||
	    (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL) {
		ca_err_ssl(err, r, "/ca/exchange: the answer is not a PEM "
		    "certificate");
		goto out;
	}
	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    !X509_STORE_CTX_init(ctx, store, x, NULL)) {
		r = ca_err_ssl(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (X509_verify_cert(ctx) != 1) {
		r = ca_err_set(err, CA_ERR_AUTH, "the CA exchange certificate "
		    "from %s does not verify against --cacert %s: %s",
		    server, cafile, X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx)));
		goto out;
	}
	if ((want = OBJ_txt2obj(OID_MS_KP_CA_EXCHANGE, 1)) == NULL) {
		r = ca_err_ssl(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
	for (i = 0; eku != NULL && i < sk_ASN1_OBJECT_num(eku); i++)
		if (OBJ_cmp(sk_ASN1_OBJECT_value(eku, i), want) == 0)
			found = 1;
	if (!found) {
		r = ca_err_set(err, CA_ERR_INVALID, "the certificate from "
		    "%s/ca/exchange lacks the CA exchange EKU %s", server,
		    OID_MS_KP_CA_EXCHANGE);
		goto out;
	}
	*certp = x;
	x = NULL;
	r = 0;
 out:
	ERR_clear_error();
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	ASN1_OBJECT_free(want);
	X509_STORE_CTX_free(ctx);
	BIO_free(b);
	X509_free(x);
	return r;
}
