/* test_mil_parse.c — tests of the MIL front end (mil_parse): both dialects, constants,
 * BLOBFILE weights and every blob error, type inference of every op, each type and parse
 * error, and robustness (every truncation of every corpus program, garbage input).
 * Expected values are literals written here by hand, never the parser's own output.
 *
 *   test_mil_parse [corpus_dir]      (default libane/test/mil)
 * Prints "N passed, M failed"; exit status 1 when anything failed. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/mil/mil.h"

#include "check.h"

/* ---------------------------------------------------------------- helpers */

static mil_program *parse_w(const char *text, const ane_weight *w, size_t nw, mil_diags *d)
{
    memset(d, 0, sizeof *d);
    return mil_parse(text, strlen(text), w, nw, d);
}

static const mil_value *value(const mil_program *p, const char *name)
{
    for (int i = 0; i < p->n_values; i++)
        if (strcmp(p->values[i].name, name) == 0) return &p->values[i];
    return NULL;
}

static int shape_is(const mil_type *t, int rank, const long long *s)
{
    if (t->rank != rank) return 0;
    for (int i = 0; i < rank; i++)
        if (t->shape[i] != s[i]) return 0;
    return 1;
}

/* Parse `text`; expect failure with `status` and a message containing `needle`. */
static void expect_error(const char *label, const char *text, const ane_weight *w, size_t nw,
                         ane_status status, const char *needle)
{
    mil_diags d;
    mil_program *p = parse_w(text, w, nw, &d);
    const mil_diag *e = mil_diags_first_error(&d);
    CHECK(!p && e, "%s: expected an error, parse succeeded", label);
    if (e) {
        CHECK(e->status == status, "%s: status %d, expected %d (%s)", label, e->status, status, e->message);
        CHECK(strstr(e->message, needle) != NULL, "%s: message \"%s\" lacks \"%s\"", label, e->message, needle);
    }
    mil_program_free(p);
    mil_diags_free(&d);
}

static void expect_ok(const char *label, const char *text)
{
    mil_diags d;
    mil_program *p = parse_w(text, NULL, 0, &d);
    const mil_diag *e = mil_diags_first_error(&d);
    CHECK(p != NULL, "%s: %s", label, e ? e->message : "no diagnostic");
    mil_program_free(p);
    mil_diags_free(&d);
}

/* A one-function ios18 program around `body`, with inputs `params`, returning `out`. */
static char *prog(const char *params, const char *body, const char *out)
{
    static char buf[8192];
    snprintf(buf, sizeof buf, "program(1.3)\n{\n    func main<ios18>(%s) {\n%s\n    } -> (%s);\n}\n", params, body, out);
    return buf;
}

/* fp16 bits of a value exactly representable in fp16 (normal or zero): written
 * independently of the front end's rounding. */
static unsigned short fp16_bits_exact(double v)
{
    if (v == 0) return 0;
    unsigned short sign = v < 0 ? 0x8000 : 0;
    double a = fabs(v);
    int e = 0;
    while (a >= 2) { a /= 2; e++; }
    while (a < 1) { a *= 2; e--; }
    return (unsigned short)(sign | (unsigned short)((e + 15) << 10) | (unsigned short)((a - 1) * 1024));
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) { free(b); b = NULL; }
    fclose(f);
    if (b) { b[n] = 0; *len = (size_t)n; }
    return b;
}

/* A blob with one chunk at offset 64: header + n fp16 values v[i] = (i % 7 - 3) * 0.25. */
static unsigned char *make_blob(int n, size_t *size)
{
    *size = 128 + (size_t)n * 2;
    unsigned char *b = calloc(1, *size);
    b[0] = 1; b[4] = 2;
    b[64] = 0xEF; b[65] = 0xBE; b[66] = 0xAD; b[67] = 0xDE; b[68] = 1;
    unsigned sz = (unsigned)n * 2, off = 128;
    memcpy(b + 72, &sz, 4);    /* little-endian host */
    memcpy(b + 80, &off, 4);
    for (int i = 0; i < n; i++) {
        unsigned short h = fp16_bits_exact((i % 7 - 3) * 0.25);
        b[128 + 2 * i] = (unsigned char)h;
        b[129 + 2 * i] = (unsigned char)(h >> 8);
    }
    return b;
}

/* ---------------------------------------------------------------- tests */

