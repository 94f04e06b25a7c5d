/*
 * log.c -- muxd's log lines: text for people, or one JSON object per line
 * for programs (--log-format json).
 */
#define _POSIX_C_SOURCE 200809L

#include "log.h"
#include "escape.h"
#include "json.h"
#include "outfd.h"
#include "timestamp.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The log's settings: every line is written by them. */
static struct {
    muxd_log_t log;
    unsigned worker; /* 1..N in a --workers process, 0 otherwise */
} settings = {.log = {.level = MUXD_LOG_NORMAL}};

static void queue_line(const char *line, size_t len);

void muxd_log_init(const muxd_log_t *log, unsigned worker) {
    settings.log = *log;
    settings.worker = worker;
}

/* ------------------------------------------------------------------ */
/* JSON lines                                                          */
/* ------------------------------------------------------------------ */

/* One JSON line being built; `len` never passes JSON_MAX (room is kept
 * for the closing "}\n"), and every string is escaped to fit. */
#define JSON_MAX 4093
typedef struct {
    char buf[JSON_MAX + 3];
    size_t len;
} json_line_t;

static void json_raw(json_line_t *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void json_raw(json_line_t *j, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(j->buf + j->len, JSON_MAX + 1 - j->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        j->len += (size_t)n < JSON_MAX - j->len ? (size_t)n : JSON_MAX - j->len;
}

static void json_begin(json_line_t *j, const char *event) {
    char ts[TIMESTAMP_MAX];
    timestamp_utc(ts, 3); /* 2024-05-01T12:00:00.123Z */
    j->len = 0;
    json_raw(j, "{\"ts\":\"%s\",\"pid\":%ld", ts, (long)getpid());
    if (settings.worker)
        json_raw(j, ",\"worker\":%u", settings.worker);
    json_raw(j, ",\"event\":\"%s\"", event);
}

static void json_bytes(json_line_t *j, const char *key, const char *data,
                       size_t len) {
    char esc[1536];
    json_raw(j, ",\"%s\":\"%s\"", key,
             muxd_json_escape(data, len, esc, sizeof(esc)));
}

static void json_string(json_line_t *j, const char *key, const char *text) {
    json_bytes(j, key, text, strlen(text));
}

static void json_number(json_line_t *j, const char *key, uint64_t n) {
    json_raw(j, ",\"%s\":%" PRIu64, key, n);
}

/* Ends the line and queues it whole: lines of several processes
 * (--workers) never mix. */
static void json_end(json_line_t *j) {
    memcpy(j->buf + j->len, "}\n", 2);
    queue_line(j->buf, j->len + 2);
}

/* ------------------------------------------------------------------ */
/* The queue between the log and stderr                                */
/* ------------------------------------------------------------------ */

/* Lines waiting for stderr to take them. Past this, lines are dropped and
 * counted: a reader that stopped reading must not stop muxd. */
#define QUEUE_MAX (64 * 1024)
/* How long muxd waits at exit for stderr to take what is queued. */
#define EXIT_FLUSH_MS 100

static struct {
    outfd_t out;
    bool opened;
    mux_loop_t *loop; /* watches out.fd for writability while lines wait */
    bool watched;
    char buf[QUEUE_MAX];
    size_t off, len;
    uint64_t dropped; /* lines dropped since output last flowed */
} queue;

static void flush_at_exit(void) { muxd_log_flush(EXIT_FLUSH_MS); }

static void open_output(void) {
    if (queue.opened)
        return;
    queue.opened = true;
    outfd_open(&queue.out, STDERR_FILENO);
    atexit(flush_at_exit);
}

/* Appends a whole line if it fits. */
static bool queue_put(const char *line, size_t len) {
    if (len > QUEUE_MAX - queue.len)
        return false;
    if (queue.off + queue.len + len > QUEUE_MAX) {
        memmove(queue.buf, queue.buf + queue.off, queue.len);
        queue.off = 0;
    }
    memcpy(queue.buf + queue.off + queue.len, line, len);
    queue.len += len;
    return true;
}

/* "muxd: TEXT\n", or "muxd: worker N: TEXT\n" in a worker. */
static size_t text_line(const char *text, char *out, size_t size) {
    int n = settings.worker ? snprintf(out, size, "muxd: worker %u: %s\n",
                                       settings.worker, text)
                            : snprintf(out, size, "muxd: %s\n", text);
    if (n < 0)
        return 0;
    if ((size_t)n >= size) { /* cut short: keep the line end */
        out[size - 2] = '\n';
        return size - 1;
    }
    return (size_t)n;
}

/* Queues the line that says how many lines were dropped, if there is room:
 * it goes where they would have been. */
static void queue_dropped_notice(void) {
    char line[256];
    size_t len;
    if (settings.log.format == MUXD_LOG_JSON) {
        json_line_t j;
        json_begin(&j, "log_dropped");
        json_number(&j, "lines", queue.dropped);
        memcpy(j.buf + j.len, "}\n", 2);
        len = j.len + 2 < sizeof(line) ? j.len + 2 : 0;
        memcpy(line, j.buf, len);
    } else {
        char text[128];
        snprintf(text, sizeof(text),
                 "%" PRIu64 " log line%s dropped: stderr was not read",
                 queue.dropped, queue.dropped == 1 ? "" : "s");
        len = text_line(text, line, sizeof(line));
    }
    if (queue_put(line, len))
        queue.dropped = 0;
}

/* The bytes to write next: whole lines, at most PIPE_BUF bytes of them, so
 * that each write is atomic on a pipe that workers share; a longer line
 * goes alone. */
static size_t next_batch(void) {
    const char *p = queue.buf + queue.off;
    size_t max = queue.len < PIPE_BUF ? queue.len : PIPE_BUF;
    for (size_t i = max; i > 0; i--)
        if (p[i - 1] == '\n')
            return i;
    const char *end = memchr(p, '\n', queue.len);
    return end ? (size_t)(end - p) + 1 : queue.len;
}

/* Writes what stderr takes now. Returns false while it takes no more. */
static bool flush_now(void) {
    while (queue.len > 0 || queue.dropped > 0) {
        if (queue.len == 0) {
            queue_dropped_notice(); /* output flows again: say so */
            continue;
        }
        ssize_t n =
            outfd_write(&queue.out, queue.buf + queue.off, next_batch());
        if (n == -EAGAIN)
            return false;
        if (n < 0) { /* EPIPE, ENOSPC...: nobody will read these */
            queue.len = 0;
            queue.dropped = 0;
            return true;
        }
        queue.off += (size_t)n;
        queue.len -= (size_t)n;
    }
    return true;
}

static void on_writable(mux_loop_t *loop, int fd, int events, void *arg);

/* Watches stderr for writability exactly while lines wait. */
static void update_watch(void) {
    bool want = queue.loop && queue.len > 0;
    if (want == queue.watched)
        return;
    if (want)
        queue.watched = mux_watch(queue.loop, queue.out.fd, MUX_WRITE,
                                  on_writable, NULL) == 0;
    else {
        mux_unwatch(queue.loop, queue.out.fd);
        queue.watched = false;
    }
}

static void on_writable(mux_loop_t *loop, int fd, int events, void *arg) {
    (void)loop;
    (void)fd;
    (void)events;
    (void)arg;
    flush_now();
    update_watch();
}

/* Queues one whole line and writes what stderr takes now; a line that
 * does not fit is dropped and counted, and so is every line after it
 * until the notice of the drops fits. */
static void queue_line(const char *line, size_t len) {
    open_output();
    if (queue.dropped)
        queue_dropped_notice();
    if (queue.dropped || !queue_put(line, len)) {
        queue.dropped++;
        return;
    }
    if (!queue.watched)
        flush_now();
    update_watch();
}

void muxd_log_attach(mux_loop_t *loop) {
    if (queue.watched)
        mux_unwatch(queue.loop, queue.out.fd);
    queue.watched = false;
    queue.loop = loop;
    open_output();
    update_watch();
}

void muxd_log_forked(void) {
    queue.off = queue.len = 0;
    queue.dropped = 0;
    queue.loop = NULL;
    queue.watched = false;
}

/* Milliseconds on the monotonic clock. */
static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void muxd_log_flush(int timeout_ms) {
    if (!queue.opened)
        return;
    queue.loop = NULL; /* the loop may be gone: no more watching */
    queue.watched = false;
    int64_t deadline = now_ms() + timeout_ms;
    while (!flush_now()) {
        int64_t left = deadline - now_ms();
        if (left <= 0 || outfd_wait(&queue.out, (int)left) <= 0)
            return;
    }
}

/* ------------------------------------------------------------------ */
/* Free-form lines                                                     */
/* ------------------------------------------------------------------ */

static void vlog(const char *event, const char *fmt, va_list ap) {
    char line[1024];
    vsnprintf(line, sizeof(line), fmt, ap);
    if (settings.log.format == MUXD_LOG_JSON) {
        json_line_t j;
        json_begin(&j, event);
        json_string(&j, "message", line);
        json_end(&j);
    } else {
        char text[1100];
        queue_line(text, text_line(line, text, sizeof(text)));
    }
}

void muxd_log_text(muxd_log_level level, const char *fmt, ...) {
    if (settings.log.level < level)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog("info", fmt, ap);
    va_end(ap);
}

void muxd_log_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog("error", fmt, ap);
    va_end(ap);
}

void muxd_log_raw(const char *text, size_t len) {
    if (len > 0)
        queue_line(text, len);
}

void muxd_log_upstream(muxd_log_level level, const char *client,
                       const char *upstream, const char *reason, int err) {
    if (settings.log.level < level)
        return;
    if (settings.log.format == MUXD_LOG_TEXT) {
        muxd_log_text(level, "%s: upstream %s: %s%s%s", client, upstream,
                      reason, err ? ": " : "", err ? mux_strerror(err) : "");
        return;
    }
    json_line_t j;
    json_begin(&j, "upstream");
    json_string(&j, "peer", client);
    json_string(&j, "upstream", upstream);
    json_string(&j, "reason", reason);
    if (err)
        json_string(&j, "error", mux_strerror(err));
    json_end(&j);
}

/* ------------------------------------------------------------------ */
/* Server events                                                       */
/* ------------------------------------------------------------------ */

static const char *plural(uint64_t n) { return n == 1 ? "" : "s"; }

/* "refused ADDR on ADDR: REASON"; a datagram's with "udp", and a summary
 * of refusals not logged on their own with their count. */
static void text_refusal(const mux_event_t *ev) {
    if (ev->transport != MUX_UDP) {
        muxd_log_text(MUXD_LOG_NORMAL, "refused %s on %s: %s", ev->peer,
                      ev->local, ev->reason);
        return;
    }
    char more[64] = "";
    if (ev->repeats)
        snprintf(more, sizeof(more), " (and %" PRIu64 " more not logged)",
                 ev->repeats);
    if (ev->peer[0])
        muxd_log_text(MUXD_LOG_NORMAL, "refused udp %s on %s: %s%s", ev->peer,
                      ev->local, ev->reason, more);
    else
        muxd_log_text(MUXD_LOG_NORMAL, "refused udp: %s%s", ev->reason, more);
}

/* The lines muxd printed before JSON existed: keep them as they are. */
static void text_event(const mux_event_t *ev) {
    char text[512];
    switch (ev->type) {
    case MUX_EV_LISTEN:
        muxd_log_text(MUXD_LOG_VERBOSE, "bound %s", ev->local);
        break;
    case MUX_EV_ACCEPT:
        muxd_log_text(MUXD_LOG_NORMAL,
                      "accepted %s on %s (%" PRIu64 " client%s)", ev->peer,
                      ev->local, ev->clients, plural(ev->clients));
        break;
    case MUX_EV_REFUSE:
        text_refusal(ev);
        break;
    case MUX_EV_CLOSE:
        muxd_log_text(MUXD_LOG_NORMAL,
                      "closed %s: %s (%" PRIu64 " bytes in, %" PRIu64
                      " bytes out, %" PRIu64 " ms)",
                      ev->peer, ev->reason, ev->bytes_in, ev->bytes_out,
                      ev->duration_ms);
        break;
    case MUX_EV_ERROR:
        if (ev->conn)
            muxd_log_text(MUXD_LOG_NORMAL, "%s: %s", ev->peer, ev->reason);
        else
            muxd_log_error("%s on %s: %s", ev->reason, ev->local,
                           mux_strerror(ev->err));
        break;
    case MUX_EV_SERVICE:
        muxd_log_text(MUXD_LOG_NORMAL, "%s: %s", ev->peer,
                      text_escape(ev->text, ev->text_len, text, sizeof(text)));
        break;
    case MUX_EV_SHUTDOWN:
        if (ev->clients == 0)
            break;
        muxd_log_text(MUXD_LOG_NORMAL,
                      "listeners closed, waiting for %" PRIu64 " client%s",
                      ev->clients, plural(ev->clients));
        break;
    case MUX_EV_DONE:
        muxd_log_text(MUXD_LOG_VERBOSE, "every client closed");
        break;
    }
}

static const char *const event_names[] = {
    [MUX_EV_LISTEN] = "listen",     [MUX_EV_ACCEPT] = "accept",
    [MUX_EV_REFUSE] = "refuse",     [MUX_EV_CLOSE] = "close",
    [MUX_EV_ERROR] = "error",       [MUX_EV_SERVICE] = "service",
    [MUX_EV_SHUTDOWN] = "shutdown", [MUX_EV_DONE] = "done"};

/* The members each event has, under the names docs/fixtures.md lists. */
static void json_members(json_line_t *j, const mux_event_t *ev) {
    static const char *const transports[] = {"", "tcp", "udp", "unix"};
    if (ev->transport >= MUX_TCP && ev->transport <= MUX_UNIX)
        json_string(j, "transport", transports[ev->transport]);
    if (ev->peer[0])
        json_string(j, "peer", ev->peer);
    if (ev->local[0])
        json_string(j, "local", ev->local);
    if (ev->reason[0])
        json_string(j, "reason", ev->reason);
    if (ev->type == MUX_EV_ERROR && ev->err)
        json_string(j, "error", mux_strerror(ev->err));
    if (ev->type == MUX_EV_CLOSE) {
        json_number(j, "bytes_in", ev->bytes_in);
        json_number(j, "bytes_out", ev->bytes_out);
        json_number(j, "duration_ms", ev->duration_ms);
    }
    if (ev->type == MUX_EV_SERVICE)
        json_bytes(j, "text", ev->text ? ev->text : "", ev->text_len);
    if (ev->type == MUX_EV_REFUSE && ev->repeats)
        json_number(j, "repeats", ev->repeats);
    if (ev->type != MUX_EV_LISTEN && ev->type != MUX_EV_SERVICE)
        json_number(j, "clients", ev->clients);
}

/* Every event but at -q, where only errors that cost no client remain. */
static void json_event(const mux_event_t *ev) {
    bool quiet_error = ev->type == MUX_EV_ERROR && !ev->conn;
    if (settings.log.level < MUXD_LOG_NORMAL && !quiet_error)
        return;
    if (ev->type < MUX_EV_LISTEN || ev->type > MUX_EV_DONE)
        return;
    json_line_t j;
    json_begin(&j, event_names[ev->type]);
    json_members(&j, ev);
    json_end(&j);
}

void muxd_log_event(const mux_event_t *ev) {
    if (settings.log.format == MUXD_LOG_JSON)
        json_event(ev);
    else
        text_event(ev);
}

/* The admission limits' part of the stats line: only what happened. */
static void text_limits(const mux_server_stats_t *st, char *out, size_t size) {
    size_t n = 0;
    if (st->refused_per_source || st->refused_rate)
        n += (size_t)snprintf(out + n, size - n,
                              " (%" PRIu64 " per source, %" PRIu64 " rate)",
                              st->refused_per_source, st->refused_rate);
    if (n < size &&
        (st->dgram_denied || st->dgram_guarded || st->dgram_over_budget))
        snprintf(out + n, size - n,
                 "; datagrams unanswered: %" PRIu64 " denied, %" PRIu64
                 " reflection guard, %" PRIu64 " over budget",
                 st->dgram_denied, st->dgram_guarded, st->dgram_over_budget);
}

void muxd_log_stats(const mux_server_stats_t *st) {
    if (settings.log.format == MUXD_LOG_TEXT) {
        char limits[200] = "";
        text_limits(st, limits, sizeof(limits));
        muxd_log_error("stats: %" PRIu64 " client%s now, %" PRIu64
                       " accepted, %" PRIu64 " refused, %" PRIu64
                       " bytes in, %" PRIu64 " bytes out%s",
                       st->clients, plural(st->clients), st->accepted,
                       st->refused, st->bytes_in, st->bytes_out, limits);
        return;
    }
    json_line_t j;
    json_begin(&j, "stats");
    json_number(&j, "clients", st->clients);
    json_number(&j, "accepted", st->accepted);
    json_number(&j, "refused", st->refused);
    json_number(&j, "bytes_in", st->bytes_in);
    json_number(&j, "bytes_out", st->bytes_out);
    json_number(&j, "refused_per_source", st->refused_per_source);
    json_number(&j, "refused_rate", st->refused_rate);
    json_number(&j, "dgram_denied", st->dgram_denied);
    json_number(&j, "dgram_guarded", st->dgram_guarded);
    json_number(&j, "dgram_over_budget", st->dgram_over_budget);
    json_end(&j);
}
