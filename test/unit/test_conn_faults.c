/*
 * test_conn_faults.c -- opts.faults: split writes pieces one per turn in
 * order and a close after flush waits for the last (with no pause, back
 * to back, a send each); drop_after lets
 * exactly N bytes out, then EOF, and later sends fail; the two combine;
 * stall never reads, and what an output stall holds is dropped once the
 * client closed, at shutdown, and is no activity for the idle timeout;
 * rst resets; timeout ends in EOF (a reset with rst); slow_close holds a
 * half-close too; accept_delay_ms accepts late, one at a time.
 *
 * Drives a real loop and server on 127.0.0.1:0 with blocking client
 * sockets read with MSG_DONTWAIT after every turn; a 5 ms ticker bounds
 * every turn, a 5 s deadline every test. The only times asserted are
 * lower bounds that the timers guarantee.
 */
#define _POSIX_C_SOURCE 200809L

#include "faultset.h"
#include "mux.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h> /* cmocka needs these before its header */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#define DEADLINE_MS 5000
#define TEXT "0123456789abcdefghij"

typedef struct {
    mux_loop_t *loop;
    mux_server_t *server;
    mux_timer_t ticker;
    mux_timer_t late; /* late_send */
    uint16_t port;    /* the listener's */
    mux_conn_t *conn; /* the latest client, while open */
    int opens, closes, messages;
    uint64_t opened_at[2]; /* ms, when the first two opens ran */
    size_t pending_after;  /* mux_conn_pending() right after the sends */
    int late_send_err;     /* a send after drop_after closed the conn */
    char close_reason[64];
    char error_reason[64];
    bool close_on_error; /* on_event closes fx.conn at MUX_EV_ERROR */
} fixture_t;

static fixture_t fx; /* the services reach it through here */

static void on_event(mux_server_t *server, const mux_event_t *ev, void *arg) {
    (void)server, (void)arg;
    if (ev->type == MUX_EV_CLOSE)
        snprintf(fx.close_reason, sizeof(fx.close_reason), "%s", ev->reason);
    if (ev->type == MUX_EV_ERROR)
        snprintf(fx.error_reason, sizeof(fx.error_reason), "%s", ev->reason);
    if (ev->type == MUX_EV_ERROR && fx.close_on_error && fx.conn)
        mux_conn_close(fx.conn, MUX_CLOSE_NOW);
}

static void service_close(mux_conn_t *conn) {
    (void)conn;
    fx.closes++;
    fx.conn = NULL;
}

static void service_message(mux_conn_t *conn, const char *data, size_t len) {
    (void)conn, (void)data, (void)len;
    fx.messages++;
}

/* Sends TEXT in two sends, then closes after flush or not. */
static void send_text_open(mux_conn_t *conn, int close_after) {
    fx.conn = conn;
    assert_int_equal(mux_conn_send(conn, TEXT, 10), 0);
    assert_int_equal(mux_conn_send(conn, &TEXT[10], 10), 0);
    fx.pending_after = mux_conn_pending(conn);
    if (close_after)
        mux_conn_close(conn, MUX_CLOSE_AFTER_FLUSH);
}
static void text_close_open(mux_conn_t *conn) { send_text_open(conn, 1); }

/* Sends TEXT in one mux_conn_sendv() of two pieces, then closes. */
static void gather_close_open(mux_conn_t *conn) {
    fx.conn = conn;
    struct iovec pieces[] = {{TEXT, 10}, {&TEXT[10], 10}};
    assert_int_equal(mux_conn_sendv(conn, pieces, 2), 0);
    fx.pending_after = mux_conn_pending(conn);
    mux_conn_close(conn, MUX_CLOSE_AFTER_FLUSH);
}
static void text_open(mux_conn_t *conn) { send_text_open(conn, 0); }

static void record_open(mux_conn_t *conn) {
    fx.conn = conn;
    if (fx.opens < 2)
        fx.opened_at[fx.opens] = test_now_ms();
    fx.opens++;
    assert_int_equal(mux_conn_send(conn, "hi", 2), 0);
}

