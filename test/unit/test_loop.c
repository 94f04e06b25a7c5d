/*
 * test_loop.c -- the event loop (src/lib/loop.c): fd watchers, timers,
 * signals, run modes, the mux_prepare()/mux_process() pair for a host's own
 * select(), and the rule that a removed or replaced watcher never gets a
 * readiness that select() reported before the change.
 *
 * Every wait is bounded: a turn that could block has a ready fd or a timer
 * to end it, and loops that drive turns stop after a fixed count.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fakeclock.h"
#include "mux.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static mux_loop_t *new_loop(void) {
    mux_loop_t *loop = NULL;
    assert_int_equal(mux_loop_new(&loop), 0);
    assert_non_null(loop);
    return loop;
}

static void new_pair(int sv[2]) {
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
}

static void close_pair(int sv[2]) {
    close(sv[0]);
    close(sv[1]);
}

/* What an fd callback saw. */
typedef struct {
    int calls;
    int fd;
    int events;
    mux_loop_t *loop;
} io_record_t;

static void record_io(mux_loop_t *loop, int fd, int events, void *arg) {
    io_record_t *rec = arg;
    rec->calls++;
    rec->fd = fd;
    rec->events = events;
    rec->loop = loop;
}

/* Records, and drains one byte so that level-triggered readiness ends. */
static void drain_io(mux_loop_t *loop, int fd, int events, void *arg) {
    char byte;
    if (events & MUX_READ)
        assert_int_equal(read(fd, &byte, 1), 1);
    record_io(loop, fd, events, arg);
}

/* A timer firing log: which timers ran, in order. */
typedef struct {
    int order[512];
    int count;
} fire_log_t;

typedef struct {
    fire_log_t *log;
    int id;
} timer_tag_t;

static void log_timer(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    (void)loop;
    (void)timer;
    timer_tag_t *tag = arg;
    if (tag->log->count < 512)
        tag->log->order[tag->log->count] = tag->id;
    tag->log->count++;
}

static void count_timer(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    (void)loop;
    (void)timer;
    (*(int *)arg)++;
}

/* ------------------------------------------------------------------ */
/* fd watchers                                                         */
/* ------------------------------------------------------------------ */

static void test_watch_read(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    int sv[2];
    new_pair(sv);
    io_record_t rec = {0};
    assert_int_equal(mux_watch(loop, sv[0], MUX_READ, drain_io, &rec), 0);
    assert_int_equal(mux_run(loop, MUX_RUN_NOWAIT), 0); /* nothing to read */
    assert_int_equal(rec.calls, 0);
    assert_int_equal(write(sv[1], "x", 1), 1);
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 1);
    assert_int_equal(rec.calls, 1);
    assert_int_equal(rec.fd, sv[0]);
    assert_int_equal(rec.events, MUX_READ);
    assert_ptr_equal(rec.loop, loop);
    assert_int_equal(mux_run(loop, MUX_RUN_NOWAIT), 0); /* drained */
    assert_int_equal(rec.calls, 1);
    assert_int_equal(mux_unwatch(loop, sv[0]), 0);
    mux_loop_free(loop);
    close_pair(sv);
}

static void test_watch_write(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    io_record_t rec = {0};
    assert_int_equal(mux_watch(loop, fds[1], MUX_WRITE, record_io, &rec), 0);
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 1);
    assert_int_equal(rec.fd, fds[1]);
    assert_int_equal(rec.events, MUX_WRITE);
    assert_int_equal(mux_unwatch(loop, fds[1]), 0);

    /* Both bits asked, only writable: only MUX_WRITE is reported. */
    int sv[2];
    new_pair(sv);
    rec = (io_record_t){0};
    assert_int_equal(
        mux_watch(loop, sv[0], MUX_READ | MUX_WRITE, record_io, &rec), 0);
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 1);
    assert_int_equal(rec.events, MUX_WRITE);
    /* Readable and writable: both bits in one call. */
    assert_int_equal(write(sv[1], "x", 1), 1);
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 1);
    assert_int_equal(rec.calls, 2);
    assert_int_equal(rec.events, MUX_READ | MUX_WRITE);
    /* Readable, but only writability asked... */
    assert_int_equal(mux_watch_events(loop, sv[0], MUX_WRITE), 0);
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 1);
    assert_int_equal(rec.events, MUX_WRITE);
    /* ...and only readability: never MUX_WRITE. */
    assert_int_equal(mux_watch_events(loop, sv[0], MUX_READ), 0);
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 1);
    assert_int_equal(rec.events, MUX_READ);
    assert_int_equal(rec.calls, 4);
    assert_int_equal(mux_unwatch(loop, sv[0]), 0);
    mux_loop_free(loop);
    close_pair(sv);
    close(fds[0]);
    close(fds[1]);
}

/* Events 0: registered, but not selected on, until events are set. */
static void test_watch_events_zero(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    int sv[2];
    new_pair(sv);
    assert_int_equal(write(sv[1], "x", 1), 1);
    io_record_t rec = {0};
    assert_int_equal(mux_watch(loop, sv[0], 0, drain_io, &rec), 0);
    assert_int_equal(mux_run(loop, MUX_RUN_NOWAIT), 0);
    assert_int_equal(rec.calls, 0);
    assert_int_equal(mux_watch_events(loop, sv[0], MUX_READ), 0);
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 1);
    assert_int_equal(rec.calls, 1);
    /* Turned off again while readable: not delivered. */
    assert_int_equal(write(sv[1], "y", 1), 1);
    assert_int_equal(mux_watch_events(loop, sv[0], 0), 0);
    assert_int_equal(mux_run(loop, MUX_RUN_NOWAIT), 0);
    assert_int_equal(rec.calls, 1);
    assert_int_equal(mux_unwatch(loop, sv[0]), 0);
    mux_loop_free(loop);
    close_pair(sv);
}

static void test_watch_errors(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    int sv[2];
    new_pair(sv);
    io_record_t rec = {0};
    assert_int_equal(mux_watch(loop, -1, MUX_READ, record_io, &rec), -EBADF);
    assert_int_equal(mux_watch(loop, -7, MUX_READ, record_io, &rec), -EBADF);
    assert_int_equal(mux_watch(loop, sv[0], MUX_READ, NULL, &rec), -EINVAL);
    assert_int_equal(mux_watch(loop, sv[0], 4, record_io, &rec), -EINVAL);
    assert_int_equal(mux_watch(loop, sv[0], -1, record_io, &rec), -EINVAL);
    assert_int_equal(mux_watch_events(loop, sv[0], MUX_READ), -ENOENT);
    assert_int_equal(mux_watch_events(loop, -1, MUX_READ), -ENOENT);
    assert_int_equal(mux_unwatch(loop, sv[0]), -ENOENT);
    assert_int_equal(mux_unwatch(loop, -1), -ENOENT);
    /* None of the failures registered anything. */
    assert_int_equal(mux_run(loop, MUX_RUN_DEFAULT), 0);

    assert_int_equal(mux_watch(loop, sv[0], MUX_READ, drain_io, &rec), 0);
    assert_int_equal(mux_watch_events(loop, sv[0], 8), -EINVAL);
    /* The failed change left the events as they were. */
    assert_int_equal(write(sv[1], "x", 1), 1);
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 1);
    assert_int_equal(rec.events, MUX_READ);
    assert_int_equal(mux_unwatch(loop, sv[0]), 0);
    assert_int_equal(mux_unwatch(loop, sv[0]), -ENOENT);
    mux_loop_free(loop);
    close_pair(sv);
}

