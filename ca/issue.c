/* Issuing a certificate from a CSR under a template. */
#include "ac-config.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "ca/audit.h"
#include "ca/ca.h"
#include "ca/config.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/issue.h"
#include "ca/publish.h"
#include "ca/revoke.h"
#include "ca/template.h"
#include "ca/util.h"

#define ISS_SERIAL_TRIES	8
#define ISS_BACKDATE		300	/* seconds, for slow client clocks */
#define ISS_VALUE_MAX		256

/* What the checks decide: the subject and the rfc822Name to issue. */
struct iss_plan {
	X509_NAME *subject;
	char *email;		/* lower-cased rfc822Name / account mail */
	char *subject_str;
};

/*
 * The rows of one issuance, stored by iss_store as a member of a group
 * commit. The pointers are the caller's, who waits meanwhile; cert is
 * signed already and replaced only when its serial turns out to be taken.
 */
struct iss_tx {
	struct ca *ca;
	const struct iss_request *r;
	const struct iss_plan *pl;
	iss_hook_fn hook;
	void *hook_ctx;
	int64_t now;
	const unsigned char *csr_der;
	size_t csrlen;
	X509 *cert;
};

static const char *account_lookup(void *, const char *);
static const char *proto_name(unsigned);
static int check_key(const struct tpl *, EVP_PKEY *, struct ca_err *);
static int csr_value(X509_REQ *, int, char **);
static int plan_subject(const struct iss_request *, struct iss_plan *,
    struct ca_err *);
static int plan(const struct iss_request *, struct iss_plan *,
    struct ca_err *);
static void plan_free(struct iss_plan *);
static int check_claimed_mail(const struct iss_request *, const char *,
    struct ca_err *);
static int copy_spki(X509 *, X509_REQ *);
static int valid_mail(const char *);
static int build_cert(struct ca *, const struct iss_request *,
    const struct iss_plan *, int64_t, X509 **, struct ca_err *);
static int add_san_email(X509 *, const char *, struct ca_err *);
static int add_urls(X509 *, X509 *, int, const char *, char **, size_t,
    char **, size_t, struct ca_err *);
static int enforce_limit(struct ca *, const struct iss_request *,
    const struct iss_plan *, int64_t, struct ca_err *);
static int iss_store(void *, struct db *, struct ca_err *);

static const char *
account_lookup(void *ctx, const char *attr)
{
	const struct iss_account *a = ctx;

	if (strcmp(attr, "mail") == 0)
		return a->mail;
	if (strcmp(attr, "cn") == 0)
		return a->cn;
	if (a->lookup != NULL)
		return a->lookup(a->lookup_ctx, attr);
	return NULL;
}

static const char *
proto_name(unsigned proto)
{
	switch (proto) {
	case TPL_PROTO_CLI:	return "cli";
	case TPL_PROTO_EST:	return "est";
	case TPL_PROTO_SCEP:	return "scep";
	case TPL_PROTO_CMC:	return "cmc";
	}
	return "unknown";
}

/* A deliberately plain address: no spaces, quotes, commas or brackets. */
static int
valid_mail(const char *s)
{
	const char *at = strchr(s, '@');
	size_t i, len = strlen(s);

	if (at == NULL || at == s || at[1] == '\0' || strchr(at + 1, '@') ||
	    len > ISS_VALUE_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || strchr("\"(),:;<>[\\]", c))
			return 0;
	}
	return 1;
}

