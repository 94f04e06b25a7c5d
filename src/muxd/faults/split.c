/* split.c -- split=BYTES[:MS]: writes of at most BYTES, MS apart
 * (src/lib/shape.c). */
#define _POSIX_C_SOURCE 200809L

#include "kind.h"
#include "number.h"

#include <string.h>

/* split=BYTES without :MS: the pause between pieces. */
#define SPLIT_MS 10

/* MS 0 writes the pieces back to back, each its own send. */
static const char *parse(const char *value, muxd_fault_t *f) {
    const char *colon = strchr(value, ':');
    f->value = number_parse_size(value, colon, MUXD_FAULT_MAX_PIECE, true);
    f->extra =
        colon ? muxd_fault_ms(colon + 1, NULL, 0, MUXD_FAULT_MAX_MS) : SPLIT_MS;
    return f->value && f->extra != UINT64_MAX
               ? NULL
               : "BYTES at least 1 (k, M, G), MS 0 to 3600000 (default 10)";
}

static void fill(const muxd_fault_t *f, const muxd_conn_faults_t *cf,
                 mux_stage_t *stage) {
    (void)cf;
    stage->shape.split = (size_t)f->value;
    stage->shape.split_us = f->extra * 1000u;
}

static void apply(const muxd_fault_t *f, bool relay, muxd_conn_faults_t *cf) {
    muxd_fault_each_dir(f, relay, cf, fill);
}

const muxd_fault_kind_t muxd_fault_split = {
    .name = "split",
    .value = "BYTES[:MS]",
    .parse = parse,
    .usage = {"pieces of at most BYTES, MS apart",
              "(default 10; 0: back to back, a send each)"},
    .where = MUXD_FAULT_PER_DIR,
    .reaches_open = true,
    .apply = apply,
};
