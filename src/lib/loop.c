/*
 * loop.c -- the event loop: fd watchers, the run modes and the phases of
 * a turn, deferred frees, the clock it caches, and the memory every stream
 * shares (the scratch buffer, the spare connections).
 *
 * A turn: wait in the poller (poll_select.c) until the nearest timer
 * (timer.c), dispatch the ready fds in fd order, run due timers, run
 * deferred frees. Signals (signal.c) are watchers of the self-pipe.
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

struct mux__deferred {
    void (*fn)(void *);
    void *ptr;
};

uint64_t mux_now(const mux_loop_t *loop) {
    mux_loop_t *l = (mux_loop_t *)loop; /* a cache: no loop is const */
    if (l->now_stale) {
        l->now = mux__clock_ns();
        l->now_stale = false;
    }
    return l->now / MUX__NS_PER_MS;
}

/* The clock, read now (timers need it exact). */
static void update_now(mux_loop_t *loop) {
    loop->now = mux__clock_ns();
    loop->now_stale = false;
}

char *mux__loop_scratch(mux_loop_t *loop) { return loop->scratch; }

void *mux__loop_take_spare(mux_loop_t *loop) {
    return loop->nspares > 0 ? loop->spares[--loop->nspares] : NULL;
}

bool mux__loop_keep_spare(mux_loop_t *loop, void *block) {
    if (MUX__SANITIZED || loop->nspares == MUX__SPARE_CONNS)
        return false; /* sanitized: every free is a free, for ASan to see */
    loop->spares[loop->nspares++] = block;
    return true;
}

/* ------------------------------------------------------------------ */
/* Creation                                                            */
/* ------------------------------------------------------------------ */

static int grow_fds(mux_loop_t *loop, int fd);

/* The self-pipe signal.c's handler writes to. Returns 0 or -errno. */
static int open_signal_pipe(mux_loop_t *loop) {
    int fds[2];
    if (pipe(fds) < 0)
        return -errno;
    int *ends = loop->signals.pipe;
    ends[0] = mux__fd_prepare(fds[0]);
    ends[1] = mux__fd_prepare(fds[1]);
    if (ends[0] < 0 || ends[1] < 0) {
        int err = ends[0] < 0 ? ends[0] : ends[1];
        if (ends[0] >= 0)
            mux__close(ends[0]);
        if (ends[1] >= 0)
            mux__close(ends[1]);
        return err;
    }
    return 0;
}

int mux_loop_new(mux_loop_t **out) {
    mux_loop_t *loop = calloc(1, sizeof(*loop));
    if (!loop)
        return -ENOMEM;
    loop->maxfd = -1;
    loop->now = mux__clock_ns();
    if (grow_fds(loop, FD_SETSIZE - 1) < 0) { /* what most loops need */
        free(loop);
        return -ENOMEM;
    }
    int err = open_signal_pipe(loop);
    if (err < 0) {
        mux__poll_free(&loop->poll);
        free(loop);
        return err;
    }
    *out = loop;
    return 0;
}

static void run_deferred(mux_loop_t *loop);

void mux_loop_free(mux_loop_t *loop) {
    if (!loop)
        return;
    if (loop->signals.release)
        loop->signals.release(loop);
    run_deferred(loop);
    while (loop->nspares > 0)
        free(loop->spares[--loop->nspares]);
    mux__timers_free(&loop->timers);
    free(loop->deferred);
    mux__close(loop->signals.pipe[0]);
    mux__close(loop->signals.pipe[1]);
    mux__poll_free(&loop->poll);
    free(loop);
}

/* ------------------------------------------------------------------ */
/* fd watchers                                                         */
/* ------------------------------------------------------------------ */

static int reserve_deferred(mux_loop_t *loop);

/* Room in the poller for `fd`. Its old block is freed at the end of the
 * turn (the turn still reads it); the room for that is made first, so
 * that a failure leaves the loop unchanged. Returns 0 or -errno. */
static MUX__COLD int grow_fds(mux_loop_t *loop, int fd) {
    if (loop->poll.capacity > 0 && loop->depth > 0) {
        int err = reserve_deferred(loop);
        if (err < 0)
            return err;
    }
    void *old;
    int err = mux__poll_grow(&loop->poll, fd, &old);
    if (err < 0)
        return err;
    if (old)
        (void)mux__defer(loop, free, old); /* room made: cannot fail */
    return 0;
}

