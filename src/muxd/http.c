/*
 * http.c -- the HTTP/1.1 server of http.h: a mux_server of its own on
 * muxd's loop (as the control socket is), raw framing, each client's
 * bytes cut into requests by muxd_http_parse(), each request answered by
 * the handler, in order, keep-alive and pipelined.
 *
 * Per client: no input buffer while no request is partly in (the bytes
 * of a read are parsed where they are, and only a partial request's are
 * kept), a partial request's bytes (at most a head and a body), one timer
 * for the request under way. A client whose output passes the watermark
 * gets no more of its pipelined requests answered and is not read, until
 * its output has drained to half of it.
 */
#define _POSIX_C_SOURCE 200809L

#include "http.h"
#include "log.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A partial request never holds more than this (the parser answers before
 * a head or a body passes its limit), plus one read (the library reads at
 * most 64 KiB at a time). Past it, something is wrong: the client goes. */
#define HTTP_MAX_BUFFERED                                                      \
    (MUXD_HTTP_MAX_HEADER + MUXD_HTTP_MAX_BODY + 256 * 1024)

/* The replies to the requests of one read are gathered (up to this many
 * bytes) and leave in one write when the read is answered: written one by
 * one, each after the first waits for the client's ACK of the one before
 * it (Nagle's algorithm), and a client that pipelines delays that ACK, up
 * to 40 ms a reply. */
#define HTTP_BATCH_MAX 16384

struct muxd_http {
    mux_server_t *server;
    muxd_http_handler_t *handler;
    void *arg;
    uint64_t request_timeout_ms;
    char full_message[256];  /* the 503 a client past the limit gets */
    const void *batch_owner; /* the client the batch is for */
    size_t batch_len;
    char batch[HTTP_BATCH_MAX];
};

typedef struct {
    muxd_http_t *http;
    mux_conn_t *conn;
    char *in; /* a partial request (and what follows it), or NULL */
    size_t in_len, in_cap;
    mux_timer_t request_timer; /* the request under way must arrive */
    bool continued;            /* the 100 Continue of this request is sent */
    bool backlogged;           /* output past the watermark: waiting */
    bool done;                 /* answered for the last time, or closed */
    bool closed;               /* its close callback ran while busy */
    unsigned busy;             /* inside one of our callbacks: a close
                                  there frees the client on the way out */
} http_client_t;

/* ---- responses ---- */

static const char *reason_phrase(int status) {
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "";
    }
}

/* Status line and headers into head[size]; returns their length. */
static size_t format_head(char *head, size_t size,
                          const muxd_http_response_t *res, bool closing) {
    int n;
    if (res->status == 204)
        n = snprintf(head, size, "HTTP/1.1 204 No Content\r\n%s\r\n",
                     closing ? "Connection: close\r\n" : "");
    else
        n = snprintf(head, size,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\n%s\r\n",
                     res->status, reason_phrase(res->status),
                     res->content_type ? res->content_type : "application/json",
                     res->body ? res->len : 0,
                     closing ? "Connection: close\r\n" : "");
    assert(n > 0 && (size_t)n < size);
    return (size_t)n;
}

/* Writes the batch and then `iov` (one sendmsg() when nothing is
 * queued); false when the send failed (the connection is closed). */
static bool send_after_batch(http_client_t *client, const struct iovec *iov,
                             int iovcnt) {
    muxd_http_t *http = client->http;
    assert(http->batch_len == 0 || http->batch_owner == client);
    struct iovec all[3] = {{http->batch, http->batch_len}};
    int n = http->batch_len ? 1 : 0;
    for (int i = 0; i < iovcnt; i++)
        all[n++] = iov[i];
    http->batch_len = 0;
    return n == 0 || mux_conn_sendv(client->conn, all, n) == 0;
}

static void flush_batch(http_client_t *client) {
    if (!send_after_batch(client, NULL, 0))
        client->done = true; /* closed by the failure */
}

