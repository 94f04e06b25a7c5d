/*
 * faults.c -- fault specs, the registry of the faults in force, and what
 * each connection gets of them (faults.h). What is a kind's own (its
 * name, value, --help lines, and how it fills a connection's faults) is
 * its descriptor in src/muxd/faults/ (kind.h); this file loops over them.
 * The library does the faults themselves (mux_faults_t, src/lib/shape.c);
 * this file decides which apply to whom.
 */
#define _POSIX_C_SOURCE 200809L

#include "faults.h"
#include "faults/kind.h"
#include "number.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* One fault in force. */
typedef struct {
    bool used;
    size_t proxy; /* proxy=NAME's index; SIZE_MAX: every connection */
    uint64_t id;
    muxd_fault_t fault;
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
    uint64_t epoch;   /* clears: masks of an older epoch mean nothing */
    uint64_t rng;     /* odds= draws */
    uint64_t seed;    /* --seed, for the faults' own draws */
    uint64_t changes; /* muxd_faults_set() calls */
    const char *const *proxies; /* muxd_faults_proxies() */
    size_t nproxies;
    uint64_t conns; /* connections picked so far */
};

/* ------------------------------------------------------------------ */
/* Specs                                                               */
/* ------------------------------------------------------------------ */

/* The kind named by name[0..len), or NULL. */
static const muxd_fault_kind_t *find_kind(const char *name, size_t len) {
    for (size_t k = 0; k < muxd_fault_nkinds; k++) {
        const char *known = muxd_fault_kinds[k]->name;
        if (strlen(known) == len && !strncmp(known, name, len))
            return muxd_fault_kinds[k];
    }
    return NULL;
}

