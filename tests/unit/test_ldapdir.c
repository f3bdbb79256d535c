/* Unit tests for the <ldap> configuration and the directory helpers. */
#include "ac-config.h"

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ca/config.h"
#include "ca/err.h"
#include "ca/issue.h"
#include "ca/ldapdir.h"
#include "ca/util.h"
#include "tests/unit/tap.h"

static char tmpdir[] = "/tmp/test_ldapdir.XXXXXX";

static const char conf_head[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<smimeca-config version=\"1\">\n"
    "  <ca name=\"Test CA\">\n"
    "    <certificate>ca.crt</certificate>\n"
    "    <key>private/ca.key</key>\n"
    "    <chain>chain.pem</chain>\n"
    "  </ca>\n"
    "  <database>smimeca.db</database>\n"
    "  <templates>templates</templates>\n"
    "  <crl validity-days=\"7\"/>\n";

static void write_conf(const char *);
static int load(const char *, struct ca_config **, struct ca_err *);
static void test_filter(void);
static void test_entry(void);
static void test_config(void);
static void test_add_ldap(void);

static void
write_conf(const char *ldap)
{
	char *p = tap_path(tmpdir, CFG_FILE);
	FILE *f;

	if ((f = fopen(p, "w")) == NULL) {
		perror(p);
		exit(1);
	}
	fprintf(f, "%s%s</smimeca-config>\n", conf_head, ldap);
	fclose(f);
	free(p);
}

static int
load(const char *ldap, struct ca_config **cfgp, struct ca_err *err)
{
	ca_err_clear(err);
	write_conf(ldap);
	return cfg_load(tmpdir, cfgp, err);
}

static void
test_filter(void)
{
	char *f;

	f = dir_filter("(mail=%s)", "alice@lab.example");
	TAP_STR_EQ(f, "(mail=alice@lab.example)", "a plain value");
	free(f);
	f = dir_filter("(mail=%s)", "a*b(c)\\d");
	TAP_STR_EQ(f, "(mail=a\\2Ab\\28c\\29\\5Cd)",
	    "*, (, ) and \\ escaped as RFC 4515 says");
	free(f);
	f = dir_filter("(|(mail=%s)(uid=%s))", "x)(uid=*");
	TAP_STR_EQ(f, "(|(mail=x\\29\\28uid=\\2A)(uid=x\\29\\28uid=\\2A))",
	    "every %%s replaced; an injection stays a value");
	free(f);
	f = dir_filter("(cn=%s)", "J\xc3\xbcrgen");
	/* libldap escapes every octet above 0x7f, as RFC 4515 allows. */
	TAP_STR_EQ(f, "(cn=J\\C3\\BCrgen)", "UTF-8 escaped octet by octet");
	free(f);
	f = dir_filter("(mail=%s)", "");
	TAP_STR_EQ(f, "(mail=)", "an empty value");
	free(f);
}

static void
test_entry(void)
{
	struct dir_entry e;
	struct dir_attr attrs[3];
	struct dir_value mail = { (unsigned char *)"Alice@Lab.Example", 17 };
	struct dir_value ou[2] = {
		{ (unsigned char *)"Research", 8 },
		{ (unsigned char *)"Labs", 4 },
	};
	unsigned char bin[] = { 0x30, 0x00, 0x01, 0x00 };
	struct dir_value cert = { bin, 3 };
	struct iss_account acct;

	memset(&e, 0, sizeof(e));
	attrs[0].name = "mail";
	attrs[0].values = &mail;
	attrs[0].nvalues = 1;
	attrs[1].name = "OU";
	attrs[1].values = ou;
	attrs[1].nvalues = 2;
	attrs[2].name = "userCertificate;binary";
	attrs[2].values = &cert;
	attrs[2].nvalues = 1;
	e.dn = "uid=alice,ou=people,dc=lab,dc=example";
	e.mail = "alice@lab.example";
	e.attrs = attrs;
	e.nattrs = 3;
	TAP_STR_EQ(dir_entry_get(&e, "ou"), "Research",
	    "attribute names compare without case; the first value");
	TAP_STR_EQ(dir_entry_lookup(&e, "mail"), "alice@lab.example",
	    "{dir:mail} is the lower-cased mail");
	TAP_STR_EQ(dir_entry_get(&e, "mail"), "Alice@Lab.Example",
	    "dir_entry_get returns the value as stored");
	TAP_OK(dir_entry_get(&e, "userCertificate") == NULL,
	    "a binary value is no text");
	TAP_OK(dir_entry_attr(&e, "usercertificate") == &attrs[2],
	    "options are ignored when finding an attribute");
	TAP_OK(dir_entry_lookup(&e, "title") == NULL,
	    "a missing attribute is NULL");
	e.cn = "Alice Example";
	dir_account(&e, "alice", &acct);
	TAP_OK(acct.id != NULL && strcmp(acct.id, "alice") == 0 &&
	    acct.mail == e.mail && acct.cn == e.cn,
	    "dir_account: id, mail and cn from the entry");
	TAP_OK(acct.lookup != NULL &&
	    strcmp(acct.lookup(acct.lookup_ctx, "ou"), "Research") == 0,
	    "dir_account: {dir:ATTR} through the entry");
}

static void
test_config(void)
{
	struct ca_config *cfg = NULL;
	struct ca_err err;
	char *want;

	TAP_INT_EQ(load("", &cfg, &err), 0, "a configuration without <ldap>");
	TAP_OK(cfg != NULL && cfg->ldap == NULL, "means no directory");
	cfg_free(cfg);
	cfg = NULL;

	TAP_INT_EQ(load("  <ldap>\n"
	    "    <server uri=\"ldap://127.0.0.1:3389/\"/>\n"
	    "    <users base=\"ou=people,dc=lab,dc=example\"/>\n"
	    "  </ldap>\n", &cfg, &err), 0, "a minimal <ldap>: %s", err.msg);
	if (cfg != NULL && cfg->ldap != NULL) {
		const struct cfg_ldap *l = cfg->ldap;

		TAP_STR_EQ(l->uri, "ldap://127.0.0.1:3389/", "uri");
		TAP_STR_EQ(l->user_filter, "(mail=%s)", "default filter");
		TAP_STR_EQ(l->login_filter, "(|(mail=%s)(uid=%s))",
		    "default login filter");
		TAP_STR_EQ(l->cert_attr, "userCertificate;binary",
		    "default certificate attribute");
		TAP_OK(l->smime_attr == NULL, "no userSMIMECertificate");
		TAP_OK(l->bind_dn == NULL && l->bind_password_file == NULL,
		    "anonymous without <bind>");
		TAP_OK(l->ca_dn == NULL, "no CA entry");
		TAP_INT_EQ(l->accounts, 1, "accounts default to yes");
		TAP_INT_EQ(l->starttls, 0, "no StartTLS");
		TAP_INT_EQ(l->timeout, 10, "timeout 10 s");
		TAP_INT_EQ(l->retry_min, 30, "retry from 30 s");
		TAP_INT_EQ(l->retry_max, 3600, "up to an hour");
	} else
		TAP_OK(0, "the <ldap> section was read");
	cfg_free(cfg);
	cfg = NULL;

	TAP_INT_EQ(load("  <ldap>\n"
	    "    <retry max-seconds=\"60\" initial-seconds=\"5\"/>\n"
	    "    <attributes certificate=\"userCertificate\" "
	    "smime=\"userSMIMECertificate\"/>\n"
	    "    <ca-entry dn=\"cn=Test CA,dc=lab,dc=example\"/>\n"
	    "    <users base=\"dc=ad,dc=example\" filter=\"(&amp;"
	    "(objectClass=user)(mail=%s))\" accounts=\"no\"/>\n"
	    "    <bind dn=\"cn=svc,dc=ad,dc=example\" "
	    "password-file=\"ldap/bind.pass\"/>\n"
	    "    <server uri=\"ldaps://dc.ad.example\" timeout-seconds=\"3\" "
	    "tls-ca-file=\"/etc/ssl/ad-ca.pem\"/>\n"
	    "  </ldap>\n", &cfg, &err), 0,
	    "every <ldap> setting, in any order: %s", err.msg);
	if (cfg != NULL && cfg->ldap != NULL) {
		const struct cfg_ldap *l = cfg->ldap;

		TAP_STR_EQ(l->cert_attr, "userCertificate", "AD attribute");
		TAP_STR_EQ(l->smime_attr, "userSMIMECertificate",
		    "userSMIMECertificate as well");
		TAP_STR_EQ(l->user_filter, "(&(objectClass=user)(mail=%s))",
		    "a filter of one's own");
		TAP_INT_EQ(l->accounts, 0, "accounts=\"no\"");
		TAP_STR_EQ(l->ca_dn, "cn=Test CA,dc=lab,dc=example",
		    "CA entry");
		want = tap_path(cfg->dir, "ldap/bind.pass");
		TAP_STR_EQ(l->bind_password_file, want,
		    "the password file is taken relative to the CA directory");
		free(want);
		TAP_STR_EQ(l->tls_ca_file, "/etc/ssl/ad-ca.pem",
		    "an absolute tls-ca-file stays");
		TAP_INT_EQ(l->timeout, 3, "timeout-seconds");
		TAP_INT_EQ(l->retry_min, 5, "initial-seconds");
		TAP_INT_EQ(l->retry_max, 60, "max-seconds");
	} else
		TAP_OK(0, "the full <ldap> section was read");
	cfg_free(cfg);
	cfg = NULL;

	TAP_OK(load("  <ldap>\n"
	    "    <server uri=\"ldap://x\"/>\n"
	    "    <users base=\"dc=x\" filter=\"(mail=%d)\"/>\n"
	    "  </ldap>\n", &cfg, &err) == CA_ERR_CONFIG,
	    "a filter without %%s is refused");
	cfg_free(cfg);
	cfg = NULL;
	TAP_OK(load("  <ldap>\n"
	    "    <server uri=\"ldap://x\"/>\n"
	    "    <users base=\"dc=x\" filter=\"(mail=%s)(%x)\"/>\n"
	    "  </ldap>\n", &cfg, &err) == CA_ERR_CONFIG,
	    "a filter with another %% directive is refused");
	TAP_OK(strstr(err.msg, "%s where the address") != NULL,
	    "and the message says how to write one: %s", err.msg);
	cfg_free(cfg);
	cfg = NULL;
	TAP_OK(load("  <ldap>\n"
	    "    <server uri=\"http://x\"/>\n"
	    "    <users base=\"dc=x\"/>\n"
	    "  </ldap>\n", &cfg, &err) == CA_ERR_CONFIG,
	    "an http:// URI is refused");
	cfg_free(cfg);
	cfg = NULL;
	TAP_OK(load("  <ldap>\n"
	    "    <server uri=\"ldaps://x\" starttls=\"yes\"/>\n"
	    "    <users base=\"dc=x\"/>\n"
	    "  </ldap>\n", &cfg, &err) == CA_ERR_CONFIG,
	    "StartTLS on ldaps:// is refused");
	cfg_free(cfg);
	cfg = NULL;
	TAP_OK(load("  <ldap>\n"
	    "    <server uri=\"ldap://x\"/>\n"
	    "  </ldap>\n", &cfg, &err) == CA_ERR_CONFIG,
	    "<users> is required");
	cfg_free(cfg);
	cfg = NULL;
	TAP_OK(load("  <ldap>\n"
	    "    <server uri=\"ldap://x\"/>\n"
	    "    <users base=\"dc=x\"/>\n"
	    "    <retry initial-seconds=\"100\" max-seconds=\"10\"/>\n"
	    "  </ldap>\n", &cfg, &err) == CA_ERR_CONFIG,
	    "max-seconds below initial-seconds is refused");
	cfg_free(cfg);
}

static void
test_add_ldap(void)
{
	struct ca_config *cfg = NULL;
	struct cfg_ldap l;
	struct ca_err err;
	char *path = tap_path(tmpdir, CFG_FILE);

	write_conf("");
	memset(&l, 0, sizeof(l));
	l.uri = "ldap://127.0.0.1:3389/";
	l.bind_dn = "cn=admin,dc=lab,dc=example";
	l.bind_password_file = "ldap/admin.pass";
	l.user_base = "ou=people,dc=lab,dc=example";
	l.accounts = 1;
	l.ca_dn = "cn=Test & \"CA\",dc=lab,dc=example";
	l.retry_min = 10;
	l.retry_max = 600;
	ca_err_clear(&err);
	TAP_INT_EQ(cfg_add_ldap(path, &l, &err), 0, "cfg_add_ldap: %s",
	    err.msg);
	ca_err_clear(&err);
	TAP_INT_EQ(cfg_load(tmpdir, &cfg, &err), 0, "the result loads");
	TAP_OK(cfg != NULL && cfg->ldap != NULL &&
	    strcmp(cfg->ldap->ca_dn, l.ca_dn) == 0,
	    "and holds the section, XML-escaped values intact");
	cfg_free(cfg);
	ca_err_clear(&err);
	TAP_INT_EQ(cfg_add_ldap(path, &l, &err), CA_ERR_EXISTS,
	    "a second <ldap> is refused");
	free(path);
}

int
main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_filter();
	test_entry();
	test_config();
	test_add_ldap();
	tap_rmtree(tmpdir);
	return tap_done();
}
