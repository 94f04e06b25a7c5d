/* timeout.c -- timeout=MS: both ways stopped, a close MS later; 0 never
 * closes (src/lib/stream.c). */
#include "kind.h"

static void apply(const muxd_fault_t *f, bool relay, muxd_conn_faults_t *cf) {
    (void)relay;
    muxd_fault_end(cf->client, MUX_FAULT_TIMEOUT_MS,
                   f->value ? f->value : MUX_FOREVER, false);
}

const muxd_fault_kind_t muxd_fault_timeout = {
    .name = "timeout",
    .value = "MS",
    .param = {MUXD_UNIT_MS, 0, MUXD_FAULT_MAX_MS, "MS: 0 to 3600000"},
    .usage = {"stop both ways, EOF after MS (0: never)"},
    .where = MUXD_FAULT_AT_CONNECT,
    .reaches_open = true,
    .apply = apply,
};
