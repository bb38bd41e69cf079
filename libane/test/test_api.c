/* test_api.c — libane's public ABI end to end, through the public functions only, with the
 * cpu backend: backends and info JSON, chips, surfaces and locks, every compile status path,
 * I/O layouts (expected values worked out by hand below), request binding, eval order,
 * locked surfaces, the weight-reload experiment, small conv/matmul programs evaluated against
 * float64 references, and the compile budget.
 *
 * Run from anywhere: build/test/test_api (no arguments). Prints "N passed, M failed". */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../include/ane.h"

#include "check.h"

#define ST(expr, want) check_status((expr), (want), #expr, __LINE__)

static int check_status(ane_status got, ane_status want, const char *what, int line)
{
    if (got == want) {
        passed++;
        return 1;
    }
    failed++;
    printf("FAIL %s:%d: %s = %s, expected %s (%s)\n", __FILE__, line, what, ane_status_name(got),
           ane_status_name(want), ane_last_error());
    return 0;
}

static int has(const char *haystack, const char *needle) { return strstr(haystack, needle) != NULL; }

/* ---------------------------------------------------------------- a JSON syntax checker */

typedef struct json_in { const char *p; int depth; } json_in;

static void ws(json_in *j) { while (*j->p == ' ' || *j->p == '\n' || *j->p == '\t' || *j->p == '\r') j->p++; }

static int json_value(json_in *j);

static int json_str(json_in *j)
{
    if (*j->p != '"') return 0;
    for (j->p++; *j->p != '"'; j->p++) {
        unsigned char c = (unsigned char)*j->p;
        if (c < 0x20) return 0;              /* also catches the end of the text */
        if (c == '\\') {
            j->p++;
            if (*j->p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!strchr("0123456789abcdefABCDEF", j->p[i]) || !j->p[i]) return 0;
                j->p += 4;
            } else if (!*j->p || !strchr("\"\\/bfnrt", *j->p)) return 0;
        }
    }
    j->p++;
    return 1;
}

static int json_num(json_in *j)
{
    const char *s = j->p;
    if (*j->p == '-') j->p++;
    if (*j->p == '0') j->p++;
    else if (*j->p >= '1' && *j->p <= '9') while (*j->p >= '0' && *j->p <= '9') j->p++;
    else return 0;
    if (*j->p == '.') {
        j->p++;
        if (!(*j->p >= '0' && *j->p <= '9')) return 0;
        while (*j->p >= '0' && *j->p <= '9') j->p++;
    }
    if (*j->p == 'e' || *j->p == 'E') {
        j->p++;
        if (*j->p == '+' || *j->p == '-') j->p++;
        if (!(*j->p >= '0' && *j->p <= '9')) return 0;
        while (*j->p >= '0' && *j->p <= '9') j->p++;
    }
    return j->p > s;
}

static int json_seq(json_in *j, char close, int is_object)
{
    j->p++;
    ws(j);
    if (*j->p == close) { j->p++; return 1; }
    for (;;) {
        ws(j);
        if (is_object) {
            if (!json_str(j)) return 0;
            ws(j);
            if (*j->p++ != ':') return 0;
        }
        if (!json_value(j)) return 0;
        ws(j);
        if (*j->p == close) { j->p++; return 1; }
        if (*j->p++ != ',') return 0;
    }
}

static int json_value(json_in *j)
{
    ws(j);
    if (++j->depth > 64) return 0;
    int ok;
    if (*j->p == '{') ok = json_seq(j, '}', 1);
    else if (*j->p == '[') ok = json_seq(j, ']', 0);
    else if (*j->p == '"') ok = json_str(j);
    else if (!strncmp(j->p, "true", 4)) { j->p += 4; ok = 1; }
    else if (!strncmp(j->p, "false", 5)) { j->p += 5; ok = 1; }
    else if (!strncmp(j->p, "null", 4)) { j->p += 4; ok = 1; }
    else ok = json_num(j);
    j->depth--;
    return ok;
}

static int json_valid(const char *text)
{
    json_in j = {text, 0};
    if (!json_value(&j)) return 0;
    ws(&j);
    return *j.p == '\0';
}

static void test_json_checker(void)
{
    /* The checker must itself be able to fail. */
    CHECK(json_valid("{\"a\":[1,-2.5e3,true,null,\"x\\n\\u00e9\"],\"b\":{}}"), "valid JSON rejected");
    const char *bad[] = {"{", "{\"a\":}", "[1,]", "{\"a\" 1}", "\"x", "01", "[1] 2", "{a:1}", "\"\\q\""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) CHECK(!json_valid(bad[i]), "invalid JSON accepted: %s", bad[i]);
}

/* ---------------------------------------------------------------- fp16 and weight blobs */

static uint16_t to_half(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    int32_t e = (int32_t)((x >> 23) & 0xff) - 127 + 15;
    uint32_t m = x & 0x7fffffu;
    if (e >= 31) return (uint16_t)(sign | 0x7c00u);
    if (e <= 0) return (uint16_t)sign;                     /* these tests use no subnormals */
    uint32_t h = ((uint32_t)e << 10) | (m >> 13), rest = m & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1))) h++;  /* round to nearest even */
    return (uint16_t)(sign | h);
}

