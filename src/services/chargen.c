/*
 * chargen.c -- RFC 864, the character generator. Line i (from 0) holds
 * the 72 printable ASCII characters (0x20..0x7e, 95 of them) starting at
 * the (i mod 95)-th, then CR LF: each line starts one character further.
 *
 * A producer: it writes only from its drain callback, which the library
 * calls while the client's pending output is at most half the watermark,
 * so a slow client holds a bounded amount of memory and a fast one gets a
 * bounded batch per loop turn. Input is ignored; the client's EOF does not
 * stop it (RFC 864: data goes until the client closes the connection).
 */
#define _POSIX_C_SOURCE 200809L

#include "services.h"

#include <stdlib.h>

#define LINE_CHARS 72
#define LINE_LEN (LINE_CHARS + 2) /* with CR LF */
#define PRINTABLE 95              /* ' ' .. '~' */
#define BATCH_LINES 128           /* per drain call: about 9 KiB */
#define DATAGRAM_LINES 6          /* 444 bytes: RFC 864 says at most 512 */

/* Writes line `index` (taken mod 95) of the pattern into `out`. */
static void pattern_line(unsigned index, char out[LINE_LEN]) {
    for (unsigned i = 0; i < LINE_CHARS; i++)
        out[i] = (char)(' ' + (index + i) % PRINTABLE);
    out[LINE_CHARS] = '\r';
    out[LINE_CHARS + 1] = '\n';
}

/* Lines first..first+count-1 into `out`; returns the next line's index. */
static unsigned pattern_lines(unsigned first, unsigned count, char *out) {
    for (unsigned i = 0; i < count; i++)
        pattern_line(first + i, out + (size_t)i * LINE_LEN);
    return (first + count) % PRINTABLE;
}

/* Per connection: the index of the next line to send. */
typedef struct {
    unsigned next_line;
} chargen_state_t;

static void chargen_open(mux_conn_t *conn) {
    chargen_state_t *state = calloc(1, sizeof(*state));
    if (!state) {
        mux_conn_log(conn, "out of memory", 13);
        mux_conn_close(conn, MUX_CLOSE_NOW);
        return;
    }
    mux_conn_set_data(conn, state);
}

static void chargen_drain(mux_conn_t *conn) {
    chargen_state_t *state = mux_conn_data(conn);
    char batch[BATCH_LINES * LINE_LEN];
    if (!state)
        return;
    unsigned next = pattern_lines(state->next_line, BATCH_LINES, batch);
    if (mux_conn_send(conn, batch, sizeof(batch)) == 0)
        state->next_line = next;
}

static void chargen_eof(mux_conn_t *conn) { (void)conn; }

static void chargen_close(mux_conn_t *conn) {
    free(mux_conn_data(conn));
    mux_conn_set_data(conn, NULL);
}

/* Over UDP: one datagram of the first six lines, whatever was sent. */
static void chargen_datagram(mux_dgram_t *dgram, const char *data, size_t len) {
    (void)data, (void)len;
    char lines[DATAGRAM_LINES * LINE_LEN];
    pattern_lines(0, DATAGRAM_LINES, lines);
    mux_dgram_reply(dgram, lines, sizeof(lines));
}

const muxd_service_t muxd_chargen_service = {
    .callbacks =
        {
            .name = "chargen",
            .framing = MUX_FRAMING_RAW,
            .open = chargen_open,
            .eof = chargen_eof,
            .drain = chargen_drain,
            .close = chargen_close,
            .datagram = chargen_datagram,
        },
    .summary = "rotating lines of printable ASCII (RFC 864)",
};
