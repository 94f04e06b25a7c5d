/*
 * fuzz_http.c -- libFuzzer harness for muxd_http_parse()
 * (src/muxd/http_parse.c), the API's HTTP request parser.
 *
 * Input: any bytes, parsed as a client's stream is: request after
 * request, each from where the last ended, until one needs more bytes or
 * is an error; with muxd's limits and with small ones (so the 431 and 413
 * paths are reached by short inputs). The parser reads only the bytes it
 * is given: each call gets a copy of exactly that length (ASan finds a
 * read past it).
 *
 * Checks, for every call:
 *  - the result is 0, a length within the input, or one of the error
 *    statuses (400, 413, 431, 501, 505) with a reason fit for JSON;
 *  - a request: method a token, path visible bytes (or bytes past ASCII,
 *    as Go's server takes them), both inside the head;
 *    the head within max_header, the body within max_body and right after
 *    the head, the length their sum;
 *  - no state: a prefix of the input gives 0, or the same result as the
 *    whole when that result was already decided within the prefix (a
 *    request that ends inside it, an error found inside it).
 */
#define _POSIX_C_SOURCE 200809L

#include "fuzz_util.h"

#include "http_parse.h"

#include <stdbool.h>

static bool is_error_status(ssize_t r) {
    return r == -400 || r == -413 || r == -431 || r == -501 || r == -505;
}

static bool is_token(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (s[i] <= ' ' || s[i] >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", s[i]))
            return false;
    return len > 0;
}

/* Parses a copy of exactly `len` bytes, so that ASan sees any overread. */
static ssize_t parse_copy(const char *data, size_t len, size_t max_header,
                          size_t max_body, muxd_http_request_t *req,
                          char **copy) {
    *copy = malloc(len ? len : 1);
    CHECK(*copy != NULL);
    if (len)
        memcpy(*copy, data, len);
    return muxd_http_parse(*copy, len, max_header, max_body, req);
}

static void check_request(const char *buf, size_t len, ssize_t r,
                          const muxd_http_request_t *req, size_t max_header,
                          size_t max_body) {
    CHECK((size_t)r <= len);
    CHECK(req->head_len > 0 && req->head_len <= max_header);
    CHECK(req->body_len <= max_body);
    CHECK((size_t)r == req->head_len + req->body_len);
    CHECK(is_token(req->method, req->method_len));
    CHECK(req->method >= buf && req->path > req->method + req->method_len);
    CHECK(req->path + req->path_len < buf + req->head_len);
    for (size_t i = 0; i < req->path_len; i++) /* obs-text allowed */
        CHECK((unsigned char)req->path[i] > ' ' && req->path[i] != 0x7f);
    if (req->body_len)
        CHECK(req->body == buf + req->head_len);
    else
        CHECK(req->body == NULL);
}

/* One call: its result checked, and the same at a few prefixes. */
static ssize_t parse_checked(const char *data, size_t len, size_t max_header,
                             size_t max_body) {
    muxd_http_request_t req;
    char *copy;
    ssize_t r = parse_copy(data, len, max_header, max_body, &req, &copy);
    if (r > 0)
        check_request(copy, len, r, &req, max_header, max_body);
    else if (r < 0) {
        CHECK(is_error_status(r) && req.error != NULL);
        CHECK(!strchr(req.error, '"') && !strchr(req.error, '\\'));
    }
    free(copy);
    size_t cuts[] = {len / 2, len ? len - 1 : 0, r > 0 ? (size_t)r : 0,
                     r > 0 ? (size_t)r - 1 : 0};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(*cuts); i++) {
        ssize_t part =
            parse_copy(data, cuts[i], max_header, max_body, &req, &copy);
        free(copy);
        CHECK(part == 0 || part == r);
        if (r > 0 && cuts[i] >= (size_t)r)
            CHECK(part == r);
    }
    return r;
}

/* The input as one client's stream: request after request. */
static void parse_stream(const char *data, size_t len, size_t max_header,
                         size_t max_body) {
    size_t used = 0;
    for (;;) {
        ssize_t r =
            parse_checked(data + used, len - used, max_header, max_body);
        if (r <= 0)
            return;
        used += (size_t)r;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    parse_stream(text, size, MUXD_HTTP_MAX_HEADER, MUXD_HTTP_MAX_BODY);
    parse_stream(text, size, 64, 16);
    return 0;
}
