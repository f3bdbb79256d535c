/*
 * Apple configuration profiles (PROTOCOLS.md section 5): an XML plist
 * written with libxml2, one com.apple.security.pkcs12 payload per escrowed
 * identity and a mail account (com.apple.mail.managed for IMAP, or
 * com.apple.eas.account for Exchange ActiveSync) whose S/MIME settings name
 * the current one; optionally signed (CMS SignedData) by a certificate the
 * CA issues for that.
 */
#include "ac-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/tree.h>
#include <libxml/xmlsave.h>

#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "archive/mdm.h"
#include "archive/p12.h"
#include "archive/profile.h"
#include "ca/audit.h"
#include "ca/ca.h"
#include "ca/config.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/mdmchal.h"
#include "ca/util.h"

#define SIGNER_ROLE	"profile-signer"
#define SIGNER_DAYS	365
#define SIGNER_MARGIN	(7 * 86400)	/* a new signer a week before */
#define PROFILE_PW_LEN	24
#define ID_PREFIX	"org.smimeca.profile"

static xmlNodePtr plist_key(xmlNodePtr, const char *);
static int plist_string(xmlNodePtr, const char *, const char *);
static int plist_int(xmlNodePtr, const char *, int);
static int plist_bool(xmlNodePtr, const char *, int);
static int plist_data(xmlNodePtr, const char *, const unsigned char *,
    size_t);
static int smime_keys(xmlNodePtr, const struct prof_params *, const char *,
    const char *);
static int payload_head(xmlNodePtr, const char *, const char *,
    const char *, const char *);
static int pkcs12_payload(xmlNodePtr, const struct prof_params *,
    const struct mdm_user *, const struct mdm_identity *, char[37],
    struct ca_err *);
static int mail_payload(xmlNodePtr, const struct prof_params *,
    const struct mdm_user *, const char *, const char *, struct ca_err *);
static int eas_payload(xmlNodePtr, const struct prof_params *,
    const struct mdm_user *, const char *, const char *, struct ca_err *);
static int scep_subject(xmlNodePtr, const char *, struct ca_err *);
static int scep_payload(xmlNodePtr, const struct prof_params *,
    const struct mdm_user *, char[37], struct ca_err *);
static int root_payload(xmlNodePtr, X509 *, struct ca_err *);
static int signer_issue(struct ca *, int64_t, X509 **, EVP_PKEY **,
    struct ca_err *);
static char *signer_key_path(struct ca *, X509 *);
static int new_plist(xmlDocPtr *, xmlNodePtr *);
static void free_plist(xmlDocPtr);
static void wipe_text(xmlNodePtr);
static int dump_plist(xmlDocPtr, char **, size_t *);
static int encrypt_payloads(xmlNodePtr, xmlDocPtr, X509 *, struct ca_err *);

static xmlNodePtr
plist_key(xmlNodePtr dict, const char *key)
{
	return xmlNewTextChild(dict, NULL, BAD_CAST "key", BAD_CAST key);
}

static int
plist_string(xmlNodePtr dict, const char *key, const char *v)
{
	return plist_key(dict, key) != NULL && xmlNewTextChild(dict, NULL,
	    BAD_CAST "string", BAD_CAST v) != NULL ? 0 : -1;
}

static int
plist_int(xmlNodePtr dict, const char *key, int v)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%d", v);
	return plist_key(dict, key) != NULL && xmlNewTextChild(dict, NULL,
	    BAD_CAST "integer", BAD_CAST buf) != NULL ? 0 : -1;
}

static int
plist_bool(xmlNodePtr dict, const char *key, int v)
{
	return plist_key(dict, key) != NULL && xmlNewChild(dict, NULL,
	    BAD_CAST (v ? "true" : "false"), NULL) != NULL ? 0 : -1;
}

