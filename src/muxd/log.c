/*
 * log.c -- muxd's log lines.
 */
#define _POSIX_C_SOURCE 200809L

#include "log.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The escaped form of one byte, NUL-terminated, in esc[5]. */
static void escape_byte(unsigned char c, char esc[5]) {
    static const char hex[] = "0123456789abcdef";
    static const char from[] = "\n\r\t\\\"", to[] = "nrt\\\"";
    const char *special = c ? strchr(from, c) : NULL;
    memset(esc, 0, 5);
    if (special) {
        esc[0] = '\\';
        esc[1] = to[special - from];
    } else if (c < 0x20 || c > 0x7e) {
        esc[0] = '\\';
        esc[1] = 'x';
        esc[2] = hex[c >> 4];
        esc[3] = hex[c & 15];
    } else {
        esc[0] = (char)c;
    }
}

char *muxd_escape(const char *in, size_t len, char *out, size_t size) {
    if (size < 4) { /* no room for anything but the NUL */
        if (size)
            out[0] = '\0';
        return out;
    }
    size_t o = 0, cut = 0; /* cut: where "..." goes if the rest won't fit */
    for (size_t i = 0; i < len; i++) {
        char esc[5];
        escape_byte((unsigned char)in[i], esc);
        size_t n = strlen(esc);
        if (o + n > size - 1) {
            memcpy(out + cut, "...", 4);
            return out;
        }
        memcpy(out + o, esc, n);
        o += n;
        if (o <= size - 4) /* room for "..." and the NUL after this byte */
            cut = o;
    }
    out[o] = '\0';
    return out;
}

static void vlog(const char *fmt, va_list ap) {
    char line[1024];
    vsnprintf(line, sizeof(line), fmt, ap);
    fprintf(stderr, "muxd: %s\n", line);
}

void muxd_log_text(const muxd_log_t *log, muxd_log_level level, const char *fmt,
                   ...) {
    if (log->level < level)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
}

void muxd_log_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
}

static const char *plural(uint64_t n) { return n == 1 ? "" : "s"; }

void muxd_log_event(const muxd_log_t *log, const mux_event_t *ev) {
    char text[512];
    switch (ev->type) {
    case MUX_EV_LISTEN:
        muxd_log_text(log, MUXD_LOG_VERBOSE, "bound %s", ev->local);
        break;
    case MUX_EV_ACCEPT:
        muxd_log_text(log, MUXD_LOG_NORMAL,
                      "accepted %s on %s (%" PRIu64 " client%s)", ev->peer,
                      ev->local, ev->clients, plural(ev->clients));
        break;
    case MUX_EV_REFUSE:
        muxd_log_text(log, MUXD_LOG_NORMAL, "refused %s on %s: %s", ev->peer,
                      ev->local, ev->reason);
        break;
    case MUX_EV_CLOSE:
        muxd_log_text(log, MUXD_LOG_NORMAL,
                      "closed %s: %s (%" PRIu64 " bytes in, %" PRIu64
                      " bytes out, %" PRIu64 " ms)",
                      ev->peer, ev->reason, ev->bytes_in, ev->bytes_out,
                      ev->duration_ms);
        break;
    case MUX_EV_ERROR:
        if (ev->conn)
            muxd_log_text(log, MUXD_LOG_NORMAL, "%s: %s", ev->peer, ev->reason);
        else
            muxd_log_error("%s on %s: %s", ev->reason, ev->local,
                           mux_strerror(ev->err));
        break;
    case MUX_EV_SERVICE:
        muxd_log_text(log, MUXD_LOG_NORMAL, "%s: %s", ev->peer,
                      muxd_escape(ev->text, ev->text_len, text, sizeof(text)));
        break;
    case MUX_EV_SHUTDOWN:
        if (ev->clients == 0)
            break;
        muxd_log_text(log, MUXD_LOG_NORMAL,
                      "listeners closed, waiting for %" PRIu64 " client%s",
                      ev->clients, plural(ev->clients));
        break;
    case MUX_EV_DONE:
        muxd_log_text(log, MUXD_LOG_VERBOSE, "every client closed");
        break;
    }
}
