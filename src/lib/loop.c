/*
 * loop.c -- the select() event loop: fd watchers in master fd_sets, timers
 * in a binary heap ordered by deadline, signals through a self-pipe,
 * deferred frees, and the run modes.
 *
 * A turn: copy the master sets, select() until the nearest timer, dispatch
 * ready fds in fd order, run due timers, run deferred frees.
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef NSIG
#define MUX__NSIG NSIG
#else
#define MUX__NSIG 65
#endif

#define NOT_IN_HEAP SIZE_MAX

typedef struct {
    mux_io_cb *cb; /* NULL: not watched */
    void *arg;
    int events;
    uint32_t added_turn; /* readiness from that turn's select() is stale */
} watcher_t;

struct mux_timer {
    mux_loop_t *loop;
    uint64_t deadline;
    uint64_t repeat;
    uint64_t seq; /* arming order: breaks deadline ties */
    size_t index; /* in the heap, or NOT_IN_HEAP while its callback runs */
    mux_timer_cb *cb;
    void *arg;
    bool running;
    bool cancelled; /* stopped from inside its own callback */
    bool rearmed;   /* restarted from inside its own callback */
};

typedef struct {
    void (*fn)(void *);
    void *ptr;
} deferred_t;

typedef struct {
    mux_signal_cb *cb;
    void *arg;
    struct sigaction previous;
} signal_watch_t;

struct mux_loop {
    fd_set rd, wr; /* master sets: select() works on copies */
    int maxfd;     /* highest watched fd, -1 if none */
    size_t nwatched;
    size_t nwriters; /* watchers with MUX_WRITE: none, no write set */
    watcher_t watchers[FD_SETSIZE];
    uint32_t turn;

    mux_timer_t **heap;
    size_t ntimers, heap_cap;
    uint64_t timer_seq;
    uint64_t now;
    bool now_stale; /* read the clock on the next mux_now() */

    int sigpipe[2]; /* the handler writes signal numbers to [1] */
    size_t nsignals;
    signal_watch_t signals[MUX__NSIG];

    deferred_t *deferred;
    size_t ndeferred, deferred_cap;
    int depth;        /* > 0 while a turn dispatches */
    fd_set *ready_rd; /* the read set being dispatched: see dispatch_reads */

    bool stopped;
    void *spares[MUX__SPARE_CONNS]; /* see mux__loop_take_spare() */
    size_t nspares;
    char scratch[MUX__SCRATCH_SIZE];
};

/* The loop that owns each signal, and where its handler writes. */
static mux_loop_t *signal_owner[MUX__NSIG];
static volatile sig_atomic_t signal_fd[MUX__NSIG]; /* fd + 1; 0: none */

const char *mux_strerror(int err) {
    if (err < 0)
        err = -err;
    if (err == 0)
        return "Success";
    if (err == -MUX_ENOHOST)
        return "Unknown host";
    if (err == -MUX_ENOSERVICE)
        return "Unknown port or service name";
    if (err == -MUX_ENOSERVDB)
        return "Unknown service name (this system has no services database, "
               "/etc/services: install netbase, or give the port number)";
    return strerror(err);
}

uint64_t mux__clock_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t mux_now(const mux_loop_t *loop) {
    mux_loop_t *l = (mux_loop_t *)loop; /* a cache: no loop is const */
    if (l->now_stale) {
        l->now = mux__clock_ms();
        l->now_stale = false;
    }
    return l->now;
}

