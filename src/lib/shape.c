/*
 * shape.c -- one direction of a stream's bytes, disturbed as a mux_shape_t
 * says: held back (latency, jitter, the stream's delay), let through at a
 * rate (bandwidth), in pieces (split; slice, toxiproxy's slicer), up to
 * a total (drop_after), or not at all (stall). The stream pushes bytes in and
 * asks what may go now; the shaper never writes or reads a socket itself, so
 * the same code shapes a stream's output (towards the socket) and its input
 * (towards the service).
 *
 * The held bytes are one buffer plus one small record per group of bytes
 * falling due in the same slot (the whole delay / 1024): the queue costs
 * about what it carries, however small the sends. Due times never go
 * back, so jitter cannot reorder bytes.
 *
 * All times are nanoseconds on mux__clock_ns(), the clock of the timers:
 * a byte due at t is released by a timer armed for t, never before it,
 * and never rounded to a whole millisecond.
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Groups per delay: a byte leaves at most delay / DELAY_SLOTS late. */
#define DELAY_SLOTS 1024
/* bandwidth: the most the bucket holds, in time at the rate; and the most
 * it gathers while bytes wait for it (see empty_at()). */
#define BUCKET_NS (10u * MUX__NS_PER_MS)
#define BACKLOG_NS (1000u * MUX__NS_PER_MS)

typedef struct {
    uint64_t due; /* ns, on the mux__clock_ns() clock, as timer deadlines */
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
    mux__buf_free(&sh->slices);
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
    mux__buf_free(&sh->slices);
    sh->slice_left = 0;
}

/* What an emptied buffer keeps of its storage: a stream that sends one
 * message at a time through a latency pays no malloc and free for each
 * (they were a third of a delayed relayed round trip's instructions),
 * and one that held a burst gives the memory back with its last byte. */
#define KEEP_CAP 1024

static void emptied(mux_buf_t *buf) {
    if (buf->cap > KEEP_CAP)
        mux__buf_free(buf);
    else
        mux__buf_consume(buf, buf->len);
}

/* A small generator for jitter and slice_variation (xorshift), from the
 * shape's seed: a draw in 0..bound. */
static uint64_t draw(mux__shaper_t *sh, const mux_shape_t *shape,
                     uint64_t bound) {
    uint32_t seed = (uint32_t)(shape->seed ^ (shape->seed >> 32));
    uint32_t x = sh->rng ? sh->rng : seed ? seed : 0x9e3779b9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    sh->rng = x;
    return bound ? x % (bound + 1) : 0;
}

/* a * b / c, rounded down, saturating at UINT64_MAX (c > 0). */
static uint64_t mul_div(uint64_t a, uint64_t b, uint64_t c) {
#if defined(__SIZEOF_INT128__)
    __extension__ unsigned __int128 q = (unsigned __int128)a * b / c;
    return q > UINT64_MAX ? UINT64_MAX : (uint64_t)q;
#else
    long double q = (long double)a * (long double)b / (long double)c;
    return q >= (long double)UINT64_MAX ? UINT64_MAX : (uint64_t)q;
#endif
}

static uint64_t add_sat(uint64_t a, uint64_t b) {
    return b > UINT64_MAX - a ? UINT64_MAX : a + b;
}

static uint64_t us_to_ns(uint64_t us) {
    return us > UINT64_MAX / 1000u ? UINT64_MAX : us * 1000u;
}

/* The end of the slot that bytes due at `due` wait for. */
static uint64_t slot_due(uint64_t delay, uint64_t due) {
    uint64_t slot = delay / DELAY_SLOTS ? delay / DELAY_SLOTS : 1;
    uint64_t end = due / slot * slot;
    return end < due ? add_sat(end, slot) : end;
}

