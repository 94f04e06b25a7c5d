/*
 * timestamp.h -- the wall-clock time as ISO 8601 text in UTC, for muxd's
 * log lines (milliseconds) and --dump (microseconds). Shared by the
 * programs, not part of libmux.
 */
#ifndef MUX_COMMON_TIMESTAMP_H
#define MUX_COMMON_TIMESTAMP_H

/* Room for any timestamp_utc() text and its NUL. */
#define TIMESTAMP_MAX 32

/*
 * Now as 2024-05-01T12:00:00.123Z, with `digits` decimals of the second
 * (0 to 9: 3 is milliseconds, 6 microseconds; truncated, not rounded, so
 * a time never reads later than it is).
 */
void timestamp_utc(char out[TIMESTAMP_MAX], int digits);

#endif
