/*
 * muxbench.c -- a closed-loop load generator for echo servers (muxd and the
 * peers it is compared with), Linux only: it uses epoll so that it is never
 * the bottleneck of a select() server.
 *
 * Each of C connections sends an S-byte message and waits until all of it
 * has come back before it sends the next one. Every byte that comes back is
 * compared with what was sent. Modes:
 *   pingpong  C long-lived connections, one message after the other
 *   churn     one round trip per connection, then close and reconnect
 *             (latency counts from connect() to the last byte back)
 *   bulk      pingpong with large messages (default 64 KiB), sent and
 *             received concurrently
 *   idle      C connections, one round trip each, then held open without
 *             traffic for --hold seconds (to measure a server's memory)
 * With --active N (pingpong), only N of the C connections, spread evenly
 * among them, keep sending; the others do one round trip and stay idle,
 * and measuring starts once they all did: what a server pays per turn
 * for the idle connections it holds.
 *
 * The run ends after --duration seconds or --count round trips; messages
 * still in flight then are finished and verified (bounded by --timeout)
 * but not counted. The last line is machine-readable:
 *   RESULT mode=... conns=... rps=... p50_us=... errors=... mismatches=...
 * Exit status: 0 when every byte came back as sent, 1 on any error or
 * mismatch, 2 on a usage error.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_SEC 1000000000ull
/* Connects in flight at once while the connections are first opened: a
 * burst of 1000 SYNs would overflow a small listen backlog. */
#define MAX_CONNECTING 64
/* Message offsets into the pattern cycle through this many (a prime). */
#define PATTERN_SPAN 4099
/* Errors printed in full; the rest are only counted. */
#define MAX_REPORTED 5
/* A run stops early after this many errors (e.g. nobody listening). */
#define MAX_ERRORS 1000
#define MAX_EVENTS 1024

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

typedef enum { MODE_PINGPONG, MODE_CHURN, MODE_BULK, MODE_IDLE } bench_mode;
static const char *const mode_names[] = {"pingpong", "churn", "bulk", "idle"};

typedef struct {
    bench_mode mode;
    unsigned conns;
    size_t size;
    double duration; /* seconds; 0: bounded by count only */
    uint64_t count;  /* measured round trips; 0: bounded by duration only */
    double warmup;   /* seconds of load before measuring */
    double hold;     /* idle mode: seconds to hold the connections */
    double timeout;  /* seconds without progress that count as a stall */
    unsigned active; /* pingpong: connections that keep sending; 0: all */
    double think;    /* pingpong: seconds between a reply and the next */
    bool quiet;
    bool marks;         /* say MEASURING and MEASURED as they happen */
    const char *target; /* as given, for messages */
    struct sockaddr_storage addr;
    socklen_t addr_len;
} options_t;

/* ------------------------------------------------------------------ */
/* Latency histogram: log-linear buckets, 1024 per power of two (<0.1%) */
/* ------------------------------------------------------------------ */

/* Fine enough for a 20 ms round trip to be read to 20 µs (a fault's
 * added latency is measured against its asked value to 0.2 ms). */
#define HIST_BITS 10u
#define HIST_SUB (1u << HIST_BITS)
#define HIST_BUCKETS (HIST_SUB * 40u)

typedef struct {
    uint64_t n[HIST_BUCKETS];
    uint64_t total, max;
} hist_t;

static size_t hist_index(uint64_t v) {
    if (v < HIST_SUB)
        return (size_t)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - HIST_BITS; /* v >> shift: [HIST_SUB, 2 HIST_SUB) */
    size_t idx =
        (size_t)(shift + 1u) * HIST_SUB + (size_t)((v >> shift) - HIST_SUB);
    return idx < HIST_BUCKETS ? idx : HIST_BUCKETS - 1;
}