static int
check_key(const struct tpl *t, EVP_PKEY *pkey, struct ca_err *err)
{
	char have[64], curve[64], allowed[512];
	size_t i, used = 0;
	int type = EVP_PKEY_get_base_id(pkey), bits = EVP_PKEY_get_bits(pkey);
	int nid = NID_undef;

	if (type == EVP_PKEY_RSA)
		snprintf(have, sizeof(have), "rsa:%d", bits);
	else if (type == EVP_PKEY_EC) {
		size_t clen = 0;

		if (EVP_PKEY_get_utf8_string_param(pkey, "group", curve,
		    sizeof(curve), &clen) == 1)
			nid = OBJ_txt2nid(curve);
		snprintf(have, sizeof(have), "ec:%s",
		    nid != NID_undef && EC_curve_nid2nist(nid) != NULL ?
		    EC_curve_nid2nist(nid) : "unknown-curve");
	} else
		snprintf(have, sizeof(have), "%s", OBJ_nid2sn(type));

	allowed[0] = '\0';
	for (i = 0; i < t->nalgs; i++) {
		const struct tpl_keyalg *a = &t->algs[i];

		if (a->type == EVP_PKEY_RSA && type == EVP_PKEY_RSA &&
		    bits >= a->min_bits && bits <= a->max_bits)
			return 0;
		if (a->type == EVP_PKEY_EC && type == EVP_PKEY_EC &&
		    nid != NID_undef && nid == a->curve_nid)
			return 0;
		if (used < sizeof(allowed)) {
			int n;

			if (a->type == EVP_PKEY_RSA)
				n = snprintf(allowed + used,
				    sizeof(allowed) - used, "%srsa %d-%d",
				    used ? ", " : "", a->min_bits,
				    a->max_bits);
			else
				n = snprintf(allowed + used,
				    sizeof(allowed) - used, "%sec %s",
				    used ? ", " : "",
				    EC_curve_nid2nist(a->curve_nid) ?
				    EC_curve_nid2nist(a->curve_nid) : "?");
			if (n > 0)
				used += (size_t)n;
		}
	}
	return ca_err_set(err, CA_ERR_POLICY, "template %s: key %s is not "
	    "allowed (allowed: %s); make the request with an allowed key",
	    t->name, have, allowed);
}

/* First value of nid in the CSR subject as UTF-8; *outp NULL if none. */
static int
csr_value(X509_REQ *csr, int nid, char **outp)
{
	const X509_NAME *name = X509_REQ_get_subject_name(csr);
	X509_NAME_ENTRY *ne;
	unsigned char *utf8 = NULL;
	int i, len;

	*outp = NULL;
	if ((i = X509_NAME_get_index_by_NID(name, nid, -1)) < 0)
		return 0;
	ne = X509_NAME_get_entry(name, i);
	if ((len = ASN1_STRING_to_UTF8(&utf8,
	    X509_NAME_ENTRY_get_data(ne))) < 0)
		return CA_ERR_INVALID;
	if ((size_t)len != strlen((char *)utf8)) {
		OPENSSL_free(utf8);
		return CA_ERR_INVALID;	/* embedded NUL */
	}
	*outp = strdup((char *)utf8);
	OPENSSL_free(utf8);
	return *outp == NULL ? CA_ERR_NOMEM : 0;
}

static int
plan_subject(const struct iss_request *r, struct iss_plan *pl,
    struct ca_err *err)
{
	const struct tpl *t = r->tpl;
	char *val = NULL;
	size_t i;
	int nid, rc, first = 0;

