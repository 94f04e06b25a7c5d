/*
 * test_connect.c -- mux_connect() (src/lib/connect.c): non-blocking
 * outbound connects over TCP v4/v6, unix and UDP; refused, timed out and
 * reset peers; every address tried in order; cancel; the result always
 * from inside the loop; no fd left open on any path.
 *
 * Every wait is bounded by the loop's watchdog (testutil.h), and each test
 * checks in its teardown that the process has as many fds as before it.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mux.h"
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Fixture and helpers                                                 */
/* ------------------------------------------------------------------ */

/* What one connect's callback saw. */
typedef struct {
    int calls;
    int fd;
    int err;
} result_t;

typedef struct {
    test_loop_t t;
    int fds_before; /* open fds when the test started */
    char dir[64];   /* for unix sockets */
} fixture_t;

static int count_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static int setup(void **state) {
    fixture_t *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    strcpy(f->dir, "/tmp/test_connect.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->fds_before = count_fds();
    *state = f;
    return test_loop_open(&f->t);
}

static int teardown(void **state) {
    fixture_t *f = *state;
    test_loop_close(&f->t);
    int fds_after = count_fds();
    rmdir(f->dir);
    int leaked = fds_after - f->fds_before;
    free(f);
    if (leaked != 0)
        fprintf(stderr, "%d fds left open\n", leaked);
    return leaked == 0 ? 0 : -1;
}

static void on_result(mux_loop_t *loop, int fd, int err, void *arg) {
    (void)loop;
    result_t *r = arg;
    r->calls++;
    r->fd = fd;
    r->err = err;
}

/* The address `fd` is bound to, as mux_connect() takes it. */
static mux_sockaddr_t bound_addr(int fd, int socktype) {
    mux_sockaddr_t sa = {.socktype = socktype};
    sa.len = sizeof(sa.sa);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa.sa, &sa.len), 0);
    sa.family = sa.sa.ss_family;
    return sa;
}

/* A TCP socket bound to the loopback of `family`, port 0; listening with
 * `backlog` unless backlog < 0 (then connecting to it is refused).
 * Returns -1 if the family has no loopback here. */
