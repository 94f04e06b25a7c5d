/*
 * shape.c -- one direction of a stream's bytes, disturbed as a mux_shape_t
 * says: held back (latency, jitter, the stream's delay), let through at a
 * rate (bandwidth), in pieces (split), up to a total (drop_after), or not
 * at all (stall). The stream pushes bytes in and asks what may go now; the
 * shaper never writes or reads a socket itself, so the same code shapes a
 * stream's output (towards the socket) and its input (towards the
 * service).
 *
 * The held bytes are one buffer plus one small record per group of bytes
 * falling due in the same slot (the whole delay / 64, at least 1 ms): the
 * queue costs about what it carries, however small the sends. Due times
 * never go back, so jitter cannot reorder bytes.
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Groups per delay: a byte leaves at most delay / DELAY_SLOTS late. */
#define DELAY_SLOTS 64
/* bandwidth: the most the bucket holds, in milliseconds of the rate. */
#define BUCKET_MS 10

typedef struct {
    uint64_t due; /* on the mux__clock_ms() clock, as timer deadlines are */
    size_t len;
} group_t;

mux__shaper_t *mux__shaper_new(mux_loop_t *loop, mux_timer_cb *cb, void *arg) {
    mux__shaper_t *sh = calloc(1, sizeof(*sh));
    if (sh)
        mux_timer_init(&sh->timer, loop, cb, arg);
    return sh;
}

void mux__shaper_free(mux__shaper_t *sh) {
    if (!sh)
        return;
    mux_timer_stop(&sh->timer);
    mux__buf_free(&sh->bytes);
    mux__buf_free(&sh->groups);
    free(sh);
}

static group_t *first_group(const mux__shaper_t *sh) {
    return sh->groups.len ? (group_t *)mux__buf_head(&sh->groups) : NULL;
}

static group_t *last_group(const mux__shaper_t *sh) {
    return sh->groups.len ? (group_t *)(mux__buf_head(&sh->groups) +
                                        sh->groups.len - sizeof(group_t))
                          : NULL;
}

size_t mux__shaper_len(const mux__shaper_t *sh) {
    return sh ? sh->bytes.len : 0;
}

size_t mux__shaper_cost(const mux__shaper_t *sh) {
    return sh ? sh->bytes.len + sh->groups.len : 0;
}

void mux__shaper_drop(mux__shaper_t *sh) {
    mux__buf_free(&sh->bytes);
    mux__buf_free(&sh->groups);
}

/* A small generator for jitter (xorshift; reproducible per stream). */
static uint64_t draw(mux__shaper_t *sh, uint64_t bound) {
    uint32_t x = sh->rng ? sh->rng : 0x9e3779b9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    sh->rng = x;
    return bound ? x % (bound + 1) : 0;
}

/* The end of the slot that bytes due at `due` wait for. */
static uint64_t slot_due(uint64_t delay, uint64_t due) {
    uint64_t slot = delay / DELAY_SLOTS ? delay / DELAY_SLOTS : 1;
    return (due + slot - 1) / slot * slot;
}

int mux__shaper_hold(mux__shaper_t *sh, const mux_shape_t *shape,
                     uint64_t delay, const void *data, size_t len,
                     uint64_t now) {
    uint64_t held = delay + shape->latency_ms;
    uint64_t due = now + held + draw(sh, shape->jitter_ms);
    if (held || shape->jitter_ms)
        due = slot_due(held + shape->jitter_ms, due);
    else
        due = 0; /* no delay: all due at once, one group */
    group_t *last = last_group(sh);
    if (last && due < last->due)
        due = last->due; /* jitter never reorders */
    if (!last || last->due != due) {
        group_t group = {.due = due, .len = 0};
        if (mux__buf_append(&sh->groups, &group, sizeof(group)) < 0)
            return -ENOMEM;
        last = last_group(sh);
    }
    if (mux__buf_append(&sh->bytes, data, len) < 0)
        return -ENOMEM; /* an empty group stays: released empty when due */
    last->len += len;
    return 0;
}

