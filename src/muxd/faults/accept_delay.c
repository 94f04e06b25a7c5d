/* accept_delay.c -- accept-delay=MS: the listener paused MS before each
 * accept (src/lib/acceptor.c); the server's, never a connection's. */
#include "kind.h"

static void server(const muxd_fault_t *f, bool relay, mux_faults_t *faults) {
    (void)relay;
    muxd_fault_end(faults, MUX_FAULT_ACCEPT_DELAY_MS, f->value, true);
}

const muxd_fault_kind_t muxd_fault_accept_delay = {
    .name = "accept-delay",
    .value = "MS",
    .param = {MUXD_UNIT_MS, 1, MUXD_FAULT_MAX_MS, "MS: 1 to 3600000"},
    .usage = {"accept each client MS late, one at a time"},
    .where = MUXD_FAULT_AT_ACCEPT,
    .reaches_open = true,
    .no_rst = true,
    .server = server,
};
