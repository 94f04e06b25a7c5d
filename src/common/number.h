/*
 * number.h -- numbers given on a command line: counts, seconds and sizes,
 * parsed one way for muxd's and muxcat's options (and muxd's --fault
 * values). Shared by the programs, not part of libmux.
 */
#ifndef MUX_COMMON_NUMBER_H
#define MUX_COMMON_NUMBER_H

#include <stdbool.h>
#include <stdint.h>

/*
 * A whole decimal number 0..max in `text` (digits only: no blank, sign or
 * 0x).
 * Returns 0 with *out set, or -1.
 */
int number_parse_ulong(const char *text, unsigned long max, unsigned long *out);

/*
 * Seconds, fractions allowed ("0.5"), 0..max, in `text`: decimal digits
 * with at most one point (no sign, hex, exponent, inf or nan). Returns 0
 * with *secs set, or -1.
 */
int number_parse_seconds(const char *text, double max, double *secs);

/* Seconds as whole milliseconds, rounded to the nearest. */
uint64_t number_seconds_to_ms(double secs);

/*
 * A size or count: decimal digits from `text` to `end` (or to the NUL if
 * end is NULL), 1..max, with an optional k, M or G suffix (powers of
 * 1024) if `suffixes`. Returns 0 for anything else (a value past max, or
 * one that would not fit).
 */
uint64_t number_parse_size(const char *text, const char *end, uint64_t max,
                           bool suffixes);

#endif
