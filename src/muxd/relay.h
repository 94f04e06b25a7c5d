/*
 * relay.h -- muxd --to UPSTREAM: every client the server accepts gets a
 * connection of its own to UPSTREAM (with several -l ADDR --to UPSTREAM,
 * the upstream of the listener that accepted it), and the bytes flow both ways
 * unchanged, each stream pausing the other past its watermark. Half-close,
 * resets and failures pass from one side to the other; muxd's faults
 * shape both (docs/relay.md).
 *
 * The relay is the server's service: muxd_relay_service() with the relay
 * as opts.service_arg. A client's close callback ends its pair, with the
 * reason mux_conn_close_reason() gives (no server event reaches it).
 */
#ifndef MUXD_RELAY_H
#define MUXD_RELAY_H

#include "mux.h"

#include <stddef.h>
#include <stdint.h>

/* The most addresses UPSTREAM resolves to that are tried. */
#define MUXD_RELAY_ADDRS 16
/* The most upstreams (--to) of one muxd's command line. */
#define MUXD_RELAY_UPSTREAMS 64
/* The most proxies (upstreams) a relay serves at once: its slots. */
#define MUXD_RELAY_SLOTS 256
/* --dump-max's default: the most dump text one connection writes. */
#define MUXD_RELAY_DUMP_MAX (UINT64_C(16) << 20)

typedef struct muxd_relay muxd_relay_t;

/* The longest proxy name (--name). */
#define MUXD_PROXY_NAME_MAX 64

/* One --to: where the clients of its listeners are relayed; a proxy. */
typedef struct {
    char name[MUXD_PROXY_NAME_MAX + 1]; /* --name, or "proxyN" */
    const char *upstream_text;          /* as given */
    mux_addr_t upstream;                /* parsed */
    /* Filled by muxd_relay_prepare(): */
    mux_sockaddr_t addrs[MUXD_RELAY_ADDRS];
    size_t naddrs;
} muxd_upstream_t;

/* What the command line says of the relays (in muxd_options_t). */
typedef struct {
    muxd_upstream_t upstreams[MUXD_RELAY_UPSTREAMS]; /* --to, in order */
    size_t nupstreams;                               /* 0: no relay */
    uint64_t connect_timeout_ms; /* each address's attempt; 0: the system's */
    const char *dump;            /* --dump: "-", a directory, or NULL */
    uint64_t dump_max;           /* --dump-max: text per connection */
} muxd_relay_config_t;

/* UPSTREAM `text` (kept by pointer) parsed into *to: NULL, or why it is
 * not an upstream (after "invalid upstream 'TEXT': "). */
const char *muxd_upstream_parse(const char *text, muxd_upstream_t *to);

/* Resolves a parsed upstream into to->addrs (blocking, as getaddrinfo()
 * is: a name in /etc/hosts or a number costs nothing). 0 or -errno. */
int muxd_upstream_resolve(muxd_upstream_t *to);

/*
 * Before the loop runs (and before --workers fork): resolves each
 * UPSTREAM once, and checks that --dump's directory takes files. Logs why
 * not and returns a negative error (muxd exits 1), or 0.
 */
int muxd_relay_prepare(muxd_relay_config_t *config);

/*
 * A relay on `loop`, or NULL (no memory). `config` must outlive it;
 * `max_output` is the upstream streams' watermark (0: the library's
 * default), `idle_timeout_ms` theirs as the clients' (--idle-timeout; 0:
 * none). Made in the process that serves (after a --workers fork):
 * --dump's file names are that process's own.
 */
muxd_relay_t *muxd_relay_new(mux_loop_t *loop,
                             const muxd_relay_config_t *config,
                             size_t max_output, uint64_t idle_timeout_ms);

/*
 * Proxy `slot`'s upstream (< MUXD_RELAY_SLOTS; kept by pointer: it must
 * live until set again). NULL: the slot has none; its connections are
 * closed and its routes dropped (muxd_relay_close_proxy()).
 */
void muxd_relay_set_upstream(muxd_relay_t *relay, size_t slot,
                             const muxd_upstream_t *to);

/* Closes proxy `slot`'s connections, both streams of each pair, at once,
 * and forgets its routes (its listeners are the caller's to close). */
void muxd_relay_close_proxy(muxd_relay_t *relay, size_t slot);

/*
 * The clients of the listener bound at `local` (MUX_EV_LISTEN's, as
 * mux_conn_local() gives it) go to upstream `index`. Returns
 * 0, -EEXIST (that address already goes to another upstream) or -ENOMEM.
 */
int muxd_relay_route(muxd_relay_t *relay, const char *local, size_t index);

/* The index of the upstream (the proxy) `client` is relayed to, or
 * SIZE_MAX if its listener has none. */
size_t muxd_relay_index_of(const muxd_relay_t *relay, const mux_conn_t *client);

/* The i-th listener address of upstream `index` into *local; returns how
 * many it has (call with i = 0, 1, ... while below). */
size_t muxd_relay_listener(const muxd_relay_t *relay, size_t index, size_t i,
                           const char **local);

/* Closes every upstream stream at once and releases the relay. NULL: no-op.
 * Free the server first. */
void muxd_relay_free(muxd_relay_t *relay);

/* The service a relaying server runs, with the relay as service_arg. */
const mux_service_t *muxd_relay_service(void);

/* The client's faults changed (muxd_faults_refresh()): its upstream
 * stream reads its part of them again. */
void muxd_relay_faults_changed(mux_conn_t *client);

/*
 * A graceful stop began (MUX_EV_SHUTDOWN): clients whose upstream is still
 * connecting are read, like the others, for what they already sent; it is
 * held and relayed once the upstream is there, then the stop goes on for
 * them as for the open pairs (a client the upstream cannot take is closed
 * as on any failed connect).
 */
void muxd_relay_stopping(muxd_relay_t *relay);

/*
 * Once the server is done (every client gone): calls `done(arg)` when the
 * last upstream stream has flushed and closed too, or at `deadline_ms` (on
 * mux_now()'s clock; now or past: at once), closing what is left. The
 * deadline is the stop's own, so the whole stop has one limit.
 */
void muxd_relay_finish(muxd_relay_t *relay, uint64_t deadline_ms,
                       void (*done)(void *arg), void *arg);

#endif
