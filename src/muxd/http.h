/*
 * http.h -- the HTTP/1.1 server muxd's toxiproxy-compatible API runs on:
 * a pure, incremental request parser (muxd_http_parse()) and a server on
 * muxd's own loop (muxd_http_start()) that cuts each client's bytes into
 * requests, hands each to one handler and writes its JSON response.
 *
 * What it bounds, per client: the request head (MUXD_HTTP_MAX_HEADER), the
 * body (MUXD_HTTP_MAX_BODY: only Content-Length bodies, no chunked ones),
 * the time a started request may take to arrive, the time a keep-alive
 * connection may sit idle, and the output a client may leave unread (past
 * the server's high watermark its pipelined requests wait and it is not
 * read; the library drops it at 16 times the watermark). And the clients
 * at once. A slow, silent or hostile client costs its own connection, never
 * the loop: nothing here blocks.
 */
#ifndef MUXD_HTTP_H
#define MUXD_HTTP_H

#include "http_parse.h"
#include "mux.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Clients at once; one more gets a 503 and a close. */
#define MUXD_HTTP_MAX_CLIENTS 1024
/* A keep-alive connection with nothing to do is closed after this long:
 * toxiproxy's own (its http.Server's IdleTimeout), so clients that pool
 * connections against toxiproxy see the same server-side closes. */
#define MUXD_HTTP_IDLE_MS 60000
/* A request begun must have arrived in full this long after its first
 * byte (toxiproxy's ReadTimeout): else 408 and a close, so a client that
 * trickles bytes cannot hold a slot forever, which the idle timeout alone
 * does not prevent. */
#define MUXD_HTTP_REQUEST_MS 15000
/* The high watermark of a client's unread output (the library's pause
 * and, at 16 times it, 4 MiB, its drop). */
#define MUXD_HTTP_MAX_OUTPUT (256 * 1024)

typedef struct muxd_http muxd_http_t;

/* A response. `body` is JSON text (or `content_type`'s), copied before the
 * handler's caller returns: the handler may reuse its buffer. One
 * response past 16 times the watermark (4 MiB with the defaults) cannot be
 * queued: the client is dropped ("output overflow") instead. */
typedef struct {
    int status;       /* 200..599 */
    const char *body; /* NULL or len 0: none (always none for 204) */
    size_t len;
    const char *content_type; /* NULL: "application/json" */
} muxd_http_response_t;

/*
 * Answers one request: fills *res (zeroed before the call). Runs on the
 * loop, so must not block; it may not free the server.
 */
typedef void muxd_http_handler_t(void *arg, const muxd_http_request_t *req,
                                 muxd_http_response_t *res);

/* The server's limits; every 0 means the MUXD_HTTP_* default. */
typedef struct {
    unsigned max_clients;
    uint64_t idle_timeout_ms;
    uint64_t request_timeout_ms;
    size_t max_output;
} muxd_http_limits_t;

/* Returned for a non-loopback address without allow_remote. */
#define MUXD_HTTP_EREMOTE (-4101)

/*
 * Listens on `addr` (mux_addr_parse() syntax; a bare port or ":PORT" means
 * 127.0.0.1; port 0 picks one; unix:/path too) and serves each request on
 * `loop` with `handler` and `arg`. Refuses an address that resolves to
 * anything but loopback (127.0.0.0/8, ::1) unless `allow_remote`: the API
 * can open ports, and has no authentication. The address bound goes to
 * bound[size] in the same syntax ("127.0.0.1:43121", "unix:/path"; the
 * first one if the name gave several). Resolves the name (blocking): call
 * it before the loop runs. Nothing is printed.
 *
 * Returns 0 and *out; MUXD_HTTP_EREMOTE; -EINVAL for an address that does
 * not parse or names udp://; or the errors of mux_addr_resolve() and
 * mux_server_listen_addr(). muxd_http_strerror() gives the text.
 */
int muxd_http_start(mux_loop_t *loop, const char *addr, bool allow_remote,
                    muxd_http_handler_t *handler, void *arg, muxd_http_t **out,
                    char *bound, size_t size);

/* muxd_http_start() with other limits (NULL: the defaults). */
int muxd_http_start_with(mux_loop_t *loop, const char *addr, bool allow_remote,
                         const muxd_http_limits_t *limits,
                         muxd_http_handler_t *handler, void *arg,
                         muxd_http_t **out, char *bound, size_t size);

/* The text of an error muxd_http_start() returned. */
const char *muxd_http_strerror(int err);

/* Closes the listener and every client at once. Not from inside the
 * handler. NULL is a no-op. */
void muxd_http_free(muxd_http_t *http);

#endif
