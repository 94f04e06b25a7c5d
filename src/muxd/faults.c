/*
 * faults.c -- parsing --fault KIND[=VALUE] and its help text. The faults
 * themselves live in libmux (mux_faults_t in the server options).
 */
#define _POSIX_C_SOURCE 200809L

#include "faults.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Upper bounds: beyond them a value is surely a typo. */
#define MAX_BYTES (UINT64_C(1) << 40)
#define MAX_PIECE (UINT64_C(1) << 30)
#define MAX_MS UINT64_C(3600000)

/*
 * A decimal number from `text` to `end` (or to the NUL if end is NULL),
 * 1..max, with an optional k, M or G suffix (powers of 1024) if
 * `suffixes`. Returns 0 for anything else.
 */
static uint64_t parse_value(const char *text, const char *end, uint64_t max,
                            bool suffixes) {
    char digits[32];
    size_t len = end ? (size_t)(end - text) : strlen(text);
    if (len == 0 || len >= sizeof(digits) || text[0] < '0' || text[0] > '9')
        return 0;
    memcpy(digits, text, len);
    digits[len] = '\0';
    char *stop;
    errno = 0;
    unsigned long long v = strtoull(digits, &stop, 10);
    unsigned shift = 0;
    if (suffixes && *stop && !stop[1])
        shift = strchr("kK", *stop)   ? 10
                : strchr("mM", *stop) ? 20
                : strchr("gG", *stop) ? 30
                                      : 0;
    if (shift)
        stop++;
    if (errno || *stop || v == 0 || v > (max >> shift))
        return 0;
    return (uint64_t)v << shift;
}

uint64_t muxd_parse_size(const char *text, uint64_t max) {
    return parse_value(text, NULL, max, true);
}

/* split=BYTES[:MS] */
static const char *parse_split(const char *value, mux_faults_t *faults) {
    const char *colon = strchr(value, ':');
    uint64_t bytes = parse_value(value, colon, MAX_PIECE, true);
    uint64_t ms = colon ? parse_value(colon + 1, NULL, MAX_MS, false) : 0;
    if (!bytes || (colon && !ms))
        return "invalid fault: '%s' (split=BYTES[:MS], both at least 1)";
    faults->split = (size_t)bytes;
    faults->split_ms = ms;
    return NULL;
}

/* Whether the KIND part of "KIND[=VALUE]" (`len` bytes) is `kind`. */
static bool is_kind(const char *arg, size_t len, const char *kind) {
    return len == strlen(kind) && strncmp(arg, kind, len) == 0;
}

const char *muxd_fault_parse(const char *arg, mux_faults_t *faults) {
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    const char *value = eq ? eq + 1 : NULL;
    if (is_kind(arg, len, "rst") || is_kind(arg, len, "stall")) {
        if (value)
            return "invalid fault: '%s' (rst and stall take no value)";
        *(arg[0] == 'r' ? &faults->rst : &faults->stall) = 1;
    } else if (is_kind(arg, len, "drop-after")) {
        if (!value ||
            !(faults->drop_after = parse_value(value, NULL, MAX_BYTES, true)))
            return "invalid fault: '%s' (drop-after=BYTES, at least 1)";
    } else if (is_kind(arg, len, "split")) {
        return parse_split(value ? value : "", faults);
    } else if (is_kind(arg, len, "accept-delay")) {
        if (!value || !(faults->accept_delay_ms =
                            parse_value(value, NULL, MAX_MS, false)))
            return "invalid fault: '%s' (accept-delay=MS, 1 to 3600000)";
    } else {
        return "invalid fault: '%s' (drop-after=BYTES, rst, "
               "split=BYTES[:MS], stall or accept-delay=MS)";
    }
    return NULL;
}

void muxd_fault_usage(FILE *out) {
    fprintf(out,
            "Faults (to test clients against a misbehaving server; "
            "repeatable):\n"
            "      --fault drop-after=BYTES  close each client once BYTES "
            "were sent to it\n"
            "      --fault rst       close clients with a reset (RST), "
            "never a FIN\n"
            "      --fault split=BYTES[:MS]  write output in pieces of at "
            "most BYTES, one\n"
            "                        write each, MS apart (default 10)\n"
            "      --fault stall     never read from clients (a greeting "
            "still goes out)\n"
            "      --fault accept-delay=MS  accept each client MS late, one "
            "at a time\n");
}
