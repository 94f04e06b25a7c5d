/* slow_close.c -- slow-close=MS: every close held MS (src/lib/stream.c);
 * a relay: the side dir= names, as rst. */
#include "kind.h"

static void into(const muxd_fault_t *f, mux_faults_t *faults) {
    muxd_fault_end(faults, MUX_FAULT_SLOW_CLOSE_MS, f->value, true);
}

static void apply(const muxd_fault_t *f, bool relay, muxd_conn_faults_t *cf) {
    muxd_fault_each_side(f, relay, cf, into);
}

const muxd_fault_kind_t muxd_fault_slow_close = {
    .name = "slow-close",
    .value = "MS",
    .param = {MUXD_UNIT_MS, 1, MUXD_FAULT_MAX_MS, "MS: 1 to 3600000"},
    .usage = {"hold every close MS"},
    .where = MUXD_FAULT_PER_SIDE,
    .apply = apply,
};
