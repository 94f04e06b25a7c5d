/*
 * workers.c -- muxd --workers N.
 *
 * Every socket muxd binds belongs to exactly one worker, which accepts from
 * it from the moment it is bound: the parent never holds one. Worker 1
 * binds the addresses as given (port 0 picks a port), with SO_REUSEPORT,
 * and reports the addresses it bound through a pipe; workers 2..N bind
 * exactly those, also with SO_REUSEPORT, and the kernel spreads new
 * connections and datagrams over the N sockets of each address. A worker
 * that dies takes its sockets with it: the clients waiting in its backlog
 * are reset, new ones go to the others until its replacement, forked from
 * the running parent, has bound the same addresses. Inherited sockets
 * (--fd, socket activation) are one socket shared by all workers instead:
 * its one backlog is served by whichever worker accepts first; the parent
 * keeps its copy, for the replacements, until it stops.
 *
 * A stopped worker (SIGSTOP) keeps its sockets in the group, and the
 * kernel keeps handing it clients that nobody answers: waitpid() reports
 * the stop, and after STOPPED_GRACE_MS the worker is killed and replaced.
 *
 * The parent blocks its signals until its own loop watches them, so that
 * a SIGTERM sent while workers start is handled once they run; a worker
 * gets SIGTERM from the parent (it ignores the SIGINT of a terminal's ^C,
 * which the parent turns into a SIGTERM) and, on Linux, when the parent
 * dies.
 */
#define _POSIX_C_SOURCE 200809L

#include "workers.h"
#include "log.h"
#include "ready.h"
#include "serve.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

/* A worker that dies is restarted after a back-off: at once, and again at
 * once if it had run STABLE_MS; after a quicker death the delay doubles
 * from FIRST_BACKOFF_MS up to MAX_BACKOFF_MS. */
#define FIRST_BACKOFF_MS 100
#define MAX_BACKOFF_MS 5000
#define STABLE_MS 10000
/* A worker stopped (SIGSTOP, SIGTSTP) this long is killed and replaced. */
#define STOPPED_GRACE_MS 3000
/* After the first stop signal, workers get --shutdown-timeout and this
 * much more (the lingering close of their last clients) to exit. */
#define STOP_GRACE_MS 3000

typedef struct pool pool_t;

/* Built with AddressSanitizer (and so LeakSanitizer)? */
#if defined(__SANITIZE_ADDRESS__)
#define MUXD_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MUXD_SANITIZED 1
#endif
#endif
#ifndef MUXD_SANITIZED
#define MUXD_SANITIZED 0
#endif

/* One worker's slot: the process in it now, and its restarts. */
typedef struct {
    pool_t *pool;
    unsigned index;   /* 1-based */
    pid_t pid;        /* 0 while none runs */
    pid_t replaced;   /* the pid a replacement stands in for */
    int report;       /* a replacement's report pipe until it ends; -1 */
    char tail[2];     /* the report's last two bytes: "\n\n" = complete */
    uint64_t started; /* mux_now() at its start (the loop's, for the first) */
    uint64_t backoff_ms;    /* the delay before its next restart */
    bool stopped;           /* waitpid() reported it stopped, not continued */
    mux_timer_t restart;    /* a restart waiting for its back-off */
    mux_timer_t stop_grace; /* how long it may stay stopped */
} worker_t;

struct pool {
    muxd_options_t *opts;
    muxd_ready_t *ready; /* the parent announces for every worker */
    worker_t *workers;
    unsigned alive;
    pid_t parent;
    sigset_t block;    /* the signals the parent's loop watches */
    sigset_t old_mask; /* restored in workers, and once the loop runs */
    mux_loop_t *loop;
    int signals;               /* stop signals received */
    bool failed;               /* a worker failed or died unasked: exit 1 */
    mux_timer_t stop_deadline; /* workers still running this long after
                                  the first stop signal are killed */
    char *addresses;           /* worker 1's report: the ready lines */
};

/* ------------------------------------------------------------------ */
/* In a worker                                                         */
/* ------------------------------------------------------------------ */