static int
plist_data(xmlNodePtr dict, const char *key, const unsigned char *buf,
    size_t len)
{
	char *b64;
	int r;

	if ((b64 = util_b64_encode(buf, len)) == NULL)
		return -1;
	r = plist_key(dict, key) != NULL && xmlNewTextChild(dict, NULL,
	    BAD_CAST "data", BAD_CAST b64) != NULL ? 0 : -1;
	free(b64);
	return r;
}

/*
 * The S/MIME keys both mail account payloads share: the current
 * certificate's PKCS#12 payload encrypts; sign_uuid (NULL: none) names the
 * signing identity's payload: the SCEP payload, else the current PKCS#12
 * when it is dual-use.
 */
static int
smime_keys(xmlNodePtr d, const struct prof_params *p, const char *sign_uuid,
    const char *cur_uuid)
{
	return plist_bool(d, "SMIMEEnabled", 1) != 0 ||
	    plist_bool(d, "SMIMESigningEnabled", sign_uuid != NULL) != 0 ||
	    (sign_uuid != NULL && plist_string(d,
	    "SMIMESigningCertificateUUID", sign_uuid) != 0) ||
	    plist_bool(d, "SMIMEEncryptionEnabled", 1) != 0 ||
	    plist_string(d, "SMIMEEncryptionCertificateUUID", cur_uuid) != 0 ||
	    plist_bool(d, "SMIMEEncryptByDefault", p->encrypt_by_default) !=
	    0 ||
	    plist_bool(d, "SMIMEEnableEncryptionPerMessageSwitch", 1) != 0 ?
	    -1 : 0;
}

/* The keys every payload has. */
static int
payload_head(xmlNodePtr d, const char *type, const char *uuid,
    const char *kind, const char *name)
{
	char ident[128];

	snprintf(ident, sizeof(ident), "%s.%s.%s", ID_PREFIX, kind, uuid);
	return plist_string(d, "PayloadType", type) != 0 ||
	    plist_int(d, "PayloadVersion", 1) != 0 ||
	    plist_string(d, "PayloadIdentifier", ident) != 0 ||
	    plist_string(d, "PayloadUUID", uuid) != 0 ||
	    plist_string(d, "PayloadDisplayName", name) != 0 ? -1 : 0;
}

static int
pkcs12_payload(xmlNodePtr arr, const struct prof_params *p,
    const struct mdm_user *u, const struct mdm_identity *id, char uuid[37],
    struct ca_err *err)
{
	char pw[PROFILE_PW_LEN + 1], name[256], file[80], desc[160];
	unsigned char *der = NULL;
	size_t len = 0;
	xmlNodePtr d;
	int r;

	if ((r = mdm_uuid(uuid, err)) != 0 ||
	    (r = p12_random_password(pw, PROFILE_PW_LEN, err)) != 0 ||
	    (r = (p->aes ? p12_make : p12_make_legacy)(id->key, id->cert,
	    u->chain, pw, id->serial, &der, &len, err)) != 0)
		goto out;
	snprintf(name, sizeof(name), "%s encryption key (%.8s)", u->email,
	    id->serial);
	snprintf(file, sizeof(file), "%s.p12", id->serial);
	snprintf(desc, sizeof(desc), "S/MIME encryption identity, "
	    "certificate %s (%s)", id->serial, id->current ? "current" :
	    "earlier: reads old mail");
	if ((d = xmlNewChild(arr, NULL, BAD_CAST "dict", NULL)) == NULL ||
	    payload_head(d, "com.apple.security.pkcs12", uuid, "pkcs12",
	    name) != 0 ||
	    plist_string(d, "PayloadDescription", desc) != 0 ||
	    plist_string(d, "PayloadCertificateFileName", file) != 0 ||
	    plist_string(d, "Password", pw) != 0 ||
	    plist_data(d, "PayloadContent", der, len) != 0) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	r = 0;
 out:
	OPENSSL_cleanse(pw, sizeof(pw));
	if (der != NULL)
		OPENSSL_clear_free(der, len);
	return r;
}