/* The watcher of `fd`, or NULL if it is not watched. */
static mux__watcher_t *watcher_of(mux_loop_t *loop, int fd) {
    if (fd < 0 || fd >= loop->poll.capacity || !loop->poll.watchers[fd].cb)
        return NULL;
    return &loop->poll.watchers[fd];
}

int mux_watch(mux_loop_t *loop, int fd, int events, mux_io_cb *cb, void *arg) {
    if (fd < 0)
        return -EBADF;
    if (!cb || (events & ~(MUX_READ | MUX_WRITE)))
        return -EINVAL;
    if (fd >= loop->poll.capacity) {
        int err = grow_fds(loop, fd);
        if (err < 0)
            return err;
    }
    mux__watcher_t *w = &loop->poll.watchers[fd];
    if (!w->cb) {
        w->added_turn = loop->turn;
        loop->nwatched++;
        if (fd > loop->maxfd)
            loop->maxfd = fd;
    }
    w->cb = cb;
    w->arg = arg;
    mux__poll_interest(&loop->poll, fd, events);
    return 0;
}

int mux_watch_events(mux_loop_t *loop, int fd, int events) {
    if (!watcher_of(loop, fd))
        return -ENOENT;
    if (events & ~(MUX_READ | MUX_WRITE))
        return -EINVAL;
    mux__poll_interest(&loop->poll, fd, events);
    return 0;
}

int mux_unwatch(mux_loop_t *loop, int fd) {
    mux__watcher_t *w = watcher_of(loop, fd);
    if (!w)
        return -ENOENT;
    mux__poll_interest(&loop->poll, fd, 0);
    w->cb = NULL;
    w->arg = NULL;
    loop->nwatched--;
    while (loop->maxfd >= 0 && !loop->poll.watchers[loop->maxfd].cb)
        loop->maxfd--;
    return 0;
}

int mux_loop_maxfd(const mux_loop_t *loop) { return loop->maxfd; }

/* ------------------------------------------------------------------ */
/* Deferred frees                                                      */
/* ------------------------------------------------------------------ */

/* Room for one more deferred call. Returns 0 or -ENOMEM. */
static int reserve_deferred(mux_loop_t *loop) {
    if (loop->ndeferred < loop->deferred_cap)
        return 0;
    size_t cap = loop->deferred_cap ? loop->deferred_cap * 2 : 16;
    struct mux__deferred *d = realloc(loop->deferred, cap * sizeof(*d));
    if (!d)
        return -ENOMEM;
    loop->deferred = d;
    loop->deferred_cap = cap;
    return 0;
}

int mux__defer(mux_loop_t *loop, void (*fn)(void *), void *ptr) {
    if (loop->depth == 0) {
        fn(ptr);
        return 0;
    }
    int err = reserve_deferred(loop);
    if (err < 0)
        return err;
    loop->deferred[loop->ndeferred++] = (struct mux__deferred){fn, ptr};
    return 0;
}

/* Runs outside any turn (depth 0), so these functions cannot defer more. */
static void run_deferred(mux_loop_t *loop) {
    for (size_t i = 0; i < loop->ndeferred; i++)
        loop->deferred[i].fn(loop->deferred[i].ptr);
    loop->ndeferred = 0;
}

void mux__loop_hold(mux_loop_t *loop) { loop->depth++; }

void mux__loop_release(mux_loop_t *loop) {
    if (--loop->depth == 0)
        run_deferred(loop);
}

/* ------------------------------------------------------------------ */
/* Turns                                                               */
/* ------------------------------------------------------------------ */

/* The wait until the nearest timer, in *tv (microseconds, rounded up:
 * select() never wakes before it, and a due timer is never missed), or
 * false if there is no timer. */
static bool next_timeout(const mux_loop_t *loop, struct timeval *tv) {
    uint64_t deadline;
    if (!mux__timers_nearest(&loop->timers, &deadline))
        return false;
    uint64_t ns = deadline > loop->now ? deadline - loop->now : 0;
    uint64_t us = ns / 1000u + (ns % 1000u != 0);
    /* At most 10^8 s a wait (what every select() takes, whatever its
     * time_t): a farther deadline is looked at again then. */
    if (us > UINT64_C(100000000) * 1000000u)
        us = UINT64_C(100000000) * 1000000u;
    tv->tv_sec = (time_t)(us / 1000000u);
    tv->tv_usec = (suseconds_t)(us % 1000000u);
    return true;
}

