/*
 * test_conn.c -- one stream client (src/lib/conn.c), through a real server
 * on a loopback listener, driven turn by turn: partial writes and the
 * output queue, write interest, EOF with output pending, closing from
 * callbacks (its own connection, now; another one), line framing, and the
 * ACCEPT / CLOSE events.
 *
 * The test's client sockets are watched by the same loop (a reader that
 * collects what arrives), so every turn makes progress without sleeping. A
 * watchdog timer bounds every wait.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mux.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNS 8
#define MAX_MESSAGES 16

/* ------------------------------------------------------------------ */
/* What the test services saw                                          */
/* ------------------------------------------------------------------ */

typedef struct {
    mux_conn_t *conn; /* NULL once closed */
    int messages, closes;
    char text[MAX_MESSAGES][64]; /* messages, NUL-terminated copies */
    size_t len[MAX_MESSAGES];
} conn_rec_t;

typedef struct {
    conn_rec_t conns[MAX_CONNS];
    int opens, closes;
    size_t bulk; /* bytes the service sends when asked */
    bool gather; /* ...in pieces, with mux_conn_sendv() */
} svc_state_t;

/* What the server's event callback saw. */
typedef struct {
    int listens, accepts, closes, errors;
    char listen_local[MUX_ADDRSTRLEN];
    char accept_peer[MUX_ADDRSTRLEN], accept_local[MUX_ADDRSTRLEN];
    uint64_t accept_clients;
    char close_peer[MUX_ADDRSTRLEN], close_reason[64];
    uint64_t close_in, close_out, close_clients;
    char error_reason[64];
} events_t;

/* A client socket of the test, read by the loop. */
typedef struct {
    int fd;
    bool watched, eof;
    int err; /* -errno of a failed read */
    char *data;
    size_t len, cap;
} client_t;

typedef struct {
    test_loop_t t; /* the loop and its watchdog */
    mux_server_t *server;
    unsigned port;
    svc_state_t svc;
    events_t ev;
    client_t clients[4];
    int nclients;
} fixture_t;

/* A byte that depends on its position, so that reordering shows. */
static char pattern(size_t i) { return (char)((i * 7u + i / 251u) & 0xffu); }

/* ------------------------------------------------------------------ */
/* Test services                                                       */
/* ------------------------------------------------------------------ */

static svc_state_t *svc_of(mux_conn_t *conn) {
    return mux_conn_service_arg(conn);
}

static void track_open(mux_conn_t *conn) {
    svc_state_t *svc = svc_of(conn);
    assert_true(svc->opens < MAX_CONNS);
    conn_rec_t *rec = &svc->conns[svc->opens++];
    rec->conn = conn;
    mux_conn_set_data(conn, rec);
}

static void track_close(mux_conn_t *conn) {
    conn_rec_t *rec = mux_conn_data(conn);
    assert_ptr_equal(rec->conn, conn);
    rec->closes++;
    rec->conn = NULL;
    svc_of(conn)->closes++;
}

static void track_message(mux_conn_t *conn, const char *data, size_t len) {
    conn_rec_t *rec = mux_conn_data(conn);
    if (rec->messages < MAX_MESSAGES) {
        size_t n = len < 63 ? len : 63;
        memcpy(rec->text[rec->messages], data, n);
        rec->text[rec->messages][n] = '\0';
        rec->len[rec->messages] = len;
    }
    rec->messages++;
}

/* mux_conn_sendv() of a chunk in uneven pieces, an empty one among them. */
static int send_pieces(mux_conn_t *conn, char *chunk, size_t n) {
    size_t a = n < 1 ? n : 1, b = n - a < 1000 ? n - a : 1000;
    struct iovec iov[] = {
        {chunk, a}, {chunk + a, 0}, {chunk + a, b}, {chunk + a + b, n - a - b}};
    return mux_conn_sendv(conn, iov, 4);
}

