/*
 * faults.c -- parsing --fault KIND[=VALUE] and its help text. The faults
 * themselves live in libmux (mux_faults_t in the server options).
 */
#define _POSIX_C_SOURCE 200809L

#include "faults.h"
#include "number.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Upper bounds: beyond them a value is surely a typo. */
#define MAX_BYTES (UINT64_C(1) << 40)
#define MAX_PIECE (UINT64_C(1) << 30)
#define MAX_MS UINT64_C(3600000)

/* split=BYTES[:MS] */
static const char *parse_split(const char *value, mux_faults_t *faults) {
    const char *colon = strchr(value, ':');
    uint64_t bytes = number_parse_size(value, colon, MAX_PIECE, true);
    uint64_t ms = colon ? number_parse_size(colon + 1, NULL, MAX_MS, false) : 0;
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
        if (!value || !(faults->drop_after =
                            number_parse_size(value, NULL, MAX_BYTES, true)))
            return "invalid fault: '%s' (drop-after=BYTES, at least 1)";
    } else if (is_kind(arg, len, "split")) {
        return parse_split(value ? value : "", faults);
    } else if (is_kind(arg, len, "accept-delay")) {
        if (!value || !(faults->accept_delay_ms =
                            number_parse_size(value, NULL, MAX_MS, false)))
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
