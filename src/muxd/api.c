/*
 * api.c -- toxiproxy's HTTP API (api.h) over muxd's proxies and faults.
 *
 * A toxic is a fault of the registry (faults.h) with a name, a type, a
 * stream and a toxicity, kept to its proxy: its spec is built from the
 * toxic ("latency=100,jitter=10,dir=down,odds=50,proxy=redis"), so the
 * faults' parsing, drawing, stacking and reach (open connections too)
 * are the ones --fault and the control socket have. The types each map
 * to one muxd kind through a row of `types` below.
 */
#define _POSIX_C_SOURCE 200809L

#include "api.h"
#include "control_cmd.h"
#include "faults.h"
#include "json.h"
#include "log.h"
#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The longest toxic name kept. */
#define NAME_MAX_LEN 64
/* The most JSON values a request body may hold. */
#define BODY_VALUES 4096

/* ------------------------------------------------------------------ */
/* Toxic types                                                         */
/* ------------------------------------------------------------------ */

/* A toxic type: its attributes (at most three, int64 as toxiproxy's), and
 * the muxd fault its numbers make (kind=VALUE, no keys), or "" for none. */
typedef struct {
    const char *type;
    const char *attr[3];
    /* NULL, or why the numbers are refused */
    const char *(*spec)(const int64_t *a, char *buf, size_t size);
} toxic_type_t;

static bool ms_ok(int64_t v) { return v >= 0 && v <= 3600000; }

/* KIND=MS from one attribute of milliseconds, `min` to 3600000; else
 * why not ("timeout: 0 to 3600000 ms", as `why` says). */
static const char *ms_spec(const char *kind, int64_t ms, int64_t min,
                           const char *why, char *buf, size_t size) {
    if (ms < min || !ms_ok(ms))
        return why;
    snprintf(buf, size, "%s=%" PRId64, kind, ms);
    return NULL;
}

static const char *latency_spec(const int64_t *a, char *buf, size_t size) {
    if (!ms_ok(a[0]) || !ms_ok(a[1]))
        return "latency and jitter: 0 to 3600000 ms";
    if (a[1])
        snprintf(buf, size, "latency=%" PRId64 ",jitter=%" PRId64, a[0], a[1]);
    else
        snprintf(buf, size, "latency=%" PRId64, a[0]);
    return NULL;
}

/* rate in KB/s (1000 bytes); 0 stops the data: muxd's stall. */
static const char *bandwidth_spec(const int64_t *a, char *buf, size_t size) {
    if (a[0] < 0 || a[0] > INT64_C(1) << 30)
        return "rate: 0 to 1073741824 KB/s";
    if (a[0])
        snprintf(buf, size, "bandwidth=%" PRId64, a[0] * 1000);
    else
        snprintf(buf, size, "stall");
    return NULL;
}

static const char *slow_close_spec(const int64_t *a, char *buf, size_t size) {
    const char *why =
        ms_spec("slow-close", a[0], 0, "delay: 0 to 3600000 ms", buf, size);
    if (!why && !a[0])
        buf[0] = '\0'; /* no wait: no fault */
    return why;
}

/* timeout 0: stops the data and never closes, as muxd's timeout=0. */
static const char *timeout_spec(const int64_t *a, char *buf, size_t size) {
    return ms_spec("timeout", a[0], 0, "timeout: 0 to 3600000 ms", buf, size);
}

/* bytes 0 (toxiproxy's default): closed at the first data, none of it
 * passed on. */
static const char *limit_data_spec(const int64_t *a, char *buf, size_t size) {
    if (a[0] < 0 || a[0] > INT64_C(1) << 40)
        return "bytes: 0 to 1099511627776 (muxd's drop-after)";
    snprintf(buf, size, "drop-after=%" PRId64, a[0]);
    return NULL;
}

/* timeout ms after the first data; 0: at once. */
static const char *reset_peer_spec(const int64_t *a, char *buf, size_t size) {
    return ms_spec("reset-peer", a[0], 0, "timeout: 0 to 3600000 ms", buf,
                   size);
}

/* average_size, size_variation (bytes, below the average), delay (us). */
static const char *slicer_spec(const int64_t *a, char *buf, size_t size) {
    if (a[0] < 1 || a[0] > INT64_C(1) << 30 || a[1] < 0 || a[1] >= a[0] ||
        a[2] < 0 || a[2] > INT64_C(3600000000))
        return "average_size: 1 to 1073741824; size_variation: 0 to "
               "average_size - 1; delay: 0 to 3600000000 us";
    snprintf(buf, size, "slicer=%" PRId64 ":%" PRId64 ":%" PRId64, a[0], a[1],
             a[2]);
    return NULL;
}

static const char *noop_spec(const int64_t *a, char *buf, size_t size) {
    (void)a;
    (void)size;
    buf[0] = '\0';
    return NULL;
}

/* muxd's own kinds, further types; those that take no value: */
#define BARE(kind)                                                             \
    static const char *kind##_spec(const int64_t *a, char *buf, size_t size) { \
        (void)a;                                                               \
        snprintf(buf, size, "%s", #kind);                                      \
        return NULL;                                                           \
    }
BARE(refuse)
BARE(blackhole)
BARE(stall)
BARE(rst)

