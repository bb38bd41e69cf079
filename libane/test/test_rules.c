/* test_rules.c — the chip rules (rules.c, profiles.c) and docs/chip-rules.md.
 *
 * For every rule, libane/test/rules/<rule-id>.mil breaks exactly that rule. The expectations
 * below are written from the sources (reference/ane-maderix.md, ane-ecosystem.md), not
 * copied from rules.c: under each chip the program must get exactly the expected findings,
 * at the line of the offending statement (the line holding the file's marker text). A
 * clean program must pass every profile. The rule and profile tables in docs/chip-rules.md
 * must be exactly what the code reports through ane_chip_profile_json.
 *
 * Run from the repository root: build/test/test_rules
 *   --doc   print the doc's two tables as the code has them (to regenerate the doc)  */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../include/ane.h"
#include "../src/mil/mil.h"
#include "../src/mil/rules.h"

#include "check.h"

static const char *const chips[] = {"m1", "m2", "m3", "m4", "m5", "none"};
#define N_CHIPS 6

/* What each rule file must give, per chip m1..m5 ("none" never reports anything):
 * 'E' an error, 'W' a warning, '-' nothing. `also` is a rule the program cannot avoid
 * breaking together with its own (SDPA with a mask is SDPA). ios18 files also break
 * "dialect" on M1/M2, which is expected implicitly. */
typedef struct rule_case {
    const char *id;
    const char *levels;
    const char *marker;     /* text on the line the first finding must point at */
    const char *also, *also_levels;
} rule_case;

static const rule_case cases[] = {
    {"dialect", "EE---", "func main", NULL, NULL},
    {"fp16-io", "EE---", "func main", NULL, NULL},
    {"no-cast", "EE---", " bad = ", NULL, NULL},
    {"blob-per-matrix", "EE---", " bad = ", NULL, NULL},
    {"concat", "--EWW", " bad = ", NULL, NULL},
    {"sdpa", "EEWWW", " bad = ", NULL, NULL},
    {"sdpa-mask", "--EEE", " bad = ", "sdpa", "EEWWW"},
    {"gelu", "WWWWW", " bad = ", NULL, NULL},
    {"rsqrt-after-reduce", "EEEEE", " bad = ", NULL, NULL},
    {"m5-unsupported-op", "----E", " bad = ", NULL, NULL},
    {"reduce-mean", "WWWWE", " bad = ", NULL, NULL},
    {"softmax-pow2", "WWWWW", " bad = ", NULL, NULL},
    {"slice-by-index-input", "EEEEE", " bad = ", NULL, NULL},
    {"conv-bias", "EEEEE", " bad = ", NULL, NULL},
    {"matmul-transpose-const", "EEEEE", " bad = ", NULL, NULL},
    {"matmul-inner-32", "WWWWW", " bad = ", NULL, NULL},
    {"max-width", "EEEEE", " bad = ", NULL, NULL},
    {"min-io-width", "WWWWW", "func main", NULL, NULL},
    {"io-row-align", "EEEEE", "func main", NULL, NULL},
    {"conv-input-channels", "EEEEE", " bad = ", NULL, NULL},
    {"output-live", "EEEEE", "func main", NULL, NULL},
    {"dead-code", "WWWWW", " bad = ", NULL, NULL},
    {"elementwise-only", "WWWWW", " bad = ", NULL, NULL},
};
#define N_CASES ((int)(sizeof cases / sizeof cases[0]))

/* Rules enforced outside the MIL text (no file can break them): tested in test_api.c. */
static const char *const not_textual[] = {"compile-budget"};

/* ---------------------------------------------------------------- files and weights */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len) *len = (size_t)n;
    }
    return buf;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* A weight file of reference/ane-maderix.md section 3.4: 64-byte file header, then per
 * chunk a 64-byte header (magic 0xDEADBEEF, version 1, payload size, absolute payload
 * offset) and the fp16 payload. Chunk i starts at 64 + i * (64 + payload). Every payload
 * element is fp16 0.0625 (0x2C00). */
static unsigned char *make_blob(size_t elems, int chunks, size_t *size)
{
    size_t payload = elems * 2, n = 64 + (size_t)chunks * (64 + payload);
    unsigned char *b = calloc(1, n);
    b[0] = 0x01;
    b[4] = 0x02;
    for (int c = 0; c < chunks; c++) {
        unsigned char *h = b + 64 + (size_t)c * (64 + payload);
        put_u32(h, 0xDEADBEEFu);
        h[4] = 0x01;
        put_u32(h + 8, (uint32_t)payload);
        put_u32(h + 16, (uint32_t)(h + 64 - b));
        for (size_t i = 0; i < elems; i++) {
            h[64 + 2 * i] = 0x00;
            h[64 + 2 * i + 1] = 0x2C;
        }
    }
    *size = n;
    return b;
}

