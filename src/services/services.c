/*
 * services.c -- the table of muxd's services, their fixed texts, and the
 * helpers they share to build replies.
 */
#define _POSIX_C_SOURCE 200809L

#include "services.h"

#include <errno.h>
#include <string.h>

const mux_service_t *const muxd_services[] = {
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

/* The texts --text replaces: one place, read by the services and --help. */
static const struct {
    const mux_service_t *service;
    const char *text;
} fixed_texts[] = {
    {&muxd_ack_service, "ACK!"},
    {&muxd_hello_service, "Welcome!"},
    {&muxd_reply_service, "Hello, client!"},
    {&muxd_greet_service, "Thank you for connecting"},
};

const mux_service_t *muxd_service_find(const char *name) {
    for (size_t i = 0; muxd_services[i]; i++)
        if (strcmp(muxd_services[i]->name, name) == 0)
            return muxd_services[i];
    return NULL;
}

const char *muxd_service_default_text(const mux_service_t *service) {
    for (size_t i = 0; i < sizeof(fixed_texts) / sizeof(fixed_texts[0]); i++)
        if (fixed_texts[i].service == service)
            return fixed_texts[i].text;
    return NULL;
}

muxd_piece_t muxd_piece(const char *text) {
    return (muxd_piece_t){text, strlen(text)};
}

size_t muxd_text(const void *service_arg, const mux_service_t *service,
                 muxd_piece_t end, muxd_piece_t out[2]) {
    const muxd_service_config_t *config = service_arg;
    if (config && config->text) {
        out[0] = (muxd_piece_t){config->text, config->text_len};
        return 1;
    }
    const char *text = muxd_service_default_text(service);
    if (!text)
        return 0;
    out[0] = muxd_piece(text);
    out[1] = end;
    return 2;
}

muxd_line_t muxd_split_line(const char *data, size_t len) {
    size_t end = 0;
    if (len >= 1 && data[len - 1] == '\n')
        end = len >= 2 && data[len - 2] == '\r' ? 2 : 1;
    return (muxd_line_t){{data, len - end}, {data + len - end, end}};
}

muxd_line_t muxd_conn_line(const mux_conn_t *conn, const char *data,
                           size_t len) {
    if (mux_conn_framing(conn) == MUX_FRAMING_LINE)
        return (muxd_line_t){{data, len}, {"\n", 1}};
    return muxd_split_line(data, len);
}

/* The pieces as the library's iovecs: at most MUXD_MAX_PIECES. */
static int to_iovecs(const muxd_piece_t *pieces, size_t n, struct iovec *iov) {
    if (n > MUXD_MAX_PIECES)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        iov[i] = (struct iovec){(void *)pieces[i].data, pieces[i].len};
    return (int)n;
}

int muxd_send(mux_conn_t *conn, const muxd_piece_t *pieces, size_t n) {
    struct iovec iov[MUXD_MAX_PIECES];
    int count = to_iovecs(pieces, n, iov);
    return count < 0 ? count : mux_conn_sendv(conn, iov, count);
}

int muxd_reply(mux_dgram_t *dgram, const muxd_piece_t *pieces, size_t n) {
    struct iovec iov[MUXD_MAX_PIECES];
    int count = to_iovecs(pieces, n, iov);
    return count < 0 ? count : mux_dgram_replyv(dgram, iov, count);
}
