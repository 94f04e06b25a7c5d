/* slicer.c -- slicer=BYTES[:VARIATION[:US]]: toxiproxy's slicer. Each
 * chunk cut into pieces around BYTES, varying by up to VARIATION (below
 * BYTES), US microseconds apart (src/lib/shape.c's slice); the draws are
 * the connection's own, from --seed, the fault's id and the connection's
 * number. */
#define _POSIX_C_SOURCE 200809L

#include "kind.h"
#include "number.h"

#include <string.h>

/* US: up to an hour. */
#define MAX_US (MUXD_FAULT_MAX_MS * 1000u)

/* A number v..end (NULL: to the NUL), 0 to max: its value or UINT64_MAX. */
static uint64_t number(const char *v, const char *end, uint64_t max,
                       bool suffixes) {
    size_t len = end ? (size_t)(end - v) : strlen(v);
    if (len == 1 && v[0] == '0')
        return 0;
    uint64_t n = number_parse_size(v, end, max, suffixes);
    return n ? n : UINT64_MAX;
}

static const char *parse(const char *value, muxd_fault_t *f) {
    static const char why[] = "BYTES at least 1, VAR below BYTES (k, M, "
                              "G), US 0 to 3600000000 (default 0)";
    const char *colon = strchr(value, ':');
    const char *colon2 = colon ? strchr(colon + 1, ':') : NULL;
    f->value = number_parse_size(value, colon, MUXD_FAULT_MAX_PIECE, true);
    f->extra =
        colon ? number(colon + 1, colon2, MUXD_FAULT_MAX_PIECE, true) : 0;
    f->extra2 = colon2 ? number(colon2 + 1, NULL, MAX_US, false) : 0;
    return f->value && f->extra < f->value && f->extra2 != UINT64_MAX ? NULL
                                                                      : why;
}

static void fill(const muxd_fault_t *f, const muxd_conn_faults_t *cf,
                 mux_stage_t *stage) {
    stage->shape.slice = (size_t)f->value;
    stage->shape.slice_variation = (size_t)f->extra;
    stage->shape.split_us = f->extra2;
    stage->shape.seed =
        (f->seed ^ (cf->serial * UINT64_C(0xd1b54a32d192ed03))) |
        1u; /* never 0: 0 is the fixed seed */
}

static void apply(const muxd_fault_t *f, bool relay, muxd_conn_faults_t *cf) {
    muxd_fault_each_dir(f, relay, cf, fill);
}

const muxd_fault_kind_t muxd_fault_slicer = {
    .name = "slicer",
    .value = "BYTES[:VAR[:US]]",
    .parse = parse,
    .usage = {"each chunk in pieces around BYTES, +-VAR",
              "(toxiproxy's halving), US microseconds", "apart (default 0)"},
    .where = MUXD_FAULT_PER_DIR,
    .reaches_open = true,
    .apply = apply,
};
