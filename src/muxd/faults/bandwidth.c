/* bandwidth.c -- bandwidth=RATE: bytes a second, a token bucket
 * (src/lib/shape.c). */
#include "kind.h"

static void fill(const muxd_fault_t *f, const muxd_conn_faults_t *cf,
                 mux_stage_t *stage) {
    (void)cf;
    stage->shape.bandwidth = f->value;
}

static void apply(const muxd_fault_t *f, bool relay, muxd_conn_faults_t *cf) {
    muxd_fault_each_dir(f, relay, cf, fill);
}

const muxd_fault_kind_t muxd_fault_bandwidth = {
    .name = "bandwidth",
    .value = "RATE",
    .param = {MUXD_UNIT_BYTES, 1, MUXD_FAULT_MAX_BYTES,
              "RATE: bytes a second, at least 1 (k, M, G)"},
    .usage = {"bytes a second (k, M suffixes)"},
    .where = MUXD_FAULT_PER_DIR,
    .reaches_open = true,
    .apply = apply,
};