/* The value of f's kind into f; NULL or why it is wrong. */
static const char *parse_value(const char *value, muxd_fault_t *f) {
    const muxd_fault_kind_t *kind = f->kind;
    if (!kind->value)
        return value ? "takes no value" : NULL;
    if (!value)
        return "needs a value";
    return kind->parse ? kind->parse(value, f)
                       : muxd_fault_parse_param(kind, value, f);
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
enum { KEY_DIR, KEY_ODDS, KEY_FIRST, KEY_PROXY, KEY_OWN, KEY_RST, NKEYS };
static const char *const key_names[NKEYS] = {"dir",   "odds", "first",
                                             "proxy", NULL,   "rst"};

/* Key k's name in a spec of `kind` (KEY_OWN: the kind's own, if any). */
static const char *key_name(const muxd_fault_kind_t *kind, int k) {
    return k == KEY_OWN ? kind->key : key_names[k];
}

/* A spec being parsed: the keys seen, and room for a phrase that names
 * one. */
typedef struct {
    muxd_fault_t *f;
    unsigned seen; /* 1 << KEY_* */
    char why[128];
} spec_t;

/* Appends printf(fmt, ...) to buf[size], which holds *len bytes (size
 * once full). */
__attribute__((format(printf, 4, 5))) static void
add(char *buf, size_t size, size_t *len, const char *fmt, ...) {
    if (*len >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, size - *len, fmt, ap);
    va_end(ap);
    *len = n < 0 || (size_t)n >= size - *len ? size : *len + (size_t)n;
}

/* The keys a spec can have, into s->why: `with` "unknown key (dir, odds,
 * first; jitter with latency; rst)", else "(dir, odds, first, jitter)"
 * after `head` (the kinds' own keys from their descriptors). */
static const char *keys_known(spec_t *s, const char *head, bool with) {
    size_t len = 0;
    add(s->why, sizeof(s->why), &len, "%s (dir, odds, first, proxy", head);
    for (size_t k = 0; k < muxd_fault_nkinds; k++) {
        const muxd_fault_kind_t *kind = muxd_fault_kinds[k];
        if (kind->key && with)
            add(s->why, sizeof(s->why), &len, "; %s with %s", kind->key,
                kind->name);
        else if (kind->key)
            add(s->why, sizeof(s->why), &len, ", %s", kind->key);
    }
    add(s->why, sizeof(s->why), &len, with ? "; rst)" : ")");
    return s->why;
}

static const char *parse_dir(const char *v, size_t vlen, muxd_fault_t *f) {
    f->dir = vlen == 4 && !strncmp(v, "down", 4)   ? MUXD_DIR_DOWN
             : vlen == 2 && !strncmp(v, "up", 2)   ? MUXD_DIR_UP
             : vlen == 4 && !strncmp(v, "both", 4) ? MUXD_DIR_DOWN | MUXD_DIR_UP
                                                   : 0;
    return f->dir ? NULL : "dir=down, up or both";
}

/* `,rst` after another kind: that fault's close is a reset. */
static const char *parse_rst(spec_t *s) {
    if (s->f->kind->no_rst) {
        snprintf(s->why, sizeof(s->why), "rst does not combine with %s",
                 s->f->kind->name);
        return s->why;
    }
    s->f->rst = true;
    return NULL;
}

/* proxy=NAME: a proxy's name (--name: 1 to 64 of A-Z a-z 0-9 . _ -); the
 * server's own faults (accept-delay) are every proxy's. */
static const char *parse_proxy(const char *v, const char *end,
                               muxd_fault_t *f) {
    size_t len = (size_t)(end - v);
    if (f->kind->where == MUXD_FAULT_AT_ACCEPT)
        return "proxy= does not apply: the listeners' accept is every "
               "proxy's";
    static const char ok[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        "0123456789._-";
    for (size_t i = 0; i < len; i++)
        if (!strchr(ok, v[i]) || !v[i])
            len = 0;
    if (!len || len >= sizeof(f->proxy))
        return "proxy=NAME, a proxy's --name (1 to 64 of A-Z a-z 0-9 . _ -)";
    memcpy(f->proxy, v, len);
    f->proxy[len] = '\0';
    return NULL;
}

/* The value of key `k` (v..end); NULL or why it is wrong. */
static const char *key_value(spec_t *s, int k, const char *v, const char *end) {
    muxd_fault_t *f = s->f;
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
    case KEY_PROXY:
        return parse_proxy(v, end, f);
    default: /* KEY_OWN */
        return f->kind->parse_key(v, end, f);
    }
}

/* Which key `name` (len bytes) is, or NKEYS with *why saying what else it
 * is: the spec's kind again, another kind, or nothing known. */
static int find_key(spec_t *s, const char *name, size_t len, const char **why) {
    const muxd_fault_kind_t *kind = find_kind(name, len);
    for (int k = 0; k < NKEYS && kind != s->f->kind; k++) {
        const char *key = key_name(s->f->kind, k);
        if (key && strlen(key) == len && !strncmp(key, name, len))
            return k;
    }
    if (!kind)
        keys_known(s, "unknown key", true);
    else if (kind == s->f->kind)
        snprintf(s->why, sizeof(s->why), "%s given twice", kind->name);
    else
        snprintf(s->why, sizeof(s->why),
                 "one kind a spec (only rst combines): give %s a --fault of "
                 "its own",
                 kind->name);
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
        snprintf(s->why, sizeof(s->why), "%s given twice",
                 key_name(s->f->kind, k));
        return s->why;
    }
    s->seen |= 1u << k;
    if (k == KEY_RST)
        return eq ? "rst takes no value" : parse_rst(s);
    if (!eq)
        return keys_known(s, "a key needs =VALUE", false);
    return key_value(s, k, eq + 1, key + len);
}

/* Parses a spec into *s->f; NULL, or why it is wrong (a phrase, static
 * or in s->why). */
