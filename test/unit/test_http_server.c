/*
 * test_http_server.c -- the API's HTTP server (src/muxd/http.c) on a real
 * loop and real loopback sockets: a handler that echoes the method, path
 * and body length as JSON, driven by non-blocking client sockets of this
 * process while the loop runs turn by turn (bounded by a watchdog).
 *
 * What a client sees is compared byte for byte: keep-alive, pipelining,
 * Connection: close, HEAD and 204, 100 Continue, the 403 for browsers,
 * every error of the parser answered and closed (431 for a 64 KiB head,
 * 413 before the body), the 408 of a head or a body that never ends, a
 * half-close answered, the idle timeout, the 503 past the client limit, the
 * loopback check. And that a client that never reads its replies (and an idle
 * one) stops nothing: its requests wait, another client is answered, and all of
 * its replies come once it reads.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"

#include "http.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BIG (64 * 1024) /* the body of GET /big */

typedef struct {
    test_loop_t t;
    muxd_http_t *http;
    uint16_t port;
    int calls; /* of the handler */
    char reply[512];
    char *big;
} fixture_t;

typedef struct {
    int fd;
    char buf[16384];
    size_t len;
    bool eof;
} client_t;

#define RUN_UNTIL(f, cond) TEST_RUN_UNTIL(&(f)->t, cond)

static bool path_is(const muxd_http_request_t *req, const char *path) {
    return req->path_len == strlen(path) &&
           memcmp(req->path, path, req->path_len) == 0;
}

static void handler(void *arg, const muxd_http_request_t *req,
                    muxd_http_response_t *res) {
    fixture_t *f = arg;
    f->calls++;
    if (path_is(req, "/big")) {
        *res =
            (muxd_http_response_t){.status = 200, .body = f->big, .len = BIG};
        return;
    }
    if (path_is(req, "/none")) {
        res->status = 204;
        return;
    }
    /* One buffer for every reply: the server copies it. */
    int n = snprintf(f->reply, sizeof(f->reply),
                     "{\"method\":\"%.*s\",\"path\":\"%.*s\",\"body\":%zu}",
                     (int)req->method_len, req->method, (int)req->path_len,
                     req->path, req->body_len);
    *res = (muxd_http_response_t){
        .status = 200, .body = f->reply, .len = (size_t)n};
}

/* ---- fixture ---- */

static int setup(void **state) {
    static const muxd_log_t quiet = {.level = MUXD_LOG_QUIET};
    muxd_log_init(&quiet, 0);
    fixture_t *f = calloc(1, sizeof(*f));
    if (!f || test_loop_open(&f->t) < 0 || !(f->big = malloc(BIG)))
        return -1;
    memset(f->big, 'x', BIG);
    f->big[0] = f->big[BIG - 1] = '"';
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture_t *f = *state;
    muxd_http_free(f->http);
    test_loop_close(&f->t);
    free(f->big);
    free(f);
    return 0;
}

static void start_with(fixture_t *f, const muxd_http_limits_t *limits) {
    char bound[MUX_ADDRSTRLEN];
    assert_int_equal(muxd_http_start_with(f->t.loop, "127.0.0.1:0", false,
                                          limits, handler, f, &f->http, bound,
                                          sizeof(bound)),
                     0);
    assert_int_equal(strncmp(bound, "127.0.0.1:", 10), 0);
    f->port = (uint16_t)atoi(bound + 10);
    assert_true(f->port > 0);
}

static void start(fixture_t *f) { start_with(f, NULL); }

/* ---- clients ---- */

static client_t *connect_client(fixture_t *f) {
    client_t *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->fd = test_connect(f->port);
    assert_int_equal(fcntl(c->fd, F_SETFL, O_NONBLOCK), 0);
    return c;
}

static void client_free(client_t *c) {
    close(c->fd);
    free(c);
}

/* Sends all of it, running the loop while the socket is full; stops at a
 * reset or EPIPE (the server closed). Returns the bytes sent. */
