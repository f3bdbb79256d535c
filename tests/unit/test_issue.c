/*
 * Unit tests for group commit (db_group_run under iss_issue): threads with
 * a CA handle each issue at once, with key escrow; every certificate they
 * get is stored with its request, escrow and audit rows, the audit chain
 * verifies, a member that fails is rolled back alone, and a COMMIT that
 * fails fails every member of its batch and stores nothing.
 */
#include "ac-config.h"

#include <sys/stat.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "archive/archival.h"
#include "archive/kra.h"
#include "ca/audit.h"
#include "ca/ca.h"
#include "ca/config.h"
#include "ca/db.h"
#include "ca/db_test.h"
#include "ca/err.h"
#include "ca/issue.h"
#include "ca/template.h"
#include "ca/util.h"
#include "tests/unit/tap.h"

#define NTHREADS	6	/* issuing at once */
#define ROUNDS		4	/* certificates a thread */
#define NQUEUED		4	/* members of a batch made on purpose */

static char tmpdir[] = "/tmp/test_issue.XXXXXX";
static char *cadir;

/* One issuing thread: its own CA handle, as smimecad's workers have. */
struct worker {
	int idx;
	const char *tpl_name;
	int escrow;		/* arc_issue_key, else iss_issue */
	iss_hook_fn hook;	/* with iss_issue */
	const char *sql;	/* for sql_hook */
	int rounds;
	X509 *certs[ROUNDS];
	int rc[ROUNDS];
	char msg[CA_ERR_MSGMAX + 16];
	pthread_t tid;
};

/* The hold hook keeps a batch open until NQUEUED others are queued. */
static pthread_mutex_t hold_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_cv = PTHREAD_COND_INITIALIZER;
static int hold_inside, hold_started;

static void rm_tmpdir(void);
static void add_ldap(void);
static int64_t q_int(struct ca *, const char *, const char *);
static X509_REQ *make_csr(EVP_PKEY *, const char *);
static struct tpl *load_tpl(struct ca *, const char *);
static void add_kra(struct ca *);
static void *work(void *);
static int hold_hook(void *, struct ca *, int64_t, X509 *, struct ca_err *);
static int sql_hook(void *, struct ca *, int64_t, X509 *, struct ca_err *);
static void check_stored(struct ca *, struct worker *, size_t);
static void check_audit(struct ca *, const char *);
static void test_concurrent(struct ca *);
static void test_batch(struct ca *, const char *, int, const char *);

static void
rm_tmpdir(void)
{
	tap_rmtree(tmpdir);
}

/* A directory to publish to (never reached: the jobs only queue). */
static void
add_ldap(void)
{
	char *conf = tap_path(cadir, "smimeca.conf");
	char *pass = tap_path(cadir, "ldap.pass");
	char buf[16384];
	size_t n;
	FILE *f;
	char *end;

	if ((f = fopen(conf, "r")) == NULL ||
	    (n = fread(buf, 1, sizeof(buf) - 1, f)) == 0 ||
	    fclose(f) != 0) {
		printf("Bail out! reading %s\n", conf);
		exit(1);
	}
	buf[n] = '\0';
	if ((end = strstr(buf, "</smimeca-config>")) == NULL) {
		printf("Bail out! %s has no end tag\n", conf);
		exit(1);
	}
	*end = '\0';
	if ((f = fopen(conf, "w")) == NULL ||
	    fprintf(f, "%s<ldap>\n"
	    "  <server uri=\"ldap://127.0.0.1:9/\" starttls=\"no\"/>\n"
	    "  <bind dn=\"cn=admin,dc=example\" password-file=\"ldap.pass\"/>\n"
	    "  <users base=\"ou=people,dc=example\" filter=\"(mail=%%s)\"/>\n"
	    "</ldap>\n</smimeca-config>\n", buf) < 0 || fclose(f) != 0 ||
	    (f = fopen(pass, "w")) == NULL || fputs("x\n", f) < 0 ||
	    fclose(f) != 0) {
		printf("Bail out! writing %s\n", conf);
		exit(1);
	}
	chmod(pass, 0600);
	free(conf);
	free(pass);
}