static void test_ios18_file(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/ios18_dyn_matmul.mil", dir);
    size_t len;
    char *text = read_file(path, &len);
    CHECK(text != NULL, "cannot read %s", path);
    if (!text) return;
    mil_diags d = {0};
    mil_program *p = mil_parse(text, len, NULL, 0, &d);
    CHECK(p != NULL, "dyn_matmul: %s", d.n ? d.items[0].message : "");
    if (p) {
        CHECK(p->dialect == MIL_DIALECT_IOS18, "dialect");
        CHECK(!strcmp(p->program_version, "1.3") && !strcmp(p->opset, "ios18") && !strcmp(p->func_name, "main"), "header");
        CHECK(p->n_inputs == 1 && p->n_outputs == 1, "io counts");
        const mil_value *x = &p->values[p->inputs[0]];
        CHECK(!strcmp(x->name, "x") && x->kind == MIL_VALUE_INPUT && x->def_op == -1, "input x");
        CHECK(shape_is(&x->type, 4, (long long[]){1, 64, 1, 96}) && x->type.dtype == MIL_FP16, "x type");
        CHECK(x->n_uses == 2, "x used twice, got %d", x->n_uses);
        const mil_value *bw = value(p, "bw");
        CHECK(bw && bw->kind == MIL_VALUE_CONST && bw->type.dtype == MIL_INT32 && bw->cst.n == 4 && bw->cst.i &&
              bw->cst.i[0] == 0 && bw->cst.i[3] == 32 && !bw->cst.blob_path, "bw const");
        const mil_value *w = value(p, "w");   /* size -1 = to the end: 96 - 32 */
        CHECK(w && shape_is(&w->type, 4, (long long[]){1, 64, 1, 64}), "w shape");
        const mil_value *pm = value(p, "pm");
        CHECK(pm && pm->n_uses == 2, "pm uses");
        const mil_value *bF = value(p, "bF");
        CHECK(bF && bF->type.dtype == MIL_BOOL && bF->type.rank == 0 && bF->cst.i[0] == 0, "bF");
        const mil_value *m = value(p, "m");
        CHECK(m && m->kind == MIL_VALUE_OP && p->ops[m->def_op].code == MIL_OP_MATMUL, "m op");
        if (m) {
            const mil_op *op = &p->ops[m->def_op];
            CHECK(op->n_args == 4 && mil_op_arg_value(p, op, "x") == value(p, "at") &&
                  mil_op_arg_value(p, op, "y") == value(p, "w2"), "matmul args");
            CHECK(op->attr_name && !strcmp(op->attr_name, "m"), "attr name");
            CHECK(op->line == 19 && op->column == 9, "matmul at line %d col %d", op->line, op->column);
        }
        const mil_value *y = &p->values[p->outputs[0]];
        CHECK(!strcmp(y->name, "y") && shape_is(&y->type, 4, (long long[]){1, 64, 1, 32}) && y->n_uses == 1, "output y");
        CHECK(p->n_ops == 17 && p->n_blob_files == 0, "op count %d", p->n_ops);
    }
    mil_program_free(p);
    mil_diags_free(&d);
    free(text);
}

static void test_ios16_blob(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/ios16_conv.mil", dir);
    size_t len, bsize;
    char *text = read_file(path, &len);
    CHECK(text != NULL, "cannot read %s", path);
    if (!text) return;
    unsigned char *blob = make_blob(32 * 64, &bsize);
    ane_weight w = { "@model_path/weights/w.bin", blob, bsize };
    mil_diags d = {0};
    mil_program *p = mil_parse(text, len, &w, 1, &d);
    CHECK(p != NULL, "ios16_conv: %s", d.n ? d.items[0].message : "");
    if (p) {
        CHECK(p->dialect == MIL_DIALECT_IOS16 && !strcmp(p->program_version, "1.0") && !strcmp(p->opset, "ios16"), "ios16 header");
        const mil_value *W = value(p, "W");
        int ok = W && W->cst.f && W->cst.n == 2048;
        for (int i = 0; ok && i < 2048; i++) ok = W->cst.f[i] == (i % 7 - 3) * 0.25;
        CHECK(ok, "W values");
        CHECK(W && W->cst.blob_path && !strcmp(W->cst.blob_path, "@model_path/weights/w.bin") && W->cst.blob_offset == 64, "W blob");
        CHECK(p->n_blob_files == 1 && p->blob_file_refs[0] == 1, "blob files");
        const mil_value *s = value(p, "s"), *gr = value(p, "gr"), *pt = value(p, "pt");
        CHECK(s && s->type.rank == 0 && s->type.dtype == MIL_FP16 && s->cst.f[0] == 0.125, "tensor<fp16, []>(0x1p-3)");
        CHECK(gr && gr->type.rank == 0 && gr->cst.i[0] == 1, "tensor<int32, []>(1)");
        CHECK(pt && pt->cst.s && !strcmp(pt->cst.s, "valid"), "tensor<string, []>(\"valid\")");
        const mil_value *c = value(p, "c");
        CHECK(c && shape_is(&c->type, 4, (long long[]){1, 32, 1, 32}), "conv shape");
    }
    mil_program_free(p);
    mil_diags_free(&d);

    /* The benchmark variant: size and offset fields zero, payload right after the header. */
    memset(blob + 72, 0, 4);
    memset(blob + 80, 0, 4);
    p = mil_parse(text, len, &w, 1, &d);
    CHECK(p && value(p, "W")->cst.f[8] == (8 % 7 - 3) * 0.25, "zero-size chunk accepted");
    mil_program_free(p);
    mil_diags_free(&d);
    free(blob);
    free(text);
}

