/*
 * fuzz_server.c -- libFuzzer harness for a whole server: up to 6 clients
 * on socketpairs (mux_server_serve_fd) or connected through a listening
 * abstract unix socket (mux_server_adopt, accept, the client limit),
 * driven by fuzzed operations, and a service whose callbacks act as
 * fuzzed bytes tell them.
 *
 * Input: [service] [max_output] [max_line, limit] [clients] ops... tape
 * Operations are read from the front, the callbacks' tape from the back
 * (one byte per decision), until the two meet. Operations: a client
 * writes bytes, shuts its write side, closes, reads its replies; the loop
 * runs some turns; a client is added (served directly, or connecting to
 * the listener, where it may be refused); the server shuts down gracefully;
 * the host closes a connection (now or after flushing) outside any
 * callback. The service (echo, scripted, or scripted + producer, in raw or
 * line framing) echoes each message and may: close its own connection now
 * or after flushing, send to or close another connection, send far past
 * the high watermark, broadcast with mux_server_foreach, start a graceful
 * shutdown, send after closing -- also from its close callback.
 *
 * Checks:
 *  - callbacks: open once, close once, nothing for a connection after its
 *    close callback; send returns 0 or -EPIPE/-ENOBUFS/-ENOMEM (and
 *    -EPIPE once the connection is closing);
 *  - input: the messages are the client's bytes in order, nothing lost or
 *    repeated (raw: a read each; line: the lines, at most max_line bytes,
 *    no LF in them), and when the eof callback runs every byte the client
 *    wrote has been delivered;
 *  - output: what a client reads is a prefix of what the service sent it
 *    (plus the library's "line too long" line), and when it reads EOF it
 *    has all of it, unless output was discarded (close now, a failed or
 *    overflowing send, pending output at close);
 *  - events: one MUX_EV_CLOSE per connection, byte counts within what was
 *    written and sent, at most one MUX_EV_DONE; mux_server_clients()
 *    matches the open connections;
 *  - the end: after mux_server_free() + mux_loop_free() every close
 *    callback has run, no fd is left open, and LSan finds no leak.
 */
#define _POSIX_C_SOURCE 200809L

#include "fuzz_util.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#define MAX_CLIENTS 6
#define FULL_MESSAGE "full\n"

typedef struct {
    int fd;           /* the client's end; -1 once closed */
    bool shut_wr;     /* the client shut its write side */
    mux_conn_t *conn; /* from open until the close callback */
    bool opened, closed, eof_read, close_event;
    bool refused;     /* turned away at accept: reads full_message, then EOF */
    bool lossy;       /* output may have been discarded */
    bytes_t written;  /* what the client wrote (what its socket took) */
    size_t delivered; /* bytes of `written` that messages accounted for */
    bytes_t expected; /* what the client must read: what the service sent,
                         the library's error line or full_message */
    size_t received;  /* bytes of `expected` the client read */
    size_t produced;  /* drain output so far */
} client_t;

typedef struct {
    const uint8_t *ops, *tape; /* ops from the front; tape ends at `tape` */
    mux_loop_t *loop;
    mux_server_t *server;
    mux_framing framing;
    size_t max_output, max_line;
    client_t clients[MAX_CLIENTS];
    int nclients;
    client_t *opening; /* the client mux_server_serve_fd is serving */
    client_t *backlog[MAX_CLIENTS]; /* connected, not yet accepted */
    int nbacklog;
    bool listening;
    bool shutdown, in_free;
    int done_events;
} state_t;

static state_t st;

/* ------------------------------------------------------------------ */
/* Input                                                               */
/* ------------------------------------------------------------------ */

static bool ops_left(void) { return st.ops < st.tape; }
static uint8_t next_op(void) { return ops_left() ? *st.ops++ : 0; }
/* One decision for a callback; 0 (do nothing special) once used up. */
static uint8_t tape_byte(void) { return ops_left() ? *--st.tape : 0; }

