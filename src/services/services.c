/*
 * services.c -- the table of muxd's services, the adapter that serves a
 * service written once over both transports, and the helpers its replies
 * are built with.
 */
#define _POSIX_C_SOURCE 200809L

#include "services.h"

#include <errno.h>
#include <string.h>

const muxd_service_t *const muxd_services[] = {
    &muxd_echo_service,
    &muxd_ack_service,
    &muxd_hello_service,
    &muxd_reply_service,
    &muxd_greet_service,
    &muxd_discard_service,
    &muxd_chargen_service,
    &muxd_daytime_service,
    &muxd_time_service,
    &muxd_chat_service,
    NULL,
};

const muxd_service_t *muxd_service_find(const char *name) {
    for (size_t i = 0; muxd_services[i]; i++)
        if (strcmp(muxd_services[i]->callbacks.name, name) == 0)
            return muxd_services[i];
    return NULL;
}

/* ------------------------------------------------------------------ */
/* The adapter: one `reply` as the library's callbacks                 */
/* ------------------------------------------------------------------ */

static const muxd_service_config_t *config_of(const muxd_client_t *client) {
    return client->conn ? mux_conn_service_arg(client->conn)
                        : mux_dgram_service_arg(client->dgram);
}

void muxd_reply_to_message(mux_conn_t *conn, const char *data, size_t len) {
    muxd_client_t client = {.conn = conn};
    config_of(&client)->service->reply(&client, data, len);
}

void muxd_reply_to_datagram(mux_dgram_t *dgram, const char *data, size_t len) {
    muxd_client_t client = {.dgram = dgram};
    config_of(&client)->service->reply(&client, data, len);
}

void muxd_reply_on_open(mux_conn_t *conn) {
    muxd_reply_to_message(conn, "", 0);
}

/* ------------------------------------------------------------------ */
/* Building replies                                                    */
/* ------------------------------------------------------------------ */

muxd_piece_t muxd_piece(const char *text) {
    return (muxd_piece_t){text, strlen(text)};
}

size_t muxd_text(const muxd_client_t *client, muxd_piece_t end,
                 muxd_piece_t out[2]) {
    const muxd_service_config_t *config = config_of(client);
    if (config->text) {
        out[0] = (muxd_piece_t){config->text, config->text_len};
        return 1;
    }
    if (!config->service->text)
        return 0;
    out[0] = muxd_piece(config->service->text);
    out[1] = end;
    return 2;
}

muxd_line_t muxd_line(const muxd_client_t *client, const char *data,
                      size_t len) {
    if (client->conn && mux_conn_framing(client->conn) == MUX_FRAMING_LINE)
        return (muxd_line_t){{data, len}, {"\n", 1}};
    size_t end = 0;
    if (len >= 1 && data[len - 1] == '\n')
        end = len >= 2 && data[len - 2] == '\r' ? 2 : 1;
    return (muxd_line_t){{data, len - end}, {data + len - end, end}};
}

void muxd_log(const muxd_client_t *client, const char *text, size_t len) {
    if (client->conn)
        mux_conn_log(client->conn, text, len);
    else
        mux_dgram_log(client->dgram, text, len);
}

bool muxd_end(const muxd_client_t *client) {
    if (client->conn)
        mux_conn_close(client->conn, MUX_CLOSE_AFTER_FLUSH);
    return client->conn != NULL;
}

int muxd_send(const muxd_client_t *client, const muxd_piece_t *pieces,
              size_t n) {
    struct iovec iov[MUXD_MAX_PIECES];
    if (n > MUXD_MAX_PIECES)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        iov[i] = (struct iovec){(void *)pieces[i].data, pieces[i].len};
    return client->conn ? mux_conn_sendv(client->conn, iov, (int)n)
                        : mux_dgram_replyv(client->dgram, iov, (int)n);
}