/* Watching a watched fd replaces its callback and argument. */
static void test_watch_replace(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    int sv[2];
    new_pair(sv);
    io_record_t first = {0}, second = {0};
    assert_int_equal(mux_watch(loop, sv[0], MUX_READ, drain_io, &first), 0);
    assert_int_equal(mux_watch(loop, sv[0], MUX_READ, drain_io, &second), 0);
    assert_int_equal(write(sv[1], "x", 1), 1);
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 1);
    assert_int_equal(first.calls, 0);
    assert_int_equal(second.calls, 1);
    /* One registration: a single unwatch removes it. */
    assert_int_equal(mux_unwatch(loop, sv[0]), 0);
    assert_int_equal(mux_run(loop, MUX_RUN_DEFAULT), 0);
    mux_loop_free(loop);
    close_pair(sv);
}

static void test_unwatch(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    int sv[2];
    new_pair(sv);
    io_record_t rec = {0};
    assert_int_equal(mux_watch(loop, sv[0], MUX_READ, record_io, &rec), 0);
    assert_int_equal(write(sv[1], "x", 1), 1);
    assert_int_equal(mux_unwatch(loop, sv[0]), 0);
    /* Nothing is watched: DEFAULT returns at once, ONCE does not block. */
    assert_int_equal(mux_run(loop, MUX_RUN_DEFAULT), 0);
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 0);
    assert_int_equal(rec.calls, 0);
    mux_loop_free(loop);
    close_pair(sv);
}

static void unwatch_self(mux_loop_t *loop, int fd, int events, void *arg) {
    record_io(loop, fd, events, arg);
    assert_int_equal(mux_unwatch(loop, fd), 0);
}

static void test_unwatch_self(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    int sv[2];
    new_pair(sv);
    io_record_t rec = {0};
    assert_int_equal(
        mux_watch(loop, sv[0], MUX_READ | MUX_WRITE, unwatch_self, &rec), 0);
    assert_int_equal(write(sv[1], "x", 1), 1);
    assert_int_equal(mux_run(loop, MUX_RUN_DEFAULT), 0);
    assert_int_equal(rec.calls, 1);
    mux_loop_free(loop);
    close_pair(sv);
}

/* Ready fds are dispatched in fd order. */
typedef struct {
    int fds[4];
    int n;
} order_t;

static void record_order(mux_loop_t *loop, int fd, int events, void *arg) {
    (void)loop;
    (void)events;
    order_t *order = arg;
    char byte;
    assert_int_equal(read(fd, &byte, 1), 1);
    if (order->n < 4)
        order->fds[order->n] = fd;
    order->n++;
}

static void test_dispatch_in_fd_order(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    int a[2], b[2];
    new_pair(a);
    new_pair(b);
    order_t order = {{0}, 0};
    /* Registered high fd first: the order is the fds', not registration's. */
    int low = a[0] < b[0] ? a[0] : b[0], high = a[0] < b[0] ? b[0] : a[0];
    assert_int_equal(mux_watch(loop, high, MUX_READ, record_order, &order), 0);
    assert_int_equal(mux_watch(loop, low, MUX_READ, record_order, &order), 0);
    assert_int_equal(write(a[1], "x", 1), 1);
    assert_int_equal(write(b[1], "x", 1), 1);
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 2);
    assert_int_equal(order.n, 2);
    assert_int_equal(order.fds[0], low);
    assert_int_equal(order.fds[1], high);
    mux_unwatch(loop, low);
    mux_unwatch(loop, high);
    mux_loop_free(loop);
    close_pair(a);
    close_pair(b);
}

/*
 * Two ready fds, `first` dispatched before `second`. The first callback
 * unwatches and closes the second fd, and optionally puts a fresh,
 * idle fd (a pipe's read end) under the same number and watches it.
 */
typedef struct {
    int second;
    int replacement; /* -1: none */
    io_record_t first_rec, second_rec, replacement_rec;
} close_other_t;

static void close_other(mux_loop_t *loop, int fd, int events, void *arg) {
    close_other_t *t = arg;
    drain_io(loop, fd, events, &t->first_rec);
    assert_int_equal(mux_unwatch(loop, t->second), 0);
    assert_int_equal(close(t->second), 0);
    if (t->replacement < 0)
        return;
    assert_int_equal(dup2(t->replacement, t->second), t->second);
    assert_int_equal(
        mux_watch(loop, t->second, MUX_READ, record_io, &t->replacement_rec),
        0);
}

static void second_cb(mux_loop_t *loop, int fd, int events, void *arg) {
    close_other_t *t = arg;
    drain_io(loop, fd, events, &t->second_rec);
}

static void test_unwatch_other_ready_fd(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    int a[2], b[2];
    new_pair(a);
    new_pair(b);
    assert_true(a[0] < b[0]); /* a is dispatched first */
    close_other_t t = {.second = b[0], .replacement = -1};
    assert_int_equal(mux_watch(loop, a[0], MUX_READ, close_other, &t), 0);
    assert_int_equal(mux_watch(loop, b[0], MUX_READ, second_cb, &t), 0);
    assert_int_equal(write(a[1], "x", 1), 1);
    assert_int_equal(write(b[1], "x", 1), 1);
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 1);
    assert_int_equal(t.first_rec.calls, 1);
    assert_int_equal(t.second_rec.calls, 0); /* removed before its turn */
    assert_int_equal(mux_unwatch(loop, a[0]), 0);
    assert_int_equal(mux_run(loop, MUX_RUN_DEFAULT), 0);
    mux_loop_free(loop);
    close_pair(a);
    close(b[1]);
}

/* The same with a writer watched: select() gets a write set, and the
 * dispatch takes its general path. */
static void test_unwatch_other_ready_fd_with_writer(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    int a[2], b[2], c[2];
    new_pair(a);
    new_pair(b);
    new_pair(c);
    assert_true(a[0] < b[0]);
    close_other_t t = {.second = b[0], .replacement = -1};
    io_record_t writer = {0};
    assert_int_equal(mux_watch(loop, a[0], MUX_READ, close_other, &t), 0);
    assert_int_equal(mux_watch(loop, b[0], MUX_READ, second_cb, &t), 0);
    assert_int_equal(mux_watch(loop, c[0], MUX_WRITE, record_io, &writer), 0);
    assert_int_equal(write(a[1], "x", 1), 1);
    assert_int_equal(write(b[1], "x", 1), 1);
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 2);
    assert_int_equal(t.first_rec.calls, 1);
    assert_int_equal(t.second_rec.calls, 0); /* removed before its turn */
    assert_int_equal(writer.calls, 1);
    assert_int_equal(writer.events, MUX_WRITE);
    assert_int_equal(mux_unwatch(loop, a[0]), 0);
    assert_int_equal(mux_unwatch(loop, c[0]), 0);
    assert_int_equal(mux_run(loop, MUX_RUN_DEFAULT), 0);
    mux_loop_free(loop);
    close_pair(a);
    close_pair(c);
    close(b[1]);
}

