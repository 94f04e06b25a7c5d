/* drop_after.c -- drop-after=BYTES: close once BYTES went through
 * (src/lib/shape.c counts them). */
#include "kind.h"

static void fill(const muxd_fault_t *f, const muxd_conn_faults_t *cf,
                 mux_stage_t *stage) {
    (void)cf;
    stage->shape.drop_after = f->value;
}

static void apply(const muxd_fault_t *f, bool relay, muxd_conn_faults_t *cf) {
    muxd_fault_each_dir(f, relay, cf, fill);
}

const muxd_fault_kind_t muxd_fault_drop_after = {
    .name = "drop-after",
    .value = "BYTES",
    .param = {MUXD_UNIT_BYTES, 1, MUXD_FAULT_MAX_BYTES,
              "BYTES: 1 to 1024G (suffixes k, M, G)"},
    .usage = {"close once BYTES went through"},
    .where = MUXD_FAULT_PER_DIR,
    .apply = apply,
};