static const char *limit_time_spec(const int64_t *a, char *buf, size_t size) {
    return ms_spec("limit-time", a[0], 1, "time: 1 to 3600000 ms", buf, size);
}

static const char *corrupt_spec(const int64_t *a, char *buf, size_t size) {
    if (a[0] < 1 || a[0] > 100)
        return "percent: 1 to 100";
    snprintf(buf, size, "corrupt=%" PRId64, a[0]);
    return NULL;
}

/* bytes, then a close; rst 1: a reset. */
static const char *drop_after_spec(const int64_t *a, char *buf, size_t size) {
    if (a[0] < 0 || a[0] > INT64_C(1) << 40 || a[1] < 0 || a[1] > 1)
        return "bytes: 0 to 1099511627776; rst: 0 or 1";
    snprintf(buf, size, "drop-after=%" PRId64 "%s", a[0], a[1] ? ",rst" : "");
    return NULL;
}

static const toxic_type_t types[] = {
    {"latency", {"latency", "jitter"}, latency_spec},
    {"bandwidth", {"rate"}, bandwidth_spec},
    {"slow_close", {"delay"}, slow_close_spec},
    {"timeout", {"timeout"}, timeout_spec},
    {"limit_data", {"bytes"}, limit_data_spec},
    {"reset_peer", {"timeout"}, reset_peer_spec},
    {"slicer", {"average_size", "size_variation", "delay"}, slicer_spec},
    {"noop", {NULL}, noop_spec},
    /* muxd's */
    {"refuse", {NULL}, refuse_spec},
    {"blackhole", {NULL}, blackhole_spec},
    {"stall", {NULL}, stall_spec},
    {"rst", {NULL}, rst_spec},
    {"limit_time", {"time"}, limit_time_spec},
    {"corrupt", {"percent"}, corrupt_spec},
    {"drop_after", {"bytes", "rst"}, drop_after_spec},
};

static const toxic_type_t *find_type(const char *name, size_t len) {
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strlen(types[i].type) == len && !memcmp(types[i].type, name, len))
            return &types[i];
    return NULL;
}

/* ------------------------------------------------------------------ */
/* The API's state                                                     */
/* ------------------------------------------------------------------ */

typedef struct {
    bool used;
    char name[NAME_MAX_LEN + 1];
    const toxic_type_t *type;
    bool upstream;   /* stream: upstream (dir=up), else downstream */
    double toxicity; /* 0..1 */
    int64_t attr[3]; /* by type->attr */
    int64_t first;   /* muxd's `first` attribute: first=N; 0: none */
    size_t proxy;    /* its proxy's slot */
    uint64_t serial; /* and that proxy's serial: another one is not it */
    uint64_t fault;  /* its fault's id, 0: none (noop, a zero delay) */
} toxic_t;

struct muxd_api {
    muxd_control_target_t t;
    muxd_http_t *http;
    toxic_t toxics[MUXD_FAULTS_MAX];
    muxd_reply_t body;
    char msg[256];
};

/* A request's path, cut at '/': "proxies", NAME, "toxics", NAME. */
typedef struct {
    size_t n;
    char seg[4][NAME_MAX_LEN + 1];
    bool too_long;
} path_t;

/* ---- answers ---- */

static void answer(muxd_api_t *api, muxd_http_response_t *res, int status) {
    res->status = status;
    res->body = api->body.data;
    res->len = api->body.len;
}

/* {"error":"...","status":N}, as toxiproxy's apiError. */
__attribute__((format(printf, 4, 5))) static void
fail(muxd_api_t *api, muxd_http_response_t *res, int status, const char *fmt,
     ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(api->msg, sizeof(api->msg), fmt, ap);
    va_end(ap);
    muxd_reply_reset(&api->body);
    muxd_reply_add(&api->body, "{\"error\":");
    muxd_reply_string(&api->body, api->msg, strlen(api->msg));
    muxd_reply_add(&api->body, ",\"status\":%d}", status);
    answer(api, res, status);
}

/* ---- proxies ---- */

/* The slot of the proxy named name, or SIZE_MAX. */
static size_t find_proxy(const muxd_api_t *api, const char *name) {
    muxd_proxy_info_t info;
    for (size_t k = 0; k < api->t.proxy_slots; k++)
        if (api->t.proxy(api->t.arg, k, &info) && !strcmp(info.name, name))
            return k;
    return SIZE_MAX;
}

static void add_toxic_json(muxd_api_t *api, const toxic_t *x) {
    muxd_reply_t *b = &api->body;
    muxd_reply_add(b, "{\"attributes\":{");
    size_t i = 0;
    for (; i < 3 && x->type->attr[i]; i++)
        muxd_reply_add(b, "%s\"%s\":%" PRId64, i ? "," : "", x->type->attr[i],
                       x->attr[i]);
    if (x->first)
        muxd_reply_add(b, "%s\"first\":%" PRId64, i ? "," : "", x->first);
    muxd_reply_add(b, "},\"name\":");
    muxd_reply_string(b, x->name, strlen(x->name));
    muxd_reply_add(b, ",\"type\":\"%s\",\"stream\":\"%s\",\"toxicity\":%g}",
                   x->type->type, x->upstream ? "upstream" : "downstream",
                   x->toxicity);
}