static size_t send_all(fixture_t *f, client_t *c, const char *data,
                       size_t len) {
    size_t sent = 0;
    while (sent < len) {
        ssize_t n = send(c->fd, data + sent, len - sent, MSG_NOSIGNAL);
        if (n > 0)
            sent += (size_t)n;
        else if (errno == EAGAIN || errno == EWOULDBLOCK)
            test_turn(&f->t);
        else
            break;
    }
    return sent;
}

static void send_text(fixture_t *f, client_t *c, const char *text) {
    assert_int_equal(send_all(f, c, text, strlen(text)), strlen(text));
}

/* Reads all that has come (as far as it fits); returns the bytes held. */
static size_t fill(client_t *c) {
    ssize_t n = -1;
    while (c->len < sizeof(c->buf) &&
           (n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0)) > 0)
        c->len += (size_t)n;
    if (c->len < sizeof(c->buf) && (n == 0 || errno == ECONNRESET))
        c->eof = true;
    return c->len;
}

/* Runs the loop until `want` has come, compares it and takes it. */
static void expect(fixture_t *f, client_t *c, const char *want) {
    size_t len = strlen(want);
    assert_true(len <= sizeof(c->buf));
    RUN_UNTIL(f, fill(c) >= len || c->eof);
    if (c->len < len || memcmp(c->buf, want, len) != 0)
        fail_msg("got \"%.*s\", want \"%s\"", (int)c->len, c->buf, want);
    memmove(c->buf, c->buf + len, c->len - len);
    c->len -= len;
}

/* Runs the loop until the server has closed, with nothing more sent. */
static void expect_closed(fixture_t *f, client_t *c) {
    RUN_UNTIL(f, (fill(c), c->eof));
    assert_int_equal(c->len, 0);
}

/* A 200 with `body`, as the server writes it. */
static const char *ok(const char *body, bool closing) {
    static char text[1024];
    snprintf(text, sizeof(text),
             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\n%s\r\n%s",
             strlen(body), closing ? "Connection: close\r\n" : "", body);
    return text;
}

/* The error the server answers (and closes after). */
static const char *error_reply(const char *status_line, const char *body) {
    static char text[1024];
    snprintf(text, sizeof(text),
             "HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
             status_line, strlen(body), body);
    return text;
}

/* Runs non-waiting turns until one runs no callback: the server has done
 * all it can for now. */
static void settle(fixture_t *f) {
    for (int i = 0; i < TEST_MAX_TURNS; i++)
        if (mux_run(f->t.loop, MUX_RUN_NOWAIT) == 0)
            return;
    fail_msg("the loop never settled");
}

/* ---- keep-alive, pipelining, close ---- */

static void test_keep_alive(void **state) {
    fixture_t *f = *state;
    start(f);
    client_t *c = connect_client(f);
    send_text(f, c, "GET /version HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(f, c,
           ok("{\"method\":\"GET\",\"path\":\"/version\",\"body\":0}", false));
    send_text(f, c, "POST /proxies HTTP/1.1\r\nContent-Length: 4\r\n\r\n{}{}");
    expect(f, c,
           ok("{\"method\":\"POST\",\"path\":\"/proxies\",\"body\":4}", false));
    assert_int_equal(f->calls, 2);
    assert_false(c->eof);
    client_free(c);
}

static void test_pipelined(void **state) {
    fixture_t *f = *state;
    start(f);
    client_t *c = connect_client(f);
    send_text(f, c,
              "GET /a HTTP/1.1\r\n\r\nDELETE /b HTTP/1.1\r\nContent-Length: "
              "1\r\n\r\nzHEAD /c HTTP/1.1\r\n\r\nGET /none HTTP/1.1\r\n\r\n");
    expect(f, c, ok("{\"method\":\"GET\",\"path\":\"/a\",\"body\":0}", false));
    expect(f, c,
           ok("{\"method\":\"DELETE\",\"path\":\"/b\",\"body\":1}", false));
    /* HEAD: the headers of the body, not the body. */
    expect(f, c,
           "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
           "Content-Length: 38\r\n\r\n");
    expect(f, c, "HTTP/1.1 204 No Content\r\n\r\n");
    assert_int_equal(f->calls, 4);
    client_free(c);
}