	for (i = 0; i < t->nrdns; i++) {
		const struct tpl_rdn *rd = &t->rdns[i];

		free(val);
		val = NULL;
		if ((nid = OBJ_txt2nid(rd->type)) == NID_undef) {
			rc = ca_err_set(err, CA_ERR_CONFIG, "template %s: "
			    "unknown subject attribute %s", t->name,
			    rd->type);
			first = first ? first : rc;
			continue;
		}
		if (rd->source == TPL_SRC_VALUE) {
			struct ca_err xerr;

			/* An optional attribute the account lacks is left out. */
			ca_err_clear(&xerr);
			if ((rc = tpl_expand(rd->value, account_lookup,
			    (void *)r->account, &val, &xerr)) != 0) {
				if (!rd->required && rc == CA_ERR_POLICY)
					continue;
				ca_err_set(err, rc, "%s", xerr.msg);
				first = first ? first : rc;
				continue;
			}
		} else if ((rc = csr_value(r->csr, nid, &val)) != 0) {
			rc = ca_err_set(err, CA_ERR_INVALID, "request subject "
			    "%s is not a valid string", rd->type);
			first = first ? first : rc;
			continue;
		}
		if (val == NULL || *val == '\0') {
			if (rd->required) {
				rc = ca_err_set(err, CA_ERR_POLICY,
				    "template %s: subject %s is required but "
				    "%s", t->name, rd->type,
				    rd->source == TPL_SRC_REQUEST ?
				    "the request has none" :
				    "the account has no value for it");
				first = first ? first : rc;
			}
			continue;
		}
		if (strlen(val) > ISS_VALUE_MAX) {
			rc = ca_err_set(err, CA_ERR_POLICY, "template %s: "
			    "subject %s is longer than %d characters",
			    t->name, rd->type, ISS_VALUE_MAX);
			first = first ? first : rc;
			continue;
		}
		if (rd->lower)
			util_lower(val);
		if (rd->source == TPL_SRC_REQUEST && rd->match != NULL &&
		    regexec(&rd->re, val, 0, NULL, 0) != 0) {
			rc = ca_err_set(err, CA_ERR_POLICY, "template %s: "
			    "subject %s \"%s\" does not match %s", t->name,
			    rd->type, val, rd->match);
			first = first ? first : rc;
			continue;
		}
		if (nid == NID_pkcs9_emailAddress && !valid_mail(val)) {
			rc = ca_err_set(err, CA_ERR_POLICY, "template %s: "
			    "\"%s\" is not a plain mail address", t->name,
			    val);
			first = first ? first : rc;
			continue;
		}
		if (!X509_NAME_add_entry_by_NID(pl->subject, nid,
		    MBSTRING_UTF8, (unsigned char *)val, -1, -1, 0)) {
			rc = ca_err_ssl(err, CA_ERR_POLICY, "template %s: "
			    "subject %s \"%s\" cannot be encoded", t->name,
			    rd->type, val);
			first = first ? first : rc;
		}
	}
	free(val);
	if (first == 0 && X509_NAME_entry_count(pl->subject) == 0)
		first = ca_err_set(err, CA_ERR_POLICY, "template %s: the "
		    "subject would be empty", t->name);
	return first;
}

