/*
 * host_select.c -- a program with its own select() loop that drives libmux.
 *
 * The host owns the loop: it selects on its own fd (stdin) and keeps its
 * own timer (a tick counter, every TICK_MS). libmux adds a TCP service to
 * it through two calls per turn: mux_prepare() puts the library's fds and
 * nearest timer into the host's select() arguments, mux_process() runs the
 * library's callbacks for what select() reported.
 *
 * The service answers every line with the host's tick count:
 *     hello   ->   [tick 42] hello
 * and closes clients that stay silent for a minute: a libmux timer, which
 * is why the host's select() timeout takes mux_prepare()'s into account.
 * Console commands on stdin: `status` (ticks and clients), `quit` (also
 * EOF, SIGINT, SIGTERM): close the clients once answered, exit 0.
 *
 * Its fd sets are its own bit arrays, grown to the loop's highest fd
 * (mux_prepare_sized): a plain fd_set stops at FD_SETSIZE (1024), and
 * with a raised RLIMIT_NOFILE clients get fds above it.
 *
 * Usage: host_select [HOST:]PORT [TICK_MS]     (default tick: 1000 ms)
 */
#define _POSIX_C_SOURCE 200809L

#include <mux.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

/* select() sets of any size: one bit per fd in unsigned long words. */
typedef struct {
    unsigned long *rd, *wr;
    int setsize; /* fds the sets hold: a multiple of 64 */
} host_sets_t;

typedef struct {
    mux_loop_t *loop;
    host_sets_t sets;
    mux_server_t *server;
    uint64_t tick_ms;
    uint64_t ticks;     /* the host's own state, which the service reads */
    uint64_t next_tick; /* the host's own timer: a monotonic deadline */
    int stdin_open;
    char input[256]; /* console input that is not a whole line yet */
    size_t input_len;
    int quitting;
    int done; /* the server finished its graceful shutdown */
} host_t;

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- the libmux side: a service that reads the host's state ---- */

static void tick_message(mux_conn_t *conn, const char *line, size_t len) {
    const host_t *host = mux_conn_service_arg(conn);
    char prefix[40];
    int n =
        snprintf(prefix, sizeof(prefix), "[tick %" PRIu64 "] ", host->ticks);
    mux_conn_send(conn, prefix, (size_t)n);
    mux_conn_send(conn, line, len);
    mux_conn_send(conn, "\n", 1);
}

static const mux_service_t tick_service = {
    .name = "tick",
    .framing = MUX_FRAMING_LINE,
    .message = tick_message,
};

static void on_event(mux_server_t *server, const mux_event_t *ev, void *arg) {
    host_t *host = arg;
    (void)server;
    if (ev->type == MUX_EV_DONE)
        host->done = 1;
}

/* Graceful: the server answers what clients sent, then reports DONE. */
static void quit(host_t *host) {
    if (host->quitting++)
        return;
    host->stdin_open = 0;
    mux_server_shutdown(host->server, 2000);
}

/* Runs from mux_process(), like any other libmux callback. */
static void on_signal(mux_loop_t *loop, int signo, void *arg) {
    (void)loop;
    (void)signo;
    quit(arg);
}

/* ---- the host's side: its own fd and its own timer ---- */

static void run_command(host_t *host, const char *line) {
    if (strcmp(line, "status") == 0) {
        size_t n = mux_server_clients(host->server);
        printf("tick %" PRIu64 ", %zu client%s\n", host->ticks, n,
               n == 1 ? "" : "s");
    } else if (strcmp(line, "quit") == 0)
        quit(host);
    else if (line[0])
        printf("unknown command: %s (commands: status, quit)\n", line);
}

/* Console input, with read(): stdio's buffer would hide lines from
 * select(). A line longer than the buffer is cut. */
