/* The LDAP directory: connections, user lookups, binds, value changes. */
#ifndef CA_LDAPDIR_H
#define CA_LDAPDIR_H

#include <stddef.h>

struct ca_config;
struct ca_err;
struct dir;			/* a connection, bound as <bind dn> */
struct iss_account;

/* One value, NUL-terminated past len so text values read as strings. */
struct dir_value {
	unsigned char *data;
	size_t len;
};

struct dir_attr {
	char *name;		/* as the server returned it */
	struct dir_value *values;
	size_t nvalues;
};

/* An entry as read with the service account's rights. */
struct dir_entry {
	char *dn;
	char *mail;		/* first mail value, lower-case, or NULL */
	char *cn;		/* first cn value, or NULL */
	char *uid;		/* first uid value, or NULL */
	struct dir_attr *attrs;
	size_t nattrs;
};

/*
 * Error codes: CA_ERR_CONFIG no <ldap> section or bad settings,
 * CA_ERR_IO the directory cannot be reached or is busy (try again later),
 * CA_ERR_NOTFOUND no such entry, CA_ERR_AUTH a bind was refused,
 * CA_ERR_INVALID anything else the directory refuses.
 */

/*
 * Connects to <server uri> (StartTLS when set), and binds as <bind dn>
 * with the first line of its password file, which is wiped after use; no
 * <bind>: anonymous.
 */
int dir_open(const struct ca_config *cfg, struct dir **dp,
    struct ca_err *err);
void dir_close(struct dir *d);

/*
 * The filter template with every %s replaced by value, escaped as RFC 4515
 * says ('*', '(', ')', '\' and NUL as \XX). NULL when out of memory.
 */
char *dir_filter(const char *tmpl, const char *value);

/*
 * The one entry under <users base> matching tmpl with value (attrs: the
 * attributes to read, NULL-terminated; NULL = all user attributes).
 * CA_ERR_NOTFOUND when none matches, CA_ERR_INVALID when several do.
 */
int dir_find(struct dir *d, const char *tmpl, const char *value,
    const char *const *attrs, struct dir_entry **ep, struct ca_err *err);

/*
 * Every entry under <users base> matching filter (a complete filter), with
 * the attributes named in attrs.
 */
int dir_search(struct dir *d, const char *filter, const char *const *attrs,
    struct dir_entry ***listp, size_t *np, struct ca_err *err);

/* The user entry of a mail address (<users filter>), all its attributes. */
int dir_lookup(const struct ca_config *cfg, const char *mail,
    struct dir_entry **ep, struct ca_err *err);

/*
 * Directory accounts: finds user (a mail address or a uid) with <users
 * login-filter> as the service account, then binds as that entry's DN with
 * password. An empty password is refused before any bind (an LDAP simple
 * bind without a password is an unauthenticated bind that succeeds).
 * CA_ERR_NOTFOUND: no such user in the directory; CA_ERR_AUTH: wrong
 * password, or the name matches several entries; CA_ERR_IO: the directory
 * cannot be reached. The message says which, for logs; an HTTP server
 * answers 401 to the first two alike. *ep gets the entry (for {dir:ATTR}).
 */
int dir_authenticate(const struct ca_config *cfg, const char *user,
    const char *password, struct dir_entry **ep, struct ca_err *err);

/* First value of attr (case-insensitive, options ignored) as text. */
const char *dir_entry_get(const struct dir_entry *e, const char *attr);
/* The same, with the signature of iss_account.lookup (ctx: the entry). */
const char *dir_entry_lookup(void *ctx, const char *attr);
/* The values of attr; NULL and *np = 0 when the entry has none. */
const struct dir_attr *dir_entry_attr(const struct dir_entry *e,
    const char *attr);
/*
 * Fills *a for issuing to e's user: id (recorded as the requester), mail
 * and cn from the entry, every other {dir:ATTR} through dir_entry_lookup.
 * a borrows from e, which must outlive it.
 */
void dir_account(const struct dir_entry *e, const char *id,
    struct iss_account *a);
void dir_entry_free(struct dir_entry *e);
void dir_entry_free_list(struct dir_entry **list, size_t n);

/*
 * Value changes on one entry. Adding a value that is there already and
 * deleting one that is not both succeed (*changedp 0), so that a retried
 * job changes the directory exactly once.
 */
int dir_add_value(struct dir *d, const char *dn, const char *attr,
    const unsigned char *v, size_t len, int *changedp, struct ca_err *err);
int dir_delete_value(struct dir *d, const char *dn, const char *attr,
    const unsigned char *v, size_t len, int *changedp, struct ca_err *err);
/* Replaces every value of attr (n == 0 removes the attribute). */
int dir_replace_values(struct dir *d, const char *dn, const char *attr,
    const struct dir_value *v, size_t n, struct ca_err *err);

#endif
