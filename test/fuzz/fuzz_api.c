/*
 * fuzz_api.c -- libFuzzer harness for toxiproxy's API (src/muxd/api.c):
 * muxd_api_answer() on a fake target, without the network: a real fault
 * registry whose proxies are "echo" and "db", fake proxy callbacks giving
 * those two, and a faults_changed callback that counts (and settles the
 * registry, as serve.c's does).
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
 *    the status;
 *  - faults_changed is called at most once, and once whenever the
 *    registry's faults (ids and specs) changed; an error (300 and up)
 *    changes no fault and calls nothing;
 *  - after each success but a GET's, and after each pass: every fault is
 *    kept to one of the two proxies, and a proxy has no more faults than
 *    GET /proxies/{p}/toxics lists toxics (a toxic has at most one
 *    fault), each listed toxic named once.
 */
#define _POSIX_C_SOURCE 200809L

#include "fuzz_util.h"

#include "api.h"
#include "faults.h"
#include "json.h"
#include "log.h"

static const char *const proxy_names[] = {"echo", "db"};
#define NPROXIES (sizeof(proxy_names) / sizeof(proxy_names[0]))

static int calls; /* of faults_changed, per request */
static muxd_faults_t *faults;

static void fake_faults_changed(void *arg) {
    (void)arg;
    calls++;
    muxd_faults_settle(faults); /* no open connection to refresh */
}

static bool fake_proxy(void *arg, size_t i, const char **name,
                       const char **upstream) {
    (void)arg;
    if (i >= NPROXIES)
        return false;
    *name = proxy_names[i];
    *upstream = i ? "127.0.0.1:5432" : "127.0.0.1:7";
    return true;
}

static size_t fake_proxy_listener(void *arg, size_t i, size_t j,
                                  const char **local) {
    (void)arg;
    (void)j;
    *local = i ? "127.0.0.1:15432" : "127.0.0.1:10007";
    return 1;
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

static void check_response(const muxd_http_response_t *res, bool get) {
    CHECK(res->status >= 200 && res->status <= 599);
    if (res->status == 204) {
        CHECK(res->body == NULL || res->len == 0);
        return;
    }
    muxd_json_t *doc = parse_body(res);
    const muxd_json_value_t *root = muxd_json_root(doc);
    muxd_json_type type = muxd_json_type_of(root);
    CHECK(type == MUXD_JSON_OBJECT ||
          (type == MUXD_JSON_ARRAY && get && res->status == 200));
    if (res->status >= 400) {
        const char *error;
        int64_t status;
        CHECK(muxd_json_len(root) == 2);
        CHECK(muxd_json_string(muxd_json_get(root, "error"), &error, NULL));
        CHECK(muxd_json_int(muxd_json_get(root, "status"), &status));
        CHECK(status == res->status);
    }
    muxd_json_free(doc);
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
    char path[64];
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
        while (p < NPROXIES && strcmp(name, proxy_names[p]))
            p++;
        CHECK(p < NPROXIES);
        per_proxy[p]++;
    }
    for (size_t p = 0; p < NPROXIES; p++)
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
    check_response(&res, !strcmp(m, "GET"));
    CHECK(calls <= 1);
    bool changed = faults_hash() != before;
    if (changed)
        CHECK(calls == 1);
    if (res.status >= 300) /* refused as a whole */
        CHECK(!changed && calls == 0);
    else if (strcmp(m, "GET"))
        check_faults(api);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const muxd_log_t quiet = {.level = MUXD_LOG_QUIET};
    muxd_log_init(&quiet, 0);
    CHECK((faults = muxd_faults_new(1)) != NULL);
    muxd_faults_proxies(faults, proxy_names, NPROXIES);
    muxd_control_target_t target = {.faults = faults,
                                    .faults_changed = fake_faults_changed,
                                    .proxy = fake_proxy,
                                    .proxy_listener = fake_proxy_listener};
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
