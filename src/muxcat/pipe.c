/*
 * pipe.c -- muxcat HOST PORT: stdin to the socket, the socket to stdout.
 *
 * Stream: when stdin ends and everything is sent, the write side is shut
 * (the server sees end of file) and muxcat reads on until the server
 * closes, or until the server has been quiet for -w seconds (without
 * --until-close that ends the run normally, with it that is a failure).
 *
 * Datagram: each read from stdin is one datagram. After stdin ends muxcat
 * waits until every datagram got a reply, or until the server has been
 * quiet for -w seconds.
 *
 * Each direction has one fixed buffer; a side is read only while the
 * buffer it fills has room, so a slow reader slows the writer down instead
 * of growing memory.
 */
#define _POSIX_C_SOURCE 200809L

#include "muxcat.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The largest UDP payload: a datagram read from stdin is at most this. */
#define MAX_DATAGRAM 65507

typedef struct {
    const muxcat_opts_t *opts;
    mux_loop_t *loop;
    int sock; /* -1 until connected */
    bool dgram;
    bool in_eof;   /* stdin is no longer read */
    bool shut;     /* stdin ended and everything read from it was sent */
    bool sock_eof; /* the socket is no longer read */
    bool done;
    uint64_t sent, answered; /* datagrams */
    mux_timer_t timer;       /* how long the server may stay quiet */
    int status;
    muxcat_buf_t to_sock, to_out;
} pipe_t;

static void update(pipe_t *p);

static void finish(pipe_t *p) {
    p->done = true;
    mux_timer_stop(&p->timer);
    mux_unwatch(p->loop, STDIN_FILENO);
    mux_unwatch(p->loop, STDOUT_FILENO);
    if (p->sock >= 0)
        mux_unwatch(p->loop, p->sock);
    mux_stop(p->loop);
}

/* A failure (already reported): stop reading and sending, flush what was
 * received. */
static void fail(pipe_t *p) {
    p->status = MUXCAT_EXIT_FAIL;
    p->in_eof = p->shut = p->sock_eof = true;
    p->to_sock.len = 0;
}

static bool has_room(pipe_t *p, muxcat_buf_t *buf);

static void on_quiet(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    pipe_t *p = arg;
    (void)loop;
    if (!has_room(p, &p->to_out)) { /* we are not reading: stdout is slow */
        mux_timer_start(timer, p->opts->wait_ms, 0);
        return;
    }
    if (p->opts->until_close) {
        muxcat_error("%s: the server did not close the connection "
                     "(quiet for %.3g s)",
                     p->opts->target, (double)p->opts->wait_ms / 1000.0);
        p->status = MUXCAT_EXIT_FAIL;
    }
    p->sock_eof = true;
    update(p);
}

/* Something moved after stdin ended: the server gets -w seconds more. */
static void still_busy(pipe_t *p) {
    if (mux_timer_active(&p->timer))
        mux_timer_start(&p->timer, p->opts->wait_ms, 0);
}

/* Stdin ended and all of it is sent: tell the server, start the clock. */
static void shut_write(pipe_t *p) {
    p->shut = true;
    if (!p->dgram)
        shutdown(p->sock, SHUT_WR); /* fails only if the peer is gone */
    int err = mux_timer_start(&p->timer, p->opts->wait_ms, 0);
    if (err < 0) {
        muxcat_error("cannot start a timer: %s", mux_strerror(err));
        fail(p);
    }
}

static void on_stdin(mux_loop_t *loop, int fd, int events, void *arg) {
    pipe_t *p = arg;
    (void)loop;
    (void)events;
    ssize_t n = muxcat_buf_read(&p->to_sock, fd, MAX_DATAGRAM);
    if (n == 0)
        p->in_eof = true;
    else if (n < 0 && n != -EAGAIN) {
        muxcat_error("cannot read stdin: %s", mux_strerror((int)n));
        fail(p);
    }
    update(p);
}

static void send_stream(pipe_t *p) {
    ssize_t n = muxcat_buf_write(&p->to_sock, p->sock, true);
    if (n == -EPIPE || n == -ECONNRESET) {
        /* The server stopped reading; what it sends may still come. */
        p->to_sock.len = 0;
        p->in_eof = true;
    } else if (n < 0 && n != -EAGAIN) {
        muxcat_socket_failed(p->opts, (int)n);
        fail(p);
    }
}