static double from_half(uint16_t h)
{
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? INFINITY : ldexp(1024 + m, e - 25);
    return (h & 0x8000) ? -v : v;
}

/* One-chunk weight file (reference/ane-maderix.md section 3.4) holding fp16 values;
 * BLOBFILE offset 64. */
static unsigned char *make_blob(const float *values, size_t n, size_t *size)
{
    *size = 128 + 2 * n;
    unsigned char *b = calloc(1, *size);
    b[0] = 1;
    b[4] = 2;
    uint32_t magic = 0xDEADBEEFu, bytes = (uint32_t)(2 * n), off = 128;
    memcpy(b + 64, &magic, 4);
    b[68] = 1;
    memcpy(b + 72, &bytes, 4);
    memcpy(b + 80, &off, 4);
    for (size_t i = 0; i < n; i++) {
        uint16_t h = to_half(values[i]);
        memcpy(b + 128 + 2 * i, &h, 2);
    }
    return b;
}

/* ---------------------------------------------------------------- programs */

#define HEADER "program(1.3)\n[buildInfo = dict<string, string>({{\"coremlc-version\", \"3505.4.1\"}})]\n{\n"

/* y[o, s] = sum_c W[o, c] x[c, s]: x [1,2,1,4], W [3,2,1,1], y [1,3,1,4]. */
static const char conv_mil[] = HEADER
    "    func main<ios18>(tensor<fp16, [1, 2, 1, 4]> x) {\n"
    "        tensor<fp16, [3, 2, 1, 1]> W = const()[name=string(\"W\"), val=tensor<fp16, [3, 2, 1, 1]>(BLOBFILE(path=string(\"@model_path/weights/w.bin\"), offset=uint64(64)))];\n"
    "        tensor<fp16, [1, 3, 1, 4]> y = conv(weight=W, x=x)[name=string(\"y\")];\n"
    "    } -> (y);\n}\n";

/* y = a b: a [1,1,2,3], b [1,1,3,2], y [1,1,2,2], fp32 I/O. */
static const char matmul_mil[] = HEADER
    "    func main<ios18>(tensor<fp32, [1, 1, 2, 3]> a, tensor<fp32, [1, 1, 3, 2]> b) {\n"
    "        bool bF = const()[name=string(\"bF\"), val=bool(false)];\n"
    "        tensor<fp32, [1, 1, 2, 2]> y = matmul(transpose_x=bF, transpose_y=bF, x=a, y=b)[name=string(\"y\")];\n"
    "    } -> (y);\n}\n";

/* A kernel every chip from M3 on accepts without a finding: [1,64,1,64] -> matmul -> same. */
static const char kernel_mil[] = HEADER
    "    func main<ios18>(tensor<fp16, [1, 64, 1, 64]> x) {\n"
    "        bool bF = const()[name=string(\"bF\"), val=bool(false)];\n"
    "        tensor<int32, [4]> sq = const()[name=string(\"sq\"), val=tensor<int32, [4]>([1, 1, 64, 64])];\n"
    "        tensor<int32, [4]> sc = const()[name=string(\"sc\"), val=tensor<int32, [4]>([1, 64, 1, 64])];\n"
    "        tensor<fp16, [1, 1, 64, 64]> r = reshape(shape=sq, x=x)[name=string(\"r\")];\n"
    "        tensor<fp16, [1, 1, 64, 64]> m = matmul(transpose_x=bF, transpose_y=bF, x=r, y=r)[name=string(\"m\")];\n"
    "        tensor<fp16, [1, 64, 1, 64]> y = reshape(shape=sc, x=m)[name=string(\"y\")];\n"
    "    } -> (y);\n}\n";

/* Layouts: widths that are not a multiple of 32 fp16 elements, a rank-2 input, fp32 output. */
static const char layout_mil[] = HEADER
    "    func main<ios18>(tensor<fp16, [1, 3, 1, 40]> x, tensor<fp16, [5, 40]> z) {\n"
    "        tensor<fp16, [1, 3, 1, 40]> h = relu(x=x)[name=string(\"h\")];\n"
    "        string f32 = const()[name=string(\"f32\"), val=string(\"fp32\")];\n"
    "        tensor<fp32, [1, 3, 1, 40]> y = cast(dtype=f32, x=h)[name=string(\"y\")];\n"
    "        tensor<fp16, [5, 40]> w = relu(x=z)[name=string(\"w\")];\n"
    "    } -> (y, w);\n}\n";

/* [1,1,1,32] fp16: one 64-byte row; M5 sizes surfaces in 128-byte multiples. */
static const char small_mil[] = HEADER
    "    func main<ios18>(tensor<fp16, [1, 1, 1, 32]> x) {\n"
    "        tensor<fp16, [1, 1, 1, 32]> y = relu(x=x)[name=string(\"y\")];\n"
    "    } -> (y);\n}\n";

static const char cast_mil[] = HEADER
    "    func main<ios18>(tensor<fp32, [1, 64, 1, 64]> x) {\n"
    "        string f16 = const()[name=string(\"f16\"), val=string(\"fp16\")];\n"
    "        tensor<fp16, [1, 64, 1, 64]> y = cast(dtype=f16, x=x)[name=string(\"y\")];\n"
    "    } -> (y);\n}\n";

