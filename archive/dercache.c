/*
 * Decoded certificates by their DER (see dercache.h). A small table,
 * replaced round robin; a lookup compares the bytes, so an entry cannot
 * answer for other bytes. X509 and EVP_PKEY are reference counted and
 * safe to share between threads for reading and for operations.
 */
#include "ac-config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archive/dercache.h"

#define DC_SLOTS	32

struct dc_ent {
	unsigned char *der;
	size_t len;
	X509 *cert;
	EVP_PKEY *key;		/* the exchange key, when set */
};

static struct dc_ent dc_tab[DC_SLOTS];
static size_t dc_next;
static pthread_mutex_t dc_lock = PTHREAD_MUTEX_INITIALIZER;

static struct dc_ent *dc_find(const unsigned char *, size_t);
static void dc_clear(struct dc_ent *);

/* Under dc_lock. */
static struct dc_ent *
dc_find(const unsigned char *der, size_t len)
{
	size_t i;

	for (i = 0; i < DC_SLOTS; i++)
		if (dc_tab[i].der != NULL && dc_tab[i].len == len &&
		    memcmp(dc_tab[i].der, der, len) == 0)
			return &dc_tab[i];
	return NULL;
}

static void
dc_clear(struct dc_ent *e)
{
	free(e->der);
	X509_free(e->cert);
	EVP_PKEY_free(e->key);
	memset(e, 0, sizeof(*e));
}

X509 *
dc_cert(const unsigned char *der, size_t len)
{
	struct dc_ent *e;
	const unsigned char *p = der;
	unsigned char *copy = NULL;
	X509 *cert = NULL, *ret = NULL;

	if (der == NULL || len == 0 || len > (size_t)INT32_MAX)
		return NULL;
	pthread_mutex_lock(&dc_lock);
	if ((e = dc_find(der, len)) != NULL && X509_up_ref(e->cert))
		ret = e->cert;
	pthread_mutex_unlock(&dc_lock);
	if (ret != NULL)
		return ret;
	/* Decoded outside the lock: it is the slow part. */
	if ((cert = d2i_X509(NULL, &p, (long)len)) == NULL ||
	    p != der + len) {
		X509_free(cert);
		return NULL;
	}
	/* Kept only when the table can take it; the caller has it anyway. */
	if ((copy = malloc(len)) == NULL || !X509_up_ref(cert)) {
		free(copy);
		return cert;
	}
	memcpy(copy, der, len);
	pthread_mutex_lock(&dc_lock);
	if (dc_find(der, len) != NULL) {
		/* Another thread kept the same bytes meanwhile. */
		pthread_mutex_unlock(&dc_lock);
		free(copy);
		X509_free(cert);
		return cert;
	}
	e = &dc_tab[dc_next];
	dc_next = (dc_next + 1) % DC_SLOTS;
	dc_clear(e);
	e->der = copy;
	e->len = len;
	e->cert = cert;
	pthread_mutex_unlock(&dc_lock);
	return cert;
}

EVP_PKEY *
dc_key(const unsigned char *der, size_t len)
{
	struct dc_ent *e;
	EVP_PKEY *key = NULL;

	if (der == NULL)
		return NULL;
	pthread_mutex_lock(&dc_lock);
	if ((e = dc_find(der, len)) != NULL && e->key != NULL &&
	    EVP_PKEY_up_ref(e->key))
		key = e->key;
	pthread_mutex_unlock(&dc_lock);
	return key;
}

void
dc_set_key(const unsigned char *der, size_t len, EVP_PKEY *key)
{
	struct dc_ent *e;

	if (der == NULL || key == NULL)
		return;
	pthread_mutex_lock(&dc_lock);
	if ((e = dc_find(der, len)) != NULL && e->key == NULL &&
	    EVP_PKEY_up_ref(key))
		e->key = key;
	pthread_mutex_unlock(&dc_lock);
}

void
dc_flush(void)
{
	size_t i;

	pthread_mutex_lock(&dc_lock);
	for (i = 0; i < DC_SLOTS; i++)
		dc_clear(&dc_tab[i]);
	dc_next = 0;
	pthread_mutex_unlock(&dc_lock);
}
