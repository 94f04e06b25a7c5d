/*
 * timer.c -- timers embedded in their owners, in a binary min-heap on
 * (deadline, seq) that the loop holds (its `timers` member: like libuv's
 * timer.c, which reaches its loop's timer_heap and nothing else of it),
 * and the monotonic clock their deadlines are on.
 *
 * The loop asks two things of it each turn: when the nearest timer is due
 * (mux__timers_nearest) and to run the due ones (mux__timers_run).
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>

uint64_t mux__clock_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * MUX__NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

uint64_t mux__ms_to_ns(uint64_t ms) {
    return ms > UINT64_MAX / MUX__NS_PER_MS ? UINT64_MAX : ms * MUX__NS_PER_MS;
}

/* ------------------------------------------------------------------ */
/* The heap                                                            */
/* ------------------------------------------------------------------ */

static bool timer_before(const mux_timer_t *a, const mux_timer_t *b) {
    return a->deadline < b->deadline ||
           (a->deadline == b->deadline && a->seq < b->seq);
}

static void heap_place(mux__timers_t *h, size_t i, mux_timer_t *t) {
    h->heap[i] = t;
    t->active = i + 1;
}

static void heap_sift_up(mux__timers_t *h, size_t i) {
    mux_timer_t *t = h->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!timer_before(t, h->heap[parent]))
            break;
        heap_place(h, i, h->heap[parent]);
        i = parent;
    }
    heap_place(h, i, t);
}

static void heap_sift_down(mux__timers_t *h, size_t i) {
    mux_timer_t *t = h->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->count)
            break;
        if (child + 1 < h->count &&
            timer_before(h->heap[child + 1], h->heap[child]))
            child++;
        if (!timer_before(h->heap[child], t))
            break;
        heap_place(h, i, h->heap[child]);
        i = child;
    }
    heap_place(h, i, t);
}

/* Room for one more timer. Returns 0 or -ENOMEM. */
static int heap_reserve(mux__timers_t *h) {
    if (h->count < h->cap)
        return 0;
    size_t cap = h->cap ? h->cap * 2 : 16;
    mux_timer_t **heap = realloc(h->heap, cap * sizeof(*heap));
    if (!heap)
        return -ENOMEM;
    h->heap = heap;
    h->cap = cap;
    return 0;
}

/* Inserts an inactive timer; there is room (heap_reserve). */
static void heap_push(mux__timers_t *h, mux_timer_t *t) {
    assert(!t->active && h->count < h->cap);
    t->seq = h->seq++;
    h->heap[h->count++] = t;
    heap_sift_up(h, h->count - 1);
}

static void heap_remove(mux__timers_t *h, mux_timer_t *t) {
    size_t i = t->active - 1;
    mux_timer_t *last = h->heap[--h->count];
    t->active = 0;
    if (last == t)
        return;
    heap_place(h, i, last);
    heap_sift_up(h, i);
    heap_sift_down(h, last->active - 1);
}

/* ------------------------------------------------------------------ */
/* The API                                                             */
/* ------------------------------------------------------------------ */

void mux_timer_init(mux_timer_t *t, mux_loop_t *loop, mux_timer_cb *cb,
                    void *arg) {
    assert(cb);
    *t = (mux_timer_t){.loop = loop, .cb = cb, .arg = arg};
}

int mux__timer_start_at(mux_timer_t *t, uint64_t deadline, uint64_t repeat) {
    assert(t->loop && t->cb);
    mux__timers_t *h = &t->loop->timers;
    if (t->active)
        heap_remove(h, t); /* its slot is free again: no allocation */
    else if (heap_reserve(h) < 0)
        return -ENOMEM;
    t->deadline = deadline;
    t->repeat = repeat;
    heap_push(h, t);
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
        heap_remove(&t->loop->timers, t);
}

int mux_timer_active(const mux_timer_t *t) { return t->active != 0; }

/* ------------------------------------------------------------------ */
/* What the loop asks                                                  */
/* ------------------------------------------------------------------ */

bool mux__timers_nearest(const mux__timers_t *timers, uint64_t *deadline) {
    if (timers->count == 0)
        return false;
    *deadline = timers->heap[0]->deadline;
    return true;
}

/*
 * Each due timer leaves the heap before its callback (a repeating one goes
 * back at once, for its next period), so the callback may stop, restart or
 * free it and nothing touches it afterwards. Timers armed during this pass
 * get a newer seq and wait for the next turn, so a zero delay cannot spin
 * here.
 */
int mux__timers_run(mux_loop_t *loop, uint64_t now) {
    mux__timers_t *h = &loop->timers;
    uint64_t seq_limit = h->seq;
    int ran = 0;
    while (h->count > 0) {
        mux_timer_t *t = h->heap[0];
        if (t->deadline > now || t->seq >= seq_limit)
            break;
        heap_remove(h, t);
        if (t->repeat) {
            t->deadline = t->repeat > UINT64_MAX - t->deadline
                              ? UINT64_MAX
                              : t->deadline + t->repeat;
            if (t->deadline < now) /* fell behind: no catch-up burst */
                t->deadline = now;
            heap_push(h, t); /* the slot it just left */
        }
        t->cb(loop, t, t->arg);
        ran++;
    }
    return ran;
}

void mux__timers_free(mux__timers_t *timers) {
    for (size_t i = 0; i < timers->count; i++)
        timers->heap[i]->active = 0; /* their owners' memory: only disarmed */
    free(timers->heap);
}
