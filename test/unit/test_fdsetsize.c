/*
 * test_fdsetsize.c -- the FD_SETSIZE guard: no fd at or above FD_SETSIZE
 * reaches FD_SET. mux_watch() refuses one with -ERANGE and the loop keeps
 * working; mux__fd_prepare() moves one below the limit; a client accepted
 * above it is turned away.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define HIGH_FD 1500

/* Makes fds up to `fd` usable; false if the limit cannot be raised. */
static bool allow_fd(int fd) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return false;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur <= (rlim_t)fd) {
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max <= (rlim_t)fd)
            return false;
        rl.rlim_cur = (rlim_t)fd + 1;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            return false;
    }
    /* The limit may be fine and the slot still refused (valgrind keeps
     * some fds for itself): try it. */
    int probe = dup2(STDERR_FILENO, fd);
    if (probe < 0)
        return false;
    close(probe);
    return true;
}

static int sockets[2];

static void on_readable(mux_loop_t *loop, int fd, int events, void *arg) {
    (void)loop;
    int *calls = arg;
    char byte;
    assert_int_equal(events, MUX_READ);
    assert_int_equal(read(fd, &byte, 1), 1);
    (*calls)++;
}

static void test_watch_high_fd(void **state) {
    (void)state;
    if (!allow_fd(HIGH_FD))
        skip();
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sockets), 0);
    assert_int_equal(dup2(sockets[0], HIGH_FD), HIGH_FD);
    mux_loop_t *loop;
    assert_int_equal(mux_loop_new(&loop), 0);
    int calls = 0;
    assert_int_equal(mux_watch(loop, HIGH_FD, MUX_READ, on_readable, &calls),
                     -ERANGE);
    assert_int_equal(mux_watch(loop, FD_SETSIZE, MUX_READ, on_readable, &calls),
                     -ERANGE);
    assert_int_equal(mux_watch_events(loop, HIGH_FD, MUX_READ), -ENOENT);
    assert_int_equal(mux_unwatch(loop, HIGH_FD), -ENOENT);

    /* Nothing was registered: the loop has nothing to wait for. */
    assert_int_equal(mux_run(loop, MUX_RUN_DEFAULT), 0);

    /* The loop still serves fds below the limit. */
    assert_int_equal(mux_watch(loop, sockets[0], MUX_READ, on_readable, &calls),
                     0);
    assert_int_equal(write(sockets[1], "x", 1), 1);
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 1);
    assert_int_equal(calls, 1);
    assert_int_equal(mux_unwatch(loop, sockets[0]), 0);
    mux_loop_free(loop);
    close(HIGH_FD);
    close(sockets[0]);
    close(sockets[1]);
}

/* The highest fd select() can hold is accepted. */
static void test_watch_last_slot(void **state) {
    (void)state;
    if (!allow_fd(FD_SETSIZE))
        skip();
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sockets), 0);
    assert_int_equal(dup2(sockets[0], FD_SETSIZE - 1), FD_SETSIZE - 1);
    mux_loop_t *loop;
    assert_int_equal(mux_loop_new(&loop), 0);
    int calls = 0;
    assert_int_equal(
        mux_watch(loop, FD_SETSIZE - 1, MUX_READ, on_readable, &calls), 0);
    assert_int_equal(write(sockets[1], "x", 1), 1);
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 1);
    assert_int_equal(calls, 1);
    assert_int_equal(mux_unwatch(loop, FD_SETSIZE - 1), 0);
    mux_loop_free(loop);
    close(FD_SETSIZE - 1);
    close(sockets[0]);
    close(sockets[1]);
}

static void test_fd_prepare_moves_high_fd(void **state) {
    (void)state;
    if (!allow_fd(HIGH_FD))
        skip();
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sockets), 0);
    assert_int_equal(dup2(sockets[0], HIGH_FD), HIGH_FD);
    int fd = mux__fd_prepare(HIGH_FD);
    assert_true(fd >= 0 && fd < FD_SETSIZE);
    assert_int_equal(fcntl(HIGH_FD, F_GETFD), -1); /* the high one is closed */
    assert_int_equal(errno, EBADF);
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    /* Still the same socket. */
    char byte = 0;
    assert_int_equal(write(sockets[1], "y", 1), 1);
    assert_int_equal(read(fd, &byte, 1), 1);
    assert_int_equal(byte, 'y');
    close(fd);
    close(sockets[0]);
    close(sockets[1]);
}

