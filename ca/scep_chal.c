/*
 * SCEP challenge passwords. scep_chal_check is the one door: it tells the
 * kinds apart and checks each; a new kind is one more case there and in
 * scep_chal_consume. One-time challenges are 128 random bits, stored as a
 * salted PBKDF2 hash (the secret's entropy, not the iterations, is what
 * protects it, so the count stays low enough for enrollments at speed).
 */
#include "ac-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "ca/audit.h"
#include "ca/ca.h"
#include "ca/db.h"
#include "ca/err.h"
#include "ca/mdmchal.h"
#include "ca/scep.h"
#include "ca/template.h"
#include "ca/util.h"

#define OTC_PREFIX	"otp1."		/* otp1.ID.SECRET */
#define OTC_SECRET	16		/* bytes; 32 hex digits */
#define OTC_ITER	1000
#define OTC_SALT	16

static int otc_hash(const char *, const unsigned char *, size_t, int,
    unsigned char [SHA256_DIGEST_LENGTH]);
static int check_static(const struct tpl *, const char *, struct scep_chal *,
    struct ca_err *);
static int check_onetime(struct ca *, const struct tpl *, const char *,
    int64_t, struct scep_chal *, struct ca_err *);
static int check_bound(struct ca *, const struct tpl *, const char *,
    X509_REQ *, int64_t, struct scep_chal *, struct ca_err *);

static int
otc_hash(const char *secret, const unsigned char *salt, size_t saltlen,
    int iter, unsigned char out[SHA256_DIGEST_LENGTH])
{
	return PKCS5_PBKDF2_HMAC(secret, (int)strlen(secret), salt,
	    (int)saltlen, iter, EVP_sha256(), SHA256_DIGEST_LENGTH, out) == 1 ?
	    0 : -1;
}

/* Compared as hashes, so that the time taken says nothing of the length. */
static int
check_static(const struct tpl *t, const char *pw, struct scep_chal *c,
    struct ca_err *err)
{
	unsigned char a[SHA256_DIGEST_LENGTH], b[SHA256_DIGEST_LENGTH];

	if (t->scep_challenge == NULL)
		return ca_err_set(err, CA_ERR_AUTH, "wrong challenge: "
		    "template %s has no static challenge and the password is "
		    "no one-time challenge of this CA", t->name);
	SHA256((const unsigned char *)pw, strlen(pw), a);
	SHA256((const unsigned char *)t->scep_challenge,
	    strlen(t->scep_challenge), b);
	if (CRYPTO_memcmp(a, b, sizeof(a)) != 0)
		return ca_err_set(err, CA_ERR_AUTH, "wrong challenge: not "
		    "the static challenge of template %s", t->name);
	c->kind = SCEP_CHAL_STATIC;
	snprintf(c->requester, sizeof(c->requester), "scep:static");
	return 0;
}

