/* stall.c -- stall: nothing goes through; up by default, where it means
 * never reading (src/lib/shape.c, stream.c). */
#include "kind.h"

static void fill(const muxd_fault_t *f, const muxd_conn_faults_t *cf,
                 mux_stage_t *stage) {
    (void)f;
    (void)cf;
    stage->shape.stall = 1;
}

static void apply(const muxd_fault_t *f, bool relay, muxd_conn_faults_t *cf) {
    muxd_fault_each_dir(f, relay, cf, fill);
}

const muxd_fault_kind_t muxd_fault_stall = {
    .name = "stall",
    .usage = {"nothing goes through (default dir=up:", "never read)"},
    .where = MUXD_FAULT_PER_DIR,
    .default_dir = MUXD_DIR_UP, /* its bytes are the ones muxd reads */
    .reaches_open = true,
    .apply = apply,
};