/* Sends TEXT, then half-closes (MUX_CLOSE_WRITE). */
static void text_shut_open(mux_conn_t *conn) {
    send_text_open(conn, 0);
    mux_conn_close(conn, MUX_CLOSE_WRITE);
}

static const mux_service_t text_shut_service = {.name = "text-shut",
                                                .open = text_shut_open,
                                                .message = service_message,
                                                .close = service_close};
static const mux_service_t text_close_service = {.name = "text-close",
                                                 .open = text_close_open,
                                                 .message = service_message,
                                                 .close = service_close};
static const mux_service_t gather_close_service = {.name = "gather-close",
                                                   .open = gather_close_open,
                                                   .message = service_message,
                                                   .close = service_close};
static const mux_service_t text_service = {.name = "text",
                                           .open = text_open,
                                           .message = service_message,
                                           .close = service_close};
static const mux_service_t record_service = {.name = "record",
                                             .open = record_open,
                                             .message = service_message,
                                             .close = service_close};

/* Starts a loop and a server for `service` with `faults` and an idle
 * timeout (0: none). */
static void start_idle(const mux_service_t *service, mux_faults_t *faults,
                       uint64_t idle_ms) {
    memset(&fx, 0, sizeof(fx));
    assert_int_equal(mux_loop_new(&fx.loop), 0);
    mux_server_opts_t opts = {
        .on_event = on_event, .faults = faults, .idle_timeout_ms = idle_ms};
    assert_int_equal(mux_server_new(fx.loop, service, &opts, &fx.server), 0);
    assert_int_equal(mux_server_listen(fx.server, "127.0.0.1:0"), 0);
    mux_timer_init(&fx.ticker, fx.loop, test_tick, NULL);
    assert_int_equal(mux_timer_start(&fx.ticker, 5, 5), 0);
    fx.port = test_server_port(fx.server);
}

static void start(const mux_service_t *service, mux_faults_t *faults) {
    start_idle(service, faults, 0);
}

static int connect_client(void) { return test_connect(fx.port); }

static void stop(int client) {
    if (client >= 0)
        close(client);
    mux_server_free(fx.server);
    mux_timer_stop(&fx.ticker);
    mux_timer_stop(&fx.late);
    mux_loop_free(fx.loop);
}

/* What the client saw: the bytes, how many recv() calls returned some,
 * the largest, and how the stream ended (0 EOF, an errno, -1 deadline). */
typedef struct {
    char data[64];
    size_t len, reads, largest;
    int end;
} seen_t;

/* Runs the loop, reading after every turn, until EOF or an error. */
static seen_t run_until_end(int client) {
    seen_t seen = {.end = -1};
    uint64_t deadline = test_now_ms() + DEADLINE_MS;
    while (test_now_ms() < deadline && seen.end == -1) {
        assert_true(mux_run(fx.loop, MUX_RUN_ONCE) >= 0);
        ssize_t n = recv(client, seen.data + seen.len,
                         sizeof(seen.data) - seen.len, MSG_DONTWAIT);
        if (n > 0) {
            seen.len += (size_t)n;
            seen.reads++;
            seen.largest = (size_t)n > seen.largest ? (size_t)n : seen.largest;
        } else if (n == 0) {
            seen.end = 0;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
            seen.end = errno;
        }
    }
    return seen;
}

/* Runs the loop until *count reaches `want` or the deadline passes. */
static void run_until_count(const int *count, int want) {
    uint64_t deadline = test_now_ms() + DEADLINE_MS;
    while (*count < want && test_now_ms() < deadline)
        assert_true(mux_run(fx.loop, MUX_RUN_ONCE) >= 0);
}

static void run_for(uint64_t ms) {
    uint64_t until = test_now_ms() + ms;
    while (test_now_ms() < until)
        assert_true(mux_run(fx.loop, MUX_RUN_ONCE) >= 0);
}

/* ---- split: pieces of at most 3 bytes, one per turn, 20 ms apart ---- */

