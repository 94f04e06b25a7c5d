/*
 * connect.c -- resolving the target before the loop runs, then connecting
 * inside the loop with libmux's mux_connect() (each resolved address in
 * turn, each attempt bounded by -w), the messages when that fails, and the
 * time limit of the whole run (-m), which every mode shares this way.
 */
#define _POSIX_C_SOURCE 200809L

#include "muxcat.h"

#include <errno.h>
#include <unistd.h>

typedef struct {
    const muxcat_opts_t *opts;
    muxcat_connected_cb *cb;
    void *arg;
    mux_connect_t *pending; /* until on_connect() runs */
    bool failed; /* the connect failed, the connection right after, or -m */
    mux_timer_t limit; /* -m: armed from the start, if given */
} session_t;

int muxcat_resolve_target(muxcat_opts_t *opts) {
    int n = mux_addr_resolve(&opts->addr, 0, opts->resolved, MUXCAT_MAX_ADDRS);
    if (n < 0) {
        muxcat_error("cannot resolve %s: %s", opts->target, mux_strerror(n));
        return -1;
    }
    opts->nresolved = (size_t)n;
    return 0;
}

void muxcat_connect_failed(const muxcat_opts_t *opts, int err) {
    muxcat_error("cannot connect to %s: %s", opts->target, mux_strerror(err));
}

void muxcat_socket_failed(const muxcat_opts_t *opts, int err) {
    if (err == -ECONNREFUSED)
        muxcat_connect_failed(opts, err);
    else
        muxcat_error("%s: %s", opts->target, mux_strerror(err));
}

/* The result of mux_connect(): the mode takes over a connected socket. */
static void on_connect(mux_loop_t *loop, int fd, int err, void *arg) {
    session_t *s = arg;
    s->pending = NULL;
    if (fd >= 0 && err == 0) {
        s->cb(loop, fd, s->arg);
        return;
    }
    if (fd >= 0) { /* connected, then reset: no "cannot connect" */
        muxcat_socket_failed(s->opts, err);
        close(fd);
    } else {
        muxcat_connect_failed(s->opts, err);
    }
    s->failed = true;
    mux_stop(loop);
}

/* -m ran out: stop wherever the mode is (a server that trickles forever
 * never lets the quiet time of -w end the run). */
static void on_limit(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    session_t *s = arg;
    (void)timer;
    muxcat_error("%s: time limit (%.3g s) reached", s->opts->target,
                 (double)s->opts->max_time_ms / 1e3);
    s->failed = true;
    mux_stop(loop);
}

static int start_limit(session_t *s, mux_loop_t *loop) {
    mux_timer_init(&s->limit, loop, on_limit, s);
    if (s->opts->max_time_ms == 0)
        return 0;
    return mux_timer_start(&s->limit, s->opts->max_time_ms, 0);
}

int muxcat_session(const muxcat_opts_t *opts, mux_loop_t **loop,
                   muxcat_connected_cb *cb, void *arg) {
    session_t s = {.opts = opts, .cb = cb, .arg = arg};
    int err = mux_loop_new(loop);
    if (err == 0)
        err = start_limit(&s, *loop);
    if (err == 0)
        err = mux_connect(*loop, opts->resolved, opts->nresolved, opts->wait_ms,
                          on_connect, &s, &s.pending);
    if (err == 0)
        err = mux_run(*loop, MUX_RUN_DEFAULT);
    if (err < 0)
        muxcat_error("event loop failed: %s", mux_strerror(err));
    mux_connect_cancel(s.pending); /* the loop failed, or -m, connecting */
    mux_loop_free(*loop);
    *loop = NULL;
    return err < 0 || s.failed ? -1 : 0;
}
