/*
 * workers.c -- muxd --workers N.
 *
 * Every listening socket belongs to exactly one worker, which accepts from
 * it from the moment it is bound: the parent never holds one. Worker 1
 * binds the addresses as given (port 0 picks a port), with SO_REUSEPORT,
 * and reports the addresses it bound through a pipe; workers 2..N bind
 * exactly those, also with SO_REUSEPORT, and the kernel spreads new
 * connections and datagrams over the N sockets of each address. A worker
 * that dies takes its sockets with it: the clients waiting in its backlog
 * are reset, new ones go to the others. Inherited sockets (--fd, socket
 * activation) are one socket shared by all workers instead: its one
 * backlog is served by whichever worker accepts first.
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

typedef struct {
    muxd_options_t *opts;
    muxd_ready_t *ready; /* the parent announces for every worker */
    pid_t *pids;         /* per worker; 0 once it has exited */
    unsigned alive;
    pid_t parent;
    sigset_t old_mask; /* restored in workers, and once the loop runs */
    mux_loop_t *loop;
    int signals;     /* stop signals received */
    bool failed;     /* a worker failed: exit 1 */
    char *addresses; /* worker 1's report: the ready lines */
} pool_t;

/* ------------------------------------------------------------------ */
/* In a worker                                                         */
/* ------------------------------------------------------------------ */

/* Runs in the child: becomes worker `index` (1-based); never returns. */
static _Noreturn void become_worker(pool_t *pool, unsigned index,
                                    int report[2]) {
    close(report[0]);
    sigprocmask(SIG_SETMASK, &pool->old_mask, NULL);
#ifdef __linux__
    /* A parent killed outright takes its workers along. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != pool->parent)
        _exit(1);
#endif
    muxd_options_t *o = pool->opts;
    o->server.reuseport = 1;
    muxd_log_init(&o->log, index);
    muxd_log_forked();
    free(pool->pids);
    free(pool->addresses);
    muxd_ready_t ready;
    muxd_ready_init_report(&ready, report[1]);
    exit(muxd_serve(o, &ready, index));
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
    pid_t pid = pool->pids[index - 1];
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    pool->pids[index - 1] = 0;
    pool->alive--;
    char how[96];
    describe_exit(status, how, sizeof(how));
    muxd_log_error("worker %u (pid %ld) failed to start: %s", index, (long)pid,
                   how);
}

/* Forks worker `index` and waits for its report (*report: free it). */
static int start_worker(pool_t *pool, unsigned index, char **report) {
    int fds[2];
    if (pipe(fds) < 0) {
        int err = -errno;
        muxd_log_error("cannot start worker %u: %s", index, mux_strerror(err));
        return err;
    }
    pid_t pid = fork();
    if (pid == 0)
        become_worker(pool, index, fds);
    int err = pid < 0 ? -errno : 0;
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        muxd_log_error("cannot start worker %u: %s", index, mux_strerror(err));
        return err;
    }
    pool->pids[index - 1] = pid;
    pool->alive++;
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
        if (pool->pids[i] > 0)
            kill(pool->pids[i], signo);
}

/* A worker ended: fine if it was asked to stop and exited 0; otherwise
 * reported, and the parent will exit 1. */
static void worker_ended(pool_t *pool, unsigned index, pid_t pid, int status) {
    pool->alive--;
    if (pool->signals > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return;
    pool->failed = true;
    char how[96];
    describe_exit(status, how, sizeof(how));
    muxd_log_error("worker %u (pid %ld) %s; %u of %u worker%s left", index,
                   (long)pid, how, pool->alive, pool->opts->workers,
                   pool->opts->workers == 1 ? "" : "s");
}

static void reap(pool_t *pool) {
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0 ||
           (pid < 0 && errno == EINTR)) {
        for (unsigned i = 0; pid > 0 && i < pool->opts->workers; i++)
            if (pool->pids[i] == pid) {
                pool->pids[i] = 0;
                worker_ended(pool, i + 1, pid, status);
            }
    }
    if (pool->alive == 0 && pool->loop)
        mux_stop(pool->loop);
}

static void on_child(mux_loop_t *loop, int signo, void *arg) {
    (void)loop;
    (void)signo;
    reap(arg);
}

/* The first stop signal asks every worker to stop gracefully; another one
 * is passed on too, and makes them stop at once. */
static void on_stop(mux_loop_t *loop, int signo, void *arg) {
    (void)loop;
    pool_t *pool = arg;
    if (pool->signals++ == 0) {
        muxd_log_text(MUXD_LOG_NORMAL, "%s: stopping %u worker%s",
                      muxd_stop_signal_name(signo), pool->alive,
                      pool->alive == 1 ? "" : "s");
        muxd_ready_stopping(pool->ready);
    }
    signal_all(pool, SIGTERM);
}

/* SIGUSR1: every worker prints its own stats line. */
static void on_stats(mux_loop_t *loop, int signo, void *arg) {
    (void)loop;
    signal_all(arg, signo);
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
    muxd_log_attach(pool->loop);
    sigprocmask(SIG_SETMASK, &pool->old_mask, NULL);
    reap(pool); /* whatever ended before SIGCHLD was watched */
    return 0;
}

/* Stops the workers started so far and waits for them (start-up failed). */
static void stop_all(pool_t *pool) {
    pool->signals++;
    signal_all(pool, SIGTERM);
    for (unsigned i = 0; i < pool->opts->workers; i++) {
        int status;
        if (pool->pids[i] <= 0)
            continue;
        while (waitpid(pool->pids[i], &status, 0) < 0 && errno == EINTR)
            ;
        pool->pids[i] = 0;
        pool->alive--;
    }
}

/* Once every worker is ready: close what the workers now hold, write the
 * files while still privileged, drop privileges, announce. */
static int announce_all(pool_t *pool) {
    muxd_options_t *o = pool->opts;
    for (size_t i = 0; i < o->ninherited; i++)
        close(o->inherited[i]); /* every worker has its own copy */
    o->ninherited = 0;
    return muxd_ready_announce(pool->ready, pool->addresses, o->user);
}

int muxd_workers_run(muxd_options_t *o, muxd_ready_t *ready) {
    pool_t pool = {.opts = o, .ready = ready, .parent = getpid()};
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGCHLD);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    sigaddset(&block, SIGUSR1);
    sigprocmask(SIG_BLOCK, &block, &pool.old_mask);
    pool.pids = calloc(o->workers, sizeof(*pool.pids));
    int err = pool.pids ? start_all(&pool) : -ENOMEM;
    if (err == 0)
        err = announce_all(&pool);
    if (err == 0)
        err = watch_signals(&pool);
    if (err == 0 && (err = mux_run(pool.loop, MUX_RUN_DEFAULT)) < 0)
        muxd_log_error("event loop failed: %s", mux_strerror(err));
    if (err < 0 && pool.pids)
        stop_all(&pool);
    muxd_ready_remove(ready);
    muxd_log_attach(NULL);
    mux_loop_free(pool.loop);
    free(pool.pids);
    free(pool.addresses);
    return err < 0 || pool.failed ? 1 : 0;
}