/* The middle of the bucket's range. */
static uint64_t hist_value(size_t idx) {
    if (idx < HIST_SUB)
        return (uint64_t)idx;
    unsigned shift = (unsigned)(idx / HIST_SUB) - 1u;
    uint64_t sub = (uint64_t)(idx % HIST_SUB) + HIST_SUB;
    return (sub << shift) + ((1ull << shift) >> 1);
}

static void hist_add(hist_t *h, uint64_t ns) {
    h->n[hist_index(ns)]++;
    h->total++;
    if (ns > h->max)
        h->max = ns;
}

/* The latency at or below which `per100k` / 100000 of the samples are. */
static uint64_t hist_percentile(const hist_t *h, uint64_t per100k) {
    if (h->total == 0)
        return 0;
    uint64_t rank = (h->total * per100k + 99999u) / 100000u, seen = 0;
    if (rank == 0)
        rank = 1;
    for (size_t i = 0; i < HIST_BUCKETS; i++) {
        seen += h->n[i];
        if (seen >= rank)
            return hist_value(i) < h->max ? hist_value(i) : h->max;
    }
    return h->max;
}

/* ------------------------------------------------------------------ */
/* State                                                               */
/* ------------------------------------------------------------------ */

typedef enum {
    CL_CLOSED,     /* no socket (churn: between connections; or failed) */
    CL_CONNECTING, /* connect() in progress */
    CL_IDLE,       /* connected, no message in flight */
    CL_ACTIVE      /* a message is in flight */
} client_state;

typedef struct {
    int fd;
    unsigned id;
    client_state state;
    uint32_t events; /* what epoll watches for this socket */
    uint64_t seq;    /* messages started on this slot */
    const char *msg; /* the message in flight, inside the pattern */
    size_t sent, received;
    uint64_t started; /* ns: message sent, or connect() for churn */
    uint64_t next_at; /* ns: --think: the next message, once idle; 0: none */
} client_t;

typedef struct {
    const options_t *opt;
    int epfd;
    client_t *clients;
    char *pattern;       /* size + PATTERN_SPAN bytes: messages are slices */
    char *rx;            /* one receive buffer for every connection */
    unsigned next_open;  /* first client never opened (initial phase) */
    unsigned connecting; /* clients in CL_CONNECTING */
    unsigned active;     /* clients in CL_ACTIVE */
    unsigned idle;       /* clients in CL_IDLE */
    uint64_t now;
    uint64_t last_progress;
    uint64_t measure_from, measure_until, measured_end;
    uint64_t hold_until;
    bool measuring, stopping, done;
    uint64_t rts, rts_total, bytes;
    uint64_t errors, mismatches;
    struct rusage usage_start, usage_end;
    hist_t hist;
} bench_t;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static uint64_t seconds_to_ns(double s) {
    return (uint64_t)(s * (double)NS_PER_SEC);
}

/* Counts an error (a mismatch when `mismatch`), printing the first few. */
static void report(bench_t *b, const client_t *c, bool mismatch,
                   const char *fmt, ...) {
    uint64_t n = mismatch ? ++b->mismatches : ++b->errors;
    if (b->errors + b->mismatches > MAX_REPORTED)
        return;
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    fprintf(stderr, "muxbench: connection %u: %s%s\n", c->id, text,
            n == MAX_REPORTED ? " (further errors only counted)" : "");
}

/* ------------------------------------------------------------------ */
/* Connections                                                         */
/* ------------------------------------------------------------------ */

static void set_state(bench_t *b, client_t *c, client_state state) {
    unsigned *counters[] = {NULL, &b->connecting, &b->idle, &b->active};
    if (counters[c->state])
        (*counters[c->state])--;
    if (counters[state])
        (*counters[state])++;
    c->state = state;
}

static void watch(bench_t *b, client_t *c, uint32_t events) {
    if (events == c->events)
        return;
    struct epoll_event ev = {.events = events, .data.ptr = c};
    int op = c->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(b->epfd, op, c->fd, &ev) < 0) {
        fprintf(stderr, "muxbench: epoll_ctl: %s\n", strerror(errno));
        exit(EXIT_RUNTIME);
    }
    c->events = events;
}