static void test_fd_prepare_low_fd(void **state) {
    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sockets), 0);
    int fd = mux__fd_prepare(sockets[0]);
    assert_int_equal(fd, sockets[0]); /* already fine: stays */
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    close(sockets[0]);
    close(sockets[1]);
}

/* Occupies every free fd below FD_SETSIZE; returns how many, in *fds. */
static int fill_low_fds(int **fds) {
    int *list = malloc(FD_SETSIZE * sizeof(*list));
    assert_non_null(list);
    int n = 0;
    for (;;) {
        int fd = dup(STDERR_FILENO);
        assert_true(fd >= 0);
        if (fd >= FD_SETSIZE) {
            close(fd);
            break;
        }
        list[n++] = fd;
    }
    *fds = list;
    return n;
}

static void release_fds(int *fds, int n) {
    for (int i = 0; i < n; i++)
        close(fds[i]);
    free(fds);
}

static void test_fd_prepare_no_room(void **state) {
    (void)state;
    if (!allow_fd(HIGH_FD))
        skip();
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sockets), 0);
    assert_int_equal(dup2(sockets[0], HIGH_FD), HIGH_FD);
    int *low;
    int nlow = fill_low_fds(&low);
    assert_int_equal(mux__fd_prepare(HIGH_FD), -ERANGE);
    release_fds(low, nlow);
    /* Refused fds are closed, the high one included. */
    assert_int_equal(fcntl(HIGH_FD, F_GETFD), -1);
    int fd = dup(STDERR_FILENO);
    assert_true(fd >= 0 && fd < FD_SETSIZE);
    close(fd);
    close(sockets[0]);
    close(sockets[1]);
}

/* ------------------------------------------------------------------ */
/* A client accepted above the limit is told so and closed             */
/* ------------------------------------------------------------------ */

typedef struct {
    int refused, accepted;
    char reason[64];
} events_t;

static void on_event(mux_server_t *server, const mux_event_t *ev, void *arg) {
    (void)server;
    events_t *events = arg;
    if (ev->type == MUX_EV_REFUSE) {
        events->refused++;
        snprintf(events->reason, sizeof(events->reason), "%s", ev->reason);
    }
    if (ev->type == MUX_EV_ACCEPT)
        events->accepted++;
}

static const mux_service_t silent_service = {.name = "silent"};

static void test_accept_above_limit(void **state) {
    (void)state;
    if (!allow_fd(FD_SETSIZE + 64))
        skip();
    mux_loop_t *loop;
    assert_int_equal(mux_loop_new(&loop), 0);
    events_t events = {0};
    mux_server_opts_t opts = {.on_event = on_event, .event_arg = &events};
    mux_server_t *server;
    assert_int_equal(mux_server_new(loop, &silent_service, &opts, &server), 0);
    assert_int_equal(mux_server_listen(server, "127.0.0.1:0"), 0);

    int client = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(client >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons(test_server_port(server)),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int *low;
    int nlow = fill_low_fds(&low);
    /* The kernel completes the handshake: accept() will find it queued. */
    assert_int_equal(connect(client, (struct sockaddr *)&sin, sizeof(sin)), 0);
    for (int turn = 0; turn < 10 && !events.refused && !events.accepted; turn++)
        assert_true(mux_run(loop, MUX_RUN_ONCE) >= 0);
    release_fds(low, nlow);
    assert_int_equal(events.refused, 1);
    assert_int_equal(events.accepted, 0);
    assert_non_null(strstr(events.reason, "FD_SETSIZE"));
    assert_int_equal(mux_server_clients(server), 0);
    /* The client hears why, then EOF. */
    char buf[64];
    ssize_t n = recv(client, buf, sizeof(buf) - 1, 0);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_string_equal(buf, "server full\n");
    assert_int_equal(recv(client, buf, sizeof(buf), 0), 0);
    close(client);
    mux_server_free(server);
    mux_loop_free(loop);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_watch_high_fd),
        cmocka_unit_test(test_watch_last_slot),
        cmocka_unit_test(test_fd_prepare_moves_high_fd),
        cmocka_unit_test(test_fd_prepare_low_fd),
        cmocka_unit_test(test_fd_prepare_no_room),
        cmocka_unit_test(test_accept_above_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