/* The clock, read now (timers need it exact). */
static void update_now(mux_loop_t *loop) {
    loop->now = mux__clock_ms();
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

int mux_loop_new(mux_loop_t **out) {
    mux_loop_t *loop = calloc(1, sizeof(*loop));
    if (!loop)
        return -ENOMEM;
    FD_ZERO(&loop->rd);
    FD_ZERO(&loop->wr);
    loop->maxfd = -1;
    loop->now = mux__clock_ms();

    int fds[2];
    if (pipe(fds) < 0) {
        int err = -errno;
        free(loop);
        return err;
    }
    loop->sigpipe[0] = mux__fd_prepare(fds[0]);
    loop->sigpipe[1] = mux__fd_prepare(fds[1]);
    if (loop->sigpipe[0] < 0 || loop->sigpipe[1] < 0) {
        int err = loop->sigpipe[0] < 0 ? loop->sigpipe[0] : loop->sigpipe[1];
        if (loop->sigpipe[0] >= 0)
            mux__close(loop->sigpipe[0]);
        if (loop->sigpipe[1] >= 0)
            mux__close(loop->sigpipe[1]);
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
    for (int signo = 1; signo < MUX__NSIG; signo++)
        if (signal_owner[signo] == loop)
            mux_signal(loop, signo, NULL, NULL);
    run_deferred(loop);
    while (loop->nspares > 0)
        free(loop->spares[--loop->nspares]);
    for (size_t i = 0; i < loop->ntimers; i++)
        free(loop->heap[i]);
    free(loop->heap);
    free(loop->deferred);
    mux__close(loop->sigpipe[0]);
    mux__close(loop->sigpipe[1]);
    free(loop);
}

/* ------------------------------------------------------------------ */
/* fd watchers                                                         */
/* ------------------------------------------------------------------ */

static void apply_events(mux_loop_t *loop, int fd, int events) {
    int before = loop->watchers[fd].events;
    if (events & MUX_READ)
        FD_SET(fd, &loop->rd);
    else
        FD_CLR(fd, &loop->rd);
    if (events & MUX_WRITE)
        FD_SET(fd, &loop->wr);
    else
        FD_CLR(fd, &loop->wr);
    if (!(events & MUX_READ) && loop->ready_rd)
        FD_CLR(fd, loop->ready_rd); /* no stale readiness for a new watcher */
    if ((events & MUX_WRITE) && !(before & MUX_WRITE))
        loop->nwriters++;
    else if (!(events & MUX_WRITE) && (before & MUX_WRITE))
        loop->nwriters--;
    loop->watchers[fd].events = events;
}

int mux_watch(mux_loop_t *loop, int fd, int events, mux_io_cb *cb, void *arg) {
    if (fd < 0)
        return -EBADF;
    if (fd >= FD_SETSIZE)
        return -ERANGE;
    if (!cb || (events & ~(MUX_READ | MUX_WRITE)))
        return -EINVAL;
    watcher_t *w = &loop->watchers[fd];
    if (!w->cb) {
        w->added_turn = loop->turn;
        loop->nwatched++;
        if (fd > loop->maxfd)
            loop->maxfd = fd;
    }
    w->cb = cb;
    w->arg = arg;
    apply_events(loop, fd, events);
    return 0;
}

int mux_watch_events(mux_loop_t *loop, int fd, int events) {
    if (fd < 0 || fd >= FD_SETSIZE || !loop->watchers[fd].cb)
        return -ENOENT;
    if (events & ~(MUX_READ | MUX_WRITE))
        return -EINVAL;
    apply_events(loop, fd, events);
    return 0;
}

int mux_unwatch(mux_loop_t *loop, int fd) {
    if (fd < 0 || fd >= FD_SETSIZE || !loop->watchers[fd].cb)
        return -ENOENT;
    apply_events(loop, fd, 0);
    loop->watchers[fd].cb = NULL;
    loop->watchers[fd].arg = NULL;
    loop->nwatched--;
    while (loop->maxfd >= 0 && !loop->watchers[loop->maxfd].cb)
        loop->maxfd--;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Timers: a binary min-heap on (deadline, seq)                        */
/* ------------------------------------------------------------------ */

static bool timer_before(const mux_timer_t *a, const mux_timer_t *b) {
    return a->deadline < b->deadline ||
           (a->deadline == b->deadline && a->seq < b->seq);
}

static void heap_place(mux_loop_t *loop, size_t i, mux_timer_t *t) {
    loop->heap[i] = t;
    t->index = i;
}

static void heap_sift_up(mux_loop_t *loop, size_t i) {
    mux_timer_t *t = loop->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!timer_before(t, loop->heap[parent]))
            break;
        heap_place(loop, i, loop->heap[parent]);
        i = parent;
    }
    heap_place(loop, i, t);
}

static void heap_sift_down(mux_loop_t *loop, size_t i) {
    mux_timer_t *t = loop->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= loop->ntimers)
            break;
        if (child + 1 < loop->ntimers &&
            timer_before(loop->heap[child + 1], loop->heap[child]))
            child++;
        if (!timer_before(loop->heap[child], t))
            break;
        heap_place(loop, i, loop->heap[child]);
        i = child;
    }
    heap_place(loop, i, t);
}

