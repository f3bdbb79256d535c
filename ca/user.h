/* Local accounts and single-use enrollment codes. */
#ifndef CA_USER_H
#define CA_USER_H

#include <stddef.h>
#include <stdint.h>

struct ca;
struct ca_err;
struct db;

struct user {
	int64_t id;
	char *email;		/* lower-case */
	char *cn;		/* display name, may be NULL */
	int disabled;
	int via_code;		/* authenticated by a single-use code */
	int64_t created;
};

/* Hashes a secret with scrypt and a random salt: "scrypt$N$r$p$salt$hash". */
int user_hash_secret(const char *secret, char **hashp, struct ca_err *err);
/* Constant-time check of a secret against a stored hash; 0 if it matches. */
int user_check_secret(const char *secret, const char *stored);

/* Adds an account (own transaction, audited); CA_ERR_EXISTS if known. */
int user_add(struct ca *ca, const char *email, const char *cn,
    const char *password, struct ca_err *err);
int user_set_disabled(struct ca *ca, const char *email, int disabled,
    struct ca_err *err);
int user_list(struct db *db, struct user ***listp, size_t *np,
    struct ca_err *err);
/*
 * Makes a single-use enrollment code valid for ttl seconds; *codep is the
 * code in clear (shown once), only its hash is stored.
 */
int user_code_new(struct ca *ca, const char *email, int64_t ttl,
    char **codep, struct ca_err *err);
/* The caller asks a directory next when the account is not local. */
#define USER_AUTH_FALLBACK	0x1

/*
 * Authenticates email + password or an unused, unexpired code (which is
 * then used up). CA_ERR_AUTH on any failure, without saying which part;
 * an unknown or disabled account takes as long as a wrong password unless
 * flags has USER_AUTH_FALLBACK.
 */
int user_authenticate(struct ca *ca, const char *email, const char *secret,
    int64_t now, int flags, struct user **up, struct ca_err *err);
void user_free(struct user *u);
void user_free_list(struct user **list, size_t n);

#endif
