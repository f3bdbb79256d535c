/*
 * Recovery share files: the shares an officer opened (recover.c), as
 * JSON for the officer who combines them, each bound to its record by
 * the certificate's SHA-256. The y values are secret: wiped wherever
 * they pass.
 */
#include "ac-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <openssl/crypto.h>

#include "archive/rcv_int.h"
#include "archive/recover.h"
#include "archive/shamir.h"
#include "ca/err.h"
#include "ca/util.h"

static void wipe_json_y(json_t *);

/* Jansson frees strings unwiped: wipe the y values of a share array. */
static void
wipe_json_y(json_t *arr)
{
	json_t *y;
	size_t j;

	for (j = 0; j < json_array_size(arr); j++) {
		y = json_object_get(json_array_get(arr, j), "y");
		if (json_is_string(y))
			OPENSSL_cleanse((char *)json_string_value(y),
			    json_string_length(y));
	}
}

int
rcv_share_encode(const struct rcv_blob *b, const size_t *idx,
    const struct shamir_share *shares, size_t n, char **jsonp,
    struct ca_err *err)
{
	json_t *root = NULL, *arr = NULL, *o;
	char hex[2 * RCV_KEYLEN + 1], *buf = NULL;
	size_t j, len = 0;
	int r;

	*jsonp = NULL;
	if ((arr = json_array()) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (j = 0; j < n; j++) {
		if (idx[j] >= b->n || b->recs[idx[j]].quorum <= 1 ||
		    shares[j].y == NULL || shares[j].len != RCV_KEYLEN ||
		    shares[j].x == 0) {
			r = ca_err_set(err, CA_ERR_INVALID, "share %zu does "
			    "not belong to a threshold record of this blob",
			    j + 1);
			goto out;
		}
		util_hex(shares[j].y, RCV_KEYLEN, hex);
		o = json_pack("{s:s, s:i, s:s}", "cert_sha256",
		    b->recs[idx[j]].sha256, "x", (int)shares[j].x, "y", hex);
		OPENSSL_cleanse(hex, sizeof(hex));
		if (o == NULL || json_array_append_new(arr, o) != 0) {
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	if ((root = json_pack("{s:i, s:O}", "version", 1, "shares",
	    arr)) == NULL ||
	    (len = json_dumpb(root, NULL, 0, JSON_INDENT(2))) == 0 ||
	    (buf = OPENSSL_malloc(len + 2)) == NULL ||
	    json_dumpb(root, buf, len, JSON_INDENT(2)) != len) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	buf[len] = '\n';
	buf[len + 1] = '\0';
	*jsonp = buf;
	buf = NULL;
	r = 0;
 out:
	if (buf != NULL)
		OPENSSL_clear_free(buf, len + 2);
	wipe_json_y(arr);
	json_decref(root);
	json_decref(arr);
	return r;
}

int
rcv_share_decode(const struct rcv_blob *b, const char *json,
    size_t **idxp, struct shamir_share **sharesp, size_t *np,
    struct ca_err *err)
{
	json_t *root = NULL, *arr = NULL, *o, *jv;
	json_error_t jerr;
	struct shamir_share *sh = NULL;
	size_t *idx = NULL, n = 0, j, k;
	const char *cs, *ys;
	unsigned char md[32];
	char cert[65];
	json_int_t x;
	int r = CA_ERR_INVALID;

	*idxp = NULL;
	*sharesp = NULL;
	*np = 0;
	if ((root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL) {
		ca_err_set(err, r, "share file: not JSON (line %d: %s)",
		    jerr.line, jerr.text);
		goto out;
	}
	arr = json_object_get(root, "shares");
	if (!json_is_object(root) ||
	    !json_is_integer(json_object_get(root, "version")) ||
	    json_integer_value(json_object_get(root, "version")) != 1 ||
	    !json_is_array(arr) || (n = json_array_size(arr)) == 0 ||
	    n > (size_t)RCV_MAX_RECORDS) {
		ca_err_set(err, r, "share file: expected {\"version\":1, "
		    "\"shares\":[1 to %d shares]}", RCV_MAX_RECORDS);
		goto out;
	}
	if ((sh = calloc(n, sizeof(*sh))) == NULL ||
	    (idx = calloc(n, sizeof(*idx))) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (j = 0; j < n; j++) {
		o = json_array_get(arr, j);
		cs = json_string_value(json_object_get(o, "cert_sha256"));
		ys = json_string_value(json_object_get(o, "y"));
		jv = json_object_get(o, "x");
		if (!json_is_object(o) || cs == NULL || ys == NULL ||
		    !json_is_integer(jv) ||
		    util_unhex(cs, md, sizeof(md)) != 0) {
			ca_err_set(err, r, "share file: share %zu needs "
			    "cert_sha256 (64 hex digits), x and y", j + 1);
			goto out;
		}
		util_hex(md, sizeof(md), cert);
		for (k = 0; k < b->n; k++)
			if (memcmp(b->recs[k].md, md, sizeof(md)) == 0)
				break;
		if (k == b->n) {
			ca_err_set(err, r, "share file: share %zu is for the "
			    "certificate with SHA-256 %s, which is not in this "
			    "blob (open the shares from the same blob)", j + 1,
			    cert);
			goto out;
		}
		if (b->recs[k].quorum <= 1) {
			ca_err_set(err, r, "share file: share %zu is for "
			    "certificate %s, which is not escrowed m of n",
			    j + 1, b->recs[k].serial);
			goto out;
		}
		x = json_integer_value(jv);
		if (x < 1 || x > SHAMIR_MAX_SHARES ||
		    !rcv_rec_has_x(&b->recs[k], (unsigned)x)) {
			ca_err_set(err, r, "share file: share %zu: x=%lld is "
			    "out of range for certificate %s (1 to %d)", j + 1,
			    (long long)x, b->recs[k].serial,
			    b->recs[k].nshares);
			goto out;
		}
		if ((sh[j].y = OPENSSL_malloc(RCV_KEYLEN)) == NULL) {
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		sh[j].len = RCV_KEYLEN;
		sh[j].x = (uint8_t)x;
		if (util_unhex(ys, sh[j].y, RCV_KEYLEN) != 0) {
			ca_err_set(err, r, "share file: share %zu: y must be "
			    "%d hex digits", j + 1, 2 * RCV_KEYLEN);
			goto out;
		}
		idx[j] = k;
	}
	*idxp = idx;
	*sharesp = sh;
	*np = n;
	idx = NULL;
	sh = NULL;
	r = 0;
 out:
	for (j = 0; sh != NULL && j < n; j++)
		shamir_share_clear(&sh[j]);
	free(sh);
	free(idx);
	if (json_is_array(arr))
		wipe_json_y(arr);
	json_decref(root);
	return r;
}