static ane_weight weights[4];

static void make_weights(void)
{
    static const struct { const char *name; size_t elems; int chunks; } spec[4] = {
        {"@model_path/weights/w.bin", 64 * 64, 1},
        {"@model_path/weights/pair.bin", 64 * 64, 2},
        {"@model_path/weights/b.bin", 64, 1},
        {"@model_path/weights/wide.bin", 64 * 16416, 1},
    };
    for (int i = 0; i < 4; i++) {
        weights[i].name = spec[i].name;
        weights[i].data = make_blob(spec[i].elems, spec[i].chunks, &weights[i].size);
    }
}

/* The 1-based line of the first line of text containing marker; 0 when none does. */
static int marker_line(const char *text, const char *marker)
{
    const char *hit = strstr(text, marker);
    if (!hit) return 0;
    int line = 1;
    for (const char *p = text; p < hit; p++) line += *p == '\n';
    return line;
}

/* ---------------------------------------------------------------- tiny JSON reading */

/* Decode the JSON string starting at the quote at p into out; returns the char after it. */
static const char *json_string(const char *p, char *out, size_t cap)
{
    size_t n = 0;
    if (*p != '"') return NULL;
    for (p++; *p && *p != '"'; p++) {
        char c = *p;
        if (c == '\\') {
            p++;
            c = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p == 'r' ? '\r' : *p;
            if (*p == 'u') { c = '?'; p += 4; }
        }
        if (n + 1 < cap) out[n++] = c;
    }
    out[n] = '\0';
    return *p == '"' ? p + 1 : NULL;
}

/* The string member `key` of the object text starting at p (searching forward). */
static int json_member(const char *p, const char *key, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *hit = strstr(p, pat);
    if (!hit) return 0;
    hit += strlen(pat);
    if (*hit == '"') return json_string(hit, out, cap) != NULL;
    size_t n = 0;
    while (*hit && *hit != ',' && *hit != '}' && n + 1 < cap) out[n++] = *hit++;
    out[n] = '\0';
    return 1;
}

static char *profile_json(const char *chip)
{
    size_t need = 0;
    ane_status st = ane_chip_profile_json(chip, NULL, 0, &need);
    if (st != ANE_ERR_BUFFER_TOO_SMALL || need == 0) return NULL;
    char *buf = malloc(need);
    if (ane_chip_profile_json(chip, buf, need, NULL) != ANE_OK) {
        free(buf);
        return NULL;
    }
    return buf;
}

typedef struct rule_row {
    char id[64], what[512], why[1024], source[512];
    char severity[N_CHIPS - 1][16];   /* m1..m5: "error", "warning" or "-" */
} rule_row;

/* Every rule the code has, from every chip's profile JSON. */
static int collect_rules(rule_row *rows, int cap)
{
    int n = 0;
    for (int c = 0; c < N_CHIPS - 1; c++) {
        char *json = profile_json(chips[c]);
        if (!json) return -1;
        const char *p = strstr(json, "\"rules\":[");
        while (p && (p = strstr(p, "{\"id\":")) != NULL) {
            char id[64];
            json_member(p, "id", id, sizeof id);
            int k = 0;
            while (k < n && strcmp(rows[k].id, id) != 0) k++;
            if (k == n && n < cap) {
                memset(&rows[n], 0, sizeof rows[n]);
                snprintf(rows[n].id, sizeof rows[n].id, "%s", id);
                json_member(p, "what", rows[n].what, sizeof rows[n].what);
                json_member(p, "why", rows[n].why, sizeof rows[n].why);
                json_member(p, "source", rows[n].source, sizeof rows[n].source);
                for (int j = 0; j < N_CHIPS - 1; j++) strcpy(rows[n].severity[j], "-");
                n++;
            }
            if (k < cap) json_member(p, "severity", rows[k].severity[c], sizeof rows[k].severity[c]);
            p++;
        }
        free(json);
    }
    return n;
}

