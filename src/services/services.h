/*
 * services.h -- the services muxd offers, one file each in this folder,
 * and the few helpers they share.
 */
#ifndef MUXD_SERVICES_H
#define MUXD_SERVICES_H

#include "mux.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Keeps a rare path out of its caller, whose common path stays short. */
#if defined(__GNUC__)
#define MUXD_NOINLINE __attribute__((noinline))
#else
#define MUXD_NOINLINE
#endif

typedef struct muxd_service muxd_service_t;

/* What muxd hands to every service (opts.service_arg): the service itself
 * (the adapter below finds its `reply` there), --text and the chat bounds. */
typedef struct {
    const muxd_service_t *service;
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

/*
 * Whom a reply goes to: a stream client, or the source of one datagram.
 * A service written once for both transports sees only this.
 */
typedef struct {
    mux_conn_t *conn;   /* a stream client, or NULL */
    mux_dgram_t *dgram; /* the datagram being answered, or NULL */
} muxd_client_t;

/*
 * One of muxd's services: the library's callbacks (with its name and
 * default framing), and what muxd itself keeps about it.
 */
struct muxd_service {
    mux_service_t callbacks;
    const char *summary; /* one line, for --help */
    const char *text;    /* the fixed text --text replaces, or NULL */
    /*
     * Written once for both transports: answers one message (a stream's,
     * or a datagram). The adapter's callbacks below call it; a service
     * whose transports truly differ (echo, chat, chargen) has its own
     * callbacks instead and leaves this NULL.
     */
    void (*reply)(const muxd_client_t *client, const char *data, size_t len);
};

/* The adapter: the library's callbacks for a service with a `reply`. */
void muxd_reply_to_message(mux_conn_t *conn, const char *data, size_t len);
void muxd_reply_to_datagram(mux_dgram_t *dgram, const char *data, size_t len);
/* As open: replies to the connection itself (to no message): daytime. */
void muxd_reply_on_open(mux_conn_t *conn);

extern const muxd_service_t muxd_echo_service;
extern const muxd_service_t muxd_ack_service;
extern const muxd_service_t muxd_hello_service;
extern const muxd_service_t muxd_reply_service;
extern const muxd_service_t muxd_greet_service;
extern const muxd_service_t muxd_discard_service;
extern const muxd_service_t muxd_chargen_service;
extern const muxd_service_t muxd_daytime_service;
extern const muxd_service_t muxd_time_service;
extern const muxd_service_t muxd_chat_service;

/* Every service, NULL-terminated, in the order --help lists them. */
extern const muxd_service_t *const muxd_services[];

/* The service called `name`, or NULL. */
const muxd_service_t *muxd_service_find(const char *name);

/* A run of bytes, one piece of a reply. */
typedef struct {
    const char *data;
    size_t len;
} muxd_piece_t;

/* A NUL-terminated string as a piece. */
muxd_piece_t muxd_piece(const char *text);

/*
 * The fixed text of the client's service as it goes out, in out[0..1]:
 * the config's --text exactly as given (one piece, nothing added), or
 * else the default text followed by `end` (two pieces: "Welcome!",
 * "\n"). Returns the number of pieces; 0 for a service without a fixed
 * text.
 */
size_t muxd_text(const muxd_client_t *client, muxd_piece_t end,
                 muxd_piece_t out[2]);

/*
 * A message cut in two: its body and its line end ("\r\n", "\n" or "").
 * The pieces point into the message.
 */
typedef struct {
    muxd_piece_t body, end;
} muxd_line_t;

/*
 * Splits a trailing "\n" or "\r\n" off a message, so that a reply ends
 * the way the client's message did; in a stream's line framing the
 * library already cut the end off, and the end is "\n".
 */
muxd_line_t muxd_line(const muxd_client_t *client, const char *data,
                      size_t len);

/* Logs `len` bytes of text about the client (a MUX_EV_SERVICE event). */
void muxd_log(const muxd_client_t *client, const char *text, size_t len);

/*
 * Ends the client's session: a stream is closed once its output is sent,
 * and true returned; a datagram has no session: false.
 */
bool muxd_end(const muxd_client_t *client);

/* The most pieces one reply may have. */
#define MUXD_MAX_PIECES 8

/*
 * Sends the `n` pieces as one message, without joining them: one
 * mux_conn_sendv() (they leave in one write when the socket takes them),
 * or one datagram (mux_dgram_replyv()). Returns what those return, or
 * -EINVAL for more than MUXD_MAX_PIECES.
 */
int muxd_send(const muxd_client_t *client, const muxd_piece_t *pieces,
              size_t n);

#endif
