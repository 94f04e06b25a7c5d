/*
 * framing.c -- how a stream's input is cut into messages: raw (each read
 * as it came), line (each line, its end dropped) or auto (a read without a
 * line end as it came, else lines with their ends), the longest line, and
 * the line timeout's clock (when the line being read began).
 *
 * It never calls the stream: it says where a line ends, keeps the
 * incomplete tail, and returns -EMSGSIZE or -ENOMEM; the stream serves
 * the messages and acts on the errors (it may be closed by any message).
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <errno.h>
#include <string.h>

void mux__framer_init(mux__framer_t *fr, mux_framing framing, size_t max_line,
                      uint64_t line_timeout_ms) {
    *fr = (mux__framer_t){
        .framing = framing,
        .max_line = max_line,
        .line_timeout_ms = framing == MUX_FRAMING_LINE ? line_timeout_ms : 0};
}

void mux__framer_free(mux__framer_t *fr) { mux__buf_free(&fr->in); }

bool mux__frame_whole(const mux__framer_t *fr, const char *data, size_t len) {
    return fr->in.len == 0 && len < MUX__SCRATCH_SIZE &&
           !memchr(data, '\n', len);
}

int mux__frame_join(mux__framer_t *fr, const char **data, size_t *len) {
    mux_buf_t *in = &fr->in;
    if (in->len == 0)
        return 0;
    if (mux__buf_append(in, *data, *len) < 0)
        return -ENOMEM;
    *data = mux__buf_head(in);
    *len = in->len;
    return 0;
}

ssize_t mux__frame_line(const mux__framer_t *fr, const char *data, size_t len,
                        size_t *msg_len) {
    const char *nl = memchr(data, '\n', len);
    if (!nl)
        return 0;
    size_t line = (size_t)(nl - data);
    if (line > 0 && data[line - 1] == '\r')
        line--;
    if (line > fr->max_line)
        return -EMSGSIZE;
    size_t taken = (size_t)(nl + 1 - data);
    *msg_len = fr->framing == MUX_FRAMING_AUTO ? taken : line;
    return (ssize_t)taken;
}

/* How long an incomplete line counts as: a final CR may be the first half
 * of a CRLF whose LF comes with the next read, so it does not count yet. */
static size_t tail_length(const mux_buf_t *in) {
    size_t len = in->len;
    if (len > 0 && mux__buf_head(in)[len - 1] == '\r')
        len--;
    return len;
}

int mux__frame_keep(mux__framer_t *fr, const char *data, size_t len,
                    size_t used) {
    mux_buf_t *in = &fr->in;
    if (in->len > 0)
        mux__buf_consume(in, used); /* data is `in` (mux__frame_join) */
    else if (used < len && mux__buf_append(in, data + used, len - used) < 0)
        return -ENOMEM;
    return tail_length(in) > fr->max_line ? -EMSGSIZE : 0;
}

void mux__frame_drop(mux__framer_t *fr) {
    mux__buf_consume(&fr->in, fr->in.len);
}

void mux__frame_noted(mux__framer_t *fr, size_t before, size_t len,
                      uint64_t now) {
    size_t after = fr->in.len;
    if (after > 0 && (before == 0 || after != before + len))
        fr->line_started = now;
}

bool mux__frame_overdue(const mux__framer_t *fr, uint64_t now) {
    return fr->line_timeout_ms && fr->in.len > 0 &&
           now - fr->line_started >= fr->line_timeout_ms;
}

uint64_t mux__frame_line_deadline(const mux__framer_t *fr, uint64_t now) {
    return (fr->in.len > 0 ? fr->line_started : now) + fr->line_timeout_ms;
}
