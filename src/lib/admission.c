/*
 * admission.c -- the limits a server puts on who may come in, after its
 * filter: how many stream clients one source holds now
 * (opts.max_per_source; a source is an IPv4 address or an IPv6 /64, see
 * mux__source_of()), counted in a hash table, and how many were admitted
 * in the last second (opts.max_rate), a ring of their times. It owns both
 * and the reason texts of their refusals; it counts refusals in the
 * server's counters and knows nothing else of the server.
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Buckets of the per-source client counts. */
#define SOURCE_BUCKETS 256
/* The window of opts.max_rate. */
#define RATE_WINDOW_MS 1000

/* How many stream clients one source has connected now. */
struct mux__source_count {
    mux__source_count_t *next;
    mux__source_t source;
    unsigned clients;
};

struct mux__admission {
    mux_loop_t *loop;
    mux_server_stats_t *counters;
    unsigned max_per_source, max_rate; /* 0: no limit */
    mux__source_count_t **per_source;  /* SOURCE_BUCKETS chains, or NULL */
    uint64_t *times; /* max_rate: the last admissions, a ring */
    size_t next, count;
};

mux__admission_t *mux__admission_new(mux_loop_t *loop, unsigned max_per_source,
                                     unsigned max_rate,
                                     mux_server_stats_t *counters) {
    mux__admission_t *adm = malloc(sizeof(*adm));
    if (!adm)
        return NULL;
    *adm = (mux__admission_t){.loop = loop,
                              .counters = counters,
                              .max_per_source = max_per_source,
                              .max_rate = max_rate};
    if ((max_per_source &&
         !(adm->per_source = calloc(SOURCE_BUCKETS, sizeof(void *)))) ||
        (max_rate && !(adm->times = calloc(max_rate, sizeof(uint64_t))))) {
        mux__admission_free(adm);
        return NULL;
    }
    return adm;
}

void mux__admission_free(mux__admission_t *adm) {
    if (!adm)
        return;
    for (size_t i = 0; adm->per_source && i < SOURCE_BUCKETS; i++)
        while (adm->per_source[i]) {
            mux__source_count_t *c = adm->per_source[i];
            adm->per_source[i] = c->next;
            free(c);
        }
    free(adm->per_source);
    free(adm->times);
    free(adm);
}

/* ---- clients per source ---- */

static mux__source_count_t **bucket(mux__admission_t *adm,
                                    const mux__source_t *source) {
    return &adm->per_source[mux__source_hash(source) % SOURCE_BUCKETS];
}

/* The count of `peer`'s source, made if new (NULL: none, a unix client,
 * or no memory). */
static mux__source_count_t *source_count(mux__admission_t *adm,
                                         const struct sockaddr *peer) {
    mux__source_t source;
    if (!adm->per_source || !mux__source_of(peer, &source))
        return NULL;
    mux__source_count_t **head = bucket(adm, &source);
    for (mux__source_count_t *c = *head; c; c = c->next)
        if (memcmp(&c->source, &source, sizeof(source)) == 0)
            return c;
    mux__source_count_t *c = calloc(1, sizeof(*c));
    if (c) {
        c->source = source;
        c->next = *head;
        *head = c;
    }
    return c;
}

void mux__admission_release(mux__admission_t *adm, mux__source_count_t *count) {
    if (!count || count->clients > 0)
        return;
    mux__source_count_t **p = bucket(adm, &count->source);
    while (*p != count) {
        assert(*p); /* a count is on its bucket's chain until freed here */
        p = &(*p)->next;
    }
    *p = count->next;
    free(count);
}

void mux__admission_hold(mux__source_count_t *count) {
    if (count)
        count->clients++;
}

void mux__admission_leave(mux__admission_t *adm, mux__source_count_t *count) {
    if (!count)
        return;
    assert(count->clients > 0);
    count->clients--;
    mux__admission_release(adm, count);
}

/* ---- admissions in the last RATE_WINDOW_MS ---- */

static bool over_rate(const mux__admission_t *adm) {
    if (!adm->max_rate || adm->count < adm->max_rate)
        return false;
    /* The ring is full: its oldest entry is the max-th admission back. */
    uint64_t oldest = adm->times[adm->next];
    return mux_now(adm->loop) - oldest < RATE_WINDOW_MS;
}

void mux__admission_note(mux__admission_t *adm) {
    if (!adm->times)
        return;
    assert(adm->next < adm->max_rate);
    adm->times[adm->next] = mux_now(adm->loop);
    adm->next = (adm->next + 1) % adm->max_rate;
    adm->count++;
}

/* ---- the verdict ---- */

/* Why a client whose source holds `count` may not come in (counted), or
 * NULL. */
static const char *over_limits(mux__admission_t *adm,
                               const struct sockaddr *peer,
                               const mux__source_count_t *count, char *why,
                               size_t size) {
    if (count && count->clients >= adm->max_per_source) {
        adm->counters->refused_per_source++;
        snprintf(why, size, "too many clients from this address (limit %u)",
                 adm->max_per_source);
        return why;
    }
    if (over_rate(adm)) {
        adm->counters->refused_rate++;
        snprintf(why, size, "too many new clients per second (limit %u)",
                 adm->max_rate);
        return why;
    }
    if (adm->per_source && !count && peer->sa_family != AF_UNIX)
        return "server full: out of memory";
    return NULL;
}

const char *mux__admission_check(mux__admission_t *adm,
                                 const struct sockaddr *peer,
                                 mux__source_count_t **count, char *why,
                                 size_t size) {
    *count = source_count(adm, peer);
    const char *reason = over_limits(adm, peer, *count, why, size);
    if (reason) {
        mux__admission_release(adm, *count);
        *count = NULL;
    }
    return reason;
}