/* Sends svc->bulk bytes of the pattern, in chunks. */
static void send_bulk(mux_conn_t *conn) {
    size_t total = svc_of(conn)->bulk;
    char chunk[65536];
    for (size_t off = 0; off < total; off += sizeof(chunk)) {
        size_t n = total - off < sizeof(chunk) ? total - off : sizeof(chunk);
        for (size_t i = 0; i < n; i++)
            chunk[i] = pattern(off + i);
        if (svc_of(conn)->gather)
            assert_int_equal(send_pieces(conn, chunk, n), 0);
        else
            assert_int_equal(mux_conn_send(conn, chunk, n), 0);
    }
}

/* "bulk": sends svc->bulk bytes when the client says anything. */
static void bulk_message(mux_conn_t *conn, const char *data, size_t len) {
    track_message(conn, data, len);
    send_bulk(conn);
}

static const mux_service_t bulk_service = {
    .name = "bulk",
    .framing = MUX_FRAMING_RAW,
    .open = track_open,
    .message = bulk_message,
    .close = track_close,
};

static void close_others(mux_conn_t *self) {
    svc_state_t *svc = svc_of(self);
    for (int i = 0; i < svc->opens; i++)
        if (svc->conns[i].conn && svc->conns[i].conn != self)
            mux_conn_close(svc->conns[i].conn, MUX_CLOSE_NOW);
}

/* "lines": echoes each line, and obeys a few commands. */
static void lines_message(mux_conn_t *conn, const char *data, size_t len) {
    track_message(conn, data, len);
    if (len == 8 && memcmp(data, "quit-now", 8) == 0) {
        assert_int_equal(mux_conn_send(conn, "bye\n", 4), 0);
        mux_conn_close(conn, MUX_CLOSE_NOW);
        /* Closing again, either way, changes nothing. */
        mux_conn_close(conn, MUX_CLOSE_NOW);
        mux_conn_close(conn, MUX_CLOSE_AFTER_FLUSH);
        assert_int_equal(mux_conn_send(conn, "late\n", 5), -EPIPE);
    } else if (len == 11 && memcmp(data, "kill-others", 11) == 0) {
        close_others(conn);
    } else if (len == 5 && memcmp(data, "pause", 5) == 0) {
        mux_conn_pause_reading(conn);
    } else if (len == 3 && memcmp(data, "big", 3) == 0) {
        send_bulk(conn);
    } else if (len == 8 && memcmp(data, "big-quit", 8) == 0) {
        send_bulk(conn);
        assert_true(mux_conn_pending(conn) > 0);
        mux_conn_close(conn, MUX_CLOSE_NOW);
    } else {
        assert_int_equal(mux_conn_send(conn, data, len), 0);
        assert_int_equal(mux_conn_send(conn, "\n", 1), 0);
    }
}

static const mux_service_t lines_service = {
    .name = "lines",
    .framing = MUX_FRAMING_LINE,
    .open = track_open,
    .message = lines_message,
    .close = track_close,
};

/* "refuse": closes every client from its open callback. */
static void refuse_open(mux_conn_t *conn) {
    track_open(conn);
    mux_conn_close(conn, MUX_CLOSE_NOW);
}

static const mux_service_t refuse_service = {
    .name = "refuse",
    .open = refuse_open,
    .message = track_message,
    .close = track_close,
};

/* ------------------------------------------------------------------ */
/* Server events                                                       */
/* ------------------------------------------------------------------ */

static void copy_text(char *dst, size_t size, const char *src) {
    snprintf(dst, size, "%s", src ? src : "(null)");
}

