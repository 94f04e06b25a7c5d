/*
 * test_server.c -- server-wide features (src/lib/server.c): the counters of
 * mux_server_stats() for streams and datagrams, mux_server_close_listeners()
 * called from an accept event, mux_server_foreach_all() visiting closing
 * clients, and opts.reuseport letting two servers bind one address.
 *
 * Clients are plain sockets of the test; the loop runs turn by turn until
 * what a test waits for has happened, bounded by a watchdog timer.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"

#include "mux.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    test_loop_t t; /* the loop and its watchdog */
    mux_server_t *server;
    bool close_on_accept;  /* the event callback stops accepting */
    bool shutdown_on_last; /* ... or shuts down when the last leaves */
    int accepts, shutdowns, dones;
} fixture_t;

/* ------------------------------------------------------------------ */
/* An echo service, stream and datagram                                */
/* ------------------------------------------------------------------ */

static void echo_message(mux_conn_t *conn, const char *data, size_t len) {
    assert_int_equal(mux_conn_send(conn, data, len), 0);
}

static void echo_datagram(mux_dgram_t *dgram, const char *data, size_t len) {
    assert_int_equal(mux_dgram_reply(dgram, data, len), 0);
}

static const mux_service_t echo_service = {
    .name = "echo", .message = echo_message, .datagram = echo_datagram};

static void on_event(mux_server_t *server, const mux_event_t *ev, void *arg) {
    fixture_t *f = arg;
    f->shutdowns += ev->type == MUX_EV_SHUTDOWN;
    f->dones += ev->type == MUX_EV_DONE;
    if (ev->type == MUX_EV_CLOSE && f->shutdown_on_last && ev->clients == 0)
        mux_server_shutdown(server, 0);
    if (ev->type != MUX_EV_ACCEPT)
        return;
    f->accepts++;
    if (f->close_on_accept)
        mux_server_close_listeners(server);
}

/* ------------------------------------------------------------------ */
/* Fixture                                                             */
/* ------------------------------------------------------------------ */

