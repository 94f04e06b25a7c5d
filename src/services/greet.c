/*
 * greet.c -- the "thank you" server: its text on connect, then close.
 * The default ends in "\n"; a --text goes out exactly as given.
 */
#include "services.h"

/* Stream only: the greeting goes out as the client connects. */
static void greet_reply(const muxd_client_t *client, const char *data,
                        size_t len) {
    (void)data, (void)len;
    muxd_piece_t greeting[2];
    muxd_send(client, greeting, muxd_text(client, muxd_piece("\n"), greeting));
    muxd_end(client);
}

const muxd_service_t muxd_greet_service = {
    .callbacks = {.name = "greet",
                  .framing = MUX_FRAMING_RAW,
                  .open = muxd_reply_on_open},
    .summary = "send Thank you for connecting, close",
    .text = "Thank you for connecting",
    .reply = greet_reply,
};
