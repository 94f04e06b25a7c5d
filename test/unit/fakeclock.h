/*
 * fakeclock.h -- a monotonic clock the test sets, for tests that must not
 * depend on how fast the machine runs them. The test executable is linked
 * with -Wl,--wrap=clock_gettime (test/CMakeLists.txt): every call of
 * clock_gettime() in the test and in libmux comes here. While the fake
 * clock is on, CLOCK_MONOTONIC reads fake_clock_ns and moves only when the
 * test moves it; other clocks, and all of them while it is off, are the
 * real ones. Drive the loop with mux_run(MUX_RUN_NOWAIT) turns: a turn
 * that waits would wait in real time for a clock that does not move.
 * Include in one file of the executable.
 */
#ifndef MUX_FAKECLOCK_H
#define MUX_FAKECLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

static bool fake_clock_on;
static uint64_t fake_clock_ns;

int __real_clock_gettime(clockid_t id, struct timespec *ts);
int __wrap_clock_gettime(clockid_t id, struct timespec *ts);

int __wrap_clock_gettime(clockid_t id, struct timespec *ts) {
    if (!fake_clock_on || id != CLOCK_MONOTONIC)
        return __real_clock_gettime(id, ts);
    ts->tv_sec = (time_t)(fake_clock_ns / 1000000000u);
    ts->tv_nsec = (long)(fake_clock_ns % 1000000000u);
    return 0;
}

/* Starts the fake clock at `ns` (a whole second past 1000 s, say, plus
 * the fraction a test needs). */
static inline void fake_clock_start(uint64_t ns) {
    fake_clock_ns = ns;
    fake_clock_on = true;
}

static inline void fake_clock_stop(void) { fake_clock_on = false; }

/* A cmocka teardown: the real clock again, also after a failed test (the
 * tests after it may wait on it). */
static inline int fake_clock_teardown(void **state) {
    (void)state;
    fake_clock_stop();
    return 0;
}

#endif /* MUX_FAKECLOCK_H */