static int
check_onetime(struct ca *ca, const struct tpl *t, const char *pw,
    int64_t now, struct scep_chal *c, struct ca_err *err)
{
	struct db_scep_chal *row = NULL;
	unsigned char salt[OTC_SALT], want[SHA256_DIGEST_LENGTH];
	unsigned char got[SHA256_DIGEST_LENGTH];
	const char *p = pw + strlen(OTC_PREFIX), *dot;
	char *end, *f[4] = { NULL }, *copy = NULL, *save = NULL;
	long long id;
	int iter, i, r;

	id = strtoll(p, &end, 10);
	if (end == p || *end != '.' || id <= 0) {
		r = ca_err_set(err, CA_ERR_AUTH, "wrong challenge: a "
		    "one-time challenge reads otp1.ID.SECRET");
		goto out;
	}
	dot = end + 1;
	r = db_scep_chal_get(ca_db(ca), (int64_t)id, &row, err);
	if (r == CA_ERR_NOTFOUND) {
		r = ca_err_set(err, CA_ERR_AUTH, "wrong challenge: no "
		    "one-time challenge %lld", id);
		goto out;
	} else if (r != 0)
		goto out;
	/* "pbkdf2-sha256$ITER$SALT$HASH" */
	if ((copy = strdup(row->hash)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < 4; i++)
		f[i] = strtok_r(i == 0 ? copy : NULL, "$", &save);
	if (f[3] == NULL || strcmp(f[0], "pbkdf2-sha256") != 0 ||
	    (iter = atoi(f[1])) <= 0 || strlen(f[2]) != 2 * OTC_SALT ||
	    util_unhex(f[2], salt, sizeof(salt)) != 0 ||
	    strlen(f[3]) != 2 * sizeof(want) ||
	    util_unhex(f[3], want, sizeof(want)) != 0) {
		r = ca_err_set(err, CA_ERR_DB, "one-time challenge %lld: "
		    "the stored hash is unreadable", id);
		goto out;
	}
	if (otc_hash(dot, salt, sizeof(salt), iter, got) != 0) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "hashing the challenge");
		goto out;
	}
	if (CRYPTO_memcmp(got, want, sizeof(got)) != 0) {
		r = ca_err_set(err, CA_ERR_AUTH, "wrong challenge: the "
		    "secret of one-time challenge %lld does not match", id);
		goto out;
	}
	if (row->used != 0) {
		r = ca_err_set(err, CA_ERR_AUTH, "used challenge: one-time "
		    "challenge %lld was used already", id);
		goto out;
	}
	if (row->expires < now) {
		r = ca_err_set(err, CA_ERR_AUTH, "expired challenge: "
		    "one-time challenge %lld expired %lld s ago", id,
		    (long long)(now - row->expires));
		goto out;
	}
	if (row->template != NULL && strcmp(row->template, t->name) != 0) {
		r = ca_err_set(err, CA_ERR_AUTH, "wrong challenge: one-time "
		    "challenge %lld is for template %s, not %s", id,
		    row->template, t->name);
		goto out;
	}
	c->kind = SCEP_CHAL_ONETIME;
	c->id = row->id;
	if (row->email != NULL)
		snprintf(c->email, sizeof(c->email), "%s", row->email);
	snprintf(c->requester, sizeof(c->requester), "scep:otc:%lld", id);
	r = 0;
 out:
	free(copy);
	db_scep_chal_free(row);
	return r;
}

/*
 * An Intune-style challenge (smimeca mdm scep-challenge): its MAC, expiry,
 * single use, template, and the request's subject and rfc822Name exactly
 * as it names them (mdmchal_check). The certificate is for its address.
 */
static int
check_bound(struct ca *ca, const struct tpl *t, const char *pw,
    X509_REQ *csr, int64_t now, struct scep_chal *c, struct ca_err *err)
{
	struct mdmchal_claims claims;
	int64_t id;
	int r;

	if ((r = mdmchal_check(ca, t->name, pw, csr, now, &id, err)) != 0) {
		/* A refusal is the client's: AUTH; our faults stay as they are. */
		if (r == CA_ERR_POLICY || r == CA_ERR_EXISTS ||
		    r == CA_ERR_AUTH || r == CA_ERR_INVALID)
			err->code = r = CA_ERR_AUTH;
		return r;
	}
	if ((r = mdmchal_decode(pw, NULL, &claims, err)) != 0)
		return r;
	c->kind = SCEP_CHAL_BOUND;
	c->id = id;
	snprintf(c->email, sizeof(c->email), "%s", claims.email);
	snprintf(c->requester, sizeof(c->requester), "scep:mdm:%lld",
	    (long long)id);
	OPENSSL_cleanse(&claims, sizeof(claims));
	return 0;
}

int
scep_chal_check(struct ca *ca, const struct tpl *t, const char *pw,
    X509_REQ *csr, int64_t now, struct scep_chal *c, struct ca_err *err)
{
	memset(c, 0, sizeof(*c));
	if (pw == NULL || *pw == '\0')
		return ca_err_set(err, CA_ERR_AUTH, "no challenge: the "
		    "request carries no challengePassword");
	if (mdmchal_is_bound(pw))
		return check_bound(ca, t, pw, csr, now, c, err);
	if (strncmp(pw, OTC_PREFIX, strlen(OTC_PREFIX)) == 0)
		return check_onetime(ca, t, pw, now, c, err);
	return check_static(t, pw, c, err);
}