static int
mail_payload(xmlNodePtr arr, const struct prof_params *p,
    const struct mdm_user *u, const char *sign_uuid, const char *cur_uuid,
    struct ca_err *err)
{
	const char *at = strchr(u->email, '@');
	char uuid[37], imap[256], smtp[256], name[300];
	xmlNodePtr d;
	int r;

	if ((r = mdm_uuid(uuid, err)) != 0)
		return r;
	snprintf(imap, sizeof(imap), "%s%s", p->imap_host != NULL ?
	    p->imap_host : "mail.", p->imap_host != NULL ? "" :
	    at != NULL ? at + 1 : "localhost");
	snprintf(smtp, sizeof(smtp), "%s", p->smtp_host != NULL ?
	    p->smtp_host : imap);
	snprintf(name, sizeof(name), "Mail %s", u->email);
	if ((d = xmlNewChild(arr, NULL, BAD_CAST "dict", NULL)) == NULL ||
	    payload_head(d, "com.apple.mail.managed", uuid, "mail",
	    name) != 0 ||
	    plist_string(d, "EmailAccountDescription", u->email) != 0 ||
	    plist_string(d, "EmailAccountType", "EmailTypeIMAP") != 0 ||
	    plist_string(d, "EmailAddress", u->email) != 0 ||
	    plist_string(d, "IncomingMailServerAuthentication",
	    "EmailAuthPassword") != 0 ||
	    plist_string(d, "IncomingMailServerHostName", imap) != 0 ||
	    plist_int(d, "IncomingMailServerPortNumber", 993) != 0 ||
	    plist_bool(d, "IncomingMailServerUseSSL", 1) != 0 ||
	    plist_string(d, "IncomingMailServerUsername", u->email) != 0 ||
	    plist_string(d, "OutgoingMailServerAuthentication",
	    "EmailAuthPassword") != 0 ||
	    plist_string(d, "OutgoingMailServerHostName", smtp) != 0 ||
	    plist_int(d, "OutgoingMailServerPortNumber", 587) != 0 ||
	    plist_bool(d, "OutgoingMailServerUseSSL", 1) != 0 ||
	    plist_string(d, "OutgoingMailServerUsername", u->email) != 0 ||
	    smime_keys(d, p, sign_uuid, cur_uuid) != 0)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	return 0;
}

/*
 * An Exchange ActiveSync account, as iOS's native Exchange connector takes
 * it: keys of Apple's com.apple.eas.account schema only. The identities are
 * the PKCS#12 payload of the current certificate, and for signing the SCEP
 * payload's or, when it is dual-use, the current one's; without either
 * the user may pick the device's own signing identity. No password: the
 * device asks.
 */
static int
eas_payload(xmlNodePtr arr, const struct prof_params *p,
    const struct mdm_user *u, const char *sign_uuid, const char *cur_uuid,
    struct ca_err *err)
{
	char uuid[37], name[300];
	int sign = sign_uuid != NULL;
	xmlNodePtr d;
	int r;

	if (p->eas_host == NULL || *p->eas_host == '\0')
		return ca_err_set(err, CA_ERR_INVALID, "an Exchange "
		    "ActiveSync account needs the name of its host");
	if ((r = mdm_uuid(uuid, err)) != 0)
		return r;
	snprintf(name, sizeof(name), "Exchange %s", u->email);
	if ((d = xmlNewChild(arr, NULL, BAD_CAST "dict", NULL)) == NULL ||
	    payload_head(d, "com.apple.eas.account", uuid, "eas",
	    name) != 0 ||
	    plist_string(d, "EmailAddress", u->email) != 0 ||
	    plist_string(d, "Host", p->eas_host) != 0 ||
	    plist_bool(d, "SSL", 1) != 0 ||
	    plist_string(d, "UserName", p->eas_user != NULL ?
	    p->eas_user : u->email) != 0 ||
	    smime_keys(d, p, sign_uuid, cur_uuid) != 0 ||
	    plist_bool(d, "SMIMESigningUserOverrideable", !sign) != 0 ||
	    plist_bool(d, "SMIMESigningCertificateUUIDUserOverrideable",
	    !sign) != 0)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	return 0;
}