/* The doc's rule table row and profile table row, exactly as docs/chip-rules.md has them. */
static void rule_doc_row(const rule_row *r, char *out, size_t cap)
{
    snprintf(out, cap, "| `%s` | %s | %s | %s | %s | %s | %s | %s | %s |", r->id, r->severity[0],
             r->severity[1], r->severity[2], r->severity[3], r->severity[4], r->what, r->why,
             r->source);
}

static int profile_doc_row(const char *chip, char *out, size_t cap)
{
    char *json = profile_json(chip);
    if (!json) return 0;
    char dialects[64] = "", d1[16], pref[16], row[16], surf[16], limit[16], peak[16], src[512];
    const char *p = strstr(json, "\"dialects\":[");
    for (p = p ? p + 12 : NULL; p && *p == '"';) {
        p = json_string(p, d1, sizeof d1);
        strcat(dialects, *dialects ? ", " : "");
        strcat(dialects, d1);
        if (p && *p == ',') p++;
    }
    json_member(json, "preferred_dialect", pref, sizeof pref);
    json_member(json, "row_align_bytes", row, sizeof row);
    json_member(json, "surface_align_bytes", surf, sizeof surf);
    json_member(json, "compile_limit", limit, sizeof limit);
    json_member(json, "peak_fp16_tflops", peak, sizeof peak);
    json_member(json, "peak_source", src, sizeof src);
    snprintf(out, cap, "| %s | %s | %s | %s | %s | %s | %s | %s |", chip, dialects, pref, row,
             surf, strcmp(limit, "0") ? limit : "unlimited", peak, src);
    free(json);
    return 1;
}

/* ---------------------------------------------------------------- the tests */

typedef struct expect { const char *rule; char level; } expect;

static void test_rule_file(const rule_case *rc)
{
    char path[256];
    snprintf(path, sizeof path, "libane/test/rules/%s.mil", rc->id);
    size_t len;
    char *text = read_file(path, &len);
    CHECK(text != NULL, "%s: cannot read (run from the repository root)", path);
    if (!text) return;
    int want_line = marker_line(text, rc->marker);
    CHECK(want_line > 0, "%s: no line contains the marker '%s'", path, rc->marker);
    int ios18 = strstr(text, "program(1.3)") != NULL;

    for (int c = 0; c < N_CHIPS; c++) {
        const ane_chip_profile *chip = ane_chip_profile_find(chips[c]);
        mil_diags diags = {0};
        mil_program *p = mil_parse(text, len, weights, 4, &diags);
        const mil_diag *perr = mil_diags_first_error(&diags);
        CHECK(p != NULL, "%s: does not parse: %s", path, perr ? perr->message : "?");
        if (!p) {
            mil_diags_free(&diags);
            break;
        }
        int errors = mil_check_rules(p, chip, &diags);

        expect want[3];
        int n_want = 0;
        char lv = c < 5 ? rc->levels[c] : '-';
        if (lv != '-') want[n_want++] = (expect){rc->id, lv};
        if (rc->also && c < 5 && rc->also_levels[c] != '-') want[n_want++] = (expect){rc->also, rc->also_levels[c]};
        if (ios18 && c < 2) want[n_want++] = (expect){"dialect", 'E'};

        int want_errors = 0;
        for (int k = 0; k < n_want; k++) want_errors += want[k].level == 'E';
        /* Every finding is expected, with the expected severity ... */
        int first_line = 0, n_errors = 0;
        for (int i = 0; i < diags.n; i++) {
            const mil_diag *d = &diags.items[i];
            int ok = 0;
            for (int k = 0; k < n_want; k++)
                if (d->rule && !strcmp(d->rule, want[k].rule) &&
                    (want[k].level == 'E') == (d->severity == MIL_SEV_ERROR))
                    ok = 1;
            n_errors += d->severity == MIL_SEV_ERROR;
            CHECK(ok, "%s under %s: unexpected %s '%s': %s", path, chips[c],
                  d->severity == MIL_SEV_ERROR ? "error" : "warning", d->rule ? d->rule : "(none)",
                  d->message);
            CHECK(d->status == ANE_ERR_RULE || d->severity == MIL_SEV_WARNING,
                  "%s under %s: finding status %s", path, chips[c], ane_status_name(d->status));
            if (d->rule && !strcmp(d->rule, rc->id) && !first_line) first_line = d->line;
        }
        /* ... and every expected rule is found, the file's own at the marked line. */
        for (int k = 0; k < n_want; k++) {
            int found = 0;
            for (int i = 0; i < diags.n; i++)
                if (diags.items[i].rule && !strcmp(diags.items[i].rule, want[k].rule)) found = 1;
            CHECK(found, "%s under %s: rule '%s' not reported", path, chips[c], want[k].rule);
        }
        if (lv != '-')
            CHECK(first_line == want_line, "%s under %s: finding at line %d, expected line %d",
                  path, chips[c], first_line, want_line);
        CHECK(errors == n_errors && (errors > 0) == (want_errors > 0),
              "%s under %s: mil_check_rules returned %d errors, expected %d", path, chips[c],
              errors, want_errors);
        mil_program_free(p);
        mil_diags_free(&diags);

        /* The public checker agrees: status, and the rule named in its JSON. */
        char json[8192];
        ane_status st = ane_mil_check(text, len, weights, 4, chips[c], json, sizeof json, NULL);
        CHECK(st == (want_errors ? ANE_ERR_RULE : ANE_OK), "%s under %s: ane_mil_check gave %s (%s)",
              path, chips[c], ane_status_name(st), ane_last_error());
        if (lv != '-') {
            char pat[96];
            snprintf(pat, sizeof pat, "\"rule\":\"%s\"", rc->id);
            CHECK(strstr(json, pat) != NULL, "%s under %s: ane_mil_check JSON lacks %s: %s", path,
                  chips[c], pat, json);
        }
        if (lv == 'E') {
            char pat[128];
            snprintf(pat, sizeof pat, "breaks chip rule '%s' (%s) at line %d", rc->id, chips[c], want_line);
            CHECK(strstr(ane_last_error(), pat) != NULL, "%s under %s: message lacks \"%s\": %s",
                  path, chips[c], pat, ane_last_error());
        }
    }
    free(text);
}