static void add_toxics_json(muxd_api_t *api, size_t proxy) {
    bool first = true;
    muxd_reply_add(&api->body, "[");
    for (size_t i = 0; i < MUXD_FAULTS_MAX; i++)
        if (api->toxics[i].used && api->toxics[i].proxy == proxy) {
            muxd_reply_add(&api->body, "%s", first ? "" : ",");
            add_toxic_json(api, &api->toxics[i]);
            first = false;
        }
    muxd_reply_add(&api->body, "]");
}

/* A proxy's object, as toxiproxy's: its listen address is its first
 * listener's (disabled: the one it listens on once enabled). */
static void add_proxy_json(muxd_api_t *api, size_t slot) {
    muxd_proxy_info_t info;
    api->t.proxy(api->t.arg, slot, &info);
    muxd_reply_t *b = &api->body;
    muxd_reply_add(b, "{\"name\":");
    muxd_reply_string(b, info.name, strlen(info.name));
    muxd_reply_add(b, ",\"listen\":");
    muxd_reply_string(b, info.listen, strlen(info.listen));
    muxd_reply_add(b, ",\"upstream\":");
    muxd_reply_string(b, info.upstream, strlen(info.upstream));
    muxd_reply_add(
        b, ",\"enabled\":%s,\"toxics\":", info.enabled ? "true" : "false");
    add_toxics_json(api, slot);
    muxd_reply_add(b, "}");
}

static void proxy_index(muxd_api_t *api, muxd_http_response_t *res) {
    muxd_proxy_info_t info;
    bool first = true;
    muxd_reply_add(&api->body, "{");
    for (size_t k = 0; k < api->t.proxy_slots; k++) {
        if (!api->t.proxy(api->t.arg, k, &info))
            continue;
        muxd_reply_add(&api->body, "%s", first ? "" : ",");
        muxd_reply_string(&api->body, info.name, strlen(info.name));
        muxd_reply_add(&api->body, ":");
        add_proxy_json(api, k);
        first = false;
    }
    muxd_reply_add(&api->body, "}");
    answer(api, res, 200);
}

/* ---- toxics ---- */

static toxic_t *find_toxic(muxd_api_t *api, size_t proxy, const char *name) {
    for (size_t i = 0; i < MUXD_FAULTS_MAX; i++)
        if (api->toxics[i].used && api->toxics[i].proxy == proxy &&
            !strcmp(api->toxics[i].name, name))
            return &api->toxics[i];
    return NULL;
}

/* x's fault spec into buf: its type's kind and value, then dir=, odds=,
 * proxy=; "" when it makes none. NULL, or why not. */
static const char *toxic_spec(const muxd_api_t *api, const toxic_t *x,
                              char *buf, size_t size) {
    char kind[96];
    const char *why = x->type->spec(x->attr, kind, sizeof(kind));
    if (why || !kind[0]) {
        buf[0] = '\0';
        return why;
    }
    if (x->first) {
        size_t len = strlen(kind);
        snprintf(kind + len, sizeof(kind) - len, ",first=%" PRId64, x->first);
    }
    muxd_proxy_info_t info;
    api->t.proxy(api->t.arg, x->proxy, &info);
    /* toxicity in whole percents, as odds= takes them */
    long odds = (long)(x->toxicity * 100.0 + 0.5);
    snprintf(buf, size, "%s,dir=%s,odds=%ld,proxy=%s", kind,
             x->upstream ? "up" : "down", odds, info.name);
    return NULL;
}

/* x's fault made anew from its fields: changed in place, or a new one
 * comes (a changed kind, e.g. rate 0 -> stall, cannot be set in place)
 * before the old one (if any) goes, so that a new one that cannot be
 * added (the registry full) changes nothing. Returns false with the
 * error answered. */
static bool apply_toxic(muxd_api_t *api, toxic_t *x,
                        muxd_http_response_t *res) {
    char spec[MUXD_FAULT_SPEC_MAX], err[MUXD_FAULT_SPEC_MAX + 128];
    const char *why = toxic_spec(api, x, spec, sizeof(spec));
    if (why) {
        fail(api, res, 400, "bad request body: %s", why);
        return false;
    }
    if (x->fault && spec[0] &&
        muxd_faults_set(api->t.faults, x->fault, spec, err, sizeof(err)))
        return true;
    uint64_t fault = 0;
    if (spec[0] &&
        !(fault = muxd_faults_add(api->t.faults, spec, err, sizeof(err)))) {
        fail(api, res, 500, "%s", err);
        return false;
    }
    if (x->fault)
        muxd_faults_del(api->t.faults, x->fault);
    x->fault = fault;
    return true;
}

/* The JSON document of `len` bytes at `text`, its root of `type` (an
 * object or an array), or NULL with the error answered. */
static muxd_json_t *parse_json(muxd_api_t *api, const char *text, size_t len,
                               muxd_json_type type, muxd_http_response_t *res) {
    char err[128];
    muxd_json_t *doc =
        muxd_json_parse(text, len, BODY_VALUES, err, sizeof(err));
    if (!doc) {
        fail(api, res, 400, "bad request body: %s", err);
        return NULL;
    }
    if (muxd_json_type_of(muxd_json_root(doc)) != type) {
        muxd_json_free(doc);
        fail(api, res, 400, "bad request body: not a JSON %s",
             type == MUXD_JSON_OBJECT ? "object" : "array");
        return NULL;
    }
    return doc;
}