static int setup(void **state) {
    fixture_t *f = calloc(1, sizeof(*f));
    if (!f || test_loop_open(&f->t) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture_t *f = *state;
    mux_server_free(f->server);
    test_loop_close(&f->t);
    free(f);
    return 0;
}

/* A server of the fixture's loop; returns the port of its first listener. */
static unsigned start(fixture_t *f, mux_server_t **server, const char *addr,
                      int reuseport, unsigned max_clients) {
    mux_server_opts_t opts = {.on_event = on_event,
                              .event_arg = f,
                              .reuseport = reuseport,
                              .max_clients = max_clients};
    assert_int_equal(mux_server_new(f->t.loop, &echo_service, &opts, server),
                     0);
    assert_int_equal(mux_server_listen(*server, addr), 0);
    return test_server_port(*server);
}

#define RUN_UNTIL(f, cond) TEST_RUN_UNTIL(&(f)->t, cond)

static struct sockaddr_in loopback(unsigned port) {
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    return sin;
}

/* A socket of `type` connected to 127.0.0.1:port (on loopback a stream
 * one completes its handshake before the server accepts). */
static int client(int type, unsigned port) {
    int fd = socket(AF_INET, type, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sin = loopback(port);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    return fd;
}

static mux_server_stats_t stats_of(const mux_server_t *server) {
    mux_server_stats_t st;
    memset(&st, 0xff, sizeof(st)); /* every member must be written */
    mux_server_stats(server, &st);
    return st;
}

/* Runs the loop until `fd` has `len` bytes to read, then reads them. */
static void expect_reply(fixture_t *f, int fd, const char *want, size_t len) {
    char buf[64];
    ssize_t n = -1;
    RUN_UNTIL(f, (n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_PEEK)) >=
                     (ssize_t)len);
    assert_int_equal(recv(fd, buf, len, 0), (ssize_t)len);
    assert_memory_equal(buf, want, len);
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */
/* ------------------------------------------------------------------ */

static void test_stats_count_streams(void **state) {
    fixture_t *f = *state;
    unsigned port = start(f, &f->server, "127.0.0.1:0", 0, 1);
    mux_server_stats_t st = stats_of(f->server);
    assert_true(st.clients == 0 && st.accepted == 0 && st.refused == 0);
    assert_true(st.bytes_in == 0 && st.bytes_out == 0);

    int a = client(SOCK_STREAM, port);
    assert_int_equal(send(a, "hello", 5, 0), 5);
    expect_reply(f, a, "hello", 5);
    int b = client(SOCK_STREAM, port); /* over max_clients: refused */
    RUN_UNTIL(f, stats_of(f->server).refused == 1);
    st = stats_of(f->server);
    assert_int_equal(st.clients, 1);
    assert_int_equal(st.accepted, 1);
    assert_int_equal(st.bytes_in, 5);
    assert_int_equal(st.bytes_out, 5);

    close(a);
    RUN_UNTIL(f, stats_of(f->server).clients == 0);
    st = stats_of(f->server);
    assert_int_equal(st.accepted, 1); /* totals outlive the clients */
    assert_int_equal(st.bytes_in, 5);
    assert_int_equal(st.bytes_out, 5);
    close(b);
}

static void test_stats_count_datagrams(void **state) {
    fixture_t *f = *state;
    unsigned port = start(f, &f->server, "udp://127.0.0.1:0", 0, 0);
    int c = client(SOCK_DGRAM, port);
    assert_int_equal(send(c, "ping", 4, 0), 4);
    expect_reply(f, c, "ping", 4);
    mux_server_stats_t st = stats_of(f->server);
    assert_int_equal(st.bytes_in, 4);
    assert_int_equal(st.bytes_out, 4);
    assert_int_equal(st.accepted, 0); /* a datagram is not a client */
    assert_int_equal(st.clients, 0);
    close(c);
}

static void close_at_once(mux_conn_t *conn) {
    mux_conn_close(conn, MUX_CLOSE_NOW);
}

/* max_per_source: a client that leaves, even from its own open callback,
 * gives its place back; one over the limit is refused, silently. */
static void test_per_source_places_come_back(void **state) {
    fixture_t *f = *state;
    static const mux_service_t closer = {.name = "closer",
                                         .open = close_at_once};
    mux_server_opts_t opts = {
        .on_event = on_event, .event_arg = f, .max_per_source = 1};
    assert_int_equal(mux_server_new(f->t.loop, &closer, &opts, &f->server), 0);
    assert_int_equal(mux_server_listen(f->server, "127.0.0.1:0"), 0);
    unsigned port = test_server_port(f->server);
    for (int i = 1; i <= 3; i++) {
        int c = client(SOCK_STREAM, port);
        RUN_UNTIL(f, f->accepts == i);
        close(c);
    }
    assert_int_equal(stats_of(f->server).refused, 0);
    mux_server_free(f->server);

    f->accepts = 0;
    opts.max_per_source = 2;
    assert_int_equal(
        mux_server_new(f->t.loop, &echo_service, &opts, &f->server), 0);
    assert_int_equal(mux_server_listen(f->server, "127.0.0.1:0"), 0);
    port = test_server_port(f->server);
    int a = client(SOCK_STREAM, port), b = client(SOCK_STREAM, port);
    int over = client(SOCK_STREAM, port);
    RUN_UNTIL(f, stats_of(f->server).refused == 1);
    assert_int_equal(stats_of(f->server).refused_per_source, 1);
    close(a);
    RUN_UNTIL(f, stats_of(f->server).clients == 1);
    int c = client(SOCK_STREAM, port);
    RUN_UNTIL(f, f->accepts == 3);
    assert_int_equal(stats_of(f->server).refused, 1);
    close(b), close(c), close(over);
}

/* Three clients wait in the backlog; the first accept closes the listener:
 * it is served on, the other two are never accepted. */
static void test_close_listeners_from_accept(void **state) {
    fixture_t *f = *state;
    f->close_on_accept = true;
    unsigned port = start(f, &f->server, "127.0.0.1:0", 0, 0);
    int c[3];
    for (int i = 0; i < 3; i++)
        c[i] = client(SOCK_STREAM, port);
    RUN_UNTIL(f, f->accepts == 1);
    for (int i = 0; i < 3; i++)
        assert_true(mux_run(f->t.loop, MUX_RUN_NOWAIT) >= 0);
    assert_int_equal(f->accepts, 1);
    assert_int_equal(stats_of(f->server).accepted, 1);
    assert_int_equal(mux_server_addresses(f->server, NULL, 0), 0);

    assert_int_equal(send(c[0], "still", 5, 0), 5);
    expect_reply(f, c[0], "still", 5);
    assert_int_equal(stats_of(f->server).clients, 1);

    int late = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = loopback(port);
    assert_int_equal(connect(late, (struct sockaddr *)&sin, sizeof(sin)), -1);
    assert_int_equal(errno, ECONNREFUSED);
    close(late);
    for (int i = 0; i < 3; i++)
        close(c[i]);
}

/* Closing one listener of two: its client is served on, a new connect to
 * it is refused, the other listener accepts as before; an address no
 * listener has is -ENOENT. */
static void test_close_one_listener(void **state) {
    fixture_t *f = *state;
    unsigned port = start(f, &f->server, "127.0.0.1:0", 0, 0);
    assert_int_equal(mux_server_listen(f->server, "127.0.0.1:0"), 0);
    const char *names[2];
    assert_int_equal(mux_server_addresses(f->server, names, 2), 2);
    unsigned other = (unsigned)atoi(strrchr(names[1], ':') + 1);
    int c = client(SOCK_STREAM, port);
    RUN_UNTIL(f, f->accepts == 1);
    char local[64];
    snprintf(local, sizeof(local), "127.0.0.1:%u", port);
    assert_int_equal(mux_server_close_listener(f->server, local), 0);
    assert_int_equal(mux_server_close_listener(f->server, local), -ENOENT);
    assert_int_equal(mux_server_close_listener(f->server, "/nowhere"), -ENOENT);
    assert_int_equal(mux_server_addresses(f->server, NULL, 0), 1);

    assert_int_equal(send(c, "still", 5, 0), 5);
    expect_reply(f, c, "still", 5);
    int late = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = loopback(port);
    assert_int_equal(connect(late, (struct sockaddr *)&sin, sizeof(sin)), -1);
    assert_int_equal(errno, ECONNREFUSED);
    close(late);
    int d = client(SOCK_STREAM, other);
    RUN_UNTIL(f, f->accepts == 2);
    close(c);
    close(d);
}

/* Paused, a server leaves new clients in the backlog (their connect has
 * completed) and serves the ones it has; resumed, it accepts them. */
static void test_pause_accepting(void **state) {
    fixture_t *f = *state;
    unsigned port = start(f, &f->server, "127.0.0.1:0", 0, 0);
    int first = client(SOCK_STREAM, port);
    RUN_UNTIL(f, f->accepts == 1);
    mux_server_pause_accepting(f->server, 1);
    mux_server_pause_accepting(f->server, 1); /* twice: still one pause */
    assert_true(mux_server_accepting_paused(f->server));
    int waiting = client(SOCK_STREAM, port);
    assert_int_equal(send(first, "on", 2, 0), 2);
    expect_reply(f, first, "on", 2); /* turns of the loop went by */
    for (int i = 0; i < 5; i++)
        assert_true(mux_run(f->t.loop, MUX_RUN_NOWAIT) >= 0);
    assert_int_equal(f->accepts, 1);
    assert_int_equal(stats_of(f->server).clients, 1);
    assert_int_equal(mux_server_addresses(f->server, NULL, 0), 1);

    mux_server_pause_accepting(f->server, 0);
    assert_false(mux_server_accepting_paused(f->server));
    RUN_UNTIL(f, f->accepts == 2);
    assert_int_equal(send(waiting, "late", 4, 0), 4);
    expect_reply(f, waiting, "late", 4);
    close(first);
    close(waiting);
}

/* Clients whose connects completed in the kernel's queue, not yet
 * accepted (accepting paused: as when the loop was busy), each with a
 * message sent: a shutdown accepts and answers them all before the
 * listener closes; a close with them queued would reset them. */
static void test_shutdown_serves_the_clients_in_the_backlog(void **state) {
    fixture_t *f = *state;
    unsigned port = start(f, &f->server, "127.0.0.1:0", 0, 0);
    mux_server_pause_accepting(f->server, 1);
    enum { WAITING = 20 };
    int fds[WAITING];
    for (int i = 0; i < WAITING; i++) {
        fds[i] = client(SOCK_STREAM, port);
        assert_int_equal(send(fds[i], "queued", 6, 0), 6);
    }
    assert_int_equal(f->accepts, 0);
    mux_server_shutdown(f->server, 5000);
    assert_int_equal(f->accepts, WAITING);
    assert_int_equal(mux_server_addresses(f->server, NULL, 0), 0);
    RUN_UNTIL(f, f->dones == 1);
    for (int i = 0; i < WAITING; i++) {
        char buf[16];
        assert_int_equal(recv(fds[i], buf, sizeof(buf), MSG_WAITALL), 6);
        assert_memory_equal(buf, "queued", 6);
        close(fds[i]);
    }
}

/* The clients a shutdown accepts from the backlog close at once (from
 * their open callback): MUX_EV_DONE still comes once, after the
 * shutdown's own MUX_EV_SHUTDOWN (found by fuzz_server). */
static void test_backlog_clients_that_close_at_once(void **state) {
    fixture_t *f = *state;
    static const mux_service_t closer = {.name = "closer",
                                         .open = close_at_once};
    mux_server_opts_t opts = {.on_event = on_event, .event_arg = f};
    assert_int_equal(mux_server_new(f->t.loop, &closer, &opts, &f->server), 0);
    assert_int_equal(mux_server_listen(f->server, "127.0.0.1:0"), 0);
    mux_server_pause_accepting(f->server, 1);
    int a = client(SOCK_STREAM, test_server_port(f->server));
    int b = client(SOCK_STREAM, test_server_port(f->server));
    mux_server_shutdown(f->server, 0);
    assert_int_equal(f->accepts, 2);
    assert_int_equal(f->shutdowns, 1);
    assert_int_equal(f->dones, 1);
    for (int i = 0; i < 5; i++)
        assert_true(mux_run(f->t.loop, MUX_RUN_NOWAIT) >= 0);
    assert_int_equal(f->dones, 1);
    close(a);
    close(b);
}

static void count_bytes(mux_conn_t *conn, void *arg) {
    mux_conn_stats_t *sum = arg;
    mux_conn_stats_t st;
    mux_conn_stats(conn, &st);
    sum->bytes_in += st.bytes_in;
    sum->bytes_out += st.bytes_out;
    sum->age_ms = st.age_ms;
}

/* A client's own counters: what it sent and was sent. */
static void test_conn_stats(void **state) {
    fixture_t *f = *state;
    unsigned port = start(f, &f->server, "127.0.0.1:0", 0, 0);
    int c = client(SOCK_STREAM, port);
    assert_int_equal(send(c, "hello", 5, 0), 5);
    expect_reply(f, c, "hello", 5);
    mux_conn_stats_t sum = {0, 0, UINT64_MAX};
    mux_server_foreach(f->server, count_bytes, &sum);
    assert_int_equal(sum.bytes_in, 5);
    assert_int_equal(sum.bytes_out, 5);
    assert_true(sum.age_ms < 60000);
    close(c);
}

static void close_after_flush(mux_conn_t *conn, void *arg) {
    (void)arg;
    mux_conn_close(conn, MUX_CLOSE_AFTER_FLUSH);
}

/* Counts the clients visited ([0]) and the closing ones among them. */
static void count_closing(mux_conn_t *conn, void *arg) {
    int *counts = arg;
    counts[0]++;
    counts[1] += mux_conn_closing(conn) != 0;
}

/* A client whose close waits for its peer is still counted: foreach_all
 * visits it (foreach does not), as mux_server_stats() counts it. */
static void test_foreach_all_visits_closing_clients(void **state) {
    fixture_t *f = *state;
    unsigned port = start(f, &f->server, "127.0.0.1:0", 0, 0);
    int c = client(SOCK_STREAM, port);
    assert_int_equal(send(c, "hi", 2, 0), 2);
    expect_reply(f, c, "hi", 2);
    mux_server_foreach(f->server, close_after_flush, NULL); /* lingers */
    int open[2] = {0, 0}, all[2] = {0, 0};
    mux_server_foreach(f->server, count_closing, open);
    mux_server_foreach_all(f->server, count_closing, all);
    assert_int_equal(open[0], 0);
    assert_int_equal(all[0], 1);
    assert_int_equal(all[1], 1);
    assert_int_equal(stats_of(f->server).clients, 1);
    close(c);
    RUN_UNTIL(f, stats_of(f->server).clients == 0);
    all[0] = 0;
    mux_server_foreach_all(f->server, count_closing, all);
    assert_int_equal(all[0], 0);
}

/* What muxd --max-accepts does: listeners closed at an accept, shutdown
 * from the CLOSE event of the last client. DONE comes exactly once. */
static void test_shutdown_from_the_last_close(void **state) {
    fixture_t *f = *state;
    f->close_on_accept = f->shutdown_on_last = true;
    unsigned port = start(f, &f->server, "127.0.0.1:0", 0, 0);
    int c = client(SOCK_STREAM, port);
    assert_int_equal(send(c, "bye", 3, 0), 3);
    expect_reply(f, c, "bye", 3);
    close(c);
    RUN_UNTIL(f, f->dones > 0);
    for (int i = 0; i < 3; i++)
        assert_true(mux_run(f->t.loop, MUX_RUN_NOWAIT) >= 0);
    assert_int_equal(f->shutdowns, 1);
    assert_int_equal(f->dones, 1);
}

/* mux_server_stop_on_signals(): SIGTERM with a message in flight, the
 * reply still arrives, and mux_run() returns 0 once the client is gone. */
static void test_stop_on_signals(void **state) {
    fixture_t *f = *state;
    unsigned port = start(f, &f->server, "127.0.0.1:0", 0, 0);
    assert_int_equal(mux_server_stop_on_signals(f->server, 5000), 0);
    int c = client(SOCK_STREAM, port);
    RUN_UNTIL(f, f->accepts == 1);
    assert_int_equal(send(c, "last", 4, 0), 4);
    assert_int_equal(raise(SIGTERM), 0);
    assert_int_equal(mux_run(f->t.loop, MUX_RUN_DEFAULT), 0);
    assert_int_equal(f->shutdowns, 1);
    assert_int_equal(f->dones, 1);
    char buf[8];
    assert_int_equal(recv(c, buf, sizeof(buf), MSG_WAITALL), 4);
    assert_memory_equal(buf, "last", 4);
    close(c);
    /* Freed, the server gives the signals back: SIGTERM is ours again. */
    mux_server_free(f->server);
    f->server = NULL;
    assert_int_equal(mux_signal(f->t.loop, SIGTERM, NULL, NULL), 0);
}

/* A second signal closes the clients at once and stops the loop. */
static void test_second_signal_stops_at_once(void **state) {
    fixture_t *f = *state;
    /* Replies held for a minute: the graceful shutdown (no deadline) waits
     * for them. */
    mux_server_opts_t opts = {
        .on_event = on_event, .event_arg = f, .delay_ms = 60000};
    assert_int_equal(
        mux_server_new(f->t.loop, &echo_service, &opts, &f->server), 0);
    assert_int_equal(mux_server_listen(f->server, "127.0.0.1:0"), 0);
    assert_int_equal(mux_server_stop_on_signals(f->server, 0), 0);
    int c = client(SOCK_STREAM, test_server_port(f->server));
    RUN_UNTIL(f, f->accepts == 1);
    assert_int_equal(send(c, "held", 4, 0), 4);
    assert_int_equal(raise(SIGINT), 0);
    RUN_UNTIL(f, f->shutdowns == 1);
    assert_int_equal(mux_server_clients(f->server), 1);
    assert_int_equal(raise(SIGINT), 0);
    assert_int_equal(mux_run(f->t.loop, MUX_RUN_DEFAULT), 0);
    assert_int_equal(mux_server_clients(f->server), 0);
    close(c);
}

/* A client handed over after the shutdown is done would outlive DONE. */
static void test_serve_fd_after_shutdown(void **state) {
    fixture_t *f = *state;
    start(f, &f->server, "127.0.0.1:0", 0, 0);
    mux_server_shutdown(f->server, 0);
    RUN_UNTIL(f, f->dones > 0);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(mux_server_serve_fd(f->server, sv[0]), -ESHUTDOWN);
    char byte;
    assert_int_equal(read(sv[1], &byte, 1), 0); /* closed, not served */
    close(sv[1]);
    assert_int_equal(mux_server_clients(f->server), 0);
    assert_int_equal(stats_of(f->server).accepted, 0);
    assert_int_equal(f->dones, 1);
}

static void test_reuseport_shares_an_address(void **state) {
    fixture_t *f = *state;
    mux_server_t *second = NULL, *third = NULL;
    unsigned port = start(f, &f->server, "127.0.0.1:0", 1, 0);
    char addr[32];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
    assert_int_equal(start(f, &second, addr, 1, 0), port);

    mux_server_opts_t plain = {0};
    assert_int_equal(mux_server_new(f->t.loop, &echo_service, &plain, &third),
                     0);
    assert_int_equal(mux_server_listen(third, addr), -EADDRINUSE);

    /* Every client lands on one of the two and is served. */
    for (int i = 0; i < 8; i++) {
        int c = client(SOCK_STREAM, port);
        assert_int_equal(send(c, "x", 1, 0), 1);
        expect_reply(f, c, "x", 1);
        close(c);
    }
    assert_int_equal(stats_of(f->server).accepted + stats_of(second).accepted,
                     8);
    mux_server_free(third);
    mux_server_free(second);
}

static void test_reuseport_udp(void **state) {
    fixture_t *f = *state;
    mux_server_t *second = NULL;
    unsigned port = start(f, &f->server, "udp://127.0.0.1:0", 1, 0);
    char addr[40];
    snprintf(addr, sizeof(addr), "udp://127.0.0.1:%u", port);
    assert_int_equal(start(f, &second, addr, 1, 0), port);
    int c = client(SOCK_DGRAM, port);
    assert_int_equal(send(c, "dg", 2, 0), 2);
    expect_reply(f, c, "dg", 2);
    assert_int_equal(stats_of(f->server).bytes_in + stats_of(second).bytes_in,
                     2);
    close(c);
    mux_server_free(second);
}

/* A watermark whose hard cap (16 times it) would wrap is refused; the
 * largest that fits is taken. */
static void test_max_output_whose_cap_wraps_is_refused(void **state) {
    fixture_t *f = *state;
    mux_server_t *server = NULL;
    mux_server_opts_t opts = {.max_output = MUX_OUTPUT_MAX + 1};
    assert_int_equal(mux_server_new(f->t.loop, &echo_service, &opts, &server),
                     -EINVAL);
    assert_null(server);
    opts.max_output = MUX_OUTPUT_MAX;
    assert_int_equal(mux_server_new(f->t.loop, &echo_service, &opts, &server),
                     0);
    mux_server_free(server);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stats_count_streams, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stats_count_datagrams, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_close_one_listener, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_close_listeners_from_accept, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pause_accepting, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_shutdown_serves_the_clients_in_the_backlog, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backlog_clients_that_close_at_once,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreach_all_visits_closing_clients,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_from_the_last_close,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_on_signals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_signal_stops_at_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_serve_fd_after_shutdown, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reuseport_shares_an_address, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reuseport_udp, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_max_output_whose_cap_wraps_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_per_source_places_come_back, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
