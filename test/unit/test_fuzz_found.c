/*
 * test_fuzz_found.c -- regression tests for the bugs the fuzzers in
 * test/fuzz/ found, each reduced to a few socketpair writes:
 *  - a line of exactly max_line bytes whose CR and LF arrive in separate
 *    reads was refused as too long (fuzz_lines);
 *  - mux_server_shutdown() from a message callback read the connection
 *    being served again from inside that callback, then closed it: the
 *    rest of the lines of the current read, already received, were never
 *    served, and newer input went to the service re-entrantly, ahead of
 *    them (fuzz_server).
 * (fuzz_server also found the use after free of an open callback that
 * closes its connection during mux_server_serve_fd(); test_conn covers it.)
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mux.h"

#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* What the service saw: its lines, each with a '\n'; its callbacks. */
static struct {
    char lines[256];
    size_t len;
    int closes, eofs;
} seen;

/* What the service does, set by each test. */
static struct {
    const char *shutdown_on; /* a line that starts a graceful shutdown */
    mux_server_t *server;
} cfg;

static void on_message(mux_conn_t *conn, const char *data, size_t len) {
    (void)conn;
    assert_true(seen.len + len + 1 <= sizeof(seen.lines));
    memcpy(seen.lines + seen.len, data, len);
    seen.len += len;
    seen.lines[seen.len++] = '\n';
    if (cfg.shutdown_on && len == strlen(cfg.shutdown_on) &&
        !memcmp(data, cfg.shutdown_on, len))
        mux_server_shutdown(cfg.server, 0);
}

static void on_eof(mux_conn_t *conn) {
    seen.eofs++;
    mux_conn_close(conn, MUX_CLOSE_AFTER_FLUSH);
}

static void on_close(mux_conn_t *conn) {
    (void)conn;
    seen.closes++;
}

static const mux_service_t lines_service = {
    .name = "lines",
    .framing = MUX_FRAMING_LINE,
    .message = on_message,
    .eof = on_eof,
    .close = on_close,
};

typedef struct {
    mux_loop_t *loop;
    mux_server_t *server;
    int peer; /* the test's end of the socketpair */
} fixture_t;

/* A server with one client on a socketpair; returns serve_fd's result. */
static int start(fixture_t *f, size_t max_line) {
    int sv[2];
    mux_server_opts_t opts = {.max_line = max_line};
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(mux_loop_new(&f->loop), 0);
    assert_int_equal(mux_server_new(f->loop, &lines_service, &opts, &f->server),
                     0);
    cfg.server = f->server;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    f->peer = sv[1];
    return mux_server_serve_fd(f->server, sv[0]);
}

static void stop(fixture_t *f) {
    memset(&cfg, 0, sizeof(cfg));
    mux_server_free(f->server);
    mux_loop_free(f->loop);
    close(f->peer);
}

/* Turns without waiting until one runs nothing (bounded). */
static void pump(fixture_t *f) {
    for (int i = 0; i < 100; i++) {
        int ran = mux_run(f->loop, MUX_RUN_NOWAIT);
        assert_true(ran >= 0);
        if (ran == 0)
            return;
    }
    fail_msg("the loop did not settle");
}

static void put(fixture_t *f, const char *text) {
    size_t len = strlen(text);
    assert_int_equal(send(f->peer, text, len, MSG_NOSIGNAL), (ssize_t)len);
    pump(f);
}

static void assert_lines(const char *expected) {
    assert_int_equal(seen.len, strlen(expected));
    assert_memory_equal(seen.lines, expected, seen.len);
}

static void test_crlf_split_at_max_line(void **state) {
    (void)state;
    fixture_t f;
    assert_int_equal(start(&f, 3), 0);
    put(&f, "abc\r");
    put(&f, "\n");
    put(&f, "de\r");
    assert_int_equal(shutdown(f.peer, SHUT_WR), 0);
    pump(&f);
    /* "abc" is exactly max_line; "de\r" ends the stream: its CR is data. */
    assert_lines("abc\nde\r\n");
    assert_int_equal(seen.eofs, 1);
    stop(&f);
}

static void test_unterminated_cr_over_max_line_at_eof(void **state) {
    (void)state;
    fixture_t f;
    char reply[64] = "";
    assert_int_equal(start(&f, 3), 0);
    put(&f, "abc\r"); /* may still become "abc\r\n": no error yet */
    assert_lines("");
    assert_int_equal(recv(f.peer, reply, sizeof(reply) - 1, MSG_DONTWAIT), -1);
    assert_int_equal(shutdown(f.peer, SHUT_WR), 0);
    pump(&f); /* it did not: four bytes of line, one too many */
    assert_lines("");
    assert_int_equal(seen.eofs, 0);
    assert_true(recv(f.peer, reply, sizeof(reply) - 1, MSG_DONTWAIT) > 0);
    assert_non_null(strstr(reply, "line too long"));
    stop(&f);
}

static void test_shutdown_from_message_keeps_order(void **state) {
    (void)state;
    fixture_t f;
    char byte;
    cfg.shutdown_on = "b";
    assert_int_equal(start(&f, 0), 0);
    /* One read: the lines after "b" were received before the shutdown and
     * must be served, in order, once each. */
    put(&f, "a\nb\nc\nd\ne\n");
    assert_lines("a\nb\nc\nd\ne\n");
    assert_int_equal(seen.eofs, 0);
    /* Then the server closes the client (after flushing, lingering). */
    assert_int_equal(recv(f.peer, &byte, 1, MSG_DONTWAIT), 0);
    assert_int_equal(shutdown(f.peer, SHUT_WR), 0);
    pump(&f);
    assert_int_equal(seen.closes, 1);
    assert_int_equal(mux_server_clients(f.server), 0);
    stop(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crlf_split_at_max_line),
        cmocka_unit_test(test_unterminated_cr_over_max_line_at_eof),
        cmocka_unit_test(test_shutdown_from_message_keeps_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