static const char unknown_op_mil[] = HEADER
    "    func main<ios18>(tensor<fp16, [1, 64, 1, 64]> x) {\n"
    "        tensor<fp16, [1, 64, 1, 64]> y = frobnicate(x=x)[name=string(\"y\")];\n"
    "    } -> (y);\n}\n";

static const char type_error_mil[] = HEADER
    "    func main<ios18>(tensor<fp16, [1, 64, 1, 64]> x) {\n"
    "        tensor<fp16, [1, 64, 1, 32]> y = relu(x=x)[name=string(\"y\")];\n"
    "    } -> (y);\n}\n";

static const char rank5_mil[] = HEADER
    "    func main<ios18>(tensor<fp16, [1, 1, 2, 1, 64]> x) {\n"
    "        tensor<fp16, [1, 1, 2, 1, 64]> y = relu(x=x)[name=string(\"y\")];\n"
    "    } -> (y);\n}\n";

static const char int16_mil[] = HEADER
    "    func main<ios18>(tensor<int16, [1, 1, 1, 64]> x) {\n"
    "        tensor<int16, [1, 1, 1, 64]> y = identity(x=x)[name=string(\"y\")];\n"
    "    } -> (y);\n}\n";

static ane_backend *cpu;

static ane_status compile(const char *mil, const ane_weight *w, size_t nw, const char *chip,
                          uint32_t numerics, ane_program **out)
{
    return ane_program_compile(cpu, mil, strlen(mil), w, nw, chip, numerics, 0, 0, out);
}

/* ---------------------------------------------------------------- tests */

static void test_library_and_backends(void)
{
    CHECK(ane_abi_version() == ANE_ABI_VERSION, "abi %u", ane_abi_version());
    CHECK(ane_version_string() && *ane_version_string(), "empty version string");
    int n = ane_backend_count(), has_cpu = 0;
    for (int i = 0; i < n; i++) has_cpu |= !strcmp(ane_backend_name(i), "cpu");
    CHECK(n >= 1 && has_cpu, "backends: %d, cpu among them: %d", n, has_cpu);
    CHECK(ane_backend_name(n) == NULL && ane_backend_name(-1) == NULL, "backend name out of range");
    ST(ane_backend_probe("cpu"), ANE_OK);
    ST(ane_backend_probe("auto"), ANE_OK);
    ST(ane_backend_probe("tpu"), ANE_ERR_NO_BACKEND);
    CHECK(has(ane_last_error(), "tpu") && has(ane_last_error(), "cpu"), "message: %s", ane_last_error());
    ST(ane_backend_probe(NULL), ANE_ERR_INVALID_ARG);
    ane_backend *b = (ane_backend *)1;
    ST(ane_backend_open("tpu", &b), ANE_ERR_NO_BACKEND);
    CHECK(b == NULL, "out not cleared on failure");
    ST(ane_backend_open(NULL, &b), ANE_ERR_INVALID_ARG);
    ST(ane_backend_open("cpu", NULL), ANE_ERR_INVALID_ARG);
#if !(defined(__APPLE__) && defined(__aarch64__))
    ST(ane_backend_open("ane", &b), ANE_ERR_NO_BACKEND);
    ST(ane_backend_open("auto", &b), ANE_OK);
    CHECK(b && !strcmp(ane_backend_kind(b), "cpu"), "auto is not cpu off macOS arm64");
    ane_backend_close(b);
#endif
    ST(ane_backend_open("cpu", &cpu), ANE_OK);
    CHECK(cpu && !strcmp(ane_backend_kind(cpu), "cpu"), "kind");
    CHECK(!strcmp(ane_backend_kind(NULL), ""), "kind of NULL");
    ane_backend_close(NULL);

    size_t need = 0;
    char small[8];
    ST(ane_backend_info_json(cpu, small, sizeof small, &need), ANE_ERR_BUFFER_TOO_SMALL);
    CHECK(need > sizeof small, "needed %zu", need);
    char *info = malloc(need);
    size_t need2 = 0;
    ST(ane_backend_info_json(cpu, info, need, &need2), ANE_OK);
    CHECK(need2 == need && strlen(info) + 1 == need, "needed %zu then %zu, length %zu", need, need2, strlen(info));
    CHECK(json_valid(info), "info JSON is not valid JSON: %s", info);
    char abi[32];
    snprintf(abi, sizeof abi, "\"abi\":%u", ANE_ABI_VERSION);
    CHECK(has(info, "\"version\":") && has(info, abi) && has(info, "cpu"), "info JSON: %s", info);
    free(info);
    ST(ane_backend_info_json(NULL, small, sizeof small, &need), ANE_ERR_INVALID_ARG);
}

static void test_chips(void)
{
    CHECK(ane_chip_count() == 6, "chip count %d", ane_chip_count());
    for (int i = 0; i < ane_chip_count(); i++) {
        const char *name = ane_chip_name(i);
        size_t need = 0;
        ST(ane_chip_profile_json(name, NULL, 0, &need), ANE_ERR_BUFFER_TOO_SMALL);
        char *json = malloc(need);
        ST(ane_chip_profile_json(name, json, need, NULL), ANE_OK);
        CHECK(json_valid(json), "profile %s JSON is not valid: %s", name, json);
        free(json);
    }
    ST(ane_chip_profile_json(NULL, NULL, 0, NULL), ANE_ERR_INVALID_ARG);
    CHECK(ane_compile_limit("m1") == 119 && ane_compile_limit("none") == 0, "compile limits");
}

