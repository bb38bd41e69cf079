/* blob.c — resolve BLOBFILE(path, offset) constants against the caller's weight blobs.
 *
 * Blob layout (reference/ane-maderix.md §3.4, ane-ecosystem.md §2):
 *   file header, 64 bytes: 0x01 at byte 0, 0x02 at byte 4 (not checked: the int8 variant
 *     puts a chunk header at byte 0, and only the chunk that `offset` names matters)
 *   chunk header at `offset`, 64 bytes:
 *     +0  EF BE AD DE  magic (uint32 LE 0xDEADBEEF)
 *     +4  version (0x01)
 *     +8  uint32 LE payload size in bytes
 *     +16 uint32 LE ABSOLUTE payload offset in the blob
 *   payload: the tensor's elements, row-major, little-endian, in the declared dtype. */
#include "../core/platform.h"
#include "front.h"

#define CHUNK_HEADER 64

static uint32_t read_u32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

ane_status mil_blob_resolve(const ane_weight *weights, size_t n_weights, const char *path,
                            uint64_t offset, const mil_type *t, const char *const_name,
                            mil_arena *arena, mil_const *out, char *err, size_t cap)
{
    const ane_weight *w = NULL;
    for (size_t i = 0; i < n_weights; i++)
        if (weights[i].name && strcmp(weights[i].name, path) == 0) { w = &weights[i]; break; }
    char where[300];
    snprintf(where, sizeof where, "const '%s': BLOBFILE \"%s\" offset %llu: ", const_name, path,
             (unsigned long long)offset);
    if (!w) {
        snprintf(err, cap, "%sno weight blob of that name was given (%zu blobs passed; names must match exactly)",
                 where, n_weights);
        return ANE_ERR_WEIGHTS;
    }
    if (!w->data && w->size) {
        snprintf(err, cap, "%sthe blob's data pointer is NULL", where);
        return ANE_ERR_WEIGHTS;
    }
    if (t->dtype != MIL_FP16 && t->dtype != MIL_FP32 && t->dtype != MIL_INT8 && t->dtype != MIL_UINT8) {
        char tb[160];
        snprintf(err, cap, "%sweight blobs hold fp16, fp32, int8 or uint8 data, not %s", where, mil_type_str(t, tb, sizeof tb));
        return ANE_ERR_WEIGHTS;
    }
    const unsigned char *blob = w->data;
    if (offset > w->size || w->size - offset < CHUNK_HEADER) {
        snprintf(err, cap, "%sthe 64-byte chunk header lies outside the blob of %zu bytes", where, w->size);
        return ANE_ERR_WEIGHTS;
    }
    const unsigned char *chunk = blob + offset;
    if (read_u32(chunk) != 0xDEADBEEFu) {
        snprintf(err, cap, "%sbad chunk magic %02x %02x %02x %02x (expected EF BE AD DE): offset must point at a chunk header",
                 where, chunk[0], chunk[1], chunk[2], chunk[3]);
        return ANE_ERR_WEIGHTS;
    }
    int esize = mil_dtype_size(t->dtype);
    int64_t elems = mil_type_elems(t);
    uint64_t want = (uint64_t)elems * (uint64_t)esize;
    uint64_t size = read_u32(chunk + 8);
    uint64_t data_off = read_u32(chunk + 16);
    if (size == 0) {
        /* maderix's benchmark blobs leave the size and offset fields zero: their payload
         * follows the chunk header directly. */
        size = want;
        data_off = offset + CHUNK_HEADER;
    } else if (size != want) {
        char tb[160];
        snprintf(err, cap, "%schunk payload size is %llu bytes but %s needs %llu", where,
                 (unsigned long long)size, mil_type_str(t, tb, sizeof tb), (unsigned long long)want);
        return ANE_ERR_WEIGHTS;
    }
    if (data_off > w->size || w->size - data_off < size) {
        snprintf(err, cap, "%spayload [%llu, %llu) lies outside the blob of %zu bytes", where,
                 (unsigned long long)data_off, (unsigned long long)(data_off + size), w->size);
        return ANE_ERR_WEIGHTS;
    }
    const unsigned char *d = blob + data_off;
    out->n = elems;
    out->blob_path = path;
    out->blob_offset = offset;
    size_t n = (size_t)elems;
    if (mil_dtype_is_float(t->dtype)) {
        out->f = mil_arena_alloc(arena, n, sizeof(double));
        if (out->f) {
            for (size_t i = 0; i < n; i++) {
                if (t->dtype == MIL_FP16) {
                    out->f[i] = mil_fp16_bits_to_double((uint16_t)(d[2 * i] | d[2 * i + 1] << 8));
                } else {
                    uint32_t u = read_u32(d + 4 * i);
                    float f;
                    memcpy(&f, &u, sizeof f);
                    out->f[i] = f;
                }
            }
            return ANE_OK;
        }
    } else {   /* int8 / uint8 */
        out->i = mil_arena_alloc(arena, n, sizeof(int64_t));
        if (out->i) {
            for (size_t i = 0; i < n; i++) out->i[i] = t->dtype == MIL_INT8 ? (int64_t)(int8_t)d[i] : (int64_t)d[i];
            return ANE_OK;
        }
    }
    snprintf(err, cap, "%sout of memory decoding %lld elements", where, (long long)elems);
    return ANE_ERR_NO_MEMORY;
}