/* Adds the pieces to the batch if they fit (and the client is not to be
 * closed after them). */
static bool batch(http_client_t *client, const struct iovec *iov, int iovcnt,
                  bool closing) {
    muxd_http_t *http = client->http;
    size_t len = iov[0].iov_len + (iovcnt > 1 ? iov[1].iov_len : 0);
    if (closing || len > sizeof(http->batch) - http->batch_len)
        return false;
    for (int i = 0; i < iovcnt; i++) {
        memcpy(http->batch + http->batch_len, iov[i].iov_base, iov[i].iov_len);
        http->batch_len += iov[i].iov_len;
    }
    http->batch_owner = client;
    return true;
}

/* Sends a response (no body for HEAD or 204); the last one closes. */
static void respond(http_client_t *client, const muxd_http_response_t *res,
                    bool head_only, bool closing) {
    assert(res->status >= 200 && res->status <= 599);
    char head[512];
    struct iovec iov[2] = {
        {head, format_head(head, sizeof(head), res, closing)},
        {(void *)res->body, res->len}};
    bool body = res->body && res->len && res->status != 204 && !head_only;
    int iovcnt = body ? 2 : 1;
    if (!batch(client, iov, iovcnt, closing) &&
        !send_after_batch(client, iov, iovcnt))
        client->done = true; /* closed by the failure */
    if (closing && !client->done) {
        client->done = true;
        mux_conn_close(client->conn, MUX_CLOSE_AFTER_FLUSH);
    }
}

/* An error of ours: {"error":"...","status":N}, then a close. `why` is
 * a static text fit for JSON as it is. */
static void respond_error(http_client_t *client, int status, const char *why) {
    char body[256];
    int n = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"status\":%d}",
                     why, status);
    assert(n > 0 && (size_t)n < sizeof(body));
    muxd_http_response_t res = {
        .status = status, .body = body, .len = (size_t)n};
    muxd_log_text(MUXD_LOG_NORMAL, "api: %s: %d %s",
                  mux_conn_peer(client->conn), status, why);
    respond(client, &res, false, true);
}

/* ---- requests ---- */

static bool is_head(const muxd_http_request_t *req) {
    return req->method_len == 4 && memcmp(req->method, "HEAD", 4) == 0;
}

/* One complete request: the handler's answer, or 403 for a browser. */
static void serve_request(http_client_t *client,
                          const muxd_http_request_t *req) {
    static const char forbidden[] =
        "{\"error\":\"User agent not allowed\",\"status\":403}";
    muxd_http_response_t res = {0};
    if (req->browser)
        res = (muxd_http_response_t){
            .status = 403, .body = forbidden, .len = sizeof(forbidden) - 1};
    else
        client->http->handler(client->http->arg, req, &res);
    respond(client, &res, is_head(req), !req->keep_alive);
}

/* A head complete, its body not yet: a client that expects it gets its
 * 100 Continue, once. */
static void maybe_continue(http_client_t *client,
                           const muxd_http_request_t *req) {
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    if (req->head_len && req->expect_continue && !client->continued) {
        client->continued = true;
        struct iovec iov = {(void *)cont, sizeof(cont) - 1};
        if (!send_after_batch(client, &iov, 1))
            client->done = true;
    }
}

/* Output past the watermark: stop answering and reading until it drains
 * (drain callback), so a client that never reads costs at most that. */
static bool check_backlog(http_client_t *client) {
    mux_conn_t *conn = client->conn;
    if (mux_conn_pending(conn) <= mux_conn_watermark(conn))
        return false;
    client->backlogged = true;
    mux_conn_pause_reading(conn);
    mux_conn_want_drain(conn, 1);
    return true;
}

/* Answers the complete requests at the start of data[0..len), in order;
 * returns the bytes they took (the rest is a partial request, or waits
 * for output to drain). */
