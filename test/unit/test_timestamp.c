/*
 * test_timestamp.c -- timestamp_utc() (src/common/timestamp.c): ISO 8601 in
 * UTC with the asked number of decimals, truncated, never later than now
 * (checked against clock_gettime(), the clock it reads).
 */
#define _DEFAULT_SOURCE   /* timegm() */
#define _XOPEN_SOURCE 700 /* strptime() */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "timestamp.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Checks the shape YYYY-MM-DDTHH:MM:SS[.d...]Z with `digits` decimals and
 * returns the whole seconds it says (UTC). */
static time_t check_shape(const char *ts, int digits) {
    const char *shape = "dddd-dd-ddTdd:dd:dd";
    size_t len = strlen(shape);
    assert_int_equal(strlen(ts), len + (digits ? 1 + (size_t)digits : 0) + 1);
    for (size_t i = 0; i < len; i++)
        if (shape[i] == 'd')
            assert_true(isdigit((unsigned char)ts[i]));
        else
            assert_int_equal(ts[i], shape[i]);
    if (digits) {
        assert_int_equal(ts[len], '.');
        for (int i = 0; i < digits; i++)
            assert_true(isdigit((unsigned char)ts[len + 1 + (size_t)i]));
    }
    assert_int_equal(ts[strlen(ts) - 1], 'Z');
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    assert_non_null(strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm));
    return timegm(&tm);
}

/* The clock timestamp_utc() reads (time() may lag it by a tick). */
static struct timespec realtime(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts;
}

static void test_milliseconds_and_microseconds(void **state) {
    (void)state;
    char ts[TIMESTAMP_MAX];
    for (int digits = 0; digits <= 9; digits++) {
        struct timespec before = realtime();
        timestamp_utc(ts, digits);
        struct timespec after = realtime();
        time_t said = check_shape(ts, digits);
        assert_true(before.tv_sec <= said && said <= after.tv_sec);
    }
}

/* Truncated, never rounded up: at nanoseconds the time said lies between
 * the clock read before and after, so a rounding version fails whenever
 * the two are closer than half a unit (repeated to make that likely). */
static void test_never_later_than_now(void **state) {
    (void)state;
    char ts[TIMESTAMP_MAX];
    for (int digits = 1; digits <= 9; digits++) {
        for (int i = 0; i < 2000; i++) {
            struct timespec before = realtime();
            timestamp_utc(ts, digits);
            struct timespec after = realtime();
            time_t sec = check_shape(ts, digits);
            long frac = strtol(strchr(ts, '.') + 1, NULL, 10);
            for (int d = digits; d < 9; d++)
                frac *= 10; /* the fraction in nanoseconds */
            long long said = (long long)sec * 1000000000LL + frac;
            long long lo = (long long)before.tv_sec * 1000000000LL;
            long long hi =
                (long long)after.tv_sec * 1000000000LL + after.tv_nsec;
            /* Truncated to `digits`, `before` itself may read lower. */
            long long unit = 1;
            for (int d = digits; d < 9; d++)
                unit *= 10;
            lo += before.tv_nsec - before.tv_nsec % unit;
            assert_true(lo <= said);
            assert_true(said <= hi);
        }
    }
}

static void test_more_than_nine_digits_is_nine(void **state) {
    (void)state;
    char ts[TIMESTAMP_MAX];
    timestamp_utc(ts, 40);
    check_shape(ts, 9);
    timestamp_utc(ts, -1);
    check_shape(ts, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_milliseconds_and_microseconds),
        cmocka_unit_test(test_never_later_than_now),
        cmocka_unit_test(test_more_than_nine_digits_is_nine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
