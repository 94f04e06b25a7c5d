/*
 * dgram.c -- one UDP socket: recvfrom() into the loop's scratch buffer,
 * the service's datagram callback, and replies with sendto(); and, for
 * every UDP socket of a server, what keeps a datagram service out of
 * reflection loops (CVE-1999-0103): the guard that never serves a source
 * that could be a reflecting service or this server itself (the rule of
 * FreeBSD inetd's check_loop and OpenBSD inetd's dg_badinput), and a
 * per-source reply budget that ends any other loop.
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

/* Datagrams served per readiness: bounded so streams get their turn. */
#define DGRAM_BATCH 32

/* The table of sources: SETS sets of WAYS entries, the least recently
 * seen of a set replaced by a newcomer. */
#define SETS 128
#define WAYS 4
/* The default budget: replies per second per source, and the burst as a
 * multiple of it. */
#define DEFAULT_RATE 100
#define BURST_FACTOR 10
/* Refusals of one source are reported at most this often... */
#define REPORT_MS 5000
/* ...and at most this many events a second for all sources together. */
#define REPORTS_PER_S 10

typedef enum {
    REFUSED_FILTER,     /* opts.filter said no */
    REFUSED_PORT,       /* a source port a reflecting service uses */
    REFUSED_OWN_PORT,   /* the port of one of the server's UDP listeners */
    REFUSED_ADDRESS,    /* an unspecified, broadcast or multicast source */
    REFUSED_OVER_BUDGET /* the source's reply budget is spent */
} refusal_kind;

typedef union {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
} inet_addr_t;

/* One source: its reply budget, and its refusals not yet reported. */
typedef struct {
    mux__source_t source;
    bool used;
    uint8_t kind;               /* refusal_kind of the last refusal */
    const char *reason;         /* REFUSED_FILTER: the filter's reason */
    uint64_t tokens;            /* budget left, in thousandths of a reply */
    uint64_t filled_ms;         /* when `tokens` was last topped up */
    uint64_t seen_ms;           /* last datagram or reply */
    uint64_t reported_ms;       /* last MUX_EV_REFUSE; 0: never */
    uint64_t unreported;        /* refusals since it */
    inet_addr_t peer;           /* the last refused datagram's sender... */
    char local[MUX_ADDRSTRLEN]; /* ...and where it came in */
} source_t;

struct mux__dgram_sources {
    mux__dgram_config_t *config;
    mux_timer_t flush;  /* armed while refusals wait to be reported */
    uint64_t window_ms; /* the second REPORTS_PER_S counts in */
    unsigned reports;   /* events reported in it */
    uint64_t evicted;   /* unreported refusals of sources replaced */
    source_t table[SETS * WAYS];
};

struct mux_dgram {
    mux_listener_t *listener; /* its fd and local address */
    mux__dgram_config_t *config;
    struct sockaddr_storage peer; /* the sender being served */
    socklen_t peer_len;
    char peer_text[MUX_ADDRSTRLEN]; /* formatted on demand */
};

/* ------------------------------------------------------------------ */
/* The table of sources                                                */
/* ------------------------------------------------------------------ */

static unsigned budget_rate(const mux__dgram_config_t *c) {
    return c->rate ? c->rate : DEFAULT_RATE;
}

static uint64_t budget_cap(const mux__dgram_config_t *c) {
    uint64_t burst =
        c->burst ? c->burst : (uint64_t)budget_rate(c) * BURST_FACTOR;
    return burst * 1000;
}

/* The entry of `source`, made (with a full budget) if it is new. */
static source_t *source_entry(mux__dgram_sources_t *sources,
                              const mux__source_t *source, uint64_t now) {
    source_t *set = &sources->table[(mux__source_hash(source) % SETS) * WAYS];
    source_t *victim = &set[0];
    for (int i = 0; i < WAYS; i++) {
        if (set[i].used && memcmp(&set[i].source, source, sizeof(*source)) == 0)
            return &set[i];
        if (!set[i].used || (victim->used && set[i].seen_ms < victim->seen_ms))
            victim = &set[i];
    }
    sources->evicted += victim->unreported;
    memset(victim, 0, sizeof(*victim));
    victim->used = true;
    victim->source = *source;
    victim->tokens = budget_cap(sources->config);
    victim->filled_ms = victim->seen_ms = now;
    return victim;
}

