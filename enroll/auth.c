/* Who is asking: HTTP Basic (accounts, codes) or a TLS client certificate. */
#include "ac-config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/config.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/ldapdir.h"
#include "ca/user.h"
#include "ca/util.h"
#include "enroll/auth.h"
#include "enroll/http.h"
#include "enroll/log.h"
#include "enroll/metrics.h"
#include "enroll/srv.h"

#define CHALLENGE	"Basic realm=\"smimeca\", charset=\"UTF-8\""
#define CACHE_SLOTS	256
#define CACHE_TTL	60	/* seconds a verified password is trusted */
#define CRED_MAX	1024
#define LOGIN_SLOTS	2	/* password checks at once: two cores */
#define LOGIN_WAIT_MAX	4	/* logins that may queue for a scrypt slot */
/* Every refused login, whatever the reason: no account shows by its text. */
#define REFUSED		"wrong account or password"

/*
 * scrypt costs 32 MiB and tens of milliseconds, once per account and
 * minute: a verified password is remembered as an HMAC under a key that
 * lives only in this process, with the account's stamp, which every hit
 * checks against the database (a disable or a new password counts at
 * once).
 */
struct cache_ent {
	unsigned char mac[32];
	unsigned char stamp[USER_STAMP_LEN];
	char mail[256];
	char cn[256];
	time_t expires;
};

static unsigned char cache_key[32];
static struct cache_ent cache[CACHE_SLOTS];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * The scrypt slots: LOGIN_SLOTS password checks at a time (32 MiB each),
 * taken in the order logins came (tickets: ticket t runs once fewer than
 * LOGIN_SLOTS of the tickets before it are unfinished); at most
 * LOGIN_WAIT_MAX wait, so that a flood of wrong passwords is answered 503
 * instead of stalling every login.
 */
static pthread_mutex_t login_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t login_cv = PTHREAD_COND_INITIALIZER;
static uint64_t login_next, login_done;

static void cred_mac(const char *, const char *, unsigned char[32]);
static size_t slot_of(const unsigned char[32]);
static int cache_get(struct wk *, const char *, const unsigned char[32],
    struct auth_acct *);
static void cache_put(const unsigned char[32], const struct auth_acct *,
    const unsigned char *);
