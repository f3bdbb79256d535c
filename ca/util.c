/* Small helpers shared by the CA modules: files, hex, time. */
#include "ac-config.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "ca/dynbuf.h"
#include "ca/err.h"
#include "ca/util.h"

static int write_file(const char *, const void *, size_t, int, int,
    struct ca_err *);

int
util_read_file(const char *path, size_t maxlen, unsigned char **bufp,
    size_t *lenp, struct ca_err *err)
{
	struct dynbuf d;
	ssize_t n;
	long room;
	int fd = -1, r = CA_ERR_IO;

	*bufp = NULL;
	if (lenp != NULL)
		*lenp = 0;
	/* Key files come through here: no copy is left behind unwiped. */
	dynbuf_init(&d, maxlen + 1, 1);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		r = ca_err_set(err, errno == ENOENT ? CA_ERR_NOTFOUND :
		    CA_ERR_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	for (;;) {
		if ((room = dynbuf_room(&d, 65536)) == 0) {
			r = ca_err_set(err, CA_ERR_INVALID,
			    "%s: larger than %zu bytes", path, maxlen);
			goto out;
		}
		if (room < 0) {
			r = ca_err_set(err, CA_ERR_NOMEM,
			    "%s: out of memory", path);
			goto out;
		}
		n = read(fd, d.buf + d.len, (size_t)room);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			r = ca_err_set(err, CA_ERR_IO, "%s: %s", path,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		dynbuf_commit(&d, (size_t)n);
	}
	if (d.len > maxlen) {
		r = ca_err_set(err, CA_ERR_INVALID, "%s: larger than %zu bytes",
		    path, maxlen);
		goto out;
	}
	if ((*bufp = dynbuf_take(&d, lenp)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "%s: out of memory", path);
		goto out;
	}
	r = 0;
 out:
	if (fd != -1)
		close(fd);
	dynbuf_free(&d);
	return r;
}

int
util_write_file(const char *path, const void *buf, size_t len, int mode,
    struct ca_err *err)
{
	return write_file(path, buf, len, mode, 1, err);
}

int
util_write_file_nosync(const char *path, const void *buf, size_t len,
    int mode, struct ca_err *err)
{
	return write_file(path, buf, len, mode, 0, err);
}

int
util_sync_fs(const char *dir, struct ca_err *err)
{
	int fd, r = 0;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return ca_err_set(err, CA_ERR_IO, "%s: %s", dir,
		    strerror(errno));
	if (syncfs(fd) == -1)
		r = ca_err_set(err, CA_ERR_IO, "%s: syncfs: %s", dir,
		    strerror(errno));
	close(fd);
	return r;
}

static int
write_file(const char *path, const void *buf, size_t len, int mode,
    int sync, struct ca_err *err)
{
	char *tmp = NULL;
	const unsigned char *p = buf;
	size_t off = 0;
	ssize_t n;
	int fd = -1, r = CA_ERR_IO;

	if (asprintf(&tmp, "%s.tmpXXXXXX", path) == -1) {
		tmp = NULL;
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((fd = mkstemp(tmp)) == -1) {
		r = ca_err_set(err, CA_ERR_IO, "%s: cannot create: %s", path,
		    strerror(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	if (fchmod(fd, (mode_t)mode) == -1) {
		r = ca_err_set(err, CA_ERR_IO, "%s: chmod: %s", tmp,
		    strerror(errno));
		goto out;
	}
	while (off < len) {
		n = write(fd, p + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			r = ca_err_set(err, CA_ERR_IO, "%s: write: %s", path,
			    strerror(errno));
			goto out;
		}
		off += (size_t)n;
	}
	if ((sync && fsync(fd) == -1) || close(fd) == -1) {
		fd = -1;
		r = ca_err_set(err, CA_ERR_IO, "%s: %s", path,
		    strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) == -1) {
		r = ca_err_set(err, CA_ERR_IO, "%s: rename: %s", path,
		    strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	r = 0;
 out:
	if (fd != -1)
		close(fd);
	if (tmp != NULL) {
		unlink(tmp);
		free(tmp);
	}
	return r;
}

int
util_check_private(const char *path, struct ca_err *err)
{
	struct stat st;

	if (stat(path, &st) == -1)
		return ca_err_set(err, errno == ENOENT ? CA_ERR_NOTFOUND :
		    CA_ERR_IO, "%s: %s", path, strerror(errno));
	if ((st.st_mode & 077) != 0)
		return ca_err_set(err, CA_ERR_PERM,
		    "%s: permissions %04o are too open: a private key must "
		    "not be readable by others (run: chmod 600 %s)", path,
		    (unsigned)(st.st_mode & 07777), path);
	return 0;
}

char *
util_path(const char *dir, const char *name)
{
	char *p;

	if (name[0] == '/')
		return strdup(name);
	if (asprintf(&p, "%s/%s", dir, name) == -1)
		return NULL;
	return p;
}

void
util_hex(const unsigned char *buf, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[buf[i] >> 4];
		out[2 * i + 1] = digits[buf[i] & 0xf];
	}
	out[2 * len] = '\0';
}

int
util_unhex(const char *hex, unsigned char *out, size_t len)
{
	size_t i;
	int hi, lo;

	if (strlen(hex) != 2 * len)
		goto fail;
	for (i = 0; i < len; i++) {
		if ((hi = OPENSSL_hexchar2int((unsigned char)hex[2 * i])) < 0 ||
		    (lo = OPENSSL_hexchar2int((unsigned char)hex[2 * i + 1])) <
		    0)
			goto fail;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
 fail:
	OPENSSL_cleanse(out, len);
	return -1;
}

void
util_sha256_hex(const unsigned char *buf, size_t len, char out[65])
{
	unsigned char md[32];

	if (EVP_Digest(buf, len, md, NULL, EVP_sha256(), NULL) != 1) {
		out[0] = '\0';
		return;
	}
	util_hex(md, sizeof(md), out);
}

void
util_sha1_hex(const unsigned char *buf, size_t len, char out[41])
{
	unsigned char md[20];

	if (EVP_Digest(buf, len, md, NULL, EVP_sha1(), NULL) != 1) {
		out[0] = '\0';
		return;
	}
	util_hex(md, sizeof(md), out);
}

void
util_lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

/*
 * The length of the valid UTF-8 character at p (at most n bytes) with its
 * code point in *cp, or 0: a stray byte, an overlong form, a surrogate.
 */
static size_t
utf8_char(const unsigned char *p, size_t n, uint32_t *cp)
{
	uint32_t c;
	size_t len, i;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		c = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3;
		c = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		c = p[0] & 0x07;
	} else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	*cp = c;
	return len;
}

/*
 * Characters a terminal or log viewer acts on: C0 and C1 controls, DEL,
 * line and paragraph separators, and bidirectional overrides (which make
 * a line read other than it is written).
 */
static int
log_unsafe(uint32_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) ||
	    c == 0x200e || c == 0x200f || (c >= 0x2028 && c <= 0x202e) ||
	    (c >= 0x2066 && c <= 0x2069);
}

size_t
util_escape_log(char *out, size_t outlen, const char *in, size_t inlen)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)in;
	char esc[16];
	size_t i = 0, o = 0, len, k, e;
	uint32_t c = 0;
	int bad;

	if (outlen == 0)
		return 0;
	while (i < inlen) {
		e = 0;
		if ((bad = (len = utf8_char(p + i, inlen - i, &c)) == 0))
			len = 1;
		if (!bad && c == '\\') {
			esc[e++] = '\\';
			esc[e++] = '\\';
		} else if (!bad && (c == '\n' || c == '\r' || c == '\t')) {
			esc[e++] = '\\';
			esc[e++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		} else if (bad || log_unsafe(c)) {
			/* Byte by byte: a stray byte, or each of the char. */
			for (k = 0; k < len; k++) {
				esc[e++] = '\\';
				esc[e++] = 'x';
				esc[e++] = hex[p[i + k] >> 4];
				esc[e++] = hex[p[i + k] & 0xf];
			}
		} else {
			memcpy(esc, p + i, len);
			e = len;
		}
		/* Never a part of an escape or of a character. */
		if (o + e >= outlen)
			break;
		memcpy(out + o, esc, e);
		o += e;
		i += len;
	}
	out[o] = '\0';
	return o;
}

int64_t
util_asn1_time_to_unix(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

void
util_iso8601(int64_t t, char out[21])
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		out[0] = '\0';
}

int
util_serial_hex(const ASN1_INTEGER *serial, char out[65])
{
	BIGNUM *bn = NULL;
	char *hex = NULL;
	int r = -1;

	out[0] = '\0';
	if ((bn = ASN1_INTEGER_to_BN(serial, NULL)) == NULL ||
	    BN_is_negative(bn) || (hex = BN_bn2hex(bn)) == NULL ||
	    strlen(hex) > 64)
		goto out;
	strcpy(out, hex);
	util_lower(out);
	r = 0;
 out:
	OPENSSL_free(hex);
	BN_free(bn);
	return r;
}

ASN1_INTEGER *
util_serial_from_hex(const char *hex)
{
	BIGNUM *bn = NULL;
	ASN1_INTEGER *ai = NULL;
	size_t i, len = strlen(hex);

	if (len == 0 || len > 64)
		return NULL;
	for (i = 0; i < len; i++)
		if (!isxdigit((unsigned char)hex[i]))
			return NULL;
	if (BN_hex2bn(&bn, hex) != (int)len)
		goto out;
	ai = BN_to_ASN1_INTEGER(bn, NULL);
 out:
	BN_free(bn);
	return ai;
}

char *
util_name_oneline(const X509_NAME *name)
{
	BIO *b = NULL;
	char *s = NULL;
	long n;
	char *p;

	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return NULL;
	if (X509_NAME_print_ex(b, name, 0,
	    (XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB & ~XN_FLAG_DN_REV) |
	    XN_FLAG_SEP_COMMA_PLUS) < 0)
		goto out;
	n = BIO_get_mem_data(b, &p);
	if (n < 0 || (s = malloc((size_t)n + 1)) == NULL)
		goto out;
	memcpy(s, p, (size_t)n);
	s[n] = '\0';
 out:
	BIO_free(b);
	return s;
}

int
util_read_cert(const char *path, X509 **certp, struct ca_err *err)
{
	unsigned char *buf = NULL;
	const unsigned char *p;
	size_t len;
	BIO *b = NULL;
	int r;

	*certp = NULL;
	if ((r = util_read_file(path, 1024 * 1024, &buf, &len, err)) != 0)
		return r;
	p = buf;
	if (len > 0 && buf[0] == 0x30)
		*certp = d2i_X509(NULL, &p, (long)len);
	else if ((b = BIO_new_mem_buf(buf, (int)len)) != NULL)
		*certp = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	free(buf);
	if (*certp == NULL)
		return ca_err_ssl(err, CA_ERR_INVALID, "%s: not a certificate "
		    "(PEM or DER)", path);
	return 0;
}

int
util_write_cert(const char *path, X509 *cert, struct ca_err *err)
{
	BIO *b = NULL;
	char *data;
	long len;
	int r;

	if ((b = BIO_new(BIO_s_mem())) == NULL || !PEM_write_bio_X509(b, cert))
		r = ca_err_ssl(err, CA_ERR_NOMEM, "encoding certificate");
	else {
		len = BIO_get_mem_data(b, &data);
		r = util_write_file(path, data, (size_t)len, 0644, err);
	}
	BIO_free(b);
	return r;
}

int
util_read_passphrase(const char *path, char **passp, struct ca_err *err)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int r;

	*passp = NULL;
	if ((r = util_read_file(path, 4096, &buf, &len, err)) != 0)
		return ca_err_set(err, r, "cannot read the passphrase file %s",
		    path);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	/* Only the first line counts. */
	len = strcspn((char *)buf, "\r\n");
	buf[len] = '\0';
	if (len == 0) {
		OPENSSL_clear_free(buf, len + 1);
		return ca_err_set(err, CA_ERR_INVALID,
		    "passphrase file %s is empty", path);
	}
	*passp = (char *)buf;
	return 0;
}

void
util_free_secret(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_clear_free(s, strlen(s));
}

char *
util_b64_encode(const unsigned char *buf, size_t len)
{
	char *out;

	if (len > (size_t)INT_MAX / 4 * 3 - 3 ||
	    (out = malloc((len + 2) / 3 * 4 + 1)) == NULL)
		return NULL;
	EVP_EncodeBlock((unsigned char *)out, buf, (int)len);
	return out;
}

int
util_b64_decode(const char *s, size_t maxlen, unsigned char **bufp,
    size_t *lenp, struct ca_err *err)
{
	size_t n = strlen(s), pad = 0;
	unsigned char *out;
	int dl;

	*bufp = NULL;
	*lenp = 0;
	if (n == 0 || n % 4 != 0 || n > (size_t)INT_MAX || n / 4 * 3 > maxlen)
		return ca_err_set(err, CA_ERR_INVALID, "not base64 of at most "
		    "%zu bytes (%zu characters)", maxlen, n);
	if (s[n - 1] == '=')
		pad = s[n - 2] == '=' ? 2 : 1;
	if ((out = malloc(n / 4 * 3 + 1)) == NULL)
		return ca_err_set(err, CA_ERR_NOMEM, "out of memory");
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	if ((dl = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n)) < 0 ||
	    (size_t)dl < pad) {
		free(out);
		return ca_err_set(err, CA_ERR_INVALID, "not valid base64");
	}
	*bufp = out;
	*lenp = (size_t)dl - pad;
	return 0;
}

int
util_cert_sha1(X509 *cert, char out[41])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (X509_digest(cert, EVP_sha1(), md, &len) != 1 || len != 20)
		return -1;
	util_hex(md, len, out);
	return 0;
}
