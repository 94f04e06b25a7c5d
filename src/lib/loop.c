/*
 * loop.c -- the select() event loop: fd watchers in master bit sets sized
 * at run time, timers in a binary heap ordered by deadline, signals through
 * a self-pipe, deferred frees, and the run modes.
 *
 * A turn: copy the master sets, select() until the nearest timer, dispatch
 * ready fds in fd order, run due timers, run deferred frees.
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

/*
 * The fd sets are the loop's own bit arrays, not fd_set: the kernel's
 * select() reads any number of bits (nfds up to RLIMIT_NOFILE) as an array
 * of unsigned long words, fd at word fd / WORD_BITS, bit fd % WORD_BITS;
 * only glibc's fd_set type stops at FD_SETSIZE (and its fortified FD_SET
 * aborts above it), so no FD_ macro ever touches these arrays. glibc's
 * fd_set has the same layout, which the host-driven pair relies on.
 */
typedef unsigned long fd_word_t;
#define WORD_BITS ((int)(8 * sizeof(fd_word_t)))
_Static_assert(sizeof(fd_set) * 8 == FD_SETSIZE &&
                   FD_SETSIZE % (8 * sizeof(fd_word_t)) == 0,
               "fd_set is a whole number of unsigned long bit words");

static size_t words_for(int maxfd) { return (size_t)(maxfd / WORD_BITS) + 1; }

typedef struct {
    mux_io_cb *cb; /* NULL: not watched */
    void *arg;
    int events;
    uint32_t added_turn; /* readiness from that turn's select() is stale */
} watcher_t;

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
    /* One block (see grow_fds): a watcher slot per fd below `capacity`,
     * the master sets, and the copies select() works on. */
    watcher_t *watchers;
    fd_word_t *rd, *wr;         /* master sets */
    fd_word_t *sel_rd, *sel_wr; /* what select() and dispatch work on */
    int capacity;               /* fds the block holds: whole words */
    int maxfd;                  /* highest watched fd, -1 if none */
    size_t nwatched;
    size_t nwriters; /* watchers with MUX_WRITE: none, no write set */
    uint32_t turn;

    mux_timer_t **heap;
    size_t ntimers, heap_cap;
    uint64_t timer_seq;
    uint64_t now;   /* ns, mux__clock_ns(): timer deadlines' clock */
    bool now_stale; /* read the clock on the next mux_now() */

    int sigpipe[2]; /* the handler writes signal numbers to [1] */
    size_t nsignals;
    signal_watch_t signals[MUX__NSIG];

    deferred_t *deferred;
    size_t ndeferred, deferred_cap;
    int depth;           /* > 0 while a turn dispatches */
    fd_word_t *ready_rd; /* the read set being dispatched: dispatch_reads */
    int ready_capacity;  /* the fds it holds */

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

uint64_t mux__clock_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * MUX__NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

uint64_t mux__ms_to_ns(uint64_t ms) {
    return ms > UINT64_MAX / MUX__NS_PER_MS ? UINT64_MAX : ms * MUX__NS_PER_MS;
}

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

    int fds[2];
    if (pipe(fds) < 0) {
        int err = -errno;
        free(loop->watchers);
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
        free(loop->watchers);
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
        loop->heap[i]->active = 0; /* their owners' memory: only disarmed */
    free(loop->heap);
    free(loop->deferred);
    mux__close(loop->sigpipe[0]);
    mux__close(loop->sigpipe[1]);
    free(loop->watchers);
    free(loop);
}

/* ------------------------------------------------------------------ */
/* fd watchers                                                         */
/* ------------------------------------------------------------------ */

static void set_bit(fd_word_t *set, int fd) {
    set[fd / WORD_BITS] |= (fd_word_t)1 << (fd % WORD_BITS);
}

static void clear_bit(fd_word_t *set, int fd) {
    set[fd / WORD_BITS] &= ~((fd_word_t)1 << (fd % WORD_BITS));
}

/*
 * Grows the watcher slots and the sets to hold `fd`, doubling, in one new
 * block. The old block is released at the end of the turn: a dispatch in
 * progress still reads its copies of the sets (a watcher added meanwhile
 * cannot be ready in them). Returns 0, -EBADF if fd is not open (no table
 * grows for a stray number) or -ENOMEM; the loop is unchanged then.
 */
