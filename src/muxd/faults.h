/*
 * faults.h -- muxd's faults: the specs of --fault and of the control
 * socket's "fault add", a registry of the faults in force (ids, odds,
 * first=N, a seed), and what each connection gets of them, as the
 * library's mux_faults_t for each of its streams (docs/faults.md).
 */
#ifndef MUXD_FAULTS_H
#define MUXD_FAULTS_H

#include "mux.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The most faults in force at once. */
#define MUXD_FAULTS_MAX 64
/* The longest spec kept. */
#define MUXD_FAULT_SPEC_MAX 160

typedef struct muxd_faults muxd_faults_t;

/*
 * Checks one spec, KIND[=VALUE][,KEY=VALUE]... (see muxd_fault_usage()).
 * Returns true, or false with a message in err[size] ("invalid fault
 * 'x': ..."), without "muxd: ".
 */
bool muxd_fault_check(const char *spec, char *err, size_t size);

/* The proxy=NAME of a valid spec into name[size]; false if it has none. */
bool muxd_fault_proxy(const char *spec, char *name, size_t size);

/* A registry; `seed` makes odds= draws reproducible. NULL: no memory. */
muxd_faults_t *muxd_faults_new(uint64_t seed);
/* The proxies' names by slot, 0..n-1 (NULL: a free slot; `names` must
 * outlive the registry and may change): a fault's proxy=NAME picks the
 * connections of that one (muxd_conn_faults_t.proxy), and an unknown NAME
 * is an add error. */
void muxd_faults_proxies(muxd_faults_t *faults, const char *const *names,
                         size_t n);
void muxd_faults_free(muxd_faults_t *faults);

/* Adds a spec. Returns its id (1, 2, ...), or 0 with a message in err. */
uint64_t muxd_faults_add(muxd_faults_t *faults, const char *spec, char *err,
                         size_t size);
/* Changes fault `id`'s numbers (its keys too) to those of `spec`, of the
 * same kind: it keeps its id, its place in the chains and which
 * connections drew it, and reaches them at the next refresh. Returns
 * false with a message in err (no such id, an invalid spec, another
 * kind). */
bool muxd_faults_set(muxd_faults_t *faults, uint64_t id, const char *spec,
                     char *err, size_t size);
/* Removes one. Returns false if no fault has that id. Its slot is used
 * again only after muxd_faults_settle(). */
bool muxd_faults_del(muxd_faults_t *faults, uint64_t id);
/* Whether fault `id` is in force. */
bool muxd_faults_has(const muxd_faults_t *faults, uint64_t id);
/* Deletes every fault kept to proxy slot `proxy` (its proxy=NAME), as
 * muxd_faults_del() does; returns how many. */
size_t muxd_faults_del_proxy(muxd_faults_t *faults, size_t proxy);
/* Every open connection was refreshed since the last del: the slots of
 * deleted faults may be used again. */
void muxd_faults_settle(muxd_faults_t *faults);
void muxd_faults_clear(muxd_faults_t *faults);
/* The faults in force, in the order they were added: with i below the
 * count returned, *id and *spec of the i-th. */
size_t muxd_faults_list(const muxd_faults_t *faults, size_t i, uint64_t *id,
                        const char **spec);
/* Sets the server-wide part of *server: the accept delay (the largest in
 * force), and rst when an rst fault applies to every client (then the
 * clients the server refuses are reset too; in a relay, `relay`, only an
 * rst toward the client: dir=down or both). */
void muxd_faults_server(const muxd_faults_t *faults, bool relay,
                        mux_faults_t *server);

/* What one connection gets of the faults. */
typedef struct {
    mux_faults_t *client;   /* its client stream: out = down, in = up */
    mux_faults_t *upstream; /* a relay's upstream stream: out = up */
    bool refuse;            /* reset at once */
    bool blackhole;         /* never answered, never relayed */
    bool nomem;             /* a stage found no memory: close it */
    uint64_t serial;        /* 1 for the first connection, 2, ... */
    size_t proxy;           /* the proxy it came through; SIZE_MAX: none */
    /* private: which faults were drawn for it, and which apply */
    uint64_t decided, applied, epoch, changes;
} muxd_conn_faults_t;

/* A connection's faults, none yet (its client set's data points back to
 * it: muxd_conn_faults_of()); NULL: no memory. */
muxd_conn_faults_t *muxd_conn_faults_new(void);
void muxd_conn_faults_free(muxd_conn_faults_t *cf);

/*
 * For a new connection: draws which faults apply (odds=, first=) and
 * fills *cf. `relay`: the up direction shapes the upstream stream's output
 * instead of the client stream's input, and an rst or a slow-close applies
 * to the stream of its direction (dir=down: the client's, up: the
 * upstream's, both); without `relay` they apply to the client whatever
 * their dir.
 */
void muxd_faults_pick(muxd_faults_t *faults, bool relay,
                      muxd_conn_faults_t *cf);
/*
 * After an add, del or clear: brings an open connection's *cf up to date.
 * A new fault of a kind that reaches open connections (its descriptor's
 * reaches_open: latency, bandwidth, split, stall, timeout, rst) is drawn
 * for it, unless it has first=N (which counts new connections only); one
 * of another kind only reaches new connections; a removed one is gone.
 * Returns true if its faults changed.
 */
bool muxd_faults_refresh(muxd_faults_t *faults, bool relay,
                         muxd_conn_faults_t *cf);

/*
 * The muxd_conn_faults_t a client stream follows (its faults were set
 * with mux_conn_set_faults(conn, cf->client)), or NULL when it follows
 * its server's (muxd runs without a registry, or the client was never
 * given its own).
 */
muxd_conn_faults_t *muxd_conn_faults_of(const mux_conn_t *conn);

/* The "Faults:" block of --help. */
void muxd_fault_usage(FILE *out);

#endif
