/*
 * test_stream.c -- a stream on its own (src/lib/stream.c): mux_conn_new()
 * over a socketpair, no server and no listener: framing, replies, the
 * events its owner hears, half-close and the watermark.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "faultset.h"
#include "mux.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    test_loop_t t;
    int sv[2]; /* sv[0]: the stream's; sv[1]: the test's peer */
    int opened, closed, close_events, errors;
    char close_reason[64];
    mux_conn_t *conn;
} fixture_t;

static fixture_t *fx; /* the callbacks reach the fixture through here */

static void upper_open(mux_conn_t *conn) {
    fx->opened++;
    fx->conn = conn;
    mux_conn_send(conn, "hi\n", 3);
}

static void upper_line(mux_conn_t *conn, const char *line, size_t len) {
    char out[64];
    assert_true(len < sizeof(out));
    for (size_t i = 0; i < len; i++)
        out[i] =
            (char)(line[i] >= 'a' && line[i] <= 'z' ? line[i] - 32 : line[i]);
    out[len] = '\n';
    assert_int_equal(mux_conn_send(conn, out, len + 1), 0);
}

static void upper_close(mux_conn_t *conn) {
    (void)conn;
    fx->closed++;
}

static const mux_service_t upper = {.name = "upper",
                                    .framing = MUX_FRAMING_LINE,
                                    .open = upper_open,
                                    .message = upper_line,
                                    .close = upper_close};

static void on_event(mux_conn_t *conn, mux_event_t *ev, void *arg) {
    assert_ptr_equal(arg, fx);
    assert_ptr_equal(ev->conn, conn);
    if (ev->type == MUX_EV_CLOSE) {
        fx->close_events++;
        snprintf(fx->close_reason, sizeof(fx->close_reason), "%s", ev->reason);
        assert_string_equal(ev->peer, "unix");
        assert_int_equal(ev->transport, MUX_UNIX);
        assert_int_equal(ev->clients, 0);
    } else if (ev->type == MUX_EV_ERROR) {
        fx->errors++;
    }
}

static int setup(void **state) {
    fx = calloc(1, sizeof(*fx));
    if (!fx || test_loop_open(&fx->t) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM, 0, fx->sv) < 0)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state) {
    fixture_t *f = *state;
    close(f->sv[1]);
    test_loop_close(&f->t);
    free(f);
    return 0;
}

/* What the peer has received so far, added to buf[got..len). */
static size_t take(fixture_t *f, char *buf, size_t got, size_t len) {
    ssize_t n = recv(f->sv[1], buf + got, len - got, MSG_DONTWAIT);
    return got + (n > 0 ? (size_t)n : 0);
}

/* Reads from the peer until `want` arrived (running the loop), exactly. */
static void expect(fixture_t *f, const char *want) {
    size_t len = strlen(want);
    char buf[256];
    size_t got = 0;
    assert_true(len < sizeof(buf));
    test_loop_t *t = &f->t;
    TEST_RUN_UNTIL(t, (got = take(f, buf, got, len)) >= len);
    assert_memory_equal(buf, want, len);
}

static void test_a_stream_without_a_server(void **state) {
    fixture_t *f = *state;
    mux_conn_opts_t opts = {.on_event = on_event, .event_arg = f};
    mux_conn_t *conn;
    assert_int_equal(mux_conn_new(f->t.loop, f->sv[0], &upper, &opts, &conn),
                     0);
    assert_int_equal(f->opened, 1); /* before mux_conn_new returned */
    assert_ptr_equal(f->conn, conn);
    assert_null(mux_conn_server(conn));
    assert_int_equal(mux_conn_id(conn), 0);
    assert_int_equal(mux_conn_framing(conn), MUX_FRAMING_LINE);
    assert_int_equal(mux_conn_watermark(conn), 1024 * 1024);
    assert_ptr_equal(mux_conn_loop(conn), f->t.loop);
    /* Made non-blocking. */
    assert_true(fcntl(f->sv[0], F_GETFL) & O_NONBLOCK);
    expect(f, "hi\n");
    assert_int_equal(send(f->sv[1], "one\r\ntwo\n", 9, 0), 9);
    expect(f, "ONE\nTWO\n");
    /* Half-close: the unterminated last line is served, then the close. */
    assert_int_equal(send(f->sv[1], "three", 5, 0), 5);
    assert_int_equal(shutdown(f->sv[1], SHUT_WR), 0);
    expect(f, "THREE\n");
    test_loop_t *t = &f->t;
    TEST_RUN_UNTIL(t, f->close_events == 1);
    assert_int_equal(f->closed, 1);
    assert_string_equal(f->close_reason, "client closed");
    char byte;
    assert_int_equal(recv(f->sv[1], &byte, 1, 0), 0); /* our EOF */
}