static size_t serve_requests(http_client_t *client, const char *data,
                             size_t len) {
    size_t used = 0;
    while (used < len && !client->done && !check_backlog(client)) {
        muxd_http_request_t req;
        ssize_t n =
            muxd_http_parse(data + used, len - used, MUXD_HTTP_MAX_HEADER,
                            MUXD_HTTP_MAX_BODY, &req);
        if (n < 0)
            respond_error(client, (int)-n, req.error);
        if (n <= 0) {
            if (n == 0)
                maybe_continue(client, &req);
            break;
        }
        used += (size_t)n;
        client->continued = false;
        mux_timer_stop(&client->request_timer); /* the next one is new */
        serve_request(client, &req);
    }
    if (client->http->batch_len)
        flush_batch(client);
    return used;
}

/* ---- the input kept between reads ---- */

static void drop_input(http_client_t *client) {
    free(client->in);
    client->in = NULL;
    client->in_len = client->in_cap = 0;
}

/* Appends bytes to the partial request; -ENOBUFS past the bound. */
static int keep_input(http_client_t *client, const char *data, size_t len) {
    size_t need = client->in_len + len;
    if (need > HTTP_MAX_BUFFERED)
        return -ENOBUFS;
    if (need > client->in_cap) {
        size_t cap = client->in_cap ? client->in_cap : 1024;
        while (cap < need)
            cap *= 2;
        char *in = realloc(client->in, cap);
        if (!in)
            return -ENOMEM;
        client->in = in;
        client->in_cap = cap;
    }
    memcpy(client->in + client->in_len, data, len);
    client->in_len = need;
    return 0;
}

/* After a pass: what is left is a request under way, timed from its
 * first byte (or from now, when the one before it just ended). */
static void time_request(http_client_t *c) {
    if (c->in_len == 0 || c->done || c->backlogged)
        mux_timer_stop(&c->request_timer);
    else if (!mux_timer_active(&c->request_timer) &&
             mux_timer_start(&c->request_timer, c->http->request_timeout_ms,
                             0) < 0)
        mux_conn_close(c->conn, MUX_CLOSE_NOW);
}

/* Serves what is kept, keeping only what was not used. */
static void serve_kept(http_client_t *client) {
    size_t used = serve_requests(client, client->in, client->in_len);
    if (client->done || used == client->in_len)
        drop_input(client);
    else if (used > 0) {
        memmove(client->in, client->in + used, client->in_len - used);
        client->in_len -= used;
    }
    time_request(client);
}

/* ---- the service ---- */

/* The client of `conn` held for one of our callbacks (NULL once it closed):
 * a close inside (a failed send, the handler) only marks it. */
static http_client_t *enter(mux_conn_t *conn) {
    http_client_t *client = mux_conn_data(conn);
    if (client)
        client->busy++;
    return client;
}

static void leave(http_client_t *client) {
    if (--client->busy == 0 && client->closed) {
        drop_input(client);
        free(client);
    }
}

static void on_request_timeout(mux_loop_t *loop, mux_timer_t *timer,
                               void *arg) {
    (void)loop;
    (void)timer;
    http_client_t *client = enter(((http_client_t *)arg)->conn);
    drop_input(client);
    respond_error(client, 408, "request not complete in time");
    leave(client);
}

static void http_open(mux_conn_t *conn) {
    http_client_t *client = calloc(1, sizeof(*client));
    if (!client) {
        mux_conn_close(conn, MUX_CLOSE_NOW);
        return;
    }
    client->http = mux_conn_service_arg(conn);
    client->conn = conn;
    mux_timer_init(&client->request_timer, mux_conn_loop(conn),
                   on_request_timeout, client);
    mux_conn_want_drain(conn, 0); /* only while backlogged */
    mux_conn_set_data(conn, client);
}

