/* The capped, optionally wiping byte buffer of dynbuf.h. */
#include "ac-config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ca/dynbuf.h"

void
dynbuf_init(struct dynbuf *d, size_t max, int secret)
{
	memset(d, 0, sizeof(*d));
	d->max = max;
	d->secret = secret;
}

/* Room for need bytes of data and the NUL. */
static int
grow(struct dynbuf *d, size_t need)
{
	unsigned char *nb;
	size_t ncap;

	if (need > d->max)
		return DYNBUF_TOOBIG;
	if (need + 1 <= d->cap)
		return 0;
	ncap = d->cap < 256 ? 256 : d->cap;
	while (ncap < need + 1 && ncap <= d->max)
		ncap *= 2;
	if (ncap > d->max + 1)
		ncap = d->max + 1;
	if (!d->secret) {
		if ((nb = realloc(d->buf, ncap)) == NULL)
			return DYNBUF_NOMEM;
	} else {
		/* No copy of a secret may stay behind in freed memory. */
		if ((nb = malloc(ncap)) == NULL)
			return DYNBUF_NOMEM;
		if (d->buf != NULL) {
			memcpy(nb, d->buf, d->len + 1);
			OPENSSL_cleanse(d->buf, d->cap);
			free(d->buf);
		}
	}
	d->buf = nb;
	d->cap = ncap;
	d->buf[d->len] = '\0';
	return 0;
}

int
dynbuf_add(struct dynbuf *d, const void *p, size_t n)
{
	int r;

	if (n > d->max - d->len)
		return DYNBUF_TOOBIG;
	if ((r = grow(d, d->len + n)) != 0)
		return r;
	if (n > 0)
		memcpy(d->buf + d->len, p, n);
	d->len += n;
	d->buf[d->len] = '\0';
	return 0;
}

long
dynbuf_room(struct dynbuf *d, size_t n)
{
	size_t want;

	if (d->len >= d->max)
		return 0;
	want = n < d->max - d->len ? n : d->max - d->len;
	if (want > 65536)
		want = 65536;
	if (grow(d, d->len + want) != 0) {
		/* Settle for what is already there, if anything. */
		if (d->cap > d->len + 1)
			return (long)(d->cap - d->len - 1);
		return DYNBUF_NOMEM;
	}
	return (long)(d->cap - d->len - 1);
}

void
dynbuf_commit(struct dynbuf *d, size_t n)
{
	d->len += n;
	d->buf[d->len] = '\0';
}

unsigned char *
dynbuf_take(struct dynbuf *d, size_t *lenp)
{
	unsigned char *b;

	if (d->buf == NULL && grow(d, 0) != 0)
		return NULL;
	b = d->buf;
	if (lenp != NULL)
		*lenp = d->len;
	d->buf = NULL;
	d->len = d->cap = 0;
	return b;
}

void
dynbuf_free(struct dynbuf *d)
{
	if (d->buf != NULL) {
		if (d->secret)
			OPENSSL_cleanse(d->buf, d->cap);
		free(d->buf);
	}
	d->buf = NULL;
	d->len = d->cap = 0;
}