/* Takes one reply from the entry's budget; false if it is spent. */
static bool spend(source_t *entry, const mux__dgram_config_t *c, uint64_t now) {
    unsigned rate = budget_rate(c);
    uint64_t cap = budget_cap(c);
    uint64_t elapsed = now - entry->filled_ms;
    if (elapsed > cap / rate + 1)
        elapsed = cap / rate + 1; /* enough to fill it: no overflow */
    entry->tokens += elapsed * rate;
    entry->tokens = entry->tokens < cap ? entry->tokens : cap;
    entry->filled_ms = now;
    entry->seen_ms = now;
    if (entry->tokens < 1000)
        return false;
    entry->tokens -= 1000;
    return true;
}

/* ------------------------------------------------------------------ */
/* Reporting refusals without flooding                                 */
/* ------------------------------------------------------------------ */

static const char *refusal_text(const source_t *entry,
                                const mux__dgram_config_t *c, char *out,
                                size_t size) {
    unsigned port = mux__addr_port(&entry->peer.sa);
    switch ((refusal_kind)entry->kind) {
    case REFUSED_FILTER:
        return entry->reason;
    case REFUSED_PORT:
        snprintf(out, size, "reflection guard (source port %u)", port);
        return out;
    case REFUSED_OWN_PORT:
        snprintf(out, size,
                 "reflection guard (source port %u is one of this server's)",
                 port);
        return out;
    case REFUSED_ADDRESS:
        return "reflection guard (broadcast, multicast or unspecified "
               "source)";
    case REFUSED_OVER_BUDGET:
        snprintf(out, size, "over the reply budget (%u a second)",
                 budget_rate(c));
        return out;
    }
    return "refused";
}

/* REPORTS_PER_S: may one more event be reported now? */
static bool may_report(mux__dgram_sources_t *sources, uint64_t now) {
    if (now - sources->window_ms >= 1000) {
        sources->window_ms = now;
        sources->reports = 0;
    }
    return sources->reports < REPORTS_PER_S ? (sources->reports++, true)
                                            : false;
}

/* One MUX_EV_REFUSE for the entry's last refusal and `repeats` more. */
static void report(mux__dgram_sources_t *sources, source_t *entry,
                   uint64_t repeats, uint64_t now) {
    char peer[MUX_ADDRSTRLEN], why[96];
    mux__dgram_config_t *c = sources->config;
    mux_event_t ev = {.type = MUX_EV_REFUSE,
                      .transport = MUX_UDP,
                      .peer =
                          mux_addr_format(&entry->peer.sa, sizeof(entry->peer),
                                          peer, sizeof(peer)),
                      .local = entry->local,
                      .reason = refusal_text(entry, c, why, sizeof(why)),
                      .repeats = repeats};
    entry->reported_ms = now;
    entry->unreported = 0;
    c->emit(c->arg, &ev);
}

/* Refusals of sources replaced in the table: one event, without a peer. */
static void report_evicted(mux__dgram_sources_t *sources, uint64_t now) {
    if (!sources->evicted || !may_report(sources, now))
        return;
    mux_event_t ev = {.type = MUX_EV_REFUSE,
                      .transport = MUX_UDP,
                      .reason = "datagrams of sources no longer tracked",
                      .repeats = sources->evicted - 1};
    sources->evicted = 0;
    sources->config->emit(sources->config->arg, &ev);
}

static void on_flush(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    MUX__UNUSED(timer);
    mux__dgram_sources_t *sources = arg;
    uint64_t now = mux_now(loop);
    bool pending = false;
    for (size_t i = 0; i < SETS * WAYS; i++) {
        source_t *entry = &sources->table[i];
        if (!entry->unreported)
            continue;
        if (now - entry->reported_ms >= REPORT_MS && may_report(sources, now))
            report(sources, entry, entry->unreported - 1, now);
        else
            pending = true;
    }
    report_evicted(sources, now);
    if (!pending && !sources->evicted)
        mux_timer_stop(&sources->flush);
}

/* Counts one refusal of the datagram being served, reports it or keeps
 * it for a summary. */
