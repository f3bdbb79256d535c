/* Small helpers shared by the CA modules: files, hex, time. */
#ifndef CA_UTIL_H
#define CA_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

struct ca_err;

/* Reads a whole file (at most maxlen bytes) into a NUL-terminated buffer. */
int util_read_file(const char *path, size_t maxlen, unsigned char **bufp,
    size_t *lenp, struct ca_err *err);
/* Writes atomically (temp file + rename) with the given mode. */
int util_write_file(const char *path, const void *buf, size_t len, int mode,
    struct ca_err *err);
/*
 * The same without the fsync of each file, for many files at once: the
 * caller calls util_sync_fs once they are written, before it reports them.
 */
int util_write_file_nosync(const char *path, const void *buf, size_t len,
    int mode, struct ca_err *err);
/* Flushes the file system that holds dir (syncfs). */
int util_sync_fs(const char *dir, struct ca_err *err);
/* Refuses a file that group or others can read (as ssh does for keys). */
int util_check_private(const char *path, struct ca_err *err);
/* Joins dir and name; returns malloc'd path or NULL. */
char *util_path(const char *dir, const char *name);
/* len bytes as 2 * len lower-case hex digits and a NUL into out. */
void util_hex(const unsigned char *buf, size_t len, char *out);
/*
 * Exactly 2 * len hex digits (either case, nothing else) into the len
 * bytes of out; -1 otherwise, with out zeroed. Copies nothing to the heap,
 * so it serves for secrets.
 */
int util_unhex(const char *hex, unsigned char *out, size_t len);
/* SHA-256 / SHA-1 of DER as lower-case hex (65 / 41 bytes incl. NUL). */
void util_sha256_hex(const unsigned char *buf, size_t len, char out[65]);
void util_sha1_hex(const unsigned char *buf, size_t len, char out[41]);
/* The certificate's SHA-1 thumbprint, lower-case hex; -1 on failure. */
int util_cert_sha1(X509 *cert, char out[41]);
/* Lower-cases an ASCII string in place. */
void util_lower(char *s);
/*
 * Client text made safe for one log line, as OpenSSH's log does with
 * strnvis(3): a backslash doubles; LF, CR and TAB become \n \r \t; every
 * other control character (C0, DEL, C1, line separators, bidi overrides)
 * and every byte of invalid UTF-8 becomes \xNN. Valid UTF-8 text stays.
 * Writes at most outlen bytes with the NUL (4 * inlen + 1 always fits),
 * never half an escape; returns the length written.
 */
size_t util_escape_log(char *out, size_t outlen, const char *in,
    size_t inlen);
int64_t util_asn1_time_to_unix(const ASN1_TIME *t);
/* "2026-11-22T20:00:00Z" into out (21 bytes). */
void util_iso8601(int64_t t, char out[21]);
/* Serial number of a certificate as lower-case hex without leading zeros. */
int util_serial_hex(const ASN1_INTEGER *serial, char out[65]);
/* Returns an ASN1_INTEGER from hex; NULL when not valid hex. */
ASN1_INTEGER *util_serial_from_hex(const char *hex);
/* One-line subject "CN=Alice,emailAddress=alice@lab.example". */
char *util_name_oneline(const X509_NAME *name);
/* Reads one certificate, PEM or DER. */
int util_read_cert(const char *path, X509 **certp, struct ca_err *err);
/* Writes one certificate as PEM (mode 0644). */
int util_write_cert(const char *path, X509 *cert, struct ca_err *err);
/* Reads a passphrase: first line of file (trailing newline stripped). */
int util_read_passphrase(const char *path, char **passp, struct ca_err *err);
/* Zeroes and frees a NUL-terminated secret. */
void util_free_secret(char *s);
/* Base64 on one line, NUL-terminated, malloc'd; NULL when out of memory. */
char *util_b64_encode(const unsigned char *buf, size_t len);
/* Decodes base64 without line breaks (at most maxlen bytes of output). */
int util_b64_decode(const char *s, size_t maxlen, unsigned char **bufp,
    size_t *lenp, struct ca_err *err);

#endif