static void test_surfaces(void)
{
    ane_surface *s = (ane_surface *)1;
    ST(ane_surface_create(cpu, 0, &s), ANE_ERR_INVALID_ARG);
    CHECK(s == NULL, "out not cleared");
    CHECK(has(ane_last_error(), "0"), "message: %s", ane_last_error());
    ST(ane_surface_create(cpu, ((size_t)4 << 30) + 1, &s), ANE_ERR_INVALID_ARG);
    CHECK(has(ane_last_error(), "4 GiB"), "message: %s", ane_last_error());
    ST(ane_surface_create(NULL, 64, &s), ANE_ERR_INVALID_ARG);
    ST(ane_surface_create(cpu, 64, NULL), ANE_ERR_INVALID_ARG);

    ST(ane_surface_create(cpu, 300, &s), ANE_OK);
    CHECK(ane_surface_size(s) == 300 && ane_surface_size(NULL) == 0, "size");
    void *base = NULL, *base2 = NULL;
    ST(ane_surface_lock(s, 7, &base), ANE_ERR_INVALID_ARG);
    ST(ane_surface_lock(s, ANE_LOCK_READ_WRITE, NULL), ANE_ERR_INVALID_ARG);
    ST(ane_surface_unlock(s, ANE_LOCK_READ_WRITE), ANE_ERR_STATE);   /* not locked */
    ST(ane_surface_lock(s, ANE_LOCK_READ_WRITE, &base), ANE_OK);
    int zero = base != NULL;
    for (int i = 0; zero && i < 300; i++) zero = ((unsigned char *)base)[i] == 0;
    CHECK(zero, "a new surface is not zeroed");
    ST(ane_surface_lock(s, ANE_LOCK_READ_WRITE, &base2), ANE_ERR_STATE);   /* no nesting */
    CHECK(has(ane_last_error(), "nest"), "message: %s", ane_last_error());
    if (base) memset(base, 0xAB, 300);
    ST(ane_surface_unlock(s, ANE_LOCK_READ_ONLY), ANE_ERR_STATE);   /* flags must match */
    ST(ane_surface_unlock(s, ANE_LOCK_READ_WRITE), ANE_OK);
    ST(ane_surface_unlock(s, ANE_LOCK_READ_WRITE), ANE_ERR_STATE);
    ST(ane_surface_lock(s, ANE_LOCK_READ_ONLY, &base), ANE_OK);
    CHECK(base && ((unsigned char *)base)[299] == 0xAB, "data written under the lock is gone");
    ST(ane_surface_unlock(s, ANE_LOCK_READ_ONLY), ANE_OK);
    ST(ane_surface_lock(NULL, 0, &base), ANE_ERR_INVALID_ARG);
    ST(ane_surface_unlock(NULL, 0), ANE_ERR_INVALID_ARG);
    ane_surface_release(s);
    ane_surface_release(NULL);
}

/* The line and column of the first occurrence of needle in text (1-based). */
static void place_of(const char *text, const char *needle, int *line, int *column)
{
    const char *hit = strstr(text, needle), *start = text;
    *line = 1;
    for (const char *p = text; p < hit; p++)
        if (*p == '\n') (*line)++, start = p + 1;
    *column = (int)(hit - start) + 1;
}