static int heap_push(mux_loop_t *loop, mux_timer_t *t) {
    if (loop->ntimers == loop->heap_cap) {
        size_t cap = loop->heap_cap ? loop->heap_cap * 2 : 16;
        mux_timer_t **heap = realloc(loop->heap, cap * sizeof(*heap));
        if (!heap)
            return -ENOMEM;
        loop->heap = heap;
        loop->heap_cap = cap;
    }
    t->seq = loop->timer_seq++;
    loop->heap[loop->ntimers] = t;
    t->index = loop->ntimers++;
    heap_sift_up(loop, t->index);
    return 0;
}

static void heap_remove(mux_loop_t *loop, mux_timer_t *t) {
    size_t i = t->index;
    mux_timer_t *last = loop->heap[--loop->ntimers];
    t->index = NOT_IN_HEAP;
    if (last == t)
        return;
    heap_place(loop, i, last);
    heap_sift_up(loop, i);
    heap_sift_down(loop, last->index);
}

int mux_timer_start(mux_loop_t *loop, mux_timer_t **out, uint64_t after_ms,
                    uint64_t repeat_ms, mux_timer_cb *cb, void *arg) {
    if (!cb)
        return -EINVAL;
    mux_timer_t *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->loop = loop;
    t->deadline = mux__clock_ms() + after_ms;
    t->repeat = repeat_ms;
    t->cb = cb;
    t->arg = arg;
    if (heap_push(loop, t) < 0) {
        free(t);
        return -ENOMEM;
    }
    if (out)
        *out = t;
    return 0;
}

void mux_timer_stop(mux_timer_t *t) {
    if (!t)
        return;
    if (t->running) {
        t->cancelled = true;
        return;
    }
    heap_remove(t->loop, t);
    free(t);
}

void mux_timer_restart(mux_timer_t *t, uint64_t after_ms) {
    mux_loop_t *loop = t->loop;
    t->deadline = mux__clock_ms() + after_ms;
    if (t->running) {
        t->rearmed = true;
        t->cancelled = false;
        return;
    }
    heap_remove(loop, t);
    (void)heap_push(loop, t); /* cannot fail: it reuses the freed slot */
}

/* After a timer's callback: release it, or put it back in the heap. */
static void timer_settle(mux_loop_t *loop, mux_timer_t *t) {
    t->running = false;
    if (!t->cancelled && !t->rearmed && t->repeat) {
        t->deadline += t->repeat;
        if (t->deadline < loop->now) /* fell behind: no burst of catch-ups */
            t->deadline = loop->now;
        t->rearmed = true;
    }
    if (t->cancelled || !t->rearmed || heap_push(loop, t) < 0) {
        free(t);
        return;
    }
    t->rearmed = false;
}

/*
 * Runs the timers due now. Timers armed or re-armed by these callbacks get
 * a newer seq and wait for the next turn, so a zero delay cannot spin here.
 */
static int run_timers(mux_loop_t *loop) {
    uint64_t seq_limit = loop->timer_seq;
    int ran = 0;
    while (loop->ntimers > 0) {
        mux_timer_t *t = loop->heap[0];
        if (t->deadline > loop->now || t->seq >= seq_limit)
            break;
        heap_remove(loop, t);
        t->running = true;
        t->cb(loop, t, t->arg);
        ran++;
        timer_settle(loop, t);
    }
    return ran;
}

/* Milliseconds until the nearest timer, or -1 if there is none. */
static int64_t next_timeout(const mux_loop_t *loop) {
    if (loop->ntimers == 0)
        return -1;
    uint64_t deadline = loop->heap[0]->deadline;
    return deadline > loop->now ? (int64_t)(deadline - loop->now) : 0;
}

/* ------------------------------------------------------------------ */
/* Signals: the handler writes the number to a pipe the loop watches   */
/* ------------------------------------------------------------------ */