/* Runs every check; one message per violated rule. */
static int
plan(const struct iss_request *r, struct iss_plan *pl, struct ca_err *err)
{
	const struct tpl *t = r->tpl;
	EVP_PKEY *pkey;
	char protos[64];
	int rc, first = 0;

	memset(pl, 0, sizeof(*pl));
	if ((pkey = X509_REQ_get0_pubkey(r->csr)) == NULL)
		return ca_err_ssl(err, CA_ERR_INVALID, "the request's public "
		    "key cannot be read");
	/* A key outside the policy costs no work, not even a signature. */
	if ((rc = check_key(t, pkey, err)) != 0)
		first = rc;
	else if (X509_REQ_verify(r->csr, pkey) != 1)
		return ca_err_ssl(err, CA_ERR_INVALID, "the request's "
		    "signature does not verify: it was altered or not signed "
		    "with its own key; make a new request");
	if ((t->protocols & r->protocol) == 0) {
		tpl_protocols_str(t->protocols, protos, sizeof(protos));
		rc = ca_err_set(err, CA_ERR_POLICY, "template %s may not be "
		    "used through %s (allowed: %s)", t->name,
		    proto_name(r->protocol), protos);
		first = first ? first : rc;
	}
	/* SCEP holds such requests (ca/scep.c); EST has no way to wait. */
	if (t->approval_manual && r->protocol != TPL_PROTO_CLI &&
	    r->protocol != TPL_PROTO_SCEP) {
		rc = ca_err_set(err, CA_ERR_POLICY, "template %s requires "
		    "the administrator's approval of each request, which %s "
		    "cannot wait for here: enroll through SCEP (it polls), or "
		    "have the administrator run smimeca issue", t->name,
		    proto_name(r->protocol));
		first = first ? first : rc;
	}
	if (t->archival == TPL_ARCHIVAL_REQUIRED && !r->has_archived_key) {
		rc = ca_err_set(err, CA_ERR_POLICY, "template %s: key "
		    "archival is required, but the request carries no "
		    "encrypted private key (send an archival request, e.g. "
		    "made by smimeca-enroll --archive)", t->name);
		first = first ? first : rc;
	}
	if (t->archival == TPL_ARCHIVAL_FORBIDDEN && r->has_archived_key) {
		rc = ca_err_set(err, CA_ERR_POLICY, "template %s: key "
		    "archival is forbidden (these keys are never escrowed); "
		    "send the request without its private key", t->name);
		first = first ? first : rc;
	}
	if ((pl->subject = X509_NAME_new()) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	if ((rc = plan_subject(r, pl, err)) != 0)
		first = first ? first : rc;
	if (t->san_email != NULL) {
		if ((rc = tpl_expand(t->san_email, account_lookup,
		    (void *)r->account, &pl->email, err)) != 0)
			first = first ? first : rc;
		else if (!valid_mail(pl->email)) {
			rc = ca_err_set(err, CA_ERR_POLICY, "template %s: "
			    "\"%s\" is not a plain mail address", t->name,
			    pl->email);
			first = first ? first : rc;
		} else
			util_lower(pl->email);
	} else if (r->account != NULL && r->account->mail != NULL &&
	    (pl->email = strdup(r->account->mail)) != NULL)
		util_lower(pl->email);
	if ((rc = check_claimed_mail(r, pl->email != NULL ? pl->email :
	    r->account != NULL ? r->account->mail : NULL, err)) != 0)
		first = first ? first : rc;
	if (first == 0 &&
	    (pl->subject_str = util_name_oneline(pl->subject)) == NULL)
		first = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	return first;
}

/*
 * The request's SubjectPublicKeyInfo, copied as it is: X509_set_pubkey
 * would encode the key again through OpenSSL 3.0's encoders, which costs
 * more than the certificate's signature.
 */
static int
copy_spki(X509 *cert, X509_REQ *csr)
{
	X509_PUBKEY *src = X509_REQ_get_X509_PUBKEY(csr);
	X509_PUBKEY *dst = X509_get_X509_PUBKEY(cert);
	ASN1_OBJECT *alg = NULL, *obj = NULL;
	const ASN1_OBJECT *palg;
	const void *pval;
	const unsigned char *pk;
	unsigned char *penc = NULL;
	X509_ALGOR *a;
	ASN1_STRING *param = NULL;
	int pklen, ptype;

	if (src == NULL || dst == NULL ||
	    !X509_PUBKEY_get0_param(&alg, &pk, &pklen, &a, src))
		return -1;
	X509_ALGOR_get0(&palg, &ptype, &pval, a);
	if ((obj = OBJ_dup(palg)) == NULL ||
	    (pklen > 0 && (penc = OPENSSL_memdup(pk, (size_t)pklen)) == NULL))
		goto fail;
	if (ptype == V_ASN1_SEQUENCE || ptype == V_ASN1_OBJECT) {
		if (ptype == V_ASN1_OBJECT) {
			if ((pval = OBJ_dup(pval)) == NULL)
				goto fail;
		} else if ((param = ASN1_STRING_dup(pval)) == NULL)
			goto fail;
		else
			pval = param;
	} else if (ptype != V_ASN1_NULL && ptype != V_ASN1_UNDEF)
		goto fail;
	else
		pval = NULL;
	if (!X509_PUBKEY_set0_param(dst, obj, ptype, (void *)pval, penc,
	    pklen))
		goto fail;
	return 0;
 fail:
	ASN1_OBJECT_free(obj);
	ASN1_STRING_free(param);
	OPENSSL_free(penc);
	return -1;
}

/*
 * The certificate's address comes from the account; a request that
 * claims another one (subject emailAddress or SAN rfc822Name) is refused
 * rather than silently corrected, so alice learns she cannot ask for bob.
 */
static int
check_claimed_mail(const struct iss_request *r, const char *mail,
    struct ca_err *err)
{
	STACK_OF(X509_EXTENSION) *exts;
	GENERAL_NAMES *gens = NULL;
	char *claim = NULL;
	int i, rc = 0;

	/* At the CLI the administrator vouches and may override the CSR. */
	if (mail == NULL || r->protocol == TPL_PROTO_CLI)
		return 0;
	if (csr_value(r->csr, NID_pkcs9_emailAddress, &claim) == 0 &&
	    claim != NULL && strcasecmp(claim, mail) != 0)
		rc = ca_err_set(err, CA_ERR_POLICY, "the request names %s, "
		    "but the certificate can only be for %s (the account it "
		    "is requested for)", claim, mail);
	free(claim);
	if (rc != 0)
		return rc;
	exts = X509_REQ_get_extensions(r->csr);
	if (exts != NULL)
		gens = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		int len;

		if (g->type != GEN_EMAIL)
			continue;
		len = ASN1_STRING_length(g->d.rfc822Name);
		if ((size_t)len != strlen(mail) ||
		    strncasecmp((const char *)ASN1_STRING_get0_data(
		    g->d.rfc822Name), mail, (size_t)len) != 0) {
			rc = ca_err_set(err, CA_ERR_POLICY, "the request's "
			    "subject alternative name %.*s is not %s (the "
			    "account it is requested for)", len > 256 ? 256 :
			    len, (const char *)ASN1_STRING_get0_data(
			    g->d.rfc822Name), mail);
			break;
		}
	}
	GENERAL_NAMES_free(gens);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return rc;
}