static const char *blob_prog =
    "program(1.3)\n{\n    func main<ios18>(tensor<fp16, [1, 4, 1, 8]> x) {\n"
    "        tensor<fp16, [4, 4, 1, 1]> W = const()[name=string(\"W\"), val=tensor<fp16, [4, 4, 1, 1]>(BLOBFILE(path=string(\"@model_path/weights/w.bin\"), offset=uint64(64)))];\n"
    "        tensor<fp16, [1, 4, 1, 8]> y = conv(x=x, weight=W)[name=string(\"y\")];\n"
    "    } -> (y);\n}\n";

static void test_blob_errors(void)
{
    size_t size;
    unsigned char *b = make_blob(16, &size);
    ane_weight w = { "@model_path/weights/w.bin", b, size };
    mil_diags d;
    mil_program *p = parse_w(blob_prog, &w, 1, &d);
    CHECK(p != NULL, "blob prog: %s", d.n ? d.items[0].message : "");
    CHECK(p && value(p, "W")->cst.f[15] == (15 % 7 - 3) * 0.25, "blob value 15");
    mil_program_free(p);
    mil_diags_free(&d);

    ane_weight other = { "@model_path/weights/v.bin", b, size };
    expect_error("missing blob", blob_prog, &other, 1, ANE_ERR_WEIGHTS, "const 'W': BLOBFILE \"@model_path/weights/w.bin\" offset 64: no weight blob");
    b[64] = 0;
    expect_error("bad magic", blob_prog, &w, 1, ANE_ERR_WEIGHTS, "bad chunk magic");
    b[64] = 0xEF;
    unsigned bad = 30;
    memcpy(b + 72, &bad, 4);
    expect_error("size mismatch", blob_prog, &w, 1, ANE_ERR_WEIGHTS, "payload size is 30 bytes but tensor<fp16, [4, 4, 1, 1]> needs 32");
    bad = 32;
    memcpy(b + 72, &bad, 4);
    bad = 140;
    memcpy(b + 80, &bad, 4);
    expect_error("payload out of range", blob_prog, &w, 1, ANE_ERR_WEIGHTS, "payload [140, 172) lies outside the blob of 160 bytes");
    bad = 128;
    memcpy(b + 80, &bad, 4);
    ane_weight shortw = { w.name, b, 100 };
    expect_error("chunk out of range", blob_prog, &shortw, 1, ANE_ERR_WEIGHTS, "chunk header lies outside");
    char *txt = strdup(blob_prog);
    char *o = strstr(txt, "uint64(64)");
    memcpy(o, "uint64(99)", 10);
    expect_error("offset past end", txt, &w, 1, ANE_ERR_WEIGHTS, "offset 99");
    memcpy(o, "uint64(64)", 10);
    char *fp = strstr(txt, "<fp16, [4, 4, 1, 1]>(BLOB");
    memcpy(fp, "<int32,[4, 4, 1, 1]>(BLOB", 25);
    expect_error("int32 blob", txt, &w, 1, ANE_ERR_WEIGHTS, "weight blobs hold fp16, fp32, int8 or uint8");
    free(txt);
    free(b);

    /* Two chunks in one file, referenced three times: two distinct offsets. */
    size_t s2 = 64 + 2 * (64 + 32);
    unsigned char *b2 = calloc(1, s2);
    for (int k = 0; k < 2; k++) {
        unsigned char *c = b2 + 64 + k * 96;
        c[0] = 0xEF; c[1] = 0xBE; c[2] = 0xAD; c[3] = 0xDE;
        unsigned sz = 32, off = (unsigned)(64 + k * 96 + 64);
        memcpy(c + 8, &sz, 4);
        memcpy(c + 16, &off, 4);
        unsigned short one = fp16_bits_exact(k ? -2.0 : 1.5);
        for (int i = 0; i < 16; i++) memcpy(b2 + off + 2 * i, &one, 2);
    }
    ane_weight w2 = { "@model_path/weights/all.bin", b2, s2 };
    const char *t2 = prog("tensor<fp16, [1, 4, 1, 8]> x",
        "        tensor<fp16, [4, 4, 1, 1]> A = const()[name=string(\"A\"), val=tensor<fp16, [4, 4, 1, 1]>(BLOBFILE(path=string(\"@model_path/weights/all.bin\"), offset=uint64(64)))];\n"
        "        tensor<fp16, [4, 4, 1, 1]> B = const()[name=string(\"B\"), val=tensor<fp16, [4, 4, 1, 1]>(BLOBFILE(path=string(\"@model_path/weights/all.bin\"), offset=uint64(160)))];\n"
        "        tensor<fp16, [4, 4, 1, 1]> C = const()[name=string(\"C\"), val=tensor<fp16, [4, 4, 1, 1]>(BLOBFILE(path=string(\"@model_path/weights/all.bin\"), offset=uint64(64)))];\n"
        "        tensor<fp16, [4, 4, 1, 1]> s = add(x=A, y=B)[name=string(\"s\")];\n"
        "        tensor<fp16, [4, 4, 1, 1]> s2 = add(x=s, y=C)[name=string(\"s2\")];",
        "s2");
    p = parse_w(t2, &w2, 1, &d);
    CHECK(p != NULL, "two chunks: %s", d.n ? d.items[0].message : "");
    if (p) {
        CHECK(p->n_blob_files == 1 && p->blob_file_refs[0] == 2, "distinct offsets %d", p->n_blob_files ? p->blob_file_refs[0] : -1);
        CHECK(value(p, "A")->cst.f[3] == 1.5 && value(p, "B")->cst.f[15] == -2.0 && value(p, "C")->cst.f[0] == 1.5, "chunk values");
        CHECK(value(p, "B")->cst.blob_offset == 160, "B offset");
    }
    mil_program_free(p);
    mil_diags_free(&d);
    free(b2);
}