static void test_compile_errors(void)
{
    ane_program *p = (ane_program *)1;
    uint32_t count0 = ane_compile_count();
    ST(ane_program_compile(NULL, kernel_mil, strlen(kernel_mil), NULL, 0, NULL, 0, 0, 0, &p), ANE_ERR_INVALID_ARG);
    CHECK(p == NULL, "out not cleared");
    ST(ane_program_compile(cpu, kernel_mil, strlen(kernel_mil), NULL, 0, NULL, 0, 0, 0, NULL), ANE_ERR_INVALID_ARG);
    ST(ane_program_compile(cpu, NULL, 10, NULL, 0, NULL, 0, 0, 0, &p), ANE_ERR_INVALID_ARG);
    ST(ane_program_compile(cpu, kernel_mil, 0, NULL, 0, NULL, 0, 0, 0, &p), ANE_ERR_INVALID_ARG);
    ST(ane_program_compile(cpu, kernel_mil, strlen(kernel_mil), NULL, 2, NULL, 0, 0, 0, &p), ANE_ERR_INVALID_ARG);
    ST(ane_program_compile(cpu, kernel_mil, strlen(kernel_mil), NULL, 0, NULL, 7, 0, 0, &p), ANE_ERR_INVALID_ARG);
    ST(ane_program_compile(cpu, kernel_mil, strlen(kernel_mil), NULL, 0, NULL, 0, 0, 0x10, &p), ANE_ERR_INVALID_ARG);

    /* Parse error: the message has the line and column of the unknown op's name. */
    int line, column;
    place_of(unknown_op_mil, "frobnicate", &line, &column);
    char want[64];
    snprintf(want, sizeof want, "MIL line %d, column %d: ", line, column);
    ST(compile(unknown_op_mil, NULL, 0, "none", 0, &p), ANE_ERR_PARSE);
    CHECK(!strncmp(ane_last_error(), want, strlen(want)) && has(ane_last_error(), "frobnicate"),
          "parse message \"%s\" does not start with \"%s\"", ane_last_error(), want);
    /* Text need not be NUL-terminated: a prefix cut mid-program is a parse error. */
    ST(ane_program_compile(cpu, kernel_mil, 40, NULL, 0, "none", 0, 0, 0, &p), ANE_ERR_PARSE);
    ST(compile(type_error_mil, NULL, 0, "none", 0, &p), ANE_ERR_TYPE);
    CHECK(!strncmp(ane_last_error(), "MIL line 5, column", 18), "type message: %s", ane_last_error());
    ST(compile(conv_mil, NULL, 0, "none", 0, &p), ANE_ERR_WEIGHTS);   /* w.bin not given */

    ST(compile(kernel_mil, NULL, 0, "m9", 0, &p), ANE_ERR_INVALID_ARG);
    CHECK(has(ane_last_error(), "m9") && has(ane_last_error(), "m1, m2, m3, m4, m5, none"), "message: %s", ane_last_error());

    /* Rules: fp32 I/O with a cast breaks three M1 rules, each joined into the message. */
    ST(compile(cast_mil, NULL, 0, "m1", 0, &p), ANE_ERR_RULE);
    const char *e = ane_last_error();
    CHECK(has(e, "breaks chip rule 'no-cast' (m1) at line 6") && has(e, "'fp16-io'") && has(e, "'dialect'"),
          "rule message: %s", e);
    ST(compile(cast_mil, NULL, 0, "m4", 0, &p), ANE_OK);   /* M4 casts */
    ane_program_free(p);

    /* I/O forms libane cannot lay out. */
    ST(compile(rank5_mil, NULL, 0, "none", 0, &p), ANE_ERR_UNSUPPORTED);
    CHECK(has(ane_last_error(), "rank 5") && has(ane_last_error(), "'x'"), "message: %s", ane_last_error());
    ST(compile(int16_mil, NULL, 0, "none", 0, &p), ANE_ERR_UNSUPPORTED);
    CHECK(has(ane_last_error(), "int16"), "message: %s", ane_last_error());

    /* fp32 numerics are the cpu backend's: accepted here. */
    ST(compile(kernel_mil, NULL, 0, "none", ANE_NUMERICS_FP32, &p), ANE_OK);
    ane_program_free(p);
    /* Only the two successful compiles counted. */
    CHECK(ane_compile_count() == count0 + 2, "compile count %u, expected %u", ane_compile_count(), count0 + 2);
}

static void test_layouts(void)
{
    ane_program *p = NULL;
    ane_io_desc d;
    if (!ST(compile(layout_mil, NULL, 0, "none", 0, &p), ANE_OK)) return;
    CHECK(ane_program_input_count(p) == 2 && ane_program_output_count(p) == 2, "I/O counts");
    /* x: fp16 [1,3,1,40]: a row is 80 bytes -> stride 128; 3 rows -> 384 bytes. */
    ST(ane_program_io(p, 0, 0, &d), ANE_OK);
    CHECK(!strcmp(d.name, "x") && d.dtype == ANE_DTYPE_FP16 && d.rank == 4 && d.shape[0] == 1 &&
          d.shape[1] == 3 && d.shape[2] == 1 && d.shape[3] == 40 && d.row_stride_bytes == 128 && d.bytes == 384,
          "x: %s dtype %u rank %u stride %llu bytes %llu", d.name, d.dtype, d.rank,
          (unsigned long long)d.row_stride_bytes, (unsigned long long)d.bytes);
    /* z: fp16 [5,40], rank 2 -> shape [5,40,1,1]; rows of 40 -> 128-byte stride; 5 rows = 640. */
    ST(ane_program_io(p, 0, 1, &d), ANE_OK);
    CHECK(!strcmp(d.name, "z") && d.rank == 2 && d.shape[0] == 5 && d.shape[1] == 40 && d.shape[2] == 1 &&
          d.shape[3] == 1 && d.row_stride_bytes == 128 && d.bytes == 640,
          "z: rank %u shape %lld,%lld,%lld,%lld stride %llu bytes %llu", d.rank, (long long)d.shape[0],
          (long long)d.shape[1], (long long)d.shape[2], (long long)d.shape[3],
          (unsigned long long)d.row_stride_bytes, (unsigned long long)d.bytes);
    /* y: fp32 [1,3,1,40]: 160 bytes -> 192; 3 rows = 576. */
    ST(ane_program_io(p, 1, 0, &d), ANE_OK);
    CHECK(!strcmp(d.name, "y") && d.dtype == ANE_DTYPE_FP32 && d.row_stride_bytes == 192 && d.bytes == 576,
          "y: stride %llu bytes %llu", (unsigned long long)d.row_stride_bytes, (unsigned long long)d.bytes);
    ST(ane_program_io(p, 1, 1, &d), ANE_OK);
    CHECK(!strcmp(d.name, "w"), "second output is %s", d.name);
    ST(ane_program_io(p, 1, 2, &d), ANE_ERR_INVALID_ARG);
    ST(ane_program_io(p, 0, 0, NULL), ANE_ERR_INVALID_ARG);
    ST(ane_program_io(NULL, 0, 0, &d), ANE_ERR_INVALID_ARG);
    CHECK(ane_program_input_count(NULL) == 0 && ane_program_output_count(NULL) == 0, "counts of NULL");
    ane_program_free(p);

    /* One 64-byte row: 64 bytes on "none", 128 on M5 (128-byte surfaces). */
    if (ST(compile(small_mil, NULL, 0, "none", 0, &p), ANE_OK)) {
        ST(ane_program_io(p, 0, 0, &d), ANE_OK);
        CHECK(d.row_stride_bytes == 64 && d.bytes == 64, "none: %llu", (unsigned long long)d.bytes);
        ane_program_free(p);
    }
    if (ST(compile(small_mil, NULL, 0, "m5", 0, &p), ANE_OK)) {
        ST(ane_program_io(p, 0, 0, &d), ANE_OK);
        CHECK(d.row_stride_bytes == 64 && d.bytes == 128, "m5: %llu", (unsigned long long)d.bytes);
        ane_program_free(p);
    }
}

