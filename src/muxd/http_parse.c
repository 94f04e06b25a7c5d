/*
 * http_parse.c -- muxd_http_parse() (http.h): one HTTP/1.x request out of
 * the bytes received so far, pure (no I/O, no allocation, no state kept
 * between calls). One forward pass that checks each byte as it comes, so
 * that garbage (a TLS hello, a stray protocol) is an error at once, not
 * when a head's worth of it has arrived; the pass stops where the bytes
 * stop (0: more needed) or where the head limit is.
 */
#define _POSIX_C_SOURCE 200809L

#include "http_parse.h"

#include <stdint.h>

#include <string.h>

/* What peek() returns instead of a byte. */
enum { PEEK_MORE = -1, PEEK_OVER = -2 };

typedef struct {
    const char *buf;
    size_t len, pos, max_header;
    muxd_http_request_t *req;
    int minor;       /* HTTP/1.minor */
    bool has_length; /* a Content-Length was seen */
    uint64_t length; /* its value */
    bool conn_close; /* "Connection: close" */
    bool conn_keep;  /* "Connection: keep-alive" */
} parser_t;

static int fail(parser_t *p, int status, const char *why) {
    p->req->error = why;
    return -status;
}

/* The head's next byte; PEEK_MORE if it has not arrived, PEEK_OVER if the
 * head would pass its limit there. */
static int peek_at(const parser_t *p, size_t pos) {
    if (pos >= p->max_header)
        return PEEK_OVER;
    if (pos >= p->len)
        return PEEK_MORE;
    return (unsigned char)p->buf[pos];
}

static int peek(const parser_t *p) { return peek_at(p, p->pos); }

/* The result for a peek() that found no byte: 0 (more) or -431. */
static int out_of_bytes(parser_t *p, int c) {
    if (c == PEEK_MORE)
        return 0;
    return fail(p, 431, "request head too large");
}

static bool is_tchar(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || (c != 0 && strchr("!#$%&'*+-.^_`|~", c));
}

/* A field value's byte: visible, a blank, or obs-text. */
static bool is_value_byte(int c) {
    return c == ' ' || c == '\t' || (c > 0x20 && c != 0x7f);
}

/* A line end at pos (CRLF or LF): 1 past it, 0 more, or -400 `why`. */
static int line_end(parser_t *p, const char *why) {
    int c = peek(p);
    if (c < 0)
        return out_of_bytes(p, c);
    if (c == '\r') {
        int next = peek_at(p, p->pos + 1);
        if (next < 0)
            return out_of_bytes(p, next);
        if (next != '\n')
            return fail(p, 400, "a CR without its LF");
        p->pos += 2;
        return 1;
    }
    if (c != '\n')
        return fail(p, 400, why);
    p->pos++;
    return 1;
}

/* Empty lines before the request line (RFC 9112 2.2: a server ignores
 * them). */
static int skip_empty_lines(parser_t *p) {
    for (;;) {
        int c = peek(p);
        if (c < 0)
            return out_of_bytes(p, c);
        if (c != '\r' && c != '\n')
            return 1;
        int r = line_end(p, "");
        if (r <= 0)
            return r;
    }
}

/* The method: a token, then one SP. */
static int parse_method(parser_t *p) {
    size_t start = p->pos;
    int c;
    while ((c = peek(p)) >= 0 && is_tchar(c))
        p->pos++;
    if (c < 0)
        return out_of_bytes(p, c);
    if (c != ' ' || p->pos == start)
        return fail(p, 400, "malformed request line: bad method");
    p->req->method = p->buf + start;
    p->req->method_len = p->pos - start;
    p->pos++;
    return 1;
}

/* The request target: visible bytes, then one SP. */
static int parse_target(parser_t *p) {
    size_t start = p->pos;
    int c;
    while ((c = peek(p)) > ' ' && c != 0x7f)
        p->pos++;
    if (c < 0)
        return out_of_bytes(p, c);
    if (c != ' ' || p->pos == start)
        return fail(p, 400, "malformed request line: bad target");
    p->req->path = p->buf + start;
    p->req->path_len = p->pos - start;
    p->pos++;
    return 1;
}

/* "HTTP/" DIGIT "." DIGIT and the line end; a major other than 1 is 505. */
static int parse_version(parser_t *p) {
    static const char name[] = "HTTP/1.";
    for (size_t i = 0; i < sizeof(name) - 1; i++) {
        int c = peek(p);
        if (c < 0)
            return out_of_bytes(p, c);
        if (i == 5 && c >= '0' && c <= '9' && c != '1')
            return fail(p, 505, "only HTTP/1.x is supported");
        if (c != name[i])
            return fail(p, 400, "malformed request line: bad version");
        p->pos++;
    }
    int c = peek(p);
    if (c < 0)
        return out_of_bytes(p, c);
    if (c < '0' || c > '9')
        return fail(p, 400, "malformed request line: bad version");
    p->minor = c - '0';
    p->pos++;
    return line_end(p, "malformed request line: bad version");
}

