/*
 * smimeca ocsp status: asks the OCSP responder about a certificate as a
 * client does (libcurl for HTTP, OpenSSL's OCSP API for the rest), and
 * prints the answer once it is verified against the CA.
 */
#include "ac-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/config.h"
#include "ca/dynbuf.h"
#include "ca/err.h"
#include "ca/ocsp.h"
#include "ca/revoke.h"
#include "ca/util.h"
#include "tools/cli.h"

/* Larger answers are refused (a response holds one or two certificates). */
#define OCSP_RESP_MAX	(64 * 1024)
#define OCSP_TIMEOUT	20

static int cmd_ocsp_status(const struct cli_cmd *, struct cli *, int,
    char **);
static size_t on_body(char *, size_t, size_t, void *);
static int fetch(const char *, int, const unsigned char *, size_t,
    struct dynbuf *, struct ca_err *);
static char *cert_ocsp_url(X509 *);
static void print_time(const char *, const ASN1_GENERALIZEDTIME *);

const struct cli_cmd cli_ocsp_cmds[] = {
	{ "ocsp", "status", cmd_ocsp_status, "SERIAL|--cert FILE [--url URL] "
	    "[--get] [--sha256] [--no-nonce]" },
	{ NULL, NULL, NULL, NULL }
};

static size_t
on_body(char *p, size_t sz, size_t n, void *arg)
{
	/* dynbuf_add refuses past its cap: the transfer stops there. */
	return dynbuf_add(arg, p, sz * n) == 0 ? sz * n : 0;
}

/* POSTs der to url, or GETs url/base64 (get); the body into out. */
static int
fetch(const char *url, int get, const unsigned char *der, size_t len,
    struct dynbuf *out, struct ca_err *err)
{
	CURL *h = NULL;
	struct curl_slist *hdr = NULL;
	char errbuf[CURL_ERROR_SIZE] = "", *b64 = NULL, *esc = NULL;
	char *full = NULL, *ct = NULL;
	long code = 0;
	int r = CA_ERR_IO;

	if ((h = curl_easy_init()) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (get) {
		if ((b64 = util_b64_encode(der, len)) == NULL ||
		    (esc = curl_easy_escape(h, b64, 0)) == NULL ||
		    asprintf(&full, "%s%s%s", url,
		    url[strlen(url) - 1] == '/' ? "" : "/", esc) == -1) {
			full = NULL;
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
	} else if ((full = strdup(url)) == NULL ||
	    (hdr = curl_slist_append(NULL,
	    "Content-Type: application/ocsp-request")) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (curl_easy_setopt(h, CURLOPT_URL, full) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") !=
	    CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)OCSP_TIMEOUT) !=
	    CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_USERAGENT, "smimeca/"
	    PACKAGE_VERSION) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, out) != CURLE_OK ||
	    (!get && (curl_easy_setopt(h, CURLOPT_POSTFIELDS, der) !=
	    CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)len) !=
	    CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr) != CURLE_OK))) {
		r = ca_err_set(err, CA_ERR_INTERNAL, "libcurl refused an "
		    "option");
		goto out;
	}
	if (curl_easy_perform(h) != CURLE_OK) {
		r = ca_err_set(err, CA_ERR_IO, "%s %s: %s", get ? "GET" :
		    "POST", url, *errbuf ? errbuf : "failed");
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
	if (code != 200 || ct == NULL ||
	    strncmp(ct, "application/ocsp-response", 25) != 0) {
		r = ca_err_set(err, CA_ERR_IO, "%s: HTTP %ld, %s%s%.*s", url,
		    code, ct != NULL ? ct : "no content type",
		    out->len > 0 && ct != NULL && strncmp(ct, "text/", 5) ==
		    0 ? ": " : "", ct != NULL && strncmp(ct, "text/", 5) ==
		    0 ? (int)strcspn((char *)out->buf, "\n") : 0,
		    out->buf != NULL ? (char *)out->buf : "");
		goto out;
	}
	r = 0;
 out:
	free(full);
	curl_free(esc);
	free(b64);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return r;
}

/* The first OCSP URL of the certificate's AIA, or NULL. */
static char *
cert_ocsp_url(X509 *cert)
{
	STACK_OF(OPENSSL_STRING) *l = X509_get1_ocsp(cert);
	char *u = NULL;

	if (l != NULL && sk_OPENSSL_STRING_num(l) > 0)
		u = strdup(sk_OPENSSL_STRING_value(l, 0));
	X509_email_free(l);
	return u;
}

