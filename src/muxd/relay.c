/*
 * relay.c -- muxd --to UPSTREAM (relay.h). A pair is two streams joined:
 * the client the server accepted and the upstream stream this file
 * connects for it. Each one's input is sent on the other as it was read
 * (one read into the loop's scratch buffer, one send); when the other's
 * pending output reaches its watermark, the sender is paused until the
 * other's drain says it fell to half. An end passes on as it came: EOF as
 * a half-close (a reset where an rst fault is on that side), a reset as a
 * reset (a reset-peer fault's too: it resets both sides), after the bytes
 * already in flight.
 *
 * The pair lives until both streams are gone; the relay keeps the open
 * pairs in a list, for muxd_relay_finish() and muxd_relay_free().
 */
#define _POSIX_C_SOURCE 200809L

#include "relay.h"
#include "dump.h"
#include "faults.h"
#include "log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct pair pair_t;

/* The listener at `local` relays to `upstream`. */
typedef struct {
    char local[MUX_ADDRSTRLEN];
    size_t upstream;
} route_t;

struct muxd_relay {
    mux_loop_t *loop;
    const muxd_relay_config_t *config;
    /* Each proxy's upstream by its slot (muxd_relay_set_upstream()). */
    const muxd_upstream_t *upstreams[MUXD_RELAY_SLOTS];
    char dump_tag[MUXD_DUMP_TAG_MAX]; /* this process's, in file names */
    route_t *routes;
    size_t nroutes;
    mux_conn_opts_t upstream_opts; /* every upstream stream's */
    pair_t *pairs;                 /* open pairs, newest first */
    mux_timer_t finish_timer;      /* muxd_relay_finish()'s limit */
    void (*done)(void *arg);       /* muxd_relay_finish()'s */
    void *done_arg;
};

struct pair {
    muxd_relay_t *relay;
    const muxd_upstream_t *to; /* its client's listener's upstream */
    size_t proxy;              /* and that upstream's slot */
    pair_t *prev, *next;
    mux_conn_t *client;   /* NULL once closed */
    mux_conn_t *upstream; /* NULL until connected, and once closed */
    mux_connect_t *connecting;
    char *held; /* read by a stop before the upstream was there */
    size_t nheld;
    bool client_eof, upstream_eof; /* each side's end, passed on */
    bool stopping; /* the stop reached the client while it connected */
    mux_faults_t *upstream_faults; /* a copy of the client's draw for the
                                      upstream (the client's own set may go
                                      first), or NULL */
    muxd_dump_conn_t dump;
};

/* The most of --dump's directory a message shows: a log line has room for
 * the reason after it. */
#define DIR_SHOWN 256

/* "..." where a message shows only the start of `dir`. */
static const char *cut(const char *dir) {
    return strlen(dir) > DIR_SHOWN ? "..." : "";
}

/* ------------------------------------------------------------------ */
/* Pairs                                                               */
/* ------------------------------------------------------------------ */

static void pair_free(pair_t *pair, const char *reason) {
    muxd_relay_t *relay = pair->relay;
    if (pair->prev)
        pair->prev->next = pair->next;
    else
        relay->pairs = pair->next;
    if (pair->next)
        pair->next->prev = pair->prev;
    muxd_dump_close(&pair->dump, reason);
    free(pair->held);
    mux_faults_free(pair->upstream_faults);
    free(pair);
    if (!relay->pairs && relay->done) {
        void (*done)(void *) = relay->done;
        relay->done = NULL;
        mux_timer_stop(&relay->finish_timer);
        done(relay->done_arg);
    }
}

