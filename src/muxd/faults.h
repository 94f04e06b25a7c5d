/*
 * faults.h -- --fault KIND[=VALUE]: fault injection, parsed into the
 * library's mux_faults_t (see docs/faults.md).
 */
#ifndef MUXD_FAULTS_H
#define MUXD_FAULTS_H

#include "mux.h"

#include <stdio.h>

/*
 * Parses one --fault argument ("rst", "drop-after=100", "split=4:20", ...)
 * into *faults; what earlier --fault options set stays (the option
 * repeats). Returns NULL, or a message for usage_error() with one %s for
 * the argument.
 */
const char *muxd_fault_parse(const char *arg, mux_faults_t *faults);

/*
 * A size in bytes, as every size option takes it: decimal, with an
 * optional k, M or G suffix (powers of 1024), 1 to `max`. Returns 0 for
 * anything else (a size past max, or one whose value would not fit).
 */
uint64_t muxd_parse_size(const char *text, uint64_t max);

/* The "Faults:" block of --help. */
void muxd_fault_usage(FILE *out);

#endif