/* A replacement is forked from the running parent: it lets go of the
 * parent's loop (its signals and self-pipe) and the other report pipes. */
static void forget_parent(pool_t *pool) {
    for (unsigned i = 0; i < pool->opts->workers; i++)
        if (pool->workers[i].report >= 0)
            close(pool->workers[i].report);
    mux_loop_free(pool->loop);
    free(pool->workers);
    free(pool->addresses);
}

/* Runs in the child: becomes worker `index` (1-based); never returns. */
static _Noreturn void become_worker(pool_t *pool, unsigned index,
                                    int report[2]) {
    close(report[0]);
    muxd_log_forked();
    forget_parent(pool);
    sigprocmask(SIG_SETMASK, &pool->old_mask, NULL);
#ifdef __linux__
    /* A parent killed outright takes its workers along. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != pool->parent)
        _exit(1);
#endif
    muxd_options_t *o = pool->opts;
    o->server.reuseport = 1;
    muxd_log_init(&o->log, index);
    muxd_ready_t ready;
    muxd_ready_init_report(&ready, report[1]);
    int status = muxd_serve(o, &ready, index);
#if MUXD_SANITIZED
    /* LeakSanitizer's check at exit stops the process with ptrace; in a
     * worker under a sandbox's slow ptrace (gVisor) it was measured taking
     * more than 8 s in 2 of 40 stops under load, past the parent's
     * deadline. Workers skip it (the log flushed by hand); the same code
     * is leak-checked in every single-process test. */
    muxd_log_flush(100);
    _exit(status);
#else
    exit(status);
#endif
}

/* Forks worker `index` with its report pipe (signals blocked across the
 * fork: the child must not run the parent's handlers). Returns its pid
 * in the parent, or -errno (logged). */
static pid_t fork_worker(pool_t *pool, unsigned index, int fds[2]) {
    if (pipe(fds) < 0) {
        int err = -errno;
        muxd_log_error("cannot start worker %u: %s", index, mux_strerror(err));
        return err;
    }
    sigset_t saved;
    sigprocmask(SIG_BLOCK, &pool->block, &saved);
    pid_t pid = fork();
    if (pid == 0)
        become_worker(pool, index, fds);
    int err = pid < 0 ? -errno : 0;
    sigprocmask(SIG_SETMASK, &saved, NULL);
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        muxd_log_error("cannot start worker %u: %s", index, mux_strerror(err));
        return err;
    }
    pool->workers[index - 1].pid = pid;
    pool->alive++;
    return pid;
}

/* ------------------------------------------------------------------ */
/* Starting                                                            */
/* ------------------------------------------------------------------ */