static pair_t *pair_new(muxd_relay_t *relay, mux_conn_t *client, size_t proxy) {
    pair_t *pair = calloc(1, sizeof(*pair));
    if (!pair)
        return NULL;
    const muxd_upstream_t *to = relay->upstreams[proxy];
    pair->relay = relay;
    pair->to = to;
    pair->proxy = proxy;
    pair->client = client;
    pair->next = relay->pairs;
    if (relay->pairs)
        relay->pairs->prev = pair;
    relay->pairs = pair;
    pair->dump.fd = -1;
    const char *dump = relay->config->dump;
    int err = dump
                  ? muxd_dump_open(&pair->dump, dump, relay->dump_tag,
                                   relay->config->dump_max, mux_conn_id(client),
                                   mux_conn_peer(client), to->upstream_text)
                  : 0;
    if (err < 0)
        muxd_log_error("cannot dump connection %s to %.*s%s: %s",
                       mux_conn_peer(client), DIR_SHOWN, dump, cut(dump),
                       mux_strerror(err));
    return pair;
}

/* How a stream closes when its other side ended with `err` for `reason`:
 * a reset passes on as a reset (the peer's, or a reset-peer fault's,
 * which resets the pair), anything else as a close after flush. */
static int close_like(int err, const char *reason) {
    return err == -ECONNRESET || err == -ECONNREFUSED ||
                   (reason && !strcmp(reason, "reset (fault reset-peer)"))
               ? MUX_CLOSE_RESET
               : MUX_CLOSE_AFTER_FLUSH;
}

/* The upstream closes as `how` says, after its output, but what a stall
 * holds for it is for a client that is gone: dropped, the close at once
 * (the close may end the pair). */
static void close_upstream(pair_t *pair, int how) {
    mux_conn_t *upstream = pair->upstream;
    bool stalled = mux_faults_shape(pair->upstream_faults, MUX_OUT)->stall;
    mux_conn_close(upstream, how);
    if (stalled)
        mux_conn_close(upstream, MUX_CLOSE_NOW);
}

/* Both sides ended: both close once their output is written. The first
 * close may end the pair at once (its streams live to the turn's end). */
static void close_both(pair_t *pair) {
    mux_conn_t *client = pair->client, *upstream = pair->upstream;
    if (client)
        mux_conn_close(client, MUX_CLOSE_AFTER_FLUSH);
    if (upstream)
        mux_conn_close(upstream, MUX_CLOSE_AFTER_FLUSH);
}

/* ------------------------------------------------------------------ */
/* Bytes, both ways                                                    */
/* ------------------------------------------------------------------ */

/* Sends what `from` read on `to`; past `to`'s watermark, `from` waits
 * for `to`'s drain. */
static inline void forward(mux_conn_t *from, mux_conn_t *to, const char *data,
                           size_t len) {
    if (mux_conn_send(to, data, len) < 0)
        return; /* `to` is closing: its close ends the pair */
    if (mux_conn_pending(to) >= mux_conn_watermark(to)) {
        mux_conn_pause_reading(from);
        mux_conn_want_drain(to, 1);
    }
}

/* Bytes of a client whose upstream is still connecting (read at a stop):
 * kept for on_connected(); at the watermark the client waits, as it would
 * for its upstream's drain. */
static void hold(pair_t *pair, const char *data, size_t len) {
    mux_conn_t *client = pair->client;
    char *held = realloc(pair->held, pair->nheld + len);
    if (!held) {
        const char *why = "out of memory";
        mux_conn_log(client, why, strlen(why));
        mux_conn_close(client, MUX_CLOSE_NOW);
        return;
    }
    memcpy(held + pair->nheld, data, len);
    pair->held = held;
    pair->nheld += len;
    if (pair->nheld >= mux_conn_watermark(client))
        mux_conn_pause_reading(client);
}

static void client_message(mux_conn_t *client, const char *data, size_t len) {
    pair_t *pair = mux_conn_data(client);
    if (pair->dump.on)
        muxd_dump_bytes(&pair->dump, MUXD_DUMP_UP, data, len);
    if (pair->upstream)
        forward(client, pair->upstream, data, len);
    else if (pair->connecting)
        hold(pair, data, len);
}

static void upstream_message(mux_conn_t *upstream, const char *data,
                             size_t len) {
    pair_t *pair = mux_conn_data(upstream);
    if (pair->dump.on)
        muxd_dump_bytes(&pair->dump, MUXD_DUMP_DOWN, data, len);
    if (pair->client)
        forward(upstream, pair->client, data, len);
}

