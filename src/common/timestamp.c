/* timestamp.c -- timestamp.h. */
#define _POSIX_C_SOURCE 200809L

#include "timestamp.h"

#include <stdio.h>
#include <time.h>

void timestamp_utc(char out[TIMESTAMP_MAX], int digits) {
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t n = strftime(out, TIMESTAMP_MAX, "%Y-%m-%dT%H:%M:%S", &tm);
    if (digits <= 0) {
        snprintf(out + n, TIMESTAMP_MAX - n, "Z");
        return;
    }
    if (digits > 9)
        digits = 9;
    long frac = now.tv_nsec;
    for (int i = digits; i < 9; i++)
        frac /= 10;
    snprintf(out + n, TIMESTAMP_MAX - n, ".%0*ldZ", digits, frac);
}