static void test_split_pieces_in_order_then_close(void **state) {
    (void)state;
    start(&text_close_service, FAULTS(.out = {.split = 3, .split_us = 20000}));
    int client = connect_client();
    uint64_t t0 = test_now_ms();
    seen_t seen = run_until_end(client);
    uint64_t elapsed = test_now_ms() - t0;
    assert_int_equal(fx.pending_after, 20); /* held, yet pending */
    assert_int_equal(seen.end, 0);          /* EOF after the last piece */
    assert_int_equal(seen.len, 20);
    assert_memory_equal(seen.data, TEXT, 20);
    /* Each piece is read on its own, since the client reads after every
     * turn: 7 pieces (3 x 6 + 2), or 8 when the two sends fell in
     * different milliseconds (pieces never span two queue entries). */
    assert_int_equal(seen.largest, 3);
    assert_true(seen.reads == 7 || seen.reads == 8);
    assert_true(elapsed >= 6 * 20); /* at least six pauses */
    stop(client);
}

/* The pieces of one mux_conn_sendv() are one reply: split cuts the reply
 * (7 pieces, whatever the clock), not at the pieces' boundary. */
static void test_split_cuts_a_sendv_reply_not_its_pieces(void **state) {
    (void)state;
    start(&gather_close_service,
          FAULTS(.out = {.split = 3, .split_us = 20000}));
    int client = connect_client();
    seen_t seen = run_until_end(client);
    assert_int_equal(fx.pending_after, 20);
    assert_int_equal(seen.end, 0);
    assert_int_equal(seen.len, 20);
    assert_memory_equal(seen.data, TEXT, 20);
    assert_int_equal(seen.largest, 3);
    assert_int_equal(seen.reads, 7);
    stop(client);
}

/* ---- drop_after: exactly 7 bytes, then EOF; later sends fail ---- */

static void late_send(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    (void)loop, (void)timer, (void)arg;
    fx.late_send_err = fx.conn ? mux_conn_send(fx.conn, "x", 1) : -ENOTCONN;
}

static void test_drop_after_exactly_n_then_eof(void **state) {
    (void)state;
    start(&text_service, FAULTS(.out = {.drop_after = 7}));
    int client = connect_client();
    seen_t seen = run_until_end(client);
    assert_int_equal(seen.end, 0);
    assert_int_equal(seen.len, 7);
    assert_memory_equal(seen.data, TEXT, 7);
    assert_string_equal(fx.error_reason, "fault drop-after: closing");
    assert_non_null(fx.conn); /* lingering: waits for the client's EOF */
    mux_timer_init(&fx.late, fx.loop, late_send, NULL);
    assert_int_equal(mux_timer_start(&fx.late, 0, 0), 0);
    run_for(10);
    assert_int_equal(fx.late_send_err, -EPIPE);
    assert_int_equal(shutdown(client, SHUT_WR), 0);
    run_until_count(&fx.closes, 1);
    assert_int_equal(fx.closes, 1);
    assert_string_equal(fx.close_reason, "closed");
    stop(client);
}

/* MUX_DROP_ALL: not one byte, the first ones end the stream; in series
 * with a limit of 7 it still passes none. */
static void test_drop_all_passes_none(void **state) {
    (void)state;
    start(&text_service, FAULTS(.out = {.drop_after = MUX_DROP_ALL}));
    int client = connect_client();
    seen_t seen = run_until_end(client);
    assert_int_equal(seen.end, 0);
    assert_int_equal(seen.len, 0);
    assert_string_equal(fx.error_reason, "fault drop-after: closing");
    stop(client);
    mux_faults_t *f = mux_faults_new();
    assert_non_null(f);
    mux_stage_t seven = {.name = "a", .shape = {.drop_after = 7}};
    mux_stage_t all = {.name = "b", .shape = {.drop_after = MUX_DROP_ALL}};
    assert_int_equal(mux_faults_push(f, MUX_OUT, &seven), 0);
    assert_int_equal(mux_faults_push(f, MUX_OUT, &all), 0);
    assert_true(mux_faults_shape(f, MUX_OUT)->drop_after == MUX_DROP_ALL);
    mux_faults_free(f);
}

/* A program that closes the stream from drop-after's MUX_EV_ERROR: the
 * release that reported it stops there (it went on to the closed stream:
 * an assert in debug builds, a closed fd number watched in others). */