static int tcp_socket(int family, int backlog) {
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_storage ss = {.ss_family = (sa_family_t)family};
    socklen_t len = sizeof(struct sockaddr_in);
    if (family == AF_INET) {
        ((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else {
        ((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
        len = sizeof(struct sockaddr_in6);
    }
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
        (backlog >= 0 && listen(fd, backlog) < 0)) {
        close(fd);
        return -1;
    }
    return fd;
}

static int tcp_listener(mux_sockaddr_t *sa) {
    int fd = tcp_socket(AF_INET, 16);
    assert_true(fd >= 0);
    *sa = bound_addr(fd, SOCK_STREAM);
    return fd;
}

/* Bound, not listening: connecting is refused. Keep it open meanwhile. */
static int refusing_port(mux_sockaddr_t *sa) {
    int fd = tcp_socket(AF_INET, -1);
    assert_true(fd >= 0);
    *sa = bound_addr(fd, SOCK_STREAM);
    return fd;
}

static mux_sockaddr_t unix_addr(const fixture_t *f, const char *name) {
    mux_sockaddr_t sa = {.family = AF_UNIX, .socktype = SOCK_STREAM};
    struct sockaddr_un *un = (struct sockaddr_un *)&sa.sa;
    un->sun_family = AF_UNIX;
    snprintf(un->sun_path, sizeof(un->sun_path), "%s/%s", f->dir, name);
    sa.len = sizeof(*un);
    return sa;
}

static int unix_listener(const mux_sockaddr_t *sa, int backlog) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (const struct sockaddr *)&sa->sa, sa->len), 0);
    assert_int_equal(listen(fd, backlog), 0);
    return fd;
}

static void unix_close(const mux_sockaddr_t *sa, int fd) {
    close(fd);
    unlink(((const struct sockaddr_un *)&sa->sa)->sun_path);
}

static unsigned port_of(const struct sockaddr_storage *ss) {
    if (ss->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
    return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

/* The port `fd` is connected to. */
static unsigned peer_port(int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    assert_int_equal(getpeername(fd, (struct sockaddr *)&ss, &len), 0);
    return port_of(&ss);
}

/* A connected fd as the contract promises: non-blocking, close-on-exec,
 * no longer watched by the loop. */
static void assert_handed_over(mux_loop_t *loop, int fd) {
    assert_true(fd >= 0);
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(mux_unwatch(loop, fd), -ENOENT);
}

/* Connects to `addrs` and runs the loop until the callback ran. */
static result_t connect_and_wait(fixture_t *f, const mux_sockaddr_t *addrs,
                                 size_t n, uint64_t timeout_ms) {
    result_t r = {.fd = -2};
    assert_int_equal(
        mux_connect(f->t.loop, addrs, n, timeout_ms, on_result, &r, NULL), 0);
    assert_int_equal(r.calls, 0); /* never from inside mux_connect() */
    TEST_RUN_UNTIL(&f->t, r.calls > 0);
    assert_int_equal(r.calls, 1);
    return r;
}

/* Runs turns for `ms` (a timer ends the last one), so that a callback
 * that should not run has every chance to. */
static void run_for(fixture_t *f, uint64_t ms) {
    mux_timer_t tick;
    mux_timer_init(&tick, f->t.loop, test_tick, NULL);
    assert_int_equal(mux_timer_start(&tick, ms, 0), 0);
    TEST_RUN_UNTIL(&f->t, !mux_timer_active(&tick));
}

/* ------------------------------------------------------------------ */
/* Connecting                                                          */
/* ------------------------------------------------------------------ */

static void test_tcp_v4(void **state) {
    fixture_t *f = *state;
    mux_sockaddr_t sa;
    int listener = tcp_listener(&sa);
    result_t r = connect_and_wait(f, &sa, 1, 1000);
    assert_int_equal(r.err, 0);
    assert_handed_over(f->t.loop, r.fd);
    assert_int_equal(peer_port(r.fd), port_of(&sa.sa));
    int server = accept(listener, NULL, NULL);
    assert_true(server >= 0);
    assert_int_equal(write(server, "hi", 2), 2);
    char buf[4];
    struct pollfd p = {.fd = r.fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 5000), 1);
    assert_int_equal(read(r.fd, buf, sizeof(buf)), 2);
    close(server);
    close(r.fd);
    close(listener);
}

static void test_tcp_v6(void **state) {
    fixture_t *f = *state;
    int listener = tcp_socket(AF_INET6, 16);
    if (listener < 0) {
        print_message("no IPv6 loopback (::1) here: %s\n", strerror(errno));
        skip();
    }
    mux_sockaddr_t sa = bound_addr(listener, SOCK_STREAM);
    result_t r = connect_and_wait(f, &sa, 1, 1000);
    assert_int_equal(r.err, 0);
    assert_handed_over(f->t.loop, r.fd);
    assert_int_equal(peer_port(r.fd), port_of(&sa.sa));
    close(r.fd);
    close(listener);
}

static void test_unix(void **state) {
    fixture_t *f = *state;
    mux_sockaddr_t sa = unix_addr(f, "ok.sock");
    int listener = unix_listener(&sa, 4);
    result_t r = connect_and_wait(f, &sa, 1, 1000);
    assert_int_equal(r.err, 0);
    assert_handed_over(f->t.loop, r.fd);
    int server = accept(listener, NULL, NULL);
    assert_true(server >= 0);
    assert_int_equal(write(r.fd, "x", 1), 1);
    char c;
    assert_int_equal(read(server, &c, 1), 1);
    close(server);
    close(r.fd);
    unix_close(&sa, listener);
}

/* A connected UDP socket is ready at once: still reported from the loop. */
static void test_udp(void **state) {
    fixture_t *f = *state;
    int peer = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(peer, (struct sockaddr *)&sin, sizeof(sin)), 0);
    mux_sockaddr_t sa = bound_addr(peer, SOCK_DGRAM);
    result_t r = connect_and_wait(f, &sa, 1, 1000);
    assert_int_equal(r.err, 0);
    assert_handed_over(f->t.loop, r.fd);
    assert_int_equal(send(r.fd, "d", 1, 0), 1);
    char c;
    assert_int_equal(recv(peer, &c, 1, 0), 1);
    close(r.fd);
    close(peer);
}

/* ------------------------------------------------------------------ */
/* Failing                                                             */
/* ------------------------------------------------------------------ */

static void test_refused(void **state) {
    fixture_t *f = *state;
    mux_sockaddr_t sa;
    int closed = refusing_port(&sa);
    result_t r = connect_and_wait(f, &sa, 1, 1000);
    assert_int_equal(r.fd, -1);
    assert_int_equal(r.err, -ECONNREFUSED);
    close(closed);
}

/* A unix path nobody listens on fails inside connect() itself: reported
 * from the loop all the same, never from mux_connect(). */
static void test_unix_missing_fails_at_once_reported_later(void **state) {
    fixture_t *f = *state;
    mux_sockaddr_t sa = unix_addr(f, "nobody.sock");
    result_t r = connect_and_wait(f, &sa, 1, 1000);
    assert_int_equal(r.fd, -1);
    assert_int_equal(r.err, -ENOENT);
}

/* A full accept queue drops the SYN: the attempt's timer ends it. */
static void test_timeout(void **state) {
    fixture_t *f = *state;
    int listener = tcp_socket(AF_INET, 0);
    assert_true(listener >= 0);
    mux_sockaddr_t sa = bound_addr(listener, SOCK_STREAM);
    /* Backlog 0 holds one connection; it is never accepted. */
    int filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(filler, (struct sockaddr *)&sa.sa, sa.len), 0);
    uint64_t start = test_now_ms();
    result_t r = connect_and_wait(f, &sa, 1, 150);
    uint64_t waited = test_now_ms() - start;
    assert_int_equal(r.fd, -1);
    assert_int_equal(r.err, -ETIMEDOUT);
    assert_true(waited >= 150); /* the timeout, not an early failure */
    close(filler);
    close(listener);
}

