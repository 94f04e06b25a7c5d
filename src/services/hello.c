/*
 * hello.c -- the welcome server: Welcome! on connect, then "Hello, NAME!"
 * for each message NAME, until the message "exit" or EOF. A message's
 * line end goes after the reply ("Bob\n" -> "Hello, Bob!\n").
 */
#define _POSIX_C_SOURCE 200809L

#include "services.h"

#include <stdbool.h>
#include <string.h>

static void hello_open(mux_conn_t *conn) {
    muxd_piece_t welcome[2];
    size_t n = muxd_text(mux_conn_service_arg(conn), &muxd_hello_service,
                         muxd_piece("\n"), welcome);
    muxd_send(conn, welcome, n);
}

static bool is_exit(muxd_piece_t body) {
    return body.len == 4 && memcmp(body.data, "exit", 4) == 0;
}

static void hello_message(mux_conn_t *conn, const char *data, size_t len) {
    muxd_line_t line = muxd_conn_line(conn, data, len);
    if (is_exit(line.body)) {
        mux_conn_close(conn, MUX_CLOSE_AFTER_FLUSH);
        return;
    }
    muxd_piece_t reply[] = {
        muxd_piece("Hello, "), line.body, {"!", 1}, line.end};
    muxd_send(conn, reply, 4);
}

/* Over UDP there is no session: no welcome, every datagram answered. */
static void hello_datagram(mux_dgram_t *dgram, const char *data, size_t len) {
    muxd_line_t line = muxd_split_line(data, len);
    muxd_piece_t reply[] = {
        muxd_piece("Hello, "), line.body, {"!", 1}, line.end};
    muxd_reply(dgram, reply, 4);
}

const mux_service_t muxd_hello_service = {
    .name = "hello",
    .summary = "Welcome!, then Hello, MESSAGE! until exit",
    .framing = MUX_FRAMING_AUTO,
    .open = hello_open,
    .message = hello_message,
    .datagram = hello_datagram,
};
