/*
 * signal.c -- signals as loop events: the handler writes the signal's
 * number to the loop's self-pipe, whose read end is watched like any fd
 * while the loop watches a signal. It sits above the loop (it uses
 * mux_watch like any other watcher); the loop releases its signals when
 * freed through the hook it is given here, without naming this file.
 *
 * A signal has one owner in the process, so its state is kept per signal
 * number, not per loop.
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#ifdef NSIG
#define MUX__NSIG NSIG
#else
#define MUX__NSIG 65
#endif

typedef struct {
    mux_loop_t *owner; /* the loop that watches it, or NULL */
    mux_signal_cb *cb;
    void *arg;
    struct sigaction previous;
} signal_watch_t;

static signal_watch_t watches[MUX__NSIG];
/* Where the handler of each signal writes: fd + 1; 0: none. */
static volatile sig_atomic_t signal_fd[MUX__NSIG];

static void signal_handler(int signo) {
    int saved = errno;
    unsigned char byte = (unsigned char)signo;
    if (signo > 0 && signo < MUX__NSIG && signal_fd[signo] > 0) {
        ssize_t n = write(signal_fd[signo] - 1, &byte, 1);
        (void)n; /* a full pipe already holds a wake-up */
    }
    errno = saved;
}

static void on_signal_pipe(mux_loop_t *loop, int fd, int events, void *arg) {
    MUX__UNUSED(events);
    MUX__UNUSED(arg);
    unsigned char signos[64];
    ssize_t n = read(fd, signos, sizeof(signos));
    for (ssize_t i = 0; i < n; i++) {
        int signo = signos[i];
        if (signo >= MUX__NSIG || watches[signo].owner != loop)
            continue;
        signal_watch_t *w = &watches[signo];
        if (w->cb)
            w->cb(loop, signo, w->arg);
    }
}

static int signal_remove(mux_loop_t *loop, int signo) {
    signal_watch_t *w = &watches[signo];
    if (w->owner != loop)
        return 0;
    signal_fd[signo] = 0;
    sigaction(signo, &w->previous, NULL);
    w->owner = NULL;
    w->cb = NULL;
    if (--loop->signals.count == 0)
        mux_unwatch(loop, loop->signals.pipe[0]);
    return 0;
}

/* The loop's hook: forgets every signal it watches (mux_loop_free). */
static void release_signals(mux_loop_t *loop) {
    for (int signo = 1; signo < MUX__NSIG; signo++)
        signal_remove(loop, signo);
}

/* Starts watching the self-pipe for the loop's first signal. */
static int watch_pipe(mux_loop_t *loop) {
    if (loop->signals.count > 0)
        return 0;
    loop->signals.release = release_signals;
    return mux_watch(loop, loop->signals.pipe[0], MUX_READ, on_signal_pipe,
                     NULL);
}

int mux_signal(mux_loop_t *loop, int signo, mux_signal_cb *cb, void *arg) {
    if (signo <= 0 || signo >= MUX__NSIG || signo == SIGKILL ||
        signo == SIGSTOP)
        return -EINVAL;
    if (!cb)
        return signal_remove(loop, signo);
    signal_watch_t *w = &watches[signo];
    if (w->owner && w->owner != loop)
        return -EBUSY;
    if (w->owner == loop) {
        w->cb = cb;
        w->arg = arg;
        return 0;
    }
    int err = watch_pipe(loop);
    if (err < 0)
        return err;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = signal_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    signal_fd[signo] = loop->signals.pipe[1] + 1;
    if (sigaction(signo, &sa, &w->previous) < 0) {
        err = -errno;
        signal_fd[signo] = 0;
        if (loop->signals.count == 0)
            mux_unwatch(loop, loop->signals.pipe[0]);
        return err;
    }
    *w = (signal_watch_t){loop, cb, arg, w->previous};
    loop->signals.count++;
    return 0;
}