/* Write a [rows, cols] fp16 block into a surface with the layout's row stride. */
static void put_fp16(ane_surface *s, const ane_io_desc *d, const float *v, int rows, int cols)
{
    void *base = NULL;
    if (ane_surface_lock(s, ANE_LOCK_READ_WRITE, &base) != ANE_OK) return;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            uint16_t h = to_half(v[r * cols + c]);
            memcpy((char *)base + r * d->row_stride_bytes + 2 * c, &h, 2);
        }
    ane_surface_unlock(s, ANE_LOCK_READ_WRITE);
}

static void get_fp16(ane_surface *s, const ane_io_desc *d, double *v, int rows, int cols)
{
    void *base = NULL;
    if (ane_surface_lock(s, ANE_LOCK_READ_ONLY, &base) != ANE_OK) return;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            uint16_t h;
            memcpy(&h, (char *)base + r * d->row_stride_bytes + 2 * c, 2);
            v[r * cols + c] = from_half(h);
        }
    ane_surface_unlock(s, ANE_LOCK_READ_ONLY);
}

static void test_conv_requests_and_eval(void)
{
    /* W [3,2] and x [2,4]: small integers and halves, exact in fp16, so y is exact too. */
    const float W[6] = {1, 2, 3, -1, 0.5f, 0.25f};
    const float x[8] = {1, 2, 3, 4, -1, 0, 1, 2};
    size_t wsize;
    unsigned char *blob = make_blob(W, 6, &wsize);
    ane_weight w = {"@model_path/weights/w.bin", blob, wsize};
    ane_program *p = NULL;
    if (!ST(compile(conv_mil, &w, 1, "none", 0, &p), ANE_OK)) return;
    memset(blob, 0, wsize);   /* the program captured its weights at compile */

    ane_io_desc in, out;
    ane_program_io(p, 0, 0, &in);
    ane_program_io(p, 1, 0, &out);
    /* x [1,2,1,4] fp16: 8-byte rows padded to 64; y: 3 rows of 64. */
    CHECK(in.row_stride_bytes == 64 && in.bytes == 128 && out.bytes == 192, "conv layouts %llu %llu",
          (unsigned long long)in.bytes, (unsigned long long)out.bytes);

    ane_surface *si = NULL, *so = NULL, *tiny = NULL, *other_si = NULL;
    ane_surface_create(cpu, in.bytes, &si);
    ane_surface_create(cpu, out.bytes, &so);
    ane_surface_create(cpu, 64, &tiny);
    ane_backend *other = NULL;
    ane_backend_open("cpu", &other);
    ane_surface_create(other, in.bytes, &other_si);

    /* Binding errors name the input/output and the sizes. */
    ane_request *r = (ane_request *)1;
    ST(ane_request_create(p, &si, 1, &so, 0, &r), ANE_ERR_BINDING);
    CHECK(r == NULL, "out not cleared");
    ST(ane_request_create(p, &si, 2, &so, 1, &r), ANE_ERR_BINDING);
    ST(ane_request_create(p, &tiny, 1, &so, 1, &r), ANE_ERR_BINDING);
    CHECK(has(ane_last_error(), "'x'") && has(ane_last_error(), "128") && has(ane_last_error(), "64 bytes"),
          "binding message: %s", ane_last_error());
    ST(ane_request_create(p, &si, 1, &tiny, 1, &r), ANE_ERR_BINDING);
    CHECK(has(ane_last_error(), "output") && has(ane_last_error(), "'y'") && has(ane_last_error(), "192"),
          "binding message: %s", ane_last_error());
    ane_surface *null_surface = NULL;
    ST(ane_request_create(p, &null_surface, 1, &so, 1, &r), ANE_ERR_BINDING);
    ST(ane_request_create(p, NULL, 1, &so, 1, &r), ANE_ERR_BINDING);
    ST(ane_request_create(p, &other_si, 1, &so, 1, &r), ANE_ERR_BINDING);
    CHECK(has(ane_last_error(), "another backend"), "message: %s", ane_last_error());
    ST(ane_request_create(NULL, &si, 1, &so, 1, &r), ANE_ERR_INVALID_ARG);
    if (!ST(ane_request_create(p, &si, 1, &so, 1, &r), ANE_OK)) return;

    put_fp16(si, &in, x, 2, 4);
    ane_eval_timing t = {0, 0};
    ST(ane_request_eval(r, 0, &t), ANE_ERR_STATE);   /* not loaded */
    CHECK(has(ane_last_error(), "load"), "message: %s", ane_last_error());
    ST(ane_program_load(p, 0), ANE_OK);
    void *base;
    ane_surface_lock(si, ANE_LOCK_READ_WRITE, &base);
    ST(ane_request_eval(r, 0, &t), ANE_ERR_STATE);   /* input locked */
    CHECK(has(ane_last_error(), "'x'") && has(ane_last_error(), "locked"), "message: %s", ane_last_error());
    ane_surface_unlock(si, ANE_LOCK_READ_WRITE);
    ane_surface_lock(so, ANE_LOCK_READ_ONLY, &base);
    ST(ane_request_eval(r, 0, &t), ANE_ERR_STATE);   /* output locked */
    CHECK(has(ane_last_error(), "'y'"), "message: %s", ane_last_error());
    ane_surface_unlock(so, ANE_LOCK_READ_ONLY);

    ST(ane_request_eval(r, 0, &t), ANE_OK);
    CHECK(t.wall_ns > 0, "wall time %llu", (unsigned long long)t.wall_ns);
    double y[12], y2[12];
    get_fp16(so, &out, y, 3, 4);
    int ok = 1;
    for (int o = 0; o < 3; o++)
        for (int s = 0; s < 4; s++) {
            double want = (double)W[o * 2] * x[s] + (double)W[o * 2 + 1] * x[4 + s];
            if (fabs(y[o * 4 + s] - want) > 1e-3 * (1 + fabs(want))) ok = 0;
        }
    CHECK(ok, "conv result differs from the float64 reference (y[0]=%g, want %g)", y[0], 1.0 * 1 + 2.0 * -1);

    /* The weight-reload experiment: unload, rewrite the weight file, load: unchanged. */
    float zeros[6] = {0};
    size_t zsize;
    unsigned char *zblob = make_blob(zeros, 6, &zsize);
    ST(ane_program_unload(p, 0), ANE_OK);
    ST(ane_program_rewrite_weight(p, w.name, zblob, zsize), ANE_OK);
    CHECK(ane_program_rewrite_weight(p, w.name, zblob, zsize - 2) != ANE_OK, "a rewrite of another size was accepted");
    ST(ane_program_rewrite_weight(p, NULL, zblob, zsize), ANE_ERR_INVALID_ARG);
    ST(ane_program_rewrite_weight(NULL, w.name, zblob, zsize), ANE_ERR_INVALID_ARG);
    ST(ane_program_load(p, 0), ANE_OK);
    ST(ane_request_eval(r, 0, NULL), ANE_OK);
    get_fp16(so, &out, y2, 3, 4);
    CHECK(!memcmp(y, y2, sizeof y), "rewriting the weight file changed the output");

    /* A failed compile leaves the loaded program working. */
    ane_program *bad = NULL;
    ST(compile(unknown_op_mil, NULL, 0, "none", 0, &bad), ANE_ERR_PARSE);
    ST(ane_request_eval(r, 0, NULL), ANE_OK);
    get_fp16(so, &out, y2, 3, 4);
    CHECK(!memcmp(y, y2, sizeof y), "a failed compile changed a loaded program's output");

    ST(ane_request_eval(NULL, 0, NULL), ANE_ERR_INVALID_ARG);
    ST(ane_program_load(NULL, 0), ANE_ERR_INVALID_ARG);
    ST(ane_program_unload(NULL, 0), ANE_ERR_INVALID_ARG);
    ane_request_free(r);
    ane_request_free(NULL);
    ane_program_free(p);   /* still loaded: free unloads */
    ane_program_free(NULL);
    ane_surface_release(si);
    ane_surface_release(so);
    ane_surface_release(tiny);
    ane_surface_release(other_si);
    ane_backend_close(other);
    free(blob);
    free(zblob);
}