/* A callback that runs a turn of its own (not supported: the API says the
 * loop is not re-entrant) must still not get a removed watcher called:
 * the inner turn removes the second fd, which the outer turn had ready. */
typedef struct {
    int first, second;
    io_record_t first_rec, second_rec;
} nested_t;

static void nested_second(mux_loop_t *loop, int fd, int events, void *arg) {
    nested_t *t = arg;
    drain_io(loop, fd, events, &t->second_rec);
    assert_int_equal(mux_unwatch(loop, fd), 0);
}

static void nested_first(mux_loop_t *loop, int fd, int events, void *arg) {
    nested_t *t = arg;
    drain_io(loop, fd, events, &t->first_rec);
    assert_int_equal(mux_unwatch(loop, fd), 0);
    assert_int_equal(mux_run(loop, MUX_RUN_NOWAIT), 1); /* the second */
}

static void test_nested_turn_removes_a_ready_fd(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    int a[2], b[2];
    new_pair(a);
    new_pair(b);
    assert_true(a[0] < b[0]);
    nested_t t = {.first = a[0], .second = b[0]};
    assert_int_equal(mux_watch(loop, a[0], MUX_READ, nested_first, &t), 0);
    assert_int_equal(mux_watch(loop, b[0], MUX_READ, nested_second, &t), 0);
    assert_int_equal(write(a[1], "x", 1), 1);
    assert_int_equal(write(b[1], "x", 1), 1);
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 1);
    assert_int_equal(t.first_rec.calls, 1);
    assert_int_equal(t.second_rec.calls, 1); /* once, from the inner turn */
    mux_loop_free(loop);
    close_pair(a);
    close_pair(b);
}

/* The closed fd's number is reused in the same turn: the new fd must not
 * get the old one's readiness. */
static void test_fd_number_reused_in_turn(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    int a[2], b[2], fresh[2];
    new_pair(a);
    new_pair(b);
    assert_int_equal(pipe(fresh), 0);
    assert_true(a[0] < b[0]);
    close_other_t t = {.second = b[0], .replacement = fresh[0]};
    assert_int_equal(mux_watch(loop, a[0], MUX_READ, close_other, &t), 0);
    assert_int_equal(mux_watch(loop, b[0], MUX_READ, second_cb, &t), 0);
    assert_int_equal(write(a[1], "x", 1), 1);
    assert_int_equal(write(b[1], "x", 1), 1);
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 1);
    assert_int_equal(t.first_rec.calls, 1);
    assert_int_equal(t.second_rec.calls, 0);
    assert_int_equal(t.replacement_rec.calls, 0); /* stale: not delivered */
    /* The new fd really was idle... */
    assert_int_equal(mux_unwatch(loop, a[0]), 0);
    assert_int_equal(mux_run(loop, MUX_RUN_NOWAIT), 0);
    /* ...and is served normally from the next turn on. */
    assert_int_equal(write(fresh[1], "y", 1), 1);
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 1);
    assert_int_equal(t.replacement_rec.calls, 1);
    assert_int_equal(t.replacement_rec.fd, b[0]);
    assert_int_equal(mux_unwatch(loop, b[0]), 0);
    mux_loop_free(loop);
    close_pair(a);
    close(b[0]);
    close(b[1]);
    close(fresh[0]);
    close(fresh[1]);
}

typedef struct {
    int other;
    io_record_t first_rec, other_rec;
} change_other_t;

static void make_other_write_only(mux_loop_t *loop, int fd, int events,
                                  void *arg) {
    change_other_t *t = arg;
    drain_io(loop, fd, events, &t->first_rec);
    assert_int_equal(mux_watch_events(loop, t->other, MUX_WRITE), 0);
}

static void other_cb(mux_loop_t *loop, int fd, int events, void *arg) {
    change_other_t *t = arg;
    record_io(loop, fd, events, &t->other_rec);
}

/* Interest changed by an earlier callback of the same turn: select()'s
 * answer for the old interest is not delivered. */
static void test_events_changed_in_turn(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    int a[2], b[2];
    new_pair(a);
    new_pair(b);
    assert_true(a[0] < b[0]);
    change_other_t t = {.other = b[0]};
    assert_int_equal(mux_watch(loop, a[0], MUX_READ, make_other_write_only, &t),
                     0);
    assert_int_equal(mux_watch(loop, b[0], MUX_READ, other_cb, &t), 0);
    assert_int_equal(write(a[1], "x", 1), 1);
    assert_int_equal(write(b[1], "x", 1), 1);
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 1);
    assert_int_equal(t.first_rec.calls, 1);
    assert_int_equal(t.other_rec.calls, 0); /* its READ is no longer asked */
    assert_int_equal(mux_unwatch(loop, a[0]), 0);
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 1);
    assert_int_equal(t.other_rec.calls, 1);
    assert_int_equal(t.other_rec.events, MUX_WRITE);
    assert_int_equal(mux_unwatch(loop, b[0]), 0);
    mux_loop_free(loop);
    close_pair(a);
    close_pair(b);
}

/* A watched fd closed without unwatching is the caller's bug: -EBADF. */
static void test_closed_watched_fd(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    int sv[2];
    new_pair(sv);
    io_record_t rec = {0};
    assert_int_equal(mux_watch(loop, sv[0], MUX_READ, record_io, &rec), 0);
    close(sv[0]);
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), -EBADF);
    assert_int_equal(mux_run(loop, MUX_RUN_DEFAULT), -EBADF);
    assert_int_equal(rec.calls, 0);
    assert_int_equal(mux_unwatch(loop, sv[0]), 0);
    mux_loop_free(loop);
    close(sv[1]);
}

/* ------------------------------------------------------------------ */
/* Timers: embedded in their owners                                    */
/* ------------------------------------------------------------------ */

/* Starts `timer` (on the caller's stack) with a callback and argument. */
static void start_timer(mux_loop_t *loop, mux_timer_t *timer, uint64_t after,
                        uint64_t repeat, mux_timer_cb *cb, void *arg) {
    mux_timer_init(timer, loop, cb, arg);
    assert_int_equal(mux_timer_start(timer, after, repeat), 0);
}

