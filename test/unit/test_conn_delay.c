/*
 * test_conn_delay.c -- opts.delay_ms: held-back output through one timer
 * per connection, order kept, a close after flush waits for it, a close
 * now discards it, the hard cap counts it, teardown frees it.
 *
 * Drives a real loop and server on 127.0.0.1:0 with a blocking client
 * socket; a 5 ms ticker bounds every turn, a 5 s deadline every test.
 */
#define _POSIX_C_SOURCE 200809L

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

#if defined(__SANITIZE_ADDRESS__)
#define TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_SANITIZED 1
#endif
#endif
#ifdef TEST_SANITIZED
/* The sanitizer runtime's (<sanitizer/allocator_interface.h>, which not
 * every compiler package installs). */
size_t __sanitizer_get_current_allocated_bytes(void);
#else
#define TEST_SANITIZED 0
#include <malloc.h>
#endif

#include "testutil.h"

#define DELAY_MS 100
#define DEADLINE_MS 5000

typedef struct {
    mux_loop_t *loop;
    mux_server_t *server;
    mux_timer_t ticker;
    mux_timer_t later;    /* the services' own timer */
    mux_conn_t *conn;     /* the one client, while open */
    uint64_t opened_at;   /* ms, when the service's open ran */
    int closes;           /* service close callbacks */
    int send_err;         /* what the last mux_conn_send returned */
    size_t pending_after; /* mux_conn_pending() right after the first send */
    char close_reason[64];
} fixture_t;

static fixture_t fx; /* the services reach it through here */

static void on_event(mux_server_t *server, const mux_event_t *ev, void *arg) {
    (void)server, (void)arg;
    if (ev->type == MUX_EV_CLOSE)
        snprintf(fx.close_reason, sizeof(fx.close_reason), "%s", ev->reason);
}

static void service_close(mux_conn_t *conn) {
    (void)conn;
    fx.closes++;
    fx.conn = NULL;
}

/* Starts a loop and a server for `service` that holds sends back for
 * `delay_ms`; returns a connected client. */
static int start_delayed(const mux_service_t *service, size_t max_output,
                         uint64_t delay_ms) {
    memset(&fx, 0, sizeof(fx));
    assert_int_equal(mux_loop_new(&fx.loop), 0);
    mux_server_opts_t opts = {
        .delay_ms = delay_ms, .max_output = max_output, .on_event = on_event};
    assert_int_equal(mux_server_new(fx.loop, service, &opts, &fx.server), 0);
    assert_int_equal(mux_server_listen(fx.server, "127.0.0.1:0"), 0);
    mux_timer_init(&fx.ticker, fx.loop, test_tick, NULL);
    assert_int_equal(mux_timer_start(&fx.ticker, 5, 5), 0);
    return test_connect(test_server_port(fx.server));
}

static int start(const mux_service_t *service, size_t max_output) {
    return start_delayed(service, max_output, DELAY_MS);
}

static void stop(int client) {
    close(client);
    mux_server_free(fx.server);
    mux_timer_stop(&fx.ticker);
    mux_timer_stop(&fx.later);
    mux_loop_free(fx.loop);
}

/* Runs the loop, collecting what the client reads, until it reads EOF
 * (returns 1) or the deadline passes (returns 0). */
static int run_until_eof(int client, char *buf, size_t cap, size_t *got) {
    uint64_t deadline = test_now_ms() + DEADLINE_MS;
    *got = 0;
    while (test_now_ms() < deadline) {
        assert_true(mux_run(fx.loop, MUX_RUN_ONCE) >= 0);
        ssize_t n = recv(client, buf + *got, cap - *got, MSG_DONTWAIT);
        if (n == 0)
            return 1;
        if (n > 0)
            *got += (size_t)n;
        else
            assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    }
    return 0;
}

/* ---- order kept across several due times; the close waits ---- */

static void send_text(const char *text) {
    fx.send_err = mux_conn_send(fx.conn, text, strlen(text));
}

static void later_c(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    (void)loop, (void)timer, (void)arg;
    send_text("c");
    mux_conn_close(fx.conn, MUX_CLOSE_AFTER_FLUSH);
}

static void later_b(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    (void)timer, (void)arg;
    struct iovec pieces[] = {{"b", 1}, {"", 0}, {"B", 1}}; /* held back too */
    fx.send_err = mux_conn_sendv(fx.conn, pieces, 3);
    mux_timer_init(&fx.later, loop, later_c, NULL);
    assert_int_equal(mux_timer_start(&fx.later, 20, 0), 0);
}