static void send_datagram(pipe_t *p) {
    ssize_t n = send(p->sock, p->to_sock.data + p->to_sock.off, p->to_sock.len,
                     MSG_NOSIGNAL);
    if (n >= 0) {
        p->to_sock.len = 0;
        p->sent++;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        muxcat_socket_failed(p->opts, -errno);
        fail(p);
    }
}

static void receive(pipe_t *p) {
    ssize_t n = muxcat_buf_read(&p->to_out, p->sock, MUXCAT_BUF_SIZE);
    if (n > 0 || (n == 0 && p->dgram)) { /* a datagram may be empty */
        p->answered++;
        still_busy(p);
    } else if (n == 0) {
        p->sock_eof = true;
    } else if (n < 0 && n != -EAGAIN) {
        muxcat_socket_failed(p->opts, (int)n);
        fail(p);
    }
}

static void on_socket(mux_loop_t *loop, int fd, int events, void *arg) {
    pipe_t *p = arg;
    (void)loop;
    (void)fd;
    if ((events & MUX_WRITE) && p->to_sock.len > 0)
        p->dgram ? send_datagram(p) : send_stream(p);
    if ((events & MUX_READ) && !p->sock_eof)
        receive(p);
    update(p);
}

static void on_stdout(mux_loop_t *loop, int fd, int events, void *arg) {
    pipe_t *p = arg;
    (void)loop;
    (void)events;
    ssize_t n = muxcat_buf_write(&p->to_out, fd, false);
    if (n > 0) {
        still_busy(p);
    } else if (n < 0 && n != -EAGAIN) {
        muxcat_error("cannot write to stdout: %s", mux_strerror((int)n));
        p->status = MUXCAT_EXIT_FAIL;
        finish(p);
        return;
    }
    update(p);
}

/* A datagram is read only into an empty buffer, so it always fits. */
static bool has_room(pipe_t *p, muxcat_buf_t *buf) {
    return p->dgram ? buf->len == 0 : muxcat_buf_space(buf) > 0;
}

/* After anything happened: half-close, finish, or watch what can move. */
static void update(pipe_t *p) {
    if (p->done)
        return;
    if (p->in_eof && !p->shut && p->to_sock.len == 0)
        shut_write(p);
    bool all_answered = p->dgram && p->shut && p->answered >= p->sent;
    if ((p->sock_eof || all_answered) && p->to_out.len == 0) {
        finish(p);
        return;
    }
    int in = !p->in_eof && has_room(p, &p->to_sock) ? MUX_READ : 0;
    int sock = !p->sock_eof && has_room(p, &p->to_out) ? MUX_READ : 0;
    if (p->to_sock.len > 0)
        sock |= MUX_WRITE;
    mux_watch_events(p->loop, STDIN_FILENO, in);
    mux_watch_events(p->loop, p->sock, sock);
    mux_watch_events(p->loop, STDOUT_FILENO, p->to_out.len ? MUX_WRITE : 0);
}

static void on_connected(mux_loop_t *loop, int fd, void *arg) {
    pipe_t *p = arg;
    int err;
    p->sock = fd;
    mux_timer_init(&p->timer, loop, on_quiet, p);
    if ((err = mux_watch(loop, fd, 0, on_socket, p)) < 0 ||
        (err = mux_watch(loop, STDOUT_FILENO, 0, on_stdout, p)) < 0 ||
        (err = mux_watch(loop, STDIN_FILENO, 0, on_stdin, p)) < 0) {
        muxcat_error("cannot watch a descriptor: %s", mux_strerror(err));
        p->status = MUXCAT_EXIT_FAIL;
        finish(p);
        return;
    }
    update(p);
}

int muxcat_pipe(const muxcat_opts_t *opts) {
    pipe_t *p = calloc(1, sizeof(*p));
    if (!p) {
        muxcat_error("out of memory");
        return MUXCAT_EXIT_FAIL;
    }
    p->opts = opts;
    p->sock = -1;
    p->dgram = opts->addr.transport == MUX_UDP;
    if (muxcat_session(opts, &p->loop, on_connected, p) < 0)
        p->status = MUXCAT_EXIT_FAIL;
    if (p->sock >= 0)
        close(p->sock);
    int status = p->status;
    free(p);
    return status;
}