static void test_timers_deadline_order(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    fire_log_t log = {{0}, 0};
    /* Delays far enough apart that arming them takes no part. */
    static const uint64_t delays[] = {40, 0, 20, 0, 40, 20};
    timer_tag_t tags[6];
    mux_timer_t timers[6];
    for (int i = 0; i < 6; i++) {
        tags[i] = (timer_tag_t){&log, i};
        start_timer(loop, &timers[i], delays[i], 0, log_timer, &tags[i]);
    }
    assert_int_equal(mux_run(loop, MUX_RUN_DEFAULT), 0);
    assert_int_equal(log.count, 6);
    static const int expected[] = {1, 3, 2, 5, 0, 4};
    for (int i = 0; i < 6; i++)
        assert_int_equal(log.order[i], expected[i]);
    for (int i = 0; i < 6; i++)
        assert_false(mux_timer_active(&timers[i]));
    mux_loop_free(loop);
}

/* Equal delays: arming order, also across heap reshuffles. */
static void test_timers_ties_in_arming_order(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    fire_log_t log = {{0}, 0};
    timer_tag_t tags[40];
    mux_timer_t timers[40];
    for (int i = 0; i < 40; i++) {
        tags[i] = (timer_tag_t){&log, i};
        start_timer(loop, &timers[i], 1, 0, log_timer, &tags[i]);
    }
    /* Removing from the middle of the heap must not disturb the order. */
    for (int i = 5; i < 40; i += 7)
        mux_timer_stop(&timers[i]);
    assert_int_equal(mux_run(loop, MUX_RUN_DEFAULT), 0);
    int expect = 0;
    for (int i = 0; i < log.count; i++, expect++) {
        if (expect % 7 == 5)
            expect++;
        assert_int_equal(log.order[i], expect);
    }
    assert_int_equal(log.count, 40 - 5);
    mux_loop_free(loop);
}

static void stop_self_at_three(mux_loop_t *loop, mux_timer_t *timer,
                               void *arg) {
    (void)loop;
    int *count = arg;
    if (++*count == 3)
        mux_timer_stop(timer);
}

static void test_timer_repeat_stop_inside(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    int count = 0;
    mux_timer_t timer;
    start_timer(loop, &timer, 0, 1, stop_self_at_three, &count);
    /* DEFAULT returns once the stopped timer is gone. */
    assert_int_equal(mux_run(loop, MUX_RUN_DEFAULT), 0);
    assert_int_equal(count, 3);
    assert_false(mux_timer_active(&timer));
    mux_loop_free(loop);
}

/* A repeating timer fires once per turn at most, then waits again; it is
 * active all along, also inside its callback. */
static void repeat_sees_itself_active(mux_loop_t *loop, mux_timer_t *timer,
                                      void *arg) {
    (void)loop;
    assert_true(mux_timer_active(timer));
    ++*(int *)arg;
}

static void test_timer_repeat_per_turn(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    int count = 0;
    mux_timer_t timer;
    start_timer(loop, &timer, 0, 1, repeat_sees_itself_active, &count);
    for (int turn = 1; turn <= 5; turn++) {
        assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 1);
        assert_int_equal(count, turn);
    }
    mux_timer_stop(&timer);
    mux_timer_stop(&timer); /* idempotent */
    assert_int_equal(mux_run(loop, MUX_RUN_DEFAULT), 0);
    assert_int_equal(count, 5);
    mux_loop_free(loop);
}

typedef struct {
    mux_timer_t victims[3];
    int ran;
} stopper_t;

static void stop_others(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    (void)loop;
    (void)timer;
    stopper_t *s = arg;
    s->ran++;
    for (int i = 0; i < 3; i++)
        mux_timer_stop(&s->victims[i]);
}

/* Stopped by another timer's callback: a due one in the same turn, a far
 * one, a repeating one. */
static void test_timer_stop_from_other(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    stopper_t s = {.ran = 0};
    int due = 0, far = 0, repeating = 0;
    mux_timer_t stopper;
    start_timer(loop, &stopper, 0, 0, stop_others, &s);
    start_timer(loop, &s.victims[0], 0, 0, count_timer, &due);
    start_timer(loop, &s.victims[1], 60000, 0, count_timer, &far);
    start_timer(loop, &s.victims[2], 60000, 1, count_timer, &repeating);
    /* Returns at once: nothing is left after the stopper ran. */
    assert_int_equal(mux_run(loop, MUX_RUN_DEFAULT), 0);
    assert_int_equal(s.ran, 1);
    assert_int_equal(due, 0);
    assert_int_equal(far, 0);
    assert_int_equal(repeating, 0);
    mux_loop_free(loop);
}

static void stop_timer_io(mux_loop_t *loop, int fd, int events, void *arg) {
    (void)events;
    mux_timer_stop(arg);
    mux_unwatch(loop, fd);
}

/* A repeating timer stopped from an fd callback. */
static void test_timer_stop_from_io(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    int count = 0;
    mux_timer_t timer;
    start_timer(loop, &timer, 0, 1, count_timer, &count);
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 1);
    assert_int_equal(count, 1);
    assert_int_equal(mux_watch(loop, fds[1], MUX_WRITE, stop_timer_io, &timer),
                     0);
    assert_int_equal(mux_run(loop, MUX_RUN_DEFAULT), 0);
    assert_false(mux_timer_active(&timer));
    assert_true(count >= 1);
    mux_loop_free(loop);
    close(fds[0]);
    close(fds[1]);
}

/* Milliseconds that mux_prepare() asks the host to wait, -1 for none. */
static int64_t prepared_wait(mux_loop_t *loop) {
    fd_set rd, wr;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    int maxfd = -1;
    struct timeval tv = {-1, -1};
    if (mux_prepare(loop, &rd, &wr, &maxfd, &tv) == 0) {
        assert_int_equal(tv.tv_sec, -1); /* left alone */
        assert_int_equal(tv.tv_usec, -1);
        return -1;
    }
    assert_true(tv.tv_sec >= 0);
    assert_true(tv.tv_usec >= 0 && tv.tv_usec < 1000000);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Starting an active timer re-arms it: one entry, the new deadline. */
static void test_timer_restart_outside(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    int count = 0;
    mux_timer_t timer;
    start_timer(loop, &timer, 60000, 0, count_timer, &count);
    assert_true(prepared_wait(loop) > 1000);
    assert_int_equal(mux_timer_start(&timer, 0, 0), 0);
    assert_int_equal(prepared_wait(loop), 0);
    assert_int_equal(mux_run(loop, MUX_RUN_DEFAULT), 0);
    assert_int_equal(count, 1); /* once: re-arming added no second entry */
    /* Re-armed to later: the wait grows again. */
    assert_int_equal(mux_timer_start(&timer, 0, 0), 0);
    assert_int_equal(mux_timer_start(&timer, 60000, 0), 0);
    assert_true(prepared_wait(loop) > 1000);
    assert_int_equal(mux_run(loop, MUX_RUN_NOWAIT), 0);
    assert_int_equal(count, 1);
    mux_timer_stop(&timer);
    assert_int_equal(prepared_wait(loop), -1);
    mux_loop_free(loop);
}

static void restart_twice(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    (void)loop;
    int *count = arg;
    assert_false(mux_timer_active(timer)); /* a one-shot, already off */
    if (++*count < 3)
        assert_int_equal(mux_timer_start(timer, 0, 0), 0);
}

/* From inside its callback, a one-shot timer can start itself again. */
static void test_timer_restart_inside_one_shot(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    int count = 0;
    mux_timer_t timer;
    start_timer(loop, &timer, 0, 0, restart_twice, &count);
    assert_int_equal(mux_run(loop, MUX_RUN_DEFAULT), 0);
    assert_int_equal(count, 3);
    mux_loop_free(loop);
}

static void restart_repeating(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    (void)loop;
    int *count = arg;
    ++*count;
    if (*count == 1) /* now, instead of the 60 s interval */
        assert_int_equal(mux_timer_start(timer, 0, 60000), 0);
    else
        mux_timer_stop(timer);
}

static void test_timer_restart_inside_repeating(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    int count = 0;
    mux_timer_t timer;
    start_timer(loop, &timer, 0, 60000, restart_repeating, &count);
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 1);
    assert_int_equal(count, 1);
    assert_int_equal(prepared_wait(loop), 0);
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 1);
    assert_int_equal(count, 2);
    assert_int_equal(prepared_wait(loop), -1); /* stopped */
    mux_loop_free(loop);
}