static void
plan_free(struct iss_plan *pl)
{
	X509_NAME_free(pl->subject);
	free(pl->email);
	free(pl->subject_str);
	memset(pl, 0, sizeof(*pl));
}

int
iss_check(struct ca *ca, const struct iss_request *r, struct ca_err *err)
{
	struct iss_plan pl;
	int rc;

	rc = plan(r, &pl, err);
	plan_free(&pl);
	return rc;
}

static int
add_san_email(X509 *cert, const char *email, struct ca_err *err)
{
	GENERAL_NAMES *gens = NULL;
	GENERAL_NAME *gn = NULL;
	ASN1_IA5STRING *ia5 = NULL;
	int r = CA_ERR_CRYPTO;

	if ((gens = sk_GENERAL_NAME_new_null()) == NULL ||
	    (gn = GENERAL_NAME_new()) == NULL ||
	    (ia5 = ASN1_IA5STRING_new()) == NULL ||
	    !ASN1_STRING_set(ia5, email, -1))
		goto out;
	GENERAL_NAME_set0_value(gn, GEN_EMAIL, ia5);
	ia5 = NULL;
	if (!sk_GENERAL_NAME_push(gens, gn))
		goto out;
	gn = NULL;
	if (!X509_add1_ext_i2d(cert, NID_subject_alt_name, gens, 0,
	    X509V3_ADD_DEFAULT))
		goto out;
	r = 0;
 out:
	if (r != 0)
		ca_err_ssl(err, r, "subjectAltName email:%s", email);
	ASN1_IA5STRING_free(ia5);
	GENERAL_NAME_free(gn);
	GENERAL_NAMES_free(gens);
	return r;
}