/* The client's output fell to half its watermark: the upstream may send
 * again (unless the client was stopped for a shutdown). */
static void client_drain(mux_conn_t *client) {
    pair_t *pair = mux_conn_data(client);
    mux_conn_want_drain(client, 0);
    if (pair && pair->upstream)
        mux_conn_resume_reading(pair->upstream);
}

static void upstream_drain(mux_conn_t *upstream) {
    pair_t *pair = mux_conn_data(upstream);
    mux_conn_want_drain(upstream, 0);
    if (pair && pair->client && !pair->client_eof)
        mux_conn_resume_reading(pair->client);
}

/* ------------------------------------------------------------------ */
/* Ends                                                                */
/* ------------------------------------------------------------------ */

/* The client sent its last byte: the upstream gets a FIN after it (once
 * connected, if it is connecting). */
static void client_eof(mux_conn_t *client) {
    pair_t *pair = mux_conn_data(client);
    pair->client_eof = true;
    if (pair->connecting)
        return;
    if (!pair->upstream) /* nothing to pass it on to */
        mux_conn_close(client, MUX_CLOSE_AFTER_FLUSH);
    else if (pair->upstream_eof)
        close_both(pair);
    else
        mux_conn_close(pair->upstream, MUX_CLOSE_WRITE); /* rst: a reset */
}

static void upstream_eof(mux_conn_t *upstream) {
    pair_t *pair = mux_conn_data(upstream);
    pair->upstream_eof = true;
    if (pair->client_eof)
        close_both(pair);
    else
        mux_conn_close(pair->client, MUX_CLOSE_WRITE);
}

/* A graceful shutdown reached the client, after what it had sent was
 * relayed (or held, while its upstream connects: on_connected() goes on
 * from here once it is there): the upstream gets a FIN and answers what
 * it has; the client closes once the upstream ends (or the shutdown's
 * timeout). Under a stall toward the upstream neither would come: both
 * close at once. */
static void client_shutdown(mux_conn_t *client) {
    pair_t *pair = mux_conn_data(client);
    if (pair && pair->connecting) {
        pair->stopping = true;
        mux_conn_pause_reading(client);
        return;
    }
    if (!pair || !pair->upstream || pair->upstream_eof ||
        mux_faults_shape(pair->upstream_faults, MUX_OUT)->stall) {
        mux_conn_close(client, MUX_CLOSE_AFTER_FLUSH);
        return;
    }
    mux_conn_pause_reading(client);
    pair->client_eof = true;
    mux_conn_close(pair->upstream, MUX_CLOSE_WRITE);
}

/* The client closed: its upstream closes the same way (reset where the
 * client reset, else after flushing what the client sent), or, with none,
 * the pair ends with the client's reason. */
static void client_close(mux_conn_t *client) {
    pair_t *pair = mux_conn_data(client);
    if (!pair)
        return; /* open found no pair: closed at once */
    mux_conn_set_data(client, NULL);
    pair->client = NULL;
    mux_connect_cancel(pair->connecting);
    pair->connecting = NULL;
    if (pair->upstream)
        close_upstream(pair, close_like(mux_conn_close_error(client),
                                        mux_conn_close_reason(client)));
    else
        pair_free(pair, mux_conn_close_reason(client));
}

/* The upstream stream's events: its close ends the client the same way. */
static void on_upstream_event(mux_conn_t *upstream, mux_event_t *ev,
                              void *arg) {
    (void)arg;
    pair_t *pair = mux_conn_data(upstream);
    if (!pair || !pair->client) {
        if (pair && ev->type == MUX_EV_CLOSE)
            pair_free(pair, ev->reason);
        return;
    }
    const char *client = mux_conn_peer(pair->client);
    const char *text = pair->to->upstream_text;
    if (ev->type == MUX_EV_ERROR)
        muxd_log_upstream(MUXD_LOG_NORMAL, client, text, ev->reason, ev->err);
    if (ev->type != MUX_EV_CLOSE)
        return;
    mux_conn_set_data(upstream, NULL);
    pair->upstream = NULL;
    if (ev->err)
        muxd_log_upstream(
            MUXD_LOG_NORMAL, client, text,
            ev->err == -ECONNRESET ? "reset by upstream" : "failed", ev->err);
    else if (strcmp(ev->reason, "idle timeout") == 0)
        muxd_log_upstream(MUXD_LOG_NORMAL, client, text, ev->reason, 0);
    mux_conn_close(pair->client, close_like(ev->err, ev->reason));
}

