/* test_stage.c — ane_stage_weights against index arithmetic: every destination element equals
 * its source element (fp32 exactly; fp16 as the scalar ane_fp32_to_fp16 rounds it), every byte
 * around the blocks stays untouched, and bad tables fail with a message. Shapes cover whole
 * tiles, ragged edges, single rows/columns, aligned destinations (the streaming-store path on
 * x86) and misaligned ones. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../include/ane.h"
#include "../src/core/fp16.h"
#include "check.h"

#define GUARD 0xA5

/* A destination buffer: the block at `skip` elements from a 64-byte aligned start, rows of
 * `stride` bytes, everything else GUARD. */
typedef struct { uint8_t *mem; size_t bytes; uint64_t skip, stride; uint32_t dtype; uint32_t transpose; } dest;

static dest make_dest(uint64_t rows, uint64_t cols, uint32_t dtype, uint32_t transpose, uint64_t skip, uint64_t pad)
{
    uint64_t es = dtype == ANE_DTYPE_FP32 ? 4 : 2, drows = transpose ? cols : rows, dcols = transpose ? rows : cols;
    dest d = {0, 0, skip, (dcols + pad) * es, dtype, transpose};
    d.bytes = (size_t)((skip + dcols) * es + (drows - 1) * d.stride + 64);
    d.bytes = (d.bytes + 63) / 64 * 64;
    d.mem = aligned_alloc(64, d.bytes);
    memset(d.mem, GUARD, d.bytes);
    return d;
}

/* Checks d against W [rows, cols]; returns the number of wrong bytes or elements. */
static int check_dest(const dest *d, const float *w, uint64_t rows, uint64_t cols)
{
    uint64_t es = d->dtype == ANE_DTYPE_FP32 ? 4 : 2, drows = d->transpose ? cols : rows, dcols = d->transpose ? rows : cols;
    int bad = 0;
    uint8_t *seen = calloc(d->bytes, 1);
    for (uint64_t i = 0; i < drows; i++)
        for (uint64_t j = 0; j < dcols; j++) {
            uint64_t at = (d->skip + j) * es + i * d->stride;
            float want = d->transpose ? w[j * cols + i] : w[i * cols + j];
            if (d->dtype == ANE_DTYPE_FP32) {
                float got;
                memcpy(&got, d->mem + at, 4);
                bad += memcmp(&got, &want, 4) != 0;
            } else {
                uint16_t got, h = ane_fp32_to_fp16(want);
                memcpy(&got, d->mem + at, 2);
                bad += got != h;
            }
            memset(seen + at, 1, es);
        }
    for (size_t b = 0; b < d->bytes; b++) bad += !seen[b] && d->mem[b] != GUARD;
    free(seen);
    return bad;
}

static void test_shapes(void)
{
    /* rows, cols, skip (elements; 0 keeps 64-byte alignment), pad (elements per row) */
    static const uint64_t cases[][4] = {
        {64, 256, 0, 0}, {96, 384, 0, 64}, {37, 53, 0, 3}, {33, 129, 1, 7}, {1, 200, 0, 0},
        {200, 1, 3, 0}, {8, 8, 0, 0}, {130, 70, 5, 1},
    };
    uint32_t rng = 12345;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint64_t rows = cases[k][0], cols = cases[k][1], skip = cases[k][2], pad = cases[k][3];
        uint64_t sstride = cols + 5;   /* source rows with a gap: only [rows, cols] is read */
        float *w = malloc(rows * sstride * sizeof(float)), *dense = malloc(rows * cols * sizeof(float));
        for (uint64_t i = 0; i < rows * sstride; i++) {
            rng = rng * 1664525u + 1013904223u;
            w[i] = ((float)(rng >> 8) / 16777216.0f - 0.5f) * 8.0f;   /* [-4, 4): many fp16 roundings */
        }
        for (uint64_t r = 0; r < rows; r++) memcpy(dense + r * cols, w + r * sstride, cols * sizeof(float));
        /* the same matrix, staged twice in one call (two table entries), to all four kinds */
        dest d[8];
        ane_stage_weight table[2];
        memset(table, 0, sizeof table);
        for (int e = 0; e < 2; e++) {
            table[e].src = w;
            table[e].src_stride_bytes = sstride * 4;
            table[e].rows = rows;
            table[e].cols = cols;
            table[e].n_dst = 4;
            for (int i = 0; i < 4; i++) {
                dest *x = &d[e * 4 + i];
                *x = make_dest(rows, cols, i < 2 ? ANE_DTYPE_FP32 : ANE_DTYPE_FP16, (uint32_t)(i & 1), skip + (uint64_t)e, pad);
                table[e].dst[i] = (ane_stage_dst){x->mem + x->skip * (x->dtype == ANE_DTYPE_FP32 ? 4 : 2), x->stride, x->dtype, x->transpose};
            }
        }
        ane_status st = ane_stage_weights(table, 2);
        CHECK(st == ANE_OK, "case %zu: status %d (%s)", k, st, ane_last_error());
        for (int i = 0; i < 8; i++) {
            int bad = check_dest(&d[i], dense, rows, cols);
            CHECK(bad == 0, "case %zu [%llu, %llu] dst %d (%s, %s, skip %llu): %d wrong", k, (unsigned long long)rows,
                  (unsigned long long)cols, i, d[i].dtype == ANE_DTYPE_FP32 ? "fp32" : "fp16",
                  d[i].transpose ? "transposed" : "natural", (unsigned long long)d[i].skip, bad);
            free(d[i].mem);
        }
        free(w);
        free(dense);
    }
}

