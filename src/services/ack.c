/*
 * ack.c -- the "port listener": logs the first message it receives
 * ("received: ..."), answers ACK! and closes. Over UDP every datagram is
 * logged and answered.
 */
#define _POSIX_C_SOURCE 200809L

#include "services.h"

#include <string.h>

#define RECEIVED "received: "

/* Writes "received: " + `body` into buf, cut short at `size` bytes (the
 * log shows a message, it is not a transcript). Returns the length. */
static size_t received(char *buf, size_t size, muxd_piece_t body) {
    size_t n = strlen(RECEIVED);
    size_t take = body.len < size - n ? body.len : size - n;
    memcpy(buf, RECEIVED, n);
    if (take)
        memcpy(buf + n, body.data, take);
    return n + take;
}

static void ack_message(mux_conn_t *conn, const char *data, size_t len) {
    muxd_line_t line = muxd_conn_line(conn, data, len);
    char log[256];
    mux_conn_log(conn, log, received(log, sizeof(log), line.body));
    muxd_piece_t reply[2];
    size_t n = muxd_text(mux_conn_service_arg(conn), &muxd_ack_service,
                         line.end, reply);
    muxd_send(conn, reply, n);
    mux_conn_close(conn, MUX_CLOSE_AFTER_FLUSH);
}

static void ack_datagram(mux_dgram_t *dgram, const char *data, size_t len) {
    muxd_line_t line = muxd_split_line(data, len);
    char log[256];
    mux_dgram_log(dgram, log, received(log, sizeof(log), line.body));
    muxd_piece_t reply[2];
    size_t n = muxd_text(mux_dgram_service_arg(dgram), &muxd_ack_service,
                         line.end, reply);
    muxd_reply(dgram, reply, n);
}

const mux_service_t muxd_ack_service = {
    .name = "ack",
    .summary = "log the first message, answer ACK!, close",
    .framing = MUX_FRAMING_RAW,
    .message = ack_message,
    .datagram = ack_datagram,
};
