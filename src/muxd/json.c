/*
 * json.c -- escaping bytes from the network into JSON strings, and reading
 * JSON documents (the API's bodies): one file, as both sides share what
 * well-formed UTF-8 is.
 */
#define _POSIX_C_SOURCE 200809L

#include "json.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The length of the well-formed UTF-8 sequence at p (2 to 4 bytes), or 0
 * if the bytes there are not one (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF).
 */
static size_t utf8_sequence(const unsigned char *p, size_t n) {
    unsigned char c = p[0], lo = 0x80, hi = 0xbf;
    size_t len;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
    else
        return 0;
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return len;
}

/* The code point of a well-formed sequence of `len` bytes. */
static unsigned code_point(const unsigned char *p, size_t len) {
    unsigned cp = p[0] & (0x7fu >> len);
    for (size_t i = 1; i < len; i++)
        cp = cp << 6 | (p[i] & 0x3fu);
    return cp;
}

/* One ASCII byte as JSON, NUL-terminated, in esc[7]. */
static void escape_ascii(unsigned char c, char esc[7]) {
    static const char from[] = "\"\\\n\r\t\b\f", to[] = "\"\\nrtbf";
    const char *special = c ? strchr(from, c) : NULL;
    if (special)
        snprintf(esc, 7, "\\%c", to[special - from]);
    else if (c < 0x20 || c == 0x7f)
        snprintf(esc, 7, "\\u%04x", c);
    else
        esc[0] = (char)c, esc[1] = '\0';
}

/*
 * The JSON form of the character at in[0] into esc (NUL-terminated, at
 * most 7 bytes with the NUL); returns how many input bytes it stands for.
 */
static size_t escape_char(const unsigned char *in, size_t n, char esc[7]) {
    if (in[0] < 0x80) {
        escape_ascii(in[0], esc);
        return 1;
    }
    size_t len = utf8_sequence(in, n);
    if (len == 0) {
        strcpy(esc, "\\ufffd");
        return 1;
    }
    unsigned cp = code_point(in, len);
    if (cp <= 0x9f || cp == 0x2028 || cp == 0x2029) {
        snprintf(esc, 7, "\\u%04x", cp);
    } else {
        memcpy(esc, in, len);
        esc[len] = '\0';
    }
    return len;
}

char *muxd_json_escape(const char *in, size_t len, char *out, size_t size) {
    if (size < 4) {
        if (size)
            out[0] = '\0';
        return out;
    }
    const unsigned char *p = (const unsigned char *)in;
    size_t o = 0, cut = 0; /* cut: where "..." goes if the rest won't fit */
    for (size_t i = 0; i < len;) {
        char esc[7];
        i += escape_char(p + i, len - i, esc);
        size_t n = strlen(esc);
        if (o + n > size - 1) {
            memcpy(out + cut, "...", 4);
            return out;
        }
        memcpy(out + o, esc, n);
        o += n;
        if (o <= size - 4)
            cut = o;
    }
    out[o] = '\0';
    return out;
}

/* ---- The reader ---- */

/* A container's child: an index into the values while parsing (they move
 * as the array grows), a pointer once the document is complete. */
typedef union {
    size_t index;
    const muxd_json_value_t *value;
} kid_t;

struct muxd_json_value {
    muxd_json_type type;
    size_t len; /* string: bytes; array: elements; object: members */
    union {
        bool boolean;
        const char *text; /* string: in the document's bytes */
        struct {
            double real;   /* HUGE_VAL beyond the range */
            int64_t whole; /* if is_int */
            bool is_int;
        } number;
        size_t first;      /* container, while parsing: its first kid */
        const kid_t *kids; /* container: its kids (object: key, value) */
    } u;
};

struct muxd_json {
    muxd_json_value_t *values; /* values[0] is the root */
    size_t nvalues, values_cap;
    kid_t *kids; /* every container's kids, one container after another */
    size_t nkids, kids_cap;
    char *bytes; /* len + 1: strings unescaped never grow */
    size_t nbytes;
};

/* An open container: its value and where its kids start in `pending`. */
typedef struct {
    size_t value, mark;
} open_t;

