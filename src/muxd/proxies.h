/*
 * proxies.h -- muxd's proxies: named relays, each its listeners and one
 * upstream (docs/relay.md). The command line's (-l ADDR --to UPSTREAM
 * [--name NAME]) are made at start; toxiproxy's API (POST /proxies,
 * /populate, --api-config) and the control socket (proxy add) make more
 * while muxd runs, change their listen address or upstream, disable
 * (listeners and connections closed), enable (listening again on the
 * same address) and delete them.
 *
 * A proxy lives in a slot: the relay routes its listeners' clients to
 * the slot's upstream, and a fault's proxy=NAME keeps to the slot's
 * connections. A deleted proxy's slot serves a later one only after its
 * connections, routes and faults are gone; its serial, never reused,
 * tells the two apart.
 */
#ifndef MUXD_PROXIES_H
#define MUXD_PROXIES_H

#include "faults.h"
#include "relay.h"

#include "mux.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most proxies at once. */
#define MUXD_PROXIES_MAX 256
/* The most addresses one proxy listens on (a name may give several). */
#define MUXD_PROXY_LISTENERS 8
/* The longest address text: "unix:" and a path, or a host and a port. */
#define MUXD_PROXY_ADDR_MAX (MUX_ADDRSTRLEN + 8)

typedef struct muxd_proxies muxd_proxies_t;

/* A proxy as the API and the control socket show it. */
typedef struct {
    const char *name;
    const char *upstream; /* as given */
    /* Its first listener's address as -l takes it ("unix:PATH" for a
     * socket); disabled, the address it listens on once enabled. */
    const char *listen;
    bool enabled;
    uint64_t serial; /* no other proxy had it */
} muxd_proxy_info_t;

/* What muxd_proxies_add() and muxd_proxies_update() were given: NULL or
 * -1 leaves a field as it is (an update) or takes the default (an add:
 * listen 127.0.0.1:0, enabled). */
typedef struct {
    const char *name;
    const char *listen;
    const char *upstream;
    int enabled;
} muxd_proxy_spec_t;

/* Errors, beside -errno from listening (an API's 500): */
#define MUXD_PROXY_EINVAL (-EINVAL) /* a bad field: 400 */
#define MUXD_PROXY_EEXIST (-EEXIST) /* the name is taken: 409 */
#define MUXD_PROXY_ENOENT (-ENOENT) /* no such proxy: 404 */
#define MUXD_PROXY_EFULL (-ENOSPC)  /* MUXD_PROXIES_MAX reached: 500 */

/*
 * The proxies of `relay` (which reads their upstreams) and `faults`
 * (whose proxy=NAME finds them; NULL: no faults), listening on `server`
 * once muxd_proxies_attach() gave it. `host` is the default host of an
 * address given as a port alone. NULL: no memory.
 */
muxd_proxies_t *muxd_proxies_new(muxd_relay_t *relay, muxd_faults_t *faults,
                                 const char *host);
void muxd_proxies_attach(muxd_proxies_t *proxies, mux_server_t *server);
void muxd_proxies_free(muxd_proxies_t *proxies);

/* The names of the slots (NULL: free), MUXD_PROXIES_MAX of them, for
 * muxd_faults_proxies(). */
const char *const *muxd_proxies_names(const muxd_proxies_t *proxies);

/* A command line proxy (resolved by muxd_relay_prepare()), enabled, in
 * the next slot; its listeners come from muxd_proxies_bind(). Returns its
 * slot, or SIZE_MAX (no memory). */
size_t muxd_proxies_adopt(muxd_proxies_t *proxies, const muxd_upstream_t *to);

/*
 * The listeners bound from now on (MUX_EV_LISTEN, passed to
 * muxd_proxies_listened()) belong to proxy `slot`; SIZE_MAX: to the
 * proxy `fallback` says (the only --to's, for inherited sockets), or to
 * none. Returns the error a route failed with since the last call (0,
 * -EEXIST: the address is another proxy's, -ENOMEM).
 */
int muxd_proxies_bind(muxd_proxies_t *proxies, size_t slot, size_t fallback);
void muxd_proxies_listened(muxd_proxies_t *proxies, const char *local);

/* The slot of the proxy named `name`, or SIZE_MAX. */
size_t muxd_proxies_find(const muxd_proxies_t *proxies, const char *name);

/* Slot `slot`'s proxy into *info; false for a free slot or one past the
 * last (slots run 0 .. MUXD_PROXIES_MAX - 1). */
bool muxd_proxies_info(const muxd_proxies_t *proxies, size_t slot,
                       muxd_proxy_info_t *info);

/*
 * A new proxy from `spec` (name and upstream needed): listening at once
 * if enabled. Returns its slot (>= 0) or a MUXD_PROXY_E* / -errno error,
 * with the reason in err (nothing made).
 */
long muxd_proxies_add(muxd_proxies_t *proxies, const muxd_proxy_spec_t *spec,
                      char *err, size_t size);

/*
 * Proxy `slot` changed as `spec` says (its name is not read): a new
 * listen address or upstream closes its listeners and connections and
 * listens again if it stays enabled; disabling closes them; enabling
 * listens. Returns 0 or an error with the reason in err; a listen that
 * fails leaves the proxy disabled with its new fields.
 */
int muxd_proxies_update(muxd_proxies_t *proxies, size_t slot,
                        const muxd_proxy_spec_t *spec, char *err, size_t size);

/* Proxy `slot` closed (listeners, connections) and gone with its faults.
 * Returns whether faults were deleted (then they changed). */
bool muxd_proxies_del(muxd_proxies_t *proxies, size_t slot);

#endif
