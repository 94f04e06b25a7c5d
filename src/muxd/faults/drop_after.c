/* drop_after.c -- drop-after=BYTES: close once BYTES went through
 * (src/lib/shape.c counts them). */
#include "kind.h"
#include "number.h"

#include <string.h>

/* BYTES, or 0: not one byte (toxiproxy's limit_data of 0). */
static const char *parse(const char *value, muxd_fault_t *f) {
    f->value = strcmp(value, "0") == 0
                   ? MUX_DROP_ALL
                   : number_parse_size(value, NULL, MUXD_FAULT_MAX_BYTES, true);
    return f->value ? NULL : "BYTES: 0 to 1024G (suffixes k, M, G)";
}

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
    .parse = parse,
    .usage = {"close once BYTES went through (0: at the first)"},
    .where = MUXD_FAULT_PER_DIR,
    .apply = apply,
};
