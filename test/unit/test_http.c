/*
 * test_http.c -- muxd_http_parse() (src/muxd/http_parse.c): requests,
 * bodies, pipelining, partial input, the keep-alive rules, the browser
 * check, and every error status with the input that must cause it.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEADER MUXD_HTTP_MAX_HEADER
#define MAX_BODY MUXD_HTTP_MAX_BODY

static ssize_t parse_n(const char *text, size_t len, muxd_http_request_t *req) {
    return muxd_http_parse(text, len, MAX_HEADER, MAX_BODY, req);
}

static ssize_t parse(const char *text, muxd_http_request_t *req) {
    return parse_n(text, strlen(text), req);
}

/* The status `text` is refused with, its reason checked fit for JSON. */
static int error_of(const char *text, size_t len) {
    muxd_http_request_t req;
    ssize_t n = parse_n(text, len, &req);
    if (n >= 0)
        return (int)n;
    assert_non_null(req.error);
    assert_null(strchr(req.error, '"'));
    assert_null(strchr(req.error, '\\'));
    return (int)-n;
}

static int error(const char *text) { return error_of(text, strlen(text)); }

static void assert_span(const char *got, size_t len, const char *want) {
    assert_int_equal(len, strlen(want));
    assert_memory_equal(got, want, len);
}

/* ---- requests ---- */

static void test_get(void **state) {
    (void)state;
    const char *text = "GET /proxies/redis/toxics?x=1 HTTP/1.1\r\n"
                       "Host: localhost:8474\r\nAccept: */*\r\n\r\n";
    muxd_http_request_t req;
    assert_int_equal(parse(text, &req), (ssize_t)strlen(text));
    assert_span(req.method, req.method_len, "GET");
    assert_span(req.path, req.path_len, "/proxies/redis/toxics?x=1");
    assert_null(req.body);
    assert_int_equal(req.body_len, 0);
    assert_true(req.keep_alive);
    assert_false(req.browser);
    assert_int_equal(req.head_len, strlen(text));
}

static void test_body(void **state) {
    (void)state;
    const char *text = "POST /proxies HTTP/1.1\r\ncontent-LENGTH: 11\r\n\r\n"
                       "{\"a\":\"b\"}\r\n";
    muxd_http_request_t req;
    assert_int_equal(parse(text, &req), (ssize_t)strlen(text));
    assert_span(req.method, req.method_len, "POST");
    assert_span(req.body, req.body_len, "{\"a\":\"b\"}\r\n");
}

/* No Content-Length: an empty body, POST too (curl -X POST /reset). */
static void test_post_without_length(void **state) {
    (void)state;
    const char *text = "POST /reset HTTP/1.1\r\nHost: x\r\n\r\n";
    muxd_http_request_t req;
    assert_int_equal(parse(text, &req), (ssize_t)strlen(text));
    assert_int_equal(req.body_len, 0);
    assert_null(req.body);
}

static void test_pipelined(void **state) {
    (void)state;
    const char *first = "PATCH /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz";
    const char *second = "DELETE /b HTTP/1.1\r\n\r\n";
    char both[256];
    snprintf(both, sizeof(both), "%s%s", first, second);
    muxd_http_request_t req;
    ssize_t n = parse(both, &req);
    assert_int_equal(n, (ssize_t)strlen(first));
    assert_span(req.body, req.body_len, "xyz");
    assert_int_equal(parse(both + n, &req), (ssize_t)strlen(second));
    assert_span(req.method, req.method_len, "DELETE");
    assert_span(req.path, req.path_len, "/b");
}

/* Every prefix of a request (head and body) needs more. */
static void test_every_prefix(void **state) {
    (void)state;
    const char *text = "\r\nPOST /proxies/x/toxics HTTP/1.1\r\nHost: h\r\n"
                       "User-Agent: toxiproxy-cli\r\nContent-Length: 7\r\n"
                       "Connection: keep-alive\r\n\r\n{\"k\":1}";
    size_t len = strlen(text);
    muxd_http_request_t req;
    for (size_t i = 0; i < len; i++) {
        char *copy = malloc(i + 1); /* ASan: not one byte past i */
        memcpy(copy, text, i);
        assert_int_equal(parse_n(copy, i, &req), 0);
        free(copy);
    }
    assert_int_equal(parse_n(text, len, &req), (ssize_t)len);
}

static void test_head_complete_body_not(void **state) {
    (void)state;
    const char *text = "PUT /x HTTP/1.1\r\nExpect: 100-Continue\r\n"
                       "Content-Length: 5\r\n\r\nab";
    muxd_http_request_t req;
    assert_int_equal(parse(text, &req), 0);
    assert_int_equal(req.head_len, strlen(text) - 2);
    assert_true(req.expect_continue);
}

