/*
 * zip_stream.h — a zip archive produced piece by piece for a pull-driven
 * HTTP answer: entries are stored (not recompressed) by libarchive, and
 * what it writes collects in a small buffer the caller drains.
 */
#ifndef PD_ZIP_STREAM_H
#define PD_ZIP_STREAM_H

#include <stddef.h>
#include <stdint.h>

typedef struct zip_stream zip_stream;

/* A new empty archive; the caller frees it with zip_stream_free. */
int zip_stream_new(zip_stream **out);
void zip_stream_free(zip_stream *z);

/* Starts a regular file entry of exactly size bytes (name: ASCII). */
int zip_stream_begin(zip_stream *z, const char *name, int64_t size,
                     int64_t mtime_ms);
/* Adds data to the current entry. */
int zip_stream_write(zip_stream *z, const void *data, size_t len);
/* Ends the current entry. */
int zip_stream_end(zip_stream *z);
/* Writes the central directory; nothing may be added afterwards. */
int zip_stream_finish(zip_stream *z);

/* Bytes written by the archive and not yet taken. */
size_t zip_stream_pending(const zip_stream *z);
/* Moves up to max pending bytes into buf; returns how many. */
size_t zip_stream_take(zip_stream *z, char *buf, size_t max);
/* Bytes taken so far (the archive's size once finished and drained). */
uint64_t zip_stream_taken(const zip_stream *z);

#endif