static void three_sends_open(mux_conn_t *conn) {
    fx.conn = conn;
    fx.opened_at = test_now_ms();
    send_text("a");
    fx.pending_after = mux_conn_pending(conn);
    mux_timer_init(&fx.later, mux_conn_loop(conn), later_b, NULL);
    assert_int_equal(mux_timer_start(&fx.later, 20, 0), 0);
}

static void test_order_kept_and_close_waits(void **state) {
    (void)state;
    static const mux_service_t service = {
        .name = "three", .open = three_sends_open, .close = service_close};
    int client = start(&service, 0);
    char buf[16];
    size_t got;
    assert_int_equal(run_until_eof(client, buf, sizeof(buf), &got), 1);
    uint64_t elapsed = test_now_ms() - fx.opened_at;
    assert_int_equal(fx.pending_after, 1); /* held back, yet pending */
    assert_int_equal(fx.send_err, 0);
    assert_int_equal(got, 4);
    assert_memory_equal(buf, "abBc", 4);
    assert_true(elapsed >= DELAY_MS); /* not a moment before it was due */
    /* The server lingers until the client closes its side too. */
    assert_int_equal(fx.closes, 0);
    assert_int_equal(shutdown(client, SHUT_WR), 0);
    uint64_t deadline = test_now_ms() + DEADLINE_MS;
    while (fx.closes == 0 && test_now_ms() < deadline)
        assert_true(mux_run(fx.loop, MUX_RUN_ONCE) >= 0);
    assert_int_equal(fx.closes, 1);
    assert_string_equal(fx.close_reason, "closed");
    stop(client);
}

/* ---- a close now discards held-back output ---- */

static void close_now(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    (void)loop, (void)timer, (void)arg;
    mux_conn_close(fx.conn, MUX_CLOSE_NOW);
}

static void send_then_close_now_open(mux_conn_t *conn) {
    fx.conn = conn;
    send_text("discarded");
    mux_timer_init(&fx.later, mux_conn_loop(conn), close_now, NULL);
    assert_int_equal(mux_timer_start(&fx.later, 10, 0), 0);
}

static void test_close_now_discards(void **state) {
    (void)state;
    static const mux_service_t service = {.name = "now",
                                          .open = send_then_close_now_open,
                                          .close = service_close};
    int client = start(&service, 0);
    char buf[16];
    size_t got;
    assert_int_equal(run_until_eof(client, buf, sizeof(buf), &got), 1);
    assert_int_equal(got, 0);
    assert_int_equal(fx.closes, 1);
    stop(client);
}

/* ---- held-back output counts toward the hard cap (16 x watermark) ---- */

static void overflow_open(mux_conn_t *conn) {
    static char big[16 * 16 + 1];
    fx.conn = conn;
    fx.send_err = mux_conn_send(conn, big, sizeof(big));
}

static void test_overflow_counts_held_back_output(void **state) {
    (void)state;
    static const mux_service_t service = {
        .name = "flood", .open = overflow_open, .close = service_close};
    int client = start(&service, 16);
    char buf[16];
    size_t got;
    assert_int_equal(run_until_eof(client, buf, sizeof(buf), &got), 1);
    assert_int_equal(fx.send_err, -ENOBUFS);
    assert_string_equal(fx.close_reason, "output overflow");
    assert_int_equal(got, 0);
    stop(client);
}

/* ---- echo: each reply later, the reading side keeps working ---- */

static void echo_open(mux_conn_t *conn) { fx.conn = conn; }
static void echo_message(mux_conn_t *conn, const char *data, size_t len) {
    fx.send_err = mux_conn_send(conn, data, len);
}

static void test_echo_replies_in_order(void **state) {
    (void)state;
    static const mux_service_t service = {.name = "echo",
                                          .open = echo_open,
                                          .message = echo_message,
                                          .close = service_close};
    int client = start(&service, 0);
    char buf[16];
    size_t got = 0;
    uint64_t deadline = test_now_ms() + DEADLINE_MS;
    /* One byte every 2 ms or more: replies with separate due times, so
     * the timer is re-armed for each new head of the queue. */
    for (const char *p = "12345"; *p; p++) {
        assert_int_equal(send(client, p, 1, 0), 1);
        uint64_t sent = test_now_ms();
        while (test_now_ms() < sent + 2)
            assert_true(mux_run(fx.loop, MUX_RUN_ONCE) >= 0);
    }
    while (got < 5 && test_now_ms() < deadline) {
        assert_true(mux_run(fx.loop, MUX_RUN_ONCE) >= 0);
        ssize_t n = recv(client, buf + got, sizeof(buf) - got, MSG_DONTWAIT);
        if (n > 0)
            got += (size_t)n;
    }
    assert_int_equal(got, 5);
    assert_memory_equal(buf, "12345", 5);
    stop(client);
}

