/*
 * fuzz_json.c -- libFuzzer harness for muxd's JSON reader
 * (src/muxd/json.c), which reads the bodies the HTTP API (--api) gets.
 *
 * Input: any bytes, parsed as one document. Checks:
 *  - a failure leaves "at byte N: ..." with N at most the input's length;
 *  - a document is walked through every accessor: lengths and indexes
 *    agree, a key finds the last member of its name (with get and
 *    get_fold), typed reads of another type are false, an integer read
 *    agrees with the number read, every string and key is NUL-terminated
 *    and, escaped by muxd_json_escape() and parsed again, gives the same
 *    bytes back;
 *  - the document written back (compact) parses to the same document;
 *  - it parses with max_values set to its count of values and keys, and
 *    fails with "too many values" with one less.
 */
#define _POSIX_C_SOURCE 200809L

#include "fuzz_util.h"

#include "json.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>

#define MAX_VALUES 100000

static muxd_json_t *parse(const char *text, size_t len, size_t max, char *err,
                          size_t size) {
    muxd_json_t *doc = muxd_json_parse(text, len, max, err, size);
    if (doc) {
        CHECK(err[0] == '\0');
        return doc;
    }
    unsigned long long at = 0;
    CHECK(sscanf(err, "at byte %llu: ", &at) == 1 && at <= len);
    CHECK(strlen(err) > strlen("at byte 0: "));
    return NULL;
}

/* A string's bytes through the escaper, quoted, and parsed back. */
static void check_string(const char *s, size_t len) {
    CHECK(s[len] == '\0');
    size_t size = 6 * len + 4;
    char *quoted = malloc(size + 2), err[256];
    CHECK(quoted != NULL);
    quoted[0] = '"';
    muxd_json_escape(s, len, quoted + 1, size);
    size_t n = strlen(quoted);
    quoted[n] = '"';
    muxd_json_t *doc = parse(quoted, n + 1, 1, err, sizeof(err));
    CHECK(doc != NULL);
    const char *back;
    size_t back_len;
    CHECK(muxd_json_string(muxd_json_root(doc), &back, &back_len));
    CHECK(back_len == len && memcmp(back, s, len) == 0);
    muxd_json_free(doc);
    free(quoted);
}

/* Typed reads answer only for their own type. */
static void check_typed_reads(const muxd_json_value_t *v) {
    muxd_json_type type = muxd_json_type_of(v);
    const char *s;
    bool b;
    double d;
    int64_t i;
    CHECK(muxd_json_string(v, &s, NULL) == (type == MUXD_JSON_STRING));
    CHECK(muxd_json_bool(v, &b) == (type == MUXD_JSON_BOOL));
    bool number = muxd_json_number(v, &d), whole = muxd_json_int(v, &i);
    CHECK(!number || type == MUXD_JSON_NUMBER);
    CHECK(!whole || (number && d == (double)i));
    if (type != MUXD_JSON_ARRAY && type != MUXD_JSON_OBJECT)
        CHECK(muxd_json_len(v) == 0 && muxd_json_at(v, 0) == NULL);
    if (type != MUXD_JSON_OBJECT)
        CHECK(!muxd_json_key_at(v, 0, NULL) && !muxd_json_get(v, "") &&
              !muxd_json_get_fold(v, "a"));
}

/* Whether the key is plain ASCII without NUL: usable as a C string. */
static bool c_key(const char *key, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (key[i] == '\0' || (unsigned char)key[i] >= 0x80)
            return false;
    return true;
}

/* Member i's key finds the last member of that name, exactly and
 * folded (objects up to 64 members: the check is quadratic). */
static void check_lookup(const muxd_json_value_t *obj, size_t i) {
    size_t n = muxd_json_len(obj), len, other_len;
    const char *key = muxd_json_key_at(obj, i, &len);
    if (n > 64 || memchr(key, '\0', len))
        return;
    size_t last = i;
    for (size_t j = i + 1; j < n; j++) {
        const char *other = muxd_json_key_at(obj, j, &other_len);
        if (other_len == len && memcmp(other, key, len) == 0)
            last = j;
    }
    CHECK(muxd_json_get(obj, key) == muxd_json_at(obj, last));
    if (c_key(key, len)) /* a key folds to itself: something is found */
        CHECK(muxd_json_get_fold(obj, key) != NULL);
}

static size_t walk(const muxd_json_value_t *v, int depth);

/* An array's elements or an object's members; returns the values. */
static size_t walk_kids(const muxd_json_value_t *v, int depth) {
    size_t n = muxd_json_len(v), count = 0;
    bool object = muxd_json_type_of(v) == MUXD_JSON_OBJECT;
    for (size_t i = 0; i < n; i++) {
        const muxd_json_value_t *kid = muxd_json_at(v, i);
        CHECK(kid != NULL);
        count += walk(kid, depth + 1);
        if (!object)
            continue;
        size_t len;
        const char *key = muxd_json_key_at(v, i, &len);
        CHECK(key != NULL);
        check_string(key, len);
        check_lookup(v, i);
        count++;
    }
    CHECK(muxd_json_at(v, n) == NULL && muxd_json_key_at(v, n, NULL) == NULL);
    return count;
}

