/* reset_peer.c -- reset-peer=MS: toxiproxy's reset_peer. The first bytes
 * of each direction dir= names are dropped, that direction stops, and MS
 * later (0: at once) the stream is reset (src/lib/stream.c); a relay
 * resets the other side too (relay.c). */
#include "kind.h"

/* The sooner of two waits holds; MUX_AT_ONCE is the soonest, 0 none. */
static void sooner(mux_faults_t *faults, mux_fault_end what, uint64_t wait) {
    uint64_t had = mux_faults_get(faults, what);
    if (!had || (had != MUX_AT_ONCE && (wait == MUX_AT_ONCE || wait < had)))
        mux_faults_set(faults, what, wait);
}

/* That direction's reset, f->value ms after its first bytes. */
static void reset_dir(const muxd_fault_t *f, mux_faults_t *faults,
                      mux_dir which, void *arg) {
    (void)arg;
    sooner(faults,
           which == MUX_OUT ? MUX_FAULT_RESET_OUT_MS : MUX_FAULT_RESET_IN_MS,
           f->value ? f->value : MUX_AT_ONCE);
}

static void apply(const muxd_fault_t *f, bool relay, muxd_conn_faults_t *cf) {
    muxd_fault_each_chain(f, relay, cf, reset_dir, NULL);
}

const muxd_fault_kind_t muxd_fault_reset_peer = {
    .name = "reset-peer",
    .value = "MS",
    .param = {MUXD_UNIT_MS, 0, MUXD_FAULT_MAX_MS, "MS: 0 to 3600000"},
    .usage = {"drop the first bytes and the rest, then",
              "reset MS later (0: at once; a relay:", "both sides)"},
    .where = MUXD_FAULT_PER_DIR,
    .reaches_open = true,
    .no_rst = true,
    .apply = apply,
};
