/*
 * test_fdsetsize.c -- fds at and above FD_SETSIZE: the loop's sets grow to
 * hold them (dup2 onto high fds after raising the soft fd limit), also
 * while a turn dispatches; the library keeps them where they are; a
 * client accepted above FD_SETSIZE is served; a host driving the loop
 * with plain fd_sets is told -ERANGE, and with sets of its own size
 * (mux_prepare_sized) gets every fd.
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
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#define HIGH_FD 1500
#define HIGHER_FD 4000 /* in a later word, past one doubling of the sets */
#define TOP_FD 5000    /* the soft limit the tests raise to */

static bool high_fds_allowed;

/*
 * Raises the soft fd limit past TOP_FD. The tests need it: only a hard
 * limit below TOP_FD skips them, with the reason printed.
 */
static int allow_high_fds(void **state) {
    (void)state;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -1;
    high_fds_allowed = true;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur <= TOP_FD) {
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max <= TOP_FD) {
            print_message("skipping: the hard fd limit (%llu) is not above "
                          "%d; raise it (ulimit -Hn) to run these tests\n",
                          (unsigned long long)rl.rlim_max, TOP_FD);
            high_fds_allowed = false;
            return 0;
        }
        rl.rlim_cur = TOP_FD + 1;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            return -1;
    }
    return 0;
}

/* Each test starts with it: see allow_high_fds(). */
static int need_high_fds(void **state) {
    (void)state;
    if (!high_fds_allowed)
        skip();
    return 0;
}

typedef struct {
    int calls;
    int last_fd;
} record_t;

static void on_readable(mux_loop_t *loop, int fd, int events, void *arg) {
    (void)loop;
    record_t *rec = arg;
    char byte;
    assert_int_equal(events, MUX_READ);
    assert_int_equal(read(fd, &byte, 1), 1);
    rec->calls++;
    rec->last_fd = fd;
}

/* A socketpair whose first end is moved to `fd`; pair[1] is the writer. */
static void pair_at(int pair[2], int fd) {
    int sp[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    assert_int_equal(dup2(sp[0], fd), fd);
    close(sp[0]);
    pair[0] = fd;
    pair[1] = sp[1];
}

static void close_pair(int pair[2]) {
    close(pair[0]);
    close(pair[1]);
}

static void test_watch_fds_above_fd_setsize(void **state) {
    (void)state;
    int at[] = {FD_SETSIZE, HIGH_FD, HIGHER_FD, TOP_FD};
    int pairs[4][2];
    record_t rec[4] = {{0, 0}};
    mux_loop_t *loop;
    assert_int_equal(mux_loop_new(&loop), 0);
    for (int i = 0; i < 4; i++) {
        pair_at(pairs[i], at[i]);
        assert_int_equal(mux_watch(loop, at[i], MUX_READ, on_readable, &rec[i]),
                         0);
        assert_int_equal(mux_loop_maxfd(loop), at[i]);
    }
    for (int i = 0; i < 4; i++)
        assert_int_equal(write(pairs[i][1], "x", 1), 1);
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(rec[i].calls, 1);
        assert_int_equal(rec[i].last_fd, at[i]);
    }
    /* Events change and removal work up there too. */
    assert_int_equal(mux_watch_events(loop, HIGHER_FD, 0), 0);
    assert_int_equal(write(pairs[2][1], "y", 1), 1);
    assert_int_equal(mux_run(loop, MUX_RUN_NOWAIT), 0);
    assert_int_equal(mux_unwatch(loop, TOP_FD), 0);
    assert_int_equal(mux_loop_maxfd(loop), HIGHER_FD);
    assert_int_equal(mux_unwatch(loop, TOP_FD), -ENOENT);
    for (int i = 0; i < 3; i++)
        assert_int_equal(mux_unwatch(loop, at[i]), 0);
    assert_int_equal(mux_run(loop, MUX_RUN_DEFAULT), 0); /* nothing left */
    mux_loop_free(loop);
    for (int i = 0; i < 4; i++)
        close_pair(pairs[i]);
}

/* The sets only grow for an open fd: a stray number is refused. */
static void test_watch_a_closed_high_fd(void **state) {
    (void)state;
    mux_loop_t *loop;
    assert_int_equal(mux_loop_new(&loop), 0);
    record_t rec = {0, 0};
    assert_int_equal(fcntl(TOP_FD, F_GETFD), -1);
    assert_int_equal(mux_watch(loop, TOP_FD, MUX_READ, on_readable, &rec),
                     -EBADF);
    assert_int_equal(mux_loop_maxfd(loop), -1);
    assert_int_equal(mux_watch_events(loop, TOP_FD, MUX_READ), -ENOENT);
    mux_loop_free(loop);
}

/*
 * A callback that watches an fd past the sets' size makes them grow in the
 * middle of a dispatch: the other fds ready in that turn are still
 * delivered (from the copy select() filled), the new one from the next.
 */
typedef struct {
    int high[2];
    record_t first, second, high_rec;
} growing_t;

