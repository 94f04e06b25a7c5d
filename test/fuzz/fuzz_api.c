/*
 * fuzz_api.c -- libFuzzer harness for toxiproxy's API (src/muxd/api.c):
 * muxd_api_answer() on a fake target, without the network: a real fault
 * registry, a fake table of four proxy slots that starts with "echo" and
 * "db" (requests add, change and delete proxies), and a faults_changed
 * callback that counts (and settles the registry, as serve.c's does).
 *
 * Input: requests cut at each 0xFF byte (never in a JSON text); each is
 * METHOD NUL PATH NUL BODY (a missing NUL: the path, the body empty).
 * They all go to one API, in order, twice over, so toxics are created,
 * updated, deleted and reset, and the second pass meets what the first
 * left.
 *
 * Checks, after every answer:
 *  - the status is 200..599; a 204 has no body;
 *  - any other body is one JSON object (muxd_json_parse), or an array
 *    for a 200 to a GET (a proxy's toxics, as toxiproxy lists them);
 *  - an error (400 and up) is exactly {"error": STRING, "status": N}, N
 *    the status (a /populate's has its "proxies" too);
 *  - faults_changed is called at most once, and once whenever the
 *    registry's faults (ids and specs) changed; an error (300 and up)
 *    changes no fault and calls nothing (but a /populate's: what it made
 *    before the error stays);
 *  - after each success but a GET's, and after each pass: every fault is
 *    kept to one of the proxies, and a proxy has no more faults than
 *    GET /proxies/{p}/toxics lists toxics (a toxic has at most one
 *    fault), each listed toxic named once.
 */
#define _POSIX_C_SOURCE 200809L

#include "fuzz_util.h"

#include "api.h"
#include "faults.h"
#include "json.h"
#include "log.h"

static int calls; /* of faults_changed, per request */
static muxd_faults_t *faults;

/* The fake proxies. */
#define NPROXIES 4
static struct {
    bool used, enabled;
    char name[MUXD_PROXY_NAME_MAX + 1];
    char listen[MUXD_PROXY_ADDR_MAX], upstream[MUXD_PROXY_ADDR_MAX];
    uint64_t serial;
} proxies[NPROXIES];
static const char *proxy_names[NPROXIES];
static uint64_t serials;

static bool fake_proxy(void *arg, size_t slot, muxd_proxy_info_t *info) {
    (void)arg;
    if (slot >= NPROXIES || !proxies[slot].used)
        return false;
    *info = (muxd_proxy_info_t){.name = proxies[slot].name,
                                .listen = proxies[slot].listen,
                                .upstream = proxies[slot].upstream,
                                .enabled = proxies[slot].enabled,
                                .serial = proxies[slot].serial};
    return true;
}

static size_t fake_proxy_listener(void *arg, size_t i, size_t j,
                                  const char **local) {
    (void)arg;
    (void)j;
    *local = proxies[i].listen;
    return proxies[i].enabled ? 1 : 0;
}

static void set_field(char *field, const char *value) {
    if (value)
        snprintf(field, MUXD_PROXY_ADDR_MAX, "%s", value);
}

static int fake_proxy_update(void *arg, size_t slot,
                             const muxd_proxy_spec_t *spec, char *err,
                             size_t size) {
    (void)arg;
    (void)err;
    (void)size;
    CHECK(slot < NPROXIES && proxies[slot].used);
    set_field(proxies[slot].listen, spec->listen);
    set_field(proxies[slot].upstream, spec->upstream);
    if (spec->enabled >= 0)
        proxies[slot].enabled = spec->enabled;
    return 0;
}

static long fake_proxy_add(void *arg, const muxd_proxy_spec_t *spec, char *err,
                           size_t size) {
    (void)arg;
    size_t len = spec->name ? strlen(spec->name) : 0, k = 0;
    const char *ok = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789._-";
    if (!len || len > MUXD_PROXY_NAME_MAX || strspn(spec->name, ok) != len ||
        !spec->upstream) {
        snprintf(err, size, "invalid proxy");
        return MUXD_PROXY_EINVAL;
    }
    for (size_t i = 0; i < NPROXIES; i++)
        if (proxies[i].used && !strcmp(proxies[i].name, spec->name)) {
            snprintf(err, size, "proxy already exists");
            return MUXD_PROXY_EEXIST;
        }
    while (k < NPROXIES && proxies[k].used)
        k++;
    if (k == NPROXIES) {
        snprintf(err, size, "too many proxies");
        return MUXD_PROXY_EFULL;
    }
    proxies[k].used = true;
    proxies[k].serial = ++serials;
    memcpy(proxies[k].name, spec->name, len + 1);
    set_field(proxies[k].listen, spec->listen ? spec->listen : "127.0.0.1:0");
    set_field(proxies[k].upstream, spec->upstream);
    proxies[k].enabled = spec->enabled != 0;
    proxy_names[k] = proxies[k].name;
    return (long)k;
}