/* bandwidth: the bucket, topped up for the time since it last was. */
static uint64_t tokens(const mux__shaper_t *sh, const mux_shape_t *shape,
                       uint64_t now) {
    uint64_t cap = shape->bandwidth * BUCKET_MS / 1000;
    cap = cap ? cap : 1;
    uint64_t elapsed = now - sh->filled_ms;
    if (!sh->filled_ms || elapsed >= BUCKET_MS * 100)
        return cap; /* idle long enough to be full */
    uint64_t t = sh->tokens + elapsed * shape->bandwidth / 1000;
    return t < cap ? t : cap;
}

size_t mux__shaper_peek(const mux__shaper_t *sh, const mux_shape_t *shape,
                        uint64_t now, bool busy, const char **data) {
    const group_t *first = first_group(sh);
    if (!first || first->due > now || shape->stall || sh->dropped)
        return 0;
    size_t quota = first->len;
    if (shape->split) {
        if (busy || now < sh->next_piece)
            return 0;
        quota = quota < shape->split ? quota : shape->split;
    }
    if (shape->bandwidth) {
        uint64_t t = tokens(sh, shape, now);
        quota = t < quota ? (size_t)t : quota;
    }
    if (shape->drop_after) {
        uint64_t left =
            sh->passed < shape->drop_after ? shape->drop_after - sh->passed : 0;
        quota = left < quota ? (size_t)left : quota;
    }
    *data = mux__buf_head(&sh->bytes);
    return quota;
}

bool mux__shaper_took(mux__shaper_t *sh, const mux_shape_t *shape, size_t n,
                      uint64_t now) {
    group_t *first = first_group(sh);
    if (n > 0) {
        mux__buf_consume(&sh->bytes, n);
        first->len -= n;
        sh->passed += n;
        if (shape->split)
            sh->next_piece = now + shape->split_ms;
        if (shape->bandwidth) {
            sh->tokens = tokens(sh, shape, now) - n;
            sh->filled_ms = now;
        }
    }
    if (first->len == 0) {
        mux__buf_consume(&sh->groups, sizeof(*first));
        if (sh->groups.len == 0)
            mux__shaper_drop(sh); /* the memory goes with the last byte */
    }
    if (shape->drop_after && sh->passed >= shape->drop_after && !sh->dropped) {
        sh->dropped = true;
        mux__shaper_drop(sh);
        return true;
    }
    return false;
}

uint64_t mux__shaper_next(const mux__shaper_t *sh, const mux_shape_t *shape,
                          uint64_t now, bool busy) {
    const group_t *first = first_group(sh);
    if (!first || shape->stall || sh->dropped)
        return 0;
    uint64_t when = first->due > now ? first->due : now;
    if (shape->split && busy && !shape->split_ms)
        return 0; /* no pause: the write of the last piece releases the next */
    if (shape->split) {
        uint64_t piece = busy ? now + shape->split_ms : sh->next_piece;
        when = piece > when ? piece : when;
    }
    if (shape->bandwidth) {
        uint64_t have = tokens(sh, shape, now);
        uint64_t cap = shape->bandwidth * BUCKET_MS / 1000;
        uint64_t want = first->len < cap ? first->len : (cap ? cap : 1);
        if (have < want) {
            uint64_t wait = ((want - have) * 1000 + shape->bandwidth - 1) /
                            shape->bandwidth;
            when = now + wait > when ? now + wait : when;
        }
    }
    return when ? when : now;
}

int mux__shaper_arm(mux__shaper_t *sh, uint64_t when) {
    if (!when) {
        mux_timer_stop(&sh->timer);
        return 0;
    }
    uint64_t now = mux__clock_ms();
    return mux_timer_start(&sh->timer, when > now ? when - now : 0, 0);
}
