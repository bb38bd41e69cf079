/* lexer.c — MIL text -> tokens. Tracks line and column (1-based, columns count bytes).
 * Any byte that cannot start a token (NUL, control bytes, non-ASCII outside strings) is an
 * error, so garbage input stops here with its place named. */
#include "../core/platform.h"
#include "front.h"

void mil_lex_init(mil_lexer *lx, const char *text, size_t len)
{
    lx->text = text;
    lx->len = len;
    lx->pos = 0;
    lx->line = 1;
    lx->column = 1;
}

const char *mil_tok_kind_name(mil_tok_kind k)
{
    switch (k) {
    case TK_EOF: return "end of text";
    case TK_IDENT: return "a name";
    case TK_NUMBER: return "a number";
    case TK_STRING: return "a string";
    case TK_LPAREN: return "'('";
    case TK_RPAREN: return "')'";
    case TK_LBRACKET: return "'['";
    case TK_RBRACKET: return "']'";
    case TK_LBRACE: return "'{'";
    case TK_RBRACE: return "'}'";
    case TK_LT: return "'<'";
    case TK_GT: return "'>'";
    case TK_COMMA: return "','";
    case TK_EQUAL: return "'='";
    case TK_SEMI: return "';'";
    case TK_ARROW: return "'->'";
    }
    return "?";
}

static int at(const mil_lexer *lx, size_t k) { return lx->pos + k < lx->len ? (unsigned char)lx->text[lx->pos + k] : -1; }

static void advance(mil_lexer *lx)
{
    if (lx->text[lx->pos] == '\n') { lx->line++; lx->column = 1; }
    else lx->column++;
    lx->pos++;
}

static int is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_digit(int c) { return c >= '0' && c <= '9'; }

/* Does the text at k spell "inf" or "nan" (any case) as a whole word? */
static int at_inf_nan(const mil_lexer *lx, size_t k)
{
    char w[4] = {0};
    for (int i = 0; i < 3; i++) {
        int c = at(lx, k + (size_t)i);
        if (c < 0) return 0;
        w[i] = (char)(c | 0x20);
    }
    return (!memcmp(w, "inf", 3) || !memcmp(w, "nan", 3));
}

int mil_lex_next(mil_lexer *lx, mil_token *tok, char *err, size_t cap, int *line, int *column)
{
    /* Skip whitespace and // comments. */
    for (;;) {
        int c = at(lx, 0);
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') advance(lx);
        else if (c == '/' && at(lx, 1) == '/') { while (at(lx, 0) >= 0 && at(lx, 0) != '\n') advance(lx); }
        else break;
    }
    tok->start = lx->text + lx->pos;
    tok->len = 0;
    tok->line = lx->line;
    tok->column = lx->column;
    *line = lx->line;
    *column = lx->column;
    size_t begin = lx->pos;
    int c = at(lx, 0);
    if (c < 0) { tok->kind = TK_EOF; return 1; }

    if (is_alpha(c)) {
        while (is_alpha(at(lx, 0)) || is_digit(at(lx, 0))) advance(lx);
        tok->kind = TK_IDENT;
        tok->len = lx->pos - begin;
        return 1;
    }
    /* Numbers: [+-] then digits, '.', or inf/nan. The body takes every character that can
     * occur in a decimal or hex float (1.5e-3, 0x1.8p-3); the parser converts and checks it. */
    int sign = (c == '-' || c == '+');
    int c1 = at(lx, sign ? 1 : 0);
    if (is_digit(c1) || (c1 == '.' && is_digit(at(lx, sign ? 2 : 1))) ||
        (sign && at_inf_nan(lx, 1))) {
        if (sign) advance(lx);
        if (!is_digit(at(lx, 0)) && at(lx, 0) != '.') {
            for (int i = 0; i < 3; i++) advance(lx);
            while (is_alpha(at(lx, 0))) advance(lx);   /* "infinity" */
        } else {
            for (;;) {
                int d = at(lx, 0);
                int prev = lx->pos > begin ? (unsigned char)lx->text[lx->pos - 1] | 0x20 : 0;
                if (is_digit(d) || is_alpha(d) || d == '.') advance(lx);
                else if ((d == '-' || d == '+') && (prev == 'e' || prev == 'p')) advance(lx);
                else break;
            }
        }
        tok->kind = TK_NUMBER;
        tok->len = lx->pos - begin;
        return 1;
    }
    if (c == '"') {
        advance(lx);
        tok->start = lx->text + lx->pos;
        for (;;) {
            int d = at(lx, 0);
            if (d < 0 || d == '\n') {
                snprintf(err, cap, "unterminated string (a string must end with '\"' on the same line)");
                return 0;
            }
            if (d == 0) {
                snprintf(err, cap, "NUL byte inside a string");
                *line = lx->line; *column = lx->column;
                return 0;
            }
            if (d == '"') break;
            if (d == '\\' && at(lx, 1) >= 0 && at(lx, 1) != '\n') advance(lx);
            advance(lx);
        }
        tok->len = (size_t)(lx->text + lx->pos - tok->start);
        advance(lx);  /* closing quote */
        tok->kind = TK_STRING;
        return 1;
    }
    mil_tok_kind k;
    switch (c) {
    case '(': k = TK_LPAREN; break;
    case ')': k = TK_RPAREN; break;
    case '[': k = TK_LBRACKET; break;
    case ']': k = TK_RBRACKET; break;
    case '{': k = TK_LBRACE; break;
    case '}': k = TK_RBRACE; break;
    case '<': k = TK_LT; break;
    case '>': k = TK_GT; break;
    case ',': k = TK_COMMA; break;
    case '=': k = TK_EQUAL; break;
    case ';': k = TK_SEMI; break;
    case '-':
        if (at(lx, 1) == '>') { advance(lx); k = TK_ARROW; break; }
        /* fallthrough */
    default:
        if (c >= 0x21 && c < 0x7f) snprintf(err, cap, "unexpected character '%c'", c);
        else snprintf(err, cap, "unexpected byte 0x%02x (MIL text is ASCII outside strings)", c);
        return 0;
    }
    advance(lx);
    tok->kind = k;
    tok->len = lx->pos - begin;
    return 1;
}