/* First column of sql with ?1 bound to arg (or none), -1 on failure. */
static int64_t
q_int(struct ca *ca, const char *sql, const char *arg)
{
	int64_t v = -1;

	db_test_int(ca_db(ca), sql, arg, &v, NULL);
	return v;
}

static X509_REQ *
make_csr(EVP_PKEY *key, const char *cn)
{
	X509_REQ *csr;

	if ((csr = X509_REQ_new()) == NULL ||
	    !X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(csr), "CN",
	    MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_REQ_set_pubkey(csr, key) ||
	    X509_REQ_sign(csr, key, EVP_sha256()) <= 0) {
		X509_REQ_free(csr);
		return NULL;
	}
	return csr;
}

static struct tpl *
load_tpl(struct ca *ca, const char *name)
{
	struct ca_err err;
	struct tpl *t = NULL;

	ca_err_clear(&err);
	if (tpl_load(ca_config(ca)->template_dir, name, &t, &err) != 0) {
		printf("Bail out! template %s: %s\n", name, err.msg);
		exit(1);
	}
	return t;
}

/* The one KRA escrow wraps to (kra-count 1 outside lab mode). */
static void
add_kra(struct ca *ca)
{
	struct iss_account acct = { .id = "admin",
	    .mail = "kra@example.org", .cn = "KRA" };
	struct iss_request req;
	struct ca_err err;
	struct tpl *t = load_tpl(ca, "kra");
	EVP_PKEY *key = NULL;
	X509_REQ *csr = NULL;
	X509 *cert = NULL;
	int r;

	ca_err_clear(&err);
	memset(&req, 0, sizeof(req));
	if ((r = ca_keygen(CA_KEY_RSA2048, &key, &err)) == 0) {
		csr = make_csr(key, "KRA");
		req.csr = csr;
		req.tpl = t;
		req.account = &acct;
		req.protocol = TPL_PROTO_CLI;
		if ((r = iss_issue(ca, &req, NULL, NULL, &cert, &err)) == 0)
			r = kra_add(ca, cert, &err);
	}
	TAP_INT_EQ(r, 0, "a KRA is issued and registered: %s", err.msg);
	X509_free(cert);
	X509_REQ_free(csr);
	EVP_PKEY_free(key);
	tpl_free(t);
}

static void *
work(void *arg)
{
	struct worker *w = arg;
	struct iss_account acct;
	struct iss_request req;
	struct ca_err err;
	struct ca *ca = NULL;
	struct tpl *t = NULL;
	EVP_PKEY *key = NULL;
	X509_REQ *csr = NULL;
	char mail[64], cn[32];
	int i;

	ca_err_clear(&err);
	snprintf(mail, sizeof(mail), "user%d@example.org", w->idx);
	snprintf(cn, sizeof(cn), "User %d", w->idx);
	memset(&acct, 0, sizeof(acct));
	acct.id = mail;
	acct.mail = mail;
	acct.cn = cn;
	for (i = 0; i < w->rounds; i++)
		w->rc[i] = CA_ERR_INTERNAL;
	if (ca_open(cadir, NULL, CA_OPEN_KEY, &ca, &err) != 0 ||
	    ca_keygen(CA_KEY_RSA2048, &key, &err) != 0 ||
	    (csr = make_csr(key, cn)) == NULL) {
		snprintf(w->msg, sizeof(w->msg), "setup: %s", err.msg);
		goto out;
	}
	ca_set_actor(ca, "test");
	t = load_tpl(ca, w->tpl_name);
	memset(&req, 0, sizeof(req));
	req.csr = csr;
	req.tpl = t;
	req.account = &acct;
	req.protocol = TPL_PROTO_CLI;
	for (i = 0; i < w->rounds; i++) {
		ca_err_clear(&err);
		if (w->hook != NULL && w->hook != hold_hook) {
			pthread_mutex_lock(&hold_mu);
			hold_started++;
			pthread_cond_broadcast(&hold_cv);
			pthread_mutex_unlock(&hold_mu);
		}
		if (w->escrow)
			w->rc[i] = arc_issue_key(ca, t, &acct, TPL_PROTO_CLI,
			    csr, key, &w->certs[i], &err);
		else
			w->rc[i] = iss_issue(ca, &req, w->hook, w, &w->certs[i],
			    &err);
		if (w->rc[i] != 0 && w->msg[0] == '\0')
			snprintf(w->msg, sizeof(w->msg), "%s", err.msg);
	}
 out:
	tpl_free(t);
	X509_REQ_free(csr);
	EVP_PKEY_free(key);
	ca_close(ca);
	return NULL;
}

