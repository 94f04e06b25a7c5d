/*
 * echo.c -- every message back, as it came (RFC 862 over TCP and UDP). In
 * line framing the library cut each line's end off: it goes back as "\n".
 */
#include "services.h"

/* Kept apart, so that the raw path needs no stack frame of its own. */
MUXD_NOINLINE static void echo_line(mux_conn_t *conn, const char *data,
                                    size_t len) {
    muxd_client_t client = {.conn = conn};
    muxd_piece_t line[] = {{data, len}, {"\n", 1}};
    muxd_send(&client, line, 2);
}

static void echo_message(mux_conn_t *conn, const char *data, size_t len) {
    if (mux_conn_framing(conn) == MUX_FRAMING_LINE)
        echo_line(conn, data, len);
    else
        mux_conn_send(conn, data, len);
}

static void echo_datagram(mux_dgram_t *dgram, const char *data, size_t len) {
    mux_dgram_reply(dgram, data, len);
}

const muxd_service_t muxd_echo_service = {
    .callbacks =
        {
            .name = "echo",
            .framing = MUX_FRAMING_RAW,
            .message = echo_message,
            .datagram = echo_datagram,
        },
    .summary = "every message back (RFC 862)",
};
