/*
 * proxies.c -- muxd's proxies (proxies.h): a table of slots, each a name,
 * an upstream the relay reads, the addresses it listens on, and whether
 * it is enabled. Listening goes through the server: each listener it
 * binds is reported (MUX_EV_LISTEN) and routed to the slot being bound.
 */
#define _POSIX_C_SOURCE 200809L

#include "proxies.h"
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    muxd_upstream_t to; /* name, upstream text (`text`'s) and addresses */
    char text[MUXD_PROXY_ADDR_MAX];
    bool enabled;
    uint64_t serial;
    /* Where it listens once enabled: as given, then the addresses bound
     * (a port 0 becomes the port it got). */
    char listen[MUXD_PROXY_LISTENERS][MUXD_PROXY_ADDR_MAX];
    size_t nlisten;
    char first[MUXD_PROXY_ADDR_MAX]; /* enabled: its first listener's */
} proxy_t;

struct muxd_proxies {
    mux_server_t *server;
    muxd_relay_t *relay;
    muxd_faults_t *faults;
    const char *host;
    proxy_t *slots[MUXD_PROXIES_MAX];
    const char *names[MUXD_PROXIES_MAX];
    uint64_t serials;
    size_t binding, fallback; /* muxd_proxies_bind() */
    int route_err;
};

muxd_proxies_t *muxd_proxies_new(muxd_relay_t *relay, muxd_faults_t *faults,
                                 const char *host) {
    muxd_proxies_t *proxies = calloc(1, sizeof(*proxies));
    if (!proxies)
        return NULL;
    proxies->relay = relay;
    proxies->faults = faults;
    proxies->host = host;
    proxies->binding = proxies->fallback = SIZE_MAX;
    return proxies;
}

void muxd_proxies_attach(muxd_proxies_t *proxies, mux_server_t *server) {
    proxies->server = server;
}

void muxd_proxies_free(muxd_proxies_t *proxies) {
    if (!proxies)
        return;
    for (size_t k = 0; k < MUXD_PROXIES_MAX; k++)
        free(proxies->slots[k]);
    free(proxies);
}

const char *const *muxd_proxies_names(const muxd_proxies_t *proxies) {
    return proxies->names;
}

/* ---- slots ---- */

static size_t free_slot(const muxd_proxies_t *proxies) {
    for (size_t k = 0; k < MUXD_PROXIES_MAX; k++)
        if (!proxies->slots[k])
            return k;
    return SIZE_MAX;
}

/* `p` in slot k: the relay and the faults see it. */
static void occupy(muxd_proxies_t *proxies, size_t k, proxy_t *p) {
    p->serial = ++proxies->serials;
    proxies->slots[k] = p;
    proxies->names[k] = p->to.name;
    muxd_relay_set_upstream(proxies->relay, k, &p->to);
}

size_t muxd_proxies_adopt(muxd_proxies_t *proxies, const muxd_upstream_t *to) {
    size_t k = free_slot(proxies);
    proxy_t *p = k == SIZE_MAX ? NULL : calloc(1, sizeof(*p));
    if (!p)
        return SIZE_MAX;
    p->to = *to;
    snprintf(p->text, sizeof(p->text), "%s", to->upstream_text);
    p->to.upstream_text = p->text;
    p->enabled = true;
    occupy(proxies, k, p);
    return k;
}

size_t muxd_proxies_find(const muxd_proxies_t *proxies, const char *name) {
    for (size_t k = 0; k < MUXD_PROXIES_MAX; k++)
        if (proxies->names[k] && !strcmp(proxies->names[k], name))
            return k;
    return SIZE_MAX;
}

/* A listener's address as -l takes it: a unix socket's path (or @name)
 * gets its "unix:". */
static void listen_text(const char *local, char *out) {
    bool unix_path = local[0] == '/' || local[0] == '@';
    snprintf(out, MUXD_PROXY_ADDR_MAX, "%s%s", unix_path ? "unix:" : "", local);
}

bool muxd_proxies_info(const muxd_proxies_t *proxies, size_t slot,
                       muxd_proxy_info_t *info) {
    const proxy_t *p = slot < MUXD_PROXIES_MAX ? proxies->slots[slot] : NULL;
    if (!p)
        return false;
    *info = (muxd_proxy_info_t){.name = p->to.name,
                                .upstream = p->to.upstream_text,
                                .listen = p->enabled && p->first[0] ? p->first
                                          : p->nlisten ? p->listen[0]
                                                       : "",
                                .enabled = p->enabled,
                                .serial = p->serial};
    return true;
}

__attribute__((format(printf, 3, 4))) static void say(char *err, size_t size,
                                                      const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
}

/* ---- listening ---- */

