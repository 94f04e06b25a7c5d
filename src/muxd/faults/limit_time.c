/* limit_time.c -- limit-time=MS: a connection closed MS after it began
 * (src/lib/stream.c). */
#include "kind.h"

static void apply(const muxd_fault_t *f, bool relay, muxd_conn_faults_t *cf) {
    (void)relay;
    muxd_fault_end(cf->client, MUX_FAULT_LIMIT_TIME_MS, f->value, false);
}

const muxd_fault_kind_t muxd_fault_limit_time = {
    .name = "limit-time",
    .value = "MS",
    .param = {MUXD_UNIT_MS, 1, MUXD_FAULT_MAX_MS, "MS: 1 to 3600000"},
    .usage = {"close a connection MS after it began"},
    .where = MUXD_FAULT_AT_CONNECT,
    .apply = apply,
};