/* Keeps bytes for later; else the client goes (false). */
static bool keep_or_drop(http_client_t *client, const char *data, size_t len) {
    int err = keep_input(client, data, len);
    if (err == 0)
        return true;
    muxd_log_text(MUXD_LOG_NORMAL, "api: %s: dropped: %s",
                  mux_conn_peer(client->conn), mux_strerror(err));
    mux_conn_close(client->conn, MUX_CLOSE_NOW);
    return false;
}

/* Bytes read with nothing kept: requests served where they are, and only
 * what is left kept. */
static void serve_read(http_client_t *client, const char *data, size_t len) {
    size_t used = serve_requests(client, data, len);
    if (!client->done && used < len &&
        !keep_or_drop(client, data + used, len - used))
        return;
    time_request(client);
}

/* Bytes read after kept ones: kept too, then served from there. */
static void serve_more(http_client_t *client, const char *data, size_t len) {
    if (keep_or_drop(client, data, len) && !client->backlogged)
        serve_kept(client);
}

static void http_message(mux_conn_t *conn, const char *data, size_t len) {
    http_client_t *client = enter(conn);
    if (!client)
        return;
    if (client->done)
        ; /* answered for the last time: the rest goes unread */
    else if (client->in_len == 0 && !client->backlogged)
        serve_read(client, data, len);
    else
        serve_more(client, data, len);
    leave(client);
}

/* Output fell to half the watermark: answer what waited, read again. */
static void http_drain(mux_conn_t *conn) {
    http_client_t *client = enter(conn);
    if (!client)
        return;
    if (client->backlogged) {
        client->backlogged = false;
        mux_conn_want_drain(conn, 0);
        mux_conn_resume_reading(conn);
        serve_kept(client);
    }
    leave(client);
}

/* The client half-closed: what it sent is answered, then we close. */
static void http_eof(mux_conn_t *conn) {
    http_client_t *client = mux_conn_data(conn);
    if (client)
        client->done = true;
    mux_conn_close(conn, MUX_CLOSE_AFTER_FLUSH);
}

static void http_close(mux_conn_t *conn) {
    http_client_t *client = mux_conn_data(conn);
    if (!client)
        return;
    mux_conn_set_data(conn, NULL);
    mux_timer_stop(&client->request_timer);
    client->done = client->closed = true;
    client->busy++;
    leave(client);
}

static const mux_service_t http_service = {.name = "http",
                                           .framing = MUX_FRAMING_RAW,
                                           .open = http_open,
                                           .message = http_message,
                                           .eof = http_eof,
                                           .drain = http_drain,
                                           .close = http_close};

static void http_event(mux_server_t *server, const mux_event_t *ev, void *arg) {
    (void)server;
    (void)arg;
    if (ev->type == MUX_EV_LISTEN)
        muxd_log_text(MUXD_LOG_VERBOSE, "api on %s", ev->local);
    else if (ev->type == MUX_EV_REFUSE)
        muxd_log_text(MUXD_LOG_NORMAL, "api: %s refused: %s", ev->peer,
                      ev->reason);
    else if (ev->type == MUX_EV_CLOSE && ev->reason &&
             (!strcmp(ev->reason, "output overflow") ||
              !strcmp(ev->reason, "idle timeout")))
        muxd_log_text(MUXD_LOG_VERBOSE, "api: %s closed: %s", ev->peer,
                      ev->reason);
}

/* ---- the listener ---- */

static bool is_loopback(const mux_sockaddr_t *a) {
    if (a->family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)&a->sa;
        return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
    }
    if (a->family == AF_INET6) {
        const struct in6_addr *in6 =
            &((const struct sockaddr_in6 *)&a->sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(in6) ||
               (IN6_IS_ADDR_V4MAPPED(in6) && in6->s6_addr[12] == 127);
    }
    return a->family == AF_UNIX;
}

