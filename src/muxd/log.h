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

typedef struct {
    muxd_log_level level;
    muxd_log_format format;
    unsigned worker; /* 1..N in a --workers process, 0 otherwise */
} muxd_log_t;

/*
 * Makes `log` the settings of muxd_log_error() and of every line below:
 * call it once the options are known (until then: text, no worker).
 */
void muxd_log_init(const muxd_log_t *log);

/*
 * Logs one server event, if the level asks for it. Text: the lines muxd
 * always printed. JSON: every event but at -q, as
 * {"ts":...,"pid":...,"event":"accept",...} (see docs/fixtures.md).
 */
void muxd_log_event(const muxd_log_t *log, const mux_event_t *ev);

/* The SIGUSR1 line: the server's counters, whatever the level. */
void muxd_log_stats(const muxd_log_t *log, const mux_server_stats_t *stats);

/* "muxd: " + the formatted text, if `level` is enabled (JSON: an "info"
 * event with the text as "message"). */
void muxd_log_text(const muxd_log_t *log, muxd_log_level level, const char *fmt,
                   ...) __attribute__((format(printf, 3, 4)));

/* "muxd: " + the formatted text, always (JSON: an "error" event). */
void muxd_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

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

/*
 * Writes `len` bytes of `in` to `out` (of `size` bytes, NUL-terminated) as
 * printable ASCII: \n \r \t \\ \" and \xNN for everything else outside
 * 0x20..0x7e. Cuts long input short with "..." at the end. Returns out.
 */
char *muxd_escape(const char *in, size_t len, char *out, size_t size);

#endif
