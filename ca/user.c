/* Local accounts and single-use enrollment codes. */
#include "ac-config.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "ca/audit.h"
#include "ca/ca.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/user.h"
#include "ca/util.h"

/* scrypt cost: N=2^15, r=8, p=1 (32 MiB, tens of milliseconds). */
#define USER_SCRYPT_N	32768
#define USER_SCRYPT_R	8
#define USER_SCRYPT_P	1
#define USER_SALT_LEN	16
#define USER_HASH_LEN	32
#define USER_CODE_LEN	16
#define USER_SECRET_MAX	1024

#define STR_(x)		#x
#define STR(x)		STR_(x)
/*
 * What an unknown or disabled account is checked against, so that it costs
 * the same scrypt as a wrong password; nothing derives to its zero hash.
 */
#define USER_DUMMY_HASH	"scrypt$" STR(USER_SCRYPT_N) "$" STR(USER_SCRYPT_R) \
	"$" STR(USER_SCRYPT_P) "$" \
	"5d1c3e0f8a7b6c2d4e9f0a1b2c3d4e5f" "$" \
	"0000000000000000000000000000000000000000000000000000000000000000"

/* Every scrypt this process ran, for smimecad's metrics. */
static _Atomic uint64_t scrypt_count;

static int derive(const char *, size_t, const unsigned char *, size_t,
    uint64_t, uint64_t, uint64_t, unsigned char *);
static int unhex(const char *, unsigned char *, size_t);
static int valid_email(const char *);
static int valid_cn(const char *);
static int stamp_of(int64_t, const char *, int, unsigned char *);
static int check_account(sqlite3 *, const char *, const char *, int64_t,
    struct user **, int64_t *);
static int find_code(sqlite3 *, const char *, const char *, int64_t,
    int64_t *);
static int use_code(sqlite3 *, int64_t, int64_t);

static int
derive(const char *secret, size_t len, const unsigned char *salt,
    size_t saltlen, uint64_t n, uint64_t r, uint64_t p, unsigned char *out)
{
	atomic_fetch_add_explicit(&scrypt_count, 1, memory_order_relaxed);
	return EVP_PBE_scrypt(secret, len, salt, saltlen, n, r, p,
	    64ULL * 1024 * 1024, out, USER_HASH_LEN) == 1 ? 0 : -1;
}

uint64_t
user_scrypt_count(void)
{
	return atomic_load_explicit(&scrypt_count, memory_order_relaxed);
}

static int
unhex(const char *s, unsigned char *out, size_t len)
{
	long n = 0;
	unsigned char *b;

	if (strlen(s) != len * 2 ||
	    (b = OPENSSL_hexstr2buf(s, &n)) == NULL)
		return -1;
	if ((size_t)n != len) {
		OPENSSL_free(b);
		return -1;
	}
	memcpy(out, b, len);
	OPENSSL_free(b);
	return 0;
}

int
user_hash_secret(const char *secret, char **hashp, struct ca_err *err)
{
	unsigned char salt[USER_SALT_LEN], h[USER_HASH_LEN];
	char salthex[2 * USER_SALT_LEN + 1], hhex[2 * USER_HASH_LEN + 1];

	*hashp = NULL;
	if (RAND_bytes(salt, sizeof(salt)) != 1 ||
	    derive(secret, strlen(secret), salt, sizeof(salt), USER_SCRYPT_N,
	    USER_SCRYPT_R, USER_SCRYPT_P, h) != 0)
		return ca_err_ssl(err, CA_ERR_CRYPTO, "hashing a secret");
	util_hex(salt, sizeof(salt), salthex);
	util_hex(h, sizeof(h), hhex);
	OPENSSL_cleanse(h, sizeof(h));
	if (asprintf(hashp, "scrypt$%d$%d$%d$%s$%s", USER_SCRYPT_N,
	    USER_SCRYPT_R, USER_SCRYPT_P, salthex, hhex) == -1) {
		*hashp = NULL;
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	}
	return 0;
}

/*
 * Exactly one scrypt, whatever stored holds: a hash that does not parse,
 * or asks for more work than we allow, is checked with the stand-in's
 * parameters and fails.
 */