static void test_drop_after_closed_by_its_event(void **state) {
    (void)state;
    start(&text_service, FAULTS(.out = {.drop_after = 7}));
    fx.close_on_error = true;
    int client = connect_client();
    seen_t seen = run_until_end(client);
    assert_int_equal(seen.len, 7);
    assert_string_equal(fx.error_reason, "fault drop-after: closing");
    run_until_count(&fx.closes, 1);
    assert_string_equal(fx.close_reason, "closed by server");
    stop(client);
}

/* ---- both: pieces of 3 up to a total of 7 (3 + 3 + 1) ---- */

static void test_split_and_drop_after_combine(void **state) {
    (void)state;
    start(&text_close_service,
          FAULTS(.out = {.split = 3, .split_us = 5000, .drop_after = 7}));
    int client = connect_client();
    seen_t seen = run_until_end(client);
    assert_int_equal(seen.end, 0);
    assert_int_equal(seen.len, 7);
    assert_memory_equal(seen.data, TEXT, 7);
    assert_int_equal(seen.reads, 3);
    assert_int_equal(seen.largest, 3);
    stop(client);
}

/* ---- stall: the greeting goes out, input is never served ---- */

static void test_stall_never_reads(void **state) {
    (void)state;
    start(&record_service, FAULTS(.in = {.stall = 1}));
    int client = connect_client();
    assert_int_equal(send(client, "hello\n", 6, 0), 6);
    run_for(50);
    char buf[8];
    assert_int_equal(recv(client, buf, sizeof(buf), MSG_DONTWAIT), 2);
    assert_memory_equal(buf, "hi", 2);
    assert_int_equal(fx.messages, 0);
    /* A graceful shutdown does not serve the stalled input either. */
    mux_server_shutdown(fx.server, 0);
    assert_int_equal(shutdown(client, SHUT_WR), 0);
    run_until_count(&fx.closes, 1);
    assert_int_equal(fx.closes, 1);
    assert_int_equal(fx.messages, 0);
    stop(client);
}

/* ---- an output stall holds a close, but not for a client that left ---- */

/* Nothing came yet: no byte, no EOF. */
static void assert_silence(int client) {
    char buf[8];
    assert_int_equal(recv(client, buf, sizeof(buf), MSG_DONTWAIT), -1);
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
}

static void
test_stall_drops_what_it_holds_once_the_client_closed(void **state) {
    (void)state;
    start(&text_service, FAULTS(.out = {.stall = 1}));
    int client = connect_client();
    run_for(30);
    assert_silence(client);
    assert_int_equal(shutdown(client, SHUT_WR), 0); /* EOF: a close */
    seen_t seen = run_until_end(client);
    assert_int_equal(seen.end, 0);
    assert_int_equal(seen.len, 0);
    run_until_count(&fx.closes, 1);
    assert_int_equal(fx.closes, 1);
    stop(client);
}

static void test_stall_holds_a_close_until_shutdown(void **state) {
    (void)state;
    start(&text_close_service, FAULTS(.out = {.stall = 1}));
    int client = connect_client();
    run_for(30);
    assert_silence(client); /* the close waits behind the held bytes */
    assert_int_equal(fx.closes, 0);
    assert_int_equal(mux_server_clients(fx.server), 1);
    mux_server_shutdown(fx.server, 0); /* no limit: it must not wait */
    seen_t seen = run_until_end(client);
    assert_int_equal(seen.end, 0);
    assert_int_equal(seen.len, 0);
    stop(client);
}

static void test_stalled_output_is_no_activity(void **state) {
    (void)state;
    start_idle(&text_service, FAULTS(.out = {.stall = 1}), 50);
    int client = connect_client();
    seen_t seen = run_until_end(client);
    assert_int_equal(seen.end, 0);
    assert_int_equal(seen.len, 0);
    assert_string_equal(fx.close_reason, "idle timeout");
    stop(client);
}

/* ---- timeout: silence, then EOF (a reset with rst) ---- */