typedef struct {
    const unsigned char *text;
    size_t len, pos, max_values;
    muxd_json_t *doc;
    size_t *pending; /* the kids of the open containers, innermost last */
    size_t npending, pending_cap;
    open_t open[MUXD_JSON_DEPTH_MAX];
    size_t depth;
    char *err;
    size_t err_size;
} parser_t;

/* Writes "at byte N: ..." to the parser's err; returns false. */
__attribute__((format(printf, 3, 4))) static bool fail(parser_t *p, size_t at,
                                                       const char *fmt, ...) {
    if (p->err_size == 0)
        return false;
    int n = snprintf(p->err, p->err_size, "at byte %zu: ", at);
    if (n >= 0 && (size_t)n < p->err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err + n, p->err_size - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return false;
}

/* What is at pos, for a message: 'x', byte 0xNN, or the end. */
static const char *found(const parser_t *p, size_t pos, char buf[24]) {
    if (pos >= p->len)
        return "the end of the input";
    unsigned char c = p->text[pos];
    if (c > 0x20 && c < 0x7f && c != '\'')
        snprintf(buf, 24, "'%c'", c);
    else
        snprintf(buf, 24, "byte 0x%02x", c);
    return buf;
}

/* Makes room for `need` elements of `size` bytes in *arr. */
static bool grow(void **arr, size_t *cap, size_t need, size_t size) {
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    if (n > SIZE_MAX / size)
        return false;
    void *bigger = realloc(*arr, n * size);
    if (!bigger)
        return false;
    *arr = bigger;
    *cap = n;
    return true;
}

static void skip_space(parser_t *p) {
    for (; p->pos < p->len; p->pos++) {
        unsigned char c = p->text[p->pos];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
            return;
    }
}

/* A new value at the parser's position, a kid of the open container. */
static muxd_json_value_t *new_value(parser_t *p, muxd_json_type type) {
    muxd_json_t *d = p->doc;
    if (d->nvalues >= p->max_values) {
        fail(p, p->pos, "too many values (the limit is %zu)", p->max_values);
        return NULL;
    }
    if (!grow((void **)&d->values, &d->values_cap, d->nvalues + 1,
              sizeof(*d->values)) ||
        !grow((void **)&p->pending, &p->pending_cap, p->npending + 1,
              sizeof(*p->pending))) {
        fail(p, p->pos, "out of memory");
        return NULL;
    }
    if (p->depth > 0)
        p->pending[p->npending++] = d->nvalues;
    muxd_json_value_t *v = &d->values[d->nvalues++];
    memset(v, 0, sizeof(*v));
    v->type = type;
    return v;
}

/* Four hex digits at pos into *out. */
static bool hex4(const parser_t *p, size_t pos, unsigned *out) {
    if (p->len - pos < 4)
        return false;
    unsigned v = 0;
    for (size_t i = pos; i < pos + 4; i++) {
        unsigned char c = p->text[i];
        unsigned digit = c >= '0' && c <= '9'   ? (unsigned)c - '0'
                         : c >= 'a' && c <= 'f' ? (unsigned)c - 'a' + 10u
                         : c >= 'A' && c <= 'F' ? (unsigned)c - 'A' + 10u
                                                : 16u;
        if (digit == 16)
            return false;
        v = v << 4 | digit;
    }
    *out = v;
    return true;
}

/* Writes code point cp as UTF-8 at *o, advancing it. */
static void put_utf8(char **o, unsigned cp) {
    unsigned char *u = (unsigned char *)*o;
    size_t n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    static const unsigned char lead[] = {0, 0, 0xc0, 0xe0, 0xf0};
    for (size_t i = n - 1; i > 0; i--, cp >>= 6)
        u[i] = (unsigned char)(0x80 | (cp & 0x3f));
    u[0] = (unsigned char)(n == 1 ? cp : lead[n] | cp);
    *o += n;
}

/* A \uXXXX escape at pos (the backslash), a surrogate pair taken whole. */
static bool unescape_u(parser_t *p, char **o) {
    size_t at = p->pos;
    unsigned cp, low;
    if (!hex4(p, at + 2, &cp))
        return fail(p, at, "expected 4 hex digits after \\u");
    p->pos += 6;
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return fail(p, at, "lone low surrogate \\u%04x", cp);
    if (cp >= 0xd800 && cp <= 0xdbff) {
        if (p->len - p->pos < 2 || p->text[p->pos] != '\\' ||
            p->text[p->pos + 1] != 'u' || !hex4(p, p->pos + 2, &low) ||
            low < 0xdc00 || low > 0xdfff)
            return fail(p, at, "lone high surrogate \\u%04x", cp);
        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        p->pos += 6;
    }
    put_utf8(o, cp);
    return true;
}

/* An escape at pos (the backslash) into *o. */
static bool unescape(parser_t *p, char **o) {
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    char buf[24];
    unsigned char c = p->pos + 1 < p->len ? p->text[p->pos + 1] : 0;
    if (c == 'u')
        return unescape_u(p, o);
    const char *known = c ? strchr(from, c) : NULL;
    if (!known)
        return fail(p, p->pos, "invalid escape: '\\' then %s",
                    found(p, p->pos + 1, buf));
    *(*o)++ = to[known - from];
    p->pos += 2;
    return true;
}

/* One character of a string's inside (not its closing quote) into *o. */
static bool string_char(parser_t *p, char **o) {
    unsigned char c = p->text[p->pos];
    if (c == '\\')
        return unescape(p, o);
    if (c < 0x20)
        return fail(p, p->pos, "control character 0x%02x in a string", c);
    size_t n = c < 0x80 ? 1 : utf8_sequence(p->text + p->pos, p->len - p->pos);
    if (n == 0)
        return fail(p, p->pos, "invalid UTF-8 in a string");
    memcpy(*o, p->text + p->pos, n);
    *o += n;
    p->pos += n;
    return true;
}

/* A string at pos (its opening quote) into the document's bytes. */
static bool parse_string(parser_t *p, muxd_json_value_t *v) {
    size_t start = p->pos++;
    char *text = p->doc->bytes + p->doc->nbytes, *o = text;
    while (p->pos < p->len && p->text[p->pos] != '"')
        if (!string_char(p, &o))
            return false;
    if (p->pos >= p->len)
        return fail(p, p->len, "the input ends inside the string at byte %zu",
                    start);
    p->pos++;
    *o = '\0';
    v->u.text = text;
    v->len = (size_t)(o - text);
    p->doc->nbytes += v->len + 1;
    return true;
}

/* Skips digits from pos; returns how many. */
static size_t digits(parser_t *p) {
    size_t start = p->pos;
    while (p->pos < p->len && p->text[p->pos] >= '0' && p->text[p->pos] <= '9')
        p->pos++;
    return p->pos - start;
}

/* The number's syntax from pos (RFC 8259); sets *is_int when it has no
 * fraction and no exponent. */
static bool number_syntax(parser_t *p, bool *is_int) {
    if (p->text[p->pos] == '-')
        p->pos++;
    size_t int_start = p->pos;
    if (digits(p) == 0)
        return fail(p, p->pos, "expected a digit after '-'");
    if (p->text[int_start] == '0' && p->pos - int_start > 1)
        return fail(p, int_start, "leading zero in a number");
    *is_int = true;
    if (p->pos < p->len && p->text[p->pos] == '.') {
        p->pos++;
        *is_int = false;
        if (digits(p) == 0)
            return fail(p, p->pos, "expected a digit after '.'");
    }
    if (p->pos < p->len && (p->text[p->pos] | 0x20) == 'e') {
        p->pos++;
        *is_int = false;
        if (p->pos < p->len &&
            (p->text[p->pos] == '+' || p->text[p->pos] == '-'))
            p->pos++;
        if (digits(p) == 0)
            return fail(p, p->pos, "expected a digit in the exponent");
    }
    return true;
}

/* The integer text[0..len) (an optional '-', digits) into *out if it
 * fits in int64_t. */
static bool whole_number(const unsigned char *text, size_t len, int64_t *out) {
    bool negative = text[0] == '-';
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : INT64_MAX, n = 0;
    for (size_t i = negative; i < len; i++) {
        unsigned digit = (unsigned)(text[i] - '0');
        if (n > (limit - digit) / 10)
            return false;
        n = n * 10 + digit;
    }
    /* -(n - 1) - 1: n may be 2^63, which int64_t cannot hold */
    *out = negative && n > 0 ? -(int64_t)(n - 1) - 1 : (int64_t)n;
    return true;
}

/* A number at pos, read once: strtod on a copy in the document's spare
 * bytes (there is room: what was unescaped so far is shorter than pos). */
static bool parse_number(parser_t *p, muxd_json_value_t *v) {
    size_t start = p->pos;
    bool is_int;
    if (!number_syntax(p, &is_int))
        return false;
    size_t n = p->pos - start;
    char *copy = p->doc->bytes + p->doc->nbytes;
    memcpy(copy, p->text + start, n);
    copy[n] = '\0';
    v->u.number.real = strtod(copy, NULL);
    v->u.number.is_int =
        is_int && whole_number(p->text + start, n, &v->u.number.whole);
    return true;
}

/* true, false or null at pos. */
static bool parse_literal(parser_t *p) {
    static const char *const words[] = {"true", "false", "null"};
    char buf[24];
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if (p->text[p->pos] != words[i][0])
            continue;
        if (p->len - p->pos < n || memcmp(p->text + p->pos, words[i], n))
            return fail(p, p->pos, "expected '%s'", words[i]);
        muxd_json_value_t *v =
            new_value(p, i == 2 ? MUXD_JSON_NULL : MUXD_JSON_BOOL);
        if (!v)
            return false;
        v->u.boolean = i == 0;
        p->pos += n;
        return true;
    }
    return fail(p, p->pos, "expected a value, got %s", found(p, p->pos, buf));
}

