/*
 * libxml2 helpers shared by the configuration and template readers:
 * parsing without network or entities, RelaxNG validation of a document
 * in memory with messages as FILE:LINE, the text of an element.
 */
#ifndef CA_XML_H
#define CA_XML_H

#include <stddef.h>

#include <libxml/tree.h>

struct ca_err;

#define XML_FILE_MAX	(1024 * 1024)	/* largest XML file read */

/*
 * Parses the len bytes of buf, read from path, without network access or
 * entity expansion (a DOCTYPE is refused) and validates the document
 * against the RelaxNG schema at schema_path. Comments and white space are
 * kept. Every message of libxml2 goes into err, none to stderr.
 */
int xml_read(const char *path, const void *buf, size_t len,
    const char *schema_path, xmlDocPtr *docp, struct ca_err *err);
/* Reads path (at most XML_FILE_MAX bytes), then as xml_read. */
int xml_load(const char *path, const char *schema_path, xmlDocPtr *docp,
    struct ca_err *err);
/*
 * Validates a document already in memory against the RelaxNG schema at
 * schema_path ("config.rng", "template.rng" name the kind of file in
 * messages); errors name the document's URL and line.
 */
int xml_validate(xmlDocPtr doc, const char *schema_path, struct ca_err *err);

/* Text of n without surrounding white space, malloc'd; NULL if no memory. */
char *xml_node_text(xmlNodePtr n);

#endif