/* The body's JSON object, or NULL with the error answered. */
static muxd_json_t *body_object(muxd_api_t *api, const muxd_http_request_t *req,
                                muxd_http_response_t *res) {
    return parse_json(api, req->body, req->body_len, MUXD_JSON_OBJECT, res);
}

/* A string member into buf (absent: unchanged). False if not a string
 * or too long, with the error answered. */
static bool take_string(muxd_api_t *api, const muxd_json_value_t *obj,
                        const char *key, char *buf, size_t size,
                        muxd_http_response_t *res) {
    const muxd_json_value_t *v = muxd_json_get_fold(obj, key);
    const char *s;
    size_t len;
    if (!v || muxd_json_type_of(v) == MUXD_JSON_NULL)
        return true;
    if (!muxd_json_string(v, &s, &len) || len >= size || memchr(s, 0, len)) {
        fail(api, res, 400,
             "bad request body: %s: a string of at most %zu "
             "bytes",
             key, size - 1);
        return false;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    return true;
}

/* toxicity and attributes (absent: unchanged) into *x. */
static bool take_numbers(muxd_api_t *api, const muxd_json_value_t *obj,
                         toxic_t *x, muxd_http_response_t *res) {
    const muxd_json_value_t *v = muxd_json_get_fold(obj, "toxicity");
    if (v && muxd_json_type_of(v) != MUXD_JSON_NULL &&
        (!muxd_json_number(v, &x->toxicity) || x->toxicity < 0 ||
         x->toxicity > 1)) {
        fail(api, res, 400, "bad request body: toxicity: a number, 0 to 1");
        return false;
    }
    const muxd_json_value_t *attrs = muxd_json_get_fold(obj, "attributes");
    v = muxd_json_get_fold(attrs, "first");
    if (v && muxd_json_type_of(v) != MUXD_JSON_NULL &&
        (!muxd_json_int(v, &x->first) || x->first < 0 ||
         x->first > 1000000000)) {
        fail(api, res, 400, "bad request body: first: 0 to 1000000000");
        return false;
    }
    for (size_t i = 0; i < 3 && x->type->attr[i] && attrs; i++) {
        v = muxd_json_get_fold(attrs, x->type->attr[i]);
        if (v && muxd_json_type_of(v) != MUXD_JSON_NULL &&
            !muxd_json_int(v, &x->attr[i])) {
            fail(api, res, 400, "bad request body: %s: an integer",
                 x->type->attr[i]);
            return false;
        }
    }
    return true;
}

/* The fields of a new toxic from the body: type, stream, name. */
static bool take_new(muxd_api_t *api, const muxd_json_value_t *obj, toxic_t *x,
                     muxd_http_response_t *res) {
    char type[32] = "", stream[16] = "downstream";
    if (!take_string(api, obj, "type", type, sizeof(type), res) ||
        !take_string(api, obj, "stream", stream, sizeof(stream), res) ||
        !take_string(api, obj, "name", x->name, sizeof(x->name), res))
        return false;
    if (strcmp(stream, "downstream") && strcmp(stream, "upstream")) {
        fail(api, res, 400,
             "stream was invalid, can be either upstream or downstream");
        return false;
    }
    x->upstream = stream[0] == 'u';
    if (!(x->type = find_type(type, strlen(type)))) {
        fail(api, res, 400, "invalid toxic type");
        return false;
    }
    if (!x->name[0])
        snprintf(x->name, sizeof(x->name), "%s_%s", type, stream);
    return true;
}

static toxic_t *free_slot(muxd_api_t *api) {
    for (size_t i = 0; i < MUXD_FAULTS_MAX; i++)
        if (!api->toxics[i].used)
            return &api->toxics[i];
    return NULL;
}

/* A new toxic of proxy `proxy` from the JSON object `obj` (its fault in
 * the registry; the caller tells the connections), or NULL with the error
 * answered. */
static toxic_t *toxic_add(muxd_api_t *api, size_t proxy,
                          const muxd_json_value_t *obj,
                          muxd_http_response_t *res) {
    muxd_proxy_info_t info;
    api->t.proxy(api->t.arg, proxy, &info);
    toxic_t x = {.toxicity = 1, .proxy = proxy, .serial = info.serial};
    if (muxd_json_type_of(obj) != MUXD_JSON_OBJECT) {
        fail(api, res, 400, "bad request body: a toxic is a JSON object");
        return NULL;
    }
    if (!take_new(api, obj, &x, res) || !take_numbers(api, obj, &x, res))
        return NULL;
    toxic_t *slot = free_slot(api);
    if (find_toxic(api, proxy, x.name)) {
        fail(api, res, 409, "toxic already exists");
    } else if (!slot) {
        fail(api, res, 500, "too many toxics (%d)", MUXD_FAULTS_MAX);
    } else if (apply_toxic(api, &x, res)) {
        x.used = true;
        *slot = x;
        return slot;
    }
    return NULL;
}

/* A toxic made or changed: the connections told, the toxic answered. */
static void toxic_changed(muxd_api_t *api, const toxic_t *x,
                          muxd_http_response_t *res) {
    api->t.faults_changed(api->t.arg);
    muxd_reply_reset(&api->body);
    add_toxic_json(api, x);
    answer(api, res, 200);
}

static void toxic_create(muxd_api_t *api, size_t proxy,
                         const muxd_http_request_t *req,
                         muxd_http_response_t *res) {
    muxd_json_t *doc = body_object(api, req, res);
    if (!doc)
        return;
    toxic_t *x = toxic_add(api, proxy, muxd_json_root(doc), res);
    muxd_json_free(doc);
    if (!x)
        return;
    toxic_changed(api, x, res);
}

static void toxic_update(muxd_api_t *api, toxic_t *x,
                         const muxd_http_request_t *req,
                         muxd_http_response_t *res) {
    toxic_t was = *x;
    muxd_json_t *doc = body_object(api, req, res);
    if (!doc)
        return;
    bool ok = take_numbers(api, muxd_json_root(doc), x, res);
    muxd_json_free(doc);
    if (!ok || !apply_toxic(api, x, res)) {
        *x = was; /* its fault unchanged too */
        return;
    }
    toxic_changed(api, x, res);
}

static void toxic_delete(muxd_api_t *api, toxic_t *x,
                         muxd_http_response_t *res) {
    if (x->fault)
        muxd_faults_del(api->t.faults, x->fault);
    x->used = false;
    api->t.faults_changed(api->t.arg);
    answer(api, res, 204);
}

/* The toxics of proxy `proxy` (SIZE_MAX: of every proxy) removed with
 * their faults; returns whether there were any (the caller tells the
 * connections). */
static bool drop_toxics(muxd_api_t *api, size_t proxy) {
    bool any = false;
    for (size_t i = 0; i < MUXD_FAULTS_MAX; i++) {
        toxic_t *x = &api->toxics[i];
        if (!x->used || (proxy != SIZE_MAX && x->proxy != proxy))
            continue;
        if (x->fault)
            muxd_faults_del(api->t.faults, x->fault);
        x->used = false;
        any = true;
    }
    return any;
}

/* ---- proxies: made, changed, deleted ---- */

/* toxiproxy's status for a proxies.h error. */
static int proxy_status(long err) {
    return err == MUXD_PROXY_EINVAL   ? 400
           : err == MUXD_PROXY_EEXIST ? 409
           : err == MUXD_PROXY_ENOENT ? 404
                                      : 500;
}

/* A proxy's fields in a request: strings, "" when absent. */
typedef struct {
    char name[NAME_MAX_LEN + 1];
    char listen[MUXD_PROXY_ADDR_MAX];
    char upstream[MUXD_PROXY_ADDR_MAX];
    int enabled; /* -1: absent */
} proxy_body_t;

static bool take_proxy(muxd_api_t *api, const muxd_json_value_t *obj,
                       proxy_body_t *b, muxd_http_response_t *res) {
    *b = (proxy_body_t){.enabled = -1};
    if (muxd_json_type_of(obj) != MUXD_JSON_OBJECT) {
        fail(api, res, 400, "bad request body: a proxy is a JSON object");
        return false;
    }
    if (!take_string(api, obj, "name", b->name, sizeof(b->name), res) ||
        !take_string(api, obj, "listen", b->listen, sizeof(b->listen), res) ||
        !take_string(api, obj, "upstream", b->upstream, sizeof(b->upstream),
                     res))
        return false;
    const muxd_json_value_t *v = muxd_json_get_fold(obj, "enabled");
    bool on;
    if (muxd_json_type_of(v) == MUXD_JSON_NULL)
        return true;
    if (!muxd_json_bool(v, &on)) {
        fail(api, res, 400, "bad request body: enabled: true or false");
        return false;
    }
    b->enabled = on;
    return true;
}

/* The spec a body makes: "" fields are absent. */
static muxd_proxy_spec_t spec_of(const proxy_body_t *b) {
    return (muxd_proxy_spec_t){.name = b->name,
                               .listen = b->listen[0] ? b->listen : NULL,
                               .upstream = b->upstream[0] ? b->upstream : NULL,
                               .enabled = b->enabled};
}

/* A new proxy from `b` (enabled unless it says not); its slot, or
 * SIZE_MAX with the error answered. */
static size_t proxy_add(muxd_api_t *api, const proxy_body_t *b,
                        muxd_http_response_t *res) {
    muxd_proxy_spec_t spec = spec_of(b);
    if (spec.enabled < 0)
        spec.enabled = 1;
    char err[sizeof(api->msg)]; /* not api->msg: fail() writes there */
    long k = api->t.proxy_add(api->t.arg, &spec, err, sizeof(err));
    if (k >= 0)
        return (size_t)k;
    fail(api, res, proxy_status(k), "%s", err);
    return SIZE_MAX;
}

/* The request body's proxy fields into *b; false with the error answered. */
static bool read_proxy(muxd_api_t *api, const muxd_http_request_t *req,
                       proxy_body_t *b, muxd_http_response_t *res) {
    *b = (proxy_body_t){.enabled = -1};
    muxd_json_t *doc = body_object(api, req, res);
    if (!doc)
        return false;
    bool ok = take_proxy(api, muxd_json_root(doc), b, res);
    muxd_json_free(doc);
    return ok;
}

/* POST /proxies */
static void proxy_create(muxd_api_t *api, const muxd_http_request_t *req,
                         muxd_http_response_t *res) {
    proxy_body_t b;
    bool ok = read_proxy(api, req, &b, res);
    size_t k = ok ? proxy_add(api, &b, res) : SIZE_MAX;
    if (k == SIZE_MAX)
        return;
    add_proxy_json(api, k);
    answer(api, res, 201);
}

/* Proxy `slot` changed as `spec` says; false with the error answered. */
static bool proxy_change(muxd_api_t *api, size_t slot,
                         const muxd_proxy_spec_t *spec,
                         muxd_http_response_t *res) {
    char why[sizeof(api->msg)]; /* not api->msg: fail() writes there */
    int err = api->t.proxy_update(api->t.arg, slot, spec, why, sizeof(why));
    if (err < 0)
        fail(api, res, proxy_status(err), "%s", why);
    return err == 0;
}

/* POST or PATCH /proxies/{p}: listen, upstream, enabled. */
static void proxy_update(muxd_api_t *api, size_t slot,
                         const muxd_http_request_t *req,
                         muxd_http_response_t *res) {
    proxy_body_t b;
    bool ok = read_proxy(api, req, &b, res);
    muxd_proxy_spec_t spec = spec_of(&b);
    if (!ok || !proxy_change(api, slot, &spec, res))
        return;
    add_proxy_json(api, slot);
    answer(api, res, 200);
}

/* DELETE /proxies/{p}: its listeners, connections and toxics go. */
static void proxy_delete(muxd_api_t *api, size_t slot,
                         muxd_http_response_t *res) {
    bool dropped = drop_toxics(api, slot);
    api->t.proxy_del(api->t.arg, slot);
    if (dropped)
        api->t.faults_changed(api->t.arg);
    answer(api, res, 204);
}

/* POST /reset: every proxy enabled, every toxic removed. */
static void reset(muxd_api_t *api, muxd_http_response_t *res) {
    if (drop_toxics(api, SIZE_MAX))
        api->t.faults_changed(api->t.arg);
    muxd_proxy_info_t info;
    muxd_proxy_spec_t on = {.enabled = 1};
    for (size_t k = 0; k < api->t.proxy_slots; k++)
        if (api->t.proxy(api->t.arg, k, &info) && !info.enabled &&
            !proxy_change(api, k, &on, res))
            return;
    answer(api, res, 204);
}

/* ---- populate ---- */

/* Whether proxy `slot` already is what `b` asks for (then populate keeps
 * it, toxics and all, as toxiproxy does). */
static bool proxy_same(const muxd_api_t *api, size_t slot,
                       const proxy_body_t *b) {
    muxd_proxy_info_t info;
    api->t.proxy(api->t.arg, slot, &info);
    const char *listen = b->listen[0] ? b->listen : "127.0.0.1:0";
    return !strcmp(info.listen, listen) && !strcmp(info.upstream, b->upstream);
}

/* One proxy of a populate: kept if the same, else made anew; `toxics`
 * (muxd's, not toxiproxy's: its issue 447), if given, become its toxics.
 * Returns its slot (SIZE_MAX: not made); *ok false with the error
 * answered (a toxic that fails leaves it made, with the toxics before). */
static size_t populate_one(muxd_api_t *api, const muxd_json_value_t *obj,
                           bool *ok, muxd_http_response_t *res) {
    proxy_body_t b;
    take_proxy(api, obj, &b, res); /* checked before */
    size_t k = find_proxy(api, b.name);
    if (k != SIZE_MAX && !proxy_same(api, k, &b)) {
        proxy_delete(api, k, res);
        k = SIZE_MAX;
    }
    *ok = k != SIZE_MAX || (k = proxy_add(api, &b, res)) != SIZE_MAX;
    const muxd_json_value_t *toxics = muxd_json_get_fold(obj, "toxics");
    if (!*ok || muxd_json_type_of(toxics) == MUXD_JSON_NULL)
        return k;
    drop_toxics(api, k);
    for (size_t i = 0; *ok && i < muxd_json_len(toxics); i++)
        *ok = toxic_add(api, k, muxd_json_at(toxics, i), res) != NULL;
    return k;
}

/* Each proxy has its name and upstream, before any is made: false with
 * the error ("... at proxy N", as toxiproxy's) answered. */
static bool populate_check(muxd_api_t *api, const muxd_json_value_t *list,
                           muxd_http_response_t *res) {
    for (size_t i = 0; i < muxd_json_len(list); i++) {
        proxy_body_t b;
        if (!take_proxy(api, muxd_json_at(list, i), &b, res))
            return false;
        const char *missing = !b.name[0]       ? "name"
                              : !b.upstream[0] ? "upstream"
                                               : NULL;
        if (missing) {
            fail(api, res, 400, "missing required field: %s at proxy %zu",
                 missing, i + 1);
            return false;
        }
        muxd_json_type toxics = muxd_json_type_of(
            muxd_json_get_fold(muxd_json_at(list, i), "toxics"));
        if (toxics != MUXD_JSON_NULL && toxics != MUXD_JSON_ARRAY) {
            fail(api, res, 400,
                 "bad request body: toxics: a JSON array at proxy %zu", i + 1);
            return false;
        }
    }
    return true;
}

/* The answer: {"proxies":[...]} (201), or after an error its message
 * and status with the proxies made before it. */
static void populate_answer(muxd_api_t *api, const size_t *made, size_t n,
                            int status, muxd_http_response_t *res) {
    muxd_reply_reset(&api->body);
    if (status != 201) {
        muxd_reply_add(&api->body, "{\"error\":");
        muxd_reply_string(&api->body, api->msg, strlen(api->msg));
        muxd_reply_add(&api->body, ",\"status\":%d,", status);
    } else {
        muxd_reply_add(&api->body, "{");
    }
    muxd_reply_add(&api->body, "\"proxies\":[");
    for (size_t i = 0; i < n; i++) {
        muxd_reply_add(&api->body, "%s", i ? "," : "");
        add_proxy_json(api, made[i]);
    }
    muxd_reply_add(&api->body, "]}");
    answer(api, res, status);
}

/* POST /populate, --api-config: a JSON array of proxies. */
static void populate(muxd_api_t *api, const char *text, size_t len,
                     muxd_http_response_t *res) {
    muxd_json_t *doc = parse_json(api, text, len, MUXD_JSON_ARRAY, res);
    if (!doc) {
        populate_answer(api, NULL, 0, res->status, res);
        return;
    }
    const muxd_json_value_t *list = muxd_json_root(doc);
    static size_t made[MUXD_PROXIES_MAX];
    size_t n = 0;
    int status = 201;
    if (!populate_check(api, list, res))
        status = res->status;
    for (size_t i = 0; status == 201 && i < muxd_json_len(list); i++) {
        bool ok;
        size_t k = populate_one(api, muxd_json_at(list, i), &ok, res);
        if (k != SIZE_MAX && n < MUXD_PROXIES_MAX)
            made[n++] = k;
        if (!ok)
            status = res->status;
    }
    muxd_json_free(doc);
    api->t.faults_changed(api->t.arg);
    populate_answer(api, made, n, status, res);
}

/* ------------------------------------------------------------------ */
/* Routing                                                             */
/* ------------------------------------------------------------------ */

static int hex(char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* One segment, %XX decoded, into out; false if too long or a NUL. */
static bool segment(const char *s, size_t len, char *out, size_t size) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%' && i + 2 < len && hex(s[i + 1]) >= 0 &&
            hex(s[i + 2]) >= 0) {
            c = (char)(hex(s[i + 1]) * 16 + hex(s[i + 2]));
            i += 2;
        }
        if (n + 1 >= size || c == '\0')
            return false;
        out[n++] = c;
    }
    out[n] = '\0';
    return true;
}