static void refuse(mux_dgram_t *dgram, const mux__source_t *source,
                   refusal_kind kind, const char *reason) {
    mux__dgram_config_t *c = dgram->config;
    mux__dgram_sources_t *sources = c->sources;
    mux_server_stats_t *counters = c->counters;
    uint64_t now = mux_now(c->loop);
    counters->dgram_denied += kind == REFUSED_FILTER;
    counters->dgram_over_budget += kind == REFUSED_OVER_BUDGET;
    counters->dgram_guarded +=
        kind != REFUSED_FILTER && kind != REFUSED_OVER_BUDGET;
    source_t *entry = source_entry(sources, source, now);
    entry->kind = (uint8_t)kind;
    entry->reason = reason;
    memcpy(&entry->peer, &dgram->peer, sizeof(entry->peer));
    memcpy(entry->local, dgram->listener->local, sizeof(entry->local));
    if ((!entry->reported_ms || now - entry->reported_ms >= REPORT_MS) &&
        may_report(sources, now)) {
        report(sources, entry, entry->unreported, now);
        return;
    }
    entry->unreported++;
    if (!mux_timer_active(&sources->flush))
        mux_timer_start(&sources->flush, REPORT_MS, REPORT_MS);
}

/* ------------------------------------------------------------------ */
/* The reflection guard                                                */
/* ------------------------------------------------------------------ */

/* Source ports of services that answer datagrams: all below 1024 (echo
 * 7, discard 9, daytime 13, qotd 17, chargen 19, time 37, DNS 53, NTP
 * 123, SNMP 161, ...), and these above it. */
static bool reflecting_port(unsigned port) {
    static const unsigned above[] = {1900, 2049, 3702, 5353, 11211};
    if (port < 1024)
        return true;
    for (size_t i = 0; i < sizeof(above) / sizeof(above[0]); i++)
        if (port == above[i])
            return true;
    return false;
}

/* Sources no datagram can truly come from, or whose replies would go to
 * many: unspecified, broadcast, multicast (IPv4 224/4 and 240/4). */
static bool bad_source(const mux__source_t *source, const inet_addr_t *peer) {
    if (source->family == AF_INET) {
        uint8_t first = source->addr[0];
        return first == 0 || first >= 224; /* 0/8, 224/4, 240/4, bcast */
    }
    const uint8_t *a6 = peer->in6.sin6_addr.s6_addr;
    static const uint8_t unspecified[16];
    return a6[0] == 0xff || memcmp(a6, unspecified, 16) == 0;
}

/* Whether the sender of the datagram being served could reflect the
 * reply back (*kind: why). */
static bool guard(mux_dgram_t *dgram, mux__source_t *source,
                  refusal_kind *kind) {
    const inet_addr_t *peer = (const inet_addr_t *)&dgram->peer;
    unsigned port = mux__addr_port(&peer->sa);
    if (reflecting_port(port))
        *kind = REFUSED_PORT;
    else if (dgram->config->own_port(dgram->config->arg, port))
        *kind = REFUSED_OWN_PORT;
    else if (bad_source(source, peer))
        *kind = REFUSED_ADDRESS;
    else
        return false;
    return true;
}

/* The guard and the filter: true if the datagram is refused. */
static bool refused(mux_dgram_t *dgram) {
    mux__source_t source;
    struct sockaddr *peer = (struct sockaddr *)&dgram->peer;
    if (!mux__source_of(peer, &source))
        return false; /* a unix datagram socket: nothing to reflect to */
    refusal_kind kind;
    if (guard(dgram, &source, &kind)) {
        refuse(dgram, &source, kind, NULL);
        return true;
    }
    const mux__dgram_config_t *c = dgram->config;
    const char *reason =
        c->filter ? c->filter(peer, dgram->peer_len, c->filter_arg) : NULL;
    if (reason)
        refuse(dgram, &source, REFUSED_FILTER, reason);
    return reason != NULL;
}

/* The reply budget of the datagram's source: false if it is spent. */
static bool within_budget(mux_dgram_t *dgram) {
    mux__dgram_config_t *c = dgram->config;
    mux__source_t source;
    if (c->rate == MUX_UNLIMITED ||
        !mux__source_of((struct sockaddr *)&dgram->peer, &source))
        return true;
    uint64_t now = mux_now(c->loop);
    source_t *entry = source_entry(c->sources, &source, now);
    if (spend(entry, c, now))
        return true;
    refuse(dgram, &source, REFUSED_OVER_BUDGET, NULL);
    return false;
}

