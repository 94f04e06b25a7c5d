/*
 * connect.c -- outbound connects without blocking: a non-blocking connect()
 * to each resolved address in turn, finished when the socket turns
 * writable (SO_ERROR says how), each attempt bounded by a timer. The
 * result always reaches the caller from inside the loop.
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct mux_connect {
    mux_loop_t *loop;
    mux_connect_cb *cb;
    void *arg;
    uint64_t timeout_ms; /* per attempt; 0: none */
    /* The attempt's timeout; with no attempt under way (fd -1), a 0 ms
     * wake-up that reports a failure found inside mux_connect(). */
    mux_timer_t timer;
    int fd;         /* the attempt under way, or -1 */
    int err;        /* why the last attempt failed */
    bool reporting; /* the callback runs: cancelling is a no-op */
    size_t next;    /* the next address to try */
    size_t naddrs;
    mux_sockaddr_t addrs[]; /* copied from the caller */
};

/* Runs the callback once, then releases the connector. */
static void report(mux_connect_t *c, int fd, int err) {
    mux_timer_stop(&c->timer);
    c->reporting = true;
    c->cb(c->loop, fd, err, c->arg);
    free(c);
}

/* Gives up the attempt under way, remembering why (err < 0). */
static void abandon(mux_connect_t *c, int err) {
    assert(c->fd >= 0);
    mux_unwatch(c->loop, c->fd);
    mux__close(c->fd);
    c->fd = -1;
    c->err = err;
    mux_timer_stop(&c->timer);
}

static void on_writable(mux_loop_t *loop, int fd, int events, void *arg);

/*
 * Starts a non-blocking connect() to `sa`. An address that fails at once
 * (a unix path nobody listens on, a family the system lacks) counts as a
 * failed attempt. Returns 0 with c->fd watched and timed, or -errno with
 * nothing left open.
 */
static int attempt(mux_connect_t *c, const mux_sockaddr_t *sa) {
    assert(c->fd < 0); /* one attempt at a time */
    int fd = mux__fd_socket(sa->family, sa->socktype);
    if (fd < 0)
        return fd;
    c->fd = fd;
    int err = 0;
    /* EINTR: the connect goes on asynchronously, as after EINPROGRESS. */
    if (connect(fd, (const struct sockaddr *)&sa->sa, sa->len) < 0 &&
        errno != EINPROGRESS && errno != EINTR)
        err = -errno;
    /* Even a connect() done at once (UDP) reports from the loop. */
    if (err == 0)
        err = mux_watch(c->loop, fd, MUX_WRITE, on_writable, c);
    if (err == 0 && c->timeout_ms)
        err = mux_timer_start(&c->timer, c->timeout_ms, 0);
    if (err < 0)
        abandon(c, err);
    return err;
}

/* Starts the next address that does not fail at once; false when none is
 * left (c->err holds the last failure). */
static bool try_next(mux_connect_t *c) {
    while (c->next < c->naddrs) {
        int err = attempt(c, &c->addrs[c->next++]);
        if (err == 0)
            return true;
        c->err = err;
    }
    return false;
}

/* An attempt failed with `err`: on to the next address, or report. */
static void retry(mux_connect_t *c, int err) {
    abandon(c, err);
    if (!try_next(c))
        report(c, -1, c->err);
}

/* Writable: the connect() finished, well or badly (SO_ERROR says). */
static void on_writable(mux_loop_t *loop, int fd, int events, void *arg) {
    mux_connect_t *c = arg;
    MUX__UNUSED(events);
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        soerr = errno;
    if (soerr == EINPROGRESS || soerr == EALREADY)
        return; /* spurious readiness: still connecting */
    if (soerr != 0 && soerr != ECONNRESET && soerr != EPIPE) {
        retry(c, -soerr);
        return;
    }
    /* Connected; a reset since then is the connection's, not the
     * connect's (see mux_connect_cb): no other address is tried. */
    mux_unwatch(loop, fd);
    c->fd = -1;
    report(c, fd, -soerr);
}

static void on_timer(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    mux_connect_t *c = arg;
    MUX__UNUSED(loop);
    MUX__UNUSED(timer);
    if (c->fd >= 0)
        retry(c, -ETIMEDOUT);
    else
        report(c, -1, c->err); /* every address failed in mux_connect() */
}

int mux_connect(mux_loop_t *loop, const mux_sockaddr_t *addrs, size_t naddrs,
                uint64_t timeout_ms, mux_connect_cb *cb, void *arg,
                mux_connect_t **out) {
    if (!loop || !addrs || !cb || naddrs == 0)
        return -EINVAL;
    if (naddrs > (SIZE_MAX - sizeof(mux_connect_t)) / sizeof(*addrs))
        return -ENOMEM;
    mux_connect_t *c = malloc(sizeof(*c) + naddrs * sizeof(*addrs));
    if (!c)
        return -ENOMEM;
    *c = (mux_connect_t){.loop = loop,
                         .cb = cb,
                         .arg = arg,
                         .timeout_ms = timeout_ms,
                         .fd = -1,
                         .naddrs = naddrs};
    memcpy(c->addrs, addrs, naddrs * sizeof(*addrs));
    mux_timer_init(&c->timer, loop, on_timer, c);
    if (!try_next(c)) {
        /* Every address failed at once: report from the loop all the same. */
        int err = mux_timer_start(&c->timer, 0, 0);
        if (err < 0) {
            free(c);
            return err;
        }
    }
    if (out)
        *out = c;
    return 0;
}

void mux_connect_cancel(mux_connect_t *connector) {
    if (!connector || connector->reporting)
        return;
    if (connector->fd >= 0)
        abandon(connector, 0);
    mux_timer_stop(&connector->timer);
    free(connector);
}