static seen_t timed_out(int rst) {
    start(&record_service, FAULTS(.timeout_ms = 30, .rst = (uint64_t)rst));
    int client = connect_client();
    assert_int_equal(send(client, "unread", 6, 0), 6); /* never read */
    uint64_t t0 = test_now_ms();
    seen_t seen = run_until_end(client);
    assert_true(test_now_ms() - t0 >= 30);
    assert_int_equal(seen.len, 0); /* the greeting was held, then dropped */
    assert_string_equal(fx.error_reason, "fault timeout: closing");
    stop(client);
    return seen;
}

static void test_timeout_ends_in_eof(void **state) {
    (void)state;
    assert_int_equal(timed_out(0).end, 0);
}

static void test_timeout_with_rst_ends_in_a_reset(void **state) {
    (void)state;
    assert_int_equal(timed_out(1).end, ECONNRESET);
}

/* ---- slow_close: a half-close waits too ---- */

static void test_slow_close_holds_a_half_close(void **state) {
    (void)state;
    start(&text_shut_service, FAULTS(.slow_close_ms = 40));
    int client = connect_client();
    uint64_t t0 = test_now_ms();
    seen_t seen = run_until_end(client);
    assert_true(test_now_ms() - t0 >= 40);
    assert_int_equal(seen.end, 0);
    assert_int_equal(seen.len, 20);
    assert_memory_equal(seen.data, TEXT, 20);
    stop(client);
}

/* ---- rst: the client reads the reply, then a reset instead of EOF ---- */

/* Serves one client with `service` under rst: it reads (part of) TEXT,
 * then a reset. */
static void check_rst_ends(const mux_service_t *service) {
    start(service, FAULTS(.rst = 1));
    int client = connect_client();
    seen_t seen = run_until_end(client);
    assert_int_equal(seen.end, ECONNRESET);
    assert_true(seen.len <= 20);
    assert_memory_equal(seen.data, TEXT, seen.len);
    assert_string_equal(fx.close_reason, "reset (fault rst)");
    stop(client);
}

static void test_rst_resets(void **state) {
    (void)state;
    check_rst_ends(&text_close_service);
}

/* A half-close under rst is a reset too: rst never sends a FIN. */
static void test_rst_half_close_resets(void **state) {
    (void)state;
    check_rst_ends(&text_shut_service);
}

/* ---- accept_delay_ms: 30 ms late, one at a time ---- */

static void test_accept_delay_one_at_a_time(void **state) {
    (void)state;
    start(&record_service, FAULTS(.accept_delay_ms = 30));
    int first = connect_client(); /* connect() completes: the backlog */
    int second = connect_client();
    uint64_t t0 = test_now_ms();
    run_until_count(&fx.opens, 2);
    assert_int_equal(fx.opens, 2);
    assert_true(fx.opened_at[0] >= t0 + 30);
    assert_true(fx.opened_at[1] >= fx.opened_at[0] + 30);
    close(second);
    stop(first);
}

/* ---- split with no pause: each piece its own send, back to back ---- */

/* Sends `len` bytes of a counting pattern in one reply (bulk_open). */
static size_t bulk_len;
static void bulk_open(mux_conn_t *conn) {
    fx.conn = conn;
    char *data = malloc(bulk_len);
    assert_non_null(data);
    for (size_t i = 0; i < bulk_len; i++)
        data[i] = (char)(i % 251);
    assert_int_equal(mux_conn_send(conn, data, bulk_len), 0);
    free(data);
    mux_conn_close(conn, MUX_CLOSE_AFTER_FLUSH);
}
static const mux_service_t bulk_service = {
    .name = "bulk", .open = bulk_open, .close = service_close};

/* A stream on one end of a socketpair of `type`, with `faults`; the other
 * end is returned, non-blocking. */
static int start_pair(int type, const mux_service_t *service,
                      mux_conn_opts_t *opts) {
    memset(&fx, 0, sizeof(fx));
    assert_int_equal(mux_loop_new(&fx.loop), 0);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, type | SOCK_NONBLOCK, 0, sv), 0);
    mux_conn_t *conn;
    assert_int_equal(mux_conn_new(fx.loop, sv[0], service, opts, &conn), 0);
    mux_timer_init(&fx.ticker, fx.loop, test_tick, NULL);
    assert_int_equal(mux_timer_start(&fx.ticker, 5, 5), 0);
    return sv[1];
}