static const char *parse(const char *spec, spec_t *s) {
    muxd_fault_t *f = s->f;
    memset(f, 0, sizeof(*f));
    s->seen = 0;
    f->odds = 100;
    const char *comma = strchr(spec, ',');
    size_t head = comma ? (size_t)(comma - spec) : strlen(spec);
    const char *eq = memchr(spec, '=', head);
    f->kind = find_kind(spec, eq ? (size_t)(eq - spec) : head);
    if (!f->kind)
        return "unknown kind";
    char value[64];
    if (eq) {
        size_t vlen = head - (size_t)(eq + 1 - spec);
        if (vlen >= sizeof(value))
            return "value too long";
        memcpy(value, eq + 1, vlen);
        value[vlen] = '\0';
    }
    const char *why = parse_value(eq ? value : NULL, f);
    while (!why && comma) {
        const char *key = comma + 1;
        comma = strchr(key, ',');
        why = parse_key(s, key, comma ? (size_t)(comma - key) : strlen(key));
    }
    if (!f->dir)
        f->dir = f->kind->default_dir ? f->kind->default_dir : MUXD_DIR_DOWN;
    return why;
}

/* The names of the kinds, ", " between them, into buf[size]. */
static const char *known_kinds(char *buf, size_t size) {
    size_t len = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < muxd_fault_nkinds; k++)
        add(buf, size, &len, "%s%s", k ? ", " : "", muxd_fault_kinds[k]->name);
    return buf;
}

/* Why `spec` is invalid into err[size], naming its kind's form. */
static void explain(const char *spec, const char *why, char *err, size_t size) {
    const muxd_fault_kind_t *k = find_kind(spec, strcspn(spec, "=,"));
    char known[256];
    if (k && k->value)
        snprintf(err, size, "invalid fault: '%s' (%s=%s: %s)", spec, k->name,
                 k->value, why);
    else if (k)
        snprintf(err, size, "invalid fault: '%s' (%s: %s)", spec, k->name, why);
    else
        snprintf(err, size, "invalid fault: '%s' (%s: %s)", spec, why,
                 known_kinds(known, sizeof(known)));
}

bool muxd_fault_check(const char *spec, char *err, size_t size) {
    muxd_fault_t f;
    spec_t s = {.f = &f};
    const char *why =
        strlen(spec) >= MUXD_FAULT_SPEC_MAX ? "too long" : parse(spec, &s);
    if (why && err && size)
        explain(spec, why, err, size);
    return !why;
}

/* ------------------------------------------------------------------ */
/* The registry                                                        */
/* ------------------------------------------------------------------ */

muxd_faults_t *muxd_faults_new(uint64_t seed) {
    muxd_faults_t *faults = calloc(1, sizeof(*faults));
    if (faults)
        faults->rng = faults->seed = seed ? seed : UINT64_C(0x9e3779b97f4a7c15);
    return faults;
}

void muxd_faults_free(muxd_faults_t *faults) { free(faults); }

void muxd_faults_proxies(muxd_faults_t *faults, const char *const *names,
                         size_t n) {
    faults->proxies = names;
    faults->nproxies = n;
}

bool muxd_fault_proxy(const char *spec, char *name, size_t size) {
    muxd_fault_t f;
    spec_t s = {.f = &f};
    if (strlen(spec) >= MUXD_FAULT_SPEC_MAX || parse(spec, &s) || !f.proxy[0])
        return false;
    snprintf(name, size, "%s", f.proxy);
    return true;
}

/* f's proxy=NAME as an index into *proxy (SIZE_MAX: none given); false
 * with the reason in err if no proxy has that name. */
static bool find_proxy(const muxd_faults_t *faults, const muxd_fault_t *f,
                       size_t *proxy, char *err, size_t size) {
    *proxy = SIZE_MAX;
    if (!f->proxy[0])
        return true;
    for (size_t k = 0; k < faults->nproxies; k++)
        if (faults->proxies[k] && !strcmp(faults->proxies[k], f->proxy)) {
            *proxy = k;
            return true;
        }
    snprintf(err, size, "invalid fault: no proxy named '%s' (%s)", f->proxy,
             faults->nproxies ? "see: proxy list"
                              : "muxd relays nothing: proxies are --to's");
    return false;
}