/* A unix listener's full backlog fails the attempt at once (EAGAIN). */
static void test_unix_backlog_full(void **state) {
    fixture_t *f = *state;
    mux_sockaddr_t sa = unix_addr(f, "full.sock");
    int listener = unix_listener(&sa, 0);
    int fillers[4];
    for (int i = 0; i < 4; i++) {
        fillers[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
        (void)connect(fillers[i], (struct sockaddr *)&sa.sa, sa.len);
    }
    result_t r = connect_and_wait(f, &sa, 1, 1000);
    assert_int_equal(r.fd, -1);
    assert_int_equal(r.err, -EAGAIN);
    for (int i = 0; i < 4; i++)
        close(fillers[i]);
    unix_close(&sa, listener);
}

/* A server that accepts and resets at once: connected, then failed. The
 * fd is the caller's, with the error the socket no longer holds. */
static void test_reset_after_connecting(void **state) {
    fixture_t *f = *state;
    mux_sockaddr_t sa;
    int listener = tcp_listener(&sa);
    result_t r = {.fd = -2};
    assert_int_equal(mux_connect(f->t.loop, &sa, 1, 1000, on_result, &r, NULL),
                     0);
    int server = accept(listener, NULL, NULL);
    assert_true(server >= 0);
    struct linger abortive = {.l_onoff = 1, .l_linger = 0};
    assert_int_equal(
        setsockopt(server, SOL_SOCKET, SO_LINGER, &abortive, sizeof(abortive)),
        0);
    close(server);
    /* Wait (bounded) until the reset has arrived: poll() leaves the
     * error on the socket, which the loop does not watch yet. */
    struct pollfd p = {.fd = mux_loop_maxfd(f->t.loop), .events = POLLOUT};
    for (int i = 0; i < 500 && !(p.revents & POLLHUP); i++)
        assert_true(poll(&p, 1, 10) >= 0);
    assert_true(p.revents & POLLHUP);
    TEST_RUN_UNTIL(&f->t, r.calls > 0);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.err, -ECONNRESET);
    assert_handed_over(f->t.loop, r.fd);
    char c;
    assert_int_equal(read(r.fd, &c, 1), 0); /* the error was taken */
    close(r.fd);
    close(listener);
}