/* How a worker ended, in words: "exited with status 1". */
static void describe_exit(int status, char *out, size_t size) {
    if (WIFEXITED(status))
        snprintf(out, size, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, size, "was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(out, size, "ended (wait status %d)", status);
}

/*
 * Reads a worker's report to its end: the ready text, then an empty line
 * to say it is complete (EOF before it: the worker failed). Returns the
 * text in a string to free, or NULL.
 */
static char *read_report(int fd) {
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    while (buf) {
        if (len + 1 == cap) {
            char *more = realloc(buf, cap *= 2);
            if (!more)
                break;
            buf = more;
        }
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    if (buf && len >= 2 && buf[len - 1] == '\n' && buf[len - 2] == '\n') {
        buf[len - 1] = '\0';
        return buf;
    }
    free(buf);
    return NULL;
}

/* Waits for a worker that failed to start and says how it ended. */
static void reap_failed(pool_t *pool, unsigned index) {
    int status;
    pid_t pid = pool->workers[index - 1].pid;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    pool->workers[index - 1].pid = 0;
    pool->alive--;
    char how[96];
    describe_exit(status, how, sizeof(how));
    muxd_log_error("worker %u (pid %ld) failed to start: %s", index, (long)pid,
                   how);
}

/* Forks worker `index` and waits for its report (*report: free it). */
static int start_worker(pool_t *pool, unsigned index, char **report) {
    int fds[2];
    pid_t pid = fork_worker(pool, index, fds);
    if (pid < 0)
        return (int)pid;
    *report = read_report(fds[0]);
    close(fds[0]);
    if (!*report) {
        reap_failed(pool, index);
        return -ECHILD;
    }
    return 0;
}

/*
 * Makes the addresses worker 1 bound (the first lines of its report; the
 * rest are the inherited sockets) the ones the other workers bind.
 */
static int take_addresses(muxd_options_t *o, char *report) {
    size_t n = 0;
    for (char *p = report; *p; p = strchr(p, '\n') + 1)
        n++;
    size_t bound = n - (n < o->ninherited ? n : o->ninherited);
    if (bound > MAX_LISTEN) {
        muxd_log_error("too many listeners for --workers (%zu, at most %d)",
                       bound, MAX_LISTEN);
        return -E2BIG;
    }
    char *line = report;
    for (size_t i = 0; i < bound; i++) {
        char *end = strchr(line, '\n'), *space = strchr(line, ' ');
        *end = '\0';
        mux_addr_t *addr = &o->listen[i];
        if (!space || mux_addr_parse(space + 1, NULL, addr) < 0) {
            muxd_log_error("worker 1 reported an odd address: %s", line);
            return -EINVAL;
        }
        addr->transport = strncmp(line, "udp ", 4) == 0 ? MUX_UDP : MUX_TCP;
        o->listen_text[i] = line;
        line = end + 1;
    }
    o->nlisten = bound;
    o->port = NULL;
    return 0;
}

/* Starts every worker; on failure stops those already started. */
static int start_all(pool_t *pool) {
    muxd_options_t *o = pool->opts;
    char *report = NULL;
    int err = start_worker(pool, 1, &pool->addresses);
    if (err == 0 && (report = strdup(pool->addresses)) == NULL)
        err = -ENOMEM;
    if (err == 0)
        err = take_addresses(o, report);
    for (unsigned i = 2; err == 0 && i <= o->workers; i++) {
        char *other;
        if ((err = start_worker(pool, i, &other)) == 0)
            free(other);
    }
    free(report);
    return err;
}

/* ------------------------------------------------------------------ */
/* Running                                                             */
/* ------------------------------------------------------------------ */

static void signal_all(pool_t *pool, int signo) {
    for (unsigned i = 0; i < pool->opts->workers; i++)
        if (pool->workers[i].pid > 0)
            kill(pool->workers[i].pid, signo);
}

static bool restarts_pending(const pool_t *pool) {
    for (unsigned i = 0; i < pool->opts->workers; i++)
        if (mux_timer_active(&pool->workers[i].restart))
            return true;
    return false;
}

/* "1 of 2 workers left" */
static const char *plural(unsigned n) { return n == 1 ? "" : "s"; }

/* The delay before restarting `w`, which just died; doubles the next. */
static uint64_t next_backoff(worker_t *w) {
    if (mux_now(w->pool->loop) - w->started >= STABLE_MS)
        w->backoff_ms = 0;
    uint64_t delay = w->backoff_ms;
    w->backoff_ms = delay == 0                   ? FIRST_BACKOFF_MS
                    : delay * 2 > MAX_BACKOFF_MS ? MAX_BACKOFF_MS
                                                 : delay * 2;
    return delay;
}

/* Logs a death while running and schedules the replacement. With --user
 * the parent can no longer bind what root bound: no replacement. */
static void replace_worker(worker_t *w, pid_t pid, const char *how) {
    pool_t *pool = w->pool;
    unsigned n = pool->opts->workers;
    if (pool->opts->user) {
        muxd_log_error("worker %u (pid %ld) %s; %u of %u worker%s left; not "
                       "restarted (--user: the parent cannot bind any more)",
                       w->index, (long)pid, how, pool->alive, n, plural(n));
        return;
    }
    uint64_t delay = next_backoff(w);
    int err = mux_timer_start(&w->restart, delay, 0);
    if (err < 0) {
        muxd_log_error("worker %u (pid %ld) %s; cannot restart it: %s",
                       w->index, (long)pid, how, mux_strerror(err));
        return;
    }
    w->replaced = pid;
    char when[32] = "at once";
    if (delay > 0)
        snprintf(when, sizeof(when), "in %.3g s", (double)delay / 1e3);
    muxd_log_error("worker %u (pid %ld) %s; %u of %u worker%s left; "
                   "restarting it %s",
                   w->index, (long)pid, how, pool->alive, n, plural(n), when);
}

static void stop_reading_report(worker_t *w) {
    if (w->report < 0)
        return;
    mux_unwatch(w->pool->loop, w->report);
    close(w->report);
    w->report = -1;
}

/* A worker ended. Asked to stop: fine if it exited 0. Otherwise reported,
 * replaced, and the parent will exit 1. */
static void worker_ended(worker_t *w, int status) {
    pool_t *pool = w->pool;
    pid_t pid = w->pid;
    w->pid = 0;
    w->stopped = false;
    mux_timer_stop(&w->stop_grace);
    stop_reading_report(w);
    pool->alive--;
    if (pool->signals > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return;
    pool->failed = true;
    char how[96];
    describe_exit(status, how, sizeof(how));
    if (pool->signals == 0) {
        replace_worker(w, pid, how);
        return;
    }
    unsigned n = pool->opts->workers;
    muxd_log_error("worker %u (pid %ld) %s; %u of %u worker%s left", w->index,
                   (long)pid, how, pool->alive, n, plural(n));
}

/* SIGSTOP or the like: the kernel still gives the worker its share of new
 * clients, which wait unanswered; so it gets a grace period. */
static void worker_stopped(worker_t *w, int signo) {
    w->stopped = true;
    muxd_log_error("worker %u (pid %ld) was stopped by signal %d (%s): its "
                   "share of new clients waits; it is killed and replaced "
                   "unless it continues within %g s",
                   w->index, (long)w->pid, signo, strsignal(signo),
                   STOPPED_GRACE_MS / 1e3);
    if (w->pool->signals == 0)
        mux_timer_start(&w->stop_grace, STOPPED_GRACE_MS, 0);
}

static void worker_continued(worker_t *w) {
    if (!w->stopped)
        return;
    w->stopped = false;
    mux_timer_stop(&w->stop_grace);
    muxd_log_text(MUXD_LOG_NORMAL, "worker %u (pid %ld) continued", w->index,
                  (long)w->pid);
}

static worker_t *find_worker(pool_t *pool, pid_t pid) {
    for (unsigned i = 0; i < pool->opts->workers; i++)
        if (pool->workers[i].pid == pid)
            return &pool->workers[i];
    return NULL;
}

/* Every change waitpid() has to report: deaths, stops, continues. */
static void reap(pool_t *pool) {
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG | WUNTRACED | WCONTINUED)) > 0 ||
           (pid < 0 && errno == EINTR)) {
        worker_t *w = pid > 0 ? find_worker(pool, pid) : NULL;
        if (!w)
            continue;
        if (WIFSTOPPED(status))
            worker_stopped(w, WSTOPSIG(status));
        else if (WIFCONTINUED(status))
            worker_continued(w);
        else
            worker_ended(w, status);
    }
    if (pool->alive == 0 && !restarts_pending(pool) && pool->loop)
        mux_stop(pool->loop);
}