static void restart_forever(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    (void)loop;
    ++*(int *)arg;
    assert_int_equal(mux_timer_start(timer, 0, 0), 0);
}

/* A timer that re-arms itself with no delay waits for the next turn: one
 * turn cannot spin on it. */
static void test_timer_zero_delay_no_spin(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    int count = 0;
    mux_timer_t timer;
    start_timer(loop, &timer, 0, 0, restart_forever, &count);
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 1);
    assert_int_equal(mux_run(loop, MUX_RUN_NOWAIT), 1);
    assert_int_equal(count, 2);
    mux_timer_stop(&timer);
    assert_int_equal(mux_run(loop, MUX_RUN_DEFAULT), 0);
    assert_int_equal(count, 2);
    mux_loop_free(loop);
}

typedef struct {
    mux_timer_t inner_timer;
    int outer, inner;
} arm_t;

static void arm_another(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    (void)timer;
    arm_t *a = arg;
    a->outer++;
    start_timer(loop, &a->inner_timer, 0, 0, count_timer, &a->inner);
}

/* A timer armed by a timer callback runs in the next turn. */
static void test_timer_armed_in_callback(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    arm_t a = {.outer = 0, .inner = 0};
    mux_timer_t outer;
    start_timer(loop, &outer, 0, 0, arm_another, &a);
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 1);
    assert_int_equal(a.outer, 1);
    assert_int_equal(a.inner, 0);
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 1);
    assert_int_equal(a.inner, 1);
    mux_loop_free(loop);
}

/* The owner frees the struct holding the timer from inside its callback:
 * the loop does not touch it afterwards (ASan and valgrind check). */
typedef struct {
    mux_timer_t timer;
    int *freed;
} owner_t;

static void free_owner(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    (void)loop;
    (void)timer;
    owner_t *owner = arg;
    ++*owner->freed;
    mux_timer_stop(&owner->timer); /* a repeating one: stopped, then freed */
    free(owner);
}

static void test_timer_owner_freed_in_callback(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    int freed = 0;
    for (int repeat = 0; repeat <= 1; repeat++) {
        owner_t *owner = malloc(sizeof(*owner));
        assert_non_null(owner);
        owner->freed = &freed;
        start_timer(loop, &owner->timer, 0, (uint64_t)repeat, free_owner,
                    owner);
    }
    assert_int_equal(mux_run(loop, MUX_RUN_DEFAULT), 0);
    assert_int_equal(freed, 2);
    mux_loop_free(loop);
}

/* A zeroed or initialised timer that never ran is stopped: stop and
 * active are safe on it. Timers still armed when the loop is freed are
 * disarmed, not freed: they are their owners' memory. */
static void test_timer_idle_states_and_free(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    mux_timer_t zeroed;
    memset(&zeroed, 0, sizeof(zeroed));
    mux_timer_stop(&zeroed);
    assert_false(mux_timer_active(&zeroed));
    int count = 0;
    mux_timer_t timers[20];
    for (int i = 0; i < 20; i++) {
        mux_timer_init(&timers[i], loop, count_timer, &count);
        assert_false(mux_timer_active(&timers[i]));
    }
    assert_int_equal(mux_run(loop, MUX_RUN_DEFAULT), 0); /* none armed */
    for (int i = 0; i < 20; i++)
        assert_int_equal(mux_timer_start(&timers[i], 60000, 1000), 0);
    mux_loop_free(loop);
    for (int i = 0; i < 20; i++)
        assert_false(mux_timer_active(&timers[i]));
    mux_loop_free(NULL);
    assert_int_equal(count, 0);
}

/* A timer never fires before its full delay, whatever the fraction of a
 * millisecond the clock was at when it was armed. */
static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void note_ns(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    (void)loop, (void)timer;
    *(uint64_t *)arg = now_ns();
}

static void test_timer_never_early(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    for (int i = 0; i < 40; i++) {
        uint64_t fired = 0;
        mux_timer_t timer;
        uint64_t armed = now_ns();
        start_timer(loop, &timer, 2, 0, note_ns, &fired);
        assert_int_equal(mux_run(loop, MUX_RUN_DEFAULT), 0);
        assert_true(fired - armed >= 2000000u);
    }
    mux_loop_free(loop);
}

/* Runs NOWAIT turns on the fake clock, `step_ns` apart, until no timer is
 * left (bounded). */
static void run_fake(mux_loop_t *loop, uint64_t step_ns, int turns) {
    for (int i = 0; i < turns; i++) {
        fake_clock_ns += step_ns;
        assert_true(mux_run(loop, MUX_RUN_NOWAIT) >= 0);
    }
}

/* Many timers: the heap grows, and starting and stopping them in any
 * order keeps deadline order, each firing in the first turn at or after
 * its deadline. The clock is the test's (it once read the real one, and
 * a test preempted between its own clock read and the timer's saw a
 * timer "out of order" on a loaded machine). */
typedef struct {
    uint64_t deadline[500];
    uint64_t fired[500];
    int order[500];
    int count;
} deadline_log_t;

static deadline_log_t dlog;

static void note_deadline(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    (void)loop, (void)timer;
    int i = (int)(intptr_t)arg;
    dlog.fired[i] = fake_clock_ns;
    dlog.order[dlog.count++] = i;
}