int
scep_chal_consume(struct db *db, const struct scep_chal *c, int64_t now,
    struct ca_err *err)
{
	int r;

	switch (c->kind) {
	case SCEP_CHAL_ONETIME:
		r = db_scep_chal_use(db, c->id, now, err);
		if (r == CA_ERR_EXISTS) {
			ca_err_clear(err);
			r = ca_err_set(err, CA_ERR_AUTH, "used challenge: "
			    "one-time challenge %lld was used by another "
			    "request meanwhile", (long long)c->id);
		}
		return r;
	case SCEP_CHAL_BOUND:
		r = mdmchal_consume(db, c->id, err);
		if (r == CA_ERR_EXISTS) {
			ca_err_clear(err);
			r = ca_err_set(err, CA_ERR_AUTH, "used challenge: "
			    "bound challenge %lld was used by another request "
			    "meanwhile", (long long)c->id);
		}
		return r;
	case SCEP_CHAL_STATIC:
		return 0;
	case SCEP_CHAL_NONE:
	default:
		return 0;
	}
}

int
scep_chal_new(struct ca *ca, const char *tpl, const char *email,
    int64_t ttl, int64_t now, char **secretp, int64_t *idp,
    struct ca_err *err)
{
	struct db_scep_chal row;
	struct db *db = ca_db(ca);
	unsigned char sec[OTC_SECRET], salt[OTC_SALT];
	unsigned char h[SHA256_DIGEST_LENGTH];
	char hex[2 * OTC_SECRET + 1], shex[2 * OTC_SALT + 1];
	char hhex[2 * SHA256_DIGEST_LENGTH + 1], hash[160], detail[512];
	char *secret = NULL;
	int64_t id = 0;
	int r, in_tx = 0;

	*secretp = NULL;
	*idp = 0;
	if (RAND_bytes(sec, sizeof(sec)) != 1 ||
	    RAND_bytes(salt, sizeof(salt)) != 1) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "no random challenge");
		goto out;
	}
	util_hex(sec, sizeof(sec), hex);
	util_hex(salt, sizeof(salt), shex);
	if (otc_hash(hex, salt, sizeof(salt), OTC_ITER, h) != 0) {
		r = ca_err_ssl(err, CA_ERR_CRYPTO, "hashing the challenge");
		goto out;
	}
	util_hex(h, sizeof(h), hhex);
	snprintf(hash, sizeof(hash), "pbkdf2-sha256$%d$%s$%s", OTC_ITER,
	    shex, hhex);
	memset(&row, 0, sizeof(row));
	row.hash = hash;
	row.template = (char *)tpl;
	row.email = (char *)email;
	row.created = now;
	row.expires = now + ttl;
	row.created_by = (char *)ca_actor(ca);
	if ((r = db_begin(db, err)) != 0)
		goto out;
	in_tx = 1;
	if ((r = db_scep_chal_add(db, &row, &id, err)) != 0)
		goto out;
	snprintf(detail, sizeof(detail), "id=%lld template=%s email=%s "
	    "expires=%lld", (long long)id, tpl ? tpl : "*",
	    email ? email : "*", (long long)row.expires);
	if ((r = audit_append(db, ca_actor(ca), "scep-challenge", "-",
	    detail, err)) != 0 || (r = db_commit(db, err)) != 0)
		goto out;
	in_tx = 0;
	if (asprintf(&secret, OTC_PREFIX "%lld.%s", (long long)id, hex) ==
	    -1) {
		secret = NULL;
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	*secretp = secret;
	*idp = id;
	r = 0;
 out:
	if (in_tx)
		db_rollback(db);
	OPENSSL_cleanse(sec, sizeof(sec));
	OPENSSL_cleanse(hex, sizeof(hex));
	return r;
}
