/*
 * poll_select.c -- the loop's one poller: interest in bit sets sized at
 * run time, select() on copies of them, and the dispatch of what it found
 * ready, straight from the ready words (Redis ae_select.c's shape: the
 * loop calls a few functions here and never touches a bit itself).
 *
 * The fd sets are the poller's own bit arrays, not fd_set: the kernel's
 * select() reads any number of bits (nfds up to RLIMIT_NOFILE) as an array
 * of unsigned long words, fd at word fd / WORD_BITS, bit fd % WORD_BITS;
 * only glibc's fd_set type stops at FD_SETSIZE (and its fortified FD_SET
 * aborts above it), so no FD_ macro ever touches these arrays. glibc's
 * fd_set has the same layout, which the host-driven pair relies on.
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

typedef mux__fd_word_t fd_word_t;
typedef mux__watcher_t watcher_t;
#define WORD_BITS ((int)(8 * sizeof(fd_word_t)))
_Static_assert(sizeof(fd_set) * 8 == FD_SETSIZE &&
                   FD_SETSIZE % (8 * sizeof(fd_word_t)) == 0,
               "fd_set is a whole number of unsigned long bit words");

static size_t words_for(int maxfd) { return (size_t)(maxfd / WORD_BITS) + 1; }

static void set_bit(fd_word_t *set, int fd) {
    set[fd / WORD_BITS] |= (fd_word_t)1 << (fd % WORD_BITS);
}

static void clear_bit(fd_word_t *set, int fd) {
    set[fd / WORD_BITS] &= ~((fd_word_t)1 << (fd % WORD_BITS));
}

/* ------------------------------------------------------------------ */
/* Create, resize, free                                                */
/* ------------------------------------------------------------------ */

/*
 * Grows the watcher slots and the sets to hold `fd`, doubling, in one new
 * block, and hands the old block (NULL if none) to the caller in *old: a
 * dispatch in progress still reads its copies of the sets (a watcher added
 * meanwhile cannot be ready in them), so it must outlive the turn. Returns
 * 0, -EBADF if fd is not open (no table grows for a stray number) or
 * -ENOMEM; the poller is unchanged then.
 */
MUX__COLD int mux__poll_grow(mux__poll_t *poll, int fd, void **old) {
    *old = NULL;
    if (poll->capacity > 0 && fcntl(fd, F_GETFD) < 0)
        return -errno;
    size_t words = poll->capacity ? (size_t)poll->capacity / WORD_BITS : 1;
    while (words < words_for(fd))
        words *= 2;
    size_t slots = words * (size_t)WORD_BITS;
    char *block =
        calloc(1, slots * sizeof(watcher_t) + 4 * words * sizeof(fd_word_t));
    if (!block)
        return -ENOMEM;
    fd_word_t *sets = (fd_word_t *)(void *)(block + slots * sizeof(watcher_t));
    size_t had = (size_t)poll->capacity / WORD_BITS;
    if (poll->watchers) {
        memcpy(block, poll->watchers,
               (size_t)poll->capacity * sizeof(watcher_t));
        memcpy(sets, poll->rd, had * sizeof(fd_word_t));
        memcpy(sets + words, poll->wr, had * sizeof(fd_word_t));
    }
    *old = poll->watchers;
    poll->watchers = (watcher_t *)(void *)block;
    poll->rd = sets;
    poll->wr = sets + words;
    poll->sel_rd = sets + 2 * words;
    poll->sel_wr = sets + 3 * words;
    poll->capacity = (int)slots;
    return 0;
}

void mux__poll_free(mux__poll_t *poll) { free(poll->watchers); }

/* ------------------------------------------------------------------ */
/* Interest                                                            */
/* ------------------------------------------------------------------ */

void mux__poll_interest(mux__poll_t *poll, int fd, int events) {
    int before = poll->watchers[fd].events;
    if (events & MUX_READ)
        set_bit(poll->rd, fd);
    else
        clear_bit(poll->rd, fd);
    if (events & MUX_WRITE)
        set_bit(poll->wr, fd);
    else
        clear_bit(poll->wr, fd);
    if (!(events & MUX_READ) && poll->ready_rd && fd < poll->ready_capacity)
        clear_bit(poll->ready_rd, fd); /* no stale readiness for a new one */
    if ((events & MUX_WRITE) && !(before & MUX_WRITE))
        poll->nwriters++;
    else if (!(events & MUX_WRITE) && (before & MUX_WRITE))
        poll->nwriters--;
    poll->watchers[fd].events = events;
}

/* Adds the fds 0..maxfd of src to dst (the host's sets in mux_prepare). */
static void add_set(fd_set *dst, const fd_word_t *src, int maxfd) {
    fd_word_t *d = (fd_word_t *)(void *)dst;
    for (int i = 0; i <= maxfd / WORD_BITS; i++)
        d[i] |= src[i];
}

void mux__poll_merge(const mux__poll_t *poll, fd_set *rd, fd_set *wr,
                     int maxfd) {
    add_set(rd, poll->rd, maxfd);
    add_set(wr, poll->wr, maxfd);
}

/* ------------------------------------------------------------------ */
/* Waiting                                                             */
/* ------------------------------------------------------------------ */