/* ------------------------------------------------------------------ */
/* Every address in turn                                               */
/* ------------------------------------------------------------------ */

static void test_refused_refused_ok(void **state) {
    fixture_t *f = *state;
    mux_sockaddr_t sa[3];
    int closed1 = refusing_port(&sa[0]);
    int closed2 = refusing_port(&sa[1]);
    int listener = tcp_listener(&sa[2]);
    result_t r = connect_and_wait(f, sa, 3, 1000);
    assert_int_equal(r.err, 0);
    assert_handed_over(f->t.loop, r.fd);
    assert_int_equal(peer_port(r.fd), port_of(&sa[2].sa));
    close(r.fd);
    close(listener);
    close(closed1);
    close(closed2);
}

/* The first that accepts wins: a later address gets no connection. */
static void test_first_that_accepts_wins(void **state) {
    fixture_t *f = *state;
    mux_sockaddr_t sa[2];
    int first = tcp_listener(&sa[0]);
    int second = tcp_listener(&sa[1]);
    result_t r = connect_and_wait(f, sa, 2, 1000);
    assert_int_equal(r.err, 0);
    assert_int_equal(peer_port(r.fd), port_of(&sa[0].sa));
    fcntl(second, F_SETFL, O_NONBLOCK);
    assert_int_equal(accept(second, NULL, NULL), -1);
    assert_int_equal(errno, EAGAIN);
    close(r.fd);
    close(first);
    close(second);
}

/* Every one failed: the error is the last one's, whichever it is. */
static void test_all_fail_with_the_last_error(void **state) {
    fixture_t *f = *state;
    mux_sockaddr_t sa[2];
    int closed = refusing_port(&sa[0]);
    sa[1] = unix_addr(f, "nobody.sock");
    result_t r = connect_and_wait(f, sa, 2, 1000);
    assert_int_equal(r.fd, -1);
    assert_int_equal(r.err, -ENOENT);

    mux_sockaddr_t reversed[2] = {sa[1], sa[0]};
    r = connect_and_wait(f, reversed, 2, 1000);
    assert_int_equal(r.fd, -1);
    assert_int_equal(r.err, -ECONNREFUSED);

    mux_sockaddr_t two_refused[2] = {sa[0], sa[0]};
    r = connect_and_wait(f, two_refused, 2, 1000);
    assert_int_equal(r.err, -ECONNREFUSED);
    close(closed);
}

/* A timed-out attempt is one failure among others: the next is tried. */
static void test_timeout_then_next(void **state) {
    fixture_t *f = *state;
    mux_sockaddr_t sa[2];
    int full = tcp_socket(AF_INET, 0);
    assert_true(full >= 0);
    sa[0] = bound_addr(full, SOCK_STREAM);
    int filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(filler, (struct sockaddr *)&sa[0].sa, sa[0].len),
                     0);
    int listener = tcp_listener(&sa[1]);
    result_t r = connect_and_wait(f, sa, 2, 100);
    assert_int_equal(r.err, 0);
    assert_int_equal(peer_port(r.fd), port_of(&sa[1].sa));
    close(r.fd);
    close(listener);
    close(filler);
    close(full);
}

/* ------------------------------------------------------------------ */
/* Cancel                                                              */
/* ------------------------------------------------------------------ */

typedef struct {
    result_t result;
    mux_connect_t *other; /* cancelled by this one's callback */
    mux_connect_t *self;
} canceller_t;

static void on_result_cancel_other(mux_loop_t *loop, int fd, int err,
                                   void *arg) {
    canceller_t *c = arg;
    on_result(loop, fd, err, &c->result);
    mux_connect_cancel(c->other);
    mux_connect_cancel(c->self); /* its own: over already, a no-op */
}

