/*
 * testutil.h -- small helpers the cmocka tests share: the clock, the port
 * a test server listens on, a connected client. Include after <cmocka.h>.
 */
#ifndef MUX_TESTUTIL_H
#define MUX_TESTUTIL_H

#include "mux.h"

#include <arpa/inet.h>
#include <netinet/in.h>
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

#endif