/* CRL distribution points (cdp) or AIA (!cdp) from configured URLs. */
static int
add_urls(X509 *cert, X509 *issuer, int cdp, const char *what, char **a,
    size_t na, char **b, size_t nb, struct ca_err *err)
{
	char *val = NULL, *p;
	size_t i, len = 1;
	int r;

	for (i = 0; i < na; i++)
		len += strlen(a[i]) + 32;
	for (i = 0; i < nb; i++)
		len += strlen(b[i]) + 32;
	if (na + nb == 0)
		return 0;
	if ((val = calloc(1, len)) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	p = val;
	for (i = 0; i < na; i++)
		p += sprintf(p, "%s%sURI:%s", p == val ? "" : ",",
		    cdp ? "" : "caIssuers;", a[i]);
	for (i = 0; i < nb; i++)
		p += sprintf(p, "%sOCSP;URI:%s", p == val ? "" : ",", b[i]);
	r = ca_add_ext(cert, issuer, cdp ? NID_crl_distribution_points :
	    NID_info_access, val, err);
	if (r != 0)
		ca_err_set(err, CA_ERR_CONFIG, "check the %s URLs in the "
		    "configuration", what);
	free(val);
	return r;
}

static int
build_cert(struct ca *ca, const struct iss_request *r,
    const struct iss_plan *pl, int64_t now, X509 **certp,
    struct ca_err *err)
{
	const struct tpl *t = r->tpl;
	const struct ca_config *cfg = ca_config(ca);
	X509 *cert = NULL, *issuer = ca_cert(ca);
	ASN1_INTEGER *serial = NULL;
	char ku[160], *eku = NULL;
	size_t i, ekulen = 1;
	time_t nb = (time_t)now - ISS_BACKDATE;
	time_t na = (time_t)now + (time_t)t->validity_days * 86400;
	int64_t ca_na = util_asn1_time_to_unix(X509_get0_notAfter(issuer));
	int rc;

	*certp = NULL;
	/* Never beyond the CA's own notAfter, as AD CS does. */
	if (ca_na > 0 && (int64_t)na > ca_na)
		na = (time_t)ca_na;
	if ((cert = X509_new()) == NULL) {
		rc = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = ca_random_serial(&serial, err)) != 0)
		goto out;
	if (!X509_set_version(cert, X509_VERSION_3) ||
	    !X509_set_serialNumber(cert, serial) ||
	    !X509_set_issuer_name(cert, X509_get_subject_name(issuer)) ||
	    !X509_set_subject_name(cert, pl->subject) ||
	    X509_time_adj_ex(X509_getm_notBefore(cert), 0, 0, &nb) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(cert), 0, 0, &na) == NULL ||
	    (r->raw_cert ? copy_spki(cert, r->csr) :
	    !X509_set_pubkey(cert, X509_REQ_get0_pubkey(r->csr)) ? -1 : 0) !=
	    0) {
		rc = ca_err_ssl(err, CA_ERR_CRYPTO, "building certificate");
		goto out;
	}
	snprintf(ku, sizeof(ku), "%s%s%s%s%s%s",
	    t->key_usage_critical ? "critical" : "",
	    t->key_usage & TPL_KU_DIGITAL_SIGNATURE ? ",digitalSignature" : "",
	    t->key_usage & TPL_KU_NON_REPUDIATION ? ",nonRepudiation" : "",
	    t->key_usage & TPL_KU_KEY_ENCIPHERMENT ? ",keyEncipherment" : "",
	    t->key_usage & TPL_KU_DATA_ENCIPHERMENT ? ",dataEncipherment" : "",
	    t->key_usage & TPL_KU_KEY_AGREEMENT ? ",keyAgreement" : "");
	for (i = 0; i < t->neku; i++)
		ekulen += strlen(t->eku[i]) + 1;
	if ((eku = calloc(1, ekulen)) == NULL) {
		rc = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < t->neku; i++) {
		if (i > 0)
			strcat(eku, ",");
		strcat(eku, t->eku[i]);
	}
	if ((rc = ca_add_ext(cert, issuer, NID_basic_constraints,
	    "critical,CA:FALSE", err)) != 0 ||
	    (t->key_usage != 0 && (rc = ca_add_ext(cert, issuer,
	    NID_key_usage, ku[0] == ',' ? ku + 1 : ku, err)) != 0) ||
	    (t->neku > 0 && (rc = ca_add_ext(cert, issuer,
	    NID_ext_key_usage, eku, err)) != 0) ||
	    (rc = ca_add_ext(cert, issuer, NID_subject_key_identifier, "hash",
	    err)) != 0 ||
	    (rc = ca_add_ext(cert, issuer, NID_authority_key_identifier,
	    "keyid:always", err)) != 0 ||
	    (t->san_email != NULL &&
	    (rc = add_san_email(cert, pl->email, err)) != 0) ||
	    (t->include_cdp && (rc = add_urls(cert, issuer, 1, "crl-url",
	    cfg->cdp_urls, cfg->ncdp, NULL, 0, err)) != 0) ||
	    (t->include_aia && (rc = add_urls(cert, issuer, 0,
	    "ca-issuers-url/ocsp-url", cfg->aia_issuer_urls,
	    cfg->naia_issuer, cfg->aia_ocsp_urls, cfg->naia_ocsp, err)) != 0))
		goto out;
	if (X509_sign(cert, ca_key(ca), ca_digest(ca)) <= 0) {
		rc = ca_err_ssl(err, CA_ERR_CRYPTO, "signing the certificate");
		goto out;
	}
	*certp = cert;
	cert = NULL;
	rc = 0;
 out:
	free(eku);
	ASN1_INTEGER_free(serial);
	X509_free(cert);
	return rc;
}