int
user_check_secret(const char *secret, const char *stored)
{
	unsigned long long n, r, p;
	char salthex[2 * USER_SALT_LEN + 1], hhex[2 * USER_HASH_LEN + 1];
	unsigned char salt[USER_SALT_LEN], want[USER_HASH_LEN];
	unsigned char got[USER_HASH_LEN];
	size_t len = strlen(secret);
	int ok = 1;

	if (stored == NULL ||
	    sscanf(stored, "scrypt$%llu$%llu$%llu$%32[0-9a-f]$%64[0-9a-f]",
	    &n, &r, &p, salthex, hhex) != 5 ||
	    unhex(salthex, salt, sizeof(salt)) != 0 ||
	    unhex(hhex, want, sizeof(want)) != 0 ||
	    n > (1u << 20) || r > 32 || p > 16) {
		/* A stored hash must not make us work forever. */
		n = USER_SCRYPT_N;
		r = USER_SCRYPT_R;
		p = USER_SCRYPT_P;
		memset(salt, 0, sizeof(salt));
		memset(want, 0, sizeof(want));
		ok = 0;
	}
	if (len > USER_SECRET_MAX) {
		len = USER_SECRET_MAX;
		ok = 0;
	}
	if (derive(secret, len, salt, sizeof(salt), n, r, p, got) != 0)
		ok = 0;
	else
		ok = CRYPTO_memcmp(got, want, sizeof(got)) == 0 && ok;
	OPENSSL_cleanse(got, sizeof(got));
	return ok ? 0 : -1;
}

void
user_stand_in(const char *secret)
{
	(void)user_check_secret(secret, USER_DUMMY_HASH);
	(void)user_check_secret(secret, USER_DUMMY_HASH);
}

static int
valid_email(const char *s)
{
	const char *at = strchr(s, '@');
	size_t i;

	if (at == NULL || at == s || at[1] == '\0' || strlen(s) > 254)
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f ||
		    strchr("\"(),:;<>[\\]", s[i]) != NULL)
			return 0;
	return 1;
}

/* A display name: UTF-8 text without C0 controls or DEL. */
static int
valid_cn(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return 0;
	return 1;
}