/* Two fp32 inputs, fp32 numerics (the cpu backend's reference mode) and fp16 numerics. */
static void test_matmul(uint32_t numerics)
{
    const float a[6] = {1.5f, -2, 0.1f, 3, 0.25f, -1};      /* [2,3] */
    const float b[6] = {2, -1, 0.5f, 4, 1.0f / 3, 7};        /* [3,2] */
    ane_program *p = NULL;
    if (!ST(compile(matmul_mil, NULL, 0, "none", numerics, &p), ANE_OK)) return;
    ane_io_desc da, db, dy;
    ane_program_io(p, 0, 0, &da);
    ane_program_io(p, 0, 1, &db);
    ane_program_io(p, 1, 0, &dy);
    ane_surface *s[3] = {NULL, NULL, NULL};
    ane_surface_create(cpu, da.bytes, &s[0]);
    ane_surface_create(cpu, db.bytes, &s[1]);
    ane_surface_create(cpu, dy.bytes, &s[2]);
    void *base;
    ane_surface_lock(s[0], 0, &base);
    for (int r = 0; r < 2; r++) memcpy((char *)base + r * da.row_stride_bytes, a + 3 * r, 12);
    ane_surface_unlock(s[0], 0);
    ane_surface_lock(s[1], 0, &base);
    for (int r = 0; r < 3; r++) memcpy((char *)base + r * db.row_stride_bytes, b + 2 * r, 8);
    ane_surface_unlock(s[1], 0);
    ane_request *r = NULL;
    ST(ane_request_create(p, s, 2, &s[2], 1, &r), ANE_OK);
    ST(ane_program_load(p, 0), ANE_OK);
    ST(ane_request_eval(r, 0, NULL), ANE_OK);
    ane_surface_lock(s[2], ANE_LOCK_READ_ONLY, &base);
    double worst = 0;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            double want = 0;
            for (int k = 0; k < 3; k++) want += (double)a[i * 3 + k] * b[k * 2 + j];
            float got;
            memcpy(&got, (char *)base + i * dy.row_stride_bytes + 4 * j, 4);
            double err = fabs(got - want) / (1 + fabs(want));
            if (err > worst) worst = err;
        }
    ane_surface_unlock(s[2], ANE_LOCK_READ_ONLY);
    /* fp32: float rounding only; fp16: inputs and every result rounded to fp16 (2^-11). */
    double tol = numerics == ANE_NUMERICS_FP32 ? 1e-6 : 4e-3;
    CHECK(worst < tol, "matmul (numerics %u) relative error %g over %g", numerics, worst, tol);
    ane_request_free(r);
    ane_program_free(p);
    for (int i = 0; i < 3; i++) ane_surface_release(s[i]);
}