static void cache_drop(const unsigned char[32]);
static void login_gauge(void);
static int login_enter(void);
static void login_leave(void);
static int challenge(struct resp *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
static void fill_acct(struct auth_acct *, const char *, const char *,
    const char *);

int
auth_init(void)
{
	return RAND_bytes(cache_key, sizeof(cache_key)) == 1 ? 0 : -1;
}

void
auth_flush(void)
{
	pthread_mutex_lock(&cache_lock);
	OPENSSL_cleanse(cache, sizeof(cache));
	pthread_mutex_unlock(&cache_lock);
}

static void
cred_mac(const char *user, const char *pass, unsigned char mac[32])
{
	unsigned char buf[2 * CRED_MAX + 2];
	size_t ul = strlen(user), pl = strlen(pass);
	unsigned int len = 32;

	memcpy(buf, user, ul);
	buf[ul] = '\0';
	memcpy(buf + ul + 1, pass, pl);
	HMAC(EVP_sha256(), cache_key, sizeof(cache_key), buf, ul + 1 + pl,
	    mac, &len);
	OPENSSL_cleanse(buf, sizeof(buf));
}

/* Slots are picked by the MAC's first bytes: keyed, so not steerable. */
static size_t
slot_of(const unsigned char mac[32])
{
	return ((size_t)mac[0] << 8 | mac[1]) % CACHE_SLOTS;
}

/*
 * A remembered login, if the account is as it was when its password was
 * checked; a stale entry (new password, account disabled or replaced) is
 * dropped and the password checked anew.
 */
static int
cache_get(struct wk *w, const char *mail, const unsigned char mac[32],
    struct auth_acct *a)
{
	struct cache_ent *e = &cache[slot_of(mac)];
	struct ca_err err;
	unsigned char was[USER_STAMP_LEN], now[USER_STAMP_LEN];
	char cn[sizeof(e->cn)];
	int hit = 0;

	pthread_mutex_lock(&cache_lock);
	if (e->expires > time(NULL) && CRYPTO_memcmp(e->mac, mac, 32) == 0 &&
	    strcmp(e->mail, mail) == 0) {
		memcpy(was, e->stamp, sizeof(was));
		memcpy(cn, e->cn, sizeof(cn));
		hit = 1;
	}
	pthread_mutex_unlock(&cache_lock);
	if (!hit)
		return 0;
	ca_err_clear(&err);
	if (user_stamp(w->ca, mail, now, &err) != 0 ||
	    CRYPTO_memcmp(was, now, sizeof(was)) != 0) {
		if (err.code != 0 && err.code != CA_ERR_NOTFOUND)
			log_err("checking the remembered login of %s: %s",
			    mail, err.msg);
		cache_drop(mac);
		return 0;
	}
	fill_acct(a, "local", mail, cn);
	return 1;
}

static void
cache_put(const unsigned char mac[32], const struct auth_acct *a,
    const unsigned char *stamp)
{
	struct cache_ent *e = &cache[slot_of(mac)];

	pthread_mutex_lock(&cache_lock);
	memcpy(e->mac, mac, 32);
	memcpy(e->stamp, stamp, USER_STAMP_LEN);
	snprintf(e->mail, sizeof(e->mail), "%s", a->mail);
	snprintf(e->cn, sizeof(e->cn), "%s", a->cn);
	e->expires = time(NULL) + CACHE_TTL;
	pthread_mutex_unlock(&cache_lock);
}

static void
cache_drop(const unsigned char mac[32])
{
	struct cache_ent *e = &cache[slot_of(mac)];

	pthread_mutex_lock(&cache_lock);
	if (CRYPTO_memcmp(e->mac, mac, 32) == 0)
		OPENSSL_cleanse(e, sizeof(*e));
	pthread_mutex_unlock(&cache_lock);
}

/* Under login_lock: the logins waiting behind those in the slots. */
static void
login_gauge(void)
{
	uint64_t in = login_next - login_done;

	metrics_login_queue(in > LOGIN_SLOTS ? (unsigned)(in - LOGIN_SLOTS) :
	    0);
}

/* 0 once this thread holds a scrypt slot; -1 when the queue is full. */
static int
login_enter(void)
{
	uint64_t t;

	pthread_mutex_lock(&login_lock);
	if (login_next - login_done >= LOGIN_SLOTS + LOGIN_WAIT_MAX) {
		pthread_mutex_unlock(&login_lock);
		metrics_login_busy();
		return -1;
	}
	t = login_next++;
	login_gauge();
	if (t >= login_done + LOGIN_SLOTS) {
		metrics_login_wait();
		while (t >= login_done + LOGIN_SLOTS)
			pthread_cond_wait(&login_cv, &login_lock);
	}
	pthread_mutex_unlock(&login_lock);
	return 0;
}

static void
login_leave(void)
{
	pthread_mutex_lock(&login_lock);
	login_done++;
	login_gauge();
	pthread_cond_broadcast(&login_cv);
	pthread_mutex_unlock(&login_lock);
}

static int
challenge(struct resp *rs, const char *fmt, ...)
{
	va_list ap;
	char line[512];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	resp_text(rs, 401, "%s", line);
	rs->www_authenticate = CHALLENGE;
	return -1;
}

static void
fill_acct(struct auth_acct *a, const char *kind, const char *mail,
    const char *cn)
{
	size_t i;

	snprintf(a->mail, sizeof(a->mail), "%s", mail);
	for (i = 0; a->mail[i] != '\0'; i++)
		if (a->mail[i] >= 'A' && a->mail[i] <= 'Z')
			a->mail[i] += 'a' - 'A';
	/* An account without a display name goes by its address. */
	snprintf(a->cn, sizeof(a->cn), "%s", cn != NULL && *cn ? cn :
	    a->mail);
	snprintf(a->id, sizeof(a->id), "%s:%s", kind, a->mail);
	snprintf(a->owner, sizeof(a->owner), "%s", a->mail);
}

void
auth_acct_clear(struct auth_acct *a)
{
	dir_entry_free(a->entry);
	memset(a, 0, sizeof(*a));
}

/*
 * The directory's answer for user: its entry, a 401, or a 503 when the
 * directory cannot be reached.
 */
static int
dir_basic(struct req *rq, struct resp *rs, struct wk *w, const char *user,
    const char *pass, struct auth_acct *a)
{
	const struct ca_config *cfg = ca_config(w->ca);
	struct ca_err err;
	struct dir_entry *e = NULL;
	int r;

	ca_err_clear(&err);
	if ((r = dir_authenticate(cfg, user, pass, &e, &err)) != 0) {
		log_info("directory login of %s refused: %s", user, err.msg);
		if (r == CA_ERR_IO) {
			resp_text(rs, 503, "the directory cannot be reached to "
			    "check %s's password; try again later", user);
			return -1;
		}
		return challenge(rs, REFUSED);
	}
	if (e->mail == NULL) {
		dir_entry_free(e);
		return challenge(rs, "the directory entry of %s has no mail "
		    "address to issue for", user);
	}
	fill_acct(a, "dir", e->mail, e->cn);
	a->entry = e;
	return 0;
}

int
auth_basic(struct req *rq, struct resp *rs, struct wk *w,
    struct auth_acct *a)
{
	const struct ca_config *cfg = ca_config(w->ca);
	struct ca_err err;
	struct user *u = NULL;
	char *user = NULL, *pass = NULL;
	unsigned char mac[32];
	int sane, r = -1;

	memset(a, 0, sizeof(*a));
	memset(mac, 0, sizeof(mac));
	ca_err_clear(&err);
	user = MHD_basic_auth_get_username_password(rq->conn, &pass);
	if (user == NULL) {
		r = challenge(rs, "%s needs HTTP Basic credentials: an "
		    "account's mail address and its password or "
		    "enrollment code", rq->path);
		goto out;
	}
	sane = *user != '\0' && pass != NULL && *pass != '\0' &&
	    strlen(user) <= 255 && strlen(pass) <= CRED_MAX;
	for (char *p = user; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p += 'a' - 'A';
	if (sane) {
		cred_mac(user, pass, mac);
		if (cache_get(w, user, mac, a)) {
			r = 0;
			goto out;
		}
	}
	if (login_enter() != 0) {
		log_info("login of %s not checked: %d logins wait for a "
		    "password check already", user, LOGIN_WAIT_MAX);
		resp_text(rs, 503, "too many logins are waiting for a "
		    "password check; try again in a second");
		rs->extra_header = "Retry-After: 1";
		goto out;
	}
	/* Every refusal below has cost the same two scrypts. */
	if (!sane) {
		user_stand_in(pass != NULL ? pass : "");
		login_leave();
		r = challenge(rs, REFUSED);
		goto out;
	}
	r = user_authenticate(w->ca, user, pass, (int64_t)time(NULL), &u,
	    &err);
	login_leave();
	if (r != 0) {
		if (err.code != CA_ERR_AUTH)
			log_err("authenticating %s: %s", user, err.msg);
		/* Not a local account (or not its password): the directory. */
		if (cfg->ldap != NULL && cfg->ldap->accounts) {
			r = dir_basic(rq, rs, w, user, pass, a);
			goto out;
		}
		log_info("authentication failed for %s", user);
		r = challenge(rs, REFUSED);
		goto out;
	}
	fill_acct(a, u->via_code ? "code" : "local", u->email, u->cn);
	/* A code is single-use: never cached. */
	if (!u->via_code)
		cache_put(mac, a, u->stamp);
	r = 0;
 out:
	OPENSSL_cleanse(mac, sizeof(mac));
	if (r == 0)
		rq->user = strdup(a->mail);
	user_free(u);
	if (pass != NULL) {
		OPENSSL_cleanse(pass, strlen(pass));
		MHD_free(pass);
	}
	if (user != NULL)
		MHD_free(user);
	return r;
}

int
auth_client_cert(struct req *rq, struct resp *rs, struct wk *w,
    struct auth_acct *a, struct db_cert **dcp)
{
	struct ca_err err;
	struct db_cert *dc = NULL;
	X509 *cert = NULL;
	X509_STORE_CTX *ctx = NULL;
	unsigned char *cn = NULL;
	char serial[65];
	int i, disabled = 0, r = -1;

	*dcp = NULL;
	memset(a, 0, sizeof(*a));
	ca_err_clear(&err);
	if ((cert = req_client_cert(rq)) == NULL) {
		resp_text(rs, 403, "simplereenroll renews the certificate the "
		    "client presents in the TLS handshake, and there was "
		    "none (curl --cert/--key, pki --est --cert/--key)");
		goto out;
	}
	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    !X509_STORE_CTX_init(ctx, rq->srv->trust, cert, NULL)) {
		resp_text(rs, 500, "out of memory");
		goto out;
	}
	if (X509_verify_cert(ctx) != 1) {
		resp_text(rs, 403, "the TLS client certificate was not issued "
		    "by this CA or is not valid now (%s)",
		    X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx)));
		goto out;
	}
	util_serial_hex(X509_get0_serialNumber(cert), serial);
	if (db_cert_get(ca_db(w->ca), serial, &dc, &err) != 0) {
		resp_text(rs, 403, "certificate %s is not in this CA's "
		    "database", serial);
		goto out;
	}
	if (dc->revoked) {
		resp_text(rs, 403, "certificate %s is revoked; a revoked "
		    "certificate cannot be renewed (enroll anew)", serial);
		goto out;
	}
	/*
	 * A disabled account renews nothing, not even through a certificate
	 * it enrolled; an owner from the directory has no local row.
	 */
	if (dc->owner != NULL && (i = user_disabled(w->ca, dc->owner,
	    &disabled, &err)) != CA_ERR_NOTFOUND) {
		if (i != 0) {
			log_err("renewal of %s: %s", serial, err.msg);
			resp_text(rs, 500, "the account database could not be "
			    "read");
			goto out;
		}
		if (disabled) {
			resp_text(rs, 403, "certificate %s belongs to %s, whose "
			    "account is disabled: it is not renewed (smimeca "
			    "user enable)", serial, dc->owner);
			goto out;
		}
	}
	if ((i = X509_NAME_get_index_by_NID(X509_get_subject_name(cert),
	    NID_commonName, -1)) >= 0)
		ASN1_STRING_to_UTF8(&cn, X509_NAME_ENTRY_get_data(
	    X509_NAME_get_entry(X509_get_subject_name(cert), i)));
	/* A device certificate may name no mail address. */
	fill_acct(a, "renew", dc->email != NULL ? dc->email : "",
	    (const char *)cn);
	snprintf(a->id, sizeof(a->id), "renew:%s", serial);
	/*
	 * The renewal is the owner's, whoever holds the key now: a device
	 * alice enrolled stays alice's (the administrator's stays nobody's).
	 */
	snprintf(a->owner, sizeof(a->owner), "%s", dc->owner != NULL ?
	    dc->owner : "");
	rq->user = strdup(a->mail[0] != '\0' ? a->mail : serial);
	*dcp = dc;
	dc = NULL;
	r = 0;
 out:
	OPENSSL_free(cn);
	X509_STORE_CTX_free(ctx);
	X509_free(cert);
	db_cert_free(dc);
	return r;
}