static void test_literals(void)
{
    const char *t = prog("tensor<fp16, [2]> x",
        "        fp16 a = const()[name=string(\"a\"), val=fp16(0.1)];\n"
        "        fp16 b = const()[name=string(\"b\"), val=fp16(65519)];\n"
        "        fp16 c = const()[name=string(\"c\"), val=fp16(65520)];\n"
        "        fp16 d = const()[name=string(\"d\"), val=fp16(-inf)];\n"
        "        fp16 e = const()[name=string(\"e\"), val=fp16(nan)];\n"
        "        fp32 f = const()[name=string(\"f\"), val=fp32(0.1)];\n"
        "        fp16 g = const()[name=string(\"g\"), val=fp16(0x1.8p-3)];\n"
        "        fp16 h = const()[name=string(\"h\"), val=fp16(1e-8)];\n"
        "        fp16 k = const()[name=string(\"k\"), val=fp16(3e-8)];\n"
        "        tensor<int8, [2, 2]> i8 = const()[name=string(\"i8\"), val=tensor<int8, [2, 2]>([[-128, 127], [0, -1]])];\n"
        "        uint64 u = const()[name=string(\"u\"), val=uint64(9000000000)];\n"
        "        string s = const()[name=string(\"s\"), val=string(\"a\\\"b\")];\n"
        "        tensor<fp16, [2]> y = mul(x=x, y=tensor<fp16, [2]>([1.0009765625, 1.00048828125]))[name=string(\"y\")];",
        "y");
    mil_diags d;
    mil_program *p = parse_w(t, NULL, 0, &d);
    CHECK(p != NULL, "literals: %s", d.n ? d.items[0].message : "");
    if (!p) { mil_diags_free(&d); return; }
    CHECK(value(p, "a")->cst.f[0] == 0.0999755859375, "fp16(0.1) = %.17g", value(p, "a")->cst.f[0]);
    CHECK(value(p, "b")->cst.f[0] == 65504.0, "fp16(65519) rounds to 65504");
    CHECK(isinf(value(p, "c")->cst.f[0]) && value(p, "c")->cst.f[0] > 0, "fp16(65520) = inf");
    CHECK(isinf(value(p, "d")->cst.f[0]) && value(p, "d")->cst.f[0] < 0, "-inf");
    CHECK(isnan(value(p, "e")->cst.f[0]), "nan");
    CHECK(value(p, "f")->cst.f[0] == (double)0.1f, "fp32(0.1)");
    CHECK(value(p, "g")->cst.f[0] == 0.1875, "hex float");
    CHECK(value(p, "h")->cst.f[0] == 0.0, "1e-8 rounds to 0 (below half of 2^-24)");
    CHECK(value(p, "k")->cst.f[0] == 5.9604644775390625e-08, "3e-8 rounds to the subnormal 2^-24");
    const mil_value *i8 = value(p, "i8");
    CHECK(i8->cst.i[0] == -128 && i8->cst.i[1] == 127 && i8->cst.i[2] == 0 && i8->cst.i[3] == -1, "nested int8 list");
    CHECK(value(p, "u")->cst.i[0] == 9000000000LL, "uint64");
    CHECK(!strcmp(value(p, "s")->cst.s, "a\"b"), "string escape");
    const mil_value *lit = &p->values[p->ops[p->n_ops - 1].args[1].values[0]];
    /* 1.00048828125 is halfway between 1 and 1.0009765625: ties go to even (1.0). */
    CHECK(lit->kind == MIL_VALUE_CONST && lit->def_op == -1 && lit->name[0] == '%' &&
          lit->cst.f[0] == 1.0009765625 && lit->cst.f[1] == 1.0, "inline literal, ties to even");
    mil_program_free(p);
    mil_diags_free(&d);
}

