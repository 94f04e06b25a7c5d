/*
 * test_conn_delay.c -- opts.delay_ms: held-back output through one timer
 * per connection, order kept, a close after flush waits for it, a close
 * now discards it, the hard cap counts it, teardown frees it.
 *
 * Drives a real loop and server on 127.0.0.1:0 with a blocking client
 * socket; a 5 ms ticker bounds every turn, a 5 s deadline every test.
 * The faults' timing (bandwidth, latency) runs on the fake clock
 * (fakeclock.h), a stream over a socketpair: exact, however loaded the
 * machine.
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

#include "fakeclock.h"
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

/* ---- the faults' timing, on the fake clock ---- */

#define FAKE_START 1000000000000u /* ns: 1000 s, on a whole second */

static void plain_open(mux_conn_t *conn) { (void)conn; }

static const mux_service_t plain = {.name = "plain", .open = plain_open};

typedef struct {
    mux_loop_t *loop;
    mux_conn_t *conn;
    int peer; /* the other end, non-blocking */
    mux_conn_opts_t opts;
    size_t got; /* what the peer read */
} fake_stream_t;

/* A stream over a socketpair with `faults`, the fake clock at `start`. */
static void fake_stream_open(fake_stream_t *fs, const mux_faults_t *faults,
                             uint64_t start) {
    memset(fs, 0, sizeof(*fs));
    fake_clock_start(start);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(mux_loop_new(&fs->loop), 0);
    fs->opts.faults = faults;
    assert_int_equal(
        mux_conn_new(fs->loop, sv[0], &plain, &fs->opts, &fs->conn), 0);
    fs->peer = sv[1];
    struct timeval tv = {0, 0}; /* reads never wait */
    assert_int_equal(
        setsockopt(fs->peer, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
}

/* The fake clock to `at`, one turn that does not wait, then what the
 * peer can read. */
static size_t fake_stream_at(fake_stream_t *fs, uint64_t at) {
    fake_clock_ns = at;
    assert_true(mux_run(fs->loop, MUX_RUN_NOWAIT) >= 0);
    char buf[65536];
    ssize_t n;
    while ((n = recv(fs->peer, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
        fs->got += (size_t)n;
    assert_true(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
    return fs->got;
}

static void fake_stream_close(fake_stream_t *fs) {
    mux_conn_close(fs->conn, MUX_CLOSE_NOW);
    mux_run(fs->loop, MUX_RUN_NOWAIT);
    mux_loop_free(fs->loop);
    close(fs->peer);
    fake_clock_stop();
}

/* bandwidth: a timer that wakes late loses no bytes. 100,000 bytes a
 * second, the loop woken every 25 ms (the timer asks for 10): after a
 * second, a full bucket (10 ms) plus a second at the rate went, not
 * 10 ms of every 25. */
static void test_bandwidth_late_wakeups_lose_nothing(void **state) {
    (void)state;
    enum { RATE = 100000, TOTAL = 200000 };
    mux_faults_t *faults = FAULTS(.out = {.bandwidth = RATE});
    fake_stream_t fs;
    fake_stream_open(&fs, faults, FAKE_START);
    static char data[TOTAL];
    memset(data, 'b', sizeof(data));
    assert_int_equal(mux_conn_send(fs.conn, data, sizeof(data)), 0);
    size_t got = 0;
    for (int i = 1; i <= 40; i++)
        got = fake_stream_at(&fs, FAKE_START + (uint64_t)i * 25000000u);
    print_message("bandwidth %d, woken every 25 ms for 1 s: %zu bytes\n", RATE,
                  got);
    assert_true(got >= RATE + RATE / 100 - 1); /* bucket + a second */
    assert_true(got <= RATE + RATE / 100);
    fake_stream_close(&fs);
}

/* bandwidth: woken on time, the rate is exact too (the bucket is not
 * topped up in whole milliseconds), over a second in 1 ms turns at a
 * rate that is no whole number of bytes a millisecond. */
static void test_bandwidth_exact_on_time(void **state) {
    (void)state;
    enum { RATE = 1500, TOTAL = 4000 };
    mux_faults_t *faults = FAULTS(.out = {.bandwidth = RATE});
    fake_stream_t fs;
    fake_stream_open(&fs, faults, FAKE_START + 300000u);
    static char data[TOTAL];
    memset(data, 'b', sizeof(data));
    assert_int_equal(mux_conn_send(fs.conn, data, sizeof(data)), 0);
    size_t got = 0;
    for (int i = 1; i <= 2000; i++)
        got =
            fake_stream_at(&fs, FAKE_START + 300000u + (uint64_t)i * 1000000u);
    print_message("bandwidth %d, 1 ms turns for 2 s: %zu bytes\n", RATE, got);
    /* A bucket of 10 ms (15 bytes), then 2 s at the rate, less what the
     * bucket gathered since the last release (a bucket at most). */
    assert_true(got >= 2 * RATE && got <= 2 * RATE + 15);
    fake_stream_close(&fs);
}

/* bandwidth: only a late timer's lost time is made up, never a pause the
 * shaper did not make. 1,000 bytes a second, stalled for 2 s with bytes
 * waiting, then the stall lifted: a full bucket (10 ms: 10 bytes) goes at
 * once, then the rate; not the 2 s (or 1 s) of rate the pause spanned. */
static void test_bandwidth_no_burst_after_a_stall(void **state) {
    (void)state;
    enum { RATE = 1000, TOTAL = 4000 };
    mux_faults_t *faults = FAULTS(.out = {.bandwidth = RATE, .stall = true});
    fake_stream_t fs;
    fake_stream_open(&fs, faults, FAKE_START);
    static char data[TOTAL];
    memset(data, 'b', sizeof(data));
    assert_int_equal(mux_conn_send(fs.conn, data, sizeof(data)), 0);
    assert_int_equal(fake_stream_at(&fs, FAKE_START + 2000000000u), 0);
    mux_faults_t *lifted = FAULTS(.out = {.bandwidth = RATE});
    mux_conn_set_faults(fs.conn, lifted);
    size_t got = fake_stream_at(&fs, FAKE_START + 2000000000u);
    print_message("bandwidth %d, a 2 s stall lifted: %zu bytes at once\n", RATE,
                  got);
    assert_true(got <= RATE / 100);
    got = fake_stream_at(&fs, FAKE_START + 2500000000u);
    assert_true(got >= RATE / 2 && got <= RATE / 2 + RATE / 100);
    fake_stream_close(&fs);
}

/* latency: a byte held 1 ms goes 1 ms after it was sent, within a
 * microsecond (held bytes share a due time per 1/1024 of the delay), not
 * rounded up to whole milliseconds; never earlier. */
static void test_latency_not_rounded_to_ms(void **state) {
    (void)state;
    mux_faults_t *faults = FAULTS(.out = {.latency_ms = 1});
    fake_stream_t fs;
    uint64_t sent = FAKE_START + 300000u; /* 0.3 ms into a millisecond */
    fake_stream_open(&fs, faults, sent);
    assert_int_equal(mux_conn_send(fs.conn, "x", 1), 0);
    assert_int_equal(fake_stream_at(&fs, sent + 999000u), 0);  /* 0.999 ms */
    assert_int_equal(fake_stream_at(&fs, sent + 1001000u), 1); /* 1.001 */
    fake_clock_ns = sent + 5000000u;
    assert_int_equal(mux_conn_send(fs.conn, "y", 1), 0);
    assert_int_equal(fake_stream_at(&fs, sent + 5999999u), 1);
    assert_int_equal(fake_stream_at(&fs, sent + 6001000u), 2);
    fake_stream_close(&fs);
}

/* ---- the chain: stages in series, changed on an open stream ---- */

/* Two latency stages on one direction add up: 2 ms then 3 ms is 5 ms. */
static void test_two_latency_stages_add_up(void **state) {
    (void)state;
    mux_faults_t *faults = mux_faults_new();
    assert_non_null(faults);
    mux_stage_t first = {.name = "a", .shape = {.latency_ms = 2}};
    mux_stage_t second = {.name = "b", .shape = {.latency_ms = 3}};
    assert_int_equal(mux_faults_push(faults, MUX_OUT, &first), 0);
    assert_int_equal(mux_faults_push(faults, MUX_OUT, &second), 0);
    assert_int_equal(mux_faults_stages(faults, MUX_OUT), 2);
    assert_string_equal(mux_faults_stage(faults, MUX_OUT, 1)->name, "b");
    assert_int_equal(mux_faults_shape(faults, MUX_OUT)->latency_ms, 5);
    fake_stream_t fs;
    fake_stream_open(&fs, faults, FAKE_START);
    assert_int_equal(mux_conn_send(fs.conn, "x", 1), 0);
    assert_int_equal(fake_stream_at(&fs, FAKE_START + 3000000u), 0);
    assert_int_equal(fake_stream_at(&fs, FAKE_START + 4999999u), 0);
    /* Within 1/1024 of the delay (held bytes share a due time per slot). */
    assert_int_equal(fake_stream_at(&fs, FAKE_START + 5005000u), 1);
    fake_stream_close(&fs);
    mux_faults_free(faults);
}

/* A stage's numbers changed while the stream is open: the set is
 * rebuilt with the new stage and handed in again; later sends follow
 * it, what was held keeps its due time. */
static void test_stage_changed_on_an_open_stream(void **state) {
    (void)state;
    mux_faults_t *faults = mux_faults_new();
    assert_non_null(faults);
    mux_stage_t slow = {.name = "lag", .shape = {.latency_ms = 10}};
    assert_int_equal(mux_faults_push(faults, MUX_OUT, &slow), 0);
    fake_stream_t fs;
    fake_stream_open(&fs, faults, FAKE_START);
    assert_int_equal(mux_conn_send(fs.conn, "a", 1), 0); /* due at 10 ms */
    fake_clock_ns = FAKE_START + 1000000u;
    slow.shape.latency_ms = 2;
    mux_faults_clear(faults);
    assert_int_equal(mux_faults_push(faults, MUX_OUT, &slow), 0);
    mux_conn_set_faults(fs.conn, faults);
    /* "b", sent at 1 ms, is due at 3 ms but waits behind "a": order. */
    assert_int_equal(mux_conn_send(fs.conn, "b", 1), 0);
    assert_int_equal(fake_stream_at(&fs, FAKE_START + 9999999u), 0);
    assert_int_equal(fake_stream_at(&fs, FAKE_START + 10010000u), 2);
    /* "c", sent at 20 ms, goes at 22 ms: the new number. */
    fake_clock_ns = FAKE_START + 20000000u;
    assert_int_equal(mux_conn_send(fs.conn, "c", 1), 0);
    assert_int_equal(fake_stream_at(&fs, FAKE_START + 21999999u), 2);
    assert_int_equal(fake_stream_at(&fs, FAKE_START + 22002000u), 3);
    fake_stream_close(&fs);
    mux_faults_free(faults);
}

/* A filter that adds param[0] to every byte, and counts bytes in its
 * state word. */
static void add_filter(const mux_stage_t *stage, uint64_t *st, char *data,
                       size_t len) {
    for (size_t i = 0; i < len; i++)
        data[i] = (char)(data[i] + (char)stage->param[0]);
    *st += len;
}

/* Filters change bytes in chain order, after a timing stage too; the
 * caller's buffer is never touched. */
static void test_filter_stages_change_bytes(void **state) {
    (void)state;
    mux_faults_t *faults = mux_faults_new();
    assert_non_null(faults);
    mux_stage_t one = {.name = "+1", .filter = add_filter, .param = {1}};
    mux_stage_t lag = {.name = "lag", .shape = {.latency_ms = 1}};
    mux_stage_t two = {.name = "+2", .filter = add_filter, .param = {2}};
    assert_int_equal(mux_faults_push(faults, MUX_OUT, &one), 0);
    assert_int_equal(mux_faults_push(faults, MUX_OUT, &lag), 0);
    assert_int_equal(mux_faults_push(faults, MUX_OUT, &two), 0);
    fake_stream_t fs;
    fake_stream_open(&fs, faults, FAKE_START);
    char text[] = "abc";
    assert_int_equal(mux_conn_send(fs.conn, text, 3), 0);
    assert_string_equal(text, "abc");
    fake_clock_ns = FAKE_START + 1001000u;
    assert_true(mux_run(fs.loop, MUX_RUN_NOWAIT) >= 0);
    char got[8] = "";
    assert_int_equal(recv(fs.peer, got, sizeof(got), MSG_DONTWAIT), 3);
    assert_string_equal(got, "def");
    fake_stream_close(&fs);
    mux_faults_free(faults);
}

/* ---- slicer and reset-peer, on the fake clock ---- */

/* The peer's bytes since the last look: one turn at `at`. */
static size_t fake_stream_piece(fake_stream_t *fs, uint64_t at) {
    size_t before = fs->got;
    return fake_stream_at(fs, at) - before;
}

/* slice, no variation: a chunk of 250 around 100 is toxiproxy's halves of
 * halves, 62 63 62 63, each its own write, exactly split_us apart (20 ms
 * here: none a nanosecond early). */
static void test_slice_halves_each_chunk(void **state) {
    (void)state;
    mux_faults_t *faults =
        FAULTS(.out = {.slice = 100, .split_us = 20000, .seed = 7});
    fake_stream_t fs;
    fake_stream_open(&fs, faults, FAKE_START);
    static char data[250];
    memset(data, 's', sizeof(data));
    assert_int_equal(mux_conn_send(fs.conn, data, sizeof(data)), 0);
    static const size_t want[] = {62, 63, 62, 63};
    for (uint64_t i = 0; i < 4; i++) {
        uint64_t due = FAKE_START + i * 20000000u;
        if (i)
            assert_int_equal(fake_stream_piece(&fs, due - 1), 0);
        assert_int_equal(fake_stream_piece(&fs, due), want[i]);
    }
    assert_int_equal(fake_stream_piece(&fs, FAKE_START + 200000000u), 0);
    /* A second chunk is cut on its own: 90 is one piece. */
    fake_clock_ns = FAKE_START + 300000000u;
    assert_int_equal(mux_conn_send(fs.conn, data, 90), 0);
    assert_int_equal(fake_stream_piece(&fs, FAKE_START + 300000000u), 90);
    fake_stream_close(&fs);
}

/* The slicer's pause is in microseconds: 1.5 ms, not 1 or 2. */
static void test_slice_pause_in_microseconds(void **state) {
    (void)state;
    mux_faults_t *faults = FAULTS(.out = {.slice = 10, .split_us = 1500});
    fake_stream_t fs;
    uint64_t sent = FAKE_START + 300000u;
    fake_stream_open(&fs, faults, sent);
    assert_int_equal(
        mux_conn_send(fs.conn, "abcdefghijklmnopqrstuvwxyz0123", 30), 0);
    assert_int_equal(fake_stream_piece(&fs, sent), 7);
    assert_int_equal(fake_stream_piece(&fs, sent + 1499999u), 0);
    assert_int_equal(fake_stream_piece(&fs, sent + 1500000u), 8);
    assert_int_equal(fake_stream_piece(&fs, sent + 2999999u), 0);
    assert_int_equal(fake_stream_piece(&fs, sent + 3000000u), 7);
    assert_int_equal(fake_stream_piece(&fs, sent + 4500000u), 8);
    fake_stream_close(&fs);
}

/* toxiproxy's slicer (toxics/slicer.go), as a model: chunk [start, end)
 * into pieces, draws from shape.c's generator (xorshift32 from the
 * folded seed), in the order of the recursion. */
static uint32_t model_rng;
static size_t model_draw(size_t bound) {
    uint32_t x = model_rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    model_rng = x;
    return x % (bound + 1);
}
static void model_chunk(size_t start, size_t end, size_t avg, size_t var,
                        size_t *out, size_t *n) {
    if (end - start <= avg + var) {
        out[(*n)++] = end - start;
        return;
    }
    size_t mid = start + (end - start) / 2;
    if (var)
        mid = mid + model_draw(2 * var - 1) - var;
    model_chunk(start, mid, avg, var, out, n);
    model_chunk(mid, end, avg, var, out, n);
}

/* The pieces of one 1000-byte send around 50 +-30 with `seed`, as the
 * peer reads them: 1 us apart, a turn each microsecond, so that every
 * read takes one piece. */
static size_t sliced(uint64_t seed, size_t *pieces, size_t max) {
    mux_faults_t *faults = FAULTS(.out = {.slice = 50,
                                          .slice_variation = 30,
                                          .split_us = 1,
                                          .seed = seed});
    fake_stream_t fs;
    fake_stream_open(&fs, faults, FAKE_START);
    static char data[1000];
    memset(data, 'v', sizeof(data));
    assert_int_equal(mux_conn_send(fs.conn, data, sizeof(data)), 0);
    size_t n = 0, total = 0;
    for (uint64_t t = 0; total < sizeof(data) && n < max; t += 1000u) {
        size_t got = fake_stream_piece(&fs, FAKE_START + t);
        if (got)
            total += pieces[n++] = got;
    }
    fake_stream_close(&fs);
    assert_int_equal(total, sizeof(data));
    return n;
}

/* With a variation the pieces are toxiproxy's recursion's, drawn from the
 * seed: the same seed cuts the same pieces, another seed others, none
 * above 80 bytes. */
static void test_slice_variation_is_toxiproxys_from_the_seed(void **state) {
    (void)state;
    size_t got[64], again[64], other[64], model[64], nmodel = 0;
    size_t n = sliced(UINT64_C(0x1234567800000001), got, 64);
    model_rng = 0x12345679u; /* the seed folded: its halves xor'ed */
    model_chunk(0, 1000, 50, 30, model, &nmodel);
    assert_int_equal(n, nmodel);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(got[i], model[i]);
        assert_true(got[i] >= 1 && got[i] <= 80);
    }
    assert_int_equal(sliced(UINT64_C(0x1234567800000001), again, 64), n);
    assert_memory_equal(got, again, n * sizeof(got[0]));
    size_t m = sliced(2, other, 64);
    assert_true(m != n || memcmp(got, other, n * sizeof(got[0])) != 0);
}

static char reset_reason[64];

static void note_close(mux_conn_t *conn, mux_event_t *ev, void *arg) {
    (void)conn, (void)arg;
    if (ev->type == MUX_EV_CLOSE)
        snprintf(reset_reason, sizeof(reset_reason), "%s", ev->reason);
}

/* A stream that closed (its struct gone at the end of its turn): the
 * rest of the fixture goes. */
static void fake_stream_gone(fake_stream_t *fs) {
    mux_loop_free(fs->loop);
    close(fs->peer);
    fake_clock_stop();
}

/* reset-peer, output: never reset while nothing is sent; the first send
 * is dropped, the next held; a close after flush waits for the reset,
 * which comes exactly 100 ms after the first send; the peer got
 * nothing, then the end. */
static void test_reset_peer_out(void **state) {
    (void)state;
    reset_reason[0] = '\0';
    fake_stream_t fs;
    fake_stream_open(&fs, FAULTS(.reset_out_ms = 100), FAKE_START);
    fs.opts.on_event = note_close;
    assert_int_equal(fake_stream_at(&fs, FAKE_START + 5000000000u), 0);
    assert_string_equal(reset_reason, "");
    uint64_t first = FAKE_START + 5000000000u;
    assert_int_equal(mux_conn_send(fs.conn, "hello", 5), 0);
    assert_int_equal(mux_conn_pending(fs.conn), 0); /* dropped */
    fake_clock_ns = first + 50000000u;
    assert_int_equal(mux_conn_send(fs.conn, "world", 5), 0);
    assert_int_equal(mux_conn_pending(fs.conn), 5); /* held */
    mux_conn_close(fs.conn, MUX_CLOSE_AFTER_FLUSH);
    assert_int_equal(fake_stream_at(&fs, first + 99999999u), 0);
    assert_string_equal(reset_reason, "");
    fake_clock_ns = first + 100000000u;
    assert_true(mux_run(fs.loop, MUX_RUN_NOWAIT) >= 0);
    assert_string_equal(reset_reason, "reset (fault reset-peer)");
    char buf[16];
    assert_int_equal(recv(fs.peer, buf, sizeof(buf), MSG_DONTWAIT), 0);
    fake_stream_gone(&fs);
}

static int input_messages;

static void count_input(mux_conn_t *conn, const char *data, size_t len) {
    (void)conn, (void)data, (void)len;
    input_messages++;
}

/* reset-peer, input, at once: the first bytes read never reach the
 * service, and the stream is reset in the same turn. */
static void test_reset_peer_in_at_once(void **state) {
    (void)state;
    static const mux_service_t counting = {
        .name = "counting", .framing = MUX_FRAMING_RAW, .message = count_input};
    reset_reason[0] = '\0';
    input_messages = 0;
    fake_stream_t fs;
    memset(&fs, 0, sizeof(fs));
    fake_clock_start(FAKE_START);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(mux_loop_new(&fs.loop), 0);
    fs.opts.faults = FAULTS(.reset_in_ms = MUX_AT_ONCE);
    fs.opts.on_event = note_close;
    assert_int_equal(
        mux_conn_new(fs.loop, sv[0], &counting, &fs.opts, &fs.conn), 0);
    fs.peer = sv[1];
    assert_int_equal(send(fs.peer, "abc", 3, 0), 3);
    assert_true(mux_run(fs.loop, MUX_RUN_NOWAIT) >= 0);
    assert_int_equal(input_messages, 0);
    assert_string_equal(reset_reason, "reset (fault reset-peer)");
    fake_stream_gone(&fs);
}

/* reset-peer lifted after its first bytes came: the reset comes anyway
 * (toxiproxy's cannot be interrupted either); one lifted before them
 * never resets. */
static void test_reset_peer_lifted(void **state) {
    (void)state;
    reset_reason[0] = '\0';
    fake_stream_t fs;
    fake_stream_open(&fs, FAULTS(.reset_out_ms = 10), FAKE_START);
    fs.opts.on_event = note_close;
    assert_int_equal(mux_conn_send(fs.conn, "x", 1), 0);
    mux_conn_set_faults(fs.conn, FAULTS(.out = {.latency_ms = 1}));
    assert_int_equal(mux_conn_send(fs.conn, "y", 1), 0);
    assert_int_equal(fake_stream_at(&fs, FAKE_START + 9999999u), 0);
    fake_clock_ns = FAKE_START + 10000000u;
    assert_true(mux_run(fs.loop, MUX_RUN_NOWAIT) >= 0);
    assert_string_equal(reset_reason, "reset (fault reset-peer)");
    fake_stream_gone(&fs);
    reset_reason[0] = '\0';
    fake_stream_open(&fs, FAULTS(.reset_out_ms = 10), FAKE_START);
    fs.opts.on_event = note_close;
    mux_conn_set_faults(fs.conn, FAULTS(.rst = 0));
    assert_int_equal(mux_conn_send(fs.conn, "z", 1), 0);
    assert_int_equal(fake_stream_at(&fs, FAKE_START + 1000000000u), 1);
    assert_string_equal(reset_reason, "");
    fake_stream_close(&fs);
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
        cmocka_unit_test_teardown(test_bandwidth_late_wakeups_lose_nothing,
                                  fake_clock_teardown),
        cmocka_unit_test_teardown(test_bandwidth_exact_on_time,
                                  fake_clock_teardown),
        cmocka_unit_test_teardown(test_bandwidth_no_burst_after_a_stall,
                                  fake_clock_teardown),
        cmocka_unit_test_teardown(test_latency_not_rounded_to_ms,
                                  fake_clock_teardown),
        cmocka_unit_test_teardown(test_two_latency_stages_add_up,
                                  fake_clock_teardown),
        cmocka_unit_test_teardown(test_stage_changed_on_an_open_stream,
                                  fake_clock_teardown),
        cmocka_unit_test_teardown(test_filter_stages_change_bytes,
                                  fake_clock_teardown),
        cmocka_unit_test_teardown(test_slice_halves_each_chunk,
                                  fake_clock_teardown),
        cmocka_unit_test_teardown(test_slice_pause_in_microseconds,
                                  fake_clock_teardown),
        cmocka_unit_test_teardown(
            test_slice_variation_is_toxiproxys_from_the_seed,
            fake_clock_teardown),
        cmocka_unit_test_teardown(test_reset_peer_out, fake_clock_teardown),
        cmocka_unit_test_teardown(test_reset_peer_in_at_once,
                                  fake_clock_teardown),
        cmocka_unit_test_teardown(test_reset_peer_lifted, fake_clock_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
