/*
 * connect.c -- resolving the target before the loop runs, then connecting
 * inside the loop: a non-blocking connect() per resolved address, finished
 * when the socket turns writable, each attempt bounded by -w.
 */
#define _POSIX_C_SOURCE 200809L

#include "muxcat.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    mux_loop_t *loop;
    const muxcat_opts_t *opts;
    size_t next;         /* the next address to try */
    int fd;              /* the attempt under way, or -1 */
    int err;             /* why the last attempt failed */
    mux_timer_t timeout; /* of the attempt under way */
    mux_timer_t start;   /* runs the first attempt inside the loop */
    muxcat_connected_cb *cb;
    void *arg;
    bool failed; /* every address failed */
} connector_t;

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

/* A socket for `sa`: non-blocking and close-on-exec. Returns fd or -errno. */
static int open_socket(const mux_sockaddr_t *sa) {
    int fd = socket(sa->family, sa->socktype, 0);
    if (fd < 0)
        return -errno;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

/* Ends the attempt: the callback gets the socket, or the error is told. */
static void finish(connector_t *c, int fd, int err) {
    mux_timer_stop(&c->timeout);
    if (fd < 0) {
        if (err == -ECONNRESET) /* it connected: no "cannot connect" */
            muxcat_socket_failed(c->opts, err);
        else
            muxcat_connect_failed(c->opts, err);
        c->failed = true;
        mux_stop(c->loop);
        return;
    }
    c->cb(c->loop, fd, c->arg);
}

/* Gives up the attempt under way, remembering why. */
static void abandon(connector_t *c, int err) {
    mux_unwatch(c->loop, c->fd);
    close(c->fd);
    c->fd = -1;
    c->err = err;
    mux_timer_stop(&c->timeout);
}

static void on_timeout(mux_loop_t *loop, mux_timer_t *timer, void *arg);
static void on_writable(mux_loop_t *loop, int fd, int events, void *arg);

/* Starts one address; false if it failed at once (c->err says why). */
static bool attempt(connector_t *c, const mux_sockaddr_t *sa) {
    int fd = open_socket(sa);
    if (fd < 0) {
        c->err = fd;
        return false;
    }
    c->fd = fd;
    int err = 0;
    if (connect(fd, (const struct sockaddr *)&sa->sa, sa->len) < 0 &&
        errno != EINPROGRESS && errno != EINTR)
        err = -errno;
    if (err == 0)
        err = mux_watch(c->loop, fd, MUX_WRITE, on_writable, c);
    if (err == 0)
        err = mux_timer_start(&c->timeout, c->opts->wait_ms, 0);
    if (err < 0) {
        abandon(c, err);
        return false;
    }
    return true;
}

/* Tries the remaining addresses; reports failure when none is left. */
static void try_next(connector_t *c) {
    while (c->next < c->opts->nresolved)
        if (attempt(c, &c->opts->resolved[c->next++]))
            return;
    finish(c, -1, c->err ? c->err : -EHOSTUNREACH);
}

/* Writable: the connect() finished, well or badly (SO_ERROR says). */
static void on_writable(mux_loop_t *loop, int fd, int events, void *arg) {
    connector_t *c = arg;
    (void)events;
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        soerr = errno;
    if (soerr == ECONNRESET) {
        /* Connected, then reset before we looked (a server that resets at
         * once): the connection was made, so no other address is tried. */
        abandon(c, -soerr);
        finish(c, -1, -soerr);
        return;
    }
    if (soerr != 0) {
        abandon(c, -soerr);
        try_next(c);
        return;
    }
    mux_unwatch(loop, fd);
    c->fd = -1;
    finish(c, fd, 0);
}

static void on_timeout(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    connector_t *c = arg;
    (void)loop;
    (void)timer;
    abandon(c, -ETIMEDOUT);
    try_next(c);
}

/* The first attempt starts from the loop, so `cb` always runs inside it. */
static void on_start(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    connector_t *c = arg;
    (void)loop;
    (void)timer;
    try_next(c);
}

int muxcat_session(const muxcat_opts_t *opts, mux_loop_t **loop,
                   muxcat_connected_cb *cb, void *arg) {
    connector_t c = {.opts = opts, .fd = -1, .cb = cb, .arg = arg};
    int err = mux_loop_new(&c.loop);
    *loop = c.loop;
    if (err == 0) {
        mux_timer_init(&c.timeout, c.loop, on_timeout, &c);
        mux_timer_init(&c.start, c.loop, on_start, &c);
        err = mux_timer_start(&c.start, 0, 0);
    }
    if (err == 0)
        err = mux_run(c.loop, MUX_RUN_DEFAULT);
    if (err < 0)
        muxcat_error("event loop failed: %s", mux_strerror(err));
    mux_loop_free(c.loop);
    *loop = NULL;
    return err < 0 || c.failed ? -1 : 0;
}