/* The path (its query cut off) into segments. */
static void split_path(const char *p, size_t len, path_t *path) {
    const char *q = memchr(p, '?', len);
    if (q)
        len = (size_t)(q - p);
    path->n = 0;
    path->too_long = false;
    size_t i = 0;
    while (i < len) {
        while (i < len && p[i] == '/')
            i++;
        size_t start = i;
        while (i < len && p[i] != '/')
            i++;
        if (i == start)
            break;
        if (path->n == 4 || !segment(p + start, i - start, path->seg[path->n],
                                     NAME_MAX_LEN + 1)) {
            path->too_long = true;
            return;
        }
        path->n++;
    }
}

static bool is(const muxd_http_request_t *req, const char *method) {
    return strlen(method) == req->method_len &&
           !memcmp(req->method, method, req->method_len);
}

/* /proxies/{p}/toxics/{t} */
static void route_toxic(muxd_api_t *api, size_t proxy, const char *name,
                        const muxd_http_request_t *req,
                        muxd_http_response_t *res) {
    toxic_t *x = find_toxic(api, proxy, name);
    bool known = is(req, "GET") || is(req, "POST") || is(req, "PATCH") ||
                 is(req, "DELETE");
    if (!known)
        fail(api, res, 405, "method not allowed");
    else if (!x)
        fail(api, res, 404, "toxic not found");
    else if (is(req, "GET")) {
        add_toxic_json(api, x);
        answer(api, res, 200);
    } else if (is(req, "DELETE"))
        toxic_delete(api, x, res);
    else
        toxic_update(api, x, req, res);
}