static void on_child(mux_loop_t *loop, int signo, void *arg) {
    (void)loop;
    (void)signo;
    reap(arg);
}

/* Still stopped after the grace period (a continue not yet reaped does
 * not count): killed; its death brings the replacement. */
static void on_stop_grace(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    worker_t *w = arg;
    (void)loop;
    (void)timer;
    reap(w->pool);
    if (!w->stopped || w->pid <= 0 || w->pool->signals > 0)
        return;
    muxd_log_error("worker %u (pid %ld) stayed stopped for %g s: killing it",
                   w->index, (long)w->pid, STOPPED_GRACE_MS / 1e3);
    kill(w->pid, SIGKILL);
}

/* A replacement's report: once complete ("\n\n" before EOF) it serves. */
static void on_report(mux_loop_t *loop, int fd, int events, void *arg) {
    worker_t *w = arg;
    (void)loop;
    (void)events;
    char buf[512];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
        return;
    if (n > 0) {
        w->tail[0] = n > 1 ? buf[n - 2] : w->tail[1];
        w->tail[1] = buf[n - 1];
        return;
    }
    stop_reading_report(w);
    if (n == 0 && w->tail[0] == '\n' && w->tail[1] == '\n')
        muxd_log_text(MUXD_LOG_NORMAL,
                      "worker %u restarted: pid %ld "
                      "(replaces pid %ld)",
                      w->index, (long)w->pid, (long)w->replaced);
    /* otherwise it failed: its death is reported when it is reaped */
}

