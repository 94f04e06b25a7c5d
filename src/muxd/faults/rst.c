/* rst.c -- rst: every close a reset (src/lib/stream.c); also `,rst`
 * after another kind, for that fault's close. A relay: the side dir=
 * names. */
#include "kind.h"

static void into(const muxd_fault_t *f, mux_faults_t *faults) {
    (void)f;
    mux_faults_set(faults, MUX_FAULT_RST, 1);
}

static void apply(const muxd_fault_t *f, bool relay, muxd_conn_faults_t *cf) {
    muxd_fault_each_side(f, relay, cf, into);
}

/* Clients refused before any draw are reset too, unless a relay's rst is
 * for the upstream only, or for one proxy's clients. */
static void server(const muxd_fault_t *f, bool relay, mux_faults_t *faults) {
    if (f->odds == 100 && !f->first && !f->proxy[0] &&
        (!relay || (f->dir & MUXD_DIR_DOWN)))
        mux_faults_set(faults, MUX_FAULT_RST, 1);
}

const muxd_fault_kind_t muxd_fault_rst = {
    .name = "rst",
    .usage = {"close with a reset, never a FIN (a relay:",
              "the side dir= names)"},
    .where = MUXD_FAULT_PER_SIDE,
    .reaches_open = true,
    .apply = apply,
    .server = server,
};