static void close_client(bench_t *b, client_t *c) {
    if (c->fd >= 0)
        close(c->fd); /* also leaves the epoll set */
    c->fd = -1;
    c->events = 0;
    set_state(b, c, CL_CLOSED);
}

static void start_message(bench_t *b, client_t *c);
static void open_client(bench_t *b, client_t *c);
static void stop(bench_t *b);

/* A connection failed: churn opens a new one, other modes lose it. */
static void drop_client(bench_t *b, client_t *c) {
    close_client(b, c);
    if (b->opt->mode == MODE_CHURN && !b->stopping &&
        b->errors + b->mismatches < MAX_ERRORS)
        open_client(b, c);
}

/* Connected: churn and the first round trip start at once. */
static void on_connected(bench_t *b, client_t *c) {
    set_state(b, c, CL_IDLE);
    watch(b, c, EPOLLIN);
    if (!b->stopping)
        start_message(b, c);
}

static void open_client(bench_t *b, client_t *c) {
    const options_t *o = b->opt;
    c->started = b->now;
    c->fd = socket(o->addr.ss_family,
                   SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        report(b, c, false, "socket: %s", strerror(errno));
        set_state(b, c, CL_CLOSED);
        return;
    }
    int one = 1; /* our messages go out whole: Nagle would only delay them */
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (const struct sockaddr *)&o->addr, o->addr_len) == 0) {
        set_state(b, c, CL_CONNECTING);
        on_connected(b, c);
    } else if (errno == EINPROGRESS) {
        set_state(b, c, CL_CONNECTING);
        watch(b, c, EPOLLOUT);
    } else {
        report(b, c, false, "connect: %s", strerror(errno));
        close_client(b, c);
    }
}

static void on_connect_done(bench_t *b, client_t *c) {
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err) {
        report(b, c, false, "connect: %s", strerror(err));
        drop_client(b, c);
        return;
    }
    on_connected(b, c);
}

/* Opens the initial connections, a bounded number at a time. */
static void open_more(bench_t *b) {
    while (b->next_open < b->opt->conns && b->connecting < MAX_CONNECTING &&
           !b->stopping)
        open_client(b, &b->clients[b->next_open++]);
}

/* ------------------------------------------------------------------ */
/* Messages                                                            */
/* ------------------------------------------------------------------ */

/* Message `seq` of client `id` is a slice of the pattern at an offset of
 * its own: a stale or misrouted echo differs from what is expected. */
static const char *message_for(const bench_t *b, unsigned id, uint64_t seq) {
    uint64_t off = ((uint64_t)id * 131u + seq * 17u) % PATTERN_SPAN;
    return b->pattern + off;
}

static void send_some(bench_t *b, client_t *c) {
    size_t size = b->opt->size;
    while (c->sent < size) {
        ssize_t n = send(c->fd, c->msg + c->sent, size - c->sent, MSG_NOSIGNAL);
        if (n > 0) {
            c->sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            watch(b, c, EPOLLIN | EPOLLOUT);
            return;
        }
        report(b, c, false, "send: %s", strerror(errno));
        drop_client(b, c);
        return;
    }
    watch(b, c, EPOLLIN);
}

/* Whether a connection keeps sending (--active: every conns/active-th). */
static bool keeps_sending(const bench_t *b, const client_t *c) {
    const options_t *o = b->opt;
    if (o->active == 0 || o->active >= o->conns)
        return true;
    unsigned stride = o->conns / o->active;
    return c->id % stride == 0 && c->id / stride < o->active;
}

static void start_message(bench_t *b, client_t *c) {
    c->msg = message_for(b, c->id, c->seq++);
    c->sent = c->received = 0;
    if (b->opt->mode != MODE_CHURN) /* churn counts from connect() */
        c->started = b->now;
    set_state(b, c, CL_ACTIVE);
    send_some(b, c);
}