static void grow_from_callback(mux_loop_t *loop, int fd, int events,
                               void *arg) {
    growing_t *g = arg;
    on_readable(loop, fd, events, &g->first);
    pair_at(g->high, HIGHER_FD);
    assert_int_equal(
        mux_watch(loop, HIGHER_FD, MUX_READ, on_readable, &g->high_rec), 0);
    assert_int_equal(write(g->high[1], "h", 1), 1);
}

static void test_sets_grow_during_a_dispatch(void **state) {
    (void)state;
    int a[2], b[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
    pair_at(b, HIGH_FD); /* after a[0] in fd order: dispatched later */
    growing_t g = {{-1, -1}, {0, 0}, {0, 0}, {0, 0}};
    mux_loop_t *loop;
    assert_int_equal(mux_loop_new(&loop), 0);
    assert_int_equal(mux_watch(loop, a[0], MUX_READ, grow_from_callback, &g),
                     0);
    assert_int_equal(mux_watch(loop, HIGH_FD, MUX_READ, on_readable, &g.second),
                     0);
    assert_int_equal(write(a[1], "a", 1), 1);
    assert_int_equal(write(b[1], "b", 1), 1);
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 2);
    assert_int_equal(g.first.calls, 1);
    assert_int_equal(g.second.calls, 1);
    assert_int_equal(g.high_rec.calls, 0); /* added this turn: the next */
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 1);
    assert_int_equal(g.high_rec.calls, 1);
    mux_unwatch(loop, a[0]);
    mux_unwatch(loop, HIGH_FD);
    mux_unwatch(loop, HIGHER_FD);
    mux_loop_free(loop);
    close_pair(a);
    close_pair(b);
    close_pair(g.high);
}

/* The library no longer moves fds: a high one stays where it is. */
static void test_fd_prepare_keeps_a_high_fd(void **state) {
    (void)state;
    int pair[2];
    pair_at(pair, HIGH_FD);
    assert_int_equal(mux__fd_prepare(HIGH_FD), HIGH_FD);
    assert_true(fcntl(HIGH_FD, F_GETFL) & O_NONBLOCK);
    assert_true(fcntl(HIGH_FD, F_GETFD) & FD_CLOEXEC);
    close_pair(pair);
}

/* ------------------------------------------------------------------ */
/* A client accepted above FD_SETSIZE is served                        */
/* ------------------------------------------------------------------ */

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

typedef struct {
    int refused, accepted;
} events_t;

static void on_event(mux_server_t *server, const mux_event_t *ev, void *arg) {
    (void)server;
    events_t *events = arg;
    events->refused += ev->type == MUX_EV_REFUSE;
    events->accepted += ev->type == MUX_EV_ACCEPT;
}

static void echo_data(mux_conn_t *conn, const char *data, size_t len) {
    mux_conn_send(conn, data, len);
}

static const mux_service_t echo_service = {.name = "echo",
                                           .message = echo_data};

/* What has come back so far, without waiting. */
static size_t received(int fd, char *buf, size_t size, size_t *got) {
    ssize_t n = recv(fd, buf + *got, size - *got, MSG_DONTWAIT);
    if (n > 0)
        *got += (size_t)n;
    return *got;
}

static void test_client_above_fd_setsize_is_served(void **state) {
    (void)state;
    test_loop_t t = {.loop = NULL, .watchdog_fired = false};
    assert_int_equal(test_loop_open(&t), 0);
    events_t events = {0, 0};
    mux_server_opts_t opts = {.on_event = on_event, .event_arg = &events};
    mux_server_t *server;
    assert_int_equal(mux_server_new(t.loop, &echo_service, &opts, &server), 0);
    assert_int_equal(mux_server_listen(server, "127.0.0.1:0"), 0);
    int *low;
    int nlow = fill_low_fds(&low);
    int client = test_connect(test_server_port(server)); /* above 1024 */
    assert_true(client >= FD_SETSIZE);
    TEST_RUN_UNTIL(&t, events.accepted + events.refused > 0);
    assert_int_equal(events.accepted, 1);
    assert_int_equal(events.refused, 0);
    assert_true(mux_loop_maxfd(t.loop) >= FD_SETSIZE); /* the server's end */
    assert_int_equal(send(client, "ping", 4, 0), 4);
    char buf[8];
    size_t got = 0;
    TEST_RUN_UNTIL(&t, received(client, buf, sizeof(buf), &got) >= 4);
    assert_int_equal(got, 4);
    assert_memory_equal(buf, "ping", 4);
    release_fds(low, nlow);
    close(client);
    mux_server_free(server);
    test_loop_close(&t);
}

/* ------------------------------------------------------------------ */
/* A host with its own select()                                        */
/* ------------------------------------------------------------------ */

#define HOST_SETSIZE 8192
#define WORD_BITS (8 * (int)sizeof(unsigned long))

/* Bits of a host's sized set, without FD_SET (fortified: aborts >= 1024). */
static void host_set(unsigned long *set, int fd) {
    set[fd / WORD_BITS] |= 1ul << (fd % WORD_BITS);
}

static bool host_isset(const unsigned long *set, int fd) {
    return set[fd / WORD_BITS] & (1ul << (fd % WORD_BITS));
}