/* The back-off ran out: fork the replacement, which binds the addresses
 * worker 1 reported; its report is read from the loop. */
static void on_restart(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    worker_t *w = arg;
    (void)timer;
    int fds[2];
    pid_t pid = fork_worker(w->pool, w->index, fds);
    w->started = mux_now(loop);
    if (pid < 0) { /* logged: try again later */
        mux_timer_start(&w->restart, next_backoff(w), 0);
        return;
    }
    w->tail[0] = w->tail[1] = '\0';
    w->report = fds[0];
    int err = mux_watch(loop, fds[0], MUX_READ, on_report, w);
    if (err < 0) {
        muxd_log_error("cannot watch worker %u's report: %s", w->index,
                       mux_strerror(err));
        close(fds[0]);
        w->report = -1;
    }
}

/* The first stop signal asks every worker to stop gracefully (a stopped
 * one is continued to hear it; nothing is restarted any more, and the
 * parent lets go of the inherited sockets); another one is passed on too,
 * and makes them stop at once. */
static void on_stop(mux_loop_t *loop, int signo, void *arg) {
    (void)loop;
    pool_t *pool = arg;
    muxd_options_t *o = pool->opts;
    if (pool->signals++ == 0) {
        muxd_log_text(MUXD_LOG_NORMAL, "%s: stopping %u worker%s",
                      muxd_stop_signal_name(signo), pool->alive,
                      plural(pool->alive));
        muxd_ready_stopping(pool->ready);
        for (unsigned i = 0; i < o->workers; i++) {
            mux_timer_stop(&pool->workers[i].restart);
            mux_timer_stop(&pool->workers[i].stop_grace);
        }
        for (size_t i = 0; i < o->ninherited; i++)
            close(o->inherited[i]);
        o->ninherited = 0;
        mux_timer_start(&pool->stop_deadline,
                        o->shutdown_timeout_ms + STOP_GRACE_MS, 0);
    }
    signal_all(pool, SIGTERM);
    signal_all(pool, SIGCONT);
    if (pool->alive == 0)
        mux_stop(pool->loop);
}

/* The first stop signal gave the workers their shutdown timeout and the
 * lingering close after it; one still running now will not stop by
 * itself: it is killed (logged), and muxd exits 1. */
static void on_stop_deadline(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    (void)loop;
    (void)timer;
    pool_t *pool = arg;
    for (unsigned i = 0; i < pool->opts->workers; i++) {
        worker_t *w = &pool->workers[i];
        if (w->pid <= 0)
            continue;
        muxd_log_error(
            "worker %u (pid %ld) did not stop within %g s of "
            "the stop signal: killing it",
            w->index, (long)w->pid,
            (double)(pool->opts->shutdown_timeout_ms + STOP_GRACE_MS) / 1e3);
        kill(w->pid, SIGKILL);
        pool->failed = true;
    }
}

/* SIGUSR1: every worker prints its own stats line. */
static void on_stats(mux_loop_t *loop, int signo, void *arg) {
    (void)loop;
    signal_all(arg, signo);
}