static void stop_pair(int peer) {
    close(peer);
    if (fx.conn) /* still open: lingering */
        mux_conn_close(fx.conn, MUX_CLOSE_NOW);
    assert_true(mux_run(fx.loop, MUX_RUN_NOWAIT) >= 0); /* the frees */
    mux_timer_stop(&fx.ticker);
    mux_loop_free(fx.loop);
}

/* split_us 0: once the first piece is out, every other piece is too, each
 * a send of its own: on a SOCK_SEQPACKET pair each send is one record. */
static void test_split_without_pause_sends_each_piece(void **state) {
    (void)state;
    static mux_conn_opts_t opts;
    opts.faults = FAULTS(.out = {.split = 3});
    int peer = start_pair(SOCK_SEQPACKET, &gather_close_service, &opts);
    char record[64];
    uint64_t deadline = test_now_ms() + DEADLINE_MS;
    while (recv(peer, record, sizeof(record), MSG_PEEK) < 0 &&
           test_now_ms() < deadline)
        assert_true(mux_run(fx.loop, MUX_RUN_ONCE) >= 0);
    /* No more loop turns: the pieces are all there already. */
    char data[64];
    size_t len = 0, records = 0;
    ssize_t n;
    while ((n = recv(peer, record, sizeof(record), 0)) > 0) {
        assert_true(n <= 3);
        memcpy(data + len, record, (size_t)n);
        len += (size_t)n;
        records++;
    }
    assert_int_equal(records, 7); /* 3 x 6 + 2 */
    assert_int_equal(len, 20);
    assert_memory_equal(data, TEXT, 20);
    stop_pair(peer);
}

/* split_us 0 when the socket is full: the next piece waits for the last
 * to be written, then all arrive, in order. */
static void test_split_without_pause_through_a_full_socket(void **state) {
    (void)state;
    static mux_conn_opts_t opts;
    opts.faults = FAULTS(.out = {.split = 1000});
    bulk_len = 256 << 10;
    int peer = start_pair(SOCK_STREAM, &bulk_service, &opts);
    size_t got = 0;
    bool wrong = false, eof = false;
    uint64_t deadline = test_now_ms() + DEADLINE_MS;
    while (!eof && test_now_ms() < deadline) {
        assert_true(mux_run(fx.loop, MUX_RUN_ONCE) >= 0);
        char buf[16384];
        ssize_t n = recv(peer, buf, sizeof(buf), 0); /* a little a turn */
        for (ssize_t i = 0; i < n; i++)
            wrong |= buf[i] != (char)((got + (size_t)i) % 251);
        got += n > 0 ? (size_t)n : 0;
        eof = n == 0;
    }
    assert_true(eof);
    assert_false(wrong);
    assert_int_equal(got, bulk_len);
    stop_pair(peer);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_pieces_in_order_then_close),
        cmocka_unit_test(test_split_cuts_a_sendv_reply_not_its_pieces),
        cmocka_unit_test(test_split_without_pause_sends_each_piece),
        cmocka_unit_test(test_split_without_pause_through_a_full_socket),
        cmocka_unit_test(test_drop_after_exactly_n_then_eof),
        cmocka_unit_test(test_drop_after_closed_by_its_event),
        cmocka_unit_test(test_drop_all_passes_none),
        cmocka_unit_test(test_split_and_drop_after_combine),
        cmocka_unit_test(test_stall_never_reads),
        cmocka_unit_test(test_stall_drops_what_it_holds_once_the_client_closed),
        cmocka_unit_test(test_stall_holds_a_close_until_shutdown),
        cmocka_unit_test(test_stalled_output_is_no_activity),
        cmocka_unit_test(test_timeout_ends_in_eof),
        cmocka_unit_test(test_timeout_with_rst_ends_in_a_reset),
        cmocka_unit_test(test_slow_close_holds_a_half_close),
        cmocka_unit_test(test_rst_resets),
        cmocka_unit_test(test_rst_half_close_resets),
        cmocka_unit_test(test_accept_delay_one_at_a_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