static void test_constexpr(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/ios18_quant.mil", dir);
    size_t len;
    char *text = read_file(path, &len);
    if (!text) { CHECK(0, "cannot read %s", path); return; }
    mil_diags d = {0};
    mil_program *p = mil_parse(text, len, NULL, 0, &d);
    CHECK(p != NULL, "quant: %s", d.n ? d.items[0].message : "");
    if (p) {
        const mil_value *wd = value(p, "wd");
        double want[8] = { 0.5, -1, 0.5, 0.75, -128, 127, 2, 12 };  /* (q - zp) * scale by row */
        int ok = wd && wd->kind == MIL_VALUE_CONST && wd->cst.f && wd->cst.n == 8;
        for (int i = 0; ok && i < 8; i++) ok = wd->cst.f[i] == want[i];
        CHECK(ok, "constexpr_affine_dequantize values");
        CHECK(value(p, "q")->type.dtype == MIL_INT8 && value(p, "dq")->type.dtype == MIL_FP16, "quantize dtypes");
        CHECK(shape_is(&value(p, "rmean")->type, 1, (long long[]){4}), "reduce_mean shape");
        CHECK(p->n_outputs == 2, "two outputs");
    }
    mil_program_free(p);
    mil_diags_free(&d);
    free(text);
}

/* Shapes written by hand from the MIL op definitions; the parse succeeds only when the
 * inferred type equals the declared one. */
static void test_inference(void)
{
    expect_ok("conv same stride 2", prog("tensor<fp16, [1, 8, 5, 7]> x, tensor<fp16, [4, 8, 3, 3]> w",
        "        tensor<fp16, [1, 4, 3, 4]> y = conv(x=x, weight=w, strides=tensor<int32, [2]>([2, 2]), pad_type=string(\"same\"))[name=string(\"y\")];", "y"));
    expect_ok("conv custom pad dilation groups", prog("tensor<fp16, [1, 8, 10, 10]> x, tensor<fp16, [6, 4, 3, 3]> w, tensor<fp16, [6]> b",
        "        tensor<fp16, [1, 6, 8, 5]> y = conv(x=x, weight=w, bias=b, groups=int32(2), dilations=tensor<int32, [2]>([2, 1]), pad_type=string(\"custom\"), pad=tensor<int32, [4]>([1, 1, 0, 1]), strides=tensor<int32, [2]>([1, 2]))[name=string(\"y\")];", "y"));
    expect_ok("matmul 1-D x", prog("tensor<fp32, [5]> x, tensor<fp32, [3, 5, 2]> y",
        "        tensor<fp32, [3, 2]> z = matmul(x=x, y=y)[name=string(\"z\")];", "z"));
    expect_ok("matmul 1-D y", prog("tensor<fp32, [2, 4, 5]> x, tensor<fp32, [5]> y",
        "        tensor<fp32, [2, 4]> z = matmul(x=x, y=y)[name=string(\"z\")];", "z"));
    expect_ok("matmul batch broadcast + transposes", prog("tensor<fp16, [2, 1, 5, 4]> x, tensor<fp16, [3, 6, 5]> y",
        "        tensor<fp16, [2, 3, 4, 6]> z = matmul(x=x, y=y, transpose_x=bool(true), transpose_y=bool(true))[name=string(\"z\")];", "z"));
    expect_ok("linear", prog("tensor<fp16, [3, 7]> x, tensor<fp16, [5, 7]> w",
        "        tensor<fp16, [3, 5]> z = linear(x=x, weight=w, bias=tensor<fp16, [5]>([0, 0, 0, 0, 0]))[name=string(\"z\")];", "z"));
    expect_ok("broadcast add", prog("tensor<fp16, [4, 1, 3]> x, tensor<fp16, [2, 1]> y",
        "        tensor<fp16, [4, 2, 3]> z = add(x=x, y=y)[name=string(\"z\")];", "z"));
    expect_ok("reduce all axes", prog("tensor<fp16, [4, 2, 3]> x",
        "        fp16 z = reduce_sum(x=x)[name=string(\"z\")];", "z"));
    expect_ok("reduce negative axes keep", prog("tensor<fp16, [4, 2, 3]> x",
        "        tensor<fp16, [4, 1, 1]> z = reduce_max(x=x, axes=tensor<int32, [2]>([-1, 1]), keep_dims=bool(true))[name=string(\"z\")];", "z"));
    expect_ok("reshape 0 and -1", prog("tensor<fp16, [2, 3, 4]> x",
        "        tensor<fp16, [2, 4, 3]> z = reshape(x=x, shape=tensor<int32, [3]>([0, -1, 3]))[name=string(\"z\")];", "z"));
    expect_ok("slice_by_index masks, negative stride, squeeze", prog("tensor<fp16, [5, 6, 7]> x",
        "        tensor<fp16, [3, 2]> z = slice_by_index(x=x, begin=tensor<int32, [3]>([4, 1, -3]), end=tensor<int32, [3]>([0, 0, -1]), "
        "stride=tensor<int32, [3]>([-2, 1, 1]), begin_mask=tensor<bool, [3]>([true, false, false]), end_mask=tensor<bool, [3]>([true, false, false]), "
        "squeeze_mask=tensor<bool, [3]>([false, true, false]))[name=string(\"z\")];", "z"));
    expect_ok("slice_by_size negative begin", prog("tensor<fp16, [1, 8]> x",
        "        tensor<fp16, [1, 3]> z = slice_by_size(x=x, begin=tensor<int32, [2]>([0, -3]), size=tensor<int32, [2]>([-1, 3]))[name=string(\"z\")];", "z"));
    expect_ok("sdpa", prog("tensor<fp16, [2, 3, 5, 8]> q, tensor<fp16, [2, 3, 7, 8]> k, tensor<fp16, [2, 3, 7, 4]> v",
        "        tensor<fp16, [2, 3, 5, 4]> z = scaled_dot_product_attention(query=q, key=k, value=v, attn_mask=tensor<bool, [1, 7]>([true, true, true, true, true, true, true]))[name=string(\"z\")];", "z"));
    expect_ok("layer_norm gamma/beta", prog("tensor<fp16, [2, 3, 4]> x",
        "        tensor<fp16, [2, 3, 4]> z = layer_norm(x=x, axes=tensor<int32, [2]>([-2, -1]), gamma=tensor<fp16, [3, 4]>([1,1,1,1,1,1,1,1,1,1,1,1]), epsilon=fp16(1e-5))[name=string(\"z\")];", "z"));
    expect_ok("concat 3 values", prog("tensor<fp16, [1, 2, 1, 4]> a, tensor<fp16, [1, 5, 1, 4]> b",
        "        tensor<fp16, [1, 9, 1, 4]> z = concat(values=(a, b, a), axis=int32(-3))[name=string(\"z\")];", "z"));
    expect_ok("cast to int32", prog("tensor<fp16, [3]> x",
        "        tensor<int32, [3]> z = cast(x=x, dtype=string(\"int32\"))[name=string(\"z\")];", "z"));
    expect_ok("comments and whitespace", "// leading comment\nprogram ( 1.3 ) { func   main < ios18 > ( tensor < fp16 , [ 2 ] > x ) // c\n{ tensor<fp16,[2]>y=relu(x=x)[name=string(\"y\")] ; } -> ( y ) ; }");
}

