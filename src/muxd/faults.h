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

/* The "Faults:" block of --help. */
void muxd_fault_usage(FILE *out);

#endif