static void test_timers_many_in_deadline_order(void **state) {
    (void)state;
    enum { N = 500 };
    static mux_timer_t timers[N];
    memset(&dlog, 0, sizeof(dlog));
    fake_clock_start(1000000000000u + 300000u); /* 0.3 ms into a ms */
    mux_loop_t *loop = new_loop();
    for (int i = 0; i < N; i++) {
        /* Delays 0..9 ms, shuffled by a multiplicative step, armed 7 µs
         * apart. */
        uint64_t delay = (uint64_t)((i * 7) % 10);
        dlog.deadline[i] = fake_clock_ns + delay * 1000000u;
        start_timer(loop, &timers[i], delay, 0, note_deadline,
                    (void *)(intptr_t)i);
        fake_clock_ns += 7000u;
    }
    uint64_t armed = fake_clock_ns;
    for (int i = 0; i < N; i += 3)
        mux_timer_stop(&timers[i]);
    run_fake(loop, 100000u, 200); /* 100 µs turns, 20 ms */
    uint64_t last = 0;
    for (int k = 0; k < dlog.count; k++) {
        int i = dlog.order[k];
        assert_true(i % 3 != 0);
        assert_true(dlog.deadline[i] >= last);
        last = dlog.deadline[i];
        assert_true(dlog.fired[i] >= dlog.deadline[i]);
        uint64_t due = dlog.deadline[i] > armed ? dlog.deadline[i] : armed;
        assert_true(dlog.fired[i] - due <= 100000u); /* the first turn */
    }
    assert_int_equal(dlog.count, N - (N + 2) / 3);
    mux_loop_free(loop);
    fake_clock_stop();
}

/* A timer counts its delay from the clock as it is, not rounded to the
 * millisecond: 1 ms armed 0.3 ms into a millisecond fires 1.3 ms in,
 * never before; and the loop's wait for it is that, in microseconds. */
static void test_timer_not_rounded_to_ms(void **state) {
    (void)state;
    uint64_t start = 1000000000000u + 300000u;
    fake_clock_start(start);
    mux_loop_t *loop = new_loop();
    int count = 0;
    mux_timer_t timer;
    start_timer(loop, &timer, 1, 0, count_timer, &count);
    fd_set rd, wr;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    int maxfd = -1;
    struct timeval tv;
    assert_int_equal(mux_prepare(loop, &rd, &wr, &maxfd, &tv), 1);
    assert_int_equal(tv.tv_sec, 0);
    assert_int_equal(tv.tv_usec, 1000);
    fake_clock_ns = start + 999999u;
    assert_int_equal(mux_run(loop, MUX_RUN_NOWAIT), 0);
    assert_int_equal(count, 0); /* never early */
    fake_clock_ns = start + 1000000u;
    assert_int_equal(mux_run(loop, MUX_RUN_NOWAIT), 1);
    assert_int_equal(count, 1);
    mux_loop_free(loop);
    fake_clock_stop();
}

/* ------------------------------------------------------------------ */
/* Signals                                                             */
/* ------------------------------------------------------------------ */

typedef struct {
    int calls;
    int signo;
    void *arg;
} signal_record_t;

static void record_signal(mux_loop_t *loop, int signo, void *arg) {
    (void)loop;
    signal_record_t *rec = arg;
    rec->calls++;
    rec->signo = signo;
    rec->arg = arg;
}

static void test_signal_delivered(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    signal_record_t rec = {0, 0, NULL};
    assert_int_equal(mux_signal(loop, SIGUSR1, record_signal, &rec), 0);
    assert_int_equal(raise(SIGUSR1), 0);
    assert_int_equal(rec.calls, 0); /* not from the handler */
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 1);
    assert_int_equal(rec.calls, 1);
    assert_int_equal(rec.signo, SIGUSR1);
    assert_ptr_equal(rec.arg, &rec);
    /* Two before the loop looks: two calls. */
    assert_int_equal(raise(SIGUSR1), 0);
    assert_int_equal(raise(SIGUSR1), 0);
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 1);
    assert_int_equal(rec.calls, 3);
    assert_int_equal(mux_run(loop, MUX_RUN_NOWAIT), 0);
    assert_int_equal(mux_signal(loop, SIGUSR1, NULL, NULL), 0);
    /* The signal was the only thing watched. */
    assert_int_equal(mux_run(loop, MUX_RUN_DEFAULT), 0);
    mux_loop_free(loop);
}

static volatile sig_atomic_t own_handler_calls;

static void own_handler(int signo) {
    (void)signo;
    own_handler_calls++;
}

static void (*current_handler(int signo))(int) {
    struct sigaction sa;
    assert_int_equal(sigaction(signo, NULL, &sa), 0);
    return sa.sa_handler;
}

static void test_signal_restores_disposition(void **state) {
    (void)state;
    struct sigaction own, old;
    memset(&own, 0, sizeof(own));
    own.sa_handler = own_handler;
    sigemptyset(&own.sa_mask);
    assert_int_equal(sigaction(SIGUSR2, &own, &old), 0);
    own_handler_calls = 0;

    mux_loop_t *loop = new_loop();
    signal_record_t rec = {0, 0, NULL};
    assert_int_equal(mux_signal(loop, SIGUSR2, record_signal, &rec), 0);
    assert_true(current_handler(SIGUSR2) != own_handler);
    assert_int_equal(raise(SIGUSR2), 0);
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 1);
    assert_int_equal(rec.calls, 1);
    assert_int_equal(own_handler_calls, 0);

    /* Removing the watcher gives the signal back to its old handler. */
    assert_int_equal(mux_signal(loop, SIGUSR2, NULL, NULL), 0);
    assert_true(current_handler(SIGUSR2) == own_handler);
    assert_int_equal(raise(SIGUSR2), 0);
    assert_int_equal(own_handler_calls, 1);
    assert_int_equal(mux_run(loop, MUX_RUN_DEFAULT), 0);
    assert_int_equal(rec.calls, 1);
    /* Removing it again is harmless. */
    assert_int_equal(mux_signal(loop, SIGUSR2, NULL, NULL), 0);
    assert_true(current_handler(SIGUSR2) == own_handler);

    /* So does freeing the loop. */
    assert_int_equal(mux_signal(loop, SIGUSR2, record_signal, &rec), 0);
    assert_true(current_handler(SIGUSR2) != own_handler);
    mux_loop_free(loop);
    assert_true(current_handler(SIGUSR2) == own_handler);

    assert_int_equal(sigaction(SIGUSR2, &old, NULL), 0);
}

static void test_signal_busy(void **state) {
    (void)state;
    mux_loop_t *first = new_loop(), *second = new_loop();
    signal_record_t rec1 = {0, 0, NULL}, rec2 = {0, 0, NULL};
    assert_int_equal(mux_signal(first, SIGUSR1, record_signal, &rec1), 0);
    assert_int_equal(mux_signal(second, SIGUSR1, record_signal, &rec2), -EBUSY);
    /* The failure left the second loop with nothing to watch. */
    assert_int_equal(mux_run(second, MUX_RUN_DEFAULT), 0);
    /* The owner may replace its own callback. */
    assert_int_equal(mux_signal(first, SIGUSR1, record_signal, &rec2), 0);
    assert_int_equal(raise(SIGUSR1), 0);
    assert_int_equal(mux_run(first, MUX_RUN_ONCE), 1);
    assert_int_equal(rec1.calls, 0);
    assert_int_equal(rec2.calls, 1);
    /* Released by the first loop, the signal is free to take. */
    assert_int_equal(mux_signal(first, SIGUSR1, NULL, NULL), 0);
    assert_int_equal(mux_signal(second, SIGUSR1, record_signal, &rec1), 0);
    assert_int_equal(raise(SIGUSR1), 0);
    assert_int_equal(mux_run(second, MUX_RUN_ONCE), 1);
    assert_int_equal(rec1.calls, 1);
    mux_loop_free(first);
    mux_loop_free(second);
    assert_true(current_handler(SIGUSR1) == SIG_DFL);
}

