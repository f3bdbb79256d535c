/*
 * Unit tests for what the lifecycle reads from the store (ca/db_cert.c):
 * expiring certificates and their successors, the count behind the
 * smimecad_certs_expiring gauges, and the CRL's revoked rows; each query
 * is checked to read its index (EXPLAIN QUERY PLAN), not scan the table.
 */
#include "ac-config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca/db.h"
#include "ca/db_test.h"
#include "ca/err.h"
#include "ca/util.h"
#include "tests/unit/tap.h"

#define DAY	86400

static char tmpdir[] = "/tmp/test_lifecycle.XXXXXX";

static void rm_tmpdir(void);
static void add(struct db *, const char *, int64_t, const char *,
    const char *, int64_t, int64_t, int);
static char *plan_of(struct db *, const char *);
static int collect(void *, const char *, int64_t, int, struct ca_err *);
static void test_expiring(struct db *, int64_t, int64_t, int64_t);
static void test_revoked(struct db *, int64_t);

struct seen {
	char serials[8][65];
	int reasons[8];
	size_t n;
};

static void
rm_tmpdir(void)
{
	tap_rmtree(tmpdir);
}

/* A certificate row valid from nb to na; revoked with reason when >= 0. */
static void
add(struct db *db, const char *serial, int64_t issuer, const char *tpl,
    const char *email, int64_t nb, int64_t na, int reason)
{
	static unsigned char der[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	struct db_cert c;
	struct ca_err err;
	int r;

	memset(&c, 0, sizeof(c));
	snprintf(c.serial, sizeof(c.serial), "%s", serial);
	c.issuer_id = issuer;
	c.template = (char *)tpl;
	c.subject = (char *)(email != NULL ? email : "CN=Device");
	c.email = (char *)email;
	c.not_before = nb;
	c.not_after = na;
	if (reason >= 0) {
		c.revoked = 1;
		c.revoked_at = nb + DAY;
		c.reason = reason;
	}
	util_sha1_hex(der, sizeof(der), c.sha1);
	util_sha256_hex(der, sizeof(der), c.sha256);
	c.der = der;
	c.derlen = sizeof(der);
	ca_err_clear(&err);
	if ((r = db_cert_add(db, &c, &err)) != 0) {
		printf("Bail out! adding %s: %s\n", serial, err.msg);
		exit(1);
	}
}

static char *
plan_of(struct db *db, const char *part)
{
	struct ca_err err;
	char *plan = NULL, *p, *nl;

	ca_err_clear(&err);
	if (db_test_plan(db, part, &plan, &err) != 0)
		printf("# plan of \"%s\": %s\n", part, err.msg);
	else {
		printf("# plan of \"%s\":\n", part);
		for (p = plan; *p != '\0'; p = nl + 1) {
			if ((nl = strchr(p, '\n')) == NULL)
				break;
			printf("#   %.*s\n", (int)(nl - p), p);
		}
	}
	return plan != NULL ? plan : strdup("(none)");
}

static void
test_expiring(struct db *db, int64_t issuing, int64_t root, int64_t now)
{
	struct db_expiring_filter f;
	struct db_expiring **l = NULL;
	struct ca_err err;
	size_t n = 0;
	int64_t cnt;
	char *plan;
	int r;

	/* alice: expires in 10 days, renewed (valid until +375). */
	add(db, "a1", issuing, "smime-encryption", "alice@lab.example",
	    now - 355 * DAY, now + 10 * DAY, -1);
	add(db, "a2", issuing, "smime-encryption", "alice@lab.example",
	    now - DAY, now + 375 * DAY, -1);
	/* A later one of alice's that was revoked is no successor. */
	add(db, "a3", issuing, "smime-encryption", "alice@lab.example",
	    now - DAY, now + 400 * DAY, 4);
	/* bob: expires in 5 days; only his signing certificate is newer. */
	add(db, "b1", issuing, "smime-encryption", "bob@lab.example",
	    now - 360 * DAY, now + 5 * DAY, -1);
	add(db, "b2", issuing, "smime-signature", "bob@lab.example",
	    now - DAY, now + 364 * DAY, -1);
	/* carol: a newer one that has not begun yet is no successor. */
	add(db, "c1", issuing, "smime-encryption", "carol@lab.example",
	    now - 340 * DAY, now + 25 * DAY, -1);
	add(db, "c2", issuing, "smime-encryption", "carol@lab.example",
	    now + DAY, now + 390 * DAY, -1);
	/* hank: renewed, which revoked (superseded) the one expiring. */
	add(db, "0b81", issuing, "smime-encryption", "hank@lab.example",
	    now - 353 * DAY, now + 12 * DAY, 4);
	add(db, "0b82", issuing, "smime-encryption", "hank@lab.example",
	    now - DAY, now + 364 * DAY, -1);
	/* Out of the window, revoked, or not the issuing CA's. */
	add(db, "d1", issuing, "smime-encryption", "dave@lab.example",
	    now - 300 * DAY, now + 40 * DAY, -1);
	add(db, "e1", issuing, "smime-encryption", "erin@lab.example",
	    now - 365 * DAY, now - DAY, -1);
	add(db, "f1", issuing, "smime-encryption", "frank@lab.example",
	    now - 360 * DAY, now + 3 * DAY, 1);
	add(db, "0a", root, "smime-encryption", "gina@lab.example",
	    now - 360 * DAY, now + 2 * DAY, -1);
	if (db_test_exec(db, "INSERT INTO escrow(cert_id, quorum, nshares, "
	    "envelope, kras, created) SELECT id, 1, 1, x'00', 'k', 0 FROM "
	    "certs WHERE serial = 'a1'", &err) != 0)
		printf("# escrow row: %s\n", err.msg);

	memset(&f, 0, sizeof(f));
	f.now = now;
	f.until = now + 30 * DAY;
	ca_err_clear(&err);
	r = db_cert_expiring(db, &f, &l, &n, &err);
	TAP_INT_EQ(r, 0, "db_cert_expiring: %s", err.msg);
	TAP_INT_EQ(n, 3, "three expire within 30 days");
	if (n == 3) {
		TAP_STR_EQ(l[0]->cert->serial, "b1", "bob's first (5 days)");
		TAP_STR_EQ(l[0]->newer, "", "bob has no newer encryption "
		    "certificate (a signing one does not count)");
		TAP_STR_EQ(l[1]->cert->serial, "a1", "then alice's (10 days)");
		TAP_STR_EQ(l[1]->newer, "a2", "alice's successor is a2, not "
		    "the revoked a3");
		TAP_INT_EQ(l[1]->newer_not_after, now + 375 * DAY,
		    "its notAfter comes along");
		TAP_INT_EQ(l[1]->escrowed, 1, "alice's key is in escrow");
		TAP_INT_EQ(l[0]->escrowed, 0, "bob's is not");
		TAP_STR_EQ(l[2]->cert->serial, "c1", "then carol's (25 days)");
		TAP_STR_EQ(l[2]->newer, "", "a successor that has not begun "
		    "does not count");
	}
	db_expiring_free_list(l, n);

	f.superseded = 1;
	r = db_cert_expiring(db, &f, &l, &n, &err);
	TAP_OK(r == 0 && n == 4, "four with the superseded ones: %zu", n);
	if (r == 0 && n == 4) {
		TAP_STR_EQ(l[2]->cert->serial, "0b81", "hank's superseded one "
		    "(12 days), not frank's revoked for keyCompromise");
		TAP_STR_EQ(l[2]->newer, "0b82", "with its successor");
	}
	db_expiring_free_list(l, n);
	f.superseded = 0;

	plan = plan_of(db, "n.serial || ' '");
	TAP_OK(strstr(plan, "certs USING INDEX certs_expiry") != NULL,
	    "the listing walks index certs_expiry");
	TAP_OK(strstr(plan, "USING INDEX certs_active") != NULL,
	    "the successor is looked up in certs_active");
	TAP_OK(strstr(plan, "SCAN certs") == NULL && strstr(plan,
	    "SCAN n") == NULL, "no table scan of certs");
	free(plan);

	f.until = now + 7 * DAY;
	f.template = "smime-signature";
	r = db_cert_expiring(db, &f, &l, &n, &err);
	TAP_OK(r == 0 && n == 0, "none of smime-signature within 7 days");
	db_expiring_free_list(l, n);
	f.template = "smime-encryption";
	r = db_cert_expiring(db, &f, &l, &n, &err);
	TAP_OK(r == 0 && n == 1 && strcmp(l[0]->cert->serial, "b1") == 0,
	    "one of smime-encryption within 7 days: bob's");
	db_expiring_free_list(l, n);

	r = db_cert_count_expiring(db, now, now + 30 * DAY, &cnt, &err);
	TAP_OK(r == 0 && cnt == 3, "count within 30 days: %lld",
	    (long long)cnt);
	r = db_cert_count_expiring(db, now, now + 7 * DAY, &cnt, &err);
	TAP_OK(r == 0 && cnt == 1, "count within 7 days: %lld",
	    (long long)cnt);
	plan = plan_of(db, "SELECT COUNT(*) FROM certs WHERE revoked = 0 AND "
	    "not_after");
	TAP_OK(strstr(plan, "certs USING COVERING INDEX certs_expiry") != NULL,
	    "the count reads index certs_expiry alone");
	free(plan);
}

static int
collect(void *ctx, const char *serial, int64_t at, int reason,
    struct ca_err *err)
{
	struct seen *s = ctx;

	(void)at;
	(void)err;
	if (s->n < 8) {
		snprintf(s->serials[s->n], sizeof(s->serials[0]), "%s",
		    serial);
		s->reasons[s->n] = reason;
	}
	s->n++;
	return 0;
}

static void
test_revoked(struct db *db, int64_t issuing)
{
	struct seen s;
	struct ca_err err;
	size_t n = 0;
	char *plan;
	int64_t now = (int64_t)time(NULL);
	int r;

	/* As integers ff < 0100 < 0a00, though "0100" < "0a00" < "ff". */
	add(db, "0a00", issuing, "smime-signature", "x@lab.example",
	    now - DAY * 2, now + DAY, 1);
	add(db, "ff", issuing, "smime-signature", "y@lab.example",
	    now - DAY * 2, now + DAY, 0);
	add(db, "0100", issuing, "smime-signature", "z@lab.example",
	    now - DAY * 2, now + DAY, 5);
	memset(&s, 0, sizeof(s));
	ca_err_clear(&err);
	r = db_cert_revoked_each(db, issuing, collect, &s, &n, &err);
	TAP_INT_EQ(r, 0, "db_cert_revoked_each: %s", err.msg);
	/* a3, f1 and 0b81 of test_expiring, and these three. */
	TAP_INT_EQ(n, 6, "six revoked rows of the issuing CA");
	TAP_OK(s.n == 6 && strcmp(s.serials[0], "a3") == 0 &&
	    strcmp(s.serials[1], "f1") == 0 &&
	    strcmp(s.serials[2], "ff") == 0 &&
	    strcmp(s.serials[3], "0100") == 0 &&
	    strcmp(s.serials[4], "0a00") == 0 &&
	    strcmp(s.serials[5], "0b81") == 0,
	    "in integer order: %s %s %s %s %s %s", s.serials[0],
	    s.serials[1], s.serials[2], s.serials[3], s.serials[4],
	    s.serials[5]);
	TAP_OK(s.reasons[2] == 0 && s.reasons[4] == 1,
	    "with their reasons");
	plan = plan_of(db, "ORDER BY length(serial), serial");
	TAP_OK(strstr(plan, "COVERING INDEX certs_revoked") != NULL,
	    "the CRL reads index certs_revoked alone");
	TAP_OK(strstr(plan, "TEMP B-TREE") == NULL,
	    "in the index's order (no sort)");
	free(plan);
}

int
main(void)
{
	struct db *db = NULL;
	struct ca_err err;
	int64_t issuing = 0, root = 0, now = (int64_t)time(NULL);
	static const unsigned char der[] = { 0x30, 0x00 };
	char *path;

	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	atexit(rm_tmpdir);
	path = tap_path(tmpdir, "ca.db");
	ca_err_clear(&err);
	if (db_open(path, 1, &db, &err) != 0 ||
	    db_ca_cert_add(db, "root", der, sizeof(der), NULL, 0,
	    now + 3650 * DAY, &root, &err) != 0 ||
	    db_ca_cert_add(db, "issuing", der, sizeof(der), NULL, 0,
	    now + 1825 * DAY, &issuing, &err) != 0) {
		printf("Bail out! %s\n", err.msg);
		return 1;
	}
	test_expiring(db, issuing, root, now);
	test_revoked(db, issuing);
	db_close(db);
	free(path);
	return tap_done();
}