/* ------------------------------------------------------------------ */
/* Connecting                                                          */
/* ------------------------------------------------------------------ */

static void connect_failed(pair_t *pair, int err) {
    muxd_log_upstream(MUXD_LOG_NORMAL, mux_conn_peer(pair->client),
                      pair->to->upstream_text, "cannot connect", err);
    mux_conn_close(pair->client, close_like(err, NULL));
}

/* Both streams of a pair: drain only when asked, and no pause for their
 * own output (the other stream is paused instead). */
static void join(mux_conn_t *conn) {
    mux_conn_want_drain(conn, 0);
    mux_conn_pause_on_output(conn, 0);
}

static void upstream_open(mux_conn_t *upstream) { join(upstream); }

static const mux_service_t upstream_service = {
    .name = "relay upstream",
    .framing = MUX_FRAMING_RAW,
    .open = upstream_open,
    .message = upstream_message,
    .eof = upstream_eof,
    .drain = upstream_drain,
};

/* The client's faults for the upstream direction (dir=up), read again. */
static void take_faults(pair_t *pair) {
    const muxd_conn_faults_t *cf = muxd_conn_faults_of(pair->client);
    if (!cf)
        return;
    if ((!pair->upstream_faults &&
         !(pair->upstream_faults = mux_faults_new())) ||
        mux_faults_copy(pair->upstream_faults, cf->upstream) < 0) {
        mux_conn_close(pair->upstream, MUX_CLOSE_NOW); /* no memory */
        return;
    }
    mux_conn_set_faults(pair->upstream, pair->upstream_faults);
}

/* What the client sent while its upstream connected, on its way. */
static void send_held(pair_t *pair) {
    if (!pair->nheld)
        return;
    forward(pair->client, pair->upstream, pair->held, pair->nheld);
    free(pair->held);
    pair->held = NULL;
    pair->nheld = 0;
}

static void on_connected(mux_loop_t *loop, int fd, int err, void *arg) {
    pair_t *pair = arg;
    pair->connecting = NULL;
    if (fd >= 0 && err < 0) { /* it accepted and reset at once */
        close(fd);
        fd = -1;
    }
    mux_conn_t *upstream;
    if (fd < 0 ||
        (err = mux_conn_new(loop, fd, &upstream_service,
                            &pair->relay->upstream_opts, &upstream)) < 0) {
        connect_failed(pair, err);
        return;
    }
    mux_conn_set_data(upstream, pair);
    pair->upstream = upstream;
    take_faults(pair);
    send_held(pair);
    if (pair->stopping)
        client_shutdown(pair->client);
    else if (pair->client_eof)
        mux_conn_close(upstream, MUX_CLOSE_WRITE); /* rst: a reset */
    else
        mux_conn_resume_reading(pair->client);
}

size_t muxd_relay_index_of(const muxd_relay_t *relay,
                           const mux_conn_t *client) {
    const char *local = mux_conn_local(client);
    for (size_t i = 0; i < relay->nroutes; i++)
        if (strcmp(relay->routes[i].local, local) == 0)
            return relay->routes[i].upstream;
    return SIZE_MAX;
}

size_t muxd_relay_listener(const muxd_relay_t *relay, size_t index, size_t i,
                           const char **local) {
    size_t n = 0;
    for (size_t r = 0; r < relay->nroutes; r++)
        if (relay->routes[r].upstream == index && n++ == i)
            *local = relay->routes[r].local;
    return n;
}

