/*
 * s3_xml.h — the little XML an S3-compatible API speaks: finding an
 * element by name in a span of a document, reading its text with the
 * entities decoded, escaping text for the bodies we send, and the ISO
 * 8601 times of listings. Not a general XML parser: no namespaces, and
 * an element is taken to hold no element of its own name.
 */
#ifndef PD_S3_XML_H
#define PD_S3_XML_H

#include "common/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A span of a document: [p, end). */
struct s3_xml {
    const char *p;
    const char *end;
};

/*
 * Finds the next element named tag in *doc (markup inside comments,
 * CDATA sections and processing instructions is skipped). On success
 * *inner is its content and doc->p moves past the element; false when
 * there is none or the document ends inside it.
 */
bool s3_xml_next(struct s3_xml *doc, const char *tag, struct s3_xml *inner);

/*
 * Decodes the text content in (entities and character references,
 * CDATA sections) into out as a NUL-terminated string. Returns its
 * length, or -1 when the text holds markup, a bad reference, a NUL, or
 * does not fit in outlen bytes.
 */
int s3_xml_decode(const struct s3_xml *in, char *out, size_t outlen);

/* True when the document's first element is named tag. */
bool s3_xml_root_is(const struct s3_xml *doc, const char *tag);

/* The decoded text of the first element named tag in doc, as above. */
int s3_xml_text(const struct s3_xml *doc, const char *tag, char *out,
                size_t outlen);

/* Appends s with &, <, >, " and ' escaped, for element text. */
void s3_xml_escape(pd_buf *b, const char *s);

/*
 * Parses "2024-06-01T12:30:05.123Z" (fraction optional, "Z" required)
 * into ms since the epoch. False when it is not such a time.
 */
bool s3_xml_time(const char *s, int64_t *ms);

#endif