int muxd_proxies_bind(muxd_proxies_t *proxies, size_t slot, size_t fallback) {
    int err = proxies->route_err;
    proxies->binding = slot;
    proxies->fallback = fallback;
    proxies->route_err = 0;
    return err;
}

void muxd_proxies_listened(muxd_proxies_t *proxies, const char *local) {
    size_t k =
        proxies->binding != SIZE_MAX ? proxies->binding : proxies->fallback;
    proxy_t *p = k < MUXD_PROXIES_MAX ? proxies->slots[k] : NULL;
    if (!p)
        return;
    int err = muxd_relay_route(proxies->relay, local, k);
    if (err < 0 && !proxies->route_err)
        proxies->route_err = err;
    if (err == 0 && !p->first[0])
        listen_text(local, p->first);
}

/* Closes proxy k's listeners and its connections. `keep`: the addresses
 * it listened on become the ones it listens on when enabled again (a
 * port 0 the port it got). */
static void stop(muxd_proxies_t *proxies, size_t k, bool keep) {
    proxy_t *p = proxies->slots[k];
    const char *local;
    size_t n = muxd_relay_listener(proxies->relay, k, 0, &local);
    if (keep && n)
        p->nlisten = 0;
    for (size_t i = 0; i < n; i++) {
        muxd_relay_listener(proxies->relay, k, i, &local);
        if (keep && p->nlisten < MUXD_PROXY_LISTENERS)
            listen_text(local, p->listen[p->nlisten++]);
        (void)mux_server_close_listener(proxies->server, local);
    }
    muxd_relay_close_proxy(proxies->relay, k);
    p->enabled = false;
    p->first[0] = '\0';
}

/* A listen address a proxy can take into *addr; false with the reason. */
static bool check_listen(const muxd_proxies_t *proxies, const char *text,
                         mux_addr_t *addr, char *err, size_t size) {
    int e = strlen(text) < MUXD_PROXY_ADDR_MAX
                ? mux_addr_parse(text, proxies->host, addr)
                : -EINVAL;
    if (e == 0 && addr->transport == MUX_TCP &&
        mux_port_lookup(addr->port, MUX_TCP) < 0)
        e = -EINVAL;
    if (e == 0 && addr->transport != MUX_UDP)
        return true;
    say(err, size, "invalid listen address '%.*s': %s", MUX_ADDRSTRLEN, text,
        e < 0 ? "not HOST:PORT, [V6]:PORT, PORT or unix:PATH"
              : "a proxy relays streams (TCP or unix:PATH), not udp://");
    return false;
}

/* Proxy k listens on each of its addresses; on a failure, on none (it
 * stays disabled), err says why. Returns 0 or an error. */
static int start(muxd_proxies_t *proxies, size_t k, char *err, size_t size) {
    proxy_t *p = proxies->slots[k];
    size_t fallback = proxies->fallback;
    p->enabled = true;
    for (size_t i = 0; i < p->nlisten; i++) {
        mux_addr_t addr;
        if (!check_listen(proxies, p->listen[i], &addr, err, size)) {
            stop(proxies, k, false);
            return MUXD_PROXY_EINVAL;
        }
        muxd_proxies_bind(proxies, k, fallback);
        int e = mux_server_listen_addr(proxies->server, &addr);
        int route = muxd_proxies_bind(proxies, SIZE_MAX, fallback);
        if (e == 0)
            e = route;
        if (e < 0) {
            say(err, size, "cannot listen on %s: %s", p->listen[i],
                e == -EEXIST ? "the address is another proxy's listener"
                             : mux_strerror(e));
            stop(proxies, k, false);
            return e;
        }
    }
    return 0;
}

/* ---- changes ---- */

/* "proxy NAME: added, listening on ADDR, relaying to UPSTREAM". */
static void log_proxy(const muxd_proxies_t *proxies, size_t slot,
                      const char *what) {
    muxd_proxy_info_t info;
    muxd_proxies_info(proxies, slot, &info);
    muxd_log_text(MUXD_LOG_NORMAL, "proxy %s: %s, %s%s, relaying to %s",
                  info.name, what, info.enabled ? "listening on " : "disabled",
                  info.enabled ? info.listen : "", info.upstream);
}

/* A name a fault's proxy=NAME can carry. */
static bool check_name(const char *name, char *err, size_t size) {
    size_t len = strlen(name);
    if (!len) {
        say(err, size, "missing required field: name");
        return false;
    }
    if (len > MUXD_PROXY_NAME_MAX ||
        strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789._-") != len) {
        say(err, size,
            "invalid proxy name '%.64s' (1 to 64 of A-Z a-z 0-9 . _ -)", name);
        return false;
    }
    return true;
}