static void test_signal_invalid(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    signal_record_t rec = {0, 0, NULL};
    assert_int_equal(mux_signal(loop, 0, record_signal, &rec), -EINVAL);
    assert_int_equal(mux_signal(loop, -1, record_signal, &rec), -EINVAL);
    assert_int_equal(mux_signal(loop, SIGKILL, record_signal, &rec), -EINVAL);
    assert_int_equal(mux_signal(loop, SIGSTOP, record_signal, &rec), -EINVAL);
    assert_int_equal(mux_signal(loop, 100000, record_signal, &rec), -EINVAL);
    assert_int_equal(mux_run(loop, MUX_RUN_DEFAULT), 0);
    mux_loop_free(loop);
}

/* ------------------------------------------------------------------ */
/* Run modes                                                           */
/* ------------------------------------------------------------------ */

static void test_run_default_empty(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    assert_int_equal(mux_run(loop, MUX_RUN_DEFAULT), 0);
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 0);
    assert_int_equal(mux_run(loop, MUX_RUN_NOWAIT), 0);
    mux_loop_free(loop);
}

static void stop_at_three(mux_loop_t *loop, int fd, int events, void *arg) {
    (void)fd;
    (void)events;
    if (++*(int *)arg % 3 == 0)
        mux_stop(loop);
}

static void test_run_default_until_stop(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    int count = 0;
    /* Always writable: only mux_stop() ends the run. */
    assert_int_equal(mux_watch(loop, fds[1], MUX_WRITE, stop_at_three, &count),
                     0);
    assert_int_equal(mux_run(loop, MUX_RUN_DEFAULT), 0);
    assert_int_equal(count, 3);
    /* A stop ends one run, not the next. */
    assert_int_equal(mux_run(loop, MUX_RUN_DEFAULT), 0);
    assert_int_equal(count, 6);
    assert_int_equal(mux_unwatch(loop, fds[1]), 0);
    mux_loop_free(loop);
    close(fds[0]);
    close(fds[1]);
}

static void test_run_once(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    int sv[2];
    new_pair(sv);
    io_record_t rec = {0};
    int fired = 0;
    assert_int_equal(mux_watch(loop, sv[0], MUX_READ, drain_io, &rec), 0);
    /* Waits until the timer is due: one callback. */
    mux_timer_t timer;
    start_timer(loop, &timer, 5, 0, count_timer, &fired);
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 1);
    assert_int_equal(fired, 1);
    assert_int_equal(rec.calls, 0);
    /* A ready fd and a due timer in one turn: two callbacks. */
    assert_int_equal(mux_timer_start(&timer, 0, 0), 0);
    assert_int_equal(write(sv[1], "x", 1), 1);
    assert_int_equal(mux_run(loop, MUX_RUN_ONCE), 2);
    assert_int_equal(fired, 2);
    assert_int_equal(rec.calls, 1);
    assert_int_equal(mux_unwatch(loop, sv[0]), 0);
    mux_loop_free(loop);
    close_pair(sv);
}

static void test_run_nowait(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    int sv[2];
    new_pair(sv);
    io_record_t rec = {0};
    int fired = 0;
    assert_int_equal(mux_watch(loop, sv[0], MUX_READ, drain_io, &rec), 0);
    mux_timer_t timer;
    start_timer(loop, &timer, 60000, 0, count_timer, &fired);
    /* Nothing ready: returns 0 at once instead of waiting for the timer. */
    assert_int_equal(mux_run(loop, MUX_RUN_NOWAIT), 0);
    assert_int_equal(rec.calls, 0);
    assert_int_equal(fired, 0);
    assert_int_equal(write(sv[1], "x", 1), 1);
    assert_int_equal(mux_run(loop, MUX_RUN_NOWAIT), 1);
    assert_int_equal(rec.calls, 1);
    assert_int_equal(mux_unwatch(loop, sv[0]), 0);
    mux_loop_free(loop); /* also releases the pending timer */
    close_pair(sv);
}

/* ------------------------------------------------------------------ */
/* A host's own select() drives the loop                               */
/* ------------------------------------------------------------------ */

static void test_prepare_process_mixed_fds(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    int host[2], rd_pair[2], wr_pair[2];
    assert_int_equal(pipe(host), 0);
    new_pair(rd_pair);
    new_pair(wr_pair);
    io_record_t rd_rec = {0}, wr_rec = {0};
    assert_int_equal(mux_watch(loop, rd_pair[0], MUX_READ, drain_io, &rd_rec),
                     0);
    assert_int_equal(mux_watch(loop, wr_pair[0], MUX_WRITE, record_io, &wr_rec),
                     0);
    assert_int_equal(write(host[1], "h", 1), 1);
    assert_int_equal(write(rd_pair[1], "x", 1), 1);

    fd_set rd, wr;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    FD_SET(host[0], &rd);
    int maxfd = host[0];
    struct timeval tv = {7, 7};
    /* No timer: 0, and the host's timeout is left alone. */
    assert_int_equal(mux_prepare(loop, &rd, &wr, &maxfd, &tv), 0);
    assert_int_equal(tv.tv_sec, 7);
    assert_int_equal(tv.tv_usec, 7);
    assert_true(FD_ISSET(host[0], &rd)); /* the host's own stay */
    assert_true(FD_ISSET(rd_pair[0], &rd));
    assert_false(FD_ISSET(rd_pair[0], &wr));
    assert_true(FD_ISSET(wr_pair[0], &wr));
    assert_false(FD_ISSET(wr_pair[0], &rd));
    assert_false(FD_ISSET(rd_pair[1], &rd));
    int highest = host[0];
    if (rd_pair[0] > highest)
        highest = rd_pair[0];
    if (wr_pair[0] > highest)
        highest = wr_pair[0];
    assert_int_equal(maxfd, highest);

    struct timeval zero = {0, 0};
    assert_int_equal(select(maxfd + 1, &rd, &wr, NULL, &zero), 3);
    /* Only the loop's fds run callbacks; the host's fd is not touched. */
    assert_int_equal(mux_process(loop, &rd, &wr), 2);
    assert_int_equal(rd_rec.calls, 1);
    assert_int_equal(rd_rec.events, MUX_READ);
    assert_int_equal(wr_rec.calls, 1);
    assert_int_equal(wr_rec.events, MUX_WRITE);
    char byte;
    assert_int_equal(read(host[0], &byte, 1), 1);
    assert_int_equal(byte, 'h');

    /* A host maxfd above the loop's is kept. */
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    maxfd = FD_SETSIZE - 1;
    assert_int_equal(mux_prepare(loop, &rd, &wr, &maxfd, &tv), 0);
    assert_int_equal(maxfd, FD_SETSIZE - 1);
    /* Nothing ready: NULL sets run no fd callback. */
    assert_int_equal(mux_process(loop, NULL, NULL), 0);
    assert_int_equal(wr_rec.calls, 1);

    mux_unwatch(loop, rd_pair[0]);
    mux_unwatch(loop, wr_pair[0]);
    mux_loop_free(loop);
    close(host[0]);
    close(host[1]);
    close_pair(rd_pair);
    close_pair(wr_pair);
}