/* Inside the transaction: the per-subject limit of active certificates. */
static int
enforce_limit(struct ca *ca, const struct iss_request *r,
    const struct iss_plan *pl, int64_t now, struct ca_err *err)
{
	const struct tpl *t = r->tpl;
	struct db_cert_filter f;
	struct db_cert **list = NULL;
	size_t i, n = 0, active = 0, drop;
	int rc;

	if (t->max_active <= 0)
		return 0;
	memset(&f, 0, sizeof(f));
	f.template = t->name;
	f.email = pl->email;
	f.issuer_id = ca_cert_id(ca);
	f.status = DB_ST_VALID;
	f.now = now;
	if ((rc = db_cert_list(ca_db(ca), &f, &list, &n, err)) != 0)
		return rc;
	/* Without a mail address the subject names the holder. */
	for (i = 0; i < n; i++) {
		if (pl->email == NULL &&
		    strcmp(list[i]->subject, pl->subject_str) != 0) {
			db_cert_free(list[i]);
			list[i] = NULL;
			continue;
		}
		active++;
	}
	if (active < (size_t)t->max_active) {
		rc = 0;
		goto out;
	}
	if (t->on_limit == TPL_LIMIT_REFUSE) {
		for (i = 0; i < n && list[i] == NULL; i++)
			;
		rc = ca_err_set(err, CA_ERR_POLICY, "template %s allows %d "
		    "active certificate(s) per subject and %s holds %zu "
		    "(list them with smimeca cert list%s%s --template %s "
		    "--status valid; revoke one first, e.g. the oldest: "
		    "smimeca revoke %s --reason superseded)", t->name,
		    t->max_active, pl->email ? pl->email : pl->subject_str,
		    active, pl->email ? " --email " : "",
		    pl->email ? pl->email : "", t->name,
		    i < n ? list[i]->serial : "SERIAL");
		goto out;
	}
	/* Supersede the oldest ones (the list is in issuance order). */
	drop = active - (size_t)t->max_active + 1;
	for (i = 0; i < n && drop > 0; i++) {
		if (list[i] == NULL)
			continue;
		if ((rc = rev_revoke_in_tx(ca, list[i]->serial, 4, err)) != 0)
			goto out;
		drop--;
	}
	rc = 0;
 out:
	db_cert_free_list(list, n);
	return rc;
}

/*
 * Request, template, limit, certificate, hook (escrow), publish job and
 * audit row, on db: this thread's handle or the one leading the batch.
 */
