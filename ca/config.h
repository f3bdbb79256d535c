/* The CA directory's configuration file (smimeca.conf, XML). */
#ifndef CA_CONFIG_H
#define CA_CONFIG_H

#include <stddef.h>

struct ca_err;

#define CFG_FILE	"smimeca.conf"

struct ca_config {
	char *dir;		/* absolute CA directory */
	char *path;		/* the configuration file */
	char *name;		/* CA common name */
	char *key_file;		/* issuing CA key, absolute */
	char *cert_file;	/* issuing CA certificate, absolute */
	char *chain_file;	/* issuing CA .. root, PEM, absolute */
	char *db_file;		/* SQLite database, absolute */
	char *template_dir;	/* template directory, absolute */
	char *passphrase_file;	/* optional: file holding the key passphrase */
	char *digest;		/* signature digest name, "sha256" */
	int crl_days;		/* CRL nextUpdate - thisUpdate, days */
	char **cdp_urls;	/* CRL distribution point URLs */
	size_t ncdp;
	char **aia_issuer_urls;	/* AIA caIssuers URLs */
	size_t naia_issuer;
	char **aia_ocsp_urls;	/* AIA OCSP URLs */
	size_t naia_ocsp;
	/* <escrow kra-count="n" quorum="m"/>: defaults 1 and 1 */
	int escrow_n;		/* KRAs each escrowed key is wrapped to */
	int escrow_m;		/* KRAs needed to recover (1 = any one) */
	/* <exchange validity-days="7" renew-margin-hours="24" key="rsa:2048"/> */
	int xchg_days;
	int xchg_margin_hours;
	char *xchg_key;		/* key spec of new exchange keys */
	/*
	 * <ocsp signer="delegated" key="rsa:2048" validity-hours="24"
	 * responder-days="7"/>: the OCSP responder (ca/ocsp.c).
	 */
	int ocsp_signer_ca;	/* the CA key signs, not a delegated one */
	char *ocsp_key;		/* key spec of new responder keys */
	int ocsp_hours;		/* nextUpdate - thisUpdate of a response */
	int ocsp_responder_days;	/* validity of a responder certificate */
	struct cfg_ldap *ldap;	/* <ldap>; NULL: no directory */
	/* lifecycle: <expiry hook="PATH" within-days="30"/> */
	char *expiry_hook;	/* absolute; NULL: none configured */
	int expiry_days;	/* the window of `smimeca expiry run` */
	/* <daemon>: smimecad(8) */
	struct cfg_daemon {
		int threads;		/* 0 = one per core */
		int est_over_http;	/* EST also on the plain listener */
		char *est_template;	/* EST URLs without a template label */
		char *https_addr;	/* "127.0.0.1" */
		int https_port;		/* 8443 */
		char *http_addr;	/* NULL: no plain-HTTP listener */
		int http_port;		/* 8080 */
		char **tls_names;	/* DNS names of the TLS certificate */
		size_t ntls_names;
		char **tls_addrs;	/* IP addresses of the TLS certificate */
		size_t ntls_addrs;
		int body_max;		/* largest request body, bytes */
		int header_max;		/* request line + headers, bytes */
		int timeout;		/* idle connection timeout, seconds */
		int per_client;		/* concurrent connections per address */
		int max_conns;		/* concurrent connections in all */
	} daemon;
	/* <scep template="..." legacy="no" ra-validity-days="365"/> */
	struct cfg_scep {
		char *template;		/* /scep without a template */
		int legacy;		/* DES, DES3, SHA-1 accepted */
		int ra_days;		/* RA certificate validity */
		int ra_margin_days;	/* a new one when less is left */
	} scep;
};

/* <ldap>: the directory certificates are published to (smimeca.conf(5)). */
struct cfg_ldap {
	char *uri;		/* ldap://HOST:PORT or ldaps://HOST:PORT */
	int starttls;		/* StartTLS on an ldap:// URI */
	int timeout;		/* seconds for connect and each operation */
	char *tls_ca_file;	/* absolute; NULL: the system's trust store */
	char *bind_dn;		/* NULL: anonymous (lookups only) */
	char *bind_password_file;	/* absolute; its first line */
	char *user_base;	/* where user entries are searched */
	char *user_filter;	/* by mail, each %s the escaped address */
	char *login_filter;	/* by mail or uid, for dir_authenticate */
	int accounts;		/* smimecad authenticates users here */
	int page_size;		/* entries per page of a paged search */
	char *cert_attr;	/* "userCertificate;binary" (AD: no option) */
	char *smime_attr;	/* "userSMIMECertificate", or NULL */
	char *ca_dn;		/* entry of cACertificate and CRL, or NULL */
	int retry_min;		/* first retry delay, seconds */
	int retry_max;		/* longest retry delay, seconds */
};

/* What `init` writes into a fresh configuration. */
struct cfg_init {
	const char *name;		/* CA common name */
	const char *passphrase_file;	/* NULL when the key is not encrypted */
	const char *base_url;		/* e.g. "http://127.0.0.1:8080" */
	int crl_days;
	int escrow_n;			/* <escrow kra-count>, 0 = 1 */
	int escrow_m;			/* <escrow quorum>, 0 = 1 */
};

/*
 * Resolves the data directory holding schemas and stock templates:
 * $SMIMECA_DATADIR, else the installed pkgdatadir, else the source tree's etc/.
 */
const char *cfg_datadir(void);
/* Path of a schema in the data directory ("config.rng", "template.rng"). */
char *cfg_schema_path(const char *name);

/* Loads DIR/smimeca.conf, validates it against config.rng, resolves paths. */
int cfg_load(const char *dir, struct ca_config **cfgp, struct ca_err *err);
void cfg_free(struct ca_config *cfg);
void cfg_ldap_free(struct cfg_ldap *l);

/* Writing, in ca/cfgwrite.c. */
/* Writes a commented default configuration to path (refuses to overwrite). */
int cfg_write_default(const char *path, const struct cfg_init *ci,
    struct ca_err *err);

/*
 * Adds an <ldap> section (what `init --lab` sets up) to the configuration
 * at path, which must not have one yet; paths in l may be relative to the
 * CA directory. The file is validated afterwards and left as it was when
 * the result does not load.
 */
int cfg_add_ldap(const char *path, const struct cfg_ldap *l,
    struct ca_err *err);

#endif