/* A new client: its pair, and its upstream connection under way (the
 * client is not read until it is there, unless a stop comes first:
 * muxd_relay_stopping()). A black-holed one never gets one: it is never
 * read nor answered. */
static void client_open(mux_conn_t *client) {
    muxd_relay_t *relay = mux_conn_service_arg(client);
    join(client);
    size_t proxy = muxd_relay_index_of(relay, client);
    bool routed = proxy != SIZE_MAX && relay->upstreams[proxy];
    pair_t *pair = routed ? pair_new(relay, client, proxy) : NULL;
    if (!pair) {
        const char *why =
            routed ? "out of memory" : "no upstream for its listener";
        mux_conn_log(client, why, strlen(why));
        mux_conn_close(client, MUX_CLOSE_NOW);
        return;
    }
    mux_conn_set_data(client, pair);
    const muxd_conn_faults_t *cf = muxd_conn_faults_of(client);
    if (cf && cf->blackhole)
        return;
    mux_conn_pause_reading(client);
    const muxd_upstream_t *to = pair->to;
    int err = mux_connect(relay->loop, to->addrs, to->naddrs,
                          relay->config->connect_timeout_ms, on_connected, pair,
                          &pair->connecting);
    if (err < 0)
        connect_failed(pair, err);
}

static const mux_service_t client_service = {
    .name = "relay",
    .framing = MUX_FRAMING_RAW,
    .open = client_open,
    .message = client_message,
    .eof = client_eof,
    .drain = client_drain,
    .close = client_close,
    .shutdown = client_shutdown,
};

const mux_service_t *muxd_relay_service(void) { return &client_service; }

void muxd_relay_stopping(muxd_relay_t *relay) {
    for (pair_t *pair = relay->pairs; pair; pair = pair->next)
        if (pair->client && pair->connecting)
            mux_conn_resume_reading(pair->client);
}

void muxd_relay_faults_changed(mux_conn_t *client) {
    pair_t *pair = mux_conn_data(client);
    if (pair && pair->upstream)
        take_faults(pair);
}

/* ------------------------------------------------------------------ */
/* The relay                                                           */
/* ------------------------------------------------------------------ */

const char *muxd_upstream_parse(const char *text, muxd_upstream_t *to) {
    int err = mux_addr_parse(text, NULL, &to->upstream);
    if (err == 0 && to->upstream.transport == MUX_UDP)
        return "a relay carries streams (TCP or unix:PATH), not udp://";
    if (err == 0 && to->upstream.transport == MUX_TCP &&
        mux_port_lookup(to->upstream.port, MUX_TCP) == 0)
        return "port 0 (give the upstream's port)";
    if (err < 0 || (to->upstream.transport == MUX_TCP &&
                    mux_port_lookup(to->upstream.port, MUX_TCP) < 0))
        return "not HOST:PORT, [V6]:PORT, PORT or unix:PATH (or an unknown "
               "port name)";
    to->upstream_text = text;
    return NULL;
}

int muxd_upstream_resolve(muxd_upstream_t *to) {
    int n = mux_addr_resolve(&to->upstream, 0, to->addrs, MUXD_RELAY_ADDRS);
    if (n >= 0)
        to->naddrs = (size_t)n;
    return n < 0 ? n : 0;
}

int muxd_relay_prepare(muxd_relay_config_t *config) {
    for (size_t i = 0; i < config->nupstreams; i++) {
        muxd_upstream_t *to = &config->upstreams[i];
        int err = muxd_upstream_resolve(to);
        if (err < 0) {
            muxd_log_error("cannot resolve the upstream %s: %s",
                           to->upstream_text, mux_strerror(err));
            return err;
        }
    }
    int err = config->dump ? muxd_dump_check(config->dump) : 0;
    if (err < 0)
        muxd_log_error("cannot dump to %.*s%s: %s", DIR_SHOWN, config->dump,
                       cut(config->dump), mux_strerror(err));
    return err;
}

