/* The lab directory: a private slapd under the CA directory (init --lab). */
#include "ac-config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <ldap.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ca/config.h"
#include "ca/err.h"
#include "ca/labdir.h"
#include "ca/util.h"

#define LABDIR_PASSLEN	20
#define LABDIR_WAIT	100	/* tenths of a second to wait for slapd */

/* The sample users of the lab directory. */
static const struct {
	const char *uid, *cn, *given, *sn, *title, *ou, *employee;
} lab_users[] = {
	{ "alice", "Alice Example", "Alice", "Example", "Chief Scientist",
	    "Research", "1001" },
	{ "bob", "Bob Example", "Bob", "Example", "Account Manager",
	    "Sales", "1002" },
	{ "carol", "Carol Example", "Carol", "Example", "Site Reliability "
	    "Engineer", "Operations", "1003" },
};

static int find_prog(const char *, const char *, char *, size_t);
static int random_password(char *, size_t, struct ca_err *);
static int ssha(const char *, char *, size_t, struct ca_err *);
static void ldif_attr(FILE *, const char *, const unsigned char *, size_t);
static void dn_escape(FILE *, const char *);
static const char *schema_dir(void);
static int write_private(const char *, const char *, const char *,
    struct ca_err *);
static int run_prog(char *const *, const char *, int *, struct ca_err *);
static char *lab_path(const struct ca_config *, const char *);
static int uri_port(const char *, char *, size_t, char *, size_t);
static int port_open(const char *, const char *);
static int alive(pid_t);

/* $ENV, /usr/sbin/NAME or NAME on $PATH: 0 and out set when found. */
static int
find_prog(const char *env, const char *name, char *out, size_t len)
{
	const char *e = getenv(env), *path = getenv("PATH"), *p, *c;
	char cand[1024];

	if (e != NULL && *e != '\0') {
		snprintf(out, len, "%s", e);
		return access(out, X_OK) == 0 ? 0 : -1;
	}
	snprintf(cand, sizeof(cand), "/usr/sbin/%s", name);
	if (access(cand, X_OK) == 0) {
		snprintf(out, len, "%s", cand);
		return 0;
	}
	for (p = path != NULL ? path : ""; *p != '\0'; p = *c ? c + 1 : c) {
		c = strchr(p, ':');
		if (c == NULL)
			c = p + strlen(p);
		snprintf(cand, sizeof(cand), "%.*s/%s", (int)(c - p), p, name);
		if (c > p && access(cand, X_OK) == 0) {
			snprintf(out, len, "%s", cand);
			return 0;
		}
	}
	return -1;
}

int
labdir_available(const char **whatp)
{
	char buf[1024];

	*whatp = NULL;
	if (find_prog("SLAPD", "slapd", buf, sizeof(buf)) != 0)
		*whatp = "slapd";
	else if (find_prog("SLAPADD", "slapadd", buf, sizeof(buf)) != 0)
		*whatp = "slapadd";
	else if (schema_dir() == NULL)
		*whatp = "the OpenLDAP schema files (core.schema)";
	return *whatp == NULL;
}

/* Letters and digits without look-alikes (0/O, 1/l/I). */
static int
random_password(char *out, size_t n, struct ca_err *err)
{
	static const char set[] = "abcdefghijkmnopqrstuvwxyz"
	    "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	unsigned char b;
	size_t i = 0;

	while (i < n) {
		if (RAND_bytes(&b, 1) != 1)
			return ca_err_ssl(err, CA_ERR_CRYPTO,
			    "no random bytes");
		/* 224 = 7 * 32: no modulo bias. */
		if (b < 224)
			out[i++] = set[b % (sizeof(set) - 1)];
	}
	out[n] = '\0';
	OPENSSL_cleanse(&b, sizeof(b));
	return 0;
}

