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
    muxd_client_t client = {.conn = conn};
    muxd_piece_t welcome[2];
    muxd_send(&client, welcome, muxd_text(&client, muxd_piece("\n"), welcome));
}

static bool is_exit(muxd_piece_t body) {
    return body.len == 4 && memcmp(body.data, "exit", 4) == 0;
}

/* "exit" ends a stream's session; a datagram has none, so over UDP it is
 * a name like any other. */
static void hello_reply(const muxd_client_t *client, const char *data,
                        size_t len) {
    muxd_line_t line = muxd_line(client, data, len);
    if (is_exit(line.body) && muxd_end(client))
        return;
    muxd_piece_t reply[] = {
        muxd_piece("Hello, "), line.body, {"!", 1}, line.end};
    muxd_send(client, reply, 4);
}

/* Over UDP there is no session: no welcome, every datagram answered. */
const muxd_service_t muxd_hello_service = {
    .callbacks = {.name = "hello",
                  .framing = MUX_FRAMING_AUTO,
                  .open = hello_open,
                  .message = muxd_reply_to_message,
                  .datagram = muxd_reply_to_datagram},
    .summary = "Welcome!, then Hello, MESSAGE! until exit",
    .text = "Welcome!",
    .reply = hello_reply,
};
