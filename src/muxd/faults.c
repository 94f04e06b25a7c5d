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
/* split=BYTES without :MS: the pause between pieces. */
#define SPLIT_MS 10

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
    bool rst;              /* `,rst` after another kind: closes reset */
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

/* The kind named by spec[0..len), or NKINDS. */
static kind_t find_kind(const char *name, size_t len) {
    for (size_t k = 0; k < NKINDS; k++)
        if (strlen(kinds[k].name) == len && !strncmp(kinds[k].name, name, len))
            return (kind_t)k;
    return (kind_t)NKINDS;
}

/* A duration in ms (0..MAX_MS; min 1 if `positive`), or UINT64_MAX. */
static uint64_t parse_ms(const char *text, const char *end, bool positive) {
    size_t len = end ? (size_t)(end - text) : strlen(text);
    if (len == 1 && text[0] == '0')
        return positive ? UINT64_MAX : 0;
    uint64_t v = number_parse_size(text, end, MAX_MS, false);
    return v ? v : UINT64_MAX;
}

/* split=BYTES[:MS]: MS 0 writes the pieces back to back, each its own
 * send; without it, SPLIT_MS. */
static const char *parse_split(const char *value, fault_t *f) {
    const char *colon = strchr(value, ':');
    f->value = number_parse_size(value, colon, MAX_PIECE, true);
    f->extra = colon ? parse_ms(colon + 1, NULL, false) : SPLIT_MS;
    return f->value && f->extra != UINT64_MAX
               ? NULL
               : "BYTES at least 1 (k, M, G), MS 0 to 3600000 (default 10)";
}