/* --think: a pause of 0.5 to 1.5 times THINK, drawn per message, so that
 * the connections do not send in step. */
static uint64_t think_ns(const bench_t *b, const client_t *c) {
    uint64_t think = seconds_to_ns(b->opt->think);
    uint64_t x = ((uint64_t)c->id * 2654435761u + c->seq * 40503u) % 1024u;
    return think / 2 + think * x / 1024u;
}

/* The whole message came back. */
static void complete(bench_t *b, client_t *c) {
    b->rts_total++;
    b->last_progress = b->now;
    if (b->measuring) {
        b->rts++;
        b->bytes += b->opt->size;
        hist_add(&b->hist, b->now - c->started);
        if (b->opt->count && b->rts == b->opt->count)
            stop(b); /* exactly count: later ones in this batch are drain */
    }
    set_state(b, c, CL_IDLE);
    if (b->opt->mode == MODE_CHURN) {
        close_client(b, c);
        if (!b->stopping)
            open_client(b, c);
    } else if (b->opt->mode != MODE_IDLE && !b->stopping &&
               keeps_sending(b, c)) {
        if (b->opt->think > 0)
            c->next_at = b->now + think_ns(b, c);
        else
            start_message(b, c);
    }
}

/* --think: the idle connections whose pause is over send again. Returns
 * the nearest pause still running (ns from now; UINT64_MAX: none). */
static uint64_t think_over(bench_t *b) {
    uint64_t nearest = UINT64_MAX;
    for (unsigned i = 0; i < b->opt->conns && b->opt->think > 0; i++) {
        client_t *c = &b->clients[i];
        if (!c->next_at || c->state != CL_IDLE)
            continue;
        if (b->stopping) {
            c->next_at = 0;
        } else if (c->next_at <= b->now) {
            c->next_at = 0;
            start_message(b, c);
        } else if (c->next_at - b->now < nearest) {
            nearest = c->next_at - b->now;
        }
    }
    return nearest;
}

/* Checks `n` received bytes against what was sent at that position. */
static bool verify(bench_t *b, client_t *c, size_t n) {
    if (c->received + n > c->sent) {
        report(b, c, true, "%zu bytes back before they were sent",
               c->received + n - c->sent);
        return false;
    }
    if (memcmp(b->rx, c->msg + c->received, n) != 0) {
        size_t i = 0;
        while (b->rx[i] == c->msg[c->received + i])
            i++;
        report(b, c, true, "byte %zu of message %" PRIu64 " differs",
               c->received + i, c->seq);
        return false;
    }
    return true;
}

/* Input on a connection with no message in flight is wrong either way. */
static void on_unexpected_input(bench_t *b, client_t *c) {
    ssize_t n = recv(c->fd, b->rx, 1, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n > 0)
        report(b, c, true, "bytes that nobody sent");
    else
        report(b, c, false, "closed by the server: %s",
               n == 0 ? "end of file" : strerror(errno));
    drop_client(b, c);
}

static void on_readable(bench_t *b, client_t *c) {
    if (c->state != CL_ACTIVE) {
        on_unexpected_input(b, c);
        return;
    }
    size_t want = b->opt->size - c->received;
    ssize_t n = recv(c->fd, b->rx, want, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        report(b, c, false, "%s after %zu of %zu bytes back",
               n == 0 ? "end of file" : strerror(errno), c->received,
               b->opt->size);
        drop_client(b, c);
        return;
    }
    if (!verify(b, c, (size_t)n)) {
        drop_client(b, c);
        return;
    }
    c->received += (size_t)n;
    if (c->received == b->opt->size)
        complete(b, c);
}