static int
iss_store(void *arg, struct db *db, struct ca_err *err)
{
	struct iss_tx *tx = arg;
	struct ca *ca = tx->ca;
	const struct iss_request *r = tx->r;
	const struct iss_plan *pl = tx->pl;
	struct db_request req;
	struct db_cert dc;
	unsigned char *der = NULL;
	int64_t tpl_id;
	int len, rc, tries;
	char detail[1024];

	/* The hooks and helpers find the database through ca_db(). */
	ca_use_db(ca, db);
	memset(&req, 0, sizeof(req));
	req.protocol = proto_name(r->protocol);
	req.requester = r->account && r->account->id ? r->account->id :
	    ca_actor(ca);
	req.owner = r->account != NULL ? r->account->owner : NULL;
	req.csr = tx->csr_der;
	req.csrlen = tx->csrlen;
	if ((rc = db_template_record(db, r->tpl->name, r->tpl->sha256,
	    r->tpl->body, r->tpl->bodylen, &tpl_id, err)) != 0)
		goto out;
	req.template_id = tpl_id;
	if ((rc = db_request_add(db, &req, &req.id, err)) != 0 ||
	    (rc = enforce_limit(ca, r, pl, tx->now, err)) != 0)
		goto out;
	for (tries = 0; ; tries++) {
		OPENSSL_free(der);
		der = NULL;
		if (tries > 0) {
			X509_free(tx->cert);
			tx->cert = NULL;
			if ((rc = build_cert(ca, r, pl, tx->now, &tx->cert,
			    err)) != 0)
				goto out;
		}
		if ((len = i2d_X509(tx->cert, &der)) <= 0) {
			rc = ca_err_ssl(err, CA_ERR_CRYPTO, "encoding");
			goto out;
		}
		memset(&dc, 0, sizeof(dc));
		if (util_serial_hex(X509_get0_serialNumber(tx->cert),
		    dc.serial) != 0) {
			rc = ca_err_set(err, CA_ERR_INTERNAL, "serial");
			goto out;
		}
		dc.issuer_id = ca_cert_id(ca);
		dc.request_id = req.id;
		dc.template = r->tpl->name;
		dc.subject = pl->subject_str;
		dc.email = pl->email;
		dc.not_before = util_asn1_time_to_unix(
		    X509_get0_notBefore(tx->cert));
		dc.not_after = util_asn1_time_to_unix(
		    X509_get0_notAfter(tx->cert));
		util_sha1_hex(der, (size_t)len, dc.sha1);
		util_sha256_hex(der, (size_t)len, dc.sha256);
		dc.der = der;
		dc.derlen = (size_t)len;
		rc = db_cert_add(db, &dc, err);
		/* The borrowed pointers must not be freed through dc. */
		dc.template = dc.subject = dc.email = NULL;
		dc.der = NULL;
		if (rc == CA_ERR_EXISTS && tries < ISS_SERIAL_TRIES) {
			ca_err_clear(err);
			continue;
		}
		if (rc != 0)
			goto out;
		break;
	}
	if (tx->hook != NULL && (rc = tx->hook(tx->hook_ctx, ca, dc.id,
	    tx->cert, err)) != 0)
		goto out;
	/* The directory learns of it through the outbox, in this one. */
	if (pub_template_publishes(r->tpl) && (rc = pub_enqueue_cert(ca,
	    dc.id, pl->email, PUB_ADD, err)) != 0)
		goto out;
	snprintf(detail, sizeof(detail), "template=%s protocol=%s "
	    "requester=%s owner=%s email=%s subject=%s", r->tpl->name,
	    req.protocol, req.requester, req.owner ? req.owner : "-",
	    pl->email ? pl->email : "-", pl->subject_str);
	rc = audit_append(db, ca_actor(ca), "issue", dc.serial, detail, err);
 out:
	ca_use_db(ca, NULL);
	OPENSSL_free(der);
	return rc;
}

int
iss_issue(struct ca *ca, const struct iss_request *r, iss_hook_fn hook,
    void *hook_ctx, X509 **certp, struct ca_err *err)
{
	struct iss_plan pl;
	struct iss_tx tx;
	unsigned char *csr_der = NULL;
	int csrlen, rc;

	*certp = NULL;
	memset(&tx, 0, sizeof(tx));
	if ((rc = plan(r, &pl, err)) != 0)
		goto out;
	if (ca_key(ca) == NULL && (rc = ca_load_key(ca, err)) != 0)
		goto out;
	if ((csrlen = i2d_X509_REQ(r->csr, &csr_der)) <= 0) {
		rc = ca_err_ssl(err, CA_ERR_INVALID, "encoding the request");
		goto out;
	}
	tx.ca = ca;
	tx.r = r;
	tx.pl = &pl;
	tx.hook = hook;
	tx.hook_ctx = hook_ctx;
	tx.now = r->now ? r->now : (int64_t)time(NULL);
	tx.csr_der = csr_der;
	tx.csrlen = (size_t)csrlen;
	/*
	 * Signed before the transaction: the write lock is not held while
	 * the CA key works, so threads sign in parallel. A serial taken in
	 * the meantime (2^-120) makes a new certificate inside. The rows go
	 * in with those of the other threads issuing now, under one COMMIT,
	 * and the certificate is handed out only once that has succeeded.
	 */
	if ((rc = build_cert(ca, r, &pl, tx.now, &tx.cert, err)) != 0 ||
	    (rc = db_group_run(ca_db(ca), iss_store, &tx, err)) != 0)
		goto out;
	*certp = tx.cert;
	tx.cert = NULL;
	rc = 0;
 out:
	plan_free(&pl);
	OPENSSL_free(csr_der);
	X509_free(tx.cert);
	return rc;
}