/* A string, number or literal at pos (not at the end). */
static bool parse_scalar(parser_t *p) {
    unsigned char c = p->text[p->pos];
    if (c != '"' && c != '-' && (c < '0' || c > '9'))
        return parse_literal(p);
    muxd_json_value_t *v =
        new_value(p, c == '"' ? MUXD_JSON_STRING : MUXD_JSON_NUMBER);
    if (!v)
        return false;
    return c == '"' ? parse_string(p, v) : parse_number(p, v);
}

/* An object's key and its ':' at pos (after '{' or ','). */
static bool parse_key(parser_t *p) {
    char buf[24];
    skip_space(p);
    if (p->pos >= p->len || p->text[p->pos] != '"')
        return fail(p, p->pos, "expected '\"' to start an object key, got %s",
                    found(p, p->pos, buf));
    muxd_json_value_t *key = new_value(p, MUXD_JSON_STRING);
    if (!key || !parse_string(p, key))
        return false;
    skip_space(p);
    if (p->pos >= p->len || p->text[p->pos] != ':')
        return fail(p, p->pos, "expected ':' after an object key, got %s",
                    found(p, p->pos, buf));
    p->pos++;
    return true;
}

/* Opens an array or object at pos ('[' or '{'). */
static bool open_container(parser_t *p, muxd_json_type type) {
    if (p->depth == MUXD_JSON_DEPTH_MAX)
        return fail(p, p->pos, "nested deeper than %d", MUXD_JSON_DEPTH_MAX);
    size_t index = p->doc->nvalues;
    if (!new_value(p, type))
        return false;
    p->open[p->depth++] = (open_t){.value = index, .mark = p->npending};
    p->pos++;
    return true;
}