/* The timeout comes from the nearest timer. */
static void test_prepare_timeout(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    int count = 0;
    mux_timer_t near, far;
    start_timer(loop, &far, 60000, 0, count_timer, &count);
    start_timer(loop, &near, 30000, 0, count_timer, &count);
    /* The wait is what is left of the delay, never more (the clock is read
     * in nanoseconds, the wait rounded up to the microsecond). */
    int64_t wait = prepared_wait(loop);
    assert_true(wait > 0 && wait <= 30000);
    mux_timer_stop(&near);
    wait = prepared_wait(loop);
    assert_true(wait > 30000 && wait <= 60000);
    /* A due timer: wait 0, and mux_process() runs it without fds. */
    assert_int_equal(mux_timer_start(&near, 0, 0), 0);
    assert_int_equal(prepared_wait(loop), 0);
    assert_int_equal(mux_process(loop, NULL, NULL), 1);
    assert_int_equal(count, 1);
    mux_timer_stop(&far);
    assert_int_equal(prepared_wait(loop), -1);
    mux_loop_free(loop);
}

typedef struct {
    int timer_fired;
    io_record_t io;
} host_state_t;

static void host_timer(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    (void)loop;
    (void)timer;
    ((host_state_t *)arg)->timer_fired++;
}

static void host_io(mux_loop_t *loop, int fd, int events, void *arg) {
    drain_io(loop, fd, events, &((host_state_t *)arg)->io);
}

/* A whole host loop: select() wakes for the loop's timer with no fd ready,
 * then for the loop's fd, never for the host's idle one. */
static void test_host_select_loop(void **state) {
    (void)state;
    mux_loop_t *loop = new_loop();
    int sv[2], host[2];
    new_pair(sv);
    assert_int_equal(pipe(host), 0);
    host_state_t hs = {0, {0}};
    assert_int_equal(mux_watch(loop, sv[0], MUX_READ, host_io, &hs), 0);
    mux_timer_t timer;
    start_timer(loop, &timer, 5, 0, host_timer, &hs);
    fd_set rd, wr;
    int maxfd;
    for (int turns = 0; hs.timer_fired == 0; turns++) {
        assert_true(turns < 1000);
        FD_ZERO(&rd);
        FD_ZERO(&wr);
        FD_SET(host[0], &rd);
        maxfd = host[0];
        struct timeval tv;
        assert_int_equal(mux_prepare(loop, &rd, &wr, &maxfd, &tv), 1);
        assert_int_equal(select(maxfd + 1, &rd, &wr, NULL, &tv), 0);
        mux_process(loop, NULL, NULL);
    }
    assert_int_equal(hs.timer_fired, 1);
    assert_int_equal(hs.io.calls, 0);

    /* No timer left: no timeout, select() waits for an fd. */
    assert_int_equal(write(sv[1], "x", 1), 1);
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    FD_SET(host[0], &rd);
    maxfd = host[0];
    struct timeval unset = {3, 3};
    assert_int_equal(mux_prepare(loop, &rd, &wr, &maxfd, &unset), 0);
    assert_int_equal(select(maxfd + 1, &rd, &wr, NULL, NULL), 1);
    assert_true(FD_ISSET(sv[0], &rd));
    assert_int_equal(mux_process(loop, &rd, &wr), 1);
    assert_int_equal(hs.io.calls, 1);
    assert_int_equal(hs.timer_fired, 1);
    mux_unwatch(loop, sv[0]);
    mux_loop_free(loop);
    close_pair(sv);
    close(host[0]);
    close(host[1]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_watch_read),
        cmocka_unit_test(test_watch_write),
        cmocka_unit_test(test_watch_events_zero),
        cmocka_unit_test(test_watch_errors),
        cmocka_unit_test(test_watch_replace),
        cmocka_unit_test(test_unwatch),
        cmocka_unit_test(test_unwatch_self),
        cmocka_unit_test(test_dispatch_in_fd_order),
        cmocka_unit_test(test_unwatch_other_ready_fd),
        cmocka_unit_test(test_unwatch_other_ready_fd_with_writer),
        cmocka_unit_test(test_nested_turn_removes_a_ready_fd),
        cmocka_unit_test(test_fd_number_reused_in_turn),
        cmocka_unit_test(test_events_changed_in_turn),
        cmocka_unit_test(test_closed_watched_fd),
        cmocka_unit_test(test_timers_deadline_order),
        cmocka_unit_test(test_timers_ties_in_arming_order),
        cmocka_unit_test(test_timer_repeat_stop_inside),
        cmocka_unit_test(test_timer_repeat_per_turn),
        cmocka_unit_test(test_timer_stop_from_other),
        cmocka_unit_test(test_timer_stop_from_io),
        cmocka_unit_test(test_timer_restart_outside),
        cmocka_unit_test(test_timer_restart_inside_one_shot),
        cmocka_unit_test(test_timer_restart_inside_repeating),
        cmocka_unit_test(test_timer_zero_delay_no_spin),
        cmocka_unit_test(test_timer_armed_in_callback),
        cmocka_unit_test(test_timer_owner_freed_in_callback),
        cmocka_unit_test(test_timer_idle_states_and_free),
        cmocka_unit_test_teardown(test_timers_many_in_deadline_order,
                                  fake_clock_teardown),
        cmocka_unit_test(test_timer_never_early),
        cmocka_unit_test_teardown(test_timer_not_rounded_to_ms,
                                  fake_clock_teardown),
        cmocka_unit_test(test_signal_delivered),
        cmocka_unit_test(test_signal_restores_disposition),
        cmocka_unit_test(test_signal_busy),
        cmocka_unit_test(test_signal_invalid),
        cmocka_unit_test(test_run_default_empty),
        cmocka_unit_test(test_run_default_until_stop),
        cmocka_unit_test(test_run_once),
        cmocka_unit_test(test_run_nowait),
        cmocka_unit_test(test_prepare_process_mixed_fds),
        cmocka_unit_test(test_prepare_timeout),
        cmocka_unit_test(test_host_select_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