static void record_event(mux_server_t *server, const mux_event_t *ev,
                         void *arg) {
    (void)server;
    events_t *e = arg;
    switch (ev->type) {
    case MUX_EV_LISTEN:
        e->listens++;
        copy_text(e->listen_local, sizeof(e->listen_local), ev->local);
        break;
    case MUX_EV_ACCEPT:
        assert_non_null(ev->conn);
        e->accepts++;
        copy_text(e->accept_peer, sizeof(e->accept_peer), ev->peer);
        copy_text(e->accept_local, sizeof(e->accept_local), ev->local);
        e->accept_clients = ev->clients;
        break;
    case MUX_EV_CLOSE:
        assert_non_null(ev->conn);
        e->closes++;
        copy_text(e->close_peer, sizeof(e->close_peer), ev->peer);
        copy_text(e->close_reason, sizeof(e->close_reason), ev->reason);
        e->close_in = ev->bytes_in;
        e->close_out = ev->bytes_out;
        e->close_clients = ev->clients;
        break;
    case MUX_EV_ERROR:
        e->errors++;
        copy_text(e->error_reason, sizeof(e->error_reason), ev->reason);
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------------ */
/* Fixture: a loop, a watchdog, a server on 127.0.0.1:0                */
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
    for (int i = 0; i < f->nclients; i++) {
        client_t *c = &f->clients[i];
        if (c->watched)
            mux_unwatch(f->t.loop, c->fd);
        if (c->fd >= 0)
            close(c->fd);
        free(c->data);
    }
    mux_server_free(f->server);
    test_loop_close(&f->t);
    free(f);
    return 0;
}

static void start_server(fixture_t *f, const mux_service_t *service,
                         mux_server_opts_t *opts) {
    mux_server_opts_t defaults = {0};
    if (!opts)
        opts = &defaults;
    opts->service_arg = &f->svc;
    opts->on_event = record_event;
    opts->event_arg = &f->ev;
    assert_int_equal(mux_server_new(f->t.loop, service, opts, &f->server), 0);
    assert_int_equal(mux_server_listen(f->server, "127.0.0.1:0"), 0);
    const char *names[2];
    assert_int_equal(mux_server_addresses(f->server, names, 2), 1);
    assert_int_equal(strncmp(names[0], "tcp 127.0.0.1:", 14), 0);
    f->port = (unsigned)atoi(names[0] + 14);
    assert_true(f->port > 0 && f->port < 65536);
    assert_int_equal(f->ev.listens, 1);
}

/* One turn, which waits for something to happen (at worst the watchdog). */
static int turn(fixture_t *f) { return test_turn(&f->t); }

#define RUN_UNTIL(f, cond) TEST_RUN_UNTIL(&(f)->t, cond)

/* How many fds the loop selects on for writing. */
static int write_interest(mux_loop_t *loop) {
    fd_set rd, wr;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    int maxfd = -1, n = 0;
    struct timeval tv;
    mux_prepare(loop, &rd, &wr, &maxfd, &tv);
    for (int fd = 0; fd <= maxfd; fd++)
        if (FD_ISSET(fd, &wr))
            n++;
    return n;
}

/* ------------------------------------------------------------------ */
/* Test clients                                                        */
/* ------------------------------------------------------------------ */

static void on_client_readable(mux_loop_t *loop, int fd, int events,
                               void *arg) {
    (void)events;
    client_t *c = arg;
    if (c->cap - c->len < 65536) {
        c->cap = c->cap ? c->cap * 2 : 131072;
        c->data = realloc(c->data, c->cap);
        assert_non_null(c->data);
    }
    ssize_t n = recv(fd, c->data + c->len, c->cap - c->len, 0);
    if (n > 0) {
        c->len += (size_t)n;
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n == 0)
        c->eof = true;
    else
        c->err = -errno;
    mux_unwatch(loop, fd);
    c->watched = false;
}

/* Connects a client (rcvbuf > 0: that receive buffer), not yet read. */
static client_t *connect_client(fixture_t *f, int rcvbuf) {
    assert_true(f->nclients < 4);
    client_t *c = &f->clients[f->nclients++];
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    if (rcvbuf > 0)
        assert_int_equal(
            setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)),
            0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)f->port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    /* Loopback: the kernel completes the handshake before accept(). */
    assert_int_equal(connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    int fl = fcntl(c->fd, F_GETFL);
    assert_int_equal(fcntl(c->fd, F_SETFL, fl | O_NONBLOCK), 0);
    int opens = f->svc.opens;
    RUN_UNTIL(f, f->svc.opens == opens + 1);
    return c;
}