static MUX__COLD int grow_fds(mux_loop_t *loop, int fd) {
    if (loop->capacity > 0 && fcntl(fd, F_GETFD) < 0)
        return -errno;
    size_t words = loop->capacity ? (size_t)loop->capacity / WORD_BITS : 1;
    while (words < words_for(fd))
        words *= 2;
    size_t slots = words * (size_t)WORD_BITS;
    char *block =
        calloc(1, slots * sizeof(watcher_t) + 4 * words * sizeof(fd_word_t));
    if (!block)
        return -ENOMEM;
    fd_word_t *sets = (fd_word_t *)(void *)(block + slots * sizeof(watcher_t));
    size_t had = (size_t)loop->capacity / WORD_BITS;
    watcher_t *old = loop->watchers;
    if (old) {
        memcpy(block, old, (size_t)loop->capacity * sizeof(watcher_t));
        memcpy(sets, loop->rd, had * sizeof(fd_word_t));
        memcpy(sets + words, loop->wr, had * sizeof(fd_word_t));
    }
    if (old &&
        mux__defer(loop, free, old) < 0) { /* free()d at once at depth 0 */
        free(block);
        return -ENOMEM;
    }
    loop->watchers = (watcher_t *)(void *)block;
    loop->rd = sets;
    loop->wr = sets + words;
    loop->sel_rd = sets + 2 * words;
    loop->sel_wr = sets + 3 * words;
    loop->capacity = (int)slots;
    return 0;
}

static void apply_events(mux_loop_t *loop, int fd, int events) {
    int before = loop->watchers[fd].events;
    if (events & MUX_READ)
        set_bit(loop->rd, fd);
    else
        clear_bit(loop->rd, fd);
    if (events & MUX_WRITE)
        set_bit(loop->wr, fd);
    else
        clear_bit(loop->wr, fd);
    if (!(events & MUX_READ) && loop->ready_rd && fd < loop->ready_capacity)
        clear_bit(loop->ready_rd, fd); /* no stale readiness for a new one */
    if ((events & MUX_WRITE) && !(before & MUX_WRITE))
        loop->nwriters++;
    else if (!(events & MUX_WRITE) && (before & MUX_WRITE))
        loop->nwriters--;
    loop->watchers[fd].events = events;
}

/* The watcher of `fd`, or NULL if it is not watched. */
static watcher_t *watcher_of(mux_loop_t *loop, int fd) {
    if (fd < 0 || fd >= loop->capacity || !loop->watchers[fd].cb)
        return NULL;
    return &loop->watchers[fd];
}

int mux_watch(mux_loop_t *loop, int fd, int events, mux_io_cb *cb, void *arg) {
    if (fd < 0)
        return -EBADF;
    if (!cb || (events & ~(MUX_READ | MUX_WRITE)))
        return -EINVAL;
    if (fd >= loop->capacity) {
        int err = grow_fds(loop, fd);
        if (err < 0)
            return err;
    }
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
    if (!watcher_of(loop, fd))
        return -ENOENT;
    if (events & ~(MUX_READ | MUX_WRITE))
        return -EINVAL;
    apply_events(loop, fd, events);
    return 0;
}

int mux_unwatch(mux_loop_t *loop, int fd) {
    watcher_t *w = watcher_of(loop, fd);
    if (!w)
        return -ENOENT;
    apply_events(loop, fd, 0);
    w->cb = NULL;
    w->arg = NULL;
    loop->nwatched--;
    while (loop->maxfd >= 0 && !loop->watchers[loop->maxfd].cb)
        loop->maxfd--;
    return 0;
}

int mux_loop_maxfd(const mux_loop_t *loop) { return loop->maxfd; }

/* ------------------------------------------------------------------ */
/* Timers: a binary min-heap on (deadline, seq)                        */
/* ------------------------------------------------------------------ */

static bool timer_before(const mux_timer_t *a, const mux_timer_t *b) {
    return a->deadline < b->deadline ||
           (a->deadline == b->deadline && a->seq < b->seq);
}