/* An upstream into p (its text kept in p->text); false with the reason. */
static bool take_upstream(proxy_t *p, const char *text, char *err,
                          size_t size) {
    const char *why = strlen(text) >= sizeof(p->text) ? "too long" : NULL;
    int e = 0;
    char was[sizeof(p->text)];
    memcpy(was, p->text, sizeof(was));
    snprintf(p->text, sizeof(p->text), "%s", why ? "" : text);
    if (!why && !(why = muxd_upstream_parse(p->text, &p->to)) &&
        (e = muxd_upstream_resolve(&p->to)) < 0)
        why = mux_strerror(e);
    if (why) {
        memcpy(p->text, was, sizeof(was));
        say(err, size, "invalid upstream '%.*s': %s", MUX_ADDRSTRLEN, text,
            why);
        return false;
    }
    return true;
}

/* Proxy `slot` closed and gone with its faults, quietly (an add that
 * failed had no proxy to log). Returns whether faults were deleted. */
static bool drop(muxd_proxies_t *proxies, size_t slot) {
    proxy_t *p = proxies->slots[slot];
    stop(proxies, slot, false);
    muxd_relay_set_upstream(proxies->relay, slot, NULL);
    bool changed =
        proxies->faults && muxd_faults_del_proxy(proxies->faults, slot) > 0;
    proxies->names[slot] = NULL;
    proxies->slots[slot] = NULL;
    free(p);
    return changed;
}

long muxd_proxies_add(muxd_proxies_t *proxies, const muxd_proxy_spec_t *spec,
                      char *err, size_t size) {
    const char *listen = spec->listen ? spec->listen : "127.0.0.1:0";
    mux_addr_t addr;
    if (!check_name(spec->name ? spec->name : "", err, size))
        return MUXD_PROXY_EINVAL;
    if (!spec->upstream || !spec->upstream[0]) {
        say(err, size, "missing required field: upstream");
        return MUXD_PROXY_EINVAL;
    }
    if (muxd_proxies_find(proxies, spec->name) != SIZE_MAX) {
        say(err, size, "proxy already exists");
        return MUXD_PROXY_EEXIST;
    }
    size_t k = free_slot(proxies);
    if (k == SIZE_MAX) {
        say(err, size, "too many proxies (%d): delete some", MUXD_PROXIES_MAX);
        return MUXD_PROXY_EFULL;
    }
    proxy_t *p = calloc(1, sizeof(*p));
    if (!p) {
        say(err, size, "%s", mux_strerror(-ENOMEM));
        return -ENOMEM;
    }
    snprintf(p->to.name, sizeof(p->to.name), "%s", spec->name);
    if (!take_upstream(p, spec->upstream, err, size) ||
        !check_listen(proxies, listen, &addr, err, size)) {
        free(p);
        return MUXD_PROXY_EINVAL;
    }
    snprintf(p->listen[0], sizeof(p->listen[0]), "%s", listen);
    p->nlisten = 1;
    occupy(proxies, k, p);
    int e = spec->enabled != 0 ? start(proxies, k, err, size) : 0;
    if (e < 0) {
        drop(proxies, k);
        return e;
    }
    log_proxy(proxies, k, "added");
    return (long)k;
}

int muxd_proxies_update(muxd_proxies_t *proxies, size_t slot,
                        const muxd_proxy_spec_t *spec, char *err, size_t size) {
    proxy_t *p = proxies->slots[slot];
    muxd_proxy_info_t now;
    muxd_proxies_info(proxies, slot, &now);
    bool new_upstream = spec->upstream && strcmp(spec->upstream, p->text);
    bool new_listen = spec->listen && strcmp(spec->listen, now.listen);
    mux_addr_t addr;
    if (new_listen && !check_listen(proxies, spec->listen, &addr, err, size))
        return MUXD_PROXY_EINVAL;
    muxd_upstream_t was = p->to;
    if (new_upstream && !take_upstream(p, spec->upstream, err, size)) {
        p->to = was;
        return MUXD_PROXY_EINVAL;
    }
    bool enable = spec->enabled < 0 ? p->enabled : spec->enabled != 0;
    if (p->enabled && (new_upstream || new_listen || !enable))
        stop(proxies, slot, true);
    if (new_listen) {
        snprintf(p->listen[0], sizeof(p->listen[0]), "%s", spec->listen);
        p->nlisten = 1;
    }
    int e = enable && !p->enabled ? start(proxies, slot, err, size) : 0;
    log_proxy(proxies, slot, "changed");
    return e;
}

bool muxd_proxies_del(muxd_proxies_t *proxies, size_t slot) {
    muxd_log_text(MUXD_LOG_NORMAL, "proxy %s: deleted",
                  proxies->slots[slot]->to.name);
    return drop(proxies, slot);
}
