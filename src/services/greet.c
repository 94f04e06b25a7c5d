/*
 * greet.c -- the "thank you" server: one line on connect, then close.
 */
#include "services.h"

static void greet_open(mux_conn_t *conn) {
    const char *text =
        muxd_service_text(mux_conn_service_arg(conn), &muxd_greet_service);
    muxd_piece_t greeting[] = {muxd_piece(text), {"\n", 1}};
    muxd_send(conn, greeting, 2);
    mux_conn_close(conn, MUX_CLOSE_AFTER_FLUSH);
}

const mux_service_t muxd_greet_service = {
    .name = "greet",
    .summary = "send Thank you for connecting, close",
    .framing = MUX_FRAMING_RAW,
    .open = greet_open,
};
