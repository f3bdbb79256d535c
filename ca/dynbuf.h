/*
 * A growing byte buffer with a cap, in the spirit of curl's dynbuf: the
 * data is always followed by a NUL (not counted), it never grows past
 * max bytes, and a secret buffer (a key file, a request body that may
 * carry a key) is wiped whenever it moves and when it is freed.
 */
#ifndef CA_DYNBUF_H
#define CA_DYNBUF_H

#include <stddef.h>

struct dynbuf {
	unsigned char *buf;	/* NULL until the first byte */
	size_t len;		/* bytes held */
	size_t cap;		/* bytes allocated (len + 1 at least) */
	size_t max;		/* len never exceeds it */
	int secret;		/* wipe on growth and on free */
};

#define DYNBUF_TOOBIG	(-1)	/* the data would pass max */
#define DYNBUF_NOMEM	(-2)

void dynbuf_init(struct dynbuf *d, size_t max, int secret);
/* Appends n bytes: 0, DYNBUF_TOOBIG (nothing added) or DYNBUF_NOMEM. */
int dynbuf_add(struct dynbuf *d, const void *p, size_t n);
/*
 * Room for at least one and up to n more bytes after the data, for
 * read(2): returns how many (0 when the buffer is at max) or DYNBUF_NOMEM.
 * The caller writes at d->buf + d->len and calls dynbuf_commit.
 */
long dynbuf_room(struct dynbuf *d, size_t n);
void dynbuf_commit(struct dynbuf *d, size_t n);
/* Hands the data over (NUL-terminated; free with free, or wipe first). */
unsigned char *dynbuf_take(struct dynbuf *d, size_t *lenp);
/* Frees the data (wiped if secret); the buffer can be used again. */
void dynbuf_free(struct dynbuf *d);

#endif