static void test_line_too_long_is_an_event(void **state) {
    fixture_t *f = *state;
    mux_conn_opts_t opts = {
        .max_line = 4, .on_event = on_event, .event_arg = f};
    mux_conn_t *conn;
    assert_int_equal(mux_conn_new(f->t.loop, f->sv[0], &upper, &opts, &conn),
                     0);
    expect(f, "hi\n");
    assert_int_equal(send(f->sv[1], "toolong\n", 8, 0), 8);
    expect(f, "error: line too long (max 4 bytes)\n");
    assert_int_equal(f->errors, 1);
    mux_conn_close(conn, MUX_CLOSE_NOW);
    assert_int_equal(f->close_events, 1);
    assert_string_equal(f->close_reason, "closed by server");
    assert_true(mux_run(f->t.loop, MUX_RUN_NOWAIT) >= 0); /* frees it */
}

static void test_not_connected_is_refused(void **state) {
    fixture_t *f = *state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    mux_conn_opts_t opts = {.on_event = on_event, .event_arg = f};
    mux_conn_t *conn = NULL;
    assert_int_equal(mux_conn_new(f->t.loop, fd, &upper, &opts, &conn),
                     -ENOTCONN);
    assert_null(conn);
    assert_int_equal(fcntl(fd, F_GETFD), -1); /* closed */
    assert_int_equal(f->opened, 0);
    opts.max_output = MUX_OUTPUT_MAX + 1;
    assert_int_equal(mux_conn_new(f->t.loop, f->sv[0], &upper, &opts, &conn),
                     -EINVAL);
    assert_int_equal(fcntl(f->sv[0], F_GETFD), -1); /* closed too */
}

/* ---- half-close and reset, as a relay passes them on ---- */

static int send_err;

static void half_open(mux_conn_t *conn) {
    fx->conn = conn;
    mux_conn_send(conn, "bye\n", 4);
    mux_conn_close(conn, MUX_CLOSE_WRITE);
    send_err = mux_conn_send(conn, "late", 4);
}

static void half_message(mux_conn_t *conn, const char *data, size_t len) {
    (void)conn;
    assert_int_equal(len, 5);
    assert_memory_equal(data, "more\n", 5);
    fx->opened++; /* counts messages here */
}

static const mux_service_t half = {.name = "half",
                                   .open = half_open,
                                   .message = half_message,
                                   .close = upper_close};

static void test_close_write_is_a_half_close(void **state) {
    fixture_t *f = *state;
    mux_conn_opts_t opts = {.on_event = on_event, .event_arg = f};
    mux_conn_t *conn;
    assert_int_equal(mux_conn_new(f->t.loop, f->sv[0], &half, &opts, &conn), 0);
    assert_int_equal(send_err, -EPIPE);
    expect(f, "bye\n");
    char byte;
    assert_int_equal(recv(f->sv[1], &byte, 1, 0), 0); /* the FIN */
    /* Still read and served. */
    assert_int_equal(send(f->sv[1], "more\n", 5, 0), 5);
    test_loop_t *t = &f->t;
    TEST_RUN_UNTIL(t, f->opened == 1);
    assert_int_equal(f->close_events, 0);
    assert_int_equal(shutdown(f->sv[1], SHUT_WR), 0);
    TEST_RUN_UNTIL(t, f->close_events == 1);
    assert_string_equal(f->close_reason, "client closed");
}

static void reset_open(mux_conn_t *conn) {
    mux_conn_send(conn, "last", 4);
    mux_conn_close(conn, MUX_CLOSE_RESET);
}

static const mux_service_t resetter = {.name = "reset", .open = reset_open};

static void tcp_on_event(mux_conn_t *conn, mux_event_t *ev, void *arg) {
    (void)conn;
    fixture_t *f = arg;
    if (ev->type == MUX_EV_CLOSE) {
        f->close_events++;
        snprintf(f->close_reason, sizeof(f->close_reason), "%s", ev->reason);
    }
}

/* A connected TCP pair on loopback: *accepted for the stream, the other
 * end returned (the test's peer). */
static int tcp_pair(int *accepted) {
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(lfd, 1), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
    int client = test_connect(ntohs(sa.sin_port));
    *accepted = accept(lfd, NULL, NULL);
    assert_true(client >= 0 && *accepted >= 0);
    close(lfd);
    return client;
}

static void test_close_reset_after_the_last_bytes(void **state) {
    fixture_t *f = *state;
    int accepted;
    int client = tcp_pair(&accepted);
    mux_conn_opts_t opts = {.on_event = tcp_on_event, .event_arg = f};
    mux_conn_t *conn;
    assert_int_equal(mux_conn_new(f->t.loop, accepted, &resetter, &opts, &conn),
                     0);
    assert_int_equal(f->close_events, 1);
    assert_string_equal(f->close_reason, "reset");
    char buf[8];
    assert_int_equal(recv(client, buf, 4, MSG_WAITALL), 4);
    assert_memory_equal(buf, "last", 4);
    assert_int_equal(recv(client, buf, 1, 0), -1);
    assert_int_equal(errno, ECONNRESET);
    close(client);
    assert_true(mux_run(f->t.loop, MUX_RUN_NOWAIT) >= 0);
}

