/*
 * log.h -- muxd's log lines on stderr: events from the server, escaped so
 * that no byte from the network reaches a terminal raw.
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

typedef struct {
    muxd_log_level level;
} muxd_log_t;

/* Logs one server event, if the level asks for it. */
void muxd_log_event(const muxd_log_t *log, const mux_event_t *ev);

/* "muxd: " + the formatted text, if `level` is enabled. */
void muxd_log_text(const muxd_log_t *log, muxd_log_level level, const char *fmt,
                   ...) __attribute__((format(printf, 3, 4)));

/* "muxd: " + the formatted text, always. */
void muxd_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Writes `len` bytes of `in` to `out` (of `size` bytes, NUL-terminated) as
 * printable ASCII: \n \r \t \\ \" and \xNN for everything else outside
 * 0x20..0x7e. Cuts long input short with "..." at the end. Returns out.
 */
char *muxd_escape(const char *in, size_t len, char *out, size_t size);

#endif