static void test_mil_check(void)
{
    size_t need = 0;
    ST(ane_mil_check(cast_mil, strlen(cast_mil), NULL, 0, "m2", NULL, 0, &need), ANE_ERR_BUFFER_TOO_SMALL);
    char *json = malloc(need);
    ST(ane_mil_check(cast_mil, strlen(cast_mil), NULL, 0, "m2", json, need, NULL), ANE_ERR_RULE);
    CHECK(json_valid(json) && has(json, "\"rule\":\"no-cast\"") && has(json, "\"line\":6"), "findings: %s", json);
    free(json);
    char buf[1024];
    ST(ane_mil_check(unknown_op_mil, strlen(unknown_op_mil), NULL, 0, NULL, buf, sizeof buf, NULL), ANE_ERR_PARSE);
    CHECK(json_valid(buf) && has(buf, "frobnicate"), "parse finding: %s", buf);
    ST(ane_mil_check(small_mil, strlen(small_mil), NULL, 0, "m4", buf, sizeof buf, NULL), ANE_OK);
    CHECK(json_valid(buf) && has(buf, "\"severity\":\"warning\""), "warnings only: %s", buf);
    ST(ane_mil_check(small_mil, strlen(small_mil), NULL, 0, "m9", buf, sizeof buf, NULL), ANE_ERR_INVALID_ARG);
    ST(ane_mil_check(NULL, 3, NULL, 0, "m4", buf, sizeof buf, NULL), ANE_ERR_INVALID_ARG);
}

/* Last: spends the process's budget. */
static void test_budget(void)
{
    uint32_t limit = ane_compile_limit("m4");
    CHECK(limit == 119, "m4 budget %u", limit);
    ane_program *p = NULL;
    int ok = 1;
    while (ok && ane_compile_count() < limit) {
        ok = compile(kernel_mil, NULL, 0, "m4", 0, &p) == ANE_OK;
        ane_program_free(p);
        p = NULL;
    }
    CHECK(ok && ane_compile_count() == limit, "compiling up to the budget failed at %u: %s", ane_compile_count(), ane_last_error());
    ST(compile(kernel_mil, NULL, 0, "m4", 0, &p), ANE_ERR_BUDGET);
    CHECK(has(ane_last_error(), "compile budget of 119 per process is spent"), "message: %s", ane_last_error());
    CHECK(p == NULL && ane_compile_count() == limit, "a refused compile counted");
    ST(compile(kernel_mil, NULL, 0, "m1", 0, &p), ANE_ERR_BUDGET);
    ST(compile(kernel_mil, NULL, 0, "none", 0, &p), ANE_OK);   /* "none" has no budget */
    CHECK(ane_compile_count() == limit + 1, "count after a none compile: %u", ane_compile_count());
    ane_program_free(p);
}

int main(void)
{
    test_json_checker();
    test_library_and_backends();
    if (!cpu) {
        printf("%d passed, %d failed (no cpu backend)\n", passed, failed + 1);
        return 1;
    }
    test_chips();
    test_surfaces();
    test_compile_errors();
    test_layouts();
    test_conv_requests_and_eval();
    test_matmul(ANE_NUMERICS_FP32);
    test_matmul(ANE_NUMERICS_FP16);
    test_mil_check();
    test_budget();
    ane_backend_close(cpu);
    return check_summary();
}
