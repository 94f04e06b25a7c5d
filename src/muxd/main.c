/*
 * muxd -- a select() multiplexing server: echo and friends on TCP, UDP
 * and unix sockets. The entry point: the command line (cli.c) says what
 * to do; one process serves (serve.c), or --workers start several
 * (workers.c); ready.c announces. The loop and the server are libmux.
 */
#define _POSIX_C_SOURCE 200809L

#include "cli.h"
#include "fixture.h"
#include "log.h"
#include "outfd.h"
#include "ready.h"
#include "serve.h"
#include "workers.h"

#include <signal.h>
#include <stdio.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

enum { EXIT_USAGE = 2 };

/* What the parser said, other than "serve": its exit status. */
static int answer(muxd_cli_result result, const char *msg) {
    switch (result) {
    case MUXD_CLI_HELP:
        muxd_cli_usage(stdout);
        return 0;
    case MUXD_CLI_VERSION:
        printf("muxd %s\n", MUX_VERSION);
        return 0;
    default:
        fprintf(stderr, "muxd: %s\nTry 'muxd --help' for more information.\n",
                msg);
        return EXIT_USAGE;
    }
}

/* Timers wake on time: Linux lets a select() timeout run up to 50 µs late
 * by default (the timer slack, to batch wake-ups); a latency fault of 1 ms
 * would be 1.05 ms. Inherited by --workers. Best effort: no error. */
static void precise_timers(void) {
#ifdef PR_SET_TIMERSLACK
    (void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
#endif
}

int main(int argc, char **argv) {
    if (outfd_open_std() < 0) /* a closed 0-2 would be reused: fill it */
        return 1;
    static muxd_options_t opts; /* large: off the stack */
    char msg[1024];
    /* Socket activation: the sockets systemd passed come first. */
    int activated = muxd_listen_fds(opts.inherited, MAX_LISTEN);
    muxd_cli_result result =
        muxd_cli_parse(argc, argv, activated, &opts, msg, sizeof(msg));
    if (result != MUXD_CLI_SERVE)
        return answer(result, msg);
    if (muxd_check_inherited(opts.inherited, opts.ninherited) < 0)
        return 1;
    muxd_log_init(&opts.log, 0);
    if (opts.relay.nupstreams && muxd_relay_prepare(&opts.relay) < 0)
        return 1;             /* --to resolved once, before --workers fork */
    muxd_raise_fd_limit();    /* before --workers: each inherits it */
    signal(SIGPIPE, SIG_IGN); /* a closed stdout must not kill the server */
    signal(SIGXFSZ, SIG_IGN); /* past `ulimit -f` a write fails (EFBIG) */
    precise_timers();
    muxd_ready_t ready;
    muxd_ready_init(&ready, opts.pidfile, opts.ready_file);
    return opts.workers > 1 ? muxd_workers_run(&opts, &ready)
                            : muxd_serve(&opts, &ready, 0);
}