static void test_connection_close(void **state) {
    fixture_t *f = *state;
    start(f);
    client_t *c = connect_client(f);
    /* What follows a last request goes unanswered. */
    send_text(f, c,
              "GET /bye HTTP/1.1\r\nConnection: close\r\n\r\n"
              "GET /not HTTP/1.1\r\n\r\n");
    expect(f, c, ok("{\"method\":\"GET\",\"path\":\"/bye\",\"body\":0}", true));
    expect_closed(f, c);
    assert_int_equal(f->calls, 1);
    client_free(c);

    c = connect_client(f); /* HTTP/1.0 closes by default */
    send_text(f, c, "GET /old HTTP/1.0\r\n\r\n");
    expect(f, c, ok("{\"method\":\"GET\",\"path\":\"/old\",\"body\":0}", true));
    expect_closed(f, c);
    client_free(c);
}

/* Bytes a few at a time: answered once complete, whatever the cuts. */
static void test_trickled(void **state) {
    fixture_t *f = *state;
    start(f);
    client_t *c = connect_client(f);
    const char *text = "PATCH /p HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
    for (size_t i = 0; text[i]; i++) {
        assert_int_equal(send_all(f, c, text + i, 1), 1);
        settle(f);
    }
    expect(f, c,
           ok("{\"method\":\"PATCH\",\"path\":\"/p\",\"body\":3}", false));
    client_free(c);
}

static void test_100_continue(void **state) {
    fixture_t *f = *state;
    start(f);
    client_t *c = connect_client(f);
    send_text(f, c,
              "POST /x HTTP/1.1\r\nExpect: 100-continue\r\n"
              "Content-Length: 2\r\n\r\n");
    expect(f, c, "HTTP/1.1 100 Continue\r\n\r\n");
    send_text(f, c, "{}");
    expect(f, c, ok("{\"method\":\"POST\",\"path\":\"/x\",\"body\":2}", false));
    client_free(c);
}

/* ---- refusals ---- */

static void test_browser_403(void **state) {
    fixture_t *f = *state;
    start(f);
    client_t *c = connect_client(f);
    send_text(f, c,
              "GET /proxies HTTP/1.1\r\nUser-Agent: Mozilla/5.0 (X11)\r\n\r\n"
              "GET /next HTTP/1.1\r\nUser-Agent: curl/8\r\n\r\n");
    expect(f, c,
           "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\n"
           "Content-Length: 47\r\n\r\n"
           "{\"error\":\"User agent not allowed\",\"status\":403}");
    expect(f, c,
           ok("{\"method\":\"GET\",\"path\":\"/next\",\"body\":0}", false));
    assert_int_equal(f->calls, 1); /* the browser's never reached it */
    client_free(c);
}

/* The parser's errors: the answer, then a close. */
static void expect_refused(fixture_t *f, const char *request, size_t len,
                           const char *want) {
    client_t *c = connect_client(f);
    send_all(f, c, request, len); /* the server may close before the end */
    expect(f, c, want);
    expect_closed(f, c);
    client_free(c);
}

static void test_errors_close(void **state) {
    fixture_t *f = *state;
    start(f);
    const char *bad = "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n";
    expect_refused(
        f, bad, strlen(bad),
        error_reply("400 Bad Request",
                    "{\"error\":\"obs-fold (a header line starting "
                    "with a blank) is not allowed\",\"status\":400}"));
    const char *chunked = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                          "\r\n5\r\nhello\r\n0\r\n\r\n";
    expect_refused(
        f, chunked, strlen(chunked),
        error_reply(
            "501 Not Implemented",
            "{\"error\":\"Transfer-Encoding is not supported (chunked "
            "bodies neither): send a Content-Length\",\"status\":501}"));
    const char *v2 = "GET / HTTP/2.0\r\n\r\n";
    expect_refused(f, v2, strlen(v2),
                   error_reply("505 HTTP Version Not Supported",
                               "{\"error\":\"only HTTP/1.x is supported\","
                               "\"status\":505}"));
    assert_int_equal(f->calls, 0);
}

