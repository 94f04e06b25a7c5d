/*
 * chat.c -- a broker: each line a client sends goes to every other client
 * as "<userN> line"; joins and leaves are announced as "* userN joined" /
 * "* userN left", and a newcomer is told its name ("* you are userN").
 *
 * Each client has its own output queue in the library, so a slow reader
 * only ever delays itself: past the watermark its own input pauses, past
 * the hard cap it is dropped, and the others are served all along.
 */
#define _POSIX_C_SOURCE 200809L

#include "services.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* One message for everyone but its sender. */
typedef struct {
    mux_conn_t *sender;
    const muxd_piece_t *pieces;
    size_t n;
} broadcast_t;

static void send_to_other(mux_conn_t *conn, void *arg) {
    const broadcast_t *b = arg;
    if (conn != b->sender)
        muxd_send(conn, b->pieces, b->n);
}

static void broadcast(mux_conn_t *sender, const muxd_piece_t *pieces,
                      size_t n) {
    broadcast_t b = {sender, pieces, n};
    mux_server_foreach(mux_conn_server(sender), send_to_other, &b);
}

/* "* userN " + what + "\n" to the others. */
static void announce(mux_conn_t *conn, const char *what) {
    char line[64];
    snprintf(line, sizeof(line), "* user%" PRIu64 " %s\n", mux_conn_id(conn),
             what);
    muxd_piece_t piece = muxd_piece(line);
    broadcast(conn, &piece, 1);
}

static void chat_open(mux_conn_t *conn) {
    char line[64];
    snprintf(line, sizeof(line), "* you are user%" PRIu64 "\n",
             mux_conn_id(conn));
    mux_conn_send(conn, line, strlen(line));
    announce(conn, "joined");
}

/* Every line sent on ends in "\n", also for a read without one
 * (--framing raw). */
static void chat_message(mux_conn_t *conn, const char *data, size_t len) {
    char name[32];
    snprintf(name, sizeof(name), "<user%" PRIu64 "> ", mux_conn_id(conn));
    muxd_line_t line = muxd_conn_line(conn, data, len);
    muxd_piece_t pieces[] = {muxd_piece(name), line.body, {"\n", 1}};
    broadcast(conn, pieces, 3);
}

/* The library runs this with conn no longer open: foreach skips it. */
static void chat_close(mux_conn_t *conn) { announce(conn, "left"); }

const mux_service_t muxd_chat_service = {
    .name = "chat",
    .summary = "lines to every other client as <userN> line",
    .framing = MUX_FRAMING_LINE,
    .open = chat_open,
    .message = chat_message,
    .close = chat_close,
};