/* Closes the innermost container at pos (its ']' or '}'): its kids move
 * from `pending` to the document's kids. */
static bool close_container(parser_t *p) {
    muxd_json_t *d = p->doc;
    open_t *top = &p->open[--p->depth];
    size_t n = p->npending - top->mark;
    if (!grow((void **)&d->kids, &d->kids_cap, d->nkids + n, sizeof(kid_t)))
        return fail(p, p->pos, "out of memory");
    muxd_json_value_t *v = &d->values[top->value];
    v->u.first = d->nkids;
    v->len = v->type == MUXD_JSON_OBJECT ? n / 2 : n;
    for (size_t i = 0; i < n; i++)
        d->kids[d->nkids++].index = p->pending[top->mark + i];
    p->npending = top->mark;
    p->pos++;
    return true;
}

/*
 * What comes at pos where a value is expected: a scalar, or a container
 * opened (and closed at once if empty). Sets *want_value when the next
 * thing must be a value again (a container was left open for its first
 * one).
 */
static bool parse_value(parser_t *p, bool *want_value) {
    char buf[24];
    if (p->pos >= p->len)
        return fail(p, p->pos, "expected a value, got %s",
                    found(p, p->pos, buf));
    unsigned char c = p->text[p->pos];
    *want_value = false;
    if (c != '[' && c != '{')
        return parse_scalar(p);
    if (!open_container(p, c == '[' ? MUXD_JSON_ARRAY : MUXD_JSON_OBJECT))
        return false;
    skip_space(p);
    if (p->pos < p->len && p->text[p->pos] == (c == '[' ? ']' : '}'))
        return close_container(p);
    *want_value = true;
    return c == '[' || parse_key(p);
}