/* /proxies/{p}[/toxics[/{t}]] */
static void route_proxy(muxd_api_t *api, const path_t *path,
                        const muxd_http_request_t *req,
                        muxd_http_response_t *res) {
    size_t proxy = find_proxy(api, path->seg[1]);
    if (path->n == 3 && strcmp(path->seg[2], "toxics")) {
        fail(api, res, 404, "404 page not found");
    } else if (proxy == SIZE_MAX) {
        fail(api, res, 404, "proxy not found");
    } else if (path->n == 2 && is(req, "GET")) {
        add_proxy_json(api, proxy);
        answer(api, res, 200);
    } else if (path->n == 2 && (is(req, "POST") || is(req, "PATCH"))) {
        proxy_update(api, proxy, req, res);
    } else if (path->n == 2 && is(req, "DELETE")) {
        proxy_delete(api, proxy, res);
    } else if (path->n == 2) {
        fail(api, res, 405, "method not allowed");
    } else if (path->n == 3 && is(req, "GET")) {
        add_toxics_json(api, proxy);
        answer(api, res, 200);
    } else if (path->n == 3 && is(req, "POST")) {
        toxic_create(api, proxy, req, res);
    } else if (path->n == 3) {
        fail(api, res, 405, "method not allowed");
    } else if (!strcmp(path->seg[2], "toxics")) {
        route_toxic(api, proxy, path->seg[3], req, res);
    } else {
        fail(api, res, 404, "404 page not found");
    }
}