static void signal_handler(int signo) {
    int saved = errno;
    unsigned char byte = (unsigned char)signo;
    if (signo > 0 && signo < MUX__NSIG && signal_fd[signo] > 0) {
        ssize_t n = write(signal_fd[signo] - 1, &byte, 1);
        (void)n; /* a full pipe already holds a wake-up */
    }
    errno = saved;
}

static void on_signal_pipe(mux_loop_t *loop, int fd, int events, void *arg) {
    MUX__UNUSED(events);
    MUX__UNUSED(arg);
    unsigned char signos[64];
    ssize_t n = read(fd, signos, sizeof(signos));
    for (ssize_t i = 0; i < n; i++) {
        int signo = signos[i];
        if (signo >= MUX__NSIG || signal_owner[signo] != loop)
            continue;
        signal_watch_t *w = &loop->signals[signo];
        if (w->cb)
            w->cb(loop, signo, w->arg);
    }
}

static int signal_remove(mux_loop_t *loop, int signo) {
    if (signal_owner[signo] != loop)
        return 0;
    signal_fd[signo] = 0;
    sigaction(signo, &loop->signals[signo].previous, NULL);
    signal_owner[signo] = NULL;
    loop->signals[signo].cb = NULL;
    if (--loop->nsignals == 0)
        mux_unwatch(loop, loop->sigpipe[0]);
    return 0;
}