/* Checks v and everything in it; returns how many values and keys. */
static size_t walk(const muxd_json_value_t *v, int depth) {
    CHECK(v != NULL);
    check_typed_reads(v);
    const char *s;
    size_t len;
    switch (muxd_json_type_of(v)) {
    case MUXD_JSON_STRING:
        CHECK(muxd_json_string(v, &s, &len));
        check_string(s, len);
        return 1;
    case MUXD_JSON_ARRAY:
    case MUXD_JSON_OBJECT:
        CHECK(depth < MUXD_JSON_DEPTH_MAX);
        return 1 + walk_kids(v, depth);
    default:
        return 1;
    }
}

/* v written compact into out; false if a number has no finite form. */
static bool write_value(const muxd_json_value_t *v, bytes_t *out);

static void write_string(const char *s, size_t len, bytes_t *out) {
    char *esc = malloc(6 * len + 4);
    CHECK(esc != NULL);
    muxd_json_escape(s, len, esc, 6 * len + 4);
    bytes_add(out, "\"", 1);
    bytes_add(out, esc, strlen(esc));
    bytes_add(out, "\"", 1);
    free(esc);
}

static bool write_scalar(const muxd_json_value_t *v, bytes_t *out) {
    char buf[64];
    const char *s;
    size_t len;
    bool b;
    double d;
    int64_t i;
    if (muxd_json_string(v, &s, &len))
        write_string(s, len, out);
    else if (muxd_json_bool(v, &b))
        bytes_add(out, b ? "true" : "false", b ? 4 : 5);
    else if (muxd_json_type_of(v) == MUXD_JSON_NULL)
        bytes_add(out, "null", 4);
    else if (muxd_json_int(v, &i))
        bytes_add(out, buf, (size_t)snprintf(buf, 64, "%" PRId64, i));
    else if (muxd_json_number(v, &d))
        bytes_add(out, buf, (size_t)snprintf(buf, 64, "%.17g", d));
    else
        return false;
    return true;
}

static bool write_value(const muxd_json_value_t *v, bytes_t *out) {
    muxd_json_type type = muxd_json_type_of(v);
    if (type != MUXD_JSON_ARRAY && type != MUXD_JSON_OBJECT)
        return write_scalar(v, out);
    bool object = type == MUXD_JSON_OBJECT;
    bytes_add(out, object ? "{" : "[", 1);
    for (size_t i = 0; i < muxd_json_len(v); i++) {
        if (i > 0)
            bytes_add(out, ",", 1);
        size_t len;
        const char *key = muxd_json_key_at(v, i, &len);
        if (object) {
            write_string(key, len, out);
            bytes_add(out, ":", 1);
        }
        if (!write_value(muxd_json_at(v, i), out))
            return false;
    }
    bytes_add(out, object ? "}" : "]", 1);
    return true;
}

/* Two documents are the same: types, lengths, keys, strings, numbers. */
static void check_same(const muxd_json_value_t *a, const muxd_json_value_t *b) {
    CHECK(muxd_json_type_of(a) == muxd_json_type_of(b));
    CHECK(muxd_json_len(a) == muxd_json_len(b));
    const char *sa, *sb;
    size_t la, lb;
    bool ba, bb;
    double da, db;
    if (muxd_json_string(a, &sa, &la) && muxd_json_string(b, &sb, &lb))
        CHECK(la == lb && memcmp(sa, sb, la) == 0);
    if (muxd_json_bool(a, &ba) && muxd_json_bool(b, &bb))
        CHECK(ba == bb);
    if (muxd_json_number(a, &da))
        CHECK(muxd_json_number(b, &db) && da == db);
    for (size_t i = 0; i < muxd_json_len(a); i++) {
        sa = muxd_json_key_at(a, i, &la);
        sb = muxd_json_key_at(b, i, &lb);
        CHECK(!sa == !sb && (!sa || (la == lb && memcmp(sa, sb, la) == 0)));
        check_same(muxd_json_at(a, i), muxd_json_at(b, i));
    }
}

/* The document written back parses to the same document. */
static void check_rewritten(const muxd_json_t *doc) {
    bytes_t out = {0};
    char err[256];
    if (write_value(muxd_json_root(doc), &out)) {
        muxd_json_t *again =
            parse(out.data, out.len, MAX_VALUES, err, sizeof(err));
        CHECK(again != NULL);
        check_same(muxd_json_root(doc), muxd_json_root(again));
        muxd_json_free(again);
    }
    bytes_free(&out);
}

/* max_values is exact: `count` values parse, one less does not. */
static void check_bound(const char *text, size_t len, size_t count) {
    char err[256];
    muxd_json_t *doc = parse(text, len, count, err, sizeof(err));
    CHECK(doc != NULL);
    muxd_json_free(doc);
    CHECK(parse(text, len, count - 1, err, sizeof(err)) == NULL);
    CHECK(strstr(err, ": too many values (the limit is ") != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[256];
    const char *text = (const char *)data;
    muxd_json_t *doc = parse(text, size, MAX_VALUES, err, sizeof(err));
    if (!doc)
        return 0;
    size_t count = walk(muxd_json_root(doc), 0);
    CHECK(count <= MAX_VALUES);
    check_rewritten(doc);
    muxd_json_free(doc);
    check_bound(text, size, count);
    return 0;
}