/*
 * Subject of the SCEP payload from "/CN=a/O=b": an array of RDNs, each an
 * array of one [type, value] pair. Apple's schema names the short forms
 * C, L, ST, O, OU and CN; any other type goes as its dotted OID.
 */
static int
scep_subject(xmlNodePtr d, const char *subj, struct ca_err *err)
{
	static const char *const shortnames[] = { "C", "L", "ST", "O", "OU",
	    "CN", NULL };
	X509_NAME *name = NULL;
	xmlNodePtr outer, rdn, pair;
	char type[80];
	int i, j, r = CA_ERR_NOMEM;

	if ((name = mdmchal_parse_subject(subj)) == NULL)
		return ca_err_set(err, CA_ERR_INVALID, "SCEP subject %s: not "
		    "of the form /CN=Alice/O=Lab", subj);
	if (plist_key(d, "Subject") == NULL ||
	    (outer = xmlNewChild(d, NULL, BAD_CAST "array", NULL)) == NULL)
		goto out;
	for (i = 0; i < X509_NAME_entry_count(name); i++) {
		X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
		ASN1_OBJECT *o = X509_NAME_ENTRY_get_object(e);
		const char *sn = OBJ_nid2sn(OBJ_obj2nid(o));
		ASN1_STRING *v = X509_NAME_ENTRY_get_data(e);

		OBJ_obj2txt(type, sizeof(type), o, 1);
		for (j = 0; sn != NULL && shortnames[j] != NULL; j++)
			if (strcmp(sn, shortnames[j]) == 0)
				snprintf(type, sizeof(type), "%s", sn);
		/* mdmchal_parse_subject made every value UTF-8 text. */
		if ((rdn = xmlNewChild(outer, NULL, BAD_CAST "array",
		    NULL)) == NULL ||
		    (pair = xmlNewChild(rdn, NULL, BAD_CAST "array",
		    NULL)) == NULL ||
		    xmlNewTextChild(pair, NULL, BAD_CAST "string",
		    BAD_CAST type) == NULL ||
		    xmlNewTextChild(pair, NULL, BAD_CAST "string",
		    ASN1_STRING_get0_data(v)) == NULL)
			goto out;
	}
	r = 0;
 out:
	if (r != 0)
		ca_err_set(err, r, "out of memory");
	X509_NAME_free(name);
	return r;
}

/*
 * com.apple.security.scep: the device makes its own signing key and asks
 * the CA for its certificate with the challenge, for exactly the names
 * the challenge binds. Keys checked against Apple's device-management
 * schema (github.com/apple/device-management,
 * mdm/profiles/com.apple.security.scep.yaml): PayloadContent is a
 * dictionary of URL, Name, Subject, Challenge, Keysize, "Key Type" (only
 * RSA), "Key Usage" (1 signing, 4 encryption), SubjectAltName (rfc822Name)
 * and CAFingerprint (data). Apple's SCEP client (Security framework,
 * SecSCEPValidateCACertMessage) hashes the top of the chain it builds from
 * GetCACert's certificates and takes a 16-byte fingerprint as MD5, a
 * 20-byte one as SHA-1: so SHA-1 of the root's DER.
 */