/* Inside its batch: waits until NQUEUED others have set off, and a bit. */
static int
hold_hook(void *ctx, struct ca *ca, int64_t cert_id, X509 *cert,
    struct ca_err *err)
{
	pthread_mutex_lock(&hold_mu);
	hold_inside = 1;
	pthread_cond_broadcast(&hold_cv);
	while (hold_started < NQUEUED)
		pthread_cond_wait(&hold_cv, &hold_mu);
	pthread_mutex_unlock(&hold_mu);
	/* They sign, then queue behind this batch. */
	usleep(500 * 1000);
	return 0;
}

/*
 * Member idx 0 runs the test's SQL after its certificate row went in: a
 * constraint violation fails it, a dangling reference fails the COMMIT.
 */
static int
sql_hook(void *ctx, struct ca *ca, int64_t cert_id, X509 *cert,
    struct ca_err *err)
{
	struct worker *w = ctx;
	struct ca_err e;

	ca_err_clear(&e);
	if (w->idx != 0 || db_test_exec(ca_db(ca), w->sql, &e) == 0)
		return 0;
	return ca_err_set(err, CA_ERR_DB, "test: %s", e.msg);
}

/* Every certificate a worker got is stored with its rows; no other is. */
static void
check_stored(struct ca *ca, struct worker *ws, size_t n)
{
	char serial[65];
	size_t i, got = 0, bad = 0;
	int j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < ws[i].rounds; j++) {
			if (ws[i].certs[j] == NULL)
				continue;
			got++;
			if (util_serial_hex(X509_get0_serialNumber(
			    ws[i].certs[j]), serial) != 0 ||
			    q_int(ca, "SELECT count(*) FROM certs c JOIN "
			    "requests r ON r.id = c.request_id WHERE "
			    "c.serial = ?", serial) != 1 ||
			    q_int(ca, "SELECT count(*) FROM audit WHERE "
			    "action = 'issue' AND object = ?", serial) != 1 ||
			    q_int(ca, "SELECT count(*) FROM pub_jobs j JOIN "
			    "certs c ON c.id = j.cert_id WHERE j.kind = 'add' "
			    "AND c.serial = ?", serial) != 1 ||
			    (ws[i].escrow && (q_int(ca, "SELECT count(*) FROM "
			    "escrow e JOIN certs c ON c.id = e.cert_id WHERE "
			    "c.serial = ?", serial) != 1 ||
			    q_int(ca, "SELECT count(*) FROM audit WHERE action "
			    "= 'escrow' AND object = ?", serial) != 1))) {
				printf("# certificate %s lacks a row\n",
				    serial);
				bad++;
			}
		}
	}
	TAP_INT_EQ(bad, 0, "each of the %zu certificates handed out is "
	    "stored with its request, audit row, publish job (and escrow)",
	    got);
	TAP_INT_EQ(q_int(ca, "SELECT count(*) FROM certs WHERE template <> "
	    "'kra'", NULL), q_int(ca, "SELECT count(*) FROM audit WHERE "
	    "action = 'issue'", NULL) - 1, "no certificate without its audit "
	    "row");
	TAP_INT_EQ(q_int(ca, "SELECT count(*) FROM requests WHERE id NOT IN "
	    "(SELECT request_id FROM certs)", NULL), 0, "no request without "
	    "its certificate (no partial member)");
	TAP_INT_EQ(q_int(ca, "SELECT count(*) - count(DISTINCT serial) FROM "
	    "certs", NULL), 0, "serials are unique");
}

static void
check_audit(struct ca *ca, const char *when)
{
	struct audit_result res;
	struct ca_err err;
	int r;

	ca_err_clear(&err);
	r = audit_verify(ca_db(ca), &res, &err);
	TAP_OK(r == 0 && res.bad_id == 0, "%s: the audit chain verifies "
	    "(%lld rows) %s%s", when, (long long)res.rows, res.why, err.msg);
}