static void test_errors(void)
{
    expect_error("declared vs inferred", prog("tensor<fp16, [1, 32]> x, tensor<fp16, [32, 32]> w",
        "        tensor<fp16, [1, 64]> y = matmul(x=x, y=w)[name=string(\"y\")];", "y"),
        NULL, 0, ANE_ERR_TYPE, "line 4, column 9: op 'matmul' (y): declared tensor<fp16, [1, 64]> but inferred tensor<fp16, [1, 32]>");
    expect_error("fp16 + fp32", prog("tensor<fp16, [4]> x, tensor<fp32, [4]> y",
        "        tensor<fp16, [4]> z = add(x=x, y=y)[name=string(\"z\")];", "z"), NULL, 0, ANE_ERR_TYPE, "'x' is fp16 but 'y' is fp32");
    expect_error("undefined name", prog("tensor<fp16, [4]> x",
        "        tensor<fp16, [4]> z = add(x=x, y=q)[name=string(\"z\")];", "z"), NULL, 0, ANE_ERR_PARSE, "line 4, column 42: 'q' is not defined");
    expect_error("duplicate name", prog("tensor<fp16, [4]> x",
        "        tensor<fp16, [4]> x = relu(x=x)[name=string(\"x\")];", "x"), NULL, 0, ANE_ERR_PARSE, "'x' is already defined at line 3");
    expect_error("duplicate input", prog("tensor<fp16, [4]> x, tensor<fp16, [4]> x",
        "        tensor<fp16, [4]> z = relu(x=x)[name=string(\"z\")];", "z"), NULL, 0, ANE_ERR_PARSE, "already defined");
    expect_error("unknown op", prog("tensor<fp16, [4]> x",
        "        tensor<fp16, [4]> z = frobnicate(x=x)[name=string(\"z\")];", "z"), NULL, 0, ANE_ERR_PARSE, "unknown op 'frobnicate'");
    expect_error("wrong arg name", prog("tensor<fp16, [4]> x",
        "        tensor<fp16, [4]> z = relu(input=x)[name=string(\"z\")];", "z"), NULL, 0, ANE_ERR_TYPE, "unknown argument 'input'");
    expect_error("missing arg", prog("tensor<fp16, [4]> x",
        "        tensor<fp16, [4]> z = add(x=x)[name=string(\"z\")];", "z"), NULL, 0, ANE_ERR_TYPE, "missing required argument 'y'");
    expect_error("computed perm", prog("tensor<fp16, [2, 3]> x, tensor<int32, [2]> p",
        "        tensor<fp16, [3, 2]> z = transpose(x=x, perm=p)[name=string(\"z\")];", "z"), NULL, 0, ANE_ERR_TYPE, "'perm' must be a constant");
    expect_error("bad perm", prog("tensor<fp16, [2, 3]> x",
        "        tensor<fp16, [3, 2]> z = transpose(x=x, perm=tensor<int32, [2]>([1, 1]))[name=string(\"z\")];", "z"), NULL, 0, ANE_ERR_TYPE, "not a permutation");
    expect_error("reshape count", prog("tensor<fp16, [2, 3]> x",
        "        tensor<fp16, [7]> z = reshape(x=x, shape=tensor<int32, [1]>([7]))[name=string(\"z\")];", "z"), NULL, 0, ANE_ERR_TYPE, "(6 elements) to tensor<fp16, [7]> (7 elements)");
    expect_error("slice out of range", prog("tensor<fp16, [4]> x",
        "        tensor<fp16, [3]> z = slice_by_size(x=x, begin=tensor<int32, [1]>([2]), size=tensor<int32, [1]>([3]))[name=string(\"z\")];", "z"), NULL, 0, ANE_ERR_TYPE, "does not fit axis 0");
    expect_error("concat mismatch", prog("tensor<fp16, [2, 3]> a, tensor<fp16, [3, 3]> b",
        "        tensor<fp16, [2, 6]> z = concat(values=(a, b), axis=int32(1))[name=string(\"z\")];", "z"), NULL, 0, ANE_ERR_TYPE, "only axis 1 may differ");
    expect_error("conv channels", prog("tensor<fp16, [1, 8, 1, 4]> x, tensor<fp16, [4, 6, 1, 1]> w",
        "        tensor<fp16, [1, 4, 1, 4]> z = conv(x=x, weight=w)[name=string(\"z\")];", "z"), NULL, 0, ANE_ERR_TYPE, "input channels");
    expect_error("broadcast", prog("tensor<fp16, [4, 3]> x, tensor<fp16, [2, 3]> y",
        "        tensor<fp16, [4, 3]> z = mul(x=x, y=y)[name=string(\"z\")];", "z"), NULL, 0, ANE_ERR_TYPE, "do not broadcast");
    expect_error("softmax axis", prog("tensor<fp16, [4, 3]> x",
        "        tensor<fp16, [4, 3]> z = softmax(x=x, axis=int32(2))[name=string(\"z\")];", "z"), NULL, 0, ANE_ERR_TYPE, "axis 2 is out of range for rank 2");
    expect_error("cast dtype", prog("tensor<fp16, [4]> x",
        "        tensor<fp16, [4]> z = cast(x=x, dtype=string(\"float9\"))[name=string(\"z\")];", "z"), NULL, 0, ANE_ERR_TYPE, "\"float9\" is not a dtype");
    expect_error("undefined output", prog("tensor<fp16, [4]> x",
        "        tensor<fp16, [4]> z = relu(x=x)[name=string(\"z\")];", "nope"), NULL, 0, ANE_ERR_PARSE, "output 'nope' is not defined");
    expect_error("zero dim", prog("tensor<fp16, [4, 0]> x", "", "x"), NULL, 0, ANE_ERR_TYPE, "positive integer");
    expect_error("absurd size", prog("tensor<fp16, [65536, 65536]> x", "", "x"), NULL, 0, ANE_ERR_TYPE, "more than 2147483648 elements");
    expect_error("1e6-element claim", prog("tensor<fp16, [4]> x",
        "        tensor<fp16, [1000000]> c = const()[name=string(\"c\"), val=tensor<fp16, [1000000]>([1, 2])];", "c"), NULL, 0, ANE_ERR_TYPE, "has 2 values, expected 1000000");
    expect_error("int8 range", prog("tensor<fp16, [4]> x",
        "        int8 c = const()[name=string(\"c\"), val=int8(128)];", "c"), NULL, 0, ANE_ERR_PARSE, "'128' is not a valid int8");
    expect_error("float for int", prog("tensor<fp16, [4]> x",
        "        int32 c = const()[name=string(\"c\"), val=int32(1.5)];", "c"), NULL, 0, ANE_ERR_PARSE, "not a valid int32");
    expect_error("const type mismatch", prog("tensor<fp16, [4]> x",
        "        tensor<fp16, [3]> c = const()[name=string(\"c\"), val=tensor<fp16, [2]>([1, 2])];", "c"), NULL, 0, ANE_ERR_TYPE, "declared tensor<fp16, [3]> but inferred tensor<fp16, [2]>");
    expect_error("unknown opset", "program(1.3) { func main<ios99>(tensor<fp16, [2]> x) { } -> (x); }", NULL, 0, ANE_ERR_PARSE, "unknown opset 'ios99'");
    expect_error("missing semicolon", prog("tensor<fp16, [4]> x",
        "        tensor<fp16, [4]> z = relu(x=x)[name=string(\"z\")]", "z"), NULL, 0, ANE_ERR_PARSE, "expected ';' at the end of the statement");
    expect_error("tuple for plain arg", prog("tensor<fp16, [4]> x",
        "        tensor<fp16, [4]> z = relu(x=(x, x))[name=string(\"z\")];", "z"), NULL, 0, ANE_ERR_TYPE, "takes one value, not a tuple");
    expect_error("bool add", prog("tensor<bool, [4]> x",
        "        tensor<bool, [4]> z = add(x=x, y=x)[name=string(\"z\")];", "z"), NULL, 0, ANE_ERR_TYPE, "numeric");
    expect_error("sdpa mismatch", prog("tensor<fp16, [1, 5, 8]> q, tensor<fp16, [1, 7, 6]> k",
        "        tensor<fp16, [1, 5, 6]> z = scaled_dot_product_attention(query=q, key=k, value=k)[name=string(\"z\")];", "z"), NULL, 0, ANE_ERR_TYPE, "embedding axis");
    expect_error("trailing garbage", "program(1.3) { func main<ios18>(tensor<fp16, [2]> x) { } -> (x); } extra", NULL, 0, ANE_ERR_PARSE, "after the end of the program");
    expect_error("empty", "", NULL, 0, ANE_ERR_PARSE, "expected 'program'");
    expect_error("nul byte", "program(1.3)\n{\0", NULL, 0, ANE_ERR_PARSE, "expected");
}

