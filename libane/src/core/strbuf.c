/* strbuf.c — growable strings for messages and JSON. */
#include "platform.h"
#include "strbuf.h"

static int sb_reserve(ane_strbuf *sb, size_t extra)
{
    if (sb->failed) return 0;
    if (sb->len + extra + 1 <= sb->cap) return 1;
    size_t cap = sb->cap ? sb->cap : 256;
    while (cap < sb->len + extra + 1) cap *= 2;
    char *p = realloc(sb->data, cap);
    if (!p) { sb->failed = 1; return 0; }
    sb->data = p;
    sb->cap = cap;
    return 1;
}

void ane_sb_append(ane_strbuf *sb, const char *s, size_t n)
{
    if (!sb_reserve(sb, n)) return;
    memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}

void ane_sb_printf(ane_strbuf *sb, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) { sb->failed = 1; return; }
    if ((size_t)n < sizeof small) { ane_sb_append(sb, small, (size_t)n); return; }
    if (!sb_reserve(sb, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

void ane_sb_json_str(ane_strbuf *sb, const char *s)
{
    ane_sb_append(sb, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '"': ane_sb_append(sb, "\\\"", 2); break;
        case '\\': ane_sb_append(sb, "\\\\", 2); break;
        case '\n': ane_sb_append(sb, "\\n", 2); break;
        case '\r': ane_sb_append(sb, "\\r", 2); break;
        case '\t': ane_sb_append(sb, "\\t", 2); break;
        default:
            if (*p < 0x20) ane_sb_printf(sb, "\\u%04x", *p);
            else ane_sb_append(sb, (const char *)p, 1);
        }
    }
    ane_sb_append(sb, "\"", 1);
}

void ane_sb_free(ane_strbuf *sb)
{
    free(sb->data);
    sb->data = NULL;
    sb->len = sb->cap = 0;
    sb->failed = 0;
}

ane_status ane_sb_export(const ane_strbuf *sb, char *buf, size_t cap, size_t *needed)
{
    if (sb->failed) return ane_fail(ANE_ERR_NO_MEMORY, "out of memory while building a string");
    size_t need = sb->len + 1;
    if (needed) *needed = need;
    if (!buf || cap < need)
        return ane_fail(ANE_ERR_BUFFER_TOO_SMALL, "buffer of %zu bytes is too small: %zu needed", cap, need);
    if (sb->len) memcpy(buf, sb->data, sb->len);
    buf[sb->len] = '\0';
    return ANE_OK;
}