static void test_clean_program(void)
{
    size_t len;
    char *text = read_file("libane/test/rules/clean.mil", &len);
    CHECK(text != NULL, "libane/test/rules/clean.mil: cannot read");
    if (!text) return;
    for (int c = 0; c < N_CHIPS; c++) {
        char json[4096];
        ane_status st = ane_mil_check(text, len, weights, 4, chips[c], json, sizeof json, NULL);
        CHECK(st == ANE_OK && strcmp(json, "[]") == 0, "clean.mil under %s: %s %s %s", chips[c],
              ane_status_name(st), ane_last_error(), json);
    }
    free(text);
}

/* Every rule in the code has a case here (or is not textual), and every case is in the code. */
static void test_rule_coverage(const rule_row *rows, int n_rows)
{
    for (int r = 0; r < n_rows; r++) {
        int found = 0;
        for (int k = 0; k < N_CASES; k++) found |= !strcmp(cases[k].id, rows[r].id);
        for (size_t k = 0; k < sizeof not_textual / sizeof *not_textual; k++)
            found |= !strcmp(not_textual[k], rows[r].id);
        CHECK(found, "rule '%s' has no test case and no rules/%s.mil", rows[r].id, rows[r].id);
        CHECK(!strchr(rows[r].what, '|') && !strchr(rows[r].why, '|') && !strchr(rows[r].source, '|'),
              "rule '%s': its texts contain '|', which breaks the doc's table", rows[r].id);
    }
    for (int k = 0; k < N_CASES; k++) {
        int found = 0;
        for (int r = 0; r < n_rows; r++) found |= !strcmp(cases[k].id, rows[r].id);
        CHECK(found, "test case '%s' is not a rule of any chip", cases[k].id);
    }
    CHECK(n_rows >= N_CASES + 1, "the code has %d rules, the tests know %d", n_rows, N_CASES + 1);
}

/* The doc's tables are exactly the code's, row for row, in both directions. */
static void test_doc(const rule_row *rows, int n_rows)
{
    char *doc = read_file("docs/chip-rules.md", NULL);
    CHECK(doc != NULL, "docs/chip-rules.md: cannot read (run from the repository root)");
    if (!doc) return;
    static char line[4096];
    for (int r = 0; r < n_rows; r++) {
        rule_doc_row(&rows[r], line, sizeof line);
        char id[80];
        snprintf(id, sizeof id, "| `%s` |", rows[r].id);
        CHECK(strstr(doc, id) != NULL, "docs/chip-rules.md has no row for rule '%s'", rows[r].id);
        CHECK(strstr(doc, line) != NULL, "docs/chip-rules.md row for '%s' differs from the code; "
              "regenerate with test_rules --doc. Expected:\n%s", rows[r].id, line);
    }
    /* Vice versa: every rule row in the doc is a rule of the code. */
    for (const char *p = strstr(doc, "\n| `"); p; p = strstr(p + 1, "\n| `")) {
        char id[80] = "";
        const char *s = p + 4, *e = strchr(s, '`');
        if (e && e - s < (long)sizeof id) memcpy(id, s, (size_t)(e - s)), id[e - s] = '\0';
        int found = 0;
        for (int r = 0; r < n_rows; r++) found |= !strcmp(rows[r].id, id);
        CHECK(found, "docs/chip-rules.md has a row for '%s', which is not a rule in the code", id);
    }
    for (int c = 0; c < N_CHIPS; c++) {
        profile_doc_row(chips[c], line, sizeof line);
        CHECK(strstr(doc, line) != NULL, "docs/chip-rules.md profile row for %s differs from the "
              "code. Expected:\n%s", chips[c], line);
    }
    free(doc);
}