static void test_errors(void)
{
    float w[16] = {0};
    float out[16];
    ane_stage_weight t;
    memset(&t, 0, sizeof t);
    t.src = w; t.src_stride_bytes = 16; t.rows = 4; t.cols = 4; t.n_dst = 1;
    t.dst[0] = (ane_stage_dst){out, 16, ANE_DTYPE_FP32, 0};
    CHECK(ane_stage_weights(&t, 1) == ANE_OK, "a valid table: %s", ane_last_error());
    CHECK(ane_stage_weights(NULL, 0) == ANE_OK, "an empty table");
    CHECK(ane_stage_weights(NULL, 1) == ANE_ERR_INVALID_ARG, "NULL table");

    ane_stage_weight b = t;
    b.n_dst = 5;
    CHECK(ane_stage_weights(&b, 1) == ANE_ERR_INVALID_ARG && strstr(ane_last_error(), "at most"), "5 destinations: %s", ane_last_error());
    b = t; b.src = NULL;
    CHECK(ane_stage_weights(&b, 1) == ANE_ERR_INVALID_ARG && strstr(ane_last_error(), "src is NULL"), "NULL src: %s", ane_last_error());
    b = t; b.src_stride_bytes = 12;
    CHECK(ane_stage_weights(&b, 1) == ANE_ERR_INVALID_ARG && strstr(ane_last_error(), "stride"), "short src stride: %s", ane_last_error());
    b = t; b.dst[0].dtype = ANE_DTYPE_INT8;
    CHECK(ane_stage_weights(&b, 1) == ANE_ERR_UNSUPPORTED && strstr(ane_last_error(), "dtype"), "int8 destination: %s", ane_last_error());
    b = t; b.dst[0].transpose = 2;
    CHECK(ane_stage_weights(&b, 1) == ANE_ERR_INVALID_ARG, "transpose 2: %s", ane_last_error());
    b = t; b.dst[0].stride_bytes = 8;
    CHECK(ane_stage_weights(&b, 1) == ANE_ERR_INVALID_ARG && strstr(ane_last_error(), "dst[0]"), "short dst stride: %s", ane_last_error());
    b = t; b.dst[0].base = NULL;
    CHECK(ane_stage_weights(&b, 1) == ANE_ERR_INVALID_ARG, "NULL destination");
    /* the second entry is bad: nothing is written, and the message names it */
    ane_stage_weight two[2] = {t, t};
    two[1].dst[0].dtype = 99;
    memset(out, 0, sizeof out);
    w[0] = 1.0f;
    CHECK(ane_stage_weights(two, 2) == ANE_ERR_UNSUPPORTED && strstr(ane_last_error(), "weights[1]"), "bad second entry: %s", ane_last_error());
    CHECK(out[0] == 0.0f, "a failed call wrote %g", (double)out[0]);
}

int main(void)
{
    /* several threads, so the tiles of one call are split between them */
    ane_set_threads(3);
    test_shapes();
    ane_set_threads(1);
    test_shapes();
    test_errors();
    return check_summary();
}
