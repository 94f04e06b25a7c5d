/* blackhole.c -- blackhole: accepted, never answered nor relayed (muxd's
 * serve.c, relay.c read cf->blackhole). */
#include "kind.h"

static void apply(const muxd_fault_t *f, bool relay, muxd_conn_faults_t *cf) {
    (void)f;
    (void)relay;
    cf->blackhole = true;
}

const muxd_fault_kind_t muxd_fault_blackhole = {
    .name = "blackhole",
    .usage = {"accept, never answer (or relay)"},
    .where = MUXD_FAULT_AT_CONNECT,
    .no_rst = true,
    .apply = apply,
};