static void on_event(bench_t *b, client_t *c, uint32_t events) {
    if (c->state == CL_CONNECTING) {
        on_connect_done(b, c);
        return;
    }
    if ((events & EPOLLOUT) && c->state == CL_ACTIVE &&
        c->sent < b->opt->size) {
        send_some(b, c);
        if (c->state != CL_ACTIVE)
            return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        on_readable(b, c);
}

/* ------------------------------------------------------------------ */
/* Phases: open, warm up, measure, drain                               */
/* ------------------------------------------------------------------ */

static void start_measuring(bench_t *b) {
    b->measuring = true;
    b->measure_from = b->now;
    if (b->opt->duration > 0)
        b->measure_until = b->now + seconds_to_ns(b->opt->duration);
    getrusage(RUSAGE_SELF, &b->usage_start);
    if (b->opt->marks) {
        fputs("MEASURING\n", stdout);
        fflush(stdout);
    }
}

/* Stops starting new messages; those in flight still finish. */
static void stop(bench_t *b) {
    if (b->measuring) {
        b->measured_end = b->now;
        getrusage(RUSAGE_SELF, &b->usage_end);
        if (b->opt->marks) {
            fputs("MEASURED\n", stdout);
            fflush(stdout);
        }
    }
    b->measuring = false;
    b->stopping = true;
}

/* The initial connections are open (or failed): load may be measured.
 * With --active, the idle ones also did their one round trip. */
static bool all_opened(const bench_t *b) {
    const options_t *o = b->opt;
    unsigned quiet =
        o->active && o->active < o->conns ? o->conns - o->active : 0;
    return b->next_open == o->conns && b->connecting == 0 &&
           (o->mode != MODE_PINGPONG || b->idle >= quiet);
}

static void idle_phase(bench_t *b) {
    if (b->hold_until == 0 && all_opened(b) && b->active == 0) {
        b->hold_until = b->now + seconds_to_ns(b->opt->hold);
        printf("holding %u connections\n", b->idle);
        fflush(stdout);
    }
    if (b->hold_until && b->now >= b->hold_until)
        b->done = true;
}

/* Everything still in flight after a stall counts as an error. */
static void stalled(bench_t *b) {
    for (unsigned i = 0; i < b->opt->conns; i++) {
        client_t *c = &b->clients[i];
        if (c->state == CL_ACTIVE || c->state == CL_CONNECTING)
            report(b, c, false,
                   "no progress for %.1f s (%zu of %zu bytes "
                   "back)",
                   b->opt->timeout, c->received, b->opt->size);
    }
    if (!b->stopping)
        stop(b);
    b->done = true;
}

static void advance(bench_t *b) {
    const options_t *o = b->opt;
    bool busy = b->active > 0 || b->connecting > 0;
    if (busy && b->now - b->last_progress > seconds_to_ns(o->timeout)) {
        stalled(b);
        return;
    }
    if (o->mode == MODE_IDLE) {
        idle_phase(b);
        return;
    }
    if (!b->measuring && !b->stopping && b->measure_from == 0 &&
        (o->mode == MODE_CHURN || all_opened(b)))
        b->measure_from = b->now + seconds_to_ns(o->warmup);
    if (!b->measuring && !b->stopping && b->measure_from &&
        b->now >= b->measure_from)
        start_measuring(b);
    if (b->measuring && ((o->duration > 0 && b->now >= b->measure_until) ||
                         (o->count > 0 && b->rts >= o->count)))
        stop(b);
    if (b->errors + b->mismatches >= MAX_ERRORS && !b->stopping)
        stop(b);
    if ((b->stopping && !busy) ||
        (!busy && b->idle == 0 && b->next_open == o->conns))
        b->done = true;
}

/* How long epoll_wait() may sleep: short, so that phases stay punctual;
 * no longer than `think` (ns: the nearest --think pause). */
static int wait_ms(const bench_t *b, uint64_t think) {
    uint64_t left = 10000000u;
    if (b->measuring && b->opt->duration > 0 &&
        b->measure_until < b->now + left)
        left = b->measure_until > b->now ? b->measure_until - b->now : 0;
    left = think < left ? think : left;
    return (int)((left + 999999u) / 1000000u);
}

static void run(bench_t *b) {
    struct epoll_event events[MAX_EVENTS];
    b->now = b->last_progress = now_ns();
    if (b->opt->mode == MODE_CHURN) /* churn keeps exactly C in flight */
        for (; b->next_open < b->opt->conns; b->next_open++)
            open_client(b, &b->clients[b->next_open]);
    while (!b->done) {
        open_more(b);
        int n =
            epoll_wait(b->epfd, events, MAX_EVENTS, wait_ms(b, think_over(b)));
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "muxbench: epoll_wait: %s\n", strerror(errno));
            exit(EXIT_RUNTIME);
        }
        b->now = now_ns();
        for (int i = 0; i < n; i++) {
            client_t *c = events[i].data.ptr;
            if (c->fd >= 0)
                on_event(b, c, events[i].events);
        }
        advance(b);
    }
    if (!b->measured_end) {
        b->measured_end = b->now;
        getrusage(RUSAGE_SELF, &b->usage_end);
    }
}