/* 64 KiB of a head that never ends: 431 at 8 KiB, and a close. */
static void test_huge_header_431(void **state) {
    fixture_t *f = *state;
    start(f);
    size_t len = 64 * 1024;
    char *request = malloc(len);
    assert_non_null(request);
    memset(request, 'a', len);
    memcpy(request, "GET / HTTP/1.1\r\nX-Big: ", 23);
    expect_refused(f, request, len,
                   error_reply("431 Request Header Fields Too Large",
                               "{\"error\":\"request head too large\","
                               "\"status\":431}"));
    free(request);
    assert_int_equal(f->calls, 0);
}

/* A body past 1 MiB is refused on its head, before it is sent. */
static void test_big_body_413(void **state) {
    fixture_t *f = *state;
    start(f);
    char head[128];
    snprintf(head, sizeof(head),
             "POST /populate HTTP/1.1\r\nContent-Length: %d\r\n\r\n",
             MUXD_HTTP_MAX_BODY + 1);
    expect_refused(f, head, strlen(head),
                   error_reply("413 Content Too Large",
                               "{\"error\":\"request body too large\","
                               "\"status\":413}"));
    assert_int_equal(f->calls, 0);
}

/* A request begun and never finished: 408 once its time is up. */
static void test_request_timeout_408(void **state) {
    fixture_t *f = *state;
    muxd_http_limits_t limits = {.request_timeout_ms = 50};
    start_with(f, &limits);
    client_t *c = connect_client(f);
    send_text(f, c, "GET /slow HTTP/1.1\r\nHost: x\r\n");
    expect(f, c,
           error_reply("408 Request Timeout",
                       "{\"error\":\"request not complete in time\","
                       "\"status\":408}"));
    expect_closed(f, c);
    client_free(c);
    /* The same for a body that never ends. */
    c = connect_client(f);
    send_text(f, c, "POST /slow HTTP/1.1\r\nContent-Length: 9\r\n\r\nabc");
    expect(f, c,
           error_reply("408 Request Timeout",
                       "{\"error\":\"request not complete in time\","
                       "\"status\":408}"));
    expect_closed(f, c);
    assert_int_equal(f->calls, 0);
    client_free(c);
}

/* A client that half-closes after its requests (nc, printf | curl) is
 * answered, then closed. */