/* "{SSHA}" base64(SHA-1(password || salt) || salt), as slappasswd writes. */
static int
ssha(const char *pw, char *out, size_t len, struct ca_err *err)
{
	unsigned char buf[20 + 8], b64[64];
	unsigned int mdlen = 20;
	EVP_MD_CTX *md = NULL;
	int r = CA_ERR_CRYPTO;

	if (RAND_bytes(buf + 20, 8) != 1 ||
	    (md = EVP_MD_CTX_new()) == NULL ||
	    !EVP_DigestInit_ex(md, EVP_sha1(), NULL) ||
	    !EVP_DigestUpdate(md, pw, strlen(pw)) ||
	    !EVP_DigestUpdate(md, buf + 20, 8) ||
	    !EVP_DigestFinal_ex(md, buf, &mdlen)) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "hashing a lab password");
		goto out;
	}
	EVP_EncodeBlock(b64, buf, sizeof(buf));
	snprintf(out, len, "{SSHA}%s", b64);
	r = 0;
 out:
	EVP_MD_CTX_free(md);
	return r;
}

/* An LDIF line: plain when RFC 2849 SAFE-STRING, else base64, folded. */
static void
ldif_attr(FILE *f, const char *attr, const unsigned char *v, size_t len)
{
	unsigned char *b64;
	size_t i, safe = len > 0 && v[0] != ' ' && v[0] != ':' &&
	    v[0] != '<' && v[len - 1] != ' ';
	int col;

	for (i = 0; safe && i < len; i++)
		if (v[i] == 0 || v[i] == '\n' || v[i] == '\r' || v[i] > 0x7f)
			safe = 0;
	if (safe) {
		fprintf(f, "%s: %.*s\n", attr, (int)len, (const char *)v);
		return;
	}
	if ((b64 = malloc(4 * ((len + 2) / 3) + 1)) == NULL) {
		fputs("\n", f);		/* makes the write fail below */
		return;
	}
	EVP_EncodeBlock(b64, v, (int)len);
	fprintf(f, "%s::", attr);
	col = (int)strlen(attr) + 2;
	for (i = 0; b64[i] != '\0'; i++) {
		if (col >= 76) {
			fputs("\n", f);
			col = 0;
		}
		if (col == 0 || i == 0) {
			fputc(' ', f);
			col++;
		}
		fputc(b64[i], f);
		col++;
	}
	fputs("\n", f);
	free(b64);
}

/* An RDN value escaped as RFC 4514 says. */
static void
dn_escape(FILE *f, const char *s)
{
	size_t i, len = strlen(s);

	for (i = 0; i < len; i++) {
		if (strchr(",+\"\\<>;=", s[i]) != NULL ||
		    (i == 0 && (s[i] == '#' || s[i] == ' ')) ||
		    (i == len - 1 && s[i] == ' '))
			fputc('\\', f);
		fputc(s[i], f);
	}
}

static const char *
schema_dir(void)
{
	static const char *const dirs[] = {
		"/etc/ldap/schema", "/etc/openldap/schema",
		"/usr/local/etc/openldap/schema",
	};
	char p[256];
	size_t i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(p, sizeof(p), "%s/inetorgperson.schema", dirs[i]);
		if (access(p, R_OK) == 0)
			return dirs[i];
	}
	return NULL;
}

static char *
lab_path(const struct ca_config *cfg, const char *name)
{
	char *d, *p;

	if ((d = util_path(cfg->dir, LABDIR_DIR)) == NULL)
		return NULL;
	p = name != NULL ? util_path(d, name) : strdup(d);
	free(d);
	return p;
}

/* Writes text to dir/name with mode 0600. */
static int
write_private(const char *dir, const char *name, const char *text,
    struct ca_err *err)
{
	char *p;
	int r;

	if ((p = util_path(dir, name)) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	r = util_write_file(p, text, strlen(text), 0600, err);
	free(p);
	return r;
}

/* Runs argv[0] with output to log; *statusp its exit status. */
static int
run_prog(char *const *argv, const char *log, int *statusp,
    struct ca_err *err)
{
	pid_t pid;
	int fd, st;

