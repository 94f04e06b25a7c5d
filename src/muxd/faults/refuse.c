/* refuse.c -- refuse: each client reset at once (muxd's serve.c, relay.c
 * read cf->refuse). */
#include "kind.h"

static void apply(const muxd_fault_t *f, bool relay, muxd_conn_faults_t *cf) {
    (void)f;
    (void)relay;
    cf->refuse = true;
}

const muxd_fault_kind_t muxd_fault_refuse = {
    .name = "refuse",
    .usage = {"reset clients at once"},
    .where = MUXD_FAULT_AT_CONNECT,
    .no_rst = true,
    .apply = apply,
};