/* ------------------------------------------------------------------ */
/* Results                                                             */
/* ------------------------------------------------------------------ */

static double tv_seconds(const struct timeval *tv) {
    return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

/* Share of the measured time the load generator was on a CPU. */
static double client_cpu(const bench_t *b, double secs) {
    double used = tv_seconds(&b->usage_end.ru_utime) -
                  tv_seconds(&b->usage_start.ru_utime) +
                  tv_seconds(&b->usage_end.ru_stime) -
                  tv_seconds(&b->usage_start.ru_stime);
    return secs > 0 ? used / secs : 0;
}

static void print_results(const bench_t *b) {
    const options_t *o = b->opt;
    double secs = b->measure_from && b->measured_end > b->measure_from
                      ? (double)(b->measured_end - b->measure_from) / 1e9
                      : 0;
    double rps = secs > 0 ? (double)b->rts / secs : 0;
    double mibps = secs > 0 ? 2.0 * (double)b->bytes / secs / 1048576.0 : 0;
    double p50 = (double)hist_percentile(&b->hist, 50000) / 1e3;
    double p99 = (double)hist_percentile(&b->hist, 99000) / 1e3;
    double p999 = (double)hist_percentile(&b->hist, 99900) / 1e3;
    double max = (double)b->hist.max / 1e3, cpu = client_cpu(b, secs);
    if (!o->quiet) {
        printf("%s to %s: %u connections, %zu-byte messages, %.2f s\n",
               mode_names[o->mode], o->target, o->conns, o->size, secs);
        printf("  %.0f round trips/s (%" PRIu64 " round trips, %.1f MiB/s "
               "both ways)\n",
               rps, b->rts, mibps);
        printf("  latency us: p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n", p50,
               p99, p999, max);
        printf("  errors %" PRIu64 ", mismatches %" PRIu64
               ", load generator busy %.0f%%\n",
               b->errors, b->mismatches, cpu * 100);
    }
    if (cpu > 0.95 && o->mode != MODE_IDLE)
        fprintf(stderr,
                "muxbench: warning: the load generator was busy %.0f%%"
                " of the time: it may be the bottleneck\n",
                cpu * 100);
    printf("RESULT mode=%s conns=%u active=%u size=%zu secs=%.3f rts=%" PRIu64
           " rps=%.1f mibps=%.2f p50_us=%.1f p99_us=%.1f p999_us=%.1f "
           "max_us=%.1f errors=%" PRIu64 " mismatches=%" PRIu64
           " rts_total=%" PRIu64 " client_cpu=%.3f\n",
           mode_names[o->mode], o->conns, o->active ? o->active : o->conns,
           o->size, secs, b->rts, rps, mibps, p50, p99, p999, max, b->errors,
           b->mismatches, b->rts_total, cpu);
}

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

static void usage(FILE *out) {
    fprintf(
        out,
        "Usage: muxbench [OPTION]... [HOST:]PORT\n"
        "Closed-loop load for an echo server; every byte is verified.\n"
        "\n"
        "  -m, --mode MODE      pingpong (default), churn, bulk or idle\n"
        "  -c, --conns N        connections (default 1)\n"
        "  -s, --size BYTES     message size (default 64; bulk 65536)\n"
        "  -d, --duration SEC   measure this long (default 5 without -n)\n"
        "  -n, --count N        stop after N measured round trips\n"
        "  -w, --warmup SEC     load before measuring (default 0)\n"
        "      --hold SEC       idle mode: hold the connections (default 1)\n"
        "      --active N       pingpong: only N connections keep sending, "
        "the\n"
        "                       others stay idle after one round trip\n"
        "      --think SEC      pingpong: each connection pauses 0.5-1.5 x "
        "SEC after\n"
        "                       a reply before its next message (an "
        "unsaturated load)\n"
        "  -t, --timeout SEC    longest wait for progress (default 5)\n"
        "  -q, --quiet          print only the RESULT line\n"
        "      --marks          print MEASURING when the measured time "
        "begins and\n"
        "                       MEASURED when it ends, as they happen (a "
        "script\n"
        "                       samples the server's CPU between them)\n"
        "  -h, --help           show this help and exit\n"
        "\n"
        "HOST defaults to 127.0.0.1; [V6ADDR]:PORT for IPv6. Idle mode "
        "prints \"holding N\n"
        "connections\" once every connection did one round trip.\n"
        "Exit status: 0 every byte verified, 1 errors or mismatches, 2 usage "
        "error.\n");
}

static _Noreturn void usage_error(const char *what, const char *arg) {
    fprintf(stderr,
            "muxbench: %s: '%s'\nTry 'muxbench --help' for more "
            "information.\n",
            what, arg);
    exit(EXIT_USAGE);
}

static double parse_seconds(const char *text, const char *what) {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !(v >= 0) || v > 1e6)
        usage_error(what, text);
    return v;
}