static client_t *client_of(const mux_conn_t *conn) {
    client_t *c = mux_conn_data(conn);
    CHECK(c != NULL && c->conn == conn && c->opened && !c->closed);
    return c;
}

static void fill_pattern(char *buf, size_t len, size_t from) {
    for (size_t i = 0; i < len; i++)
        buf[i] = (char)('a' + (from + i) % 26);
}

/* ------------------------------------------------------------------ */
/* What the service does                                               */
/* ------------------------------------------------------------------ */

/* Sends and records what the client must then read. The record comes
 * first: a send that fails by closing the connection (reporting its byte
 * count on the way) may have written part of the data. */
static int send_to(client_t *c, const void *data, size_t len) {
    if (!c->conn)
        return -EPIPE;
    size_t before = c->expected.len;
    bytes_add(&c->expected, data, len);
    int err = mux_conn_send(c->conn, data, len);
    CHECK(err == 0 || err == -EPIPE || err == -ENOBUFS || err == -ENOMEM);
    if (err < 0 && c->closed)
        c->lossy = true;
    else if (err < 0)
        c->expected.len = before; /* refused, nothing written */
    return err;
}

static void close_conn(client_t *c, bool now) {
    if (!c->conn)
        return;
    if (now)
        c->lossy = true;
    mux_conn_close(c->conn, now ? MUX_CLOSE_NOW : MUX_CLOSE_AFTER_FLUSH);
}

static void send_big(client_t *c) {
    size_t len = st.max_output * (1 + tape_byte() % 20);
    char *buf = malloc(len);
    CHECK(buf != NULL);
    fill_pattern(buf, len, 0);
    send_to(c, buf, len);
    free(buf);
}

static void greet(mux_conn_t *conn, void *arg) {
    client_t *c = client_of(conn);
    send_to(c, arg, strlen(arg));
}

/* After close: sending is refused, closing again is harmless. */
static void close_then_send(client_t *c) {
    close_conn(c, false);
    if (!c->conn)
        return;
    CHECK(mux_conn_send(c->conn, "late", 4) == -EPIPE);
    mux_conn_close(c->conn, MUX_CLOSE_AFTER_FLUSH);
}

/* One fuzzed decision of a callback for `self` (may be closed by now). */
static void act(client_t *self, bool in_close) {
    uint8_t b = tape_byte();
    client_t *other = &st.clients[tape_byte() % MAX_CLIENTS];
    switch (b % 16) {
    case 8:
        close_conn(self, false);
        break;
    case 9:
        close_conn(self, true);
        break;
    case 10:
        send_to(other, "from another\n", 13);
        break;
    case 11:
        close_conn(other, b & 0x80);
        break;
    case 12:
        send_big(self);
        break;
    case 13:
        mux_server_foreach(st.server, greet, "to all\n");
        break;
    case 14:
        if (!in_close && !st.in_free) {
            st.shutdown = true;
            mux_server_shutdown(st.server, b & 0x80 ? 60000 : 0);
        }
        break;
    case 15:
        close_then_send(self);
        break;
    default: /* mostly: nothing more */
        break;
    }
}

/* ------------------------------------------------------------------ */
/* Service callbacks                                                   */
/* ------------------------------------------------------------------ */

/* The client a new connection belongs to: the one being served, or the
 * oldest one waiting in the listener's backlog (accept is FIFO). */
static client_t *take_client(void) {
    client_t *c = st.opening;
    st.opening = NULL;
    if (!c && st.nbacklog > 0) {
        c = st.backlog[0];
        memmove(st.backlog, st.backlog + 1,
                (size_t)--st.nbacklog * sizeof(st.backlog[0]));
    }
    CHECK(c != NULL && !c->opened && !c->refused);
    return c;
}

static void on_open(mux_conn_t *conn) {
    client_t *c = take_client();
    c->opened = true;
    c->conn = conn;
    mux_conn_set_data(conn, c);
    send_to(c, "", 0); /* nothing to send; may find the client gone */
}

