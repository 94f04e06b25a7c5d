/*
 * greet.c -- the "thank you" server: its text on connect, then close.
 * The default ends in "\n"; a --text goes out exactly as given.
 */
#include "services.h"

static void greet_open(mux_conn_t *conn) {
    muxd_piece_t greeting[2];
    size_t n = muxd_text(mux_conn_service_arg(conn), &muxd_greet_service,
                         muxd_piece("\n"), greeting);
    muxd_send(conn, greeting, n);
    mux_conn_close(conn, MUX_CLOSE_AFTER_FLUSH);
}

const mux_service_t muxd_greet_service = {
    .name = "greet",
    .summary = "send Thank you for connecting, close",
    .framing = MUX_FRAMING_RAW,
    .open = greet_open,
};