/* What comes after a value inside a container: ',' and the next element
 * or member (*want_value), or the container's end. */
static bool parse_after(parser_t *p, bool *want_value) {
    char buf[24];
    bool object =
        p->doc->values[p->open[p->depth - 1].value].type == MUXD_JSON_OBJECT;
    unsigned char c = p->pos < p->len ? p->text[p->pos] : 0;
    *want_value = false;
    if (p->pos < p->len && c == (object ? '}' : ']'))
        return close_container(p);
    if (p->pos >= p->len || c != ',')
        return fail(p, p->pos, "expected ',' or '%c' after an %s, got %s",
                    object ? '}' : ']',
                    object ? "object member" : "array element",
                    found(p, p->pos, buf));
    p->pos++;
    *want_value = true;
    return !object || parse_key(p);
}

/* Turns the kids' indexes into pointers, now that the values stay put. */
static void link_kids(muxd_json_t *d) {
    for (size_t i = 0; i < d->nkids; i++) {
        size_t index = d->kids[i].index;
        d->kids[i].value = &d->values[index];
    }
    for (size_t i = 0; i < d->nvalues; i++) {
        muxd_json_value_t *v = &d->values[i];
        if (v->type == MUXD_JSON_ARRAY || v->type == MUXD_JSON_OBJECT) {
            size_t first = v->u.first;
            v->u.kids = v->len ? &d->kids[first] : NULL;
        }
    }
}

/* The whole document, iteratively: a value, then what follows values
 * until every container is closed, then nothing but whitespace. */
static bool parse_document(parser_t *p) {
    char buf[24];
    bool want_value = true;
    do {
        skip_space(p);
        bool ok = want_value ? parse_value(p, &want_value)
                             : parse_after(p, &want_value);
        if (!ok)
            return false;
    } while (want_value || p->depth > 0);
    skip_space(p);
    if (p->pos < p->len)
        return fail(p, p->pos, "unexpected %s after the document",
                    found(p, p->pos, buf));
    link_kids(p->doc);
    return true;
}

muxd_json_t *muxd_json_parse(const char *text, size_t len, size_t max_values,
                             char *err, size_t size) {
    parser_t p = {.text = (const unsigned char *)text,
                  .len = len,
                  .max_values = max_values,
                  .err = err,
                  .err_size = size};
    if (size)
        err[0] = '\0';
    p.doc = calloc(1, sizeof(*p.doc));
    if (p.doc && len < SIZE_MAX)
        p.doc->bytes = malloc(len + 1);
    bool ok = p.doc && p.doc->bytes ? parse_document(&p)
                                    : fail(&p, 0, "out of memory");
    free(p.pending);
    if (ok)
        return p.doc;
    muxd_json_free(p.doc);
    return NULL;
}

void muxd_json_free(muxd_json_t *doc) {
    if (!doc)
        return;
    free(doc->values);
    free(doc->kids);
    free(doc->bytes);
    free(doc);
}

const muxd_json_value_t *muxd_json_root(const muxd_json_t *doc) {
    return &doc->values[0];
}