/* The slots' timers, on the loop that now exists; their clocks start. */
static void init_timers(pool_t *pool) {
    mux_timer_init(&pool->stop_deadline, pool->loop, on_stop_deadline, pool);
    for (unsigned i = 0; i < pool->opts->workers; i++) {
        worker_t *w = &pool->workers[i];
        mux_timer_init(&w->restart, pool->loop, on_restart, w);
        mux_timer_init(&w->stop_grace, pool->loop, on_stop_grace, w);
        w->started = mux_now(pool->loop);
    }
}

/* Watches the signals, then lets the ones that waited arrive. */
static int watch_signals(pool_t *pool) {
    int err = mux_loop_new(&pool->loop);
    if (err == 0 &&
        (err = mux_signal(pool->loop, SIGCHLD, on_child, pool)) == 0 &&
        (err = mux_signal(pool->loop, SIGTERM, on_stop, pool)) == 0 &&
        (err = mux_signal(pool->loop, SIGINT, on_stop, pool)) == 0 &&
        (err = mux_signal(pool->loop, SIGHUP, on_stop, pool)) == 0)
        err = mux_signal(pool->loop, SIGUSR1, on_stats, pool);
    if (err < 0) {
        muxd_log_error("cannot watch signals: %s", mux_strerror(err));
        return err;
    }
    init_timers(pool);
    muxd_log_attach(pool->loop);
    sigprocmask(SIG_SETMASK, &pool->old_mask, NULL);
    reap(pool); /* whatever ended before SIGCHLD was watched */
    return 0;
}

/* Stops the workers started so far and waits for them (start-up failed,
 * or the loop did). */
static void stop_all(pool_t *pool) {
    pool->signals++;
    signal_all(pool, SIGTERM);
    signal_all(pool, SIGCONT);
    for (unsigned i = 0; i < pool->opts->workers; i++) {
        worker_t *w = &pool->workers[i];
        int status;
        if (w->pid <= 0)
            continue;
        while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
            ;
        w->pid = 0;
        pool->alive--;
    }
}

/* Once every worker is ready: write the files while still privileged,
 * drop privileges, announce. The inherited sockets stay open here until
 * muxd stops, for the replacements of workers that die. */
static int announce_all(pool_t *pool) {
    return muxd_ready_announce(pool->ready, pool->addresses, pool->opts->user);
}

static worker_t *new_workers(unsigned n, pool_t *pool) {
    worker_t *workers = calloc(n, sizeof(*workers));
    for (unsigned i = 0; workers && i < n; i++)
        workers[i] = (worker_t){.pool = pool, .index = i + 1, .report = -1};
    return workers;
}

static void free_workers(pool_t *pool) {
    for (unsigned i = 0; pool->workers && i < pool->opts->workers; i++)
        if (pool->workers[i].report >= 0)
            close(pool->workers[i].report);
    free(pool->workers);
}

int muxd_workers_run(muxd_options_t *o, muxd_ready_t *ready) {
    pool_t pool = {.opts = o, .ready = ready, .parent = getpid()};
    sigemptyset(&pool.block);
    sigaddset(&pool.block, SIGCHLD);
    sigaddset(&pool.block, SIGTERM);
    sigaddset(&pool.block, SIGINT);
    sigaddset(&pool.block, SIGHUP);
    sigaddset(&pool.block, SIGUSR1);
    sigprocmask(SIG_BLOCK, &pool.block, &pool.old_mask);
    pool.workers = new_workers(o->workers, &pool);
    int err = pool.workers ? start_all(&pool) : -ENOMEM;
    if (err == 0)
        err = announce_all(&pool);
    if (err == 0)
        err = watch_signals(&pool);
    if (err == 0 && (err = mux_run(pool.loop, MUX_RUN_DEFAULT)) < 0)
        muxd_log_error("event loop failed: %s", mux_strerror(err));
    if (err < 0 && pool.workers)
        stop_all(&pool);
    muxd_ready_remove(ready);
    muxd_log_attach(NULL);
    mux_loop_free(pool.loop);
    free_workers(&pool);
    free(pool.addresses);
    for (size_t i = 0; i < o->ninherited; i++)
        close(o->inherited[i]);
    return err < 0 || pool.failed ? 1 : 0;
}
