/*
 * services.h -- the services muxd offers, one file each in this folder,
 * and the few helpers they share.
 */
#ifndef MUXD_SERVICES_H
#define MUXD_SERVICES_H

#include "mux.h"

#include <stddef.h>
#include <stdint.h>

/* Keeps a rare path out of its caller, whose common path stays short. */
#if defined(__GNUC__)
#define MUXD_NOINLINE __attribute__((noinline))
#else
#define MUXD_NOINLINE
#endif

/* What `--text` and friends hand to every service (opts.service_arg). */
typedef struct {
    const char *text;       /* replaces the service's fixed text, sent exactly
                               as given (escapes decoded); NULL: the default */
    size_t text_len;        /* its length: it may hold NUL bytes */
    size_t chat_memory;     /* chat: all queues together; 0: the default */
    uint64_t chat_stall_ms; /* chat: drop a client behind this long; 0: the
                               default */
} muxd_service_config_t;

/* chat: the memory its queued broadcasts may take, all clients together. */
#define MUXD_CHAT_MEMORY ((size_t)64 << 20)
/* chat: how long a client may hold the senders back before it is dropped. */
#define MUXD_CHAT_STALL_MS 10000

extern const mux_service_t muxd_echo_service;
extern const mux_service_t muxd_ack_service;
extern const mux_service_t muxd_hello_service;
extern const mux_service_t muxd_reply_service;
extern const mux_service_t muxd_greet_service;
extern const mux_service_t muxd_discard_service;
extern const mux_service_t muxd_chargen_service;
extern const mux_service_t muxd_daytime_service;
extern const mux_service_t muxd_time_service;
extern const mux_service_t muxd_chat_service;

/* Every service, NULL-terminated, in the order --help lists them. */
extern const mux_service_t *const muxd_services[];

/* The service called `name`, or NULL. */
const mux_service_t *muxd_service_find(const char *name);

/*
 * The fixed text of `service` that --text replaces ("ACK!" for ack), or
 * NULL for a service that has none.
 */
const char *muxd_service_default_text(const mux_service_t *service);

/* A run of bytes, one piece of a reply. */
typedef struct {
    const char *data;
    size_t len;
} muxd_piece_t;

/* A NUL-terminated string as a piece. */
muxd_piece_t muxd_piece(const char *text);

/*
 * The fixed text of `service` as it goes out, in out[0..1]: the config's
 * --text exactly as given (one piece, nothing added), or else the default
 * text followed by `end` (two pieces: "Welcome!", "\n"). `service_arg` is
 * the server's opts.service_arg (a muxd_service_config_t, or NULL).
 * Returns the number of pieces; 0 for a service without a fixed text.
 */
size_t muxd_text(const void *service_arg, const mux_service_t *service,
                 muxd_piece_t end, muxd_piece_t out[2]);

/*
 * A message cut in two: its body and its line end ("\r\n", "\n" or "").
 * The pieces point into the message.
 */
typedef struct {
    muxd_piece_t body, end;
} muxd_line_t;

/* Splits a trailing "\n" or "\r\n" off `data` (a datagram, a raw read). */
muxd_line_t muxd_split_line(const char *data, size_t len);

/*
 * The same for a stream message, so that a reply ends the way the
 * client's message did: in line framing the library already cut the end
 * off, and the end is "\n".
 */
muxd_line_t muxd_conn_line(const mux_conn_t *conn, const char *data,
                           size_t len);

/* The most pieces one reply may have. */
#define MUXD_MAX_PIECES 8

/*
 * Sends the `n` pieces as one message, without joining them (one
 * mux_conn_sendv(), so that they leave in one write when the socket takes
 * them). Returns what mux_conn_sendv() returns, or -EINVAL for more than
 * MUXD_MAX_PIECES.
 */
int muxd_send(mux_conn_t *conn, const muxd_piece_t *pieces, size_t n);

/* The same as one datagram reply (mux_dgram_replyv()). */
int muxd_reply(mux_dgram_t *dgram, const muxd_piece_t *pieces, size_t n);

#endif