muxd_json_type muxd_json_type_of(const muxd_json_value_t *v) {
    return v ? v->type : MUXD_JSON_NULL;
}

size_t muxd_json_len(const muxd_json_value_t *v) {
    return v && (v->type == MUXD_JSON_ARRAY || v->type == MUXD_JSON_OBJECT)
               ? v->len
               : 0;
}

const muxd_json_value_t *muxd_json_at(const muxd_json_value_t *v, size_t i) {
    if (i >= muxd_json_len(v))
        return NULL;
    return v->type == MUXD_JSON_OBJECT ? v->u.kids[2 * i + 1].value
                                       : v->u.kids[i].value;
}

const char *muxd_json_key_at(const muxd_json_value_t *obj, size_t i,
                             size_t *key_len) {
    if (muxd_json_type_of(obj) != MUXD_JSON_OBJECT || i >= obj->len)
        return NULL;
    const muxd_json_value_t *key = obj->u.kids[2 * i].value;
    if (key_len)
        *key_len = key->len;
    return key->u.text;
}

/* Whether a member's key matches `key`, exactly or as Go folds it. */
static bool key_equal(const muxd_json_value_t *member_key, const char *key,
                      bool fold);

/* The last member of obj whose key matches. */
static const muxd_json_value_t *find(const muxd_json_value_t *obj,
                                     const char *key, bool fold) {
    if (muxd_json_type_of(obj) != MUXD_JSON_OBJECT)
        return NULL;
    for (size_t i = obj->len; i-- > 0;)
        if (key_equal(obj->u.kids[2 * i].value, key, fold))
            return obj->u.kids[2 * i + 1].value;
    return NULL;
}

const muxd_json_value_t *muxd_json_get(const muxd_json_value_t *obj,
                                       const char *key) {
    return find(obj, key, false);
}

const muxd_json_value_t *muxd_json_get_fold(const muxd_json_value_t *obj,
                                            const char *key) {
    return find(obj, key, true);
}

/* How many bytes of s (n left) match the ASCII letter c as Go folds it:
 * its either case, and U+017F for s, U+212A for k; 0 if none. */
static size_t fold_match(const char *s, size_t n, char c) {
    char lower = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    char s0 = (char)(s[0] >= 'A' && s[0] <= 'Z' ? s[0] + 32 : s[0]);
    if (s0 == lower)
        return 1;
    if (lower == 's' && n >= 2 && memcmp(s, "\xc5\xbf", 2) == 0)
        return 2;
    if (lower == 'k' && n >= 3 && memcmp(s, "\xe2\x84\xaa", 3) == 0)
        return 3;
    return 0;
}

static bool key_equal(const muxd_json_value_t *member_key, const char *key,
                      bool fold) {
    const char *s = member_key->u.text;
    size_t n = member_key->len, k = strlen(key);
    if (!fold)
        return n == k && memcmp(s, key, n) == 0;
    size_t i = 0;
    for (size_t j = 0; j < k; j++) {
        size_t m = i < n ? fold_match(s + i, n - i, key[j]) : 0;
        if (m == 0)
            return false;
        i += m;
    }
    return i == n;
}

bool muxd_json_string(const muxd_json_value_t *v, const char **s, size_t *len) {
    if (muxd_json_type_of(v) != MUXD_JSON_STRING)
        return false;
    *s = v->u.text;
    if (len)
        *len = v->len;
    return true;
}

bool muxd_json_bool(const muxd_json_value_t *v, bool *out) {
    if (muxd_json_type_of(v) != MUXD_JSON_BOOL)
        return false;
    *out = v->u.boolean;
    return true;
}

bool muxd_json_int(const muxd_json_value_t *v, int64_t *out) {
    if (muxd_json_type_of(v) != MUXD_JSON_NUMBER || !v->u.number.is_int)
        return false;
    *out = v->u.number.whole;
    return true;
}

bool muxd_json_number(const muxd_json_value_t *v, double *out) {
    if (muxd_json_type_of(v) != MUXD_JSON_NUMBER || isinf(v->u.number.real))
        return false;
    *out = v->u.number.real;
    return true;
}