static int
scep_payload(xmlNodePtr arr, const struct prof_params *p,
    const struct mdm_user *u, char uuid[37], struct ca_err *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char subj[300], name[300], cn[200];
	xmlNodePtr d, c, san;
	int r;

	if ((r = mdm_uuid(uuid, err)) != 0)
		return r;
	if (p->scep_ca == NULL ||
	    X509_digest(p->scep_ca, EVP_sha1(), md, &mdlen) != 1 ||
	    mdlen != 20)
		return ca_err_ssl(err, CA_ERR_CRYPTO, "the SHA-1 fingerprint "
		    "of the CA certificate for the SCEP payload");
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(p->scep_ca),
	    NID_commonName, cn, sizeof(cn)) <= 0)
		snprintf(cn, sizeof(cn), "smimeca");
	if (p->scep_subject != NULL)
		snprintf(subj, sizeof(subj), "%s", p->scep_subject);
	else
		snprintf(subj, sizeof(subj), "/CN=%s", u->email);
	snprintf(name, sizeof(name), "%s signing key (SCEP)", u->email);
	if ((d = xmlNewChild(arr, NULL, BAD_CAST "dict", NULL)) == NULL ||
	    payload_head(d, "com.apple.security.scep", uuid, "scep",
	    name) != 0 ||
	    plist_string(d, "PayloadDescription", "The device makes its own "
	    "S/MIME signing key and enrolls it with the CA over SCEP; the "
	    "key never leaves the device") != 0 ||
	    plist_key(d, "PayloadContent") == NULL ||
	    (c = xmlNewChild(d, NULL, BAD_CAST "dict", NULL)) == NULL ||
	    plist_string(c, "URL", p->scep_url) != 0 ||
	    plist_string(c, "Name", cn) != 0)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	if ((r = scep_subject(c, subj, err)) != 0)
		return r;
	if (plist_string(c, "Challenge", p->scep_challenge) != 0 ||
	    plist_int(c, "Keysize", p->scep_keysize > 0 ? p->scep_keysize :
	    2048) != 0 ||
	    plist_string(c, "Key Type", "RSA") != 0 ||
	    plist_int(c, "Key Usage", 1) != 0 ||
	    plist_key(c, "SubjectAltName") == NULL ||
	    (san = xmlNewChild(c, NULL, BAD_CAST "dict", NULL)) == NULL ||
	    plist_string(san, "rfc822Name", u->email) != 0 ||
	    plist_data(c, "CAFingerprint", md, mdlen) != 0)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	return 0;
}

/*
 * A CA certificate the device is to trust (com.apple.security.root, which
 * Apple's device-management schema makes an alias of
 * com.apple.security.pkcs1): PayloadContent is the DER certificate.
 */
static int
root_payload(xmlNodePtr arr, X509 *cert, struct ca_err *err)
{
	char uuid[37], cn[200], name[256], file[80], sha1[41];
	unsigned char *der = NULL;
	xmlNodePtr d;
	int len, r;

	if ((r = mdm_uuid(uuid, err)) != 0)
		return r;
	if ((len = i2d_X509(cert, &der)) <= 0)
		return ca_err_ssl(err, CA_ERR_CRYPTO, "encoding a CA "
		    "certificate for its root payload");
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert),
	    NID_commonName, cn, sizeof(cn)) <= 0)
		snprintf(cn, sizeof(cn), "CA");
	snprintf(name, sizeof(name), "%s (trusted for mail)", cn);
	util_sha1_hex(der, (size_t)len, sha1);
	snprintf(file, sizeof(file), "%.16s.cer", sha1);
	if ((d = xmlNewChild(arr, NULL, BAD_CAST "dict", NULL)) == NULL ||
	    payload_head(d, "com.apple.security.root", uuid, "root",
	    name) != 0 ||
	    plist_string(d, "PayloadDescription", "A certificate authority "
	    "that signs S/MIME certificates of this organisation") != 0 ||
	    plist_string(d, "PayloadCertificateFileName", file) != 0 ||
	    plist_data(d, "PayloadContent", der, (size_t)len) != 0)
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	OPENSSL_free(der);
	return r;
}

/* An empty plist document; *rootp is its <plist> element. */
static int
new_plist(xmlDocPtr *docp, xmlNodePtr *rootp)
{
	xmlDocPtr doc;
	xmlNodePtr root;

	*docp = NULL;
	if ((doc = xmlNewDoc(BAD_CAST "1.0")) == NULL)
		return -1;
	if (xmlCreateIntSubset(doc, BAD_CAST "plist",
	    BAD_CAST "-//Apple//DTD PLIST 1.0//EN",
	    BAD_CAST "http://www.apple.com/DTDs/PropertyList-1.0.dtd") ==
	    NULL || (root = xmlNewDocNode(doc, NULL, BAD_CAST "plist",
	    NULL)) == NULL) {
		xmlFreeDoc(doc);
		return -1;
	}
	xmlDocSetRootElement(doc, root);
	if (xmlNewProp(root, BAD_CAST "version", BAD_CAST "1.0") == NULL) {
		xmlFreeDoc(doc);
		return -1;
	}
	*docp = doc;
	*rootp = root;
	return 0;
}

