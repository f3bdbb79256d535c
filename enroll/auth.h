/* Who is asking: HTTP Basic (accounts, codes) or a TLS client certificate. */
#ifndef ENROLL_AUTH_H
#define ENROLL_AUTH_H

struct db_cert;
struct dir_entry;
struct req;
struct resp;
struct wk;

struct auth_acct {
	char id[320];		/* recorded as the requester */
	char owner[256];	/* whose certificates: "" = the administrator */
	char mail[256];		/* lower-case */
	char cn[256];
	struct dir_entry *entry;	/* directory account: {dir:ATTR} */
};

/* Frees what an account holds (its directory entry). */
void auth_acct_clear(struct auth_acct *a);

/* Seeds the credential cache's key; call once before serving. */
int auth_init(void);
/* Forgets remembered passwords (after a reload). */
void auth_flush(void);
/*
 * HTTP Basic against local accounts and single-use enrollment codes, then,
 * when <ldap accounts="yes">, by a simple bind as the user's directory
 * entry. 0, or -1 with rs set: 401 and a challenge, the same text and two
 * scrypts for every refusal; 503 when the directory cannot be reached, or
 * when the queue for the scrypt slot is full (with Retry-After).
 */
int auth_basic(struct req *rq, struct resp *rs, struct wk *w,
    struct auth_acct *a);
/*
 * The TLS client certificate: issued by this CA, valid now, not revoked.
 * 0 and *dcp (its row), or -1 with rs set. The account is the one the
 * certificate was issued for: its owner and mail as the database has them.
 */
int auth_client_cert(struct req *rq, struct resp *rs, struct wk *w,
    struct auth_acct *a, struct db_cert **dcp);

#endif