/* Two connects to one listener turn writable in the same turn: the first
 * callback cancels the other, whose readiness must not be delivered. */
static void test_cancel_from_another_callback(void **state) {
    fixture_t *f = *state;
    mux_sockaddr_t sa;
    int listener = tcp_listener(&sa);
    canceller_t a = {.result.fd = -2}, b = {.result.fd = -2};
    assert_int_equal(mux_connect(f->t.loop, &sa, 1, 1000,
                                 on_result_cancel_other, &a, &a.self),
                     0);
    assert_int_equal(mux_connect(f->t.loop, &sa, 1, 1000,
                                 on_result_cancel_other, &b, &b.self),
                     0);
    a.other = b.self;
    b.other = a.self;
    TEST_RUN_UNTIL(&f->t, a.result.calls + b.result.calls > 0);
    run_for(f, 50);
    assert_int_equal(a.result.calls + b.result.calls, 1);
    result_t *won = a.result.calls ? &a.result : &b.result;
    assert_int_equal(won->err, 0);
    close(won->fd);
    close(listener);
}

/* Cancelled before the loop runs, while connecting and while a failure
 * found in mux_connect() waits to be reported: no callback, no fd left. */
static void test_cancel_before_the_result(void **state) {
    fixture_t *f = *state;
    int listener = tcp_socket(AF_INET, 0);
    assert_true(listener >= 0);
    mux_sockaddr_t sa = bound_addr(listener, SOCK_STREAM);
    int filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(filler, (struct sockaddr *)&sa.sa, sa.len), 0);
    mux_sockaddr_t missing = unix_addr(f, "nobody.sock");
    result_t r = {0};
    mux_connect_t *pending, *failed;
    assert_int_equal(mux_connect(f->t.loop, &sa, 1, 0, on_result, &r, &pending),
                     0);
    assert_int_equal(
        mux_connect(f->t.loop, &missing, 1, 0, on_result, &r, &failed), 0);
    run_for(f, 20);
    assert_int_equal(r.calls, 1); /* the missing path: reported */
    assert_int_equal(r.err, -ENOENT);
    mux_connect_cancel(pending); /* its SYN still unanswered */
    assert_int_equal(
        mux_connect(f->t.loop, &missing, 1, 0, on_result, &r, &failed), 0);
    mux_connect_cancel(failed);
    mux_connect_cancel(NULL);
    run_for(f, 20);
    assert_int_equal(r.calls, 1);
    close(filler);
    close(listener);
}

static void test_bad_arguments(void **state) {
    fixture_t *f = *state;
    mux_sockaddr_t sa = unix_addr(f, "x.sock");
    result_t r = {0};
    mux_connect_t *c = NULL;
    assert_int_equal(mux_connect(NULL, &sa, 1, 0, on_result, &r, &c), -EINVAL);
    assert_int_equal(mux_connect(f->t.loop, NULL, 1, 0, on_result, &r, &c),
                     -EINVAL);
    assert_int_equal(mux_connect(f->t.loop, &sa, 0, 0, on_result, &r, &c),
                     -EINVAL);
    assert_int_equal(mux_connect(f->t.loop, &sa, 1, 0, NULL, &r, &c), -EINVAL);
    assert_null(c);
    run_for(f, 10);
    assert_int_equal(r.calls, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_tcp_v4),
        T(test_tcp_v6),
        T(test_unix),
        T(test_udp),
        T(test_refused),
        T(test_unix_missing_fails_at_once_reported_later),
        T(test_timeout),
        T(test_unix_backlog_full),
        T(test_reset_after_connecting),
        T(test_refused_refused_ok),
        T(test_first_that_accepts_wins),
        T(test_all_fail_with_the_last_error),
        T(test_timeout_then_next),
        T(test_cancel_from_another_callback),
        T(test_cancel_before_the_result),
        T(test_bad_arguments),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