/* Copies the words of a set that hold fds 0..maxfd: all select() reads. */
static void copy_set(fd_word_t *dst, const fd_word_t *src, int maxfd) {
    if (maxfd < WORD_BITS)
        dst[0] = src[0]; /* the common case, without a call to memcpy() */
    else
        memcpy(dst, src, words_for(maxfd) * sizeof(fd_word_t));
}

int mux__poll_wait(mux__poll_t *poll, int maxfd, bool nested,
                   struct timeval *timeout, mux__poll_ready_t *ready) {
    *ready = (mux__poll_ready_t){poll->sel_rd, poll->sel_wr, NULL, maxfd};
    if (nested) {
        /* A turn run from a callback (not supported, but not fatal) must
         * not overwrite the copies the outer turn dispatches. */
        ready->nested = malloc(2 * words_for(maxfd) * sizeof(fd_word_t));
        if (!ready->nested)
            return -ENOMEM;
        ready->rd = ready->nested;
        ready->wr = ready->nested + words_for(maxfd);
    }
    /* Mostly nobody waits to write: then the kernel has one set less to
     * copy in, scan and clear. */
    if (!poll->nwriters)
        ready->wr = NULL;
    copy_set(ready->rd, poll->rd, maxfd);
    if (ready->wr)
        copy_set(ready->wr, poll->wr, maxfd);
    int nready = select(maxfd + 1, (fd_set *)(void *)ready->rd,
                        (fd_set *)(void *)ready->wr, NULL, timeout);
    if (nready < 0) {
        int err = errno == EINTR ? 0 : -errno;
        free(ready->nested);
        return err;
    }
    return nready;
}

/* ------------------------------------------------------------------ */
/* Dispatch                                                            */
/* ------------------------------------------------------------------ */

/* Calls the watcher of one ready fd, if it still wants what is ready. */
static int dispatch_one(mux__poll_t *poll, mux_loop_t *loop, uint32_t turn,
                        int fd, int ready) {
    watcher_t *w = &poll->watchers[fd];
    /* Re-check: an earlier callback may have removed or replaced it. */
    ready &= w->events;
    if (!w->cb || !ready || w->added_turn == turn)
        return 0;
    w->cb(loop, fd, ready, w->arg);
    return 1;
}

/*
 * Calls the watchers of the ready fds among 0..maxfd of `rd`/`wr` (NULL:
 * none). Scans a word at a time and visits only the set bits, so a turn
 * costs what is ready, not maxfd bit tests; `nready` ends it early.
 */
static int dispatch_fds(mux__poll_t *poll, mux_loop_t *loop, uint32_t turn,
                        const fd_word_t *rd, const fd_word_t *wr, int maxfd,
                        int nready) {
    int ran = 0;
    for (int i = 0; i <= maxfd / WORD_BITS && nready > 0; i++) {
        fd_word_t r = rd ? rd[i] : 0, w = wr ? wr[i] : 0;
        for (fd_word_t bits = r | w; bits && nready > 0; bits &= bits - 1) {
            int bit = __builtin_ctzl(bits);
            fd_word_t mask = (fd_word_t)1 << bit;
            int ready = (r & mask ? MUX_READ : 0) | (w & mask ? MUX_WRITE : 0);
            nready -= (r & mask ? 1 : 0) + (w & mask ? 1 : 0);
            ran += dispatch_one(poll, loop, turn, i * WORD_BITS + bit, ready);
        }
    }
    return ran;
}

/*
 * The common turn: nobody waits to write, so only reads are ready. Each
 * bit is cleared before its callback runs, and mux__poll_interest() clears
 * the bit of a watcher that is removed or stops reading meanwhile: every
 * bit left is a watcher that still wants to read, so no per-fd re-check.
 * `rd` stays valid even if a callback grows the sets (see mux__poll_grow).
 */
static int dispatch_reads(mux__poll_t *poll, mux_loop_t *loop, fd_word_t *rd,
                          int maxfd) {
    int ran = 0;
    poll->ready_rd = rd;
    poll->ready_capacity = maxfd + 1;
    for (int i = 0; i <= maxfd / WORD_BITS; i++) { /* the words select() saw */
        for (fd_word_t bits; (bits = rd[i]) != 0; ran++) {
            rd[i] = bits & (bits - 1);
            int fd = i * WORD_BITS + __builtin_ctzl(bits);
            watcher_t *w = &poll->watchers[fd];
            w->cb(loop, fd, MUX_READ, w->arg);
        }
    }
    poll->ready_rd = NULL;
    return ran;
}

int mux__poll_dispatch(mux__poll_t *poll, mux_loop_t *loop, uint32_t turn,
                       mux__poll_ready_t *ready, int nready) {
    /* A nested turn takes the checked path: the outer turn's set stays
     * the one removals clear, so it is not left with stale bits. */
    int ran = nready == 0 ? 0
              : ready->wr || poll->ready_rd
                  ? dispatch_fds(poll, loop, turn, ready->rd, ready->wr,
                                 ready->maxfd, nready)
                  : dispatch_reads(poll, loop, ready->rd, ready->maxfd);
    free(ready->nested);
    return ran;
}

int mux__poll_dispatch_host(mux__poll_t *poll, mux_loop_t *loop, uint32_t turn,
                            const fd_set *rd, const fd_set *wr, int maxfd) {
    if (!rd && !wr)
        return 0;
    return dispatch_fds(poll, loop, turn, (const fd_word_t *)(const void *)rd,
                        (const fd_word_t *)(const void *)wr, maxfd, INT_MAX);
}
