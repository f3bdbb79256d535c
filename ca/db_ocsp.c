/* Pre-produced OCSP responses: one signed response per certificate. */
#include "ac-config.h"

#include <stdlib.h>
#include <string.h>

#include "ca/db.h"
#include "ca/db_int.h"
#include "ca/err.h"

static const char SQL_OCSP_GET[] =
	"SELECT o.cert_id, o.serial, o.revoked, o.signer_id, o.this_update, "
	"o.next_update, o.der, c.serial, c.revoked, c.issuer_id "
	"FROM certs c JOIN ocsp_responses o ON o.cert_id = c.id "
	"AND o.hash = ? WHERE c.serial = ?";
/* Written only while the certificate is in the state the response says. */
static const char SQL_OCSP_PUT[] =
	"INSERT OR REPLACE INTO ocsp_responses(cert_id, hash, serial, "
	"revoked, signer_id, this_update, next_update, der) "
	"SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 FROM certs "
	"WHERE id = ?1 AND serial = ?3 AND revoked = ?4";
static const char SQL_OCSP_DROP[] =
	"DELETE FROM ocsp_responses WHERE cert_id = ?";
static const char SQL_OCSP_DUE[] =
	"SELECT c.serial FROM certs c LEFT JOIN ocsp_responses o "
	"ON o.cert_id = c.id AND o.hash = ?1 "
	"WHERE c.issuer_id = ?2 AND c.not_after >= ?3 AND "
	"(o.cert_id IS NULL OR o.revoked <> c.revoked OR o.signer_id <> ?4 "
	"OR o.next_update <= ?5) ORDER BY c.id LIMIT ?6";

int
db_ocsp_get(struct db *db, const char *serial, const char *hash,
    struct db_ocsp *o, struct ca_err *err)
{
	sqlite3_stmt *st;
	int r;

	memset(o, 0, sizeof(*o));
	if ((st = db_stmt(db, SQL_OCSP_GET)) == NULL)
		return db_fail(db, err, "%s: OCSP responses: preparing",
		    db->path);
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, serial, -1, SQLITE_STATIC);
	if ((r = db_get(db, st, err, "%s: reading the OCSP response of %s",
	    db->path, serial)) != 0)
		goto out;
	o->cert_id = sqlite3_column_int64(st, 0);
	db_col_copy(st, 1, o->serial, sizeof(o->serial));
	o->revoked = sqlite3_column_int(st, 2);
	o->signer_id = sqlite3_column_int64(st, 3);
	o->this_update = sqlite3_column_int64(st, 4);
	o->next_update = sqlite3_column_int64(st, 5);
	db_col_copy(st, 7, o->cert_serial, sizeof(o->cert_serial));
	o->cert_revoked = sqlite3_column_int(st, 8);
	o->cert_issuer_id = sqlite3_column_int64(st, 9);
	if (db_col_blob(st, 6, &o->der, &o->derlen) != 0)
		r = db_nomem(err);
 out:
	db_done(db, st);
	return r;
}

int
db_ocsp_put(struct db *db, const struct db_ocsp *o, const char *hash,
    int *storedp, struct ca_err *err)
{
	sqlite3_stmt *st;
	int r;

	*storedp = 0;
	if ((st = db_stmt(db, SQL_OCSP_PUT)) == NULL)
		return db_fail(db, err, "%s: OCSP responses: preparing",
		    db->path);
	sqlite3_bind_int64(st, 1, o->cert_id);
	sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, o->serial, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, o->revoked);
	sqlite3_bind_int64(st, 5, o->signer_id);
	sqlite3_bind_int64(st, 6, o->this_update);
	sqlite3_bind_int64(st, 7, o->next_update);
	sqlite3_bind_blob64(st, 8, o->der, o->derlen, SQLITE_STATIC);
	if ((r = db_run(db, st, err, "%s: storing the OCSP response of %s",
	    db->path, o->serial)) == 0)
		*storedp = db_changes(db) == 1;
	db_done(db, st);
	return r;
}

int
db_ocsp_drop(struct db *db, int64_t cert_id, struct ca_err *err)
{
	sqlite3_stmt *st;
	int r;

	if ((st = db_stmt(db, SQL_OCSP_DROP)) == NULL)
		return db_fail(db, err, "%s: OCSP responses: preparing",
		    db->path);
	sqlite3_bind_int64(st, 1, cert_id);
	r = db_run(db, st, err, "%s: dropping the OCSP responses of "
	    "certificate row %lld", db->path, (long long)cert_id);
	db_done(db, st);
	return r;
}

int
db_ocsp_due(struct db *db, int64_t issuer_id, const char *hash,
    int64_t signer_id, int64_t now, int64_t refresh_at, int max,
    char ***serialsp, size_t *np, struct ca_err *err)
{
	sqlite3_stmt *st;

	*serialsp = NULL;
	*np = 0;
	if ((st = db_stmt(db, SQL_OCSP_DUE)) == NULL)
		return db_fail(db, err, "%s: OCSP responses: preparing",
		    db->path);
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, issuer_id);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int64(st, 4, signer_id);
	sqlite3_bind_int64(st, 5, refresh_at);
	sqlite3_bind_int(st, 6, max > 0 ? max : -1);
	return db_strings(db, st, serialsp, np, err,
	    "OCSP responses due for signing");
}