uint64_t muxd_faults_add(muxd_faults_t *faults, const char *spec, char *err,
                         size_t size) {
    if (!muxd_fault_check(spec, err, size))
        return 0;
    muxd_fault_t f;
    spec_t checked = {.f = &f};
    size_t proxy;
    parse(spec, &checked);
    if (!find_proxy(faults, &f, &proxy, err, size))
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
    e->proxy = proxy;
    e->id = ++faults->next_id;
    spec_t parsed = {.f = &e->fault};
    parse(spec, &parsed);
    e->fault.seed = faults->seed ^ (e->id * UINT64_C(0x9e3779b97f4a7c15));
    snprintf(e->spec, sizeof(e->spec), "%s", spec);
    return e->id;
}

bool muxd_faults_set(muxd_faults_t *faults, uint64_t id, const char *spec,
                     char *err, size_t size) {
    entry_t *e = NULL;
    for (size_t i = 0; i < faults->nslots && !e; i++)
        if (faults->entries[i].used && faults->entries[i].id == id)
            e = &faults->entries[i];
    if (!e) {
        snprintf(err, size, "no fault with id %" PRIu64, id);
        return false;
    }
    muxd_fault_t f;
    spec_t parsed = {.f = &f};
    const char *why =
        strlen(spec) >= MUXD_FAULT_SPEC_MAX ? "too long" : parse(spec, &parsed);
    if (why) {
        explain(spec, why, err, size);
        return false;
    }
    size_t proxy;
    if (!find_proxy(faults, &f, &proxy, err, size))
        return false;
    if (f.kind != e->fault.kind) {
        snprintf(err, size,
                 "fault %" PRIu64 " is a %s fault: a fault keeps its kind "
                 "(add a new one)",
                 id, e->fault.kind->name);
        return false;
    }
    f.seed = e->fault.seed;
    e->fault = f;
    e->proxy = proxy;
    snprintf(e->spec, sizeof(e->spec), "%s", spec);
    faults->changes++;
    return true;
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

bool muxd_faults_has(const muxd_faults_t *faults, uint64_t id) {
    for (size_t i = 0; i < faults->nslots; i++)
        if (faults->entries[i].used && faults->entries[i].id == id)
            return true;
    return false;
}

size_t muxd_faults_del_proxy(muxd_faults_t *faults, size_t proxy) {
    size_t n = 0;
    for (size_t i = 0; i < faults->nslots; i++)
        if (faults->entries[i].used && faults->entries[i].proxy == proxy)
            n += muxd_faults_del(faults, faults->entries[i].id);
    return n;
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
    mux_faults_clear(server);
    for (size_t s = 0; s < faults->nslots; s++) {
        const entry_t *e = &faults->entries[s];
        if (!e->used)
            continue;
        if (e->fault.kind->server)
            e->fault.kind->server(&e->fault, relay, server);
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

/* Whether the fault in slot `s` applies to one more connection, one of
 * `proxy`'s. */
static bool draw(muxd_faults_t *faults, size_t s, size_t proxy) {
    entry_t *e = &faults->entries[s];
    if (e->fault.kind->where == MUXD_FAULT_AT_ACCEPT)
        return false; /* the server's, not a connection's */
    if (e->proxy != SIZE_MAX && e->proxy != proxy)
        return false; /* another proxy's: no draw, no first=N used */
    if (e->fault.first && e->matched >= e->fault.first)
        return false;
    if (e->fault.odds < 100 && percent(faults) >= e->fault.odds)
        return false;
    e->matched++;
    return true;
}

/* One fault into what a connection gets. */
static void merge(const muxd_fault_t *f, bool relay, muxd_conn_faults_t *cf) {
    if (f->rst)
        muxd_fault_rst.apply(f, relay, cf);
    if (f->kind->apply)
        f->kind->apply(f, relay, cf);
}

muxd_conn_faults_t *muxd_conn_faults_new(void) {
    muxd_conn_faults_t *cf = calloc(1, sizeof(*cf));
    if (cf && (!(cf->client = mux_faults_new()) ||
               !(cf->upstream = mux_faults_new()))) {
        muxd_conn_faults_free(cf);
        return NULL;
    }
    if (cf) {
        mux_faults_set_data(cf->client, cf);
        cf->proxy = SIZE_MAX;
    }
    return cf;
}

void muxd_conn_faults_free(muxd_conn_faults_t *cf) {
    if (!cf)
        return;
    mux_faults_free(cf->client);
    mux_faults_free(cf->upstream);
    free(cf);
}

/* *cf's faults from the faults applied to it: their stages in the order
 * the faults were added. */
static void rebuild(const muxd_faults_t *faults, bool relay,
                    muxd_conn_faults_t *cf) {
    mux_faults_clear(cf->client);
    mux_faults_clear(cf->upstream);
    cf->refuse = cf->blackhole = cf->nomem = false;
    for (size_t s = 0; s < faults->nslots; s++)
        if ((cf->applied >> s) & 1)
            merge(&faults->entries[s].fault, relay, cf);
}

void muxd_faults_pick(muxd_faults_t *faults, bool relay,
                      muxd_conn_faults_t *cf) {
    cf->decided = cf->applied = 0;
    cf->epoch = faults->epoch;
    cf->changes = faults->changes;
    cf->serial = ++faults->conns;
    for (size_t s = 0; s < faults->nslots; s++) {
        if (!faults->entries[s].used)
            continue;
        cf->decided |= UINT64_C(1) << s;
        if (draw(faults, s, cf->proxy))
            cf->applied |= UINT64_C(1) << s;
    }
    rebuild(faults, relay, cf);
}

bool muxd_faults_refresh(muxd_faults_t *faults, bool relay,
                         muxd_conn_faults_t *cf) {
    uint64_t before = cf->applied;
    bool cleared = cf->epoch != faults->epoch;
    bool set = cf->changes != faults->changes; /* numbers changed */
    cf->changes = faults->changes;
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
        if (e->fault.kind->reaches_open && !e->fault.first &&
            draw(faults, s, cf->proxy))
            cf->applied |= bit;
    }
    rebuild(faults, relay, cf);
    if (cleared)
        return before != 0 || cf->applied != 0;
    return cf->applied != before || (set && cf->applied != 0);
}

muxd_conn_faults_t *muxd_conn_faults_of(const mux_conn_t *conn) {
    const mux_faults_t *f = mux_conn_faults(conn);
    mux_server_t *server = mux_conn_server(conn);
    if (!server || f == mux_server_faults(server))
        return NULL;
    return mux_faults_data(f);
}

/* ------------------------------------------------------------------ */
/* Help                                                                */
/* ------------------------------------------------------------------ */

/* A kind's lines: its name and value, then its usage in a column (on
 * the next line when the name and value fill theirs). */
static void kind_usage(FILE *out, const muxd_fault_kind_t *kind) {
    char head[40];
    int len = snprintf(head, sizeof(head), "%s%s%s", kind->name,
                       kind->value ? "=" : "", kind->value ? kind->value : "");
    if (len >= 18)
        fprintf(out, "%26s%s\n%44s%s\n", "", head, "", kind->usage[0]);
    else
        fprintf(out, "%26s%-18s%s\n", "", head, kind->usage[0]);
    for (size_t i = 1; i < 3 && kind->usage[i]; i++)
        fprintf(out, "%44s%s\n", "", kind->usage[i]);
}

void muxd_fault_usage(FILE *out) {
    fputs("Faults (repeatable; SPEC = KIND[=VALUE][,KEY=VALUE]...[,rst]):\n"
          "      --fault SPEC      KIND is one of\n",
          out);
    for (size_t k = 0; k < muxd_fault_nkinds; k++)
        kind_usage(out, muxd_fault_kinds[k]);
    fputs("                        KEYs: dir=down|up|both (the bytes to the "
          "client, the\n"
          "                        bytes muxd reads; default down), "
          "odds=PERCENT of the\n"
          "                        connections (25 or 25%; or a fraction: "
          "0.25), first=N\n"
          "                        connections only, proxy=NAME a relay's "
          "only (--name);\n"
          "                        ,rst after another kind makes its close a "
          "reset\n"
          "                        (drop-after=1000,rst)\n"
          "      --seed N          the draws of odds=, corrupt and slicer,\n"
          "                        reproducible (default: fixed)\n\n",
          out);
}