static void test_profiles(void)
{
    CHECK(ane_chip_count() == N_CHIPS, "ane_chip_count() = %d", ane_chip_count());
    for (int c = 0; c < N_CHIPS; c++) {
        const char *name = ane_chip_name(c);
        CHECK(name && !strcmp(name, chips[c]), "ane_chip_name(%d) = %s", c, name ? name : "NULL");
    }
    CHECK(ane_chip_name(N_CHIPS) == NULL, "ane_chip_name past the end is not NULL");
    /* Facts from the sources: ~119 compiles on every chip, none for "none"; 64-byte rows;
     * 128-byte surfaces on M5 (maderix PR #35); M1/M2 only ios16. */
    for (int c = 0; c < N_CHIPS; c++) {
        const ane_chip_profile *p = ane_chip_profile_find(chips[c]);
        CHECK(p && p->compile_limit == (c < 5 ? 119u : 0u), "%s compile limit", chips[c]);
        CHECK(p && p->row_align_bytes == 64, "%s row alignment", chips[c]);
        CHECK(p && p->surface_align_bytes == (c == 4 ? 128u : 64u), "%s surface alignment", chips[c]);
        CHECK(p && (p->dialects == (c < 2 ? 1u << MIL_DIALECT_IOS16 : 3u)), "%s dialects", chips[c]);
        CHECK(ane_compile_limit(chips[c]) == (c < 5 ? 119u : 0u), "ane_compile_limit(%s)", chips[c]);
    }
    CHECK(ane_chip_profile_find("m6") == NULL && ane_chip_profile_find(NULL) == NULL, "unknown chips");
    char buf[16];
    size_t need = 0;
    CHECK(ane_chip_profile_json("m9", buf, sizeof buf, &need) == ANE_ERR_INVALID_ARG &&
          strstr(ane_last_error(), "m1, m2, m3, m4, m5, none"), "unknown chip message: %s", ane_last_error());
    CHECK(ane_chip_profile_json("m4", buf, sizeof buf, &need) == ANE_ERR_BUFFER_TOO_SMALL && need > sizeof buf,
          "small buffer: need %zu", need);
    char *none = profile_json("none");
    CHECK(none && strstr(none, "\"rules\":[]"), "the none profile has rules: %s", none ? none : "NULL");
    free(none);
}

int main(int argc, char **argv)
{
    static rule_row rows[64];
    int n_rows = collect_rules(rows, 64);
    if (argc > 1 && !strcmp(argv[1], "--doc")) {
        static char line[4096];
        printf("| chip | dialects | preferred | row align (bytes) | surface align (bytes) | compile budget | peak fp16 TFLOPS | peak source |\n");
        printf("|---|---|---|---|---|---|---|---|\n");
        for (int c = 0; c < N_CHIPS; c++)
            if (profile_doc_row(chips[c], line, sizeof line)) printf("%s\n", line);
        printf("\n| id | m1 | m2 | m3 | m4 | m5 | what | why, and what to do instead | source |\n");
        printf("|---|---|---|---|---|---|---|---|---|\n");
        for (int r = 0; r < n_rows; r++) {
            rule_doc_row(&rows[r], line, sizeof line);
            printf("%s\n", line);
        }
        return 0;
    }
    CHECK(n_rows > 0, "no rules read from ane_chip_profile_json");
    make_weights();
    test_profiles();
    test_rule_coverage(rows, n_rows);
    for (int k = 0; k < N_CASES; k++) test_rule_file(&cases[k]);
    test_clean_program();
    test_doc(rows, n_rows);
    for (int i = 0; i < 4; i++) free((void *)weights[i].data);
    return check_summary();
}