/* From now on the loop reads what arrives for the client. */
static void start_reading(fixture_t *f, client_t *c) {
    assert_int_equal(
        mux_watch(f->t.loop, c->fd, MUX_READ, on_client_readable, c), 0);
    c->watched = true;
}

/* Closes the client's socket (unwatched first: the loop must never select
 * on a closed fd). */
static void close_client(fixture_t *f, client_t *c) {
    if (c->watched)
        assert_int_equal(mux_unwatch(f->t.loop, c->fd), 0);
    c->watched = false;
    assert_int_equal(close(c->fd), 0);
    c->fd = -1;
}

static void client_send(client_t *c, const char *text) {
    size_t len = strlen(text);
    assert_int_equal(send(c->fd, text, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* The client's address as the server prints it. */
static void client_name(const client_t *c, char *out, size_t size) {
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    assert_int_equal(getsockname(c->fd, (struct sockaddr *)&sin, &len), 0);
    snprintf(out, size, "127.0.0.1:%u", ntohs(sin.sin_port));
}

/* The server's fd for a client (the one whose peer is the client). */
static int server_fd_of(const client_t *c) {
    struct sockaddr_in mine, peer;
    socklen_t len = sizeof(mine);
    assert_int_equal(getsockname(c->fd, (struct sockaddr *)&mine, &len), 0);
    for (int fd = 0; fd < FD_SETSIZE; fd++) {
        len = sizeof(peer);
        if (fd != c->fd &&
            getpeername(fd, (struct sockaddr *)&peer, &len) == 0 &&
            peer.sin_family == AF_INET && peer.sin_port == mine.sin_port)
            return fd;
    }
    fail_msg("no server fd for the client");
    return -1;
}

/*
 * Pins the send buffer of the server's socket for `c` to a small size, so
 * that how much the kernel takes before output queues in the connection
 * does not depend on the host's TCP autotuning limits.
 */
static void limit_server_sndbuf(const client_t *c) {
    int size = 65536;
    assert_int_equal(
        setsockopt(server_fd_of(c), SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)),
        0);
}

static void assert_pattern(const char *data, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (data[i] != pattern(i))
            fail_msg("byte %zu of %zu differs", i, len);
}

/* ------------------------------------------------------------------ */
/* Output queue                                                        */
/* ------------------------------------------------------------------ */

/* A client that does not read: output queues; then it reads everything,
 * byte-exact and in order, and write interest lasts exactly as long as
 * output is pending. */
static void test_partial_writes(void **state) {
    fixture_t *f = *state;
    f->svc.bulk = 4u * 1024 * 1024;
    start_server(f, &bulk_service, NULL);
    client_t *c = connect_client(f, 16384);
    mux_conn_t *conn = f->svc.conns[0].conn;
    assert_non_null(conn);
    limit_server_sndbuf(c);
    client_send(c, "go");
    RUN_UNTIL(f, f->svc.conns[0].messages == 1);
    size_t pending = mux_conn_pending(conn);
    assert_true(pending > 0);
    assert_true(pending < f->svc.bulk);
    assert_int_equal(write_interest(f->t.loop), 1);
    /* The client still does not read: nothing moves, nothing closes. */
    for (int i = 0; i < 20; i++)
        mux_run(f->t.loop, MUX_RUN_NOWAIT);
    assert_true(mux_conn_pending(conn) > 0);
    assert_int_equal(f->svc.closes, 0);

    start_reading(f, c);
    int turns = 0;
    while (c->len < f->svc.bulk) {
        assert_true(++turns < TEST_MAX_TURNS);
        turn(f);
        assert_int_equal(write_interest(f->t.loop),
                         mux_conn_pending(conn) > 0 ? 1 : 0);
    }
    assert_int_equal(c->len, f->svc.bulk);
    assert_pattern(c->data, c->len);
    assert_int_equal(mux_conn_pending(conn), 0);
    assert_int_equal(write_interest(f->t.loop), 0);

    /* The client leaves: one close, with the byte counts. */
    close_client(f, c);
    RUN_UNTIL(f, f->svc.closes == 1);
    assert_int_equal(f->svc.conns[0].closes, 1);
    assert_int_equal(f->ev.close_out, f->svc.bulk);
    assert_int_equal(f->ev.close_in, 2);
    assert_int_equal(mux_server_clients(f->server), 0);
}

/* The same with every chunk sent in pieces by mux_conn_sendv(): a write
 * that ends inside a piece queues the rest of it and the pieces after. */
static void test_sendv_partial_writes(void **state) {
    fixture_t *f = *state;
    f->svc.bulk = 4u * 1024 * 1024 + 777;
    f->svc.gather = true;
    start_server(f, &bulk_service, NULL);
    client_t *c = connect_client(f, 16384);
    mux_conn_t *conn = f->svc.conns[0].conn;
    assert_non_null(conn);
    limit_server_sndbuf(c);
    assert_int_equal(mux_conn_sendv(conn, NULL, 0), 0); /* nothing: no-op */
    struct iovec one = {"x", 1};
    assert_int_equal(mux_conn_sendv(conn, &one, MUX_IOV_MAX + 1), -EINVAL);
    assert_int_equal(mux_conn_sendv(conn, &one, -1), -EINVAL);
    client_send(c, "go");
    RUN_UNTIL(f, f->svc.conns[0].messages == 1);
    assert_true(mux_conn_pending(conn) > 0);
    start_reading(f, c);
    RUN_UNTIL(f, c->len >= f->svc.bulk);
    assert_int_equal(c->len, f->svc.bulk);
    assert_pattern(c->data, c->len);
    assert_int_equal(mux_conn_pending(conn), 0);
    close_client(f, c);
    RUN_UNTIL(f, f->svc.closes == 1);
    assert_int_equal(f->ev.close_out, f->svc.bulk);
}

/* The client half-closes while output is pending: the server flushes it
 * all, then closes; the close callback runs once. */
static void test_eof_with_output_pending(void **state) {
    fixture_t *f = *state;
    f->svc.bulk = 2u * 1024 * 1024;
    mux_server_opts_t opts = {.max_output = 8u * 1024 * 1024};
    start_server(f, &lines_service, &opts);
    client_t *c = connect_client(f, 16384);
    mux_conn_t *conn = f->svc.conns[0].conn;
    limit_server_sndbuf(c);
    client_send(c, "big\n");
    assert_int_equal(shutdown(c->fd, SHUT_WR), 0);
    /* Until the server has seen the EOF, the connection takes output. */
    RUN_UNTIL(f, f->svc.closes > 0 || mux_conn_send(conn, "", 0) == -EPIPE);
    assert_int_equal(f->svc.closes, 0);
    assert_true(mux_conn_pending(conn) > 0);
    assert_int_equal(f->svc.conns[0].messages, 1);
    assert_string_equal(f->svc.conns[0].text[0], "big");

    start_reading(f, c);
    RUN_UNTIL(f, c->eof || c->err);
    assert_int_equal(c->err, 0);
    assert_int_equal(c->len, f->svc.bulk);
    assert_pattern(c->data, c->len);
    RUN_UNTIL(f, f->svc.closes == 1);
    assert_int_equal(f->svc.conns[0].closes, 1);
    assert_int_equal(f->ev.closes, 1);
    assert_int_equal(f->ev.close_out, f->svc.bulk);
    assert_int_equal(f->ev.close_in, 4);
    assert_string_equal(f->ev.close_reason, "client closed");
    /* Nothing more happens to it. */
    mux_run(f->t.loop, MUX_RUN_NOWAIT);
    assert_int_equal(f->svc.closes, 1);
    assert_int_equal(f->ev.closes, 1);
}

/* ------------------------------------------------------------------ */
/* Closing from callbacks                                              */
/* ------------------------------------------------------------------ */

/* MUX_CLOSE_NOW from the message callback: later lines of the same read
 * are not served; the close callback runs once. */
static void test_close_now_in_message(void **state) {
    fixture_t *f = *state;
    start_server(f, &lines_service, NULL);
    client_t *c = connect_client(f, 0);
    start_reading(f, c);
    client_send(c, "a\nquit-now\nb\n");
    RUN_UNTIL(f, c->eof || c->err);
    assert_int_equal(c->err, 0);
    assert_int_equal(c->len, 6);
    assert_memory_equal(c->data, "a\nbye\n", 6);
    conn_rec_t *rec = &f->svc.conns[0];
    assert_int_equal(rec->messages, 2);
    assert_string_equal(rec->text[0], "a");
    assert_string_equal(rec->text[1], "quit-now");
    assert_int_equal(rec->closes, 1);
    assert_int_equal(f->ev.closes, 1);
    assert_string_equal(f->ev.close_reason, "closed by server");
    assert_int_equal(mux_server_clients(f->server), 0);
    mux_run(f->t.loop, MUX_RUN_NOWAIT);
    assert_int_equal(rec->closes, 1);
    assert_int_equal(rec->messages, 2);
}

/* MUX_CLOSE_NOW with output pending discards it. */
static void test_close_now_discards_output(void **state) {
    fixture_t *f = *state;
    f->svc.bulk = 4u * 1024 * 1024;
    mux_server_opts_t opts = {.max_output = 8u * 1024 * 1024};
    start_server(f, &lines_service, &opts);
    client_t *c = connect_client(f, 16384);
    limit_server_sndbuf(c);
    client_send(c, "big-quit\n");
    RUN_UNTIL(f, f->svc.closes == 1);
    assert_int_equal(f->ev.closes, 1);
    assert_true(f->ev.close_out < f->svc.bulk);
    start_reading(f, c);
    RUN_UNTIL(f, c->eof || c->err);
    /* What did arrive is the start of the stream, and no more than was
     * written before the close. */
    assert_true(c->len <= f->ev.close_out);
    assert_pattern(c->data, c->len);
    assert_int_equal(f->svc.conns[0].closes, 1);
}

/* MUX_CLOSE_NOW from the open callback, for an accepted client and for
 * one handed over with mux_server_serve_fd() outside any turn. */
static void test_close_now_in_open(void **state) {
    fixture_t *f = *state;
    start_server(f, &refuse_service, NULL);
    client_t *c = connect_client(f, 0);
    start_reading(f, c);
    RUN_UNTIL(f, c->eof || c->err);
    assert_int_equal(c->len, 0);
    assert_int_equal(f->svc.conns[0].closes, 1);

    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(mux_server_serve_fd(f->server, sv[0]), 0);
    assert_int_equal(f->svc.opens, 2);
    assert_int_equal(f->svc.conns[1].closes, 1);
    assert_int_equal(f->ev.closes, 2);
    assert_int_equal(mux_server_clients(f->server), 0);
    char byte;
    assert_int_equal(read(sv[1], &byte, 1), 0); /* closed */
    close(sv[1]);
}

/* A message callback closes another connection that is ready in the same
 * turn: the other one's message is never delivered. */
static void test_close_another_connection(void **state) {
    fixture_t *f = *state;
    start_server(f, &lines_service, NULL);
    client_t *killer = connect_client(f, 0);
    client_t *victim = connect_client(f, 0);
    /* The killer's server fd is dispatched first. */
    assert_true(server_fd_of(killer) < server_fd_of(victim));
    client_send(victim, "hello\n");
    client_send(killer, "kill-others\n");
    RUN_UNTIL(f, f->svc.closes == 1);
    conn_rec_t *k = &f->svc.conns[0], *v = &f->svc.conns[1];
    assert_int_equal(k->messages, 1);
    assert_int_equal(v->messages, 0);
    assert_int_equal(v->closes, 1);
    assert_null(v->conn);
    assert_int_equal(mux_server_clients(f->server), 1);

    /* The victim sees its connection end; the killer is still served. */
    start_reading(f, victim);
    start_reading(f, killer);
    client_send(killer, "ping\n");
    RUN_UNTIL(f, (victim->eof || victim->err) && killer->len == 5);
    assert_memory_equal(killer->data, "ping\n", 5);
    assert_int_equal(victim->len, 0);
    assert_int_equal(v->closes, 1);
    assert_int_equal(v->messages, 0);
    assert_int_equal(k->closes, 0);
    assert_int_equal(f->ev.closes, 1);
}

/* ------------------------------------------------------------------ */
/* Line framing                                                        */
/* ------------------------------------------------------------------ */

static void test_lines_split_across_reads(void **state) {
    fixture_t *f = *state;
    start_server(f, &lines_service, NULL);
    client_t *c = connect_client(f, 0);
    conn_rec_t *rec = &f->svc.conns[0];
    client_send(c, "hel");
    assert_int_equal(turn(f), 1); /* the server read "hel" */
    assert_int_equal(rec->messages, 0);
    client_send(c, "lo\r\nwor");
    RUN_UNTIL(f, rec->messages == 1);
    assert_string_equal(rec->text[0], "hello"); /* CR LF cut */
    client_send(c, "ld\n");
    RUN_UNTIL(f, rec->messages == 2);
    assert_string_equal(rec->text[1], "world");
    /* A CR not before LF stays; empty lines are messages too. */
    client_send(c, "a\rb\n\n\r\n");
    RUN_UNTIL(f, rec->messages == 5);
    assert_string_equal(rec->text[2], "a\rb");
    assert_int_equal(rec->len[3], 0);
    assert_int_equal(rec->len[4], 0);
    /* An unterminated last line is served at EOF. */
    client_send(c, "tail");
    assert_int_equal(shutdown(c->fd, SHUT_WR), 0);
    start_reading(f, c);
    RUN_UNTIL(f, c->eof || c->err);
    assert_int_equal(rec->messages, 6);
    assert_string_equal(rec->text[5], "tail");
    const char *echo = "hello\nworld\na\rb\n\n\ntail\n";
    assert_int_equal(c->len, strlen(echo));
    assert_memory_equal(c->data, echo, c->len);
    RUN_UNTIL(f, f->svc.closes == 1);
    assert_int_equal(rec->closes, 1);
}

/* Auto framing: a read without a LF is one message as it came; lines are
 * messages with their line ends; a piece after the last LF is served on
 * its own once it has waited for its rest in vain. */
static void test_auto_framing(void **state) {
    fixture_t *f = *state;
    mux_server_opts_t opts = {.framing = MUX_FRAMING_AUTO};
    start_server(f, &lines_service, &opts);
    client_t *c = connect_client(f, 0);
    conn_rec_t *rec = &f->svc.conns[0];
    assert_int_equal(mux_conn_framing(rec->conn), MUX_FRAMING_AUTO);
    client_send(c, "Michael");
    RUN_UNTIL(f, rec->messages == 1);
    assert_string_equal(rec->text[0], "Michael");
    client_send(c, "Tracy\nChenqi\r\n\n");
    RUN_UNTIL(f, rec->messages == 4);
    assert_string_equal(rec->text[1], "Tracy\n");
    assert_string_equal(rec->text[2], "Chenqi\r\n");
    assert_string_equal(rec->text[3], "\n");
    client_send(c, "one\ntwo");
    RUN_UNTIL(f, rec->messages == 6); /* "two" after its wait */
    assert_string_equal(rec->text[4], "one\n");
    assert_string_equal(rec->text[5], "two");
    assert_int_equal(rec->closes, 0);
}

/* A service's pause holds reading until it resumes, output or not. */
static void test_pause_reading(void **state) {
    fixture_t *f = *state;
    start_server(f, &lines_service, NULL);
    client_t *c = connect_client(f, 0);
    conn_rec_t *rec = &f->svc.conns[0];
    client_send(c, "pause\n");
    RUN_UNTIL(f, rec->messages == 1);
    client_send(c, "held\n");
    for (int i = 0; i < 5; i++)
        assert_true(mux_run(f->t.loop, MUX_RUN_NOWAIT) >= 0);
    assert_int_equal(rec->messages, 1);
    mux_conn_resume_reading(rec->conn);
    RUN_UNTIL(f, rec->messages == 2);
    assert_string_equal(rec->text[1], "held");
}

/* Sends `text`, expects the error line, EOF, and one close. */
static void expect_line_too_long(fixture_t *f, const char *text) {
    int closes = f->svc.closes, errors = f->ev.errors;
    client_t *c = connect_client(f, 0);
    conn_rec_t *rec = &f->svc.conns[f->svc.opens - 1];
    start_reading(f, c);
    client_send(c, text);
    RUN_UNTIL(f, c->eof || c->err);
    const char *expected = "error: line too long (max 16 bytes)\n";
    assert_int_equal(c->err, 0);
    assert_int_equal(c->len, strlen(expected));
    assert_memory_equal(c->data, expected, c->len);
    assert_int_equal(rec->messages, 0);
    assert_int_equal(f->ev.errors, errors + 1);
    assert_string_equal(f->ev.error_reason, "line too long");
    /* The server waits for the client to close its side, then closes. */
    close_client(f, c);
    RUN_UNTIL(f, f->svc.closes == closes + 1);
    assert_int_equal(rec->closes, 1);
}

static void test_line_too_long(void **state) {
    fixture_t *f = *state;
    mux_server_opts_t opts = {.max_line = 16};
    start_server(f, &lines_service, &opts);
    /* Exactly the limit (its CR LF not counted) is fine. */
    client_t *c = connect_client(f, 0);
    start_reading(f, c);
    client_send(c, "0123456789abcdef\r\n");
    RUN_UNTIL(f, c->len == 17);
    assert_memory_equal(c->data, "0123456789abcdef\n", 17);
    assert_int_equal(f->svc.conns[0].messages, 1);
    /* A complete line over the limit, and an incomplete one. */
    expect_line_too_long(f, "0123456789abcdefX\n");
    expect_line_too_long(f, "0123456789abcdef0123");
    /* The first client was not disturbed. */
    client_send(c, "still here\n");
    RUN_UNTIL(f, c->len == 17 + 11);
    assert_int_equal(f->svc.conns[0].closes, 0);
}

/* ------------------------------------------------------------------ */
/* Events                                                              */
/* ------------------------------------------------------------------ */

static void test_accept_and_close_events(void **state) {
    fixture_t *f = *state;
    start_server(f, &lines_service, NULL);
    char local[64], peer[64];
    snprintf(local, sizeof(local), "127.0.0.1:%u", f->port);
    assert_string_equal(f->ev.listen_local, local);
    client_t *c = connect_client(f, 0);
    client_name(c, peer, sizeof(peer));
    assert_int_equal(f->ev.accepts, 1);
    assert_string_equal(f->ev.accept_peer, peer);
    assert_string_equal(f->ev.accept_local, local);
    assert_int_equal(f->ev.accept_clients, 1);
    assert_string_equal(mux_conn_peer(f->svc.conns[0].conn), peer);
    assert_string_equal(mux_conn_local(f->svc.conns[0].conn), local);
    assert_int_equal(mux_conn_id(f->svc.conns[0].conn), 1);
    /* An idle client: no write interest. */
    assert_int_equal(write_interest(f->t.loop), 0);

    start_reading(f, c);
    client_send(c, "hello\nworld!\n");
    RUN_UNTIL(f, c->len == 13);
    assert_int_equal(f->ev.closes, 0);
    close_client(f, c);
    RUN_UNTIL(f, f->ev.closes == 1);
    assert_string_equal(f->ev.close_peer, peer);
    assert_int_equal(f->ev.close_in, 13);
    assert_int_equal(f->ev.close_out, 13);
    assert_int_equal(f->ev.close_clients, 0);
    assert_int_equal(f->svc.closes, 1);
    assert_int_equal(f->ev.accepts, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_partial_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sendv_partial_writes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_eof_with_output_pending, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_close_now_in_message, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_close_now_discards_output, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_close_now_in_open, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_close_another_connection, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lines_split_across_reads, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_line_too_long, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auto_framing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pause_reading, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accept_and_close_events, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
