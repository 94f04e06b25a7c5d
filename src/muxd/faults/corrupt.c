/* corrupt.c -- corrupt=PERCENT: one bit flipped in that share of the
 * bytes, drawn per byte; the same bytes of the same connection with the
 * same --seed. Its behaviour is its own: a filter stage, which the
 * stream runs on every byte entering the direction. */
#define _POSIX_C_SOURCE 200809L

#include "kind.h"

#include <string.h>

/* A PERCENT as parts per million: 0.0001 to 100, at most 4 decimals.
 * Returns 1..1000000, or 0. */
static uint64_t parse_ppm(const char *v) {
    uint64_t whole = 0, frac = 0, scale = 10000;
    const char *p = v;
    for (; *p >= '0' && *p <= '9' && p - v < 4; p++)
        whole = whole * 10 + (uint64_t)(*p - '0');
    if (p == v)
        return 0;
    if (*p == '.') {
        const char *d = ++p;
        for (; *p >= '0' && *p <= '9' && p - d < 4; p++, scale /= 10)
            frac = frac * 10 + (uint64_t)(*p - '0');
        if (p == d)
            return 0;
        frac *= scale;
    }
    if (*p == '%')
        p++;
    uint64_t ppm = whole * 10000 + frac;
    return *p || ppm > 1000000 ? 0 : ppm;
}

static const char *parse(const char *value, muxd_fault_t *f) {
    f->value = parse_ppm(value);
    return f->value ? NULL
                    : "PERCENT of the bytes: 0.0001 to 100 (at most 4 "
                      "decimals)";
}

/* splitmix64: the state advances, a well-mixed word comes out. */
static uint64_t next(uint64_t *state) {
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* param[0]: parts per million; param[1]: the connection's seed. */
static void flip(const mux_stage_t *stage, uint64_t *state, char *data,
                 size_t len) {
    if (!*state)
        *state = stage->param[1];
    for (size_t i = 0; i < len; i++) {
        uint64_t draw = next(state);
        if (draw % 1000000u < stage->param[0])
            data[i] =
                (char)((unsigned char)data[i] ^ (1u << ((draw >> 32) & 7u)));
    }
}

/* One direction's stage; each direction draws its own bytes (with
 * dir=both through an echo, the same draws both ways would flip a bit
 * back). */
static void push_dir(const muxd_fault_t *f, mux_faults_t *faults, mux_dir which,
                     void *arg) {
    muxd_conn_faults_t *cf = arg;
    bool down = which == MUX_OUT && faults == cf->client;
    uint64_t seed = f->seed ^ (cf->serial * UINT64_C(0xd1b54a32d192ed03)) ^
                    (down ? 0 : UINT64_C(0x94d049bb133111eb));
    mux_stage_t stage = {.name = f->kind->name,
                         .filter = flip,
                         .param = {f->value, seed | 1u}}; /* 0: not started */
    if (mux_faults_push(faults, which, &stage) < 0)
        cf->nomem = true;
}

static void apply(const muxd_fault_t *f, bool relay, muxd_conn_faults_t *cf) {
    muxd_fault_each_chain(f, relay, cf, push_dir, cf);
}

const muxd_fault_kind_t muxd_fault_corrupt = {
    .name = "corrupt",
    .value = "PERCENT",
    .parse = parse,
    .usage = {"flip one bit in PERCENT of the bytes",
              "(drawn per byte; --seed repeats them)"},
    .where = MUXD_FAULT_PER_DIR,
    .reaches_open = true,
    .apply = apply,
};
