/* libxml2 helpers shared by the configuration and template readers. */
#ifndef CA_XML_H
#define CA_XML_H

#include <libxml/tree.h>

/* Text of n without surrounding white space, malloc'd; NULL if no memory. */
char *xml_node_text(xmlNodePtr n);

#endif