static void heap_place(mux_loop_t *loop, size_t i, mux_timer_t *t) {
    loop->heap[i] = t;
    t->active = i + 1;
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

/* Room for one more timer. Returns 0 or -ENOMEM. */
static int heap_reserve(mux_loop_t *loop) {
    if (loop->ntimers < loop->heap_cap)
        return 0;
    size_t cap = loop->heap_cap ? loop->heap_cap * 2 : 16;
    mux_timer_t **heap = realloc(loop->heap, cap * sizeof(*heap));
    if (!heap)
        return -ENOMEM;
    loop->heap = heap;
    loop->heap_cap = cap;
    return 0;
}

/* Inserts an inactive timer; there is room (heap_reserve). */
static void heap_push(mux_loop_t *loop, mux_timer_t *t) {
    assert(!t->active && loop->ntimers < loop->heap_cap);
    t->seq = loop->timer_seq++;
    loop->heap[loop->ntimers++] = t;
    heap_sift_up(loop, loop->ntimers - 1);
}

static void heap_remove(mux_loop_t *loop, mux_timer_t *t) {
    size_t i = t->active - 1;
    mux_timer_t *last = loop->heap[--loop->ntimers];
    t->active = 0;
    if (last == t)
        return;
    heap_place(loop, i, last);
    heap_sift_up(loop, i);
    heap_sift_down(loop, last->active - 1);
}

void mux_timer_init(mux_timer_t *t, mux_loop_t *loop, mux_timer_cb *cb,
                    void *arg) {
    assert(cb);
    *t = (mux_timer_t){.loop = loop, .cb = cb, .arg = arg};
}

int mux__timer_start_at(mux_timer_t *t, uint64_t deadline, uint64_t repeat) {
    mux_loop_t *loop = t->loop;
    assert(loop && t->cb);
    if (t->active)
        heap_remove(loop, t); /* its slot is free again: no allocation */
    else if (heap_reserve(loop) < 0)
        return -ENOMEM;
    t->deadline = deadline;
    t->repeat = repeat;
    heap_push(loop, t);
    return 0;
}

int mux_timer_start(mux_timer_t *t, uint64_t after_ms, uint64_t repeat_ms) {
    /* Never early: the deadline is the clock read now plus the whole
     * delay, both in nanoseconds. */
    uint64_t now = mux__clock_ns(), after = mux__ms_to_ns(after_ms);
    uint64_t deadline = after > UINT64_MAX - now ? UINT64_MAX : now + after;
    return mux__timer_start_at(t, deadline, mux__ms_to_ns(repeat_ms));
}

void mux_timer_stop(mux_timer_t *t) {
    if (t->active)
        heap_remove(t->loop, t);
}

int mux_timer_active(const mux_timer_t *t) { return t->active != 0; }

/*
 * Runs the timers due now. Each leaves the heap before its callback (a
 * repeating one goes back at once, for its next period), so the callback
 * may stop, restart or free it and nothing touches it afterwards. Timers
 * armed during this pass get a newer seq and wait for the next turn, so a
 * zero delay cannot spin here.
 */
static int run_timers(mux_loop_t *loop) {
    uint64_t seq_limit = loop->timer_seq;
    int ran = 0;
    while (loop->ntimers > 0) {
        mux_timer_t *t = loop->heap[0];
        if (t->deadline > loop->now || t->seq >= seq_limit)
            break;
        heap_remove(loop, t);
        if (t->repeat) {
            t->deadline = t->repeat > UINT64_MAX - t->deadline
                              ? UINT64_MAX
                              : t->deadline + t->repeat;
            if (t->deadline < loop->now) /* fell behind: no catch-up burst */
                t->deadline = loop->now;
            heap_push(loop, t); /* the slot it just left */
        }
        t->cb(loop, t, t->arg);
        ran++;
    }
    return ran;
}

/* The wait until the nearest timer, in *tv (microseconds, rounded up:
 * select() never wakes before it, and a due timer is never missed), or
 * false if there is no timer. */
static bool next_timeout(const mux_loop_t *loop, struct timeval *tv) {
    if (loop->ntimers == 0)
        return false;
    uint64_t deadline = loop->heap[0]->deadline;
    uint64_t ns = deadline > loop->now ? deadline - loop->now : 0;
    uint64_t us = ns / 1000u + (ns % 1000u != 0);
    tv->tv_sec = (time_t)(us / 1000000u);
    tv->tv_usec = (suseconds_t)(us % 1000000u);
    return true;
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

/*
 * Calls the watchers of the ready fds among 0..maxfd of `rd`/`wr` (NULL:
 * none). Scans a word at a time and visits only the set bits, so a turn
 * costs what is ready, not maxfd bit tests; `nready` ends it early.
 */
static int dispatch_fds(mux_loop_t *loop, const fd_word_t *rd,
                        const fd_word_t *wr, int maxfd, int nready) {
    int ran = 0;
    for (int i = 0; i <= maxfd / WORD_BITS && nready > 0; i++) {
        fd_word_t r = rd ? rd[i] : 0, w = wr ? wr[i] : 0;
        for (fd_word_t bits = r | w; bits && nready > 0; bits &= bits - 1) {
            int bit = __builtin_ctzl(bits);
            fd_word_t mask = (fd_word_t)1 << bit;
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
 * `rd` stays valid even if a callback grows the loop (see grow_fds).
 */
static int dispatch_reads(mux_loop_t *loop, fd_word_t *rd, int maxfd) {
    int ran = 0;
    loop->ready_rd = rd;
    loop->ready_capacity = maxfd + 1;
    for (int i = 0; i <= maxfd / WORD_BITS; i++) { /* the words select() saw */
        for (fd_word_t bits; (bits = rd[i]) != 0; ran++) {
            rd[i] = bits & (bits - 1);
            int fd = i * WORD_BITS + __builtin_ctzl(bits);
            watcher_t *w = &loop->watchers[fd];
            w->cb(loop, fd, MUX_READ, w->arg);
        }
    }
    loop->ready_rd = NULL;
    return ran;
}

/* Copies the words of a set that hold fds 0..maxfd: all select() reads. */
static void copy_set(fd_word_t *dst, const fd_word_t *src, int maxfd) {
    if (maxfd < WORD_BITS)
        dst[0] = src[0]; /* the common case, without a call to memcpy() */
    else
        memcpy(dst, src, words_for(maxfd) * sizeof(fd_word_t));
}

/* Adds the fds 0..maxfd of src to dst (the host's sets in mux_prepare). */
static void add_set(fd_set *dst, const fd_word_t *src, int maxfd) {
    fd_word_t *d = (fd_word_t *)(void *)dst;
    for (int i = 0; i <= maxfd / WORD_BITS; i++)
        d[i] |= src[i];
}

int mux_prepare_sized(mux_loop_t *loop, fd_set *rd, fd_set *wr, int setsize,
                      int *maxfd, struct timeval *timeout) {
    if (setsize <= 0 || setsize % 64 != 0)
        return -EINVAL;
    if (loop->maxfd >= setsize)
        return -ERANGE;
    loop->turn++;
    update_now(loop);
    add_set(rd, loop->rd, loop->maxfd);
    add_set(wr, loop->wr, loop->maxfd);
    if (loop->maxfd > *maxfd)
        *maxfd = loop->maxfd;
    return next_timeout(loop, timeout) ? 1 : 0;
}

int mux_prepare(mux_loop_t *loop, fd_set *rd, fd_set *wr, int *maxfd,
                struct timeval *timeout) {
    return mux_prepare_sized(loop, rd, wr, FD_SETSIZE, maxfd, timeout);
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

int mux_process_sized(mux_loop_t *loop, const fd_set *rd, const fd_set *wr,
                      int setsize) {
    if (setsize <= 0 || setsize % 64 != 0)
        return -EINVAL;
    begin_dispatch(loop);
    /* The host's sets may hold its own fds, and fds beyond what the loop
     * watched at mux_prepare(): scan only the loop's part of them. */
    int maxfd = loop->maxfd < setsize ? loop->maxfd : setsize - 1;
    int ran = rd || wr ? dispatch_fds(loop, (const fd_word_t *)(const void *)rd,
                                      (const fd_word_t *)(const void *)wr,
                                      maxfd, INT_MAX)
                       : 0;
    return end_dispatch(loop, ran);
}

int mux_process(mux_loop_t *loop, const fd_set *rd, const fd_set *wr) {
    return mux_process_sized(loop, rd, wr, FD_SETSIZE);
}

/* select() on copies of the master sets, until the nearest timer (or not
 * at all). Returns the number of ready bits, 0 after EINTR, or -errno. */
static int wait_ready(mux_loop_t *loop, fd_word_t *rd, fd_word_t *wr, int maxfd,
                      bool may_wait) {
    copy_set(rd, loop->rd, maxfd);
    if (wr)
        copy_set(wr, loop->wr, maxfd);
    struct timeval tv = {0, 0}, *tvp = &tv;
    if (may_wait && loop->ntimers > 0)
        update_now(loop); /* the wait is relative to now */
    if (may_wait && !next_timeout(loop, &tv))
        tvp = NULL;
    int nready = select(maxfd + 1, (fd_set *)(void *)rd, (fd_set *)(void *)wr,
                        NULL, tvp);
    if (nready < 0)
        return errno == EINTR ? 0 : -errno;
    return nready;
}

/* One turn: wait, then dispatch what is ready, timers, deferred frees. */
static int turn(mux_loop_t *loop, bool may_wait) {
    loop->turn++;
    int maxfd = loop->maxfd; /* callbacks may raise loop->maxfd */
    fd_word_t *nested = NULL, *rd = loop->sel_rd, *wr = loop->sel_wr;
    if (loop->depth > 0) {
        /* A turn run from a callback (not supported, but not fatal) must
         * not overwrite the copies the outer turn dispatches. */
        nested = malloc(2 * words_for(maxfd) * sizeof(*nested));
        if (!nested)
            return -ENOMEM;
        rd = nested;
        wr = nested + words_for(maxfd);
    }
    /* Mostly nobody waits to write: then the kernel has one set less to
     * copy in, scan and clear. */
    if (!loop->nwriters)
        wr = NULL;
    int nready = wait_ready(loop, rd, wr, maxfd, may_wait);
    if (nready < 0) {
        free(nested);
        return nready;
    }
    begin_dispatch(loop);
    /* A nested turn takes the checked path: the outer turn's set stays
     * the one removals clear, so it is not left with stale bits. */
    int ran = nready == 0            ? 0
              : wr || loop->ready_rd ? dispatch_fds(loop, rd, wr, maxfd, nready)
                                     : dispatch_reads(loop, rd, maxfd);
    free(nested);
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