/* Every prefix of every corpus file must give a program or an error with a message. */
static void test_truncation(const char *dir)
{
    DIR *dp = opendir(dir);
    CHECK(dp != NULL, "cannot open corpus %s", dir);
    if (!dp) return;
    struct dirent *e;
    int files = 0;
    while ((e = readdir(dp))) {
        size_t nl = strlen(e->d_name);
        if (nl < 5 || strcmp(e->d_name + nl - 4, ".mil")) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len;
        char *text = read_file(path, &len);
        if (!text) continue;
        files++;
        int bad = 0, ok_full = 0;
        for (size_t n = 0; n <= len; n++) {
            char *copy = malloc(n ? n : 1);   /* exact size: ASan catches any read past n */
            memcpy(copy, text, n);
            mil_diags d = {0};
            mil_program *p = mil_parse(copy, n, NULL, 0, &d);
            const mil_diag *err = mil_diags_first_error(&d);
            if (!p && (!err || !err->message[0])) bad++;
            if (p && n == len) ok_full = 1;
            mil_program_free(p);
            mil_diags_free(&d);
            free(copy);
        }
        CHECK(bad == 0, "%s: %d prefixes failed without a message", e->d_name, bad);
        (void)ok_full;
        free(text);
    }
    closedir(dp);
    CHECK(files >= 4, "corpus has %d .mil files", files);
}

