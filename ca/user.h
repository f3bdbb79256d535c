/* Local accounts and single-use enrollment codes. */
#ifndef CA_USER_H
#define CA_USER_H

#include <stddef.h>
#include <stdint.h>

struct ca;
struct ca_err;
struct db;

/* A SHA-256 over the account's id, password hash and enabled flag. */
#define USER_STAMP_LEN	32

struct user {
	int64_t id;
	char *email;		/* lower-case */
	char *cn;		/* display name, may be NULL */
	int disabled;
	int via_code;		/* authenticated by a single-use code */
	int64_t created;
	unsigned char stamp[USER_STAMP_LEN];	/* as authenticated */
};

/* Hashes a secret with scrypt and a random salt: "scrypt$N$r$p$salt$hash". */
int user_hash_secret(const char *secret, char **hashp, struct ca_err *err);
/*
 * Constant-time check of a secret against a stored hash; 0 if it matches.
 * Runs exactly one scrypt, whatever stored holds.
 */
int user_check_secret(const char *secret, const char *stored);
/*
 * The two stand-in scrypts a refused login costs, for a refusal decided
 * before any account was looked up.
 */
void user_stand_in(const char *secret);
/* How many scrypts this process has run (every hash and every check). */
uint64_t user_scrypt_count(void);

/* Adds an account (own transaction, audited); CA_ERR_EXISTS if known. */
int user_add(struct ca *ca, const char *email, const char *cn,
    const char *password, struct ca_err *err);
int user_set_disabled(struct ca *ca, const char *email, int disabled,
    struct ca_err *err);
/* Sets a new password (own transaction, audited); CA_ERR_NOTFOUND. */
int user_set_password(struct ca *ca, const char *email,
    const char *password, struct ca_err *err);
/*
 * The account's stamp as stored now (email lower-case): 0 and stamp, or
 * CA_ERR_NOTFOUND. A login remembered with another stamp is stale: the
 * password changed, or the account was disabled or replaced.
 */
int user_stamp(struct ca *ca, const char *email, unsigned char *stamp,
    struct ca_err *err);
/* Whether the local account email is disabled; CA_ERR_NOTFOUND if none. */
int user_disabled(struct ca *ca, const char *email, int *disabledp,
    struct ca_err *err);
int user_list(struct db *db, struct user ***listp, size_t *np,
    struct ca_err *err);
/*
 * Makes a single-use enrollment code valid for ttl seconds; *codep is the
 * code in clear (shown once), only its hash is stored.
 */
int user_code_new(struct ca *ca, const char *email, int64_t ttl,
    char **codep, struct ca_err *err);
/*
 * Authenticates email + password or an unused, unexpired code (which is
 * then used up). CA_ERR_AUTH on any failure, without saying which part;
 * every failure costs exactly two scrypts, so an unknown or disabled
 * account takes the same work as a wrong password. *up carries the
 * account's stamp (user_stamp) as it was checked.
 */
int user_authenticate(struct ca *ca, const char *email, const char *secret,
    int64_t now, struct user **up, struct ca_err *err);
void user_free(struct user *u);
void user_free_list(struct user **list, size_t n);

#endif
