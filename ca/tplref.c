/*
 * {dir:ATTR} references in template values: where a value comes from an
 * attribute of the account's directory entry.
 */
#include "ac-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/err.h"
#include "ca/template.h"

#define TPL_DIR_REF	"{dir:"

static int next_ref(const char *, const char **, const char **, size_t *,
    const char **);

/*
 * Finds the next "{dir:ATTR}" in s: 1 with *startp at '{', the attribute
 * at *attrp (*attrlenp bytes) and *endp past '}'; 0 if there is none;
 * -1 (with *startp set) if a reference is not closed or its name is empty
 * or has other characters than letters, digits, '-' and ';'.
 */
static int
next_ref(const char *s, const char **startp, const char **attrp,
    size_t *attrlenp, const char **endp)
{
	const char *p, *a;

	if ((p = strstr(s, TPL_DIR_REF)) == NULL)
		return 0;
	*startp = p;
	a = p + strlen(TPL_DIR_REF);
	for (p = a; (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
	    (*p >= '0' && *p <= '9') || *p == '-' || *p == ';'; p++)
		;
	if (p == a || *p != '}')
		return -1;
	*attrp = a;
	*attrlenp = (size_t)(p - a);
	*endp = p + 1;
	return 1;
}

int
tpl_refs_ok(const char *s)
{
	const char *start, *attr, *end;
	size_t alen;
	int rc;

	while ((rc = next_ref(s, &start, &attr, &alen, &end)) == 1)
		s = end;
	return rc == 0;
}

int
tpl_expand(const char *s, tpl_lookup_fn lookup, void *ctx, char **outp,
    struct ca_err *err)
{
	const char *p = s, *start, *attr, *end, *v;
	char *name = NULL, *buf = NULL;
	size_t alen, len = 0;
	FILE *f = NULL;
	int r, rc;

	*outp = NULL;
	if ((f = open_memstream(&buf, &len)) == NULL) {
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	while ((rc = next_ref(p, &start, &attr, &alen, &end)) == 1) {
		if ((name = strndup(attr, alen)) == NULL) {
			r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
			goto out;
		}
		if ((v = lookup != NULL ? lookup(ctx, name) : NULL) == NULL) {
			r = ca_err_set(err, CA_ERR_POLICY, "the account has no "
			    "%s attribute, which {dir:%s} in \"%s\" needs",
			    name, name, s);
			goto out;
		}
		fwrite(p, 1, (size_t)(start - p), f);
		fputs(v, f);
		free(name);
		name = NULL;
		p = end;
	}
	if (rc == -1) {
		r = ca_err_set(err, CA_ERR_CONFIG, "\"%s\": a reference is "
		    "written {dir:ATTR}", s);
		goto out;
	}
	fputs(p, f);
	if (ferror(f) || fclose(f) != 0) {
		f = NULL;
		r = ca_err_set(err, CA_ERR_NOMEM, "out of memory");
		goto out;
	}
	f = NULL;
	*outp = buf;
	buf = NULL;
	r = 0;
 out:
	if (f != NULL)
		fclose(f);
	free(buf);
	free(name);
	return r;
}