/* ---- the close callback knows why ---- */

/* What the witness's close callback saw. */
static struct {
    const char *reason; /* mux_conn_close_reason() in the callback */
    int err;            /* mux_conn_close_error() in the callback */
    int events_before;  /* MUX_EV_CLOSE events before it: 0 */
} seen;

static void witness_open(mux_conn_t *conn) {
    fx->conn = conn;
    assert_null(mux_conn_close_reason(conn)); /* open: no reason yet */
    assert_int_equal(mux_conn_close_error(conn), 0);
}

static void witness_close(mux_conn_t *conn) {
    fx->closed++;
    seen.reason = mux_conn_close_reason(conn);
    seen.err = mux_conn_close_error(conn);
    seen.events_before = fx->close_events;
}

static const mux_service_t witness = {
    .name = "witness", .open = witness_open, .close = witness_close};

static void witness_event(mux_conn_t *conn, mux_event_t *ev, void *arg) {
    fixture_t *f = arg;
    if (ev->type != MUX_EV_CLOSE)
        return;
    f->close_events++;
    snprintf(f->close_reason, sizeof(f->close_reason), "%s", ev->reason);
    /* The event's reason and error are the callback's, still readable. */
    assert_string_equal(mux_conn_close_reason(conn), ev->reason);
    assert_int_equal(mux_conn_close_error(conn), ev->err);
}

/* A witness stream on `fd` with `opts` (its events: witness_event). */
static mux_conn_t *witness_new(fixture_t *f, int fd, mux_conn_opts_t *opts) {
    memset(&seen, 0, sizeof(seen));
    opts->on_event = witness_event;
    opts->event_arg = f;
    mux_conn_t *conn;
    assert_int_equal(mux_conn_new(f->t.loop, fd, &witness, opts, &conn), 0);
    return conn;
}

/* The callback ran once, before MUX_EV_CLOSE, and saw `reason` and `err`
 * (the event's, too). */
static void saw(fixture_t *f, const char *reason, int err) {
    test_loop_t *t = &f->t;
    TEST_RUN_UNTIL(t, f->close_events == 1);
    assert_int_equal(f->closed, 1);
    assert_int_equal(seen.events_before, 0);
    assert_non_null(seen.reason);
    assert_string_equal(seen.reason, reason);
    assert_string_equal(f->close_reason, reason);
    assert_int_equal(seen.err, err);
}

static void test_close_callback_sees_peer_eof(void **state) {
    fixture_t *f = *state;
    mux_conn_opts_t opts = {0};
    witness_new(f, f->sv[0], &opts);
    assert_int_equal(shutdown(f->sv[1], SHUT_WR), 0);
    saw(f, "client closed", 0);
}

static void test_close_callback_sees_a_reset(void **state) {
    fixture_t *f = *state;
    int accepted;
    int client = tcp_pair(&accepted);
    mux_conn_opts_t opts = {0};
    witness_new(f, accepted, &opts);
    struct linger abort_close = {.l_onoff = 1, .l_linger = 0};
    assert_int_equal(setsockopt(client, SOL_SOCKET, SO_LINGER, &abort_close,
                                sizeof(abort_close)),
                     0);
    close(client); /* a reset */
    saw(f, "reset by client", -ECONNRESET);
}

static void test_close_callback_sees_an_idle_timeout(void **state) {
    fixture_t *f = *state;
    mux_conn_opts_t opts = {.idle_timeout_ms = 1};
    witness_new(f, f->sv[0], &opts);
    saw(f, "idle timeout", 0);
}

static void test_close_callback_sees_a_close_by_the_program(void **state) {
    fixture_t *f = *state;
    mux_conn_opts_t opts = {0};
    mux_conn_t *conn = witness_new(f, f->sv[0], &opts);
    mux_conn_close(conn, MUX_CLOSE_NOW); /* as muxd's kick does */
    saw(f, "closed by server", 0);
}

static void test_close_callback_sees_an_overflow(void **state) {
    fixture_t *f = *state;
    mux_conn_opts_t opts = {.max_output = 4096};
    mux_conn_t *conn = witness_new(f, f->sv[0], &opts);
    static const char chunk[4096];
    int err = 0;
    /* The peer reads nothing: the socket fills, then the queue, to 16x. */
    for (int i = 0; i < 100000 && err == 0; i++)
        err = mux_conn_send(conn, chunk, sizeof(chunk));
    assert_int_equal(err, -ENOBUFS);
    saw(f, "output overflow", 0);
}