static void test_garbage(void)
{
    /* Deep nesting, long numbers, huge literals: errors, not crashes. */
    size_t n = 200000;
    char *s = malloc(n + 200);
    strcpy(s, "program(1.3) { func main<ios18>(tensor<fp16, [2]> x) { tensor<fp16, [2]> c = const()[name=string(\"c\"), val=tensor<fp16, [2]>(");
    size_t k = strlen(s);
    memset(s + k, '[', n);
    s[k + n] = 0;
    expect_error("deep list nesting", s, NULL, 0, ANE_ERR_PARSE, "nested deeper than");
    k = strlen("program(1.3) [");
    memcpy(s, "program(1.3) [", k);
    memset(s + k, '{', n);
    s[k + n] = 0;
    expect_error("deep buildInfo nesting", s, NULL, 0, ANE_ERR_PARSE, "missing ']'");
    strcpy(s, "program(1.3) { func main<ios18>(tensor<fp16, [2]> x) { fp16 c = const()[name=string(\"c\"), val=fp16(1");
    k = strlen(s);
    memset(s + k, '9', 5000);
    strcpy(s + k + 5000, ")]; } -> (c); }");
    expect_error("5000-digit number", s, NULL, 0, ANE_ERR_PARSE, "expected a fp16 number");
    free(s);
    expect_error("dim overflow", prog("tensor<fp16, [99999999999999999999999]> x", "", "x"), NULL, 0, ANE_ERR_TYPE, "positive integer");
    expect_error("rank 9", prog("tensor<fp16, [1,1,1,1,1,1,1,1,1]> x", "", "x"), NULL, 0, ANE_ERR_TYPE, "rank above 8");
    const char bytes[] = "program(1.3)\xff\xfe";
    expect_error("high bytes", bytes, NULL, 0, ANE_ERR_PARSE, "unexpected byte 0xff");
    mil_diags d = {0};
    CHECK(mil_parse(NULL, 5, NULL, 0, &d) == NULL && d.n_errors == 1 && d.items[0].status == ANE_ERR_INVALID_ARG, "NULL text");
    mil_diags_free(&d);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "libane/test/mil";
    test_ios18_file(dir);
    test_ios16_blob(dir);
    test_blob_errors();
    test_literals();
    test_constexpr(dir);
    test_inference();
    test_errors();
    test_garbage();
    test_truncation(dir);
    return check_summary();
}