static void
test_concurrent(struct ca *ca)
{
	struct worker ws[NTHREADS];
	uint64_t b0, m0, b1, m1;
	size_t i, failed = 0;
	int j;

	memset(ws, 0, sizeof(ws));
	db_group_stats(ca_db(ca), &b0, &m0);
	for (i = 0; i < NTHREADS; i++) {
		ws[i].idx = (int)i + 1;
		ws[i].tpl_name = i % 2 ? "smime-encryption" : "smime-signature";
		ws[i].escrow = i % 2;
		ws[i].rounds = ROUNDS;
		if (pthread_create(&ws[i].tid, NULL, work, &ws[i]) != 0) {
			printf("Bail out! pthread_create\n");
			exit(1);
		}
	}
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(ws[i].tid, NULL);
		for (j = 0; j < ROUNDS; j++)
			if (ws[i].rc[j] != 0)
				failed++;
		if (ws[i].msg[0] != '\0')
			printf("# thread %zu: %s\n", i, ws[i].msg);
	}
	db_group_stats(ca_db(ca), &b1, &m1);
	TAP_INT_EQ(failed, 0, "%d threads issue %d certificates each at once",
	    NTHREADS, ROUNDS);
	TAP_INT_EQ(m1 - m0, NTHREADS * ROUNDS, "each went through the group "
	    "commit (%llu transactions for %llu issuances)",
	    (unsigned long long)(b1 - b0), (unsigned long long)(m1 - m0));
	check_stored(ca, ws, NTHREADS);
	check_audit(ca, "after concurrent issuance");
	for (i = 0; i < NTHREADS; i++)
		for (j = 0; j < ROUNDS; j++)
			X509_free(ws[i].certs[j]);
}

/*
 * One thread holds a batch open in its hook while NQUEUED others queue:
 * they make the next batch together. The first of them (idx 0) runs sql,
 * which fails its member or (poison) the batch's COMMIT.
 */
