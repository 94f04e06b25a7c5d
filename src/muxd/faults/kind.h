/*
 * kind.h -- a fault kind's descriptor (one file each in src/muxd/faults/,
 * one row each in registry.c): its name, its value (form, unit, range,
 * parser), its --help lines, where it acts, and how a fault of it goes
 * into what a connection gets (muxd_conn_faults_t): a stage of a
 * direction's chain (mux_stage_t: its timing, or a filter of its own that
 * changes bytes), an ending fault of a stream, or a verdict at accept.
 * faults.c's parser, registry and --help loop over the descriptors; the
 * timing and the endings are the library's mechanisms (src/lib/shape.c,
 * stream.c, acceptor.c), which the stages and endings set.
 */
#ifndef MUXD_FAULT_KIND_H
#define MUXD_FAULT_KIND_H

#include "faults.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Upper bounds: beyond them a value is surely a typo. */
#define MUXD_FAULT_MAX_BYTES (UINT64_C(1) << 40)
#define MUXD_FAULT_MAX_PIECE (UINT64_C(1) << 30)
#define MUXD_FAULT_MAX_MS UINT64_C(3600000)

/* dir=: the bytes to the client (down), those muxd reads (up). */
enum { MUXD_DIR_DOWN = 1, MUXD_DIR_UP = 2 };

typedef struct muxd_fault_kind muxd_fault_kind_t;

/* One fault, parsed. */
typedef struct {
    const muxd_fault_kind_t *kind;
    uint64_t value, extra; /* split: bytes, ms; latency: ms, jitter */
    uint64_t extra2;       /* slicer: bytes, variation, us */
    uint8_t dir;           /* MUXD_DIR_* bits */
    unsigned odds;         /* percent of connections */
    uint64_t first;        /* only the first N connections; 0: all */
    bool rst;              /* `,rst` after another kind: closes reset */
    uint64_t seed;         /* its own draws (--seed and its id) */
    char proxy[65];        /* proxy=NAME: that proxy's connections only */
} muxd_fault_t;

/* Where a kind acts. */
typedef enum {
    MUXD_FAULT_PER_DIR,    /* on the bytes of each direction dir= names */
    MUXD_FAULT_PER_SIDE,   /* on the close of the side dir= names (relay) */
    MUXD_FAULT_AT_CONNECT, /* on each connection as a whole, from accept */
    MUXD_FAULT_AT_ACCEPT,  /* on the listener: the server's, never drawn */
} muxd_fault_where_t;

typedef enum { MUXD_UNIT_MS, MUXD_UNIT_BYTES } muxd_fault_unit_t;

/* A one-number value: unit, range, and the phrase when it is wrong. */
typedef struct {
    muxd_fault_unit_t unit; /* MS: plain digits; BYTES: k, M, G too */
    uint64_t min, max;      /* min 0 or 1 */
    const char *why;
} muxd_fault_param_t;

struct muxd_fault_kind {
    const char *name;
    const char *value;        /* its value's form ("MS"), NULL: none */
    muxd_fault_param_t param; /* the value, unless `parse` */
    /* A value of another form into f->value (and f->extra): NULL or why
     * it is wrong. */
    const char *(*parse)(const char *value, muxd_fault_t *f);
    /* A key of its own (latency's jitter), its value v..end into f. */
    const char *key;
    const char *(*parse_key)(const char *v, const char *end, muxd_fault_t *f);
    const char *usage[3]; /* its --help lines, the first after the name */
    muxd_fault_where_t where;
    uint8_t default_dir; /* 0: down */
    bool reaches_open;   /* one added reaches open connections */
    bool no_rst;         /* `,rst` does not combine with it */
    /* A fault of it into what a connection gets (NULL: nothing). */
    void (*apply)(const muxd_fault_t *f, bool relay, muxd_conn_faults_t *cf);
    /* Into the server-wide faults (NULL: nothing). */
    void (*server)(const muxd_fault_t *f, bool relay, mux_faults_t *server);
};

/* The registry (registry.c): every kind, in --help order. */
extern const muxd_fault_kind_t *const muxd_fault_kinds[];
extern const size_t muxd_fault_nkinds;
/* `,rst` after another kind applies rst's. */
extern const muxd_fault_kind_t muxd_fault_rst;

/* A duration text..end (NULL: to the NUL) in ms, min..max (min 0 or 1),
 * or UINT64_MAX. */
uint64_t muxd_fault_ms(const char *text, const char *end, uint64_t min,
                       uint64_t max);
/* kind->param's value into f->value: NULL or param.why. */
const char *muxd_fault_parse_param(const muxd_fault_kind_t *kind,
                                   const char *value, muxd_fault_t *f);
/* The set and the direction of a connection's stream that one dir bit
 * (MUXD_DIR_*) names: down the client's output; up the client's input,
 * or in a relay the upstream's output. */
mux_faults_t *muxd_fault_chain(bool relay, muxd_conn_faults_t *cf, uint8_t dir,
                               mux_dir *which);
/* A stage of f, filled by `fill`, at the end of the chain of each
 * direction f->dir names (muxd_fault_chain()). */
typedef void muxd_stage_fill_t(const muxd_fault_t *f,
                               const muxd_conn_faults_t *cf,
                               mux_stage_t *stage);
void muxd_fault_each_dir(const muxd_fault_t *f, bool relay,
                         muxd_conn_faults_t *cf, muxd_stage_fill_t *fill);
/* `each` on the set and direction of each direction f->dir names. */
typedef void muxd_chain_fn_t(const muxd_fault_t *f, mux_faults_t *faults,
                             mux_dir which, void *arg);
void muxd_fault_each_chain(const muxd_fault_t *f, bool relay,
                           muxd_conn_faults_t *cf, muxd_chain_fn_t *each,
                           void *arg);
/* `into` each stream whose close f->dir names: a service has one (the
 * client's); a relay down the client's, up the upstream's. */
void muxd_fault_each_side(const muxd_fault_t *f, bool relay,
                          muxd_conn_faults_t *cf,
                          void (*into)(const muxd_fault_t *, mux_faults_t *));

/* Ending faults stack as two links in series would: waits add up (`wait`:
 * a slow close, an accept delay), else the sooner limit holds (0: none). */
static inline void muxd_fault_end(mux_faults_t *faults, mux_fault_end what,
                                  uint64_t value, bool wait) {
    uint64_t had = mux_faults_get(faults, what);
    uint64_t v = wait ? (value > UINT64_MAX - had ? UINT64_MAX : had + value)
                 : !had || (value && value < had) ? value
                                                  : had;
    mux_faults_set(faults, what, v);
}

#endif