static uint64_t parse_count(const char *text, const char *what, uint64_t min,
                            uint64_t max) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v < min || v > max)
        usage_error(what, text);
    return (uint64_t)v;
}

static bench_mode parse_mode(const char *text) {
    for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
        if (strcmp(text, mode_names[i]) == 0)
            return (bench_mode)i;
    usage_error("unknown mode (pingpong, churn, bulk, idle)", text);
}

/* "PORT", "HOST:PORT" or "[V6]:PORT", resolved numerically or by name. */
static void parse_target(const char *text, options_t *o) {
    char host[256] = "127.0.0.1";
    const char *port = text, *colon = strrchr(text, ':');
    if (colon) {
        size_t len = (size_t)(colon - text);
        if (len >= 2 && text[0] == '[' && text[len - 1] == ']')
            text++, len -= 2;
        if (len == 0 || len >= sizeof(host))
            usage_error("invalid address", o->target);
        memcpy(host, text, len);
        host[len] = '\0';
        port = colon + 1;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    int err = getaddrinfo(host, port, &hints, &res);
    if (err) {
        fprintf(stderr, "muxbench: cannot resolve %s: %s\n", o->target,
                gai_strerror(err));
        exit(EXIT_USAGE);
    }
    memcpy(&o->addr, res->ai_addr, res->ai_addrlen);
    o->addr_len = res->ai_addrlen;
    freeaddrinfo(res);
}

static void parse_options(int argc, char **argv, options_t *o) {
    static const struct option longopts[] = {
        {"mode", required_argument, NULL, 'm'},
        {"conns", required_argument, NULL, 'c'},
        {"size", required_argument, NULL, 's'},
        {"duration", required_argument, NULL, 'd'},
        {"count", required_argument, NULL, 'n'},
        {"warmup", required_argument, NULL, 'w'},
        {"hold", required_argument, NULL, 'H'},
        {"active", required_argument, NULL, 'A'},
        {"think", required_argument, NULL, 'T'},
        {"timeout", required_argument, NULL, 't'},
        {"quiet", no_argument, NULL, 'q'},
        {"marks", no_argument, NULL, 'M'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int ch;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":m:c:s:d:n:w:t:qh", longopts,
                             NULL)) != -1) {
        switch (ch) {
        case 'm':
            o->mode = parse_mode(optarg);
            break;
        case 'c':
            o->conns = (unsigned)parse_count(optarg, "invalid connection count",
                                             1, 100000);
            break;
        case 's':
            o->size = (size_t)parse_count(optarg, "invalid size", 1, 1u << 26);
            break;
        case 'd':
            o->duration = parse_seconds(optarg, "invalid duration");
            break;
        case 'n':
            o->count = parse_count(optarg, "invalid count", 1, UINT64_MAX);
            break;
        case 'w':
            o->warmup = parse_seconds(optarg, "invalid warmup");
            break;
        case 'H':
            o->hold = parse_seconds(optarg, "invalid hold time");
            break;
        case 'A':
            o->active = (unsigned)parse_count(
                optarg, "invalid active connection count", 1, 100000);
            break;
        case 'T':
            o->think = parse_seconds(optarg, "invalid think time");
            break;
        case 't':
            o->timeout = parse_seconds(optarg, "invalid timeout");
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'M':
            o->marks = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case ':':
            usage_error("option needs an argument", argv[optind - 1]);
        default:
            usage_error("unknown option", argv[optind - 1]);
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "muxbench: expected one [HOST:]PORT\nTry 'muxbench "
                        "--help' for more information.\n");
        exit(EXIT_USAGE);
    }
    o->target = argv[optind];
    parse_target(o->target, o);
}