static void test_bare_lf_and_leading_lines(void **state) {
    (void)state;
    const char *text = "\n\r\nGET / HTTP/1.1\nHost: x\nContent-Length: 1\n\nz";
    muxd_http_request_t req;
    assert_int_equal(parse(text, &req), (ssize_t)strlen(text));
    assert_span(req.path, req.path_len, "/");
    assert_span(req.body, req.body_len, "z");
}

static bool keep_alive_of(const char *text) {
    muxd_http_request_t req;
    assert_int_equal(parse(text, &req), (ssize_t)strlen(text));
    return req.keep_alive;
}

static void test_keep_alive_rules(void **state) {
    (void)state;
    assert_true(keep_alive_of("GET / HTTP/1.1\r\n\r\n"));
    assert_false(keep_alive_of("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"));
    assert_false(
        keep_alive_of("GET / HTTP/1.1\r\nCONNECTION:  Close \r\n\r\n"));
    assert_false(
        keep_alive_of("GET / HTTP/1.1\r\nConnection: upgrade,close\r\n\r\n"));
    assert_true(keep_alive_of("GET / HTTP/1.1\r\nConnection: closed\r\n\r\n"));
    assert_false(keep_alive_of("GET / HTTP/1.0\r\n\r\n"));
    assert_true(
        keep_alive_of("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
    assert_false(keep_alive_of(
        "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"));
    assert_true(keep_alive_of("GET / HTTP/1.9\r\n\r\n")); /* 1.x as 1.1 */
}

static bool browser_of(const char *agent) {
    char text[256];
    snprintf(text, sizeof(text), "GET / HTTP/1.1\r\nUser-Agent: %s\r\n\r\n",
             agent);
    muxd_http_request_t req;
    assert_int_equal(parse(text, &req), (ssize_t)strlen(text));
    return req.browser;
}

static void test_browser(void **state) {
    (void)state;
    assert_true(browser_of("Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"));
    assert_true(browser_of("Mozilla/"));
    assert_false(browser_of("mozilla/5.0")); /* as toxiproxy: exact prefix */
    assert_false(browser_of("curl/8.5.0"));
    assert_false(browser_of("Mozilla"));
    assert_false(browser_of(""));
}

/* ---- errors ---- */

static void test_400_request_line(void **state) {
    (void)state;
    assert_int_equal(error("G@T / HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(error(" GET / HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(error("GET  / HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(error("GET /a b HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(error("GET /\r\n\r\n"), 400); /* HTTP/0.9 */
    assert_int_equal(error("GET / HTTX/1.1\r\n\r\n"), 400);
    assert_int_equal(error("GET / HTTP/1.\r\n\r\n"), 400);
    assert_int_equal(error("GET / HTTP/1.11\r\n\r\n"), 400);
    assert_int_equal(error("GET / HTTP/1.1 \r\n\r\n"), 400);
    assert_int_equal(error("GET /\x01 HTTP/1.1\r\n\r\n"), 400);
    /* Garbage is refused as soon as it arrives: a TLS hello. */
    assert_int_equal(error_of("\x16\x03\x01\x02\x00", 5), 400);
    assert_int_equal(error("GET / HT"), 0);
    /* Bytes past ASCII in the target pass, as Go's server takes them. */
    const char *utf8 = "GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n";
    assert_int_equal(error(utf8), (int)strlen(utf8));
}

static void test_400_headers(void **state) {
    (void)state;
    assert_int_equal(error("GET / HTTP/1.1\r\nHost x\r\n\r\n"), 400);
    assert_int_equal(error("GET / HTTP/1.1\r\nHost : x\r\n\r\n"), 400);
    assert_int_equal(error("GET / HTTP/1.1\r\n: x\r\n\r\n"), 400);
    assert_int_equal(error("GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n"), 400);
    assert_int_equal(error("GET / HTTP/1.1\r\nA: b\r\n\tfolded\r\n\r\n"), 400);
    assert_int_equal(error("GET / HTTP/1.1\r\nA: b\rc\r\n\r\n"), 400);
    assert_int_equal(error("GET / HTTP/1.1\r\nA: b\x7f\r\n\r\n"), 400);
    assert_int_equal(error("GET / HTTP/1.1\r\nA: b\x1b[31m\r\n\r\n"), 400);
    assert_int_equal(error("GET / HTTP/1.1\r\n\r\r\n"), 400);
    static const char nul_value[] = "GET / HTTP/1.1\r\nA: b\0c\r\n\r\n";
    assert_int_equal(error_of(nul_value, sizeof(nul_value) - 1), 400);
    static const char nul_name[] = "GET / HTTP/1.1\r\nA\0: b\r\n\r\n";
    assert_int_equal(error_of(nul_name, sizeof(nul_name) - 1), 400);
    static const char nul_line[] = "GET /\0 HTTP/1.1\r\n\r\n";
    assert_int_equal(error_of(nul_line, sizeof(nul_line) - 1), 400);
    /* obs-text in a value is allowed. */
    const char *utf8 = "GET / HTTP/1.1\r\nA: \xc3\xa9\r\n\r\n";
    assert_int_equal(error(utf8), (int)strlen(utf8));
}

static void test_400_content_length(void **state) {
    (void)state;
    assert_int_equal(error("POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n"),
                     400);
    assert_int_equal(error("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"),
                     400);
    assert_int_equal(error("POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n"),
                     400);
    assert_int_equal(error("POST / HTTP/1.1\r\nContent-Length: 1 1\r\n\r\n"),
                     400);
    assert_int_equal(error("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n"), 400);
    assert_int_equal(error("POST / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n"),
                     400);
    assert_int_equal(error("POST / HTTP/1.1\r\nContent-Length: "
                           "99999999999999999999999\r\n\r\n"),
                     400);
    assert_int_equal(error("POST / HTTP/1.1\r\nContent-Length: 1\r\n"
                           "Content-Length: 2\r\n\r\nab"),
                     400);
    /* The same value twice is one. */
    const char *same = "POST / HTTP/1.1\r\nContent-Length: 2\r\n"
                       "content-length: 02\r\n\r\nab";
    assert_int_equal(error(same), (int)strlen(same));
}

static void test_413(void **state) {
    (void)state;
    char text[128];
    snprintf(text, sizeof(text),
             "POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n", MAX_BODY + 1);
    assert_int_equal(error(text), 413); /* at once, before any body */
    snprintf(text, sizeof(text),
             "POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n", MAX_BODY);
    assert_int_equal(error(text), 0); /* the largest: waits for it */
}

/* A head of exactly max_header bytes is taken; one more byte is 431. */
static void test_431(void **state) {
    (void)state;
    static char text[MAX_HEADER * 2];
    const char *start = "GET / HTTP/1.1\r\nX-Big: ";
    size_t fill = MAX_HEADER - strlen(start) - 4;
    snprintf(text, sizeof(text), "%s%*s\r\n\r\n", start, (int)fill, "v");
    assert_int_equal(strlen(text), MAX_HEADER);
    assert_int_equal(error(text), MAX_HEADER);
    snprintf(text, sizeof(text), "%s%*s\r\n\r\n", start, (int)fill + 1, "v");
    assert_int_equal(error(text), 431);
    /* A head that never ends: 431 once the limit is reached, not before. */
    memset(text, 'a', sizeof(text));
    memcpy(text, start, strlen(start));
    assert_int_equal(error_of(text, MAX_HEADER - 1), 0);
    assert_int_equal(error_of(text, MAX_HEADER), 431);
    assert_int_equal(error_of(text, sizeof(text)), 431);
    /* A request line alone too long. */
    memcpy(text, "GET /", 5);
    assert_int_equal(error_of(text, sizeof(text)), 431);
    /* Empty lines count. */
    memset(text, '\n', sizeof(text));
    assert_int_equal(error_of(text, sizeof(text)), 431);
}

static void test_501(void **state) {
    (void)state;
    const char *text =
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello";
    muxd_http_request_t req;
    assert_int_equal(parse(text, &req), -501);
    assert_non_null(strstr(req.error, "chunked"));
    assert_int_equal(error("POST / HTTP/1.1\r\nContent-Length: 5\r\n"
                           "transfer-encoding: gzip\r\n\r\n"),
                     501);
}

static void test_505(void **state) {
    (void)state;
    assert_int_equal(error("GET / HTTP/2.0\r\n\r\n"), 505);
    assert_int_equal(error("GET / HTTP/0.9\r\n\r\n"), 505);
    assert_int_equal(error("GET / HTTP/3"), 505); /* as soon as it shows */
    muxd_http_request_t req;
    assert_int_equal(parse("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", &req), -505);
    assert_string_equal(req.error, "only HTTP/1.x is supported");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get),
        cmocka_unit_test(test_body),
        cmocka_unit_test(test_post_without_length),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_every_prefix),
        cmocka_unit_test(test_head_complete_body_not),
        cmocka_unit_test(test_bare_lf_and_leading_lines),
        cmocka_unit_test(test_keep_alive_rules),
        cmocka_unit_test(test_browser),
        cmocka_unit_test(test_400_request_line),
        cmocka_unit_test(test_400_headers),
        cmocka_unit_test(test_400_content_length),
        cmocka_unit_test(test_413),
        cmocka_unit_test(test_431),
        cmocka_unit_test(test_501),
        cmocka_unit_test(test_505),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
