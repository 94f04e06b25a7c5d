/*
 * faults.c -- a fault set (mux_faults_t): for each direction of a stream
 * a chain of stages, and the faults that end a stream. The chain's timing
 * is folded once, when a stage is pushed, into one mux_shape_t (stages in
 * series: see mux_faults_push()), so a stream asks one shape per
 * direction and holds its bytes in one queue (shape.c) however many
 * stages there are; the stages that change bytes run in order on every
 * byte as it enters (mux__faults_filter()).
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef mux__chain_t chain_t;

const mux_faults_t mux__no_faults;

mux_faults_t *mux_faults_new(void) { return calloc(1, sizeof(mux_faults_t)); }

void mux_faults_clear(mux_faults_t *faults) {
    for (int d = 0; d < 2; d++)
        free(faults->dir[d].stages);
    void *data = faults->data;
    memset(faults, 0, sizeof(*faults));
    faults->data = data;
}

void mux_faults_free(mux_faults_t *faults) {
    if (!faults)
        return;
    mux_faults_clear(faults);
    free(faults);
}

int mux_faults_copy(mux_faults_t *dst, const mux_faults_t *src) {
    mux_faults_clear(dst);
    memcpy(dst->end, src->end, sizeof(dst->end));
    for (int d = 0; d < 2; d++)
        for (size_t i = 0; i < src->dir[d].n; i++)
            if (mux_faults_push(dst, (mux_dir)d, &src->dir[d].stages[i]) < 0) {
                mux_faults_clear(dst);
                return -ENOMEM;
            }
    return 0;
}

void mux_faults_set(mux_faults_t *faults, mux_fault_end what, uint64_t value) {
    faults->end[what] = value;
}

uint64_t mux_faults_get(const mux_faults_t *faults, mux_fault_end what) {
    return faults ? faults->end[what] : 0;
}

static uint64_t add_sat(uint64_t a, uint64_t b) {
    return b > UINT64_MAX - a ? UINT64_MAX : a + b;
}

/* The smaller of two limits where 0 means none. */
static uint64_t min_set(uint64_t a, uint64_t b) {
    return !a ? b : !b ? a : a < b ? a : b;
}

/* `next` after `chain`, in series: what both links make of a byte. */
static void then(mux_shape_t *chain, const mux_shape_t *next) {
    chain->latency_ms = add_sat(chain->latency_ms, next->latency_ms);
    chain->jitter_ms = add_sat(chain->jitter_ms, next->jitter_ms);
    chain->bandwidth = min_set(chain->bandwidth, next->bandwidth);
    chain->split = (size_t)min_set(chain->split, next->split);
    if (next->slice && (!chain->slice || next->slice < chain->slice)) {
        chain->slice = next->slice;
        chain->slice_variation = next->slice_variation;
    }
    if (next->split_us > chain->split_us)
        chain->split_us = next->split_us;
    if (!chain->seed)
        chain->seed = next->seed;
    chain->drop_after =
        chain->drop_after == MUX_DROP_ALL || next->drop_after == MUX_DROP_ALL
            ? MUX_DROP_ALL
            : min_set(chain->drop_after, next->drop_after);
    chain->stall = chain->stall || next->stall;
}

int mux_faults_push(mux_faults_t *faults, mux_dir dir,
                    const mux_stage_t *stage) {
    chain_t *c = &faults->dir[dir];
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 2;
        mux_stage_t *grown = realloc(c->stages, cap * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        c->stages = grown;
        c->cap = cap;
    }
    c->stages[c->n++] = *stage;
    c->nfilters += stage->filter != NULL;
    then(&c->shape, &stage->shape);
    return 0;
}

size_t mux_faults_stages(const mux_faults_t *faults, mux_dir dir) {
    return faults ? faults->dir[dir].n : 0;
}

const mux_stage_t *mux_faults_stage(const mux_faults_t *faults, mux_dir dir,
                                    size_t i) {
    return faults && i < faults->dir[dir].n ? &faults->dir[dir].stages[i]
                                            : NULL;
}

const mux_shape_t *mux_faults_shape(const mux_faults_t *faults, mux_dir dir) {
    static const mux_shape_t none;
    return faults ? &faults->dir[dir].shape : &none;
}

void mux_faults_set_data(mux_faults_t *faults, void *data) {
    faults->data = data;
}

void *mux_faults_data(const mux_faults_t *faults) {
    return faults ? faults->data : NULL;
}

void mux__faults_filter(const mux_faults_t *faults, mux_dir dir,
                        uint64_t *state, char *data, size_t len) {
    const chain_t *c = &faults->dir[dir];
    for (size_t i = 0, f = 0; i < c->n && len; i++)
        if (c->stages[i].filter)
            c->stages[i].filter(&c->stages[i], &state[f++], data, len);
}