/* ------------------------------------------------------------------ */
/* Set-up                                                              */
/* ------------------------------------------------------------------ */

/* One socket per connection: raise the soft fd limit if it is short. */
static void raise_fd_limit(unsigned conns) {
    struct rlimit rl;
    rlim_t want = (rlim_t)conns + 64;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur =
        rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

/* Random bytes (xorshift64*): any byte value, nothing compressible. */
static void fill_pattern(char *p, size_t len) {
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < len; i++) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        p[i] = (char)((x * 0x2545f4914f6cdd1dull) >> 56);
    }
}

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n, size);
    if (!p) {
        fprintf(stderr, "muxbench: out of memory\n");
        exit(EXIT_RUNTIME);
    }
    return p;
}

static void bench_init(bench_t *b, const options_t *o) {
    memset(b, 0, sizeof(*b));
    b->opt = o;
    b->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (b->epfd < 0) {
        fprintf(stderr, "muxbench: epoll_create1: %s\n", strerror(errno));
        exit(EXIT_RUNTIME);
    }
    b->clients = xcalloc(o->conns, sizeof(*b->clients));
    for (unsigned i = 0; i < o->conns; i++) {
        b->clients[i].fd = -1;
        b->clients[i].id = i;
    }
    b->pattern = xcalloc(o->size + PATTERN_SPAN, 1);
    fill_pattern(b->pattern, o->size + PATTERN_SPAN);
    b->rx = xcalloc(o->size, 1);
}

int main(int argc, char **argv) {
    options_t opt = {
        .mode = MODE_PINGPONG, .conns = 1, .hold = 1, .timeout = 5};
    parse_options(argc, argv, &opt);
    if (!opt.size)
        opt.size = opt.mode == MODE_BULK ? 65536 : 64;
    if (opt.duration == 0 && opt.count == 0)
        opt.duration = 5;
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit(opt.conns);
    static bench_t bench; /* the histogram is large: not on the stack */
    bench_init(&bench, &opt);
    run(&bench);
    for (unsigned i = 0; i < opt.conns; i++)
        if (bench.clients[i].fd >= 0)
            close(bench.clients[i].fd);
    print_results(&bench);
    return bench.errors || bench.mismatches ? EXIT_RUNTIME : 0;
}