/* ---- faults changed while the stream runs ---- */

static void quiet_open(mux_conn_t *conn) { fx->conn = conn; }

static void echo_message(mux_conn_t *conn, const char *data, size_t len) {
    mux_conn_send(conn, data, len);
}

static const mux_service_t quiet_echo = {
    .name = "echo", .open = quiet_open, .message = echo_message};

/* Runs a few turns without waiting; true if the peer has bytes to read. */
static bool peer_readable(fixture_t *f) {
    for (int i = 0; i < 5; i++)
        assert_true(mux_run(f->t.loop, MUX_RUN_NOWAIT) >= 0);
    char byte;
    return recv(f->sv[1], &byte, 1, MSG_DONTWAIT | MSG_PEEK) > 0;
}

static void test_faults_changed_at_run_time(void **state) {
    fixture_t *f = *state;
    mux_conn_opts_t opts = {.on_event = on_event, .event_arg = f};
    mux_conn_t *conn;
    assert_int_equal(
        mux_conn_new(f->t.loop, f->sv[0], &quiet_echo, &opts, &conn), 0);
    assert_null(mux_conn_faults(conn)); /* opts': none */
    /* Output stalled: the echo is held, and pending. */
    mux_faults_t *stalled = FAULTS(.out = {.stall = 1});
    mux_conn_set_faults(conn, stalled);
    assert_int_equal(send(f->sv[1], "held", 4, 0), 4);
    test_loop_t *t = &f->t;
    TEST_RUN_UNTIL(t, mux_conn_pending(conn) == 4);
    assert_false(peer_readable(f));
    /* Lifted: what was held goes at once. */
    mux_conn_set_faults(conn, NULL);
    assert_null(mux_conn_faults(conn)); /* opts': none */
    expect(f, "held");
    /* Input stalled: nothing is read (so nothing echoed) until lifted. */
    mux_faults_t *deaf = FAULTS(.in = {.stall = 1});
    mux_conn_set_faults(conn, deaf);
    assert_int_equal(send(f->sv[1], "later", 5, 0), 5);
    assert_false(peer_readable(f));
    mux_conn_set_faults(conn, NULL);
    expect(f, "later");
    /* A latency that reaches the open stream: the next echo is late. */
    mux_faults_t *slow = FAULTS(.out = {.latency_ms = 50});
    mux_conn_set_faults(conn, slow);
    uint64_t start = test_now_ms();
    assert_int_equal(send(f->sv[1], "slow", 4, 0), 4);
    expect(f, "slow");
    assert_true(test_now_ms() - start >= 50);
    mux_conn_close(conn, MUX_CLOSE_NOW);
    assert_true(mux_run(f->t.loop, MUX_RUN_NOWAIT) >= 0);
}

/* A timeout taken off an open stream closes it, as its end would: what
 * it held never goes (toxiproxy's timeout toxic, removed, closes too). A
 * timeout changed keeps it stopped. */
static void test_timeout_taken_off_closes(void **state) {
    fixture_t *f = *state;
    mux_conn_opts_t opts = {.on_event = on_event, .event_arg = f};
    mux_conn_t *conn;
    assert_int_equal(
        mux_conn_new(f->t.loop, f->sv[0], &quiet_echo, &opts, &conn), 0);
    mux_conn_set_faults(conn, FAULTS(.timeout_ms = MUX_FOREVER));
    assert_int_equal(send(f->sv[1], "held", 4, 0), 4);
    assert_false(peer_readable(f));
    mux_conn_set_faults(conn, FAULTS(.timeout_ms = 60000));
    assert_false(peer_readable(f));
    assert_int_equal(f->errors, 0);
    mux_conn_set_faults(conn, NULL);
    assert_int_equal(f->errors, 1); /* fault timeout removed: closing */
    char buf[8];
    ssize_t n;
    test_loop_t *t = &f->t;
    TEST_RUN_UNTIL(t,
                   (n = recv(f->sv[1], buf, sizeof(buf), MSG_DONTWAIT)) >= 0);
    assert_int_equal(n, 0); /* EOF, and nothing before it */
    assert_int_equal(shutdown(f->sv[1], SHUT_WR), 0); /* the lingering ends */
    TEST_RUN_UNTIL(t, f->close_events == 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_stream_without_a_server, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_line_too_long_is_an_event, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_not_connected_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_close_write_is_a_half_close, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_close_reset_after_the_last_bytes,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_faults_changed_at_run_time, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_timeout_taken_off_closes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_close_callback_sees_peer_eof,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_callback_sees_a_reset, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_close_callback_sees_an_idle_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_close_callback_sees_a_close_by_the_program, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_callback_sees_an_overflow,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