/* The tree holds PKCS#12 passwords: its text is wiped before it is freed. */
static void
wipe_text(xmlNodePtr n)
{
	for (; n != NULL; n = n->next) {
		if (n->type == XML_TEXT_NODE && n->content != NULL)
			OPENSSL_cleanse(n->content, xmlStrlen(n->content));
		wipe_text(n->children);
	}
}

static void
free_plist(xmlDocPtr doc)
{
	if (doc == NULL)
		return;
	wipe_text(xmlDocGetRootElement(doc));
	xmlFreeDoc(doc);
}

/* The document as UTF-8 text, NUL-terminated, for OPENSSL_clear_free. */
static int
dump_plist(xmlDocPtr doc, char **outp, size_t *lenp)
{
	xmlChar *mem = NULL;
	int mlen = 0, r = -1;

	*outp = NULL;
	xmlDocDumpFormatMemoryEnc(doc, &mem, &mlen, "UTF-8", 1);
	if (mem != NULL && mlen > 0 &&
	    (*outp = OPENSSL_malloc((size_t)mlen + 1)) != NULL) {
		memcpy(*outp, mem, (size_t)mlen);
		(*outp)[mlen] = '\0';
		*lenp = (size_t)mlen;
		r = 0;
	}
	/* The document holds PKCS#12 passwords. */
	if (mem != NULL) {
		OPENSSL_cleanse(mem, (size_t)mlen);
		xmlFree(mem);
	}
	return r;
}

/*
 * EncryptedPayloadContent: the PayloadContent array as a plist of its own,
 * in a CMS EnvelopedData (DER) to the device certificate.
 */
static int
encrypt_payloads(xmlNodePtr top, xmlDocPtr inner, X509 *to,
    struct ca_err *err)
{
	STACK_OF(X509) *rcpt = NULL;
	CMS_ContentInfo *cms = NULL;
	BIO *in = NULL;
	unsigned char *der = NULL;
	char *xml = NULL;
	size_t xlen = 0;
	int dlen, r;

	if (dump_plist(inner, &xml, &xlen) != 0) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rcpt = sk_X509_new_null()) == NULL || !sk_X509_push(rcpt, to) ||
	    (in = BIO_new_mem_buf(xml, (int)xlen)) == NULL ||
	    (cms = CMS_encrypt(rcpt, in, EVP_aes_256_cbc(), CMS_BINARY)) ==
	    NULL || (dlen = i2d_CMS_ContentInfo(cms, &der)) <= 0) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "encrypting the payloads to "
		    "the device certificate");
		goto out;
	}
	if (plist_data(top, "EncryptedPayloadContent", der, (size_t)dlen) !=
	    0) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	r = 0;
 out:
	if (xml != NULL)
		OPENSSL_clear_free(xml, xlen);
	OPENSSL_free(der);
	BIO_free(in);
	CMS_ContentInfo_free(cms);
	sk_X509_free(rcpt);
	return r;
}