/* ---- teardown with output still held back frees it (ASan: no leak) ---- */

static void held_open(mux_conn_t *conn) {
    fx.conn = conn;
    send_text("never sent");
}

static void test_teardown_frees_held_output(void **state) {
    (void)state;
    static const mux_service_t service = {
        .name = "held", .open = held_open, .close = service_close};
    int client = start(&service, 0);
    uint64_t deadline = test_now_ms() + DEADLINE_MS;
    while (!fx.conn && test_now_ms() < deadline)
        assert_true(mux_run(fx.loop, MUX_RUN_ONCE) >= 0);
    assert_non_null(fx.conn);
    assert_int_equal(mux_conn_pending(fx.conn), strlen("never sent"));
    stop(client);
    assert_int_equal(fx.closes, 1);
}

/* ---- held-back output costs about what it carries ---- */

#define TINY_SENDS 300
#define LONG_DELAY_MS 3000

/* Heap bytes in use: the allocator's count (the sanitizer's, under ASan,
 * whose allocator replaces glibc's). */
static size_t heap_in_use(void) {
#if TEST_SANITIZED
    return __sanitizer_get_current_allocated_bytes();
#else
    return mallinfo2().uordblks;
#endif
}

/* Runs the loop until the client is served (fx.conn set). */
static void wait_for_conn(void) {
    uint64_t deadline = test_now_ms() + DEADLINE_MS;
    while (!fx.conn && test_now_ms() < deadline)
        assert_true(mux_run(fx.loop, MUX_RUN_ONCE) >= 0);
    assert_non_null(fx.conn);
}

/* Sends one byte, then waits for the clock to move on: the next send
 * falls due a millisecond later. */
static int send_one_byte_apart(void) {
    uint64_t sent_at = test_now_ms();
    int err = mux_conn_send(fx.conn, "x", 1);
    while (test_now_ms() == sent_at)
        nanosleep(&(struct timespec){.tv_nsec = 100000}, NULL);
    return err;
}

static void test_tiny_sends_cost_about_their_bytes(void **state) {
    (void)state;
    static const mux_service_t service = {
        .name = "tiny", .open = echo_open, .close = service_close};
    int client = start_delayed(&service, 0, LONG_DELAY_MS);
    wait_for_conn();
    size_t before = heap_in_use();
    for (int i = 0; i < TINY_SENDS; i++)
        assert_int_equal(send_one_byte_apart(), 0);
    size_t after = heap_in_use();
    size_t cost = after > before ? after - before : 0;
    assert_int_equal(mux_conn_pending(fx.conn), TINY_SENDS);
    print_message("%d one-byte sends held back: %zu bytes of heap\n",
                  TINY_SENDS, cost);
    /* Each send used to take an entry and a 256-byte buffer: ~90 KiB. */
    if (cost > 2 * TINY_SENDS + 4096)
        fail_msg("%d one-byte sends held back cost %zu bytes of heap",
                 TINY_SENDS, cost);
    stop(client);
}

/* The watermarks count what the queue costs, its records included: 20
 * one-byte sends a millisecond apart pass the cap of 16 x 16 bytes. */
static void test_cap_counts_what_held_output_costs(void **state) {
    (void)state;
    static const mux_service_t service = {
        .name = "tiny", .open = echo_open, .close = service_close};
    int client = start(&service, 16);
    wait_for_conn();
    int err = 0;
    for (int i = 0; i < 20 && err == 0; i++)
        err = send_one_byte_apart();
    assert_int_equal(err, -ENOBUFS);
    char buf[16];
    size_t got;
    assert_int_equal(run_until_eof(client, buf, sizeof(buf), &got), 1);
    assert_string_equal(fx.close_reason, "output overflow");
    stop(client);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_kept_and_close_waits),
        cmocka_unit_test(test_close_now_discards),
        cmocka_unit_test(test_overflow_counts_held_back_output),
        cmocka_unit_test(test_echo_replies_in_order),
        cmocka_unit_test(test_teardown_frees_held_output),
        cmocka_unit_test(test_tiny_sends_cost_about_their_bytes),
        cmocka_unit_test(test_cap_counts_what_held_output_costs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