	*statusp = -1;
	fflush(NULL);
	if ((pid = fork()) == -1)
		return ca_err_set(err, CA_ERR_IO, "fork: %s", strerror(errno));
	if (pid == 0) {
		if ((fd = open("/dev/null", O_RDONLY)) != -1) {
			dup2(fd, 0);
			close(fd);
		}
		if ((fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600)) !=
		    -1) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return ca_err_set(err, CA_ERR_IO, "waitpid: %s",
			    strerror(errno));
	*statusp = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return 0;
}

int
labdir_create(const struct ca_config *cfg, int port,
    const unsigned char *ca_cert_der, size_t ca_cert_len,
    struct ca_err *err)
{
	struct cfg_ldap l;
	const char *schemas = schema_dir(), *missing;
	char slapadd[1024], adminpw[LABDIR_PASSLEN + 1];
	char userpw[LABDIR_PASSLEN + 1], hash[128], uri[64];
	char *dir = NULL, *data = NULL, *conf = NULL, *ldif = NULL, *log = NULL;
	char *cabuf = NULL, *cadn = NULL, *text = NULL, *users = NULL;
	size_t len = 0, ulen = 0, calen = 0, cadnlen = 0, i;
	FILE *f = NULL, *uf = NULL, *cf = NULL;
	char *argv[6];
	int r, st;

