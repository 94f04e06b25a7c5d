/* latency.c -- latency=MS[,jitter=MS]: every byte MS later, plus a draw
 * up to jitter per send (src/lib/shape.c holds the bytes back). */
#include "kind.h"

static const char *parse_jitter(const char *v, const char *end,
                                muxd_fault_t *f) {
    f->extra = muxd_fault_ms(v, end, 0, MUXD_FAULT_MAX_MS);
    return f->extra != UINT64_MAX ? NULL : "jitter=MS, 0 to 3600000";
}

static void fill(const muxd_fault_t *f, const muxd_conn_faults_t *cf,
                 mux_stage_t *stage) {
    (void)cf;
    stage->shape.latency_ms = f->value;
    stage->shape.jitter_ms = f->extra;
}

static void apply(const muxd_fault_t *f, bool relay, muxd_conn_faults_t *cf) {
    muxd_fault_each_dir(f, relay, cf, fill);
}

const muxd_fault_kind_t muxd_fault_latency = {
    .name = "latency",
    .value = "MS",
    .param = {MUXD_UNIT_MS, 0, MUXD_FAULT_MAX_MS, "MS: 0 to 3600000"},
    .key = "jitter",
    .parse_key = parse_jitter,
    .usage = {"every byte MS later (key jitter=MS)"},
    .where = MUXD_FAULT_PER_DIR,
    .reaches_open = true,
    .apply = apply,
};
