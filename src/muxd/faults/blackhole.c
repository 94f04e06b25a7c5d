/* blackhole.c -- blackhole: accepted, never answered nor relayed: both
 * directions of the client stall (a relay reads cf->blackhole and never
 * connects). */
#include "kind.h"

static void fill(const muxd_fault_t *f, const muxd_conn_faults_t *cf,
                 mux_stage_t *stage) {
    (void)f;
    (void)cf;
    stage->shape.stall = 1;
}

static void apply(const muxd_fault_t *f, bool relay, muxd_conn_faults_t *cf) {
    (void)relay;
    cf->blackhole = true;
    muxd_fault_t both = *f;
    both.dir = MUXD_DIR_DOWN | MUXD_DIR_UP;
    muxd_fault_each_dir(&both, false, cf, fill); /* the client's, both ways */
}

const muxd_fault_kind_t muxd_fault_blackhole = {
    .name = "blackhole",
    .usage = {"accept, never answer (or relay)"},
    .where = MUXD_FAULT_AT_CONNECT,
    .no_rst = true,
    .apply = apply,
};