static void version(muxd_api_t *api, const muxd_http_request_t *req,
                    muxd_http_response_t *res) {
    if (!is(req, "GET")) {
        fail(api, res, 405, "method not allowed");
        return;
    }
    muxd_reply_add(&api->body, "{\"version\":\"%s\"}", MUXD_API_VERSION);
    answer(api, res, 200);
}

/* A toxic whose fault the control socket removed (fault del, fault
 * clear) is gone from the API too: both show the same faults. */
static void forget_removed(muxd_api_t *api) {
    for (size_t i = 0; i < MUXD_FAULTS_MAX; i++) {
        toxic_t *x = &api->toxics[i];
        muxd_proxy_info_t info;
        if (x->used && x->fault && !muxd_faults_has(api->t.faults, x->fault))
            x->used = false;
        if (x->used && (!api->t.proxy(api->t.arg, x->proxy, &info) ||
                        info.serial != x->serial)) {
            if (x->fault) /* its proxy went by the control socket */
                muxd_faults_del(api->t.faults, x->fault);
            x->used = false;
        }
    }
}

void muxd_api_answer(muxd_api_t *api, const muxd_http_request_t *req,
                     muxd_http_response_t *res) {
    forget_removed(api);
    path_t path;
    split_path(req->path, req->path_len, &path);
    muxd_reply_reset(&api->body);
    const char *top = path.n ? path.seg[0] : "";
    if (path.too_long || path.n == 0 || path.n > 4)
        fail(api, res, 404, "404 page not found");
    else if (path.n == 1 && !strcmp(top, "version"))
        version(api, req, res);
    else if (path.n == 1 && !strcmp(top, "reset") && is(req, "POST"))
        reset(api, res);
    else if (path.n == 1 && !strcmp(top, "proxies") && is(req, "GET"))
        proxy_index(api, res);
    else if (path.n == 1 && !strcmp(top, "proxies") && is(req, "POST"))
        proxy_create(api, req, res);
    else if (path.n == 1 && !strcmp(top, "populate") && is(req, "POST"))
        populate(api, req->body, req->body_len, res);
    else if (path.n == 1 && (!strcmp(top, "reset") || !strcmp(top, "proxies") ||
                             !strcmp(top, "populate")))
        fail(api, res, 405, "method not allowed");
    else if (!strcmp(top, "proxies"))
        route_proxy(api, &path, req, res);
    else
        fail(api, res, 404, "404 page not found");
    if (api->body.failed)
        fail(api, res, 500, "reply too large or out of memory");
}

