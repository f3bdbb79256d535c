/* Certificate templates: XML files that express issuance policy. */
#ifndef CA_TEMPLATE_H
#define CA_TEMPLATE_H

#include <regex.h>
#include <stddef.h>

struct ca_err;

enum tpl_purpose {
	TPL_PURPOSE_SMIME_ENCRYPTION,
	TPL_PURPOSE_SMIME_SIGNATURE,
	TPL_PURPOSE_SMIME_DUAL,
	TPL_PURPOSE_DEVICE,
	TPL_PURPOSE_KRA,
};

enum tpl_archival {
	TPL_ARCHIVAL_FORBIDDEN,
	TPL_ARCHIVAL_OPTIONAL,
	TPL_ARCHIVAL_REQUIRED,
};

/* What happens when a subject already holds max_active certificates. */
enum tpl_on_limit {
	TPL_LIMIT_REFUSE,		/* refuse the new request */
	TPL_LIMIT_SUPERSEDE,		/* revoke the oldest (reason superseded) */
};

/* Enrollment protocols a template may be used through (bit set). */
#define TPL_PROTO_CLI	0x01
#define TPL_PROTO_EST	0x02
#define TPL_PROTO_SCEP	0x04
#define TPL_PROTO_CMC	0x08

/* Key usage bits, same values as OpenSSL's KU_* in x509v3.h. */
#define TPL_KU_DIGITAL_SIGNATURE	0x0080
#define TPL_KU_NON_REPUDIATION		0x0040
#define TPL_KU_KEY_ENCIPHERMENT		0x0020
#define TPL_KU_DATA_ENCIPHERMENT	0x0010
#define TPL_KU_KEY_AGREEMENT		0x0008

struct tpl_keyalg {
	int type;		/* EVP_PKEY_RSA or EVP_PKEY_EC */
	int min_bits;		/* RSA: smallest modulus */
	int max_bits;		/* RSA: largest modulus */
	int curve_nid;		/* EC: NID of the curve */
};

/* Where a subject attribute's value comes from. */
enum tpl_source {
	TPL_SRC_REQUEST,	/* the CSR's value, checked against match */
	TPL_SRC_VALUE,		/* a fixed value or a {dir:ATTR} expansion */
};

struct tpl_rdn {
	char *type;		/* "CN", "emailAddress", "O", "OU", ... */
	enum tpl_source source;
	char *value;		/* TPL_SRC_VALUE: e.g. "{dir:mail}", "Lab" */
	char *match;		/* TPL_SRC_REQUEST: POSIX ERE, NULL = any */
	regex_t re;		/* compiled match (when match != NULL) */
	int required;		/* missing value refuses the request */
	int lower;		/* lower-case the value */
};

struct tpl {
	char *name;
	char *file;		/* path it was loaded from */
	char *description;
	enum tpl_purpose purpose;
	int validity_days;
	unsigned key_usage;	/* TPL_KU_* bits */
	int key_usage_critical;
	char **eku;		/* dotted OIDs, e.g. "1.3.6.1.5.5.7.3.4" */
	size_t neku;
	struct tpl_keyalg *algs;
	size_t nalgs;
	enum tpl_archival archival;
	unsigned protocols;	/* TPL_PROTO_* */
	struct tpl_rdn *rdns;	/* subject, in order */
	size_t nrdns;
	char *san_email;	/* rfc822Name value, e.g. "{dir:mail}", or NULL */
	int max_active;		/* per subject; 0 = unlimited */
	enum tpl_on_limit on_limit;
	int include_cdp;	/* CRL distribution points from the configuration */
	int include_aia;	/* AIA from the configuration */
	/* SCEP: <approval>manual</approval>, <scep-challenge>. */
	int approval_manual;	/* requests wait for smimeca request approve */
	char *scep_challenge;	/* static challenge (lab), or NULL */
	char sha256[65];	/* hash of the file's bytes */
	char *body;		/* the file's bytes (recorded in the database) */
	size_t bodylen;
};

/* Loads and validates one template file against template.rng. */
int tpl_load_file(const char *path, struct tpl **tp, struct ca_err *err);
/* Loads DIR/NAME.xml; the name inside must match NAME. */
int tpl_load(const char *dir, const char *name, struct tpl **tp,
    struct ca_err *err);
/* Loads every *.xml in dir, sorted by name. */
int tpl_load_all(const char *dir, struct tpl ***tpsp, size_t *np,
    struct ca_err *err);
void tpl_free(struct tpl *t);
void tpl_free_all(struct tpl **tps, size_t n);

const char *tpl_purpose_name(enum tpl_purpose p);
const char *tpl_archival_name(enum tpl_archival a);
/* Comma-separated protocol names into buf. */
void tpl_protocols_str(unsigned protocols, char *buf, size_t len);

/* {dir:ATTR} references, in ca/tplref.c. */
/* Whether every "{dir:" in s starts a well-formed reference. */
int tpl_refs_ok(const char *s);
/*
 * Expands "{dir:ATTR}" references in s with lookup(attr) (NULL = missing).
 * A missing attribute fails with CA_ERR_POLICY naming it.
 */
typedef const char *(*tpl_lookup_fn)(void *ctx, const char *attr);
int tpl_expand(const char *s, tpl_lookup_fn lookup, void *ctx, char **outp,
    struct ca_err *err);

#endif
