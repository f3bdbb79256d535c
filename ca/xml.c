/* libxml2 helpers shared by the configuration and template readers. */
#include "ac-config.h"

#include <stdlib.h>
#include <string.h>

#include "ca/xml.h"

char *
xml_node_text(xmlNodePtr n)
{
	xmlChar *c;
	const char *s, *e;
	char *out;

	if ((c = xmlNodeGetContent(n)) == NULL)
		return strdup("");
	for (s = (const char *)c; *s == ' ' || *s == '\t' || *s == '\n' ||
	    *s == '\r'; s++)
		;
	for (e = s + strlen(s); e > s && (e[-1] == ' ' || e[-1] == '\t' ||
	    e[-1] == '\n' || e[-1] == '\r'); e--)
		;
	out = strndup(s, (size_t)(e - s));
	xmlFree(c);
	return out;
}
