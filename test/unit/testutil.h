/*
 * testutil.h -- small helpers the cmocka tests share: the clock, the port
 * a test server listens on, a connected client, a loop with a watchdog.
 * Include after <cmocka.h>.
 */
#ifndef MUX_TESTUTIL_H
#define MUX_TESTUTIL_H

#include "mux.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* Monotonic milliseconds, for the deadlines that bound every wait. */
static inline uint64_t test_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The port of the server's first listener ("tcp 127.0.0.1:PORT"). */
static inline uint16_t test_server_port(const mux_server_t *server) {
    const char *name;
    assert_int_equal(mux_server_addresses(server, &name, 1), 1);
    const char *colon = strrchr(name, ':');
    assert_non_null(colon);
    return (uint16_t)atoi(colon + 1);
}

/* A blocking TCP client connected to 127.0.0.1:port (the kernel's backlog
 * completes the connect before the server accepts). */
static inline int test_connect(uint16_t port) {
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int client = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(client >= 0);
    assert_int_equal(connect(client, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return client;
}

/* A timer callback that does nothing: a ticking timer keeps
 * mux_run(MUX_RUN_ONCE) from waiting longer than its period. */
static inline void test_tick(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    (void)loop, (void)timer, (void)arg;
}

/*
 * A loop whose every wait is bounded: a watchdog timer stops it after
 * TEST_WATCHDOG_MS without progress, and test_turn() then fails the test.
 * Embed one in a fixture and open it in the cmocka setup.
 */
#define TEST_WATCHDOG_MS 20000
#define TEST_MAX_TURNS 100000

typedef struct {
    mux_loop_t *loop;
    mux_timer_t watchdog;
    bool watchdog_fired;
} test_loop_t;

static inline void test_on_watchdog(mux_loop_t *loop, mux_timer_t *timer,
                                    void *arg) {
    (void)timer;
    test_loop_t *t = arg;
    t->watchdog_fired = true;
    mux_stop(loop);
}

/* Returns 0, or -1 (for a cmocka setup function). */
static inline int test_loop_open(test_loop_t *t) {
    if (mux_loop_new(&t->loop) < 0)
        return -1;
    mux_timer_init(&t->watchdog, t->loop, test_on_watchdog, t);
    return mux_timer_start(&t->watchdog, TEST_WATCHDOG_MS, 0) < 0 ? -1 : 0;
}

static inline void test_loop_close(test_loop_t *t) {
    mux_timer_stop(&t->watchdog);
    mux_loop_free(t->loop);
}

/* One turn, which waits for something to happen (at worst the watchdog).
 * Returns the callbacks run. */
static inline int test_turn(test_loop_t *t) {
    int ran = mux_run(t->loop, MUX_RUN_ONCE);
    assert_true(ran >= 0);
    if (t->watchdog_fired)
        fail_msg("nothing happened for %d ms", TEST_WATCHDOG_MS);
    return ran;
}

/* Runs turns until `cond` holds, a bounded number of them. */
#define TEST_RUN_UNTIL(t, cond)                                                \
    do {                                                                       \
        int turns_ = 0;                                                        \
        while (!(cond)) {                                                      \
            if (++turns_ > TEST_MAX_TURNS)                                     \
                fail_msg("still not true after %d turns: %s", TEST_MAX_TURNS,  \
                         #cond);                                               \
            test_turn(t);                                                      \
        }                                                                      \
    } while (0)

#endif
