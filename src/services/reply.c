/*
 * reply.c -- the select() tutorial's server: every message is answered
 * "Hello, client!" (with the message's line end after it; a --text goes
 * out exactly as given).
 */
#include "services.h"

static void reply_message(mux_conn_t *conn, const char *data, size_t len) {
    muxd_piece_t reply[2];
    size_t n = muxd_text(mux_conn_service_arg(conn), &muxd_reply_service,
                         muxd_conn_line(conn, data, len).end, reply);
    muxd_send(conn, reply, n);
}

static void reply_datagram(mux_dgram_t *dgram, const char *data, size_t len) {
    muxd_piece_t reply[2];
    size_t n = muxd_text(mux_dgram_service_arg(dgram), &muxd_reply_service,
                         muxd_split_line(data, len).end, reply);
    muxd_reply(dgram, reply, n);
}

const mux_service_t muxd_reply_service = {
    .name = "reply",
    .summary = "answer every message Hello, client!",
    .framing = MUX_FRAMING_AUTO,
    .message = reply_message,
    .datagram = reply_datagram,
};