int mux_prepare_sized(mux_loop_t *loop, fd_set *rd, fd_set *wr, int setsize,
                      int *maxfd, struct timeval *timeout) {
    if (setsize <= 0 || setsize % 64 != 0)
        return -EINVAL;
    if (loop->maxfd >= setsize)
        return -ERANGE;
    loop->turn++;
    update_now(loop);
    mux__poll_merge(&loop->poll, rd, wr, loop->maxfd);
    if (loop->maxfd > *maxfd)
        *maxfd = loop->maxfd;
    return next_timeout(loop, timeout) ? 1 : 0;
}

int mux_prepare(mux_loop_t *loop, fd_set *rd, fd_set *wr, int *maxfd,
                struct timeval *timeout) {
    return mux_prepare_sized(loop, rd, wr, FD_SETSIZE, maxfd, timeout);
}

/* Around the dispatch of what select() said: callbacks may ask the time
 * (read lazily: most turns never do) and free memory (deferred). */
static void begin_dispatch(mux_loop_t *loop) {
    mux__loop_hold(loop);
    loop->now_stale = true;
}

/* After it: due timers, then the deferred frees. */
static int end_dispatch(mux_loop_t *loop, int ran) {
    if (loop->timers.count > 0) {
        update_now(loop);
        ran += mux__timers_run(loop, loop->now);
    }
    mux__loop_release(loop);
    return ran;
}

int mux_process_sized(mux_loop_t *loop, const fd_set *rd, const fd_set *wr,
                      int setsize) {
    if (setsize <= 0 || setsize % 64 != 0)
        return -EINVAL;
    begin_dispatch(loop);
    /* The host's sets may hold its own fds, and fds beyond what the loop
     * watched at mux_prepare(): scan only the loop's part of them. */
    int maxfd = loop->maxfd < setsize ? loop->maxfd : setsize - 1;
    int ran =
        mux__poll_dispatch_host(&loop->poll, loop, loop->turn, rd, wr, maxfd);
    return end_dispatch(loop, ran);
}

int mux_process(mux_loop_t *loop, const fd_set *rd, const fd_set *wr) {
    return mux_process_sized(loop, rd, wr, FD_SETSIZE);
}

/* How long the poller may wait: until the nearest timer, for ever if there
 * is none (NULL), or not at all. */
static struct timeval *wait_time(mux_loop_t *loop, bool may_wait,
                                 struct timeval *tv) {
    *tv = (struct timeval){0, 0};
    if (!may_wait)
        return tv;
    if (loop->timers.count > 0)
        update_now(loop); /* the wait is relative to now */
    return next_timeout(loop, tv) ? tv : NULL;
}

/* One turn: wait, then dispatch what is ready, timers, deferred frees. */
static int turn(mux_loop_t *loop, bool may_wait) {
    loop->turn++;
    struct timeval tv, *timeout = wait_time(loop, may_wait, &tv);
    mux__poll_ready_t ready;
    /* loop->maxfd as it is now: callbacks may raise it */
    int nready = mux__poll_wait(&loop->poll, loop->maxfd, loop->depth > 0,
                                timeout, &ready);
    if (nready < 0)
        return nready;
    begin_dispatch(loop);
    int ran = mux__poll_dispatch(&loop->poll, loop, loop->turn, &ready, nready);
    return end_dispatch(loop, ran);
}

int mux_run(mux_loop_t *loop, mux_run_mode mode) {
    loop->stopped = false;
    int total = 0;
    do {
        if (loop->nwatched == 0 && loop->timers.count == 0)
            break;
        int ran = turn(loop, mode != MUX_RUN_NOWAIT);
        if (ran < 0)
            return ran;
        total += ran;
    } while (mode == MUX_RUN_DEFAULT && !loop->stopped);
    return mode == MUX_RUN_DEFAULT ? 0 : total;
}

void mux_stop(mux_loop_t *loop) { loop->stopped = true; }
