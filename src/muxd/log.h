/*
 * log.h -- muxd's log lines on stderr: events from the server, escaped so
 * that no byte from the network reaches a terminal raw, written without
 * ever blocking the loop.
 */
#ifndef MUXD_LOG_H
#define MUXD_LOG_H

#include "mux.h"

#include <stddef.h>

typedef enum {
    MUXD_LOG_QUIET = 0,   /* errors only */
    MUXD_LOG_NORMAL = 1,  /* clients coming and going */
    MUXD_LOG_VERBOSE = 2, /* and listeners, service chatter */
} muxd_log_level;

typedef enum {
    MUXD_LOG_TEXT = 0, /* "muxd: accepted ..." lines for people */
    MUXD_LOG_JSON = 1, /* one JSON object per line, for programs */
} muxd_log_format;

/* What the command line says of the log. */
typedef struct {
    muxd_log_level level;
    muxd_log_format format;
} muxd_log_t;

/*
 * Makes `log` the settings of every line below, the one place they are
 * kept: call it once the options are known (until then: text, the normal
 * level). `worker` is 1..N in a --workers process, whose lines say so,
 * and 0 otherwise.
 */
void muxd_log_init(const muxd_log_t *log, unsigned worker);

/*
 * Logs one server event, if the level asks for it. Text: the lines muxd
 * always printed. JSON: every event but at -q, as
 * {"ts":...,"pid":...,"event":"accept",...} (see docs/fixtures.md).
 */
void muxd_log_event(const mux_event_t *ev);

/* The SIGUSR1 line: the server's counters, whatever the level. */
void muxd_log_stats(const mux_server_stats_t *stats);

/* "muxd: " + the formatted text, if `level` is enabled (JSON: an "info"
 * event with the text as "message"). */
void muxd_log_text(muxd_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "muxd: " + the formatted text, always (JSON: an "error" event). */
void muxd_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * A relay's line about a client's upstream side (src/muxd/relay.c): the
 * client's address, the upstream's, what happened ("cannot connect",
 * "reset by upstream", ...) and the error (-errno; 0: none). Text:
 * "muxd: CLIENT: upstream UPSTREAM: REASON: ERROR"; JSON: an "upstream"
 * event with peer, upstream, reason and error.
 */
void muxd_log_upstream(muxd_log_level level, const char *client,
                       const char *upstream, const char *reason, int err);

/*
 * Queues `len` bytes of whole lines (--dump -) through the log's bounded
 * queue as they are, whatever the level and format: past the bound they
 * are dropped and counted like log lines.
 */
void muxd_log_raw(const char *text, size_t len);

/*
 * Log lines go to stderr through a bounded queue, never blocking (see
 * docs/design.md): what stderr does not take at once is written when it
 * becomes writable, watched by `loop`. Call with the loop once it exists,
 * and with NULL before freeing it. Lines past the bound are dropped and
 * counted; a line saying how many follows once output flows again.
 */
void muxd_log_attach(mux_loop_t *loop);

/* In a child after fork(): forgets the parent's queued lines (the parent
 * writes them) and its loop. */
void muxd_log_forked(void);

/*
 * Writes what is queued, waiting at most `timeout_ms` for stderr to take
 * it (what it does not take by then is lost). Called at exit (atexit).
 */
void muxd_log_flush(int timeout_ms);

#endif