int mux_signal(mux_loop_t *loop, int signo, mux_signal_cb *cb, void *arg) {
    if (signo <= 0 || signo >= MUX__NSIG || signo == SIGKILL ||
        signo == SIGSTOP)
        return -EINVAL;
    if (!cb)
        return signal_remove(loop, signo);
    if (signal_owner[signo] && signal_owner[signo] != loop)
        return -EBUSY;
    signal_watch_t *w = &loop->signals[signo];
    w->arg = arg;
    if (signal_owner[signo] == loop) {
        w->cb = cb;
        return 0;
    }
    if (loop->nsignals == 0) {
        int err =
            mux_watch(loop, loop->sigpipe[0], MUX_READ, on_signal_pipe, NULL);
        if (err < 0)
            return err;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = signal_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    signal_fd[signo] = loop->sigpipe[1] + 1;
    if (sigaction(signo, &sa, &w->previous) < 0) {
        int err = -errno;
        signal_fd[signo] = 0;
        if (loop->nsignals == 0)
            mux_unwatch(loop, loop->sigpipe[0]);
        return err;
    }
    w->cb = cb;
    signal_owner[signo] = loop;
    loop->nsignals++;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Deferred frees                                                      */
/* ------------------------------------------------------------------ */

int mux__defer(mux_loop_t *loop, void (*fn)(void *), void *ptr) {
    if (loop->depth == 0) {
        fn(ptr);
        return 0;
    }
    if (loop->ndeferred == loop->deferred_cap) {
        size_t cap = loop->deferred_cap ? loop->deferred_cap * 2 : 16;
        deferred_t *d = realloc(loop->deferred, cap * sizeof(*d));
        if (!d)
            return -ENOMEM;
        loop->deferred = d;
        loop->deferred_cap = cap;
    }
    loop->deferred[loop->ndeferred++] = (deferred_t){fn, ptr};
    return 0;
}

/* Runs outside any turn (depth 0), so these functions cannot defer more. */
static void run_deferred(mux_loop_t *loop) {
    for (size_t i = 0; i < loop->ndeferred; i++)
        loop->deferred[i].fn(loop->deferred[i].ptr);
    loop->ndeferred = 0;
}

/* ------------------------------------------------------------------ */
/* Turns                                                               */
/* ------------------------------------------------------------------ */

/* Calls the watcher of one ready fd, if it still wants what is ready. */
static int dispatch_one(mux_loop_t *loop, int fd, int ready) {
    watcher_t *w = &loop->watchers[fd];
    /* Re-check: an earlier callback may have removed or replaced it. */
    ready &= w->events;
    if (!w->cb || !ready || w->added_turn == loop->turn)
        return 0;
    w->cb(loop, fd, ready, w->arg);
    return 1;
}

#if defined(__GLIBC__)
/*
 * glibc's fd_set is an array of longs, one bit per fd: scan it a word at
 * a time and visit only the set bits, so a turn costs what is ready, not
 * maxfd bit tests.
 */
#define WORD_BITS ((int)(8 * sizeof(long)))
_Static_assert(sizeof(fd_set) == FD_SETSIZE / 8, "fd_set is a bit array");

static long fd_word(const fd_set *set, int i) {
    return set ? ((const long *)(const void *)set)[i] : 0;
}

static int dispatch_fds(mux_loop_t *loop, const fd_set *rd, const fd_set *wr,
                        int nready) {
    int ran = 0;
    for (int i = 0; i <= loop->maxfd / WORD_BITS && nready > 0; i++) {
        unsigned long r = (unsigned long)fd_word(rd, i);
        unsigned long w = (unsigned long)fd_word(wr, i);
        for (unsigned long bits = r | w; bits && nready > 0; bits &= bits - 1) {
            int bit = __builtin_ctzl(bits);
            unsigned long mask = 1ul << bit;
            int ready = (r & mask ? MUX_READ : 0) | (w & mask ? MUX_WRITE : 0);
            nready -= (r & mask ? 1 : 0) + (w & mask ? 1 : 0);
            ran += dispatch_one(loop, i * WORD_BITS + bit, ready);
        }
    }
    return ran;
}

/*
 * The common turn: nobody waits to write, so only reads are ready. Each
 * bit is cleared before its callback runs, and apply_events() clears the
 * bit of a watcher that is removed or stops reading meanwhile: every bit
 * left is a watcher that still wants to read, so no per-fd re-check.
 */
static int dispatch_reads(mux_loop_t *loop, fd_set *rd, int maxfd) {
    unsigned long *words = (unsigned long *)(void *)rd;
    int ran = 0;
    loop->ready_rd = rd;
    for (int i = 0; i <= maxfd / WORD_BITS; i++) { /* the words select() saw */
        for (unsigned long bits; (bits = words[i]) != 0; ran++) {
            words[i] = bits & (bits - 1);
            int fd = i * WORD_BITS + __builtin_ctzl(bits);
            watcher_t *w = &loop->watchers[fd];
            w->cb(loop, fd, MUX_READ, w->arg);
        }
    }
    loop->ready_rd = NULL;
    return ran;
}

/* Copies the words of a set that hold fds 0..maxfd: all select() reads.
 */
static void copy_set(fd_set *dst, const fd_set *src, int maxfd) {
    long *d = (long *)(void *)dst;
    const long *s = (const long *)(const void *)src;
    if (maxfd < WORD_BITS)
        d[0] = s[0]; /* the common case, without a call to memcpy() */
    else
        memcpy(d, s, (size_t)(maxfd / WORD_BITS + 1) * sizeof(long));
}
/* Adds the fds 0..maxfd of src to dst (the host's sets in mux_prepare). */
static void add_set(fd_set *dst, const fd_set *src, int maxfd) {
    long *d = (long *)(void *)dst;
    const long *s = (const long *)(const void *)src;
    for (int i = 0; i <= maxfd / WORD_BITS; i++)
        d[i] |= s[i];
}
#else
/* Calls the watchers of the ready fds; `nready` bounds the scan. */
static int dispatch_fds(mux_loop_t *loop, const fd_set *rd, const fd_set *wr,
                        int nready) {
    int ran = 0;
    for (int fd = 0; fd <= loop->maxfd && nready > 0; fd++) {
        int ready = 0;
        if (rd && FD_ISSET(fd, rd))
            ready |= MUX_READ;
        if (wr && FD_ISSET(fd, wr))
            ready |= MUX_WRITE;
        if (!ready)
            continue;
        nready -= (ready & MUX_READ ? 1 : 0) + (ready & MUX_WRITE ? 1 : 0);
        ran += dispatch_one(loop, fd, ready);
    }
    return ran;
}

static int dispatch_reads(mux_loop_t *loop, fd_set *rd, int maxfd) {
    (void)maxfd;
    return dispatch_fds(loop, rd, NULL, FD_SETSIZE);
}

static void copy_set(fd_set *dst, const fd_set *src, int maxfd) {
    (void)maxfd;
    *dst = *src;
}

static void add_set(fd_set *dst, const fd_set *src, int maxfd) {
    for (int fd = 0; fd <= maxfd; fd++)
        if (FD_ISSET(fd, src))
            FD_SET(fd, dst);
}
#endif

int mux_prepare(mux_loop_t *loop, fd_set *rd, fd_set *wr, int *maxfd,
                struct timeval *timeout) {
    loop->turn++;
    update_now(loop);
    add_set(rd, &loop->rd, loop->maxfd);
    add_set(wr, &loop->wr, loop->maxfd);
    if (loop->maxfd > *maxfd)
        *maxfd = loop->maxfd;
    int64_t ms = next_timeout(loop);
    if (ms < 0)
        return 0;
    timeout->tv_sec = (time_t)(ms / 1000);
    timeout->tv_usec = (suseconds_t)(ms % 1000) * 1000;
    return 1;
}

void mux__loop_hold(mux_loop_t *loop) { loop->depth++; }

void mux__loop_release(mux_loop_t *loop) {
    if (--loop->depth == 0)
        run_deferred(loop);
}

/* Around the dispatch of what select() said: callbacks may ask the time
 * (read lazily: most turns never do) and free memory (deferred). */
static void begin_dispatch(mux_loop_t *loop) {
    mux__loop_hold(loop);
    loop->now_stale = true;
}

/* After it: due timers, then the deferred frees. */
static int end_dispatch(mux_loop_t *loop, int ran) {
    if (loop->ntimers > 0) {
        update_now(loop);
        ran += run_timers(loop);
    }
    mux__loop_release(loop);
    return ran;
}

int mux_process(mux_loop_t *loop, const fd_set *rd, const fd_set *wr) {
    begin_dispatch(loop);
    /* The host's sets may hold its own fds: count only the loop's. */
    int ran = rd || wr ? dispatch_fds(loop, rd, wr, FD_SETSIZE * 2) : 0;
    return end_dispatch(loop, ran);
}

/* One turn: select() on copies of the master sets, then process. */
static int turn(mux_loop_t *loop, bool may_wait) {
    loop->turn++;
    fd_set rd, wr;
    copy_set(&rd, &loop->rd, loop->maxfd);
    if (loop->nwriters)
        copy_set(&wr, &loop->wr, loop->maxfd);
    struct timeval tv = {0, 0}, *tvp = &tv;
    if (may_wait && loop->ntimers > 0)
        update_now(loop); /* the wait is relative to now */
    int64_t ms = may_wait ? next_timeout(loop) : 0;
    if (ms < 0)
        tvp = NULL;
    else {
        tv.tv_sec = (time_t)(ms / 1000);
        tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
    }
    /* Mostly nobody waits to write: then the kernel has one set less to
     * copy in, scan and clear. */
    fd_set *wrp = loop->nwriters ? &wr : NULL;
    int nready = select(loop->maxfd + 1, &rd, wrp, NULL, tvp);
    if (nready < 0) {
        if (errno != EINTR)
            return -errno;
        nready = 0;
    }
    begin_dispatch(loop);
    /* A turn run from a callback (not supported, but not fatal) takes
     * the checked path: the outer turn's set stays the one removals
     * clear, so it is not left with stale bits. */
    int ran = nready <= 0             ? 0
              : wrp || loop->ready_rd ? dispatch_fds(loop, &rd, wrp, nready)
                                      : dispatch_reads(loop, &rd, loop->maxfd);
    return end_dispatch(loop, ran);
}

int mux_run(mux_loop_t *loop, mux_run_mode mode) {
    loop->stopped = false;
    int total = 0;
    do {
        if (loop->nwatched == 0 && loop->ntimers == 0)
            break;
        int ran = turn(loop, mode != MUX_RUN_NOWAIT);
        if (ran < 0)
            return ran;
        total += ran;
    } while (mode == MUX_RUN_DEFAULT && !loop->stopped);
    return mode == MUX_RUN_DEFAULT ? 0 : total;
}

void mux_stop(mux_loop_t *loop) { loop->stopped = true; }