static void fake_faults_changed(void *arg);

/* As muxd_proxies_del(): the proxy's faults go with it. */
static void fake_proxy_del(void *arg, size_t slot) {
    CHECK(slot < NPROXIES && proxies[slot].used);
    if (muxd_faults_del_proxy(faults, slot))
        fake_faults_changed(arg);
    proxies[slot].used = false;
    proxy_names[slot] = NULL;
}

/* "echo" and "db", and two free slots. */
static void fake_proxies_start(void) {
    memset(proxies, 0, sizeof(proxies));
    memset(proxy_names, 0, sizeof(proxy_names));
    serials = 0;
    const char *names[] = {"echo", "db"};
    for (size_t i = 0; i < 2; i++) {
        muxd_proxy_spec_t spec = {
            .name = names[i],
            .listen = i ? "127.0.0.1:15432" : "127.0.0.1:10007",
            .upstream = i ? "127.0.0.1:5432" : "127.0.0.1:7",
            .enabled = 1};
        char err[64];
        CHECK(fake_proxy_add(NULL, &spec, err, sizeof(err)) == (long)i);
    }
}

static void fake_faults_changed(void *arg) {
    (void)arg;
    calls++;
    muxd_faults_settle(faults); /* no open connection to refresh */
}

/* The registry's faults, ids and specs, as one number. */
static uint64_t faults_hash(void) {
    uint64_t h = 1469598103934665603u, id;
    const char *spec;
    for (size_t i = 0, n = muxd_faults_list(faults, 0, &id, &spec); i < n;
         i++) {
        muxd_faults_list(faults, i, &id, &spec);
        h = (h ^ id) * 1099511628211u;
        for (const char *p = spec; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211u;
        h = (h ^ 0xff) * 1099511628211u;
    }
    return h;
}

/* The body parsed; the caller frees it. */
static muxd_json_t *parse_body(const muxd_http_response_t *res) {
    CHECK(res->body != NULL && res->len > 0);
    char err[128];
    muxd_json_t *doc =
        muxd_json_parse(res->body, res->len, 1 << 20, err, sizeof(err));
    if (!doc)
        fprintf(stderr, "body %.*s: %s\n", (int)res->len, res->body, err);
    CHECK(doc != NULL);
    return doc;
}

/* Returns whether the answer is a /populate's error (its "proxies" with
 * it): one that may leave what it made before the error. */
static bool check_response(const muxd_http_response_t *res, bool get) {
    bool populate = false;
    CHECK(res->status >= 200 && res->status <= 599);
    if (res->status == 204) {
        CHECK(res->body == NULL || res->len == 0);
        return false;
    }
    muxd_json_t *doc = parse_body(res);
    const muxd_json_value_t *root = muxd_json_root(doc);
    muxd_json_type type = muxd_json_type_of(root);
    CHECK(type == MUXD_JSON_OBJECT ||
          (type == MUXD_JSON_ARRAY && get && res->status == 200));
    if (res->status >= 400) {
        const char *error;
        int64_t status;
        populate = muxd_json_type_of(muxd_json_get(root, "proxies")) ==
                   MUXD_JSON_ARRAY;
        CHECK(muxd_json_len(root) == (populate ? 3u : 2u));
        CHECK(muxd_json_string(muxd_json_get(root, "error"), &error, NULL));
        CHECK(muxd_json_int(muxd_json_get(root, "status"), &status));
        CHECK(status == res->status);
    }
    muxd_json_free(doc);
    return populate;
}

static void answer(muxd_api_t *api, const char *method, const char *path,
                   const char *body, size_t body_len,
                   muxd_http_response_t *res) {
    muxd_http_request_t req = {.method = method,
                               .method_len = strlen(method),
                               .path = path,
                               .path_len = strlen(path),
                               .body = body_len ? body : NULL,
                               .body_len = body_len,
                               .keep_alive = true};
    *res = (muxd_http_response_t){0};
    muxd_api_answer(api, &req, res);
}

/* Proxy i's toxics as GET lists them: each named once. Their number. */
static size_t toxics_listed(muxd_api_t *api, size_t i) {
    char path[128];
    snprintf(path, sizeof(path), "/proxies/%s/toxics", proxy_names[i]);
    muxd_http_response_t res;
    answer(api, "GET", path, NULL, 0, &res);
    CHECK(res.status == 200);
    muxd_json_t *doc = parse_body(&res);
    const muxd_json_value_t *list = muxd_json_root(doc);
    CHECK(muxd_json_type_of(list) == MUXD_JSON_ARRAY);
    size_t n = muxd_json_len(list);
    for (size_t a = 0; a < n; a++) {
        const char *name, *other;
        size_t len, other_len;
        CHECK(muxd_json_string(muxd_json_get(muxd_json_at(list, a), "name"),
                               &name, &len));
        for (size_t b = 0; b < a; b++) {
            CHECK(muxd_json_string(muxd_json_get(muxd_json_at(list, b), "name"),
                                   &other, &other_len));
            CHECK(len != other_len || memcmp(name, other, len) != 0);
        }
    }
    muxd_json_free(doc);
    return n;
}

/* Each fault kept to a proxy, no proxy with more faults than toxics. */
static void check_faults(muxd_api_t *api) {
    size_t per_proxy[NPROXIES] = {0};
    uint64_t id;
    const char *spec;
    for (size_t i = 0, n = muxd_faults_list(faults, 0, &id, &spec); i < n;
         i++) {
        char name[64];
        muxd_faults_list(faults, i, &id, &spec);
        CHECK(muxd_fault_proxy(spec, name, sizeof(name)));
        size_t p = 0;
        while (p < NPROXIES &&
               (!proxy_names[p] || strcmp(name, proxy_names[p])))
            p++;
        CHECK(p < NPROXIES);
        per_proxy[p]++;
    }
    for (size_t p = 0; p < NPROXIES; p++)
        if (proxy_names[p])
            CHECK(per_proxy[p] <= toxics_listed(api, p));
}

/* One request: METHOD NUL PATH NUL BODY. */
static void run_request(muxd_api_t *api, const char *data, size_t size) {
    static char method[256], path[1024];
    const char *end = data + size, *nul = memchr(data, '\0', size);
    size_t mlen = nul ? (size_t)(nul - data) : 0;
    const char *p = nul ? nul + 1 : data;
    const char *nul2 = memchr(p, '\0', (size_t)(end - p));
    size_t plen = nul2 ? (size_t)(nul2 - p) : (size_t)(end - p);
    const char *body = nul2 ? nul2 + 1 : end;
    if (mlen >= sizeof(method) || plen >= sizeof(path))
        return;
    memcpy(method, data, mlen);
    method[mlen] = '\0';
    memcpy(path, p, plen);
    path[plen] = '\0';

    uint64_t before = faults_hash();
    calls = 0;
    muxd_http_response_t res;
    const char *m = mlen ? method : "GET";
    answer(api, m, path, body, (size_t)(end - body), &res);
    bool populate = check_response(&res, !strcmp(m, "GET"));
    CHECK(calls <= 1);
    bool changed = faults_hash() != before;
    if (changed)
        CHECK(calls == 1);
    if (res.status >= 300 && !populate) /* refused as a whole */
        CHECK(!changed && calls == 0);
    else if (strcmp(m, "GET"))
        check_faults(api);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const muxd_log_t quiet = {.level = MUXD_LOG_QUIET};
    muxd_log_init(&quiet, 0);
    CHECK((faults = muxd_faults_new(1)) != NULL);
    fake_proxies_start();
    muxd_faults_proxies(faults, proxy_names, NPROXIES);
    muxd_control_target_t target = {.faults = faults,
                                    .faults_changed = fake_faults_changed,
                                    .proxy = fake_proxy,
                                    .proxy_slots = NPROXIES,
                                    .proxy_listener = fake_proxy_listener,
                                    .proxy_add = fake_proxy_add,
                                    .proxy_update = fake_proxy_update,
                                    .proxy_del = fake_proxy_del};
    muxd_api_t *api = muxd_api_new(&target);
    CHECK(api != NULL);
    for (int pass = 0; pass < 2; pass++) {
        const char *p = (const char *)data, *end = p + size;
        while (p < end) {
            const char *sep = memchr(p, 0xff, (size_t)(end - p));
            size_t len = sep ? (size_t)(sep - p) : (size_t)(end - p);
            run_request(api, p, len);
            p += len + (sep != NULL);
        }
        check_faults(api);
    }
    muxd_api_free(api);
    muxd_faults_free(faults);
    return 0;
}