static void
print_time(const char *label, const ASN1_GENERALIZEDTIME *t)
{
	char iso[21];

	if (t == NULL)
		return;
	util_iso8601(util_asn1_time_to_unix(t), iso);
	printf("%-12s %s\n", label, iso);
}

static int
cmd_ocsp_status(const struct cli_cmd *me, struct cli *cli, int argc,
    char **argv)
{
	static const struct option opts[] = {
		{ "cert", required_argument, NULL, 'c' },
		{ "url", required_argument, NULL, 'u' },
		{ "get", no_argument, NULL, 'g' },
		{ "sha256", no_argument, NULL, 's' },
		{ "no-nonce", no_argument, NULL, 'n' },
		CLI_OPT_END
	};
	struct ca *ca = NULL;
	struct ca_err err;
	struct dynbuf body;
	const char *certfile = NULL, *urlopt = NULL;
	char *url = NULL, *subj = NULL, serialhex[65] = "";
	X509 *cert = NULL, *signer = NULL, *issuer;
	ASN1_INTEGER *serial = NULL;
	OCSP_CERTID *id = NULL;
	OCSP_REQUEST *req = NULL;
	OCSP_RESPONSE *resp = NULL;
	OCSP_BASICRESP *bs = NULL;
	X509_STORE *store = NULL;
	STACK_OF(X509) *chain;
	ASN1_GENERALIZEDTIME *rev = NULL, *thisupd = NULL, *nextupd = NULL;
	const ASN1_GENERALIZEDTIME *produced;
	unsigned char *der = NULL;
	const unsigned char *p;
	int ch, i, len, get = 0, sha256 = 0, nonce = 1, status, reason;
	int rc = CLI_FAIL;

	ca_err_clear(&err);
	dynbuf_init(&body, OCSP_RESP_MAX, 0);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			certfile = optarg;
			break;
		case 'u':
			urlopt = optarg;
			break;
		case 'g':
			get = 1;
			break;
		case 's':
			sha256 = 1;
			break;
		case 'n':
			nonce = 0;
			break;
		default:
			return cli_usage(me);
		}
	}
	if ((certfile == NULL) == (optind + 1 != argc) ||
	    (certfile != NULL && optind != argc))
		return cli_usage(me);
	if ((rc = cli_open_ca(cli, 0, &ca)) != CLI_OK)
		return rc;
	rc = CLI_FAIL;
	issuer = ca_cert(ca);
	if (certfile != NULL) {
		if (util_read_cert(certfile, &cert, &err) != 0)
			goto fail;
		if (X509_check_issued(issuer, cert) != X509_V_OK) {
			ca_err_set(&err, CA_ERR_INVALID, "%s was not issued by "
			    "this CA's certificate; its responder answers only "
			    "for certificates it issued", certfile);
			goto fail;
		}
		serial = ASN1_INTEGER_dup(X509_get0_serialNumber(cert));
	} else if ((serial = util_serial_from_hex(argv[optind])) == NULL) {
		ca_err_set(&err, CA_ERR_INVALID, "\"%s\" is not a serial "
		    "number: expected up to 64 hex digits (see `smimeca cert "
		    "list`)", argv[optind]);
		goto fail;
	}
	if (serial == NULL || util_serial_hex(serial, serialhex) != 0) {
		ca_err_set(&err, CA_ERR_INVALID, "the serial number is not "
		    "usable");
		goto fail;
	}
	if (urlopt != NULL)
		url = strdup(urlopt);
	else if (cert != NULL && (url = cert_ocsp_url(cert)) != NULL)
		;
	else if (ca_config(ca)->naia_ocsp > 0)
		url = strdup(ca_config(ca)->aia_ocsp_urls[0]);
	else {
		ca_err_set(&err, CA_ERR_CONFIG, "no responder URL: give --url, "
		    "or set <ocsp-url> in %s", ca_config(ca)->path);
		goto fail;
	}
	if (url == NULL) {
		ca_err_set(&err, CA_ERR_NOMEM, "out of memory");
		goto fail;
	}

	/* The request: one CertID, a 32-octet nonce (RFC 8954) by default. */
	if ((id = OCSP_cert_id_new(sha256 ? EVP_sha256() : EVP_sha1(),
	    X509_get_subject_name(issuer), X509_get0_pubkey_bitstr(issuer),
	    serial)) == NULL || (req = OCSP_REQUEST_new()) == NULL ||
	    OCSP_request_add0_id(req, id) == NULL) {
		ca_err_ssl(&err, CA_ERR_CRYPTO, "building the OCSP request");
		goto fail;
	}
	id = NULL;
	if ((nonce && !OCSP_request_add1_nonce(req, NULL, OCSP_NONCE_MAX)) ||
	    (len = i2d_OCSP_REQUEST(req, &der)) <= 0) {
		ca_err_ssl(&err, CA_ERR_CRYPTO, "encoding the OCSP request");
		goto fail;
	}
	if (fetch(url, get, der, (size_t)len, &body, &err) != 0)
		goto fail;
	p = body.buf;
	if ((resp = d2i_OCSP_RESPONSE(NULL, &p, (long)body.len)) == NULL) {
		ca_err_ssl(&err, CA_ERR_INVALID, "%s: the answer is not an "
		    "OCSP response", url);
		goto fail;
	}
	printf("%-12s %s\n", "url:", url);
	printf("%-12s %s\n", "serial:", serialhex);
	status = OCSP_response_status(resp);
	if (status != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
		printf("%-12s %s\n", "responder:",
		    OCSP_response_status_str(status));
		ca_err_set(&err, CA_ERR_INVALID, "the responder answered %s",
		    OCSP_response_status_str(status));
		goto fail;
	}
	if ((bs = OCSP_response_get1_basic(resp)) == NULL) {
		ca_err_ssl(&err, CA_ERR_INVALID, "no basic OCSP response");
		goto fail;
	}
	/* Signature, and a signer the CA issued for OCSP (or the CA). */
	chain = ca_chain(ca);
	if ((store = X509_STORE_new()) == NULL) {
		ca_err_set(&err, CA_ERR_NOMEM, "out of memory");
		goto fail;
	}
	for (i = 0; i < sk_X509_num(chain); i++)
		X509_STORE_add_cert(store, sk_X509_value(chain, i));
	if (OCSP_basic_verify(bs, chain, store, 0) != 1) {
		ca_err_ssl(&err, CA_ERR_CRYPTO, "the OCSP response does not "
		    "verify against the CA (%s)", ca_config(ca)->chain_file);
		goto fail;
	}
	if (nonce && OCSP_check_nonce(req, bs) != 1) {
		ca_err_set(&err, CA_ERR_CRYPTO, "the OCSP response does not "
		    "carry the request's nonce");
		goto fail;
	}
	if ((id = OCSP_cert_id_new(sha256 ? EVP_sha256() : EVP_sha1(),
	    X509_get_subject_name(issuer), X509_get0_pubkey_bitstr(issuer),
	    serial)) == NULL ||
	    !OCSP_resp_find_status(bs, id, &status, &reason, &rev, &thisupd,
	    &nextupd)) {
		ca_err_set(&err, CA_ERR_INVALID, "the OCSP response says "
		    "nothing about serial %s", serialhex);
		goto fail;
	}
	if (!OCSP_check_validity(thisupd, nextupd, 300, -1)) {
		ca_err_ssl(&err, CA_ERR_INVALID, "the OCSP response is not "
		    "current (thisUpdate/nextUpdate)");
		goto fail;
	}
	printf("%-12s %s\n", "status:", OCSP_cert_status_str(status));
	if (status == V_OCSP_CERTSTATUS_REVOKED) {
		print_time("revoked:", rev);
		printf("%-12s %s\n", "reason:", reason >= 0 ?
		    rev_reason_name(reason) : "(none given)");
	}
	print_time("this-update:", thisupd);
	print_time("next-update:", nextupd);
	produced = OCSP_resp_get0_produced_at(bs);
	print_time("produced:", produced);
	OCSP_resp_get0_signer(bs, &signer, chain);
	if (signer != NULL) {
		subj = util_name_oneline(X509_get_subject_name(signer));
		util_serial_hex(X509_get0_serialNumber(signer), serialhex);
		printf("%-12s %s (%s, serial %s)\n", "signer:",
		    subj != NULL ? subj : "?", X509_cmp(signer, issuer) == 0 ?
		    "the CA" : "delegated responder", serialhex);
	}
	printf("%-12s yes (signature and signer checked against %s)\n",
	    "verified:", ca_config(ca)->chain_file);
	rc = CLI_OK;
	goto out;
 fail:
	cli_print_err(&err);
	rc = CLI_FAIL;
 out:
	free(subj);
	free(url);
	OPENSSL_free(der);
	dynbuf_free(&body);
	X509_STORE_free(store);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	OCSP_REQUEST_free(req);
	OCSP_CERTID_free(id);
	ASN1_INTEGER_free(serial);
	X509_free(cert);
	ca_close(ca);
	return rc;
}