int
user_add(struct ca *ca, const char *email, const char *cn,
    const char *password, struct ca_err *err)
{
	struct db *db = ca_db(ca);
	sqlite3 *h = db_handle(db);
	sqlite3_stmt *st = NULL;
	char *mail = NULL, *hash = NULL;
	int r, in_tx = 0;

	if (!valid_email(email))
		return ca_err_set(err, CA_ERR_INVALID, "\"%s\" is not a plain "
		    "mail address", email);
	if (cn != NULL && !valid_cn(cn))
		return ca_err_set(err, CA_ERR_INVALID, "the name given with --cn "
		    "for %s holds a control character (a line break, an escape "
		    "or a tab): give the name as plain text", email);
	if (strlen(password) < 8)
		return ca_err_set(err, CA_ERR_INVALID, "the password for %s "
		    "is shorter than 8 characters", email);
	if ((mail = strdup(email)) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	util_lower(mail);
	if ((r = user_hash_secret(password, &hash, err)) != 0 ||
	    (r = db_begin(db, err)) != 0)
		goto out;
	in_tx = 1;
	if (sqlite3_prepare_v2(h, "INSERT INTO users(email, cn, pwhash, "
	    "disabled, created) VALUES(?, ?, ?, 0, ?)", -1, &st, NULL) !=
	    SQLITE_OK) {
		r = ca_err_set(err, CA_ERR_DB, "users: %s", sqlite3_errmsg(h));
		goto out;
	}
	sqlite3_bind_text(st, 1, mail, -1, SQLITE_STATIC);
	if (cn != NULL)
		sqlite3_bind_text(st, 2, cn, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
	if ((r = sqlite3_step(st)) != SQLITE_DONE) {
		r = sqlite3_extended_errcode(h) == SQLITE_CONSTRAINT_UNIQUE ?
		    ca_err_set(err, CA_ERR_EXISTS, "account %s exists "
		    "already", mail) :
		    ca_err_set(err, CA_ERR_DB, "users: %s", sqlite3_errmsg(h));
		goto out;
	}
	if ((r = audit_append(db, ca_actor(ca), "user-add", mail,
	    cn != NULL ? cn : "", err)) != 0 || (r = db_commit(db, err)) != 0)
		goto out;
	in_tx = 0;
	r = 0;
 out:
	sqlite3_finalize(st);
	if (in_tx)
		db_rollback(db);
	free(hash);
	free(mail);
	return r;
}

int
user_set_disabled(struct ca *ca, const char *email, int disabled,
    struct ca_err *err)
{
	struct db *db = ca_db(ca);
	sqlite3 *h = db_handle(db);
	sqlite3_stmt *st = NULL;
	char *mail;
	int r, in_tx = 0;

	if ((mail = strdup(email)) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	util_lower(mail);
	if ((r = db_begin(db, err)) != 0)
		goto out;
	in_tx = 1;
	if (sqlite3_prepare_v2(h, "UPDATE users SET disabled = ? WHERE "
	    "email = ?", -1, &st, NULL) != SQLITE_OK) {
		r = ca_err_set(err, CA_ERR_DB, "users: %s", sqlite3_errmsg(h));
		goto out;
	}
	sqlite3_bind_int(st, 1, disabled ? 1 : 0);
	sqlite3_bind_text(st, 2, mail, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		r = ca_err_set(err, CA_ERR_DB, "users: %s", sqlite3_errmsg(h));
		goto out;
	}
	if (sqlite3_changes(h) == 0) {
		r = ca_err_set(err, CA_ERR_NOTFOUND, "no account %s (see "
		    "smimeca user list)", mail);
		goto out;
	}
	if ((r = audit_append(db, ca_actor(ca), disabled ? "user-disable" :
	    "user-enable", mail, "", err)) != 0 ||
	    (r = db_commit(db, err)) != 0)
		goto out;
	in_tx = 0;
 out:
	sqlite3_finalize(st);
	if (in_tx)
		db_rollback(db);
	free(mail);
	return r;
}

int
user_list(struct db *db, struct user ***listp, size_t *np,
    struct ca_err *err)
{
	sqlite3 *h = db_handle(db);
	sqlite3_stmt *st = NULL;
	struct user **list = NULL, **grown, *u;
	size_t n = 0;
	int rc, r = 0;

	*listp = NULL;
	*np = 0;
	if (sqlite3_prepare_v2(h, "SELECT id, email, cn, disabled, created "
	    "FROM users ORDER BY email", -1, &st, NULL) != SQLITE_OK)
		return ca_err_set(err, CA_ERR_DB, "users: %s",
		    sqlite3_errmsg(h));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((grown = realloc(list, (n + 1) * sizeof(*list))) == NULL ||
		    (u = calloc(1, sizeof(*u))) == NULL) {
			if (grown != NULL)
				list = grown;
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		list = grown;
		list[n++] = u;
		u->id = sqlite3_column_int64(st, 0);
		u->email = strdup((const char *)sqlite3_column_text(st, 1));
		if (sqlite3_column_type(st, 2) != SQLITE_NULL)
			u->cn = strdup((const char *)sqlite3_column_text(st,
			    2));
		u->disabled = sqlite3_column_int(st, 3);
		u->created = sqlite3_column_int64(st, 4);
		if (u->email == NULL) {
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		r = ca_err_set(err, CA_ERR_DB, "users: %s", sqlite3_errmsg(h));
		goto out;
	}
	*listp = list;
	*np = n;
	list = NULL;
	n = 0;
 out:
	sqlite3_finalize(st);
	user_free_list(list, n);
	return r;
}

int
user_code_new(struct ca *ca, const char *email, int64_t ttl, char **codep,
    struct ca_err *err)
{
	struct db *db = ca_db(ca);
	sqlite3 *h = db_handle(db);
	sqlite3_stmt *st = NULL;
	unsigned char raw[USER_CODE_LEN / 2];
	char code[USER_CODE_LEN + 1], *hash = NULL, *mail = NULL;
	char detail[64];
	int64_t now = (int64_t)time(NULL);
	int r, in_tx = 0;

	*codep = NULL;
	if ((mail = strdup(email)) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	util_lower(mail);
	if (RAND_priv_bytes(raw, sizeof(raw)) != 1) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "no random code");
		goto out;
	}
	util_hex(raw, sizeof(raw), code);
	OPENSSL_cleanse(raw, sizeof(raw));
	if ((r = user_hash_secret(code, &hash, err)) != 0 ||
	    (r = db_begin(db, err)) != 0)
		goto out;
	in_tx = 1;
	/* One live code an account: a new one retires the unused older. */
	if (sqlite3_prepare_v2(h, "UPDATE enroll_codes SET expires = ? "
	    "WHERE used = 0 AND expires >= ? AND user_id = (SELECT id FROM "
	    "users WHERE email = ?)", -1, &st, NULL) != SQLITE_OK) {
		r = ca_err_set(err, CA_ERR_DB, "codes: %s", sqlite3_errmsg(h));
		goto out;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)(now - 1));
	sqlite3_bind_int64(st, 2, (sqlite3_int64)now);
	sqlite3_bind_text(st, 3, mail, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		r = ca_err_set(err, CA_ERR_DB, "codes: %s", sqlite3_errmsg(h));
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(h, "INSERT INTO enroll_codes(user_id, "
	    "codehash, expires, used) SELECT id, ?, ?, 0 FROM users WHERE "
	    "email = ? AND disabled = 0", -1, &st, NULL) != SQLITE_OK) {
		r = ca_err_set(err, CA_ERR_DB, "codes: %s", sqlite3_errmsg(h));
		goto out;
	}
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)(now + ttl));
	sqlite3_bind_text(st, 3, mail, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		r = ca_err_set(err, CA_ERR_DB, "codes: %s", sqlite3_errmsg(h));
		goto out;
	}
	if (sqlite3_changes(h) == 0) {
		r = ca_err_set(err, CA_ERR_NOTFOUND, "no enabled account %s "
		    "(add it with smimeca user add %s)", mail, mail);
		goto out;
	}
	snprintf(detail, sizeof(detail), "ttl=%lld", (long long)ttl);
	if ((r = audit_append(db, ca_actor(ca), "user-code", mail, detail,
	    err)) != 0 || (r = db_commit(db, err)) != 0)
		goto out;
	in_tx = 0;
	if ((*codep = strdup(code)) == NULL)
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
 out:
	OPENSSL_cleanse(code, sizeof(code));
	sqlite3_finalize(st);
	if (in_tx)
		db_rollback(db);
	free(hash);
	free(mail);
	return r;
}

