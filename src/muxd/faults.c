/*
 * faults.c -- fault specs, the registry of the faults in force, and what
 * each connection gets of them (faults.h). The library does the faults
 * themselves (mux_faults_t, src/lib/shape.c); this file decides which
 * apply to whom.
 */
#define _POSIX_C_SOURCE 200809L

#include "faults.h"
#include "number.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Upper bounds: beyond them a value is surely a typo. */
#define MAX_BYTES (UINT64_C(1) << 40)
#define MAX_PIECE (UINT64_C(1) << 30)
#define MAX_MS UINT64_C(3600000)

typedef enum {
    K_DROP_AFTER,
    K_RST,
    K_SPLIT,
    K_STALL,
    K_ACCEPT_DELAY,
    K_LATENCY,
    K_BANDWIDTH,
    K_SLOW_CLOSE,
    K_LIMIT_TIME,
    K_TIMEOUT,
    K_REFUSE,
    K_BLACKHOLE,
} kind_t;

/* The kinds: name, value form ("" none), and whether one added while
 * connections are open reaches them. */
static const struct {
    const char *name, *value;
    bool reaches_open;
} kinds[] = {
    [K_DROP_AFTER] = {"drop-after", "BYTES", false},
    [K_RST] = {"rst", "", true},
    [K_SPLIT] = {"split", "BYTES[:MS]", true},
    [K_STALL] = {"stall", "", true},
    [K_ACCEPT_DELAY] = {"accept-delay", "MS", true},
    [K_LATENCY] = {"latency", "MS", true},
    [K_BANDWIDTH] = {"bandwidth", "RATE", true},
    [K_SLOW_CLOSE] = {"slow-close", "MS", false},
    [K_LIMIT_TIME] = {"limit-time", "MS", false},
    [K_TIMEOUT] = {"timeout", "MS", true},
    [K_REFUSE] = {"refuse", "", false},
    [K_BLACKHOLE] = {"blackhole", "", false},
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

enum { DIR_DOWN = 1, DIR_UP = 2 };

/* One fault, parsed. */
typedef struct {
    kind_t kind;
    uint64_t value, extra; /* split: bytes, ms; latency: ms, jitter */
    uint8_t dir;           /* DIR_* bits */
    unsigned odds;         /* percent of connections */
    uint64_t first;        /* only the first N connections; 0: all */
} fault_t;

/* One fault in force. */
typedef struct {
    bool used;
    uint64_t id;
    fault_t fault;
    uint64_t matched; /* connections it applied to (first=N) */
    char spec[MUXD_FAULT_SPEC_MAX];
} entry_t;

struct muxd_faults {
    entry_t entries[MUXD_FAULTS_MAX]; /* a bit each in `applied` masks */
    size_t nslots;                    /* slots taken since the last clear */
    /* Slots of deleted faults: `freed` until every connection forgot
     * them (muxd_faults_settle()), then `reusable`. */
    uint64_t freed, reusable;
    uint64_t next_id;
    uint64_t epoch; /* clears: masks of an older epoch mean nothing */
    uint64_t rng;   /* odds= draws */
};

/* ------------------------------------------------------------------ */
/* Specs                                                               */
/* ------------------------------------------------------------------ */

/* A duration in ms (0..MAX_MS; min 1 if `positive`), or UINT64_MAX. */
static uint64_t parse_ms(const char *text, const char *end, bool positive) {
    size_t len = end ? (size_t)(end - text) : strlen(text);
    if (len == 1 && text[0] == '0')
        return positive ? UINT64_MAX : 0;
    uint64_t v = number_parse_size(text, end, MAX_MS, false);
    return v ? v : UINT64_MAX;
}

/* The value of `kind` into f; NULL or why it is wrong. */
static const char *parse_value(kind_t kind, const char *value, fault_t *f) {
    if (!kinds[kind].value[0])
        return value ? "takes no value" : NULL;
    if (!value)
        return "needs a value";
    const char *colon;
    switch (kind) {
    case K_DROP_AFTER:
        f->value = number_parse_size(value, NULL, MAX_BYTES, true);
        return f->value ? NULL : "BYTES: 1 to 1T (suffixes k, M, G)";
    case K_SPLIT:
        colon = strchr(value, ':');
        f->value = number_parse_size(value, colon, MAX_PIECE, true);
        f->extra = colon ? parse_ms(colon + 1, NULL, true) : 0;
        return f->value && f->extra != UINT64_MAX
                   ? NULL
                   : "BYTES[:MS], both at least 1";
    case K_BANDWIDTH:
        f->value = number_parse_size(value, NULL, MAX_BYTES, true);
        return f->value ? NULL : "RATE: bytes a second, at least 1 (k, M, G)";
    case K_LATENCY:
    case K_TIMEOUT:
        f->value = parse_ms(value, NULL, false);
        return f->value != UINT64_MAX ? NULL : "MS: 0 to 3600000";
    default: /* accept-delay, slow-close, limit-time */
        f->value = parse_ms(value, NULL, true);
        return f->value != UINT64_MAX ? NULL : "MS: 1 to 3600000";
    }
}

/* One KEY=VALUE after the kind; NULL or why it is wrong. */
static const char *parse_key(const char *key, size_t len, fault_t *f) {
    const char *eq = memchr(key, '=', len);
    if (!eq)
        return "a key needs =VALUE (dir, odds, first, jitter)";
    size_t klen = (size_t)(eq - key);
    const char *v = eq + 1, *end = key + len;
    size_t vlen = (size_t)(end - v);
    if (klen == 3 && !strncmp(key, "dir", 3)) {
        f->dir = vlen == 4 && !strncmp(v, "down", 4)   ? DIR_DOWN
                 : vlen == 2 && !strncmp(v, "up", 2)   ? DIR_UP
                 : vlen == 4 && !strncmp(v, "both", 4) ? DIR_DOWN | DIR_UP
                                                       : 0;
        return f->dir ? NULL : "dir=down, up or both";
    }
    if (klen == 4 && !strncmp(key, "odds", 4)) {
        uint64_t odds = number_parse_size(v, end, 100, false);
        if (vlen == 1 && v[0] == '0')
            odds = 0;
        else if (!odds)
            return "odds=PERCENT, 0 to 100";
        f->odds = (unsigned)odds;
        return NULL;
    }
    if (klen == 5 && !strncmp(key, "first", 5)) {
        f->first = number_parse_size(v, end, UINT64_C(1) << 40, false);
        return f->first ? NULL : "first=N, at least 1";
    }
    if (klen == 6 && !strncmp(key, "jitter", 6) && f->kind == K_LATENCY) {
        f->extra = parse_ms(v, end, false);
        return f->extra != UINT64_MAX ? NULL : "jitter=MS, 0 to 3600000";
    }
    return "unknown key (dir, odds, first; jitter with latency)";
}

/* The kind named by spec[0..len), or NKINDS. */
static kind_t find_kind(const char *name, size_t len) {
    for (size_t k = 0; k < NKINDS; k++)
        if (strlen(kinds[k].name) == len && !strncmp(kinds[k].name, name, len))
            return (kind_t)k;
    return (kind_t)NKINDS;
}

/* Parses a spec; NULL, or why it is wrong (a phrase). */
static const char *parse(const char *spec, fault_t *f) {
    memset(f, 0, sizeof(*f));
    f->odds = 100;
    const char *comma = strchr(spec, ',');
    size_t head = comma ? (size_t)(comma - spec) : strlen(spec);
    const char *eq = memchr(spec, '=', head);
    f->kind = find_kind(spec, eq ? (size_t)(eq - spec) : head);
    if (f->kind == (kind_t)NKINDS)
        return "unknown kind";
    char value[64];
    if (eq) {
        size_t vlen = head - (size_t)(eq + 1 - spec);
        if (vlen >= sizeof(value))
            return "value too long";
        memcpy(value, eq + 1, vlen);
        value[vlen] = '\0';
    }
    const char *why = parse_value(f->kind, eq ? value : NULL, f);
    while (!why && comma) {
        const char *key = comma + 1;
        comma = strchr(key, ',');
        why = parse_key(key, comma ? (size_t)(comma - key) : strlen(key), f);
    }
    if (!f->dir) /* stall's bytes are the ones muxd reads */
        f->dir = f->kind == K_STALL ? DIR_UP : DIR_DOWN;
    return why;
}

bool muxd_fault_check(const char *spec, char *err, size_t size) {
    fault_t f;
    const char *why =
        strlen(spec) >= MUXD_FAULT_SPEC_MAX ? "too long" : parse(spec, &f);
    if (why && err && size) {
        kind_t k = find_kind(spec, strcspn(spec, "=,"));
        if (k != (kind_t)NKINDS && kinds[k].value[0])
            snprintf(err, size, "invalid fault: '%s' (%s=%s: %s)", spec,
                     kinds[k].name, kinds[k].value, why);
        else if (k != (kind_t)NKINDS)
            snprintf(err, size, "invalid fault: '%s' (%s: %s)", spec,
                     kinds[k].name, why);
        else
            snprintf(err, size,
                     "invalid fault: '%s' (%s: latency, bandwidth, split, "
                     "drop-after, stall, rst, slow-close, limit-time, "
                     "timeout, refuse, blackhole, accept-delay)",
                     spec, why);
    }
    return !why;
}

static uint64_t max64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* ------------------------------------------------------------------ */
/* The registry                                                        */
/* ------------------------------------------------------------------ */

muxd_faults_t *muxd_faults_new(uint64_t seed) {
    muxd_faults_t *faults = calloc(1, sizeof(*faults));
    if (faults)
        faults->rng = seed ? seed : UINT64_C(0x9e3779b97f4a7c15);
    return faults;
}

void muxd_faults_free(muxd_faults_t *faults) { free(faults); }

uint64_t muxd_faults_add(muxd_faults_t *faults, const char *spec, char *err,
                         size_t size) {
    if (!muxd_fault_check(spec, err, size))
        return 0;
    size_t slot = faults->nslots;
    if (faults->reusable) { /* the lowest slot nobody remembers */
        slot = 0;
        while (!((faults->reusable >> slot) & 1))
            slot++;
        faults->reusable &= ~(UINT64_C(1) << slot);
    } else if (faults->nslots == MUXD_FAULTS_MAX) {
        snprintf(err, size, "too many faults in force (%d): delete some",
                 MUXD_FAULTS_MAX);
        return 0;
    } else {
        faults->nslots++;
    }
    entry_t *e = &faults->entries[slot];
    memset(e, 0, sizeof(*e));
    e->used = true;
    e->id = ++faults->next_id;
    parse(spec, &e->fault);
    snprintf(e->spec, sizeof(e->spec), "%s", spec);
    return e->id;
}

bool muxd_faults_del(muxd_faults_t *faults, uint64_t id) {
    for (size_t i = 0; i < faults->nslots; i++)
        if (faults->entries[i].used && faults->entries[i].id == id) {
            faults->entries[i].used = false;
            faults->freed |= UINT64_C(1) << i;
            return true;
        }
    return false;
}

void muxd_faults_clear(muxd_faults_t *faults) {
    faults->nslots = 0;
    faults->freed = faults->reusable = 0;
    faults->epoch++;
}

void muxd_faults_settle(muxd_faults_t *faults) {
    faults->reusable |= faults->freed;
    faults->freed = 0;
}

size_t muxd_faults_list(const muxd_faults_t *faults, size_t i, uint64_t *id,
                        const char **spec) {
    size_t n = 0;
    for (size_t s = 0; s < faults->nslots; s++) {
        const entry_t *e = &faults->entries[s];
        if (!e->used)
            continue;
        if (n++ == i) {
            *id = e->id;
            *spec = e->spec;
        }
    }
    return n;
}

void muxd_faults_server(const muxd_faults_t *faults, bool relay,
                        mux_faults_t *server) {
    server->accept_delay_ms = 0;
    server->rst = 0;
    for (size_t s = 0; s < faults->nslots; s++) {
        const entry_t *e = &faults->entries[s];
        if (!e->used)
            continue;
        if (e->fault.kind == K_ACCEPT_DELAY)
            server->accept_delay_ms =
                max64(server->accept_delay_ms, e->fault.value);
        /* Clients refused before any draw are reset too, unless a relay's
         * rst is for the upstream only. */
        if (e->fault.kind == K_RST && e->fault.odds == 100 && !e->fault.first &&
            (!relay || (e->fault.dir & DIR_DOWN)))
            server->rst = 1;
    }
}

/* ------------------------------------------------------------------ */
/* What a connection gets                                              */
/* ------------------------------------------------------------------ */

/* xorshift64: odds= draws, reproducible with --seed. */
static unsigned percent(muxd_faults_t *faults) {
    uint64_t x = faults->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    faults->rng = x;
    return (unsigned)(x % 100);
}

/* Whether the fault in slot `s` applies to one more connection. */
static bool draw(muxd_faults_t *faults, size_t s) {
    entry_t *e = &faults->entries[s];
    if (e->fault.kind == K_ACCEPT_DELAY)
        return false; /* the server's, not a connection's */
    if (e->fault.first && e->matched >= e->fault.first)
        return false;
    if (e->fault.odds < 100 && percent(faults) >= e->fault.odds)
        return false;
    e->matched++;
    return true;
}

/* The smaller of two limits where 0 means none. */
static uint64_t min_set(uint64_t a, uint64_t b) {
    return !a ? b : !b ? a : a < b ? a : b;
}

/* One shape fault into the shape of a direction. */
static void shape_into(const fault_t *f, mux_shape_t *shape) {
    switch (f->kind) {
    case K_LATENCY:
        shape->latency_ms = max64(shape->latency_ms, f->value);
        shape->jitter_ms = max64(shape->jitter_ms, f->extra);
        break;
    case K_BANDWIDTH:
        shape->bandwidth = min_set(shape->bandwidth, f->value);
        break;
    case K_SPLIT:
        shape->split = (size_t)min_set(shape->split, f->value);
        shape->split_ms = max64(shape->split_ms, f->extra);
        break;
    case K_DROP_AFTER:
        shape->drop_after = min_set(shape->drop_after, f->value);
        break;
    default: /* K_STALL */
        shape->stall = 1;
    }
}

/* One fault into what a connection gets. */
static void merge(const fault_t *f, bool relay, muxd_conn_faults_t *cf) {
    mux_faults_t *c = &cf->client;
    switch (f->kind) {
    case K_RST: /* a service has one stream; a relay, one each way */
        if (!relay || (f->dir & DIR_DOWN))
            c->rst = 1;
        if (relay && (f->dir & DIR_UP))
            cf->upstream.rst = 1;
        return;
    case K_SLOW_CLOSE:
        c->slow_close_ms = max64(c->slow_close_ms, f->value);
        return;
    case K_LIMIT_TIME:
        c->limit_time_ms = min_set(c->limit_time_ms, f->value);
        return;
    case K_TIMEOUT: /* 0: stop, never close */
        c->timeout_ms =
            min_set(c->timeout_ms, f->value ? f->value : MUX_FOREVER);
        return;
    case K_REFUSE:
        cf->refuse = true;
        return;
    case K_BLACKHOLE:
        cf->blackhole = true;
        return;
    case K_ACCEPT_DELAY:
        return;
    default:
        break;
    }
    if (f->dir & DIR_DOWN)
        shape_into(f, &c->out);
    if (f->dir & DIR_UP)
        shape_into(f, relay ? &cf->upstream.out : &c->in);
}

/* *cf's faults from the faults applied to it. */
static void rebuild(const muxd_faults_t *faults, bool relay,
                    muxd_conn_faults_t *cf) {
    memset(&cf->client, 0, sizeof(cf->client));
    memset(&cf->upstream, 0, sizeof(cf->upstream));
    cf->refuse = cf->blackhole = false;
    for (size_t s = 0; s < faults->nslots; s++)
        if ((cf->applied >> s) & 1)
            merge(&faults->entries[s].fault, relay, cf);
}

void muxd_faults_pick(muxd_faults_t *faults, bool relay,
                      muxd_conn_faults_t *cf) {
    cf->decided = cf->applied = 0;
    cf->epoch = faults->epoch;
    for (size_t s = 0; s < faults->nslots; s++) {
        if (!faults->entries[s].used)
            continue;
        cf->decided |= UINT64_C(1) << s;
        if (draw(faults, s))
            cf->applied |= UINT64_C(1) << s;
    }
    rebuild(faults, relay, cf);
}

bool muxd_faults_refresh(muxd_faults_t *faults, bool relay,
                         muxd_conn_faults_t *cf) {
    uint64_t before = cf->applied;
    bool cleared = cf->epoch != faults->epoch;
    if (cleared) {
        cf->decided = cf->applied = 0;
        cf->epoch = faults->epoch;
    }
    for (size_t s = 0; s < faults->nslots; s++) {
        uint64_t bit = UINT64_C(1) << s;
        const entry_t *e = &faults->entries[s];
        if (!e->used) { /* deleted: forgotten, so the slot can be reused */
            cf->applied &= ~bit;
            cf->decided &= ~bit;
            continue;
        }
        if (cf->decided & bit)
            continue;
        cf->decided |= bit;
        if (kinds[e->fault.kind].reaches_open && draw(faults, s))
            cf->applied |= bit;
    }
    rebuild(faults, relay, cf);
    return cleared ? before != 0 || cf->applied != 0 : cf->applied != before;
}

muxd_conn_faults_t *muxd_conn_faults_of(const mux_conn_t *conn) {
    const mux_faults_t *f = mux_conn_faults(conn);
    mux_server_t *server = mux_conn_server(conn);
    if (!server || f == mux_server_faults(server))
        return NULL;
    return (muxd_conn_faults_t *)(void *)((const char *)f -
                                          offsetof(muxd_conn_faults_t, client));
}

/* ------------------------------------------------------------------ */
/* Help                                                                */
/* ------------------------------------------------------------------ */

void muxd_fault_usage(FILE *out) {
    fprintf(
        out,
        "Faults (repeatable; SPEC = KIND[=VALUE][,KEY=VALUE]...):\n"
        "      --fault SPEC      KIND is one of\n"
        "                          latency=MS        every byte MS later "
        "(key jitter=MS)\n"
        "                          bandwidth=RATE    bytes a second (k, M "
        "suffixes)\n"
        "                          split=BYTES[:MS]  pieces of at most BYTES, "
        "MS apart\n"
        "                          drop-after=BYTES  close once BYTES went "
        "through\n"
        "                          stall             nothing goes through "
        "(default dir=up:\n"
        "                                            never read)\n"
        "                          rst               close with a reset, "
        "never a FIN (a relay:\n"
        "                                            the side dir= "
        "names)\n"
        "                          slow-close=MS     hold every close MS\n"
        "                          limit-time=MS     close a connection MS "
        "after it began\n"
        "                          timeout=MS        stop both ways, close "
        "after MS (0: never)\n"
        "                          refuse            reset clients at once\n"
        "                          blackhole         accept, never answer "
        "(or relay)\n"
        "                          accept-delay=MS   accept each client MS "
        "late, one at a time\n"
        "                        KEYs: dir=down|up|both (the bytes to the "
        "client, the\n"
        "                        bytes muxd reads; default down), "
        "odds=PERCENT of the\n"
        "                        connections, first=N connections only\n"
        "      --seed N          the odds= draws, reproducible (default: "
        "fixed)\n\n");
}