void mux__dgram_sources_free(mux__dgram_sources_t *sources) {
    if (!sources)
        return;
    mux_timer_stop(&sources->flush);
    free(sources);
}

/* ------------------------------------------------------------------ */
/* Serving                                                             */
/* ------------------------------------------------------------------ */

int mux_dgram_replyv(mux_dgram_t *dgram, const struct iovec *iov, int iovcnt) {
    if (iovcnt < 0 || iovcnt > MUX_IOV_MAX)
        return -EINVAL;
    if (!within_budget(dgram))
        return -ENOBUFS;
    struct msghdr msg = {.msg_name = &dgram->peer,
                         .msg_namelen = dgram->peer_len,
                         .msg_iov = (struct iovec *)iov,
                         .msg_iovlen = (size_t)iovcnt};
    for (;;) {
        ssize_t n = sendmsg(dgram->listener->fd, &msg, MSG_NOSIGNAL);
        if (n >= 0) {
            dgram->config->counters->bytes_out += (uint64_t)n;
            return 0;
        }
        if (errno != EINTR)
            return -errno; /* EAGAIN: the reply is dropped, as UDP may */
    }
}

int mux_dgram_reply(mux_dgram_t *dgram, const void *data, size_t len) {
    struct iovec one = {.iov_base = (void *)data, .iov_len = len};
    return mux_dgram_replyv(dgram, &one, 1);
}

const char *mux_dgram_peer(const mux_dgram_t *dgram) {
    mux_dgram_t *d = (mux_dgram_t *)dgram; /* a cache, not a visible change */
    if (!d->peer_text[0])
        mux_addr_format((struct sockaddr *)&d->peer, d->peer_len, d->peer_text,
                        sizeof(d->peer_text));
    return d->peer_text;
}

void *mux_dgram_service_arg(const mux_dgram_t *dgram) {
    return dgram->config->service_arg;
}

void mux_dgram_log(mux_dgram_t *dgram, const char *text, size_t len) {
    mux_event_t ev = {.type = MUX_EV_SERVICE,
                      .transport = MUX_UDP,
                      .peer = mux_dgram_peer(dgram),
                      .local = dgram->listener->local,
                      .text = text,
                      .text_len = len};
    dgram->config->emit(dgram->config->arg, &ev);
}

static void on_readable(mux_loop_t *loop, int fd, int events, void *arg) {
    MUX__UNUSED(events);
    mux_dgram_t *dgram = arg;
    const mux_service_t *service = dgram->config->service;
    char *scratch = mux__loop_scratch(loop);
    for (int i = 0; i < DGRAM_BATCH; i++) {
        dgram->peer_len = sizeof(dgram->peer);
        ssize_t n = recvfrom(fd, scratch, MUX__SCRATCH_SIZE, 0,
                             (struct sockaddr *)&dgram->peer, &dgram->peer_len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return; /* EAGAIN, or an ICMP error for an earlier reply */
        }
        dgram->config->counters->bytes_in += (uint64_t)n;
        dgram->peer_text[0] = '\0';
        if (!refused(dgram))
            service->datagram(dgram, scratch, (size_t)n);
        if (dgram->listener->fd < 0)
            return; /* the service or an event callback closed it */
    }
}

int mux__dgram_start(mux_listener_t *listener, mux__dgram_config_t *config) {
    if (!config->service->datagram)
        return -EPROTONOSUPPORT;
    if (!config->sources) {
        if (!(config->sources = calloc(1, sizeof(*config->sources))))
            return -ENOMEM;
        config->sources->config = config;
        mux_timer_init(&config->sources->flush, config->loop, on_flush,
                       config->sources);
    }
    mux_dgram_t *dgram = calloc(1, sizeof(*dgram));
    if (!dgram)
        return -ENOMEM;
    dgram->listener = listener;
    dgram->config = config;
    int err =
        mux_watch(config->loop, listener->fd, MUX_READ, on_readable, dgram);
    if (err < 0) {
        free(dgram);
        return err;
    }
    listener->dgram = dgram;
    return 0;
}

void mux__dgram_stop(mux_listener_t *listener) {
    mux_dgram_t *dgram = listener->dgram;
    if (!dgram)
        return;
    mux_unwatch(dgram->config->loop, listener->fd);
    if (mux__defer(dgram->config->loop, free, dgram) == 0)
        listener->dgram = NULL;
}
