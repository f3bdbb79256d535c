/* Local accounts and single-use enrollment codes. */
#include "ac-config.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/*
 * scrypt cost of new hashes: N=2^14, r=8, p=2: the CPU of N=2^15, p=1
 * (tens of milliseconds) in half its memory (16 MiB; the p lanes run one
 * after the other in the same block), so the two login slots of smimecad
 * stay within its memory budget (bench/README.md, "first logins"). Hashes
 * stored with other parameters are checked with theirs.
 */
#define USER_SCRYPT_N	16384
#define USER_SCRYPT_R	8
#define USER_SCRYPT_P	2
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
static int valid_email(const char *);
static int valid_cn(const char *);
static int stamp_of(int64_t, const char *, int, unsigned char *);
static int check_account(struct db *, const char *, const char *, int64_t,
    struct user **, int64_t *);
static int find_code(struct db *, const char *, const char *, int64_t,
    int64_t *);

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
	    util_unhex(salthex, salt, sizeof(salt)) != 0 ||
	    util_unhex(hhex, want, sizeof(want)) != 0 ||
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

/*
 * Stores a new account (add) or a new password for email, hashed, with
 * its audit row, in one transaction.
 */
static int
store_secret(struct ca *ca, const char *email, const char *cn,
    const char *password, int add, struct ca_err *err)
{
	struct db *db = ca_db(ca);
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
	if ((r = add ? db_user_add(db, mail, cn, hash, err) :
	    db_user_set_pwhash(db, mail, hash, err)) != 0)
		goto out;
	if ((r = audit_append(db, ca_actor(ca), add ? "user-add" :
	    "user-password", mail, add && cn != NULL ? cn : "", err)) != 0 ||
	    (r = db_commit(db, err)) != 0)
		goto out;
	in_tx = 0;
 out:
	if (in_tx)
		db_rollback(db);
	free(hash);
	free(mail);
	return r;
}

int
user_add(struct ca *ca, const char *email, const char *cn,
    const char *password, struct ca_err *err)
{
	if (!valid_email(email))
		return ca_err_set(err, CA_ERR_INVALID, "\"%s\" is not a plain "
		    "mail address", email);
	if (cn != NULL && !valid_cn(cn))
		return ca_err_set(err, CA_ERR_INVALID, "the name given with --cn "
		    "for %s holds a control character (a line break, an escape "
		    "or a tab): give the name as plain text", email);
	return store_secret(ca, email, cn, password, 1, err);
}

int
user_set_disabled(struct ca *ca, const char *email, int disabled,
    struct ca_err *err)
{
	struct db *db = ca_db(ca);
	char *mail;
	int r, in_tx = 0;

	if ((mail = strdup(email)) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	util_lower(mail);
	if ((r = db_begin(db, err)) != 0)
		goto out;
	in_tx = 1;
	if ((r = db_user_set_disabled(db, mail, disabled, err)) != 0)
		goto out;
	if ((r = audit_append(db, ca_actor(ca), disabled ? "user-disable" :
	    "user-enable", mail, "", err)) != 0 ||
	    (r = db_commit(db, err)) != 0)
		goto out;
	in_tx = 0;
 out:
	if (in_tx)
		db_rollback(db);
	free(mail);
	return r;
}

int
user_list(struct db *db, struct user ***listp, size_t *np,
    struct ca_err *err)
{
	return db_user_list(db, listp, np, err);
}

int
user_code_new(struct ca *ca, const char *email, int64_t ttl, char **codep,
    struct ca_err *err)
{
	struct db *db = ca_db(ca);
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
	if ((r = db_code_add(db, mail, hash, now, now + ttl, err)) != 0)
		goto out;
	snprintf(detail, sizeof(detail), "ttl=%lld", (long long)ttl);
	if ((r = audit_append(db, ca_actor(ca), "user-code", mail, detail,
	    err)) != 0 || (r = db_commit(db, err)) != 0)
		goto out;
	in_tx = 0;
	if ((*codep = strdup(code)) == NULL)
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
 out:
	OPENSSL_cleanse(code, sizeof(code));
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
check_account(struct db *db, const char *mail, const char *secret,
    int64_t now, struct user **up, int64_t *codep)
{
	struct user *u = NULL;
	char *pwhash = NULL;
	int r = -1;

	*up = NULL;
	*codep = 0;
	if (db_user_get(db, mail, &u, &pwhash, NULL) != 0 || u->disabled) {
		user_stand_in(secret);
		goto out;
	}
	if (stamp_of(u->id, pwhash, 0, u->stamp) != 0)
		goto out;
	/* The password check (slow) runs outside any transaction. */
	if (user_check_secret(secret, pwhash) == 0) {
		*up = u;
		u = NULL;
		r = 0;
		goto out;
	}
	if ((r = find_code(db, mail, secret, now, codep)) == 0) {
		u->via_code = 1;
		*up = u;
		u = NULL;
		goto out;
	}
	if (r == 1)
		(void)user_check_secret(secret, USER_DUMMY_HASH);
	r = -1;
 out:
	free(pwhash);
	user_free(u);
	return r;
}

/*
 * The account's newest unused, unexpired code (there is one at most, see
 * user_code_new): 0 and *idp when it matches; 1 when the account has no
 * such code (no scrypt ran), -1 when it did not match.
 */
static int
find_code(struct db *db, const char *mail, const char *secret, int64_t now,
    int64_t *idp)
{
	char *hash = NULL;
	int64_t id;
	int r = 1;

	*idp = 0;
	if (db_code_live(db, mail, now, &id, &hash) == 0) {
		r = -1;
		if (user_check_secret(secret, hash) == 0) {
			*idp = id;
			r = 0;
		}
	}
	free(hash);
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
	if (check_account(db, mail, secret, now, up, &code) != 0) {
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
	if (db_code_use(db, code, now) != 0) {
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
	struct user *u = NULL;
	char *pwhash = NULL;
	int r;

	if ((r = db_user_get(ca_db(ca), email, &u, &pwhash, err)) == 0 &&
	    stamp_of(u->id, pwhash, u->disabled, stamp) != 0)
		r = ca_err_ssl(err, CA_ERR_NOMEM, "hashing account %s", email);
	free(pwhash);
	user_free(u);
	return r;
}

int
user_disabled(struct ca *ca, const char *email, int *disabledp,
    struct ca_err *err)
{
	struct user *u = NULL;
	int r;

	if ((r = db_user_get(ca_db(ca), email, &u, NULL, err)) == 0)
		*disabledp = u->disabled != 0;
	user_free(u);
	return r;
}

int
user_set_password(struct ca *ca, const char *email, const char *password,
    struct ca_err *err)
{
	return store_secret(ca, email, NULL, password, 0, err);
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