int
prof_build(const struct prof_params *p, const struct mdm_user *u,
    char **xmlp, size_t *lenp, struct ca_err *err)
{
	xmlDocPtr doc = NULL, inner = NULL;
	xmlNodePtr root, iroot, top, arr;
	const struct mdm_identity *cur = NULL;
	char (*uuids)[37] = NULL, puuid[37], suuid[37], name[300], desc[400];
	const char *sign_uuid = NULL;
	size_t i;
	int r;

	*xmlp = NULL;
	*lenp = 0;
	for (i = 0; i < u->n; i++)
		if (u->ids[i].current)
			cur = &u->ids[i];
	if (cur == NULL) {
		r = ca_err_set(err, CA_ERR_NOTFOUND, "%s has no valid "
		    "encryption certificate for the mail account to use (all "
		    "%zu are revoked or expired): issue one first", u->email,
		    u->n);
		goto out;
	}
	if ((uuids = calloc(u->n, sizeof(*uuids))) == NULL ||
	    new_plist(&doc, &root) != 0 ||
	    (top = xmlNewChild(root, NULL, BAD_CAST "dict", NULL)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* Encrypted, the payloads go into a plist of their own. */
	if (p->encrypt_to != NULL) {
		if (new_plist(&inner, &iroot) != 0 ||
		    (arr = xmlNewChild(iroot, NULL, BAD_CAST "array",
		    NULL)) == NULL) {
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
	} else if (plist_key(top, "PayloadContent") == NULL ||
	    (arr = xmlNewChild(top, NULL, BAD_CAST "array", NULL)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < u->n; i++)
		if ((r = pkcs12_payload(arr, p, u, &u->ids[i], uuids[i],
		    err)) != 0)
			goto out;
	for (i = 0; p->roots != NULL && i < (size_t)sk_X509_num(p->roots);
	    i++)
		if ((r = root_payload(arr, sk_X509_value(p->roots, (int)i),
		    err)) != 0)
			goto out;
	/*
	 * The signing identity: the device's own SCEP key, else the current
	 * certificate's when it is dual-use (a pure encryption one does not
	 * sign), else none.
	 */
	if (p->scep_url != NULL) {
		if ((r = scep_payload(arr, p, u, suuid, err)) != 0)
			goto out;
		sign_uuid = suuid;
	} else if ((X509_get_key_usage(cur->cert) & KU_DIGITAL_SIGNATURE) !=
	    0)
		sign_uuid = uuids[cur - u->ids];
	if ((r = (p->account == PROF_ACCOUNT_EAS ? eas_payload :
	    mail_payload)(arr, p, u, sign_uuid, uuids[cur - u->ids],
	    err)) != 0 ||
	    (r = mdm_uuid(puuid, err)) != 0 ||
	    (inner != NULL &&
	    (r = encrypt_payloads(top, inner, p->encrypt_to, err)) != 0))
		goto out;
	snprintf(name, sizeof(name), "S/MIME %s", u->email);
	snprintf(desc, sizeof(desc), "The S/MIME encryption identities of %s "
	    "(%zu: the current one and those that read older mail) and its "
	    "mail account settings", u->email, u->n);
	if (payload_head(top, "Configuration", puuid, "config", name) != 0 ||
	    plist_string(top, "PayloadDescription", desc) != 0 ||
	    plist_string(top, "PayloadOrganization", p->org != NULL ?
	    p->org : "smimeca") != 0 ||
	    plist_bool(top, "PayloadRemovalDisallowed", 0) != 0 ||
	    dump_plist(doc, xmlp, lenp) != 0) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	r = 0;
 out:
	free_plist(doc);
	free_plist(inner);
	free(uuids);
	return r;
}

int
prof_sign(const char *xml, size_t len, X509 *signer, EVP_PKEY *key,
    STACK_OF(X509) *chain, unsigned char **derp, size_t *lenp,
    struct ca_err *err)
{
	CMS_ContentInfo *cms = NULL;
	ASN1_OCTET_STRING **content;
	BIO *in = NULL;
	unsigned char *der = NULL;
	int dlen, r;

	*derp = NULL;
	*lenp = 0;
	if ((in = BIO_new_mem_buf(xml, (int)len)) == NULL ||
	    (cms = CMS_sign(signer, key, chain, in, CMS_BINARY)) == NULL ||
	    (dlen = i2d_CMS_ContentInfo(cms, &der)) <= 0) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "signing the profile");
		goto out;
	}
	*derp = der;
	*lenp = (size_t)dlen;
	der = NULL;
	r = 0;
 out:
	OPENSSL_free(der);
	BIO_free(in);
	/* Its attached content is the plist, passwords and all. */
	if (cms != NULL && (content = CMS_get0_content(cms)) != NULL &&
	    *content != NULL && (*content)->data != NULL)
		OPENSSL_cleanse((*content)->data, (size_t)(*content)->length);
	CMS_ContentInfo_free(cms);
	return r;
}

static char *
signer_key_path(struct ca *ca, X509 *cert)
{
	char serial[65], rel[128];

	util_serial_hex(X509_get0_serialNumber(cert), serial);
	snprintf(rel, sizeof(rel), "private/%s-%s.key", SIGNER_ROLE, serial);
	return util_path(ca_config(ca)->dir, rel);
}

static int
signer_issue(struct ca *ca, int64_t now, X509 **certp, EVP_PKEY **keyp,
    struct ca_err *err)
{
	X509 *cert = NULL, *issuer = ca_cert(ca);
	EVP_PKEY *key = NULL;
	char cn[256], serial[65], rel[128];
	int64_t ca_na = util_asn1_time_to_unix(X509_get0_notAfter(issuer));
	time_t na = (time_t)now + SIGNER_DAYS * 86400;
	int r;

	*certp = NULL;
	*keyp = NULL;
	if ((int64_t)na > ca_na)
		na = (time_t)ca_na;
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(issuer),
	    NID_commonName, cn, sizeof(cn) - 20) <= 0)
		snprintf(cn, sizeof(cn), "smimeca");
	strcat(cn, " Profile Signer");
	if ((r = ca_load_key(ca, err)) != 0 ||
	    (r = ca_keygen(CA_KEY_RSA2048, &key, err)) != 0 ||
	    (r = ca_new_cert(ca, cn, key, (time_t)now - 300, na, &cert,
	    err)) != 0 ||
	    (r = ca_add_service_exts(cert, issuer, "digitalSignature",
	    "emailProtection", err)) != 0)
		goto out;
	if (X509_sign(cert, ca_key(ca), ca_digest(ca)) <= 0) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "signing the "
		    "profile-signing certificate");
		goto out;
	}
	util_serial_hex(X509_get0_serialNumber(cert), serial);
	snprintf(rel, sizeof(rel), "private/%s-%s.key", SIGNER_ROLE, serial);
	if ((r = ca_store_held(ca, SIGNER_ROLE, cert, key, rel,
	    "profile-signer-issue", "purpose=configuration profiles",
	    err)) != 0)
		goto out;
	*certp = cert;
	*keyp = key;
	cert = NULL;
	key = NULL;
	r = 0;
 out:
	EVP_PKEY_free(key);
	X509_free(cert);
	return r;
}

int
prof_signer(struct ca *ca, int64_t now, X509 **certp, EVP_PKEY **keyp,
    struct ca_err *err)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t len = 0;
	int64_t id;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	char *path = NULL;
	int r;

	*certp = NULL;
	*keyp = NULL;
	r = db_ca_cert_current(ca_db(ca), SIGNER_ROLE, &id, &der, &len, err);
	if (r == CA_ERR_NOTFOUND) {
		ca_err_clear(err);
		return signer_issue(ca, now, certp, keyp, err);
	}
	if (r != 0)
		return r;
	p = der;
	cert = d2i_X509(NULL, &p, (long)len);
	free(der);
	if (cert == NULL || util_asn1_time_to_unix(X509_get0_notAfter(cert)) -
	    now < SIGNER_MARGIN) {
		X509_free(cert);
		return signer_issue(ca, now, certp, keyp, err);
	}
	if ((path = signer_key_path(ca, cert)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = ca_read_held_key(ca, path, &key, err)) != 0)
		goto out;
	*certp = cert;
	*keyp = key;
	cert = NULL;
	key = NULL;
	r = 0;
 out:
	free(path);
	X509_free(cert);
	EVP_PKEY_free(key);
	return r;
}