static void on_open_scripted(mux_conn_t *conn) {
    on_open(conn);
    client_t *c = mux_conn_data(conn); /* the connection may be closed */
    if (tape_byte() & 1)
        send_to(c, "hello\n", 6);
    act(c, false);
}

/* A message must be the next bytes the client wrote; in line framing
 * followed by LF or CRLF, or be the last bytes when the client has shut
 * its side. */
static void check_message(client_t *c, const char *data, size_t len) {
    const bytes_t *w = &c->written;
    CHECK(c->delivered + len <= w->len);
    CHECK(len == 0 || !memcmp(w->data + c->delivered, data, len));
    size_t after = c->delivered + len;
    c->delivered = after;
    if (st.framing != MUX_FRAMING_LINE)
        return;
    CHECK(len <= st.max_line && !memchr(data, '\n', len));
    if (after < w->len && w->data[after] == '\n')
        c->delivered = after + 1;
    else if (after + 1 < w->len && w->data[after] == '\r' &&
             w->data[after + 1] == '\n')
        c->delivered = after + 2;
    else
        CHECK(after == w->len && (c->shut_wr || c->fd < 0));
}

static void on_message(mux_conn_t *conn, const char *data, size_t len) {
    client_t *c = client_of(conn);
    CHECK(len > 0 || st.framing == MUX_FRAMING_LINE);
    check_message(c, data, len);
    send_to(c, data, len);
}

static void on_message_scripted(mux_conn_t *conn, const char *data,
                                size_t len) {
    on_message(conn, data, len);
    act(mux_conn_data(conn), false);
}

static void on_eof(mux_conn_t *conn) {
    client_t *c = client_of(conn);
    CHECK(c->delivered == c->written.len);
    CHECK(c->shut_wr || c->fd < 0);
    uint8_t b = tape_byte();
    if (b % 4 == 1)
        send_to(c, "bye\n", 4);
    if (b % 4 != 3) /* 3: stay half-open */
        close_conn(c, b % 8 == 2);
    act(c, false);
}

static void on_drain(mux_conn_t *conn) {
    client_t *c = client_of(conn);
    CHECK(mux_conn_pending(conn) <= mux_conn_watermark(conn) / 2);
    if (c->produced >= 64 * 1024)
        return;
    char buf[4096];
    size_t len = 256 + (size_t)tape_byte() * 15;
    fill_pattern(buf, len, c->produced);
    c->produced += len;
    send_to(c, buf, len);
}

static void on_close(mux_conn_t *conn) {
    client_t *c = client_of(conn);
    if (mux_conn_pending(conn) > 0)
        c->lossy = true;
    c->closed = true;
    c->conn = NULL;
    CHECK(mux_conn_send(conn, "x", 1) == -EPIPE);
}

static void on_close_scripted(mux_conn_t *conn) {
    client_t *c = mux_conn_data(conn);
    on_close(conn);
    act(c, true);
}

static const mux_service_t services[] = {
    {.name = "fuzz-echo",
     .open = on_open,
     .message = on_message,
     .close = on_close},
    {.name = "fuzz-script",
     .open = on_open_scripted,
     .message = on_message_scripted,
     .eof = on_eof,
     .close = on_close_scripted},
    {.name = "fuzz-producer",
     .open = on_open_scripted,
     .message = on_message_scripted,
     .eof = on_eof,
     .drain = on_drain,
     .close = on_close_scripted},
};

/* ------------------------------------------------------------------ */
/* Server events                                                       */
/* ------------------------------------------------------------------ */