static void test_host_plain_fd_sets_get_erange(void **state) {
    (void)state;
    int pair[2];
    pair_at(pair, HIGH_FD);
    mux_loop_t *loop;
    assert_int_equal(mux_loop_new(&loop), 0);
    record_t rec = {0, 0};
    assert_int_equal(mux_watch(loop, HIGH_FD, MUX_READ, on_readable, &rec), 0);
    fd_set rd, wr;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    int maxfd = 3;
    struct timeval tv = {7, 7};
    assert_int_equal(mux_prepare(loop, &rd, &wr, &maxfd, &tv), -ERANGE);
    /* Nothing changed: not the sets, not maxfd, not the timeout. */
    fd_set empty;
    FD_ZERO(&empty);
    assert_memory_equal(&rd, &empty, sizeof(empty));
    assert_memory_equal(&wr, &empty, sizeof(empty));
    assert_int_equal(maxfd, 3);
    assert_int_equal(tv.tv_sec, 7);
    /* Once the high fd is gone, plain sets work again. */
    assert_int_equal(mux_unwatch(loop, HIGH_FD), 0);
    assert_int_equal(mux_prepare(loop, &rd, &wr, &maxfd, &tv), 0);
    mux_loop_free(loop);
    close_pair(pair);
}

static void test_host_sized_sets(void **state) {
    (void)state;
    int low[2], high[2], host[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, low), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, host), 0);
    pair_at(high, HIGHER_FD);
    mux_loop_t *loop;
    assert_int_equal(mux_loop_new(&loop), 0);
    record_t low_rec = {0, 0}, high_rec = {0, 0};
    assert_int_equal(mux_watch(loop, low[0], MUX_READ, on_readable, &low_rec),
                     0);
    assert_int_equal(
        mux_watch(loop, HIGHER_FD, MUX_READ, on_readable, &high_rec), 0);
    unsigned long *rd = calloc(HOST_SETSIZE / WORD_BITS, sizeof(*rd));
    unsigned long *wr = calloc(HOST_SETSIZE / WORD_BITS, sizeof(*wr));
    assert_non_null(rd);
    assert_non_null(wr);
    host_set(rd, host[0]); /* the host's own fd */
    int maxfd = host[0];
    struct timeval tv;
    /* Too small for the loop's highest fd: -ERANGE; bad sizes: -EINVAL. */
    assert_int_equal(mux_prepare_sized(loop, (fd_set *)(void *)rd,
                                       (fd_set *)(void *)wr,
                                       HIGHER_FD / 64 * 64, &maxfd, &tv),
                     -ERANGE);
    assert_int_equal(mux_prepare_sized(loop, (fd_set *)(void *)rd,
                                       (fd_set *)(void *)wr, 100, &maxfd, &tv),
                     -EINVAL);
    assert_int_equal(mux_prepare_sized(loop, (fd_set *)(void *)rd,
                                       (fd_set *)(void *)wr, HOST_SETSIZE,
                                       &maxfd, &tv),
                     0);
    assert_int_equal(maxfd, HIGHER_FD);
    assert_true(host_isset(rd, low[0]));
    assert_true(host_isset(rd, HIGHER_FD));
    assert_true(host_isset(rd, host[0]));
    assert_int_equal(write(low[1], "l", 1), 1);
    assert_int_equal(write(high[1], "h", 1), 1);
    assert_int_equal(write(host[1], "o", 1), 1);
    struct timeval zero = {0, 0};
    assert_int_equal(select(maxfd + 1, (fd_set *)(void *)rd,
                            (fd_set *)(void *)wr, NULL, &zero),
                     3);
    /* Only the loop's fds run callbacks; the host's is left to it. */
    assert_int_equal(mux_process_sized(loop, (fd_set *)(void *)rd,
                                       (fd_set *)(void *)wr, HOST_SETSIZE),
                     2);
    assert_int_equal(low_rec.calls, 1);
    assert_int_equal(high_rec.calls, 1);
    assert_int_equal(high_rec.last_fd, HIGHER_FD);
    char byte;
    assert_int_equal(read(host[0], &byte, 1), 1);
    assert_int_equal(mux_process_sized(loop, NULL, NULL, 63), -EINVAL);
    free(rd);
    free(wr);
    mux_unwatch(loop, low[0]);
    mux_unwatch(loop, HIGHER_FD);
    mux_loop_free(loop);
    close_pair(low);
    close_pair(high);
    close_pair(host);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_watch_fds_above_fd_setsize, need_high_fds),
        cmocka_unit_test_setup(test_watch_a_closed_high_fd, need_high_fds),
        cmocka_unit_test_setup(test_sets_grow_during_a_dispatch, need_high_fds),
        cmocka_unit_test_setup(test_fd_prepare_keeps_a_high_fd, need_high_fds),
        cmocka_unit_test_setup(test_client_above_fd_setsize_is_served,
                               need_high_fds),
        cmocka_unit_test_setup(test_host_plain_fd_sets_get_erange,
                               need_high_fds),
        cmocka_unit_test_setup(test_host_sized_sets, need_high_fds),
    };
    return cmocka_run_group_tests(tests, allow_high_fds, NULL);
}