static void test_half_close(void **state) {
    fixture_t *f = *state;
    start(f);
    client_t *c = connect_client(f);
    send_text(f, c, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
    assert_int_equal(shutdown(c->fd, SHUT_WR), 0);
    expect(f, c, ok("{\"method\":\"GET\",\"path\":\"/a\",\"body\":0}", false));
    expect(f, c, ok("{\"method\":\"GET\",\"path\":\"/b\",\"body\":0}", false));
    expect_closed(f, c);
    client_free(c);
}

/* A keep-alive connection left idle is closed, without a word. */
static void test_idle_timeout(void **state) {
    fixture_t *f = *state;
    muxd_http_limits_t limits = {.idle_timeout_ms = 50};
    start_with(f, &limits);
    client_t *c = connect_client(f);
    send_text(f, c, "GET /once HTTP/1.1\r\n\r\n");
    expect(f, c,
           ok("{\"method\":\"GET\",\"path\":\"/once\",\"body\":0}", false));
    expect_closed(f, c);
    client_free(c);
}

/* One client past the limit: a 503, closed. */
static void test_full_503(void **state) {
    fixture_t *f = *state;
    muxd_http_limits_t limits = {.max_clients = 1};
    start_with(f, &limits);
    client_t *first = connect_client(f);
    send_text(f, first, "GET /1 HTTP/1.1\r\n\r\n");
    expect(f, first,
           ok("{\"method\":\"GET\",\"path\":\"/1\",\"body\":0}", false));
    client_t *second = connect_client(f);
    expect(f, second,
           error_reply("503 Service Unavailable",
                       "{\"error\":\"too many API clients\",\"status\":503}"));
    expect_closed(f, second);
    client_free(second);
    client_free(first);
}

static void test_loopback_only(void **state) {
    fixture_t *f = *state;
    char bound[MUX_ADDRSTRLEN];
    muxd_http_t *http = NULL;
    const char *remote[] = {"0.0.0.0:0", "*:0", "[::]:0", "192.0.2.1:0"};
    for (size_t i = 0; i < sizeof(remote) / sizeof(*remote); i++)
        assert_int_equal(muxd_http_start(f->t.loop, remote[i], false, handler,
                                         f, &http, bound, sizeof(bound)),
                         MUXD_HTTP_EREMOTE);
    assert_non_null(strstr(muxd_http_strerror(MUXD_HTTP_EREMOTE), "loopback"));
    assert_int_equal(muxd_http_start(f->t.loop, "udp://127.0.0.1:0", false,
                                     handler, f, &http, bound, sizeof(bound)),
                     -EINVAL);
    assert_null(http);
    /* A bare port is loopback; so is 127.0.0.2. */
    assert_int_equal(muxd_http_start(f->t.loop, "0", false, handler, f,
                                     &f->http, bound, sizeof(bound)),
                     0);
    assert_int_equal(strncmp(bound, "127.0.0.1:", 10), 0);
    muxd_http_free(f->http);
    f->http = NULL;
    assert_int_equal(muxd_http_start(f->t.loop, "127.0.0.2:0", false, handler,
                                     f, &f->http, bound, sizeof(bound)),
                     0);
    assert_int_equal(strncmp(bound, "127.0.0.2:", 10), 0);
}

/* ---- clients that do not play along ---- */

/* Reads all there is to read now, counting it; false at EOF. */
static bool read_all(int fd, size_t *got) {
    char buf[65536];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
        *got += (size_t)n;
    return n < 0;
}

/* A client pipelines far more than it reads (1000 replies of 64 KiB),
 * another stays idle: a third is answered all the same; the first's
 * requests wait (not all answered while it does not read: bounded
 * output), and every reply comes once it reads. */
static void test_never_reader(void **state) {
    fixture_t *f = *state;
    start(f);
    enum { REQUESTS = 1000 };
    client_t *idle = connect_client(f);
    client_t *hog = connect_client(f);
    static const char get_big[] = "GET /big HTTP/1.1\r\n\r\n";
    char *burst = malloc(REQUESTS * (sizeof(get_big) - 1));
    assert_non_null(burst);
    for (int i = 0; i < REQUESTS; i++)
        memcpy(burst + (size_t)i * (sizeof(get_big) - 1), get_big,
               sizeof(get_big) - 1);
    size_t burst_len = REQUESTS * (sizeof(get_big) - 1);
    ssize_t n = send(hog->fd, burst, burst_len, MSG_NOSIGNAL);
    assert_int_equal(n, (ssize_t)burst_len); /* 21 KB: the socket takes it */
    settle(f);
    int answered = f->calls;
    assert_true(answered > 0 && answered < REQUESTS);

    client_t *other = connect_client(f);
    send_text(f, other, "GET /other HTTP/1.1\r\n\r\n");
    expect(f, other,
           ok("{\"method\":\"GET\",\"path\":\"/other\",\"body\":0}", false));
    assert_false(idle->eof);

    /* The hog reads: the rest of its replies come, in full. */
    char head[128];
    size_t reply_len =
        (size_t)snprintf(head, sizeof(head),
                         "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         "Content-Length: %d\r\n\r\n",
                         BIG) +
        BIG;
    size_t want = REQUESTS * reply_len, got = 0;
    RUN_UNTIL(f, !read_all(hog->fd, &got) || got >= want);
    assert_int_equal(got, want);
    assert_int_equal(f->calls, REQUESTS + 1);
    free(burst);
    client_free(other);
    client_free(hog);
    client_free(idle);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_keep_alive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trickled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_100_continue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_browser_403, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_huge_header_431, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_body_413, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_timeout_408, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_half_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_503, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loopback_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_never_reader, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