static void on_event(mux_server_t *server, const mux_event_t *ev, void *arg) {
    (void)server;
    (void)arg;
    client_t *c = ev->conn ? mux_conn_data(ev->conn) : NULL;
    if (ev->type == MUX_EV_CLOSE) {
        CHECK(c != NULL && c->closed && !c->close_event);
        c->close_event = true;
        CHECK(ev->bytes_in <= c->written.len);
        CHECK(ev->bytes_out <= c->expected.len);
    } else if (ev->type == MUX_EV_ERROR && ev->conn &&
               !strcmp(ev->reason, "line too long")) {
        char msg[80];
        int n = snprintf(msg, sizeof(msg),
                         "error: line too long (max %zu bytes)\n", st.max_line);
        CHECK(c != NULL);
        bytes_add(&c->expected, msg, (size_t)n);
        if (c->closed)
            c->lossy = true;
    } else if (ev->type == MUX_EV_REFUSE) {
        CHECK(ev->conn == NULL && !st.opening);
        c = take_client();
        c->refused = true;
        bytes_add(&c->expected, FULL_MESSAGE, strlen(FULL_MESSAGE));
    } else if (ev->type == MUX_EV_DONE) {
        CHECK(st.shutdown);
        st.done_events++;
        CHECK(st.done_events == 1);
    }
}

/* ------------------------------------------------------------------ */
/* The client side                                                     */
/* ------------------------------------------------------------------ */

static void add_client(void) {
    if (st.nclients == MAX_CLIENTS || st.shutdown)
        return;
    client_t *c = &st.clients[st.nclients++];
    int sv[2], size = 4096;
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    /* A small socket buffer brings the output queue into play. */
    CHECK(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)) == 0);
    CHECK(fcntl(sv[1], F_SETFL, O_NONBLOCK) == 0);
    c->fd = sv[1];
    st.opening = c;
    CHECK(mux_server_serve_fd(st.server, sv[0]) == 0);
    CHECK(st.opening == NULL && c->opened);
}

static void listener_address(struct sockaddr_un *sun, socklen_t *len) {
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    /* Abstract (Linux): no file to clean up, gone with the last fd. */
    int n = snprintf(sun->sun_path + 1, sizeof(sun->sun_path) - 1,
                     "mux-fuzz-%ld", (long)getpid());
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

/* A bound, not yet listening socket: mux_server_adopt makes it listen. */
static void adopt_listener(void) {
    struct sockaddr_un sun;
    socklen_t len;
    listener_address(&sun, &len);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0);
    CHECK(bind(fd, (struct sockaddr *)&sun, len) == 0);
    CHECK(mux_server_adopt(st.server, fd) == 0);
    st.listening = true;
}

/* Connects a client through the listener; it waits in the backlog until
 * the loop accepts (or refuses) it. */
static void connect_client(void) {
    if (!st.listening || st.shutdown || st.nclients == MAX_CLIENTS)
        return;
    struct sockaddr_un sun;
    socklen_t len;
    listener_address(&sun, &len);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    CHECK(fd >= 0);
    if (connect(fd, (struct sockaddr *)&sun, len) < 0) {
        CHECK(errno == EAGAIN);
        close(fd);
        return;
    }
    client_t *c = &st.clients[st.nclients++];
    c->fd = fd;
    st.backlog[st.nbacklog++] = c;
}

static void client_write(client_t *c) {
    size_t len = 1 + next_op();
    size_t left = (size_t)(st.tape - st.ops);
    len = len < left ? len : left;
    const uint8_t *data = st.ops;
    st.ops += len;
    if (c->fd < 0 || c->shut_wr || len == 0)
        return;
    ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0)
        CHECK(errno == EAGAIN || errno == EPIPE || errno == ECONNRESET);
    else
        bytes_add(&c->written, data, (size_t)n);
}

/* Reads what is there; returns whether anything (data or EOF) came. */
static bool client_read(client_t *c) {
    char buf[4096];
    bool got = false;
    while (c->fd >= 0 && !c->eof_read) {
        ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0) {
            CHECK(errno == EAGAIN || errno == ECONNRESET);
            break;
        }
        got = true;
        if (n == 0) {
            c->eof_read = true;
            CHECK(c->lossy || c->received == c->expected.len);
            break;
        }
        CHECK(c->received + (size_t)n <= c->expected.len);
        CHECK(!memcmp(c->expected.data + c->received, buf, (size_t)n));
        c->received += (size_t)n;
    }
    return got;
}

