/* Lab recovery officers: KRA keys made next to a lab CA. */
#include "ac-config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "archive/kra.h"
#include "archive/laboff.h"
#include "archive/p12.h"
#include "ca/ca.h"
#include "ca/config.h"
#include "ca/err.h"
#include "ca/issue.h"
#include "ca/template.h"
#include "ca/util.h"

static int laboff_one(struct ca *, const struct tpl *, const char *, int,
    FILE *, struct ca_err *);

/* One officer: key, KRA certificate, PKCS#12, registration. */
static int
laboff_one(struct ca *ca, const struct tpl *t, const char *dir, int i,
    FILE *pwf, struct ca_err *err)
{
	EVP_PKEY *key = NULL;
	X509_REQ *csr = NULL;
	X509_NAME *name = NULL;
	X509 *cert = NULL;
	struct iss_account acct;
	struct iss_request req;
	char mail[64], cn[64], file[32], pw[21], *path = NULL;
	unsigned char *der = NULL;
	size_t len = 0;
	int r;

	snprintf(mail, sizeof(mail), "officer%d@lab.example", i);
	snprintf(cn, sizeof(cn), "Recovery Officer %d", i);
	snprintf(file, sizeof(file), "officer%d.p12", i);
	if ((r = ca_keygen(CA_KEY_RSA2048, &key, err)) != 0)
		goto out;
	if ((csr = X509_REQ_new()) == NULL || (name = X509_NAME_new()) ==
	    NULL || !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (unsigned char *)cn, -1, -1, 0) ||
	    !X509_REQ_set_subject_name(csr, name) ||
	    !X509_REQ_set_pubkey(csr, key) ||
	    !X509_REQ_sign(csr, key, EVP_sha256())) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "officer request");
		goto out;
	}
	memset(&acct, 0, sizeof(acct));
	acct.id = "admin";
	acct.mail = mail;
	acct.cn = cn;
	memset(&req, 0, sizeof(req));
	req.csr = csr;
	req.tpl = t;
	req.account = &acct;
	req.protocol = TPL_PROTO_CLI;
	if ((r = iss_issue(ca, &req, NULL, NULL, &cert, err)) != 0 ||
	    (r = kra_add(ca, cert, err)) != 0 ||
	    (r = p12_random_password(pw, sizeof(pw) - 1, err)) != 0)
		goto out;
	pw[sizeof(pw) - 1] = '\0';
	if ((r = p12_make(key, cert, ca_chain(ca), pw, cn, &der, &len,
	    err)) != 0)
		goto out;
	if ((path = util_path(dir, file)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = util_write_file(path, der, len, 0600, err)) != 0)
		goto out;
	fprintf(pwf, "%s %s\n", file, pw);
	free(path);
	snprintf(file, sizeof(file), "officer%d.crt", i);
	if ((path = util_path(dir, file)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	r = util_write_cert(path, cert, err);
 out:
	OPENSSL_cleanse(pw, sizeof(pw));
	if (der != NULL)
		OPENSSL_clear_free(der, len);
	free(path);
	X509_free(cert);
	X509_NAME_free(name);
	X509_REQ_free(csr);
	EVP_PKEY_free(key);
	return r;
}

int
laboff_make(struct ca *ca, const char *dir, struct ca_err *err)
{
	struct tpl *t = NULL;
	FILE *pwf = NULL;
	char *pwpath = NULL;
	int i, fd = -1, r;

	if (mkdir(dir, 0700) == -1)
		return ca_err_set(err, CA_ERR_IO, "%s: %s", dir,
		    strerror(errno));
	if ((r = tpl_load(ca_config(ca)->template_dir, "kra", &t, err)) != 0)
		goto out;
	if ((pwpath = util_path(dir, "passwords.txt")) == NULL ||
	    (fd = open(pwpath, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1 ||
	    (pwf = fdopen(fd, "w")) == NULL) {
		r = ca_err_set(err, CA_ERR_IO, "%s: %s", pwpath ? pwpath : dir,
		    strerror(errno));
		goto out;
	}
	fd = -1;
	fprintf(pwf, "# Lab only: real recovery officers keep their keys on "
	    "their own machines or smart cards.\n");
	for (i = 1; i <= LABOFF_COUNT; i++)
		if ((r = laboff_one(ca, t, dir, i, pwf, err)) != 0)
			goto out;
	r = 0;
 out:
	if (pwf != NULL && fclose(pwf) != 0 && r == 0)
		r = ca_err_set(err, CA_ERR_IO, "%s: %s", pwpath,
		    strerror(errno));
	if (fd != -1)
		close(fd);
	free(pwpath);
	tpl_free(t);
	return r;
}