static void on_console(host_t *host) {
    ssize_t n = read(STDIN_FILENO, host->input + host->input_len,
                     sizeof(host->input) - 1 - host->input_len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;   /* not now: select() reports it again */
    if (n <= 0) { /* EOF, or stdin failed: nothing more will come */
        quit(host);
        return;
    }
    host->input_len += (size_t)n;
    char *start = host->input, *end = host->input + host->input_len, *nl;
    while (!host->quitting &&
           (nl = memchr(start, '\n', (size_t)(end - start)))) {
        *nl = '\0';
        run_command(host, start);
        start = nl + 1;
    }
    host->input_len = (size_t)(end - start);
    memmove(host->input, start, host->input_len);
    if (host->input_len == sizeof(host->input) - 1) {
        host->input[host->input_len] = '\0';
        run_command(host, host->input);
        host->input_len = 0;
    }
}

static void on_tick(host_t *host) {
    host->ticks++;
    host->next_tick += host->tick_ms;
    uint64_t now = now_ms();
    if (host->next_tick < now) /* fell behind (suspended?): skip, not burst */
        host->next_tick = now + host->tick_ms;
}

/* Makes the sets hold fds 0..maxfd (doubling), all clear. */
static int fit_sets(host_sets_t *sets, int maxfd) {
    int size = sets->setsize ? sets->setsize : FD_SETSIZE;
    while (size <= maxfd)
        size *= 2;
    if (size != sets->setsize) {
        unsigned long *rd = realloc(sets->rd, (size_t)size / 8);
        if (rd)
            sets->rd = rd;
        unsigned long *wr = rd ? realloc(sets->wr, (size_t)size / 8) : NULL;
        if (!wr)
            return -ENOMEM;
        sets->wr = wr;
        sets->setsize = size;
    }
    memset(sets->rd, 0, (size_t)sets->setsize / 8);
    memset(sets->wr, 0, (size_t)sets->setsize / 8);
    return 0;
}

/* Adds the library's fds to the sets, grown first if they are too small. */
static int prepare(host_t *host, int *maxfd, struct timeval *mux_tv) {
    host_sets_t *s = &host->sets;
    int err = fit_sets(s, mux_loop_maxfd(host->loop));
    if (err < 0)
        return err;
    if (host->stdin_open) /* fd 0: FD_SET is fine below FD_SETSIZE */
        FD_SET(STDIN_FILENO, (fd_set *)(void *)s->rd);
    *maxfd = host->stdin_open ? STDIN_FILENO : -1;
    return mux_prepare_sized(host->loop, (fd_set *)(void *)s->rd,
                             (fd_set *)(void *)s->wr, s->setsize, maxfd,
                             mux_tv);
}

/* Waits for the host's fds and the library's, the sooner deadline first. */
static int wait_turn(host_t *host, int *maxfd) {
    uint64_t now = now_ms();
    uint64_t wait_ms = host->next_tick > now ? host->next_tick - now : 0;
    struct timeval tv, mux_tv;
    int ready = prepare(host, maxfd, &mux_tv);
    if (ready < 0) {
        errno = -ready;
        return -1;
    }
    if (ready == 1) {
        uint64_t mux_ms = (uint64_t)mux_tv.tv_sec * 1000u +
                          (uint64_t)(mux_tv.tv_usec + 999) / 1000u;
        if (mux_ms < wait_ms)
            wait_ms = mux_ms;
    }
    tv.tv_sec = (time_t)(wait_ms / 1000);
    tv.tv_usec = (suseconds_t)(wait_ms % 1000) * 1000;
    host_sets_t *s = &host->sets;
    return select(*maxfd + 1, (fd_set *)(void *)s->rd, (fd_set *)(void *)s->wr,
                  NULL, &tv);
}

static int host_loop(host_t *host) {
    host_sets_t *s = &host->sets;
    while (!host->done) {
        int maxfd;
        int n = wait_turn(host, &maxfd);
        if (n < 0 && errno != EINTR)
            return -errno;
        if (n <= 0) { /* timeout, or a signal: the sets say nothing */
            mux_process_sized(host->loop, NULL, NULL, s->setsize);
        } else {
            fd_set *rd = (fd_set *)(void *)s->rd;
            if (host->stdin_open && FD_ISSET(STDIN_FILENO, rd))
                on_console(host);
            /* Our own fd in the sets is fine: mux_process skips it. */
            mux_process_sized(host->loop, rd, (fd_set *)(void *)s->wr,
                              s->setsize);
        }
        if (now_ms() >= host->next_tick)
            on_tick(host);
    }
    return 0;
}

static int start(host_t *host, const char *addr) {
    mux_server_opts_t opts = {.on_event = on_event,
                              .event_arg = host,
                              .service_arg = host,
                              .idle_timeout_ms = 60000};
    int err;
    if ((err = mux_loop_new(&host->loop)) < 0 ||
        (err = mux_server_new(host->loop, &tick_service, &opts,
                              &host->server)) < 0 ||
        (err = mux_signal(host->loop, SIGINT, on_signal, host)) < 0 ||
        (err = mux_signal(host->loop, SIGTERM, on_signal, host)) < 0 ||
        (err = mux_server_listen(host->server, addr)) < 0) {
        fprintf(stderr, "host_select: cannot serve %s: %s\n", addr,
                mux_strerror(err));
        return err;
    }
    const char *where[16];
    size_t n = mux_server_addresses(host->server, where, 16);
    for (size_t i = 0; i < n && i < 16; i++)
        printf("listening on %s\n", where[i]);
    return 0;
}

int main(int argc, char **argv) {
    char *end = "";
    unsigned long tick_ms = argc > 2 ? strtoul(argv[2], &end, 10) : 1000;
    if (argc < 2 || argc > 3 || *end || tick_ms == 0 ||
        (argc > 2 && !isdigit((unsigned char)argv[2][0]))) {
        fprintf(stderr, "usage: host_select [HOST:]PORT [TICK_MS]\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    host_t host = {.tick_ms = tick_ms, .stdin_open = 1};
    host.next_tick = now_ms() + host.tick_ms;
    int err = start(&host, argv[1]);
    if (err == 0 && (err = host_loop(&host)) < 0)
        fprintf(stderr, "host_select: select: %s\n", mux_strerror(err));
    mux_server_free(host.server);
    mux_loop_free(host.loop);
    free(host.sets.rd);
    free(host.sets.wr);
    return err < 0 ? 1 : 0;
}
