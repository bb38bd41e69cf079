/* fuzz_mil.c — a deterministic, bounded mutation fuzzer for mil_parse.
 *
 *   fuzz_mil [iterations=20000] [corpus_dir=libane/test/mil] [seed=1]
 * Each iteration takes a corpus program, applies 1-8 mutations (byte flips, random bytes,
 * insertions of random or syntax bytes, deletions, splices from another corpus file,
 * duplicated spans), and parses the result with a small weight blob. Every parse must return
 * a program or an error with a non-empty message; run under ASan/UBSan, memory errors and
 * leaks abort. Prints "N passed, M failed". */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/mil/mil.h"

static unsigned long long rng_state;

static unsigned rnd(void)   /* xorshift64* */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (unsigned)((rng_state * 2685821657736338717ULL) >> 32);
}

static unsigned below(unsigned n) { return n ? rnd() % n : 0; }

typedef struct { char *data; size_t len; } text;

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 20000;
    const char *dir = argc > 2 ? argv[2] : "libane/test/mil";
    rng_state = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
    if (!rng_state) rng_state = 1;

    text corpus[64];
    int nc = 0;
    DIR *dp = opendir(dir);
    if (!dp) { printf("cannot open corpus %s\n0 passed, 1 failed\n", dir); return 1; }
    struct dirent *e;
    char *names[64];
    int nn = 0;
    while ((e = readdir(dp)) && nn < 64) {
        size_t l = strlen(e->d_name);
        if (l > 4 && !strcmp(e->d_name + l - 4, ".mil")) names[nn++] = strdup(e->d_name);
    }
    closedir(dp);
    /* readdir order is not stable across file systems: sort for determinism. */
    for (int i = 0; i < nn; i++)
        for (int j = i + 1; j < nn; j++)
            if (strcmp(names[i], names[j]) > 0) { char *t = names[i]; names[i] = names[j]; names[j] = t; }
    for (int i = 0; i < nn; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        free(names[i]);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        corpus[nc].data = malloc((size_t)n + 1);
        corpus[nc].len = fread(corpus[nc].data, 1, (size_t)n, f);
        fclose(f);
        nc++;
    }
    if (!nc) { printf("no .mil files in %s\n0 passed, 1 failed\n", dir); return 1; }

    /* A valid blob for the corpus's @model_path/weights/w.bin (32x64 fp16 at offset 64). */
    size_t bsize = 128 + 32 * 64 * 2;
    unsigned char *blob = calloc(1, bsize);
    blob[0] = 1; blob[4] = 2;
    blob[64] = 0xEF; blob[65] = 0xBE; blob[66] = 0xAD; blob[67] = 0xDE; blob[68] = 1;
    unsigned sz = 32 * 64 * 2, off = 128;
    memcpy(blob + 72, &sz, 4);
    memcpy(blob + 80, &off, 4);
    ane_weight w = { "@model_path/weights/w.bin", blob, bsize };

    static const char syntax[] = "()[]{}<>,=;-\"/.0123456789e+x[]";
    long passed = 0, failed = 0, parsed_ok = 0;
    for (long it = 0; it < iters; it++) {
        const text *src = &corpus[below((unsigned)nc)];
        size_t cap = src->len * 2 + 256, len = src->len;
        char *buf = malloc(cap);
        memcpy(buf, src->data, len);
        int muts = 1 + (int)below(8);
        for (int m = 0; m < muts; m++) {
            size_t pos = below((unsigned)len + 1);
            switch (below(6)) {
            case 0: if (len) buf[pos % len] ^= (char)(1u << below(8)); break;
            case 1: if (len) buf[pos % len] = (char)below(256); break;
            case 2: case 3: {   /* insert a random byte or a syntax character */
                if (len + 1 >= cap) break;
                memmove(buf + pos + 1, buf + pos, len - pos);
                buf[pos] = below(2) ? (char)below(256) : syntax[below(sizeof syntax - 1)];
                len++;
                break;
            }
            case 4: {   /* delete a span */
                size_t n = below(16) + 1;
                if (pos + n > len) n = len - pos;
                memmove(buf + pos, buf + pos + n, len - pos - n);
                len -= n;
                break;
            }
            case 5: {   /* splice a span of another corpus file (or this one) into pos */
                const text *o = &corpus[below((unsigned)nc)];
                size_t from = below((unsigned)o->len), n = below(64) + 1;
                if (from + n > o->len) n = o->len - from;
                if (len + n >= cap) break;
                memmove(buf + pos + n, buf + pos, len - pos);
                memcpy(buf + pos, o->data + from, n);
                len += n;
                break;
            }
            }
        }
        /* Parse an exact-size copy so that ASan sees any read past the end. */
        char *exact = malloc(len ? len : 1);
        memcpy(exact, buf, len);
        mil_diags d = {0};
        mil_program *p = mil_parse(exact, len, &w, 1, &d);
        const mil_diag *err = mil_diags_first_error(&d);
        if (p || (err && err->message[0])) passed++;
        else {
            failed++;
            if (failed < 5) printf("FAIL iteration %ld: no program and no error message\n", it);
        }
        if (p) parsed_ok++;
        mil_program_free(p);
        mil_diags_free(&d);
        free(exact);
        free(buf);
    }
    for (int i = 0; i < nc; i++) free(corpus[i].data);
    free(blob);
    printf("fuzz: %ld iterations, %ld mutants still parsed\n", iters, parsed_ok);
    printf("%ld passed, %ld failed\n", passed, failed);
    return failed ? 1 : 0;
}
