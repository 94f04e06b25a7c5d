/*
 * faultset.h -- fault sets for the unit tests, written as the fields of
 * one: FAULTS(.out = {.split = 3}, .rst = 1) is a mux_faults_t with one
 * stage (that shape) on MUX_OUT and MUX_FAULT_RST set. The sets live until
 * the test program exits.
 */
#ifndef TEST_FAULTSET_H
#define TEST_FAULTSET_H

#include "mux.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    mux_shape_t out, in;
    uint64_t rst, accept_delay_ms, slow_close_ms, limit_time_ms, timeout_ms;
    uint64_t reset_out_ms, reset_in_ms;
} faultset_t;

static mux_faults_t *faultsets[256];
static size_t nfaultsets;

static void faultsets_free(void) {
    while (nfaultsets)
        mux_faults_free(faultsets[--nfaultsets]);
}

static inline int faultset_has(const mux_shape_t *s) {
    static const mux_shape_t none;
    return memcmp(s, &none, sizeof(none)) != 0;
}

static inline mux_faults_t *faultset(faultset_t d) {
    mux_faults_t *f = mux_faults_new();
    if (!f || nfaultsets == sizeof(faultsets) / sizeof(faultsets[0]))
        abort();
    if (!nfaultsets)
        atexit(faultsets_free);
    faultsets[nfaultsets++] = f;
    mux_stage_t out = {.name = "out", .shape = d.out};
    mux_stage_t in = {.name = "in", .shape = d.in};
    if ((faultset_has(&d.out) && mux_faults_push(f, MUX_OUT, &out) < 0) ||
        (faultset_has(&d.in) && mux_faults_push(f, MUX_IN, &in) < 0))
        abort();
    mux_faults_set(f, MUX_FAULT_RST, d.rst);
    mux_faults_set(f, MUX_FAULT_ACCEPT_DELAY_MS, d.accept_delay_ms);
    mux_faults_set(f, MUX_FAULT_SLOW_CLOSE_MS, d.slow_close_ms);
    mux_faults_set(f, MUX_FAULT_LIMIT_TIME_MS, d.limit_time_ms);
    mux_faults_set(f, MUX_FAULT_TIMEOUT_MS, d.timeout_ms);
    mux_faults_set(f, MUX_FAULT_RESET_OUT_MS, d.reset_out_ms);
    mux_faults_set(f, MUX_FAULT_RESET_IN_MS, d.reset_in_ms);
    return f;
}

#define FAULTS(...) faultset((faultset_t){__VA_ARGS__})

#endif
