/*
 * registry.c -- the fault kinds, one row each (kind.h), and what they
 * share: a duration's parser, a one-number value's, and the walk over the
 * directions or sides a fault's dir= names. A new kind: its file in
 * src/muxd/faults/, its ROW() here, its row in docs/faults.md's table.
 */
#define _POSIX_C_SOURCE 200809L

#include "kind.h"
#include "number.h"

#include <string.h>

/* The kinds, in --help order: one row each. */
#define MUXD_FAULT_KINDS(ROW)                                                  \
    ROW(latency)                                                               \
    ROW(bandwidth)                                                             \
    ROW(split)                                                                 \
    ROW(slicer)                                                                \
    ROW(drop_after)                                                            \
    ROW(stall)                                                                 \
    ROW(rst)                                                                   \
    ROW(reset_peer)                                                            \
    ROW(slow_close)                                                            \
    ROW(limit_time)                                                            \
    ROW(timeout)                                                               \
    ROW(refuse)                                                                \
    ROW(blackhole)                                                             \
    ROW(accept_delay)                                                          \
    ROW(corrupt)                                                               \
    /* a new kind: one ROW(name) above this line */

#define DECLARE(kind) extern const muxd_fault_kind_t muxd_fault_##kind;
MUXD_FAULT_KINDS(DECLARE)
#define POINT(kind) &muxd_fault_##kind,
const muxd_fault_kind_t *const muxd_fault_kinds[] = {MUXD_FAULT_KINDS(POINT)};
const size_t muxd_fault_nkinds =
    sizeof(muxd_fault_kinds) / sizeof(muxd_fault_kinds[0]);

uint64_t muxd_fault_ms(const char *text, const char *end, uint64_t min,
                       uint64_t max) {
    size_t len = end ? (size_t)(end - text) : strlen(text);
    if (len == 1 && text[0] == '0')
        return min ? UINT64_MAX : 0;
    uint64_t v = number_parse_size(text, end, max, false);
    return v ? v : UINT64_MAX;
}

const char *muxd_fault_parse_param(const muxd_fault_kind_t *kind,
                                   const char *value, muxd_fault_t *f) {
    const muxd_fault_param_t *p = &kind->param;
    if (p->unit == MUXD_UNIT_BYTES) {
        f->value = number_parse_size(value, NULL, p->max, true);
        return f->value ? NULL : p->why;
    }
    f->value = muxd_fault_ms(value, NULL, p->min, p->max);
    return f->value != UINT64_MAX ? NULL : p->why;
}

/* f's stage at the end of one direction's chain. */
static void push(const muxd_fault_t *f, muxd_conn_faults_t *cf,
                 muxd_stage_fill_t *fill, mux_faults_t *faults, mux_dir dir) {
    mux_stage_t stage = {.name = f->kind->name};
    fill(f, cf, &stage);
    if (mux_faults_push(faults, dir, &stage) < 0)
        cf->nomem = true;
}

mux_faults_t *muxd_fault_chain(bool relay, muxd_conn_faults_t *cf, uint8_t dir,
                               mux_dir *which) {
    bool upstream = relay && dir == MUXD_DIR_UP;
    *which = dir == MUXD_DIR_UP && !relay ? MUX_IN : MUX_OUT;
    return upstream ? cf->upstream : cf->client;
}

void muxd_fault_each_chain(const muxd_fault_t *f, bool relay,
                           muxd_conn_faults_t *cf, muxd_chain_fn_t *each,
                           void *arg) {
    for (uint8_t dir = MUXD_DIR_DOWN; dir <= MUXD_DIR_UP;
         dir = (uint8_t)(dir << 1)) {
        mux_dir which;
        if (!(f->dir & dir))
            continue;
        mux_faults_t *faults = muxd_fault_chain(relay, cf, dir, &which);
        each(f, faults, which, arg);
    }
}

typedef struct {
    muxd_conn_faults_t *cf;
    muxd_stage_fill_t *fill;
} push_t;

static void push_each(const muxd_fault_t *f, mux_faults_t *faults,
                      mux_dir which, void *arg) {
    const push_t *p = arg;
    push(f, p->cf, p->fill, faults, which);
}

void muxd_fault_each_dir(const muxd_fault_t *f, bool relay,
                         muxd_conn_faults_t *cf, muxd_stage_fill_t *fill) {
    push_t p = {.cf = cf, .fill = fill};
    muxd_fault_each_chain(f, relay, cf, push_each, &p);
}

void muxd_fault_each_side(const muxd_fault_t *f, bool relay,
                          muxd_conn_faults_t *cf,
                          void (*into)(const muxd_fault_t *, mux_faults_t *)) {
    if (!relay || (f->dir & MUXD_DIR_DOWN))
        into(f, cf->client);
    if (relay && (f->dir & MUXD_DIR_UP))
        into(f, cf->upstream);
}
