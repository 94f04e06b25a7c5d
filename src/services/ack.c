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

/* Logs the message and answers it; a stream client is closed then. */
static void ack_reply(const muxd_client_t *client, const char *data,
                      size_t len) {
    muxd_line_t line = muxd_line(client, data, len);
    char log[256];
    muxd_log(client, log, received(log, sizeof(log), line.body));
    muxd_piece_t reply[2];
    muxd_send(client, reply, muxd_text(client, line.end, reply));
    muxd_end(client);
}

const muxd_service_t muxd_ack_service = {
    .callbacks = {.name = "ack",
                  .framing = MUX_FRAMING_RAW,
                  .message = muxd_reply_to_message,
                  .datagram = muxd_reply_to_datagram},
    .summary = "log the first message, answer ACK!, close",
    .text = "ACK!",
    .reply = ack_reply,
};