int mux__shaper_hold(mux__shaper_t *sh, const mux_shape_t *shape,
                     uint64_t delay_ms, const void *data, size_t len,
                     uint64_t now) {
    uint64_t held =
        add_sat(mux__ms_to_ns(delay_ms), mux__ms_to_ns(shape->latency_ms));
    uint64_t jitter = mux__ms_to_ns(shape->jitter_ms);
    /* Drawn in microseconds: the generator has 32 bits. */
    uint64_t due =
        add_sat(add_sat(now, held),
                jitter ? draw(sh, shape, jitter / 1000u) * 1000u : 0);
    group_t *last = last_group(sh);
    if (held || jitter)
        due = slot_due(add_sat(held, jitter), due);
    else if (last && !shape->slice)
        due = last->due; /* no delay: due with what is held, one group */
    /* (slice: a group per chunk, but a send's pieces, held at once, are
     * one: mux_conn_sendv()) */
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

char *mux__shaper_tail(mux__shaper_t *sh, size_t len) {
    return mux__buf_head(&sh->bytes) + sh->bytes.len - len;
}

/* bandwidth: how long the bucket takes to fill, at least one byte's time. */
static uint64_t bucket_ns(const mux_shape_t *shape) {
    uint64_t byte = (MUX__NS_PER_SEC + shape->bandwidth - 1) / shape->bandwidth;
    return byte > BUCKET_NS ? byte : BUCKET_NS;
}

/*
 * bandwidth: the bucket is a time, when it was (or would have been)
 * empty; it gathers the rate since. It holds at most a full bucket at the
 * moment the first held bytes could go: when they fell due or, if later,
 * when the shaper's timer was to wake for them. The time a late wake-up
 * lost is kept (up to BACKLOG_NS), so a late timer costs no rate; a pause
 * the shaper did not make (a stall, a flush that found no timer) gives
 * no more than a full bucket.
 */
static uint64_t empty_at(const mux__shaper_t *sh, const mux_shape_t *shape,
                         uint64_t now) {
    const group_t *first = first_group(sh);
    uint64_t due = first && first->due < now ? first->due : now;
    uint64_t wake = sh->wake && sh->wake < now ? sh->wake : now;
    due = wake > due ? wake : due;
    uint64_t full = bucket_ns(shape);
    uint64_t at = due > full ? due - full : 0;
    if (now > BACKLOG_NS && at < now - BACKLOG_NS)
        at = now - BACKLOG_NS;
    return sh->empty_at > at ? sh->empty_at : at;
}

/* bandwidth: the bytes in the bucket. */
static uint64_t tokens(const mux__shaper_t *sh, const mux_shape_t *shape,
                       uint64_t now) {
    uint64_t at = empty_at(sh, shape, now);
    return now > at ? mul_div(now - at, shape->bandwidth, MUX__NS_PER_SEC) : 0;
}

/* bandwidth: the time `n` bytes take at the rate, rounded up: never
 * faster than the rate. */
static uint64_t cost_ns(const mux_shape_t *shape, uint64_t n) {
    uint64_t cost = mul_div(n, MUX__NS_PER_SEC, shape->bandwidth);
    if (mul_div(cost, shape->bandwidth, MUX__NS_PER_SEC) < n)
        cost++;
    return cost;
}

/* bandwidth: `n` bytes taken out of the bucket at `now`. */
static void spend(mux__shaper_t *sh, const mux_shape_t *shape, size_t n,
                  uint64_t now) {
    sh->empty_at = add_sat(empty_at(sh, shape, now), cost_ns(shape, n));
}

/* Whether the shape cuts the bytes into pieces, a write each. */
static bool pieces(const mux_shape_t *shape) {
    return shape->split || shape->slice;
}

/* slice: a half of a chunk to cut later, or 0 if none is left. */
static size_t pop_half(mux__shaper_t *sh) {
    if (sh->slices.len < sizeof(size_t))
        return 0;
    size_t half;
    sh->slices.len -= sizeof(half);
    memcpy(&half, mux__buf_head(&sh->slices) + sh->slices.len, sizeof(half));
    return half;
}

/*
 * slice: the next piece of the first group, `len` bytes: the nearest
 * half still to cut (or, none left, the rest of the group: a new chunk)
 * cut in two near its middle, the right half kept for later, and its
 * left half again, until it is at most slice + slice_variation bytes (the
 * order of toxiproxy's recursion, and of its draws). With no memory for a
 * half, the piece is what is left uncut.
 */
static size_t next_slice(mux__shaper_t *sh, const mux_shape_t *shape,
                         size_t len) {
    size_t n = pop_half(sh), var = shape->slice_variation;
    if (var >= shape->slice)
        var = shape->slice - 1; /* a variation must stay below the size */
    if (!n || n > len)
        n = len;
    while (n > shape->slice && n - shape->slice > var) {
        size_t left = n / 2; /* > var: n > slice + var >= 2 var + 1 */
        if (var)
            left = left + (size_t)draw(sh, shape, 2 * var - 1) - var;
        size_t right = n - left;
        if (mux__buf_append(&sh->slices, &right, sizeof(right)) < 0)
            break;
        n = left;
    }
    return n;
}

/* drop_after as a count: MUX_DROP_ALL is none. */
static uint64_t drop_limit(const mux_shape_t *shape) {
    return shape->drop_after == MUX_DROP_ALL ? 0 : shape->drop_after;
}

bool mux__shaper_drop_all(mux__shaper_t *sh, const mux_shape_t *shape) {
    if (shape->drop_after != MUX_DROP_ALL || sh->dropped ||
        mux__shaper_len(sh) == 0)
        return false;
    sh->dropped = true;
    mux__shaper_drop(sh);
    return true;
}

size_t mux__shaper_peek(mux__shaper_t *sh, const mux_shape_t *shape,
                        uint64_t now, bool busy, const char **data) {
    const group_t *first = first_group(sh);
    if (!first || first->due > now || shape->stall || sh->dropped)
        return 0;
    size_t quota = first->len;
    if (pieces(shape) && (busy || now < sh->next_piece))
        return 0;
    if (shape->slice) {
        if (!sh->slice_left)
            sh->slice_left = next_slice(sh, shape, quota);
        quota = quota < sh->slice_left ? quota : sh->slice_left;
    }
    if (shape->split)
        quota = quota < shape->split ? quota : shape->split;
    if (shape->bandwidth) {
        uint64_t t = tokens(sh, shape, now);
        quota = t < quota ? (size_t)t : quota;
    }
    if (shape->drop_after) {
        uint64_t limit = drop_limit(shape);
        uint64_t left = sh->passed < limit ? limit - sh->passed : 0;
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
        sh->slice_left -= n < sh->slice_left ? n : sh->slice_left;
        if (pieces(shape))
            sh->next_piece = add_sat(now, us_to_ns(shape->split_us));
    }
    if (n > 0 && shape->bandwidth)
        spend(sh, shape, n, now); /* before the group goes: its due counts */
    if (first->len == 0) {
        mux__buf_consume(&sh->slices, sh->slices.len); /* the chunk is out */
        sh->slice_left = 0;
        mux__buf_consume(&sh->groups, sizeof(*first));
        if (sh->groups.len == 0) { /* a burst's memory goes with it */
            emptied(&sh->bytes);
            emptied(&sh->groups);
            emptied(&sh->slices);
        }
    }
    if (shape->drop_after && sh->passed >= drop_limit(shape) && !sh->dropped) {
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
    if (pieces(shape) && busy && !shape->split_us)
        return 0; /* no pause: the write of the last piece releases the next */
    if (pieces(shape)) {
        uint64_t piece =
            busy ? add_sat(now, us_to_ns(shape->split_us)) : sh->next_piece;
        when = piece > when ? piece : when;
    }
    if (shape->bandwidth) {
        /* A full bucket, or the first group if it is smaller: when the
         * bucket holds that much (the bytes gathered beyond it while the
         * timer runs late are kept, see empty_at()). */
        uint64_t full =
            mul_div(bucket_ns(shape), shape->bandwidth, MUX__NS_PER_SEC);
        uint64_t want = first->len < full ? first->len : full;
        /* The bucket's own time, not now + the bytes missing: what it
         * holds beyond whole bytes is not lost to the wait. */
        uint64_t ready =
            add_sat(empty_at(sh, shape, now), cost_ns(shape, want));
        when = ready > when ? ready : when;
    }
    return when ? when : now;
}

int mux__shaper_arm(mux__shaper_t *sh, uint64_t when) {
    sh->wake = when;
    if (!when) {
        mux_timer_stop(&sh->timer);
        return 0;
    }
    return mux__timer_start_at(&sh->timer, when, 0);
}