/* ------------------------------------------------------------------ */
/* The server                                                          */
/* ------------------------------------------------------------------ */

static void handle(void *arg, const muxd_http_request_t *req,
                   muxd_http_response_t *res) {
    muxd_api_answer(arg, req, res);
}

muxd_api_t *muxd_api_new(const muxd_control_target_t *target) {
    muxd_api_t *api = calloc(1, sizeof(*api));
    if (api)
        api->t = *target;
    return api;
}

int muxd_api_listen(muxd_api_t *api, const char *text, bool remote, char *bound,
                    size_t size) {
    int err = muxd_http_start(mux_server_loop(api->t.server), text, remote,
                              handle, api, &api->http, bound, size);
    if (err == MUXD_HTTP_EREMOTE)
        muxd_log_error("cannot serve --api on %s: not a loopback address "
                       "(add --api-remote to allow it: the API has no "
                       "authentication)",
                       text);
    else if (err < 0)
        muxd_log_error("cannot serve --api on %s: %s", text,
                       muxd_http_strerror(err));
    return err;
}

/* The most bytes --api-config reads. */
#define CONFIG_MAX (1024 * 1024)

int muxd_api_load(muxd_api_t *api, const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *text = fd >= 0 ? malloc(CONFIG_MAX + 1) : NULL;
    ssize_t len = 0, n = 1;
    while (text && len <= CONFIG_MAX &&
           (n = read(fd, text + len, (size_t)(CONFIG_MAX + 1 - len))) > 0)
        len += n;
    int err = fd < 0 || n < 0 ? -errno : !text ? -ENOMEM : 0;
    if (fd >= 0)
        close(fd);
    if (err == 0 && len > CONFIG_MAX)
        err = -EFBIG;
    if (err < 0) {
        free(text);
        muxd_log_error("cannot read --api-config %s: %s", path,
                       mux_strerror(err));
        return err;
    }
    muxd_http_response_t res = {0};
    muxd_reply_reset(&api->body);
    populate(api, text, (size_t)len, &res);
    free(text);
    if (res.status == 201)
        return 0;
    muxd_log_error("cannot apply --api-config %s: %s (nothing is served)", path,
                   api->msg);
    return -EINVAL;
}

void muxd_api_free(muxd_api_t *api) {
    if (!api)
        return;
    muxd_http_free(api->http);
    muxd_reply_free(&api->body);
    free(api);
}