/* ---- header fields ---- */

static bool equals_ci(const char *s, size_t len, const char *lit) {
    size_t i = 0;
    for (; i < len && lit[i]; i++) {
        char a = s[i], b = lit[i];
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (a != b)
            return false;
    }
    return i == len && lit[i] == '\0';
}

static int take_length(parser_t *p, const char *v, size_t len) {
    uint64_t n = 0;
    if (len == 0)
        return fail(p, 400, "bad Content-Length");
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return fail(p, 400, "bad Content-Length");
        if (n > (UINT64_MAX - 9) / 10)
            return fail(p, 400, "bad Content-Length: too large");
        n = n * 10 + (uint64_t)(v[i] - '0');
    }
    if (p->has_length && n != p->length)
        return fail(p, 400, "two different Content-Length");
    p->has_length = true;
    p->length = n;
    return 1;
}

/* The comma-separated options of Connection. */
static void take_connection(parser_t *p, const char *v, size_t len) {
    size_t i = 0;
    while (i < len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t start = i;
        while (i < len && v[i] != ',' && v[i] != ' ' && v[i] != '\t')
            i++;
        if (equals_ci(v + start, i - start, "close"))
            p->conn_close = true;
        else if (equals_ci(v + start, i - start, "keep-alive"))
            p->conn_keep = true;
    }
}

/* What a complete header line means for the request. */
static int take_header(parser_t *p, const char *name, size_t name_len,
                       const char *v, size_t len) {
    if (equals_ci(name, name_len, "content-length"))
        return take_length(p, v, len);
    if (equals_ci(name, name_len, "transfer-encoding"))
        return fail(p, 501,
                    "Transfer-Encoding is not supported (chunked bodies "
                    "neither): send a Content-Length");
    if (equals_ci(name, name_len, "connection"))
        take_connection(p, v, len);
    else if (equals_ci(name, name_len, "user-agent"))
        p->req->browser |= len >= 8 && memcmp(v, "Mozilla/", 8) == 0;
    else if (equals_ci(name, name_len, "expect"))
        p->req->expect_continue |= equals_ci(v, len, "100-continue");
    return 1;
}

/* The value after the colon: blanks around it dropped. */
static int parse_value(parser_t *p, size_t *start, size_t *end) {
    int c;
    while ((c = peek(p)) == ' ' || c == '\t')
        p->pos++;
    *start = *end = p->pos;
    while ((c = peek(p)) >= 0 && is_value_byte(c)) {
        p->pos++;
        if (c != ' ' && c != '\t')
            *end = p->pos;
    }
    if (c < 0)
        return out_of_bytes(p, c);
    if (c != '\r' && c != '\n')
        return fail(p, 400, "a control byte in a header value");
    return 1;
}

/* One "name: value" line. */
static int parse_header(parser_t *p) {
    size_t name = p->pos, value, value_end;
    int c;
    while ((c = peek(p)) >= 0 && is_tchar(c))
        p->pos++;
    if (c < 0)
        return out_of_bytes(p, c);
    if (c != ':' || p->pos == name)
        return fail(p, 400, "malformed header line");
    size_t name_len = p->pos - name;
    p->pos++;
    int r = parse_value(p, &value, &value_end);
    if (r > 0)
        r = line_end(p, "malformed header line");
    if (r > 0)
        r = take_header(p, p->buf + name, name_len, p->buf + value,
                        value_end - value);
    return r;
}

/* Header lines up to the blank line. */
static int parse_headers(parser_t *p) {
    for (;;) {
        int c = peek(p);
        if (c < 0)
            return out_of_bytes(p, c);
        if (c == '\r' || c == '\n')
            return line_end(p, "");
        if (c == ' ' || c == '\t')
            return fail(p, 400,
                        "obs-fold (a header line starting with a "
                        "blank) is not allowed");
        int r = parse_header(p);
        if (r <= 0)
            return r;
    }
}

static int parse_head(parser_t *p) {
    int r = skip_empty_lines(p);
    if (r > 0)
        r = parse_method(p);
    if (r > 0)
        r = parse_target(p);
    if (r > 0)
        r = parse_version(p);
    if (r > 0)
        r = parse_headers(p);
    return r;
}

ssize_t muxd_http_parse(const char *buf, size_t len, size_t max_header,
                        size_t max_body, muxd_http_request_t *req) {
    *req = (muxd_http_request_t){0};
    parser_t p = {.buf = buf, .len = len, .max_header = max_header, .req = req};
    int r = parse_head(&p);
    if (r <= 0)
        return r;
    req->head_len = p.pos;
    req->keep_alive =
        p.minor == 0 ? p.conn_keep && !p.conn_close : !p.conn_close;
    if (p.length > max_body)
        return fail(&p, 413, "request body too large");
    size_t total = p.pos + (size_t)p.length;
    if (len < total)
        return 0;
    req->body_len = (size_t)p.length;
    req->body = req->body_len ? buf + p.pos : NULL;
    return (ssize_t)total;
}
