/*
 * number.c -- numbers given on a command line (number.h).
 */
#define _POSIX_C_SOURCE 200809L

#include "number.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Whether `text` is decimal digits, with at most one '.' among them if
 * `point` (and a digit somewhere): strtoul() and strtod() alone also take
 * blanks, signs, hex (0x10) and exponents. */
static bool is_decimal(const char *text, bool point) {
    size_t digits = strspn(text, "0123456789");
    if (point && text[digits] == '.')
        digits += 1 + strspn(text + digits + 1, "0123456789");
    return text[digits] == '\0' && strpbrk(text, "0123456789") != NULL;
}

int number_parse_ulong(const char *text, unsigned long max,
                       unsigned long *out) {
    if (!is_decimal(text, false))
        return -1;
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v > max)
        return -1;
    *out = v;
    return 0;
}

int number_parse_seconds(const char *text, double max, double *secs) {
    if (!is_decimal(text, true))
        return -1;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !(v >= 0) || !(v <= max))
        return -1;
    *secs = v;
    return 0;
}

uint64_t number_seconds_to_ms(double secs) {
    return (uint64_t)llround(secs * 1000);
}

/* The shift a size suffix stands for: 10 for k, 20 for M, 30 for G. */
static unsigned suffix_shift(char c) {
    return strchr("kK", c)   ? 10
           : strchr("mM", c) ? 20
           : strchr("gG", c) ? 30
                             : 0;
}

uint64_t number_parse_size(const char *text, const char *end, uint64_t max,
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
    unsigned shift = suffixes && *stop && !stop[1] ? suffix_shift(*stop) : 0;
    if (shift)
        stop++;
    if (errno || *stop || v == 0 || v > (max >> shift))
        return 0;
    return (uint64_t)v << shift;
}