/* Closes the pairs of proxy `slot` (every pair: SIZE_MAX), both streams
 * and a connect under way, at once: each pair is freed before this
 * returns. */
static void close_pairs(muxd_relay_t *relay, size_t slot) {
    pair_t *next;
    for (pair_t *pair = relay->pairs; pair; pair = next) {
        next = pair->next;
        if (slot != SIZE_MAX && pair->proxy != slot)
            continue;
        mux_conn_t *client = pair->client; /* valid to the turn's end */
        mux_connect_cancel(pair->connecting);
        pair->connecting = NULL;
        if (pair->upstream) /* frees the pair if its client is gone */
            mux_conn_close(pair->upstream, MUX_CLOSE_NOW);
        if (client)
            mux_conn_close(client, MUX_CLOSE_NOW);
    }
}

static void close_all(muxd_relay_t *relay) { close_pairs(relay, SIZE_MAX); }

static void on_finish_timeout(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    (void)loop;
    (void)timer;
    close_all(arg);
}

muxd_relay_t *muxd_relay_new(mux_loop_t *loop,
                             const muxd_relay_config_t *config,
                             size_t max_output, uint64_t idle_timeout_ms) {
    muxd_relay_t *relay = calloc(1, sizeof(*relay));
    if (!relay)
        return NULL;
    relay->loop = loop;
    relay->config = config;
    muxd_dump_tag(relay->dump_tag);
    if (config->dump && strcmp(config->dump, "-") != 0)
        muxd_log_text(MUXD_LOG_NORMAL,
                      "dumping connections to %s/conn-%s-N.txt", config->dump,
                      relay->dump_tag);
    relay->upstream_opts.max_output = max_output;
    /* An upstream whose client left and that takes nothing more of what
     * it is sent is not held for ever either. */
    relay->upstream_opts.idle_timeout_ms = idle_timeout_ms;
    relay->upstream_opts.framing = MUX_FRAMING_RAW;
    relay->upstream_opts.on_event = on_upstream_event;
    relay->upstream_opts.event_arg = relay;
    mux_timer_init(&relay->finish_timer, loop, on_finish_timeout, relay);
    return relay;
}

void muxd_relay_finish(muxd_relay_t *relay, uint64_t deadline_ms,
                       void (*done)(void *arg), void *arg) {
    if (!relay->pairs) {
        done(arg);
        return;
    }
    relay->done = done;
    relay->done_arg = arg;
    uint64_t now = mux_now(relay->loop);
    if (deadline_ms <= now ||
        mux_timer_start(&relay->finish_timer, deadline_ms - now, 0) < 0)
        close_all(relay);
}

void muxd_relay_set_upstream(muxd_relay_t *relay, size_t slot,
                             const muxd_upstream_t *to) {
    if (!to)
        muxd_relay_close_proxy(relay, slot);
    relay->upstreams[slot] = to;
}

void muxd_relay_close_proxy(muxd_relay_t *relay, size_t slot) {
    close_pairs(relay, slot);
    size_t kept = 0;
    for (size_t i = 0; i < relay->nroutes; i++)
        if (relay->routes[i].upstream != slot)
            relay->routes[kept++] = relay->routes[i];
    relay->nroutes = kept;
}

int muxd_relay_route(muxd_relay_t *relay, const char *local, size_t index) {
    for (size_t i = 0; i < relay->nroutes; i++)
        if (strcmp(relay->routes[i].local, local) == 0)
            return relay->routes[i].upstream == index ? 0 : -EEXIST;
    route_t *routes =
        realloc(relay->routes, (relay->nroutes + 1) * sizeof(*routes));
    if (!routes)
        return -ENOMEM;
    relay->routes = routes;
    route_t *r = &routes[relay->nroutes++];
    snprintf(r->local, sizeof(r->local), "%s", local);
    r->upstream = index;
    return 0;
}

void muxd_relay_free(muxd_relay_t *relay) {
    if (!relay)
        return;
    relay->done = NULL;
    mux_timer_stop(&relay->finish_timer);
    close_all(relay);
    free(relay->routes);
    free(relay);
}