	memset(&l, 0, sizeof(l));
	if (!labdir_available(&missing)) {
		r = ca_err_set(err, CA_ERR_NOTFOUND, "no lab directory: %s is "
		    "not installed (on Debian: apt-get install slapd "
		    "ldap-utils)", missing);
		goto out;
	}
	if (port < 1 || port > 65535) {
		r = ca_err_set(err, CA_ERR_INVALID, "lab directory port %d: "
		    "give 1 to 65535", port);
		goto out;
	}
	if ((dir = lab_path(cfg, NULL)) == NULL ||
	    (data = lab_path(cfg, "data")) == NULL ||
	    (conf = lab_path(cfg, "slapd.conf")) == NULL ||
	    (ldif = lab_path(cfg, "base.ldif")) == NULL ||
	    (log = lab_path(cfg, "slapd.log")) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (mkdir(dir, 0700) == -1 || mkdir(data, 0700) == -1) {
		r = ca_err_set(err, errno == EEXIST ? CA_ERR_EXISTS :
		    CA_ERR_IO, "%s: %s", dir, strerror(errno));
		goto out;
	}
	if ((r = random_password(adminpw, LABDIR_PASSLEN, err)) != 0 ||
	    (r = ssha(adminpw, hash, sizeof(hash), err)) != 0)
		goto out;

	/* slapd.conf: no system slapd, no cn=config, nothing outside dir. */
	if ((f = open_memstream(&text, &len)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	fprintf(f, "# The lab directory of the smimeca CA in %s, written by\n"
	    "# smimeca init --lab. Start and stop it with\n"
	    "#   smimeca -d %s lab slapd start|stop\n"
	    "# The rootdn password is in admin.pass, the users' in "
	    "users.txt.\n"
	    "include %s/core.schema\n"
	    "include %s/cosine.schema\n"
	    "include %s/inetorgperson.schema\n"
	    "# mailNickname, the Exchange alias of Active Directory (its\n"
	    "# OIDs), so that the AD layout's checks can be tried here.\n"
	    "attributetype ( 1.2.840.113556.1.2.447 NAME 'mailNickname'\n"
	    "  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch\n"
	    "  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )\n"
	    "objectclass ( 1.2.840.113556.1.3.46 NAME 'mailRecipient'\n"
	    "  SUP top AUXILIARY MAY mailNickname )\n"
	    "pidfile \"%s/slapd.pid\"\n"
	    "argsfile \"%s/slapd.args\"\n",
	    cfg->dir, cfg->dir, schemas, schemas, schemas, dir, dir);
	if (access("/usr/lib/ldap/back_mdb.la", R_OK) == 0 ||
	    access("/usr/lib/ldap/back_mdb.so", R_OK) == 0)
		fputs("modulepath /usr/lib/ldap\nmoduleload back_mdb\n", f);
	fprintf(f, "database mdb\n"
	    "maxsize 104857600\n"
	    "suffix \"" LABDIR_SUFFIX "\"\n"
	    "rootdn \"cn=admin," LABDIR_SUFFIX "\"\n"
	    "rootpw %s\n"
	    "directory \"%s\"\n"
	    "index objectClass,mail,uid eq\n"
	    "access to attrs=userPassword by self auth by anonymous auth "
	    "by * none\n"
	    "access to * by * read\n", hash, data);
	if (ferror(f) || fclose(f) != 0) {
		f = NULL;
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	f = NULL;
	if ((r = util_write_file(conf, text, len, 0600, err)) != 0)
		goto out;
	free(text);
	text = NULL;

	/* base.ldif: the suffix, people, three users, the CA entry. */
	if ((f = open_memstream(&text, &len)) == NULL ||
	    (uf = open_memstream(&users, &ulen)) == NULL ||
	    (cf = open_memstream(&cadn, &cadnlen)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	fputs("cn=", cf);
	dn_escape(cf, cfg->name);
	fputs("," LABDIR_SUFFIX, cf);
	if (ferror(cf) || fclose(cf) != 0) {
		cf = NULL;
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	cf = NULL;
	fputs("dn: " LABDIR_SUFFIX "\n"
	    "objectClass: dcObject\n"
	    "objectClass: organization\n"
	    "dc: lab\n"
	    "o: Lab\n\n"
	    "dn: ou=people," LABDIR_SUFFIX "\n"
	    "objectClass: organizationalUnit\n"
	    "ou: people\n\n", f);
	fprintf(uf, "# Lab directory users: uid, mail and password (lab "
	    "only). Log in to\n# smimecad with the mail address or the uid.\n");
	for (i = 0; i < sizeof(lab_users) / sizeof(lab_users[0]); i++) {
		if ((r = random_password(userpw, LABDIR_PASSLEN, err)) != 0 ||
		    (r = ssha(userpw, hash, sizeof(hash), err)) != 0)
			goto out;
		fprintf(f, "dn: uid=%s,ou=people," LABDIR_SUFFIX "\n"
		    "objectClass: inetOrgPerson\n"
		    "objectClass: mailRecipient\n"
		    "mailNickname: %s\n"
		    "uid: %s\n"
		    "cn: %s\n"
		    "givenName: %s\n"
		    "sn: %s\n"
		    "mail: %s@lab.example\n"
		    "title: %s\n"
		    "ou: %s\n"
		    "employeeNumber: %s\n"
		    "userPassword: %s\n\n", lab_users[i].uid,
		    lab_users[i].uid, lab_users[i].uid, lab_users[i].cn,
		    lab_users[i].given, lab_users[i].sn, lab_users[i].uid,
		    lab_users[i].title, lab_users[i].ou, lab_users[i].employee, hash);
		fprintf(uf, "%s %s@lab.example %s\n", lab_users[i].uid,
		    lab_users[i].uid, userpw);
	}
	OPENSSL_cleanse(userpw, sizeof(userpw));
	ldif_attr(f, "dn", (const unsigned char *)cadn, strlen(cadn));
	fputs("objectClass: applicationProcess\n"
	    "objectClass: pkiCA\n", f);
	ldif_attr(f, "cn", (const unsigned char *)cfg->name,
	    strlen(cfg->name));
	ldif_attr(f, "cACertificate;binary", ca_cert_der, ca_cert_len);
	if (ferror(f) || fclose(f) != 0 || ferror(uf) || fclose(uf) != 0) {
		f = uf = NULL;
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	f = uf = NULL;
	if ((r = util_write_file(ldif, text, len, 0600, err)) != 0 ||
	    (r = write_private(dir, "users.txt", users, err)) != 0)
		goto out;
	if ((cabuf = malloc(LABDIR_PASSLEN + 2)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	snprintf(cabuf, LABDIR_PASSLEN + 2, "%s\n", adminpw);
	calen = strlen(cabuf);
	if ((r = write_private(dir, "admin.pass", cabuf, err)) != 0)
		goto out;

	if (find_prog("SLAPADD", "slapadd", slapadd, sizeof(slapadd)) != 0) {
		r = ca_err_set(err, CA_ERR_NOTFOUND, "slapadd not found");
		goto out;
	}
	argv[0] = slapadd;
	argv[1] = "-f";
	argv[2] = conf;
	argv[3] = "-l";
	argv[4] = ldif;
	argv[5] = NULL;
	if ((r = run_prog(argv, log, &st, err)) != 0)
		goto out;
	if (st != 0) {
		r = ca_err_set(err, CA_ERR_IO, "%s -f %s -l %s failed (exit "
		    "%d); see %s", slapadd, conf, ldif, st, log);
		goto out;
	}

	snprintf(uri, sizeof(uri), "ldap://127.0.0.1:%d/", port);
	l.uri = uri;
	l.timeout = 5;
	l.bind_dn = "cn=admin," LABDIR_SUFFIX;
	l.bind_password_file = LABDIR_DIR "/admin.pass";
	l.user_base = "ou=people," LABDIR_SUFFIX;
	l.accounts = 1;
	l.ca_dn = cadn;
	l.retry_min = 10;
	l.retry_max = 600;
	r = cfg_add_ldap(cfg->path, &l, err);
 out:
	if (f != NULL)
		fclose(f);
	if (uf != NULL)
		fclose(uf);
	if (cf != NULL)
		fclose(cf);
	OPENSSL_cleanse(adminpw, sizeof(adminpw));
	OPENSSL_cleanse(userpw, sizeof(userpw));
	if (cabuf != NULL)
		OPENSSL_clear_free(cabuf, calen);
	if (users != NULL)
		OPENSSL_clear_free(users, ulen);
	free(text);
	free(cadn);
	free(dir);
	free(data);
	free(conf);
	free(ldif);
	free(log);
	return r;
}

pid_t
labdir_pid(const struct ca_config *cfg)
{
	char *p, comm[64];
	unsigned char *buf = NULL;
	size_t len;
	long pid;
	FILE *f;

	if ((p = lab_path(cfg, "slapd.pid")) == NULL)
		return 0;
	if (util_read_file(p, 64, &buf, &len, NULL) != 0) {
		free(p);
		return 0;
	}
	free(p);
	pid = strtol((char *)buf, NULL, 10);
	free(buf);
	if (pid <= 1 || !alive((pid_t)pid))
		return 0;
	/* A PID from a stale file may belong to someone else by now. */
	snprintf(comm, sizeof(comm), "/proc/%ld/comm", pid);
	if ((f = fopen(comm, "r")) != NULL) {
		if (fgets(comm, sizeof(comm), f) == NULL ||
		    strncmp(comm, "slapd", 5) != 0)
			pid = 0;
		fclose(f);
	}
	return (pid_t)pid;
}

/*
 * Whether pid runs. A zombie does not: in a container whose PID 1 reaps
 * nothing, a killed daemon stays one.
 */
static int
alive(pid_t pid)
{
	char path[64], buf[256], *p;
	FILE *f;
	int yes = 1;

	if (kill(pid, 0) == -1 && errno == ESRCH)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 1;
	/* "PID (COMM) STATE ...": COMM may hold spaces and parentheses. */
	if (fgets(buf, sizeof(buf), f) != NULL &&
	    (p = strrchr(buf, ')')) != NULL && p[1] == ' ' &&
	    (p[2] == 'Z' || p[2] == 'X'))
		yes = 0;
	fclose(f);
	return yes;
}

/* Host and port of an ldap:// URI. */
static int
uri_port(const char *uri, char *host, size_t hlen, char *port, size_t plen)
{
	LDAPURLDesc *u = NULL;

	if (ldap_url_parse(uri, &u) != LDAP_URL_SUCCESS)
		return -1;
	snprintf(host, hlen, "%s", u->lud_host != NULL && *u->lud_host ?
	    u->lud_host : "127.0.0.1");
	snprintf(port, plen, "%d", u->lud_port > 0 ? u->lud_port :
	    strcasecmp(u->lud_scheme, "ldaps") == 0 ? 636 : 389);
	ldap_free_urldesc(u);
	return 0;
}

/* Whether something accepts TCP connections on host:port. */
static int
port_open(const char *host, const char *port)
{
	struct addrinfo hints, *ai = NULL, *a;
	int fd, ok = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		return 0;
	for (a = ai; a != NULL && !ok; a = a->ai_next) {
		if ((fd = socket(a->ai_family, a->ai_socktype,
		    a->ai_protocol)) == -1)
			continue;
		ok = connect(fd, a->ai_addr, a->ai_addrlen) == 0;
		close(fd);
	}
	freeaddrinfo(ai);
	return ok;
}

int
labdir_start(const struct ca_config *cfg, pid_t *pidp, struct ca_err *err)
{
	char slapd[1024], host[256], port[16];
	char *conf = NULL, *log = NULL, *argv[6];
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	int r, st, i;

	*pidp = 0;
	if (cfg->ldap == NULL) {
		r = ca_err_set(err, CA_ERR_CONFIG, "%s: no <ldap> section: "
		    "this CA has no lab directory (smimeca init --lab makes "
		    "one)", cfg->path);
		goto out;
	}
	if ((*pidp = labdir_pid(cfg)) != 0) {
		r = ca_err_set(err, CA_ERR_EXISTS, "the lab slapd runs "
		    "already (PID %ld)", (long)*pidp);
		goto out;
	}
	if ((conf = lab_path(cfg, "slapd.conf")) == NULL ||
	    (log = lab_path(cfg, "slapd.log")) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (access(conf, R_OK) == -1) {
		r = ca_err_set(err, CA_ERR_NOTFOUND, "%s: %s (this CA's "
		    "directory is not a lab one made by smimeca init --lab)",
		    conf, strerror(errno));
		goto out;
	}
	if (uri_port(cfg->ldap->uri, host, sizeof(host), port,
	    sizeof(port)) != 0) {
		r = ca_err_set(err, CA_ERR_CONFIG, "%s: <server uri> %s is not "
		    "a URI slapd can listen on", cfg->path, cfg->ldap->uri);
		goto out;
	}
	if (port_open(host, port)) {
		r = ca_err_set(err, CA_ERR_EXISTS, "something listens on %s:%s "
		    "already; stop it or change <server uri> in %s", host,
		    port, cfg->path);
		goto out;
	}
	if (find_prog("SLAPD", "slapd", slapd, sizeof(slapd)) != 0) {
		r = ca_err_set(err, CA_ERR_NOTFOUND, "slapd is not installed "
		    "(on Debian: apt-get install slapd)");
		goto out;
	}
	argv[0] = slapd;
	argv[1] = "-f";
	argv[2] = conf;
	argv[3] = "-h";
	argv[4] = cfg->ldap->uri;
	argv[5] = NULL;
	/* slapd detaches itself once it is set up; its parent exits. */
	if ((r = run_prog(argv, log, &st, err)) != 0)
		goto out;
	if (st != 0) {
		r = ca_err_set(err, CA_ERR_IO, "%s -f %s -h %s failed (exit "
		    "%d); see %s", slapd, conf, cfg->ldap->uri, st, log);
		goto out;
	}
	for (i = 0; i < LABDIR_WAIT; i++) {
		if (port_open(host, port) && (*pidp = labdir_pid(cfg)) != 0)
			break;
		nanosleep(&ts, NULL);
	}
	if (*pidp == 0) {
		r = ca_err_set(err, CA_ERR_IO, "slapd did not start listening "
		    "on %s within %d seconds; see %s", cfg->ldap->uri,
		    LABDIR_WAIT / 10, log);
		goto out;
	}
	r = 0;
 out:
	free(conf);
	free(log);
	return r;
}

int
labdir_stop(const struct ca_config *cfg, pid_t *pidp, struct ca_err *err)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	pid_t pid;
	int i;

	if ((*pidp = pid = labdir_pid(cfg)) == 0)
		return ca_err_set(err, CA_ERR_NOTFOUND, "the lab slapd of %s "
		    "does not run", cfg->dir);
	if (kill(pid, SIGTERM) == -1)
		return ca_err_set(err, CA_ERR_IO, "kill %ld: %s", (long)pid,
		    strerror(errno));
	for (i = 0; i < LABDIR_WAIT; i++) {
		if (!alive(pid))
			return 0;
		nanosleep(&ts, NULL);
	}
	return ca_err_set(err, CA_ERR_IO, "slapd (PID %ld) did not stop "
	    "within %d seconds", (long)pid, LABDIR_WAIT / 10);
}
