/* strbuf.h — a growable string for messages and JSON documents. */
#ifndef ANE_CORE_STRBUF_H
#define ANE_CORE_STRBUF_H

#include <stddef.h>
#include "error.h"

typedef struct ane_strbuf {
    char *data;       /* NUL-terminated once anything was appended; owned */
    size_t len, cap;
    int failed;       /* an allocation failed: the content is truncated */
} ane_strbuf;

void ane_sb_printf(ane_strbuf *sb, const char *fmt, ...) ANE_PRINTF(2, 3);
void ane_sb_append(ane_strbuf *sb, const char *s, size_t n);
/* Append s as a JSON string literal, quotes included, escaped. */
void ane_sb_json_str(ane_strbuf *sb, const char *s);
void ane_sb_free(ane_strbuf *sb);
/* The public buffer protocol: copy into buf when it fits (NUL included), set *needed. */
ane_status ane_sb_export(const ane_strbuf *sb, char *buf, size_t cap, size_t *needed);

#endif
