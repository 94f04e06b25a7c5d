/* blackhole.c -- blackhole: accepted, never answered nor relayed: a stall
 * of both directions of the client (a relay reads cf->blackhole and never
 * connects). */
#include "kind.h"

extern const muxd_fault_kind_t muxd_fault_stall;

static void apply(const muxd_fault_t *f, bool relay, muxd_conn_faults_t *cf) {
    (void)relay;
    cf->blackhole = true;
    muxd_fault_t both = *f;
    both.dir = MUXD_DIR_DOWN | MUXD_DIR_UP;
    muxd_fault_stall.apply(&both, false, cf); /* the client's, both ways */
}

const muxd_fault_kind_t muxd_fault_blackhole = {
    .name = "blackhole",
    .usage = {"accept, never answer (or relay)"},
    .where = MUXD_FAULT_AT_CONNECT,
    .no_rst = true,
    .apply = apply,
};