static void
test_batch(struct ca *ca, const char *sql, int poison, const char *what)
{
	struct worker holder, ws[NQUEUED];
	uint64_t b0, m0, b1, m1;
	int64_t certs0 = q_int(ca, "SELECT count(*) FROM certs", NULL);
	int64_t audit0 = q_int(ca, "SELECT count(*) FROM audit", NULL);
	int64_t escrow0 = q_int(ca, "SELECT count(*) FROM escrow", NULL);
	size_t i, ok = 0;

	memset(&holder, 0, sizeof(holder));
	memset(ws, 0, sizeof(ws));
	hold_inside = hold_started = 0;
	db_group_stats(ca_db(ca), &b0, &m0);
	/* A new account each time: no earlier certificate to supersede. */
	holder.idx = 100 + poison;
	holder.tpl_name = "smime-signature";
	holder.hook = hold_hook;
	holder.rounds = 1;
	if (pthread_create(&holder.tid, NULL, work, &holder) != 0)
		exit(1);
	pthread_mutex_lock(&hold_mu);
	while (!hold_inside)
		pthread_cond_wait(&hold_cv, &hold_mu);
	pthread_mutex_unlock(&hold_mu);
	for (i = 0; i < NQUEUED; i++) {
		ws[i].idx = (int)i;
		/* The odd ones escrow; the hook is for iss_issue's. */
		ws[i].escrow = i % 2;
		ws[i].tpl_name = ws[i].escrow ? "smime-encryption" :
		    "smime-signature";
		ws[i].hook = sql_hook;
		ws[i].sql = sql;
		ws[i].rounds = 1;
		if (pthread_create(&ws[i].tid, NULL, work, &ws[i]) != 0)
			exit(1);
	}
	pthread_join(holder.tid, NULL);
	for (i = 0; i < NQUEUED; i++) {
		pthread_join(ws[i].tid, NULL);
		if (ws[i].rc[0] == 0)
			ok++;
		else
			printf("# member %zu: %s\n", i, ws[i].msg);
	}
	db_group_stats(ca_db(ca), &b1, &m1);
	TAP_INT_EQ(holder.rc[0], 0, "%s: the batch before succeeds", what);
	/*
	 * The statistics count what was stored: the holder's transaction,
	 * then the queued members' one (less the member that failed), or
	 * nothing of theirs when their COMMIT failed.
	 */
	if (poison)
		TAP_OK(b1 - b0 == 1 && m1 - m0 == 1, "%s: only the holder's "
		    "transaction stored anything (%llu transactions, %llu "
		    "members)", what, (unsigned long long)(b1 - b0),
		    (unsigned long long)(m1 - m0));
	else
		TAP_OK(b1 - b0 == 2 && m1 - m0 == NQUEUED, "%s: the %d "
		    "members that succeeded shared one transaction (%llu "
		    "transactions, %llu members)", what, NQUEUED - 1,
		    (unsigned long long)(b1 - b0),
		    (unsigned long long)(m1 - m0));
	if (poison) {
		TAP_INT_EQ(ok, 0, "%s: every member fails", what);
		TAP_OK(strstr(ws[1].msg, "nothing of this request was stored")
		    != NULL, "%s: a member that did nothing wrong says its "
		    "request was not stored: %s", what, ws[1].msg);
		TAP_INT_EQ(q_int(ca, "SELECT count(*) FROM certs", NULL),
		    certs0 + 1, "%s: no certificate of the batch is stored",
		    what);
		TAP_INT_EQ(q_int(ca, "SELECT count(*) FROM audit", NULL),
		    audit0 + 1, "%s: no audit row of the batch is stored",
		    what);
		TAP_INT_EQ(q_int(ca, "SELECT count(*) FROM escrow", NULL),
		    escrow0, "%s: no escrow row of the batch is stored", what);
	} else {
		TAP_INT_EQ(ok, NQUEUED - 1, "%s: the others succeed", what);
		TAP_OK(ws[0].rc[0] == CA_ERR_DB && ws[0].certs[0] == NULL &&
		    strstr(ws[0].msg, "UNIQUE constraint") != NULL, "%s: the "
		    "failing member gets its own error: %s", what, ws[0].msg);
		TAP_INT_EQ(q_int(ca, "SELECT count(*) FROM certs WHERE email "
		    "= 'user0@example.org'", NULL), 0, "%s: nothing of the "
		    "failing member is stored", what);
		TAP_INT_EQ(q_int(ca, "SELECT count(*) FROM certs", NULL),
		    certs0 + NQUEUED, "%s: the others' certificates are stored",
		    what);
	}
	check_stored(ca, ws, NQUEUED);
	check_stored(ca, &holder, 1);
	check_audit(ca, what);
	X509_free(holder.certs[0]);
	for (i = 0; i < NQUEUED; i++)
		X509_free(ws[i].certs[0]);
}

int
main(void)
{
	struct ca_init_params p;
	struct ca_err err;
	struct ca *ca = NULL;
	struct worker again;

	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	atexit(rm_tmpdir);
	cadir = tap_path(tmpdir, "ca");
	ca_err_clear(&err);
	memset(&p, 0, sizeof(p));
	p.dir = cadir;
	p.name = "Group Commit Test CA";
	p.key = CA_KEY_EC_P256;
	p.validity_days = 365;
	if (ca_init(&p, &err) != 0) {
		printf("Bail out! %s\n", err.msg);
		return 1;
	}
	add_ldap();
	if (ca_open(cadir, NULL, CA_OPEN_KEY, &ca, &err) != 0) {
		printf("Bail out! %s\n", err.msg);
		return 1;
	}
	add_kra(ca);
	test_concurrent(ca);
	test_batch(ca, "INSERT INTO audit_head(one, last_id, last_hash, count) "
	    "VALUES(1, 0, 'x', 0)", 0, "a member's insert fails");
	test_batch(ca, "PRAGMA defer_foreign_keys = ON; INSERT INTO "
	    "pub_jobs(kind, cert_id, next_attempt, created) VALUES('add', "
	    "999999999, 0, 0)", 1, "the COMMIT fails");

	/* The group is not wedged: a lone caller leads at once. */
	memset(&again, 0, sizeof(again));
	again.idx = 200;
	again.tpl_name = "smime-signature";
	again.rounds = 1;
	work(&again);
	TAP_INT_EQ(again.rc[0], 0, "a lone issuance afterwards succeeds: %s",
	    again.msg);
	check_stored(ca, &again, 1);
	X509_free(again.certs[0]);
	ca_close(ca);
	free(cadir);
	return tap_done();
}