/* The value of `kind` into f; NULL or why it is wrong. */
static const char *parse_value(kind_t kind, const char *value, fault_t *f) {
    if (!kinds[kind].value[0])
        return value ? "takes no value" : NULL;
    if (!value)
        return "needs a value";
    switch (kind) {
    case K_DROP_AFTER:
        f->value = number_parse_size(value, NULL, MAX_BYTES, true);
        return f->value ? NULL : "BYTES: 1 to 1024G (suffixes k, M, G)";
    case K_SPLIT:
        return parse_split(value, f);
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

/* odds=: a PERCENT (25 or 25%), or a FRACTION with a point (0.25, as
 * toxiproxy's toxicity), in whole percents. Returns 0..100, or -1. */
static int parse_odds(const char *v, const char *end) {
    const char *point = memchr(v, '.', (size_t)(end - v));
    if (!point) {
        if (end > v && end[-1] == '%')
            end--;
        if (end - v == 1 && v[0] == '0')
            return 0;
        uint64_t percent = number_parse_size(v, end, 100, false);
        return percent ? (int)percent : -1;
    }
    const char *d = point + 1;
    size_t ndigits = (size_t)(end - d);
    if (point - v != 1 || !ndigits || (v[0] != '0' && v[0] != '1'))
        return -1;
    for (size_t i = 0; i < ndigits; i++)
        if (d[i] < '0' || d[i] > '9' || (i >= 2 && d[i] != '0'))
            return -1; /* not a digit, or finer than a percent */
    int percent =
        (v[0] - '0') * 100 + (d[0] - '0') * 10 + (ndigits > 1 ? d[1] - '0' : 0);
    return percent <= 100 ? percent : -1;
}

/* The keys, each at most once a spec. */
enum { KEY_DIR, KEY_ODDS, KEY_FIRST, KEY_JITTER, KEY_RST, NKEYS };
static const char *const key_names[NKEYS] = {"dir", "odds", "first", "jitter",
                                             "rst"};

/* A spec being parsed: the keys seen, and room for a phrase that names
 * one. */
typedef struct {
    fault_t *f;
    unsigned seen; /* 1 << KEY_* */
    char why[96];
} spec_t;

static const char *parse_dir(const char *v, size_t vlen, fault_t *f) {
    f->dir = vlen == 4 && !strncmp(v, "down", 4)   ? DIR_DOWN
             : vlen == 2 && !strncmp(v, "up", 2)   ? DIR_UP
             : vlen == 4 && !strncmp(v, "both", 4) ? DIR_DOWN | DIR_UP
                                                   : 0;
    return f->dir ? NULL : "dir=down, up or both";
}

/* `,rst` after another kind: that fault's close is a reset. */
static const char *parse_rst(spec_t *s) {
    kind_t kind = s->f->kind;
    if (kind == K_REFUSE || kind == K_BLACKHOLE || kind == K_ACCEPT_DELAY) {
        snprintf(s->why, sizeof(s->why), "rst does not combine with %s",
                 kinds[kind].name);
        return s->why;
    }
    s->f->rst = true;
    return NULL;
}

/* The value of key `k` (v..end); NULL or why it is wrong. */
static const char *key_value(spec_t *s, int k, const char *v, const char *end) {
    fault_t *f = s->f;
    int odds;
    switch (k) {
    case KEY_DIR:
        return parse_dir(v, (size_t)(end - v), f);
    case KEY_ODDS:
        if ((odds = parse_odds(v, end)) < 0)
            return "odds=PERCENT (0 to 100: 25 or 25%) or a FRACTION (0 to "
                   "1: 0.25), in whole percents";
        f->odds = (unsigned)odds;
        return NULL;
    case KEY_FIRST:
        f->first = number_parse_size(v, end, UINT64_C(1) << 40, false);
        return f->first ? NULL : "first=N, at least 1";
    default: /* KEY_JITTER */
        f->extra = parse_ms(v, end, false);
        return f->extra != UINT64_MAX ? NULL : "jitter=MS, 0 to 3600000";
    }
}

/* Which key `name` (len bytes) is, or NKEYS with *why saying what else it
 * is: the spec's kind again, another kind, or nothing known. */
static int find_key(spec_t *s, const char *name, size_t len, const char **why) {
    for (int k = 0; k < NKEYS; k++)
        if (strlen(key_names[k]) == len && !strncmp(key_names[k], name, len) &&
            (k != KEY_JITTER || s->f->kind == K_LATENCY) &&
            (k != KEY_RST || s->f->kind != K_RST))
            return k;
    kind_t kind = find_kind(name, len);
    if (kind >= (kind_t)NKINDS) {
        *why = "unknown key (dir, odds, first; jitter with latency; rst)";
        return NKEYS;
    }
    if (kind == s->f->kind)
        snprintf(s->why, sizeof(s->why), "%s given twice", kinds[kind].name);
    else
        snprintf(s->why, sizeof(s->why),
                 "one kind a spec (only rst combines): give %s a --fault of "
                 "its own",
                 kinds[kind].name);
    *why = s->why;
    return NKEYS;
}

/* One KEY=VALUE (or rst) after the kind; NULL or why it is wrong. */
static const char *parse_key(spec_t *s, const char *key, size_t len) {
    const char *eq = memchr(key, '=', len);
    const char *why = NULL;
    int k = find_key(s, key, eq ? (size_t)(eq - key) : len, &why);
    if (k == NKEYS)
        return why;
    if (s->seen & (1u << k)) {
        snprintf(s->why, sizeof(s->why), "%s given twice", key_names[k]);
        return s->why;
    }
    s->seen |= 1u << k;
    if (k == KEY_RST)
        return eq ? "rst takes no value" : parse_rst(s);
    if (!eq)
        return "a key needs =VALUE (dir, odds, first, jitter)";
    return key_value(s, k, eq + 1, key + len);
}

/* Parses a spec into *s->f; NULL, or why it is wrong (a phrase, static
 * or in s->why). */
static const char *parse(const char *spec, spec_t *s) {
    fault_t *f = s->f;
    memset(f, 0, sizeof(*f));
    s->seen = 0;
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
        why = parse_key(s, key, comma ? (size_t)(comma - key) : strlen(key));
    }
    if (!f->dir) /* stall's bytes are the ones muxd reads */
        f->dir = f->kind == K_STALL ? DIR_UP : DIR_DOWN;
    return why;
}

bool muxd_fault_check(const char *spec, char *err, size_t size) {
    fault_t f;
    spec_t s = {.f = &f};
    const char *why =
        strlen(spec) >= MUXD_FAULT_SPEC_MAX ? "too long" : parse(spec, &s);
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
    spec_t parsed = {.f = &e->fault};
    parse(spec, &parsed);
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

/* An rst (its own kind, or `,rst` after another): a service has one
 * stream; a relay, one each way. */
static void merge_rst(const fault_t *f, bool relay, muxd_conn_faults_t *cf) {
    if (!relay || (f->dir & DIR_DOWN))
        cf->client.rst = 1;
    if (relay && (f->dir & DIR_UP))
        cf->upstream.rst = 1;
}

/* One fault into what a connection gets. */
static void merge(const fault_t *f, bool relay, muxd_conn_faults_t *cf) {
    mux_faults_t *c = &cf->client;
    if (f->rst)
        merge_rst(f, relay, cf);
    switch (f->kind) {
    case K_RST:
        merge_rst(f, relay, cf);
        return;
    case K_SLOW_CLOSE: /* as rst: a relay holds the close of dir='s side */
        if (!relay || (f->dir & DIR_DOWN))
            c->slow_close_ms = max64(c->slow_close_ms, f->value);
        if (relay && (f->dir & DIR_UP))
            cf->upstream.slow_close_ms =
                max64(cf->upstream.slow_close_ms, f->value);
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
        /* first=N counts connections accepted after the fault was set:
         * open ones get nothing of it, and take nothing of its budget. */
        if (kinds[e->fault.kind].reaches_open && !e->fault.first &&
            draw(faults, s))
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
    fputs(
        "Faults (repeatable; SPEC = KIND[=VALUE][,KEY=VALUE]...[,rst]):\n"
        "      --fault SPEC      KIND is one of\n"
        "                          latency=MS        every byte MS later "
        "(key jitter=MS)\n"
        "                          bandwidth=RATE    bytes a second (k, M "
        "suffixes)\n"
        "                          split=BYTES[:MS]  pieces of at most BYTES, "
        "MS apart\n"
        "                                            (default 10; 0: back to "
        "back, a send each)\n"
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
        "                          timeout=MS        stop both ways, EOF "
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
        "                        connections (25 or 25%; or a fraction: "
        "0.25), first=N\n"
        "                        connections only; ,rst after another kind "
        "makes its\n"
        "                        close a reset (drop-after=1000,rst)\n"
        "      --seed N          the odds= draws, reproducible (default: "
        "fixed)\n\n",
        out);
}