static void client_shut(client_t *c) {
    if (c->fd >= 0 && !c->shut_wr && shutdown(c->fd, SHUT_WR) == 0)
        c->shut_wr = true;
}

static void client_close(client_t *c) {
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* The host closes a connection outside any callback. */
static void host_close(client_t *c, uint8_t how) { close_conn(c, how & 1); }

static void do_op(uint8_t op) {
    client_t *c = &st.clients[(op >> 3) % st.nclients];
    switch (op % 8) {
    case 0:
        client_write(c);
        break;
    case 1:
        client_shut(c);
        break;
    case 2:
        client_close(c);
        break;
    case 3:
        client_read(c);
        break;
    case 4:
        pump(st.loop, 1 + next_op() % 8);
        break;
    case 5:
        if (op & 0x80)
            connect_client();
        else
            add_client();
        break;
    case 6:
        if (!st.shutdown) {
            st.shutdown = true;
            mux_server_shutdown(st.server, next_op() & 1 ? 60000 : 0);
        }
        break;
    default:
        host_close(c, next_op());
        break;
    }
}

/* ------------------------------------------------------------------ */
/* One input                                                           */
/* ------------------------------------------------------------------ */

static size_t open_conns(void) {
    size_t n = 0;
    for (int i = 0; i < st.nclients; i++)
        n += st.clients[i].conn != NULL;
    return n;
}

/* Clients read until nothing moves, so the EOF checks get their chance. */
static void settle(void) {
    for (int round = 0; round < 64; round++) {
        bool moved = false;
        for (int i = 0; i < st.nclients; i++)
            moved |= client_read(&st.clients[i]);
        int ran = mux_run(st.loop, MUX_RUN_NOWAIT);
        CHECK(ran >= 0);
        if (!moved && ran == 0)
            break;
    }
}

static void teardown(void) {
    st.in_free = true;
    mux_server_free(st.server);
    for (int i = 0; i < st.nclients; i++) {
        client_t *c = &st.clients[i];
        /* Refused, or still in the backlog when the listener closed. */
        if (c->opened)
            CHECK(c->closed && c->close_event && !c->conn);
        client_close(c);
        bytes_free(&c->written);
        bytes_free(&c->expected);
    }
    mux_loop_free(st.loop);
}

static void run(const uint8_t *data, size_t size) {
    static const mux_framing framings[] = {MUX_FRAMING_RAW, MUX_FRAMING_LINE};
    mux_server_opts_t opts = {.on_event = on_event,
                              .full_message = FULL_MESSAGE};
    st.framing = opts.framing = framings[(data[0] >> 4) % 2];
    st.max_output = opts.max_output = (size_t)64 << (data[1] % 7);
    st.max_line = opts.max_line = 1 + data[2] % 64;
    opts.max_clients = data[2] >> 6 ? 1u + (data[2] >> 6) : 0;
    CHECK(mux_loop_new(&st.loop) == 0);
    CHECK(mux_server_new(st.loop, &services[data[0] % 3], &opts, &st.server) ==
          0);
    st.ops = data + 4;
    st.tape = data + size;
    if (data[3] & 0x40)
        adopt_listener();
    for (int i = 0; i < 1 + data[3] % 4; i++)
        add_client();
    while (ops_left()) {
        do_op(next_op());
        CHECK(mux_server_clients(st.server) == open_conns());
    }
    settle();
    if (data[3] & 0x80) { /* every client says goodbye and reads the rest */
        for (int i = 0; i < st.nclients; i++)
            client_shut(&st.clients[i]);
        settle();
    }
    CHECK(mux_server_clients(st.server) == open_conns());
    teardown();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4)
        return 0;
    fd_snapshot_t fds = fd_snapshot(-1);
    memset(&st, 0, sizeof(st));
    for (int i = 0; i < MAX_CLIENTS; i++)
        st.clients[i].fd = -1;
    run(data, size);
    check_no_fd_leak(fds);
    return 0;
}
