/*
 * reply.c -- the select() tutorial's server: every message is answered
 * "Hello, client!" (with the message's line end after it; a --text goes
 * out exactly as given).
 */
#include "services.h"

static void reply_reply(const muxd_client_t *client, const char *data,
                        size_t len) {
    muxd_piece_t reply[2];
    size_t n = muxd_text(client, muxd_line(client, data, len).end, reply);
    muxd_send(client, reply, n);
}

const muxd_service_t muxd_reply_service = {
    .callbacks = {.name = "reply",
                  .framing = MUX_FRAMING_AUTO,
                  .message = muxd_reply_to_message,
                  .datagram = muxd_reply_to_datagram},
    .summary = "answer every message Hello, client!",
    .text = "Hello, client!",
    .reply = reply_reply,
};