/* 0 if every address `addr` names is loopback (or a unix socket). */
static int check_local(const mux_addr_t *addr) {
    if (addr->transport == MUX_UNIX)
        return 0;
    if (addr->host[0] == '\0')
        return MUXD_HTTP_EREMOTE; /* every interface */
    mux_sockaddr_t found[16];
    int n = mux_addr_resolve(addr, 1, found, sizeof(found) / sizeof(*found));
    for (int i = 0; i < n; i++)
        if (!is_loopback(&found[i]))
            return MUXD_HTTP_EREMOTE;
    return n < 0 ? n : 0;
}

/* The first listener's address as mux_addr_parse() reads it. */
static void format_bound(const mux_server_t *server, char *bound, size_t size) {
    const char *name = NULL;
    if (!size)
        return;
    if (mux_server_addresses(server, &name, 1) == 0) {
        bound[0] = '\0';
        return;
    }
    const char *space = strchr(name, ' ');
    bool unix_path = strncmp(name, "unix ", 5) == 0;
    snprintf(bound, size, "%s%s", unix_path ? "unix:" : "",
             space ? space + 1 : name);
}

static int new_server(muxd_http_t *http, mux_loop_t *loop,
                      const muxd_http_limits_t *limits) {
    static const char full[] =
        "{\"error\":\"too many API clients\",\"status\":503}";
    snprintf(http->full_message, sizeof(http->full_message),
             "HTTP/1.1 503 Service Unavailable\r\nContent-Type: "
             "application/json\r\nContent-Length: %zu\r\nConnection: "
             "close\r\n\r\n%s",
             sizeof(full) - 1, full);
    mux_server_opts_t opts = {
        .max_clients =
            limits->max_clients ? limits->max_clients : MUXD_HTTP_MAX_CLIENTS,
        .idle_timeout_ms = limits->idle_timeout_ms ? limits->idle_timeout_ms
                                                   : MUXD_HTTP_IDLE_MS,
        .max_output =
            limits->max_output ? limits->max_output : MUXD_HTTP_MAX_OUTPUT,
        .full_message = http->full_message,
        .on_event = http_event,
        .service_arg = http};
    http->request_timeout_ms = limits->request_timeout_ms
                                   ? limits->request_timeout_ms
                                   : MUXD_HTTP_REQUEST_MS;
    return mux_server_new(loop, &http_service, &opts, &http->server);
}

int muxd_http_start_with(mux_loop_t *loop, const char *addr, bool allow_remote,
                         const muxd_http_limits_t *limits,
                         muxd_http_handler_t *handler, void *arg,
                         muxd_http_t **out, char *bound, size_t size) {
    static const muxd_http_limits_t defaults = {0};
    mux_addr_t parsed;
    int err = mux_addr_parse(addr, "127.0.0.1", &parsed);
    if (err == 0 && parsed.transport == MUX_UDP)
        err = -EINVAL;
    if (err == 0 && !allow_remote)
        err = check_local(&parsed);
    if (err < 0)
        return err;
    muxd_http_t *http = calloc(1, sizeof(*http));
    if (!http)
        return -ENOMEM;
    http->handler = handler;
    http->arg = arg;
    err = new_server(http, loop, limits ? limits : &defaults);
    if (err == 0)
        err = mux_server_listen_addr(http->server, &parsed);
    if (err < 0) {
        muxd_http_free(http);
        return err;
    }
    format_bound(http->server, bound, size);
    *out = http;
    return 0;
}

int muxd_http_start(mux_loop_t *loop, const char *addr, bool allow_remote,
                    muxd_http_handler_t *handler, void *arg, muxd_http_t **out,
                    char *bound, size_t size) {
    return muxd_http_start_with(loop, addr, allow_remote, NULL, handler, arg,
                                out, bound, size);
}

const char *muxd_http_strerror(int err) {
    if (err == MUXD_HTTP_EREMOTE)
        return "not a loopback address (the API can open ports and has no "
               "authentication: allow remote clients explicitly)";
    return mux_strerror(err);
}

void muxd_http_free(muxd_http_t *http) {
    if (!http)
        return;
    mux_server_free(http->server);
    free(http);
}
