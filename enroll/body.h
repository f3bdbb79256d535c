/* Request bodies of EST: base64 (line breaks allowed), PEM or DER. */
#ifndef ENROLL_BODY_H
#define ENROLL_BODY_H

#include <stddef.h>

/* Decodes b to DER in *outp (malloc'ed); -1 when it is none of the three. */
int body_decode(const unsigned char *b, size_t n, unsigned char **outp,
    size_t *lenp);

#endif