/* What a cached login is checked against: the account as stored now. */
static int
stamp_of(int64_t id, const char *pwhash, int disabled, unsigned char *stamp)
{
	EVP_MD_CTX *c;
	char head[48];
	int r = -1;

	snprintf(head, sizeof(head), "%lld:%d:", (long long)id,
	    disabled ? 1 : 0);
	if ((c = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestInit_ex(c, EVP_sha256(), NULL) &&
	    EVP_DigestUpdate(c, head, strlen(head)) &&
	    (pwhash == NULL || EVP_DigestUpdate(c, pwhash, strlen(pwhash))) &&
	    EVP_DigestFinal_ex(c, stamp, NULL))
		r = 0;
	EVP_MD_CTX_free(c);
	return r;
}

/*
 * 0 and *up when the password, or the account's live code, matches an
 * enabled account. Every failure costs exactly two scrypts, the
 * password's and the code's, a stand-in for whichever is missing, so
 * neither the time nor the work tells whether the account exists, is
 * disabled or has a code.
 */
static int
check_account(sqlite3 *h, const char *mail, const char *secret, int64_t now,
    struct user **up, int64_t *codep)
{
	sqlite3_stmt *st = NULL;
	struct user *u = NULL;
	const char *pwhash;
	int r = -1;

	*up = NULL;
	*codep = 0;
	if (sqlite3_prepare_v2(h, "SELECT id, email, cn, pwhash, created "
	    "FROM users WHERE email = ? AND disabled = 0", -1, &st, NULL) !=
	    SQLITE_OK) {
		user_stand_in(secret);
		return -1;
	}
	sqlite3_bind_text(st, 1, mail, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		user_stand_in(secret);
		goto out;
	}
	if ((u = calloc(1, sizeof(*u))) == NULL)
		goto out;
	u->id = sqlite3_column_int64(st, 0);
	u->email = strdup((const char *)sqlite3_column_text(st, 1));
	if (sqlite3_column_type(st, 2) != SQLITE_NULL)
		u->cn = strdup((const char *)sqlite3_column_text(st, 2));
	u->created = sqlite3_column_int64(st, 4);
	pwhash = (const char *)sqlite3_column_text(st, 3);
	if (u->email == NULL || stamp_of(u->id, pwhash, 0, u->stamp) != 0)
		goto out;
	/* The password check (slow) runs outside any transaction. */
	if (user_check_secret(secret, pwhash) == 0) {
		*up = u;
		u = NULL;
		r = 0;
		goto out;
	}
	if ((r = find_code(h, mail, secret, now, codep)) == 0) {
		u->via_code = 1;
		*up = u;
		u = NULL;
		goto out;
	}
	if (r == 1)
		(void)user_check_secret(secret, USER_DUMMY_HASH);
	r = -1;
 out:
	sqlite3_finalize(st);
	user_free(u);
	return r;
}

/*
 * The account's newest unused, unexpired code (there is one at most, see
 * user_code_new): 0 and *idp when it matches; 1 when the account has no
 * such code (no scrypt ran), -1 when it did not match.
 */
static int
find_code(sqlite3 *h, const char *mail, const char *secret, int64_t now,
    int64_t *idp)
{
	sqlite3_stmt *st = NULL;
	int r = -1;

	*idp = 0;
	if (sqlite3_prepare_v2(h, "SELECT c.id, c.codehash FROM "
	    "enroll_codes c JOIN users u ON u.id = c.user_id WHERE "
	    "u.email = ? AND c.used = 0 AND c.expires >= ? "
	    "ORDER BY c.id DESC LIMIT 1", -1, &st, NULL) != SQLITE_OK)
		return 1;
	sqlite3_bind_text(st, 1, mail, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)now);
	r = 1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		r = -1;
		if (user_check_secret(secret,
		    (const char *)sqlite3_column_text(st, 1)) == 0) {
			*idp = sqlite3_column_int64(st, 0);
			r = 0;
		}
	}
	sqlite3_finalize(st);
	return r;
}

