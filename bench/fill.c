/*
 * fill: issues N certificates with escrowed keys into a CA directory, as
 * `smimeca issue --archival-request` would, one user each
 * (userNNNNN@bench.example), for bench/growth. The keys come from PEM
 * files (KEYDIR/key000.pem ...) and are used in turn, so that making them
 * is not what takes the time; each certificate is signed and its key
 * escrowed to the KRAs through arc_issue_key (ca/ and archive/, the same
 * path as a server-generated key). Only the database's synchronous mode is
 * turned off, through the unit tests' raw-SQL door (ca/db_test.c): the
 * rows are the real ones, the fsyncs are skipped.
 *
 *   fill -d CADIR -t TEMPLATE -k KEYDIR -K NKEYS -n N [-o OFFSET]
 *
 * Built by bench/growth against the libraries of a build tree; not
 * installed.
 */
#include "ac-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "archive/archival.h"
#include "ca/ca.h"
#include "ca/config.h"
#include "ca/db_test.h"
#include "ca/err.h"
#include "ca/issue.h"
#include "ca/template.h"

static EVP_PKEY *read_key(const char *);
static X509_REQ *make_csr(EVP_PKEY *, const char *, const char *);

static EVP_PKEY *
read_key(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;

	if (f == NULL)
		return NULL;
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	return k;
}

static X509_REQ *
make_csr(EVP_PKEY *key, const char *cn, const char *mail)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *n = X509_REQ_get_subject_name(req);

	if (req == NULL || !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(n, "emailAddress", MBSTRING_ASC,
	    (const unsigned char *)mail, -1, -1, 0) ||
	    !X509_REQ_set_pubkey(req, key) ||
	    !X509_REQ_sign(req, key, EVP_sha256())) {
		X509_REQ_free(req);
		return NULL;
	}
	return req;
}

int
main(int argc, char **argv)
{
	const char *dir = NULL, *tname = NULL, *keydir = NULL;
	struct ca *ca = NULL;
	struct tpl *t = NULL;
	struct ca_err err;
	EVP_PKEY **keys;
	long n = 0, nkeys = 0, off = 0, i;
	time_t t0 = time(NULL);
	int ch;

	while ((ch = getopt(argc, argv, "d:t:k:K:n:o:")) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 't': tname = optarg; break;
		case 'k': keydir = optarg; break;
		case 'K': nkeys = atol(optarg); break;
		case 'n': n = atol(optarg); break;
		case 'o': off = atol(optarg); break;
		default:
			fprintf(stderr, "usage: fill -d CADIR -t TEMPLATE -k "
			    "KEYDIR -K NKEYS -n N [-o OFFSET]\n");
			return 2;
		}
	}
	if (dir == NULL || tname == NULL || keydir == NULL || nkeys < 1 ||
	    n < 1) {
		fprintf(stderr, "fill: -d, -t, -k, -K and -n are required\n");
		return 2;
	}
	ca_err_clear(&err);
	if ((keys = calloc((size_t)nkeys, sizeof(*keys))) == NULL)
		return 1;
	for (i = 0; i < nkeys; i++) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/key%03ld.pem", keydir, i);
		if ((keys[i] = read_key(path)) == NULL) {
			fprintf(stderr, "fill: cannot read %s\n", path);
			return 1;
		}
	}
	if (ca_open(dir, NULL, CA_OPEN_KEY, &ca, &err) != 0 ||
	    tpl_load(ca_config(ca)->template_dir, tname, &t, &err) != 0 ||
	    db_test_exec(ca_db(ca), "PRAGMA synchronous = OFF", &err) != 0) {
		fprintf(stderr, "fill: %s\n", err.msg);
		return 1;
	}
	for (i = off; i < off + n; i++) {
		struct iss_account acct;
		char mail[64], cn[64];
		X509_REQ *csr;
		X509 *cert = NULL;

		snprintf(mail, sizeof(mail), "user%05ld@bench.example", i);
		snprintf(cn, sizeof(cn), "User %05ld", i);
		memset(&acct, 0, sizeof(acct));
		acct.id = "admin";
		acct.mail = mail;
		acct.cn = cn;
		if ((csr = make_csr(keys[i % nkeys], cn, mail)) == NULL ||
		    arc_issue_key(ca, t, &acct, TPL_PROTO_CLI, csr,
		    keys[i % nkeys], &cert, &err) != 0) {
			fprintf(stderr, "fill: %s: %s\n", mail, err.msg);
			return 1;
		}
		X509_free(cert);
		X509_REQ_free(csr);
	}
	fprintf(stderr, "fill: %ld certificates with escrowed keys in %lld "
	    "s\n", n, (long long)(time(NULL) - t0));
	for (i = 0; i < nkeys; i++)
		EVP_PKEY_free(keys[i]);
	free(keys);
	tpl_free(t);
	ca_close(ca);
	return 0;
}
