/*
 * reply.c -- the select() tutorial's server: every message is answered
 * "Hello, client!" (with the message's line end after it).
 */
#include "services.h"

static void reply_message(mux_conn_t *conn, const char *data, size_t len) {
    const char *text =
        muxd_service_text(mux_conn_service_arg(conn), &muxd_reply_service);
    muxd_piece_t reply[] = {muxd_piece(text),
                            muxd_conn_line(conn, data, len).end};
    muxd_send(conn, reply, 2);
}

static void reply_datagram(mux_dgram_t *dgram, const char *data, size_t len) {
    const char *text =
        muxd_service_text(mux_dgram_service_arg(dgram), &muxd_reply_service);
    muxd_piece_t reply[] = {muxd_piece(text), muxd_split_line(data, len).end};
    muxd_reply(dgram, reply, 2);
}

const mux_service_t muxd_reply_service = {
    .name = "reply",
    .summary = "answer every message Hello, client!",
    .framing = MUX_FRAMING_RAW,
    .message = reply_message,
    .datagram = reply_datagram,
};