/* Uses code id up, unless another request did first. */
static int
use_code(sqlite3 *h, int64_t id, int64_t now)
{
	sqlite3_stmt *up = NULL;
	int r = -1;

	if (sqlite3_prepare_v2(h, "UPDATE enroll_codes SET used = ? "
	    "WHERE id = ? AND used = 0", -1, &up, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(up, 1, (sqlite3_int64)now);
	sqlite3_bind_int64(up, 2, (sqlite3_int64)id);
	if (sqlite3_step(up) == SQLITE_DONE && sqlite3_changes(h) == 1)
		r = 0;
	sqlite3_finalize(up);
	return r;
}

int
user_authenticate(struct ca *ca, const char *email, const char *secret,
    int64_t now, struct user **up, struct ca_err *err)
{
	struct db *db = ca_db(ca);
	char *mail = NULL;
	int64_t code;
	int r;

	*up = NULL;
	if ((mail = strdup(email)) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	util_lower(mail);
	if (check_account(db_handle(db), mail, secret, now, up, &code) != 0) {
		r = ca_err_set(err, CA_ERR_AUTH, "wrong account or password "
		    "for %s", mail);
		goto out;
	}
	if (code == 0) {
		r = 0;
		goto out;
	}
	/* The code is used up in the same transaction that checks it. */
	if ((r = db_begin(db, err)) != 0)
		goto out;
	if (use_code(db_handle(db), code, now) != 0) {
		db_rollback(db);
		r = ca_err_set(err, CA_ERR_AUTH, "wrong account or password "
		    "for %s", mail);
		goto out;
	}
	r = db_commit(db, err);
 out:
	if (r != 0) {
		user_free(*up);
		*up = NULL;
	}
	free(mail);
	return r;
}

int
user_stamp(struct ca *ca, const char *email, unsigned char *stamp,
    struct ca_err *err)
{
	sqlite3 *h = db_handle(ca_db(ca));
	sqlite3_stmt *st = NULL;
	int rc, r;

	if (sqlite3_prepare_v2(h, "SELECT id, pwhash, disabled FROM users "
	    "WHERE email = ?", -1, &st, NULL) != SQLITE_OK)
		return ca_err_set(err, CA_ERR_DB, "users: %s",
		    sqlite3_errmsg(h));
	sqlite3_bind_text(st, 1, email, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		r = stamp_of(sqlite3_column_int64(st, 0),
		    (const char *)sqlite3_column_text(st, 1),
		    sqlite3_column_int(st, 2), stamp) == 0 ? 0 :
		    ca_err_ssl(err, CA_ERR_NOMEM, "hashing account %s", email);
	else if (rc == SQLITE_DONE)
		r = ca_err_set(err, CA_ERR_NOTFOUND, "no account %s", email);
	else
		r = ca_err_set(err, CA_ERR_DB, "users: %s",
		    sqlite3_errmsg(h));
	sqlite3_finalize(st);
	return r;
}

int
user_disabled(struct ca *ca, const char *email, int *disabledp,
    struct ca_err *err)
{
	sqlite3 *h = db_handle(ca_db(ca));
	sqlite3_stmt *st = NULL;
	int rc, r;

	if (sqlite3_prepare_v2(h, "SELECT disabled FROM users WHERE email = ?",
	    -1, &st, NULL) != SQLITE_OK)
		return ca_err_set(err, CA_ERR_DB, "users: %s",
		    sqlite3_errmsg(h));
	sqlite3_bind_text(st, 1, email, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*disabledp = sqlite3_column_int(st, 0) != 0;
		r = 0;
	} else if (rc == SQLITE_DONE)
		r = ca_err_set(err, CA_ERR_NOTFOUND, "no account %s", email);
	else
		r = ca_err_set(err, CA_ERR_DB, "users: %s",
		    sqlite3_errmsg(h));
	sqlite3_finalize(st);
	return r;
}

int
user_set_password(struct ca *ca, const char *email, const char *password,
    struct ca_err *err)
{
	struct db *db = ca_db(ca);
	sqlite3 *h = db_handle(db);
	sqlite3_stmt *st = NULL;
	char *mail = NULL, *hash = NULL;
	int r, in_tx = 0;

	if (strlen(password) < 8)
		return ca_err_set(err, CA_ERR_INVALID, "the password for %s "
		    "is shorter than 8 characters", email);
	if ((mail = strdup(email)) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	util_lower(mail);
	if ((r = user_hash_secret(password, &hash, err)) != 0 ||
	    (r = db_begin(db, err)) != 0)
		goto out;
	in_tx = 1;
	if (sqlite3_prepare_v2(h, "UPDATE users SET pwhash = ? WHERE "
	    "email = ?", -1, &st, NULL) != SQLITE_OK) {
		r = ca_err_set(err, CA_ERR_DB, "users: %s", sqlite3_errmsg(h));
		goto out;
	}
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, mail, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		r = ca_err_set(err, CA_ERR_DB, "users: %s", sqlite3_errmsg(h));
		goto out;
	}
	if (sqlite3_changes(h) == 0) {
		r = ca_err_set(err, CA_ERR_NOTFOUND, "no account %s (see "
		    "smimeca user list)", mail);
		goto out;
	}
	if ((r = audit_append(db, ca_actor(ca), "user-password", mail, "",
	    err)) != 0 || (r = db_commit(db, err)) != 0)
		goto out;
	in_tx = 0;
 out:
	sqlite3_finalize(st);
	if (in_tx)
		db_rollback(db);
	free(hash);
	free(mail);
	return r;
}

void
user_free(struct user *u)
{
	if (u == NULL)
		return;
	free(u->email);
	free(u->cn);
	free(u);
}

void
user_free_list(struct user **list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		user_free(list[i]);
	free(list);
}
