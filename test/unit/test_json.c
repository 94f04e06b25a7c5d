/*
 * test_json.c -- src/muxd/json.c.
 * muxd_json_escape(): whatever bytes come in, what goes out is the inside
 * of a valid JSON string, valid UTF-8, and free of raw control characters;
 * long input is cut with "...".
 * The reader, muxd_json_parse() and its accessors: the shapes the API
 * reads (proxies, arrays of them, toxics), escapes, numbers as Go reads
 * them, each error with its place, the bounds, and strings that go
 * through the escaper and back unchanged.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "json.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Escapes `len` bytes of `in` into a buffer of `size` bytes. */
static const char *esc(const char *in, size_t len, size_t size) {
    static char out[4096];
    assert_true(size < sizeof(out));
    memset(out, '#', size + 1); /* what is not written shows */
    char *ret = muxd_json_escape(in, len, out, size);
    assert_ptr_equal(ret, out);
    if (size > 0)
        assert_true(strlen(out) < size);
    return out;
}

static void test_printable_ascii_unchanged(void **state) {
    (void)state;
    const char *text = "Hello, client! ~ {[(<>)]} 0123456789 'single' /";
    assert_string_equal(esc(text, strlen(text), 256), text);
    assert_string_equal(esc("", 0, 16), "");
}

static void test_short_escapes(void **state) {
    (void)state;
    assert_string_equal(esc("a\"b\\c", 5, 64), "a\\\"b\\\\c");
    assert_string_equal(esc("\n\r\t\b\f", 5, 64), "\\n\\r\\t\\b\\f");
}

static void test_control_bytes_as_u00xx(void **state) {
    (void)state;
    assert_string_equal(esc("\x01\x1b[31m\x7f", 7, 64),
                        "\\u0001\\u001b[31m\\u007f");
    assert_string_equal(esc("a\0b", 3, 64), "a\\u0000b");
    assert_string_equal(esc("\x1f\v", 2, 64), "\\u001f\\u000b");
}

static void test_valid_utf8_kept(void **state) {
    (void)state;
    /* é (2 bytes), € (3), U+1F600 (4), U+10FFFF (the last code point) */
    const char *text =
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf";
    assert_string_equal(esc(text, strlen(text), 64), text);
}

static void test_c1_and_line_separators_escaped(void **state) {
    (void)state;
    /* U+0085 NEL, U+009B CSI: terminal controls; U+2028/9 break JS. */
    assert_string_equal(esc("\xc2\x85\xc2\x9b", 4, 64), "\\u0085\\u009b");
    assert_string_equal(esc("\xe2\x80\xa8\xe2\x80\xa9", 6, 64),
                        "\\u2028\\u2029");
    assert_string_equal(esc("\xc2\xa0", 2, 64), "\xc2\xa0"); /* U+00A0 */
}

static void test_invalid_utf8_replaced(void **state) {
    (void)state;
    const char *r = "\\ufffd";
    char want[128];
    /* stray continuation byte, bytes never valid */
    assert_string_equal(esc("\x80", 1, 64), r);
    assert_string_equal(esc("\xff\xfe", 2, 64), "\\ufffd\\ufffd");
    /* overlong forms of '/' and NUL */
    assert_string_equal(esc("\xc0\xaf", 2, 64), "\\ufffd\\ufffd");
    assert_string_equal(esc("\xe0\x80\x80", 3, 64), "\\ufffd\\ufffd\\ufffd");
    /* a UTF-16 surrogate (U+D800), beyond U+10FFFF */
    assert_string_equal(esc("\xed\xa0\x80", 3, 64), "\\ufffd\\ufffd\\ufffd");
    assert_string_equal(esc("\xf4\x90\x80\x80", 4, 64),
                        "\\ufffd\\ufffd\\ufffd\\ufffd");
    /* a sequence cut short, by the end or by ASCII */
    assert_string_equal(esc("ok\xe2\x82", 4, 64), "ok\\ufffd\\ufffd");
    strcpy(want, "\\ufffdA");
    assert_string_equal(esc("\xc3"
                            "A",
                            2, 64),
                        want);
}

static void test_long_input_cut_with_dots(void **state) {
    (void)state;
    assert_string_equal(esc("abcdefghij", 10, 8), "abcd...");
    assert_string_equal(esc("abcdefg", 7, 8), "abcdefg"); /* fits exactly */
    /* An escape is never cut in half. */
    assert_string_equal(esc("ab\x01\x02", 4, 10), "ab...");
    /* Nor is a UTF-8 sequence. */
    assert_string_equal(esc("ab\xe2\x82\xac\xe2\x82\xacx", 9, 9),
                        "ab\xe2\x82\xac...");
    assert_string_equal(esc("abc", 3, 3), "");  /* too small for anything */
    assert_int_equal(esc("abc", 3, 0)[0], '#'); /* nothing written */
}

/* Decodes one UTF-8 character (the output must be well-formed). */
static size_t utf8_len(const unsigned char *p) {
    if (p[0] < 0x80)
        return 1;
    size_t n = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : 2;
    assert_true(p[0] >= 0xc2 && p[0] <= 0xf4);
    for (size_t i = 1; i < n; i++)
        assert_int_equal(p[i] & 0xc0, 0x80);
    return n;
}

/* Every byte pair, alone or around text: the output is valid JSON string
 * content (no raw control byte, no bare quote or backslash) and UTF-8. */
static void test_every_byte_pair_is_safe(void **state) {
    (void)state;
    for (unsigned a = 0; a < 256; a++)
        for (unsigned b = 0; b < 256; b++) {
            char in[4] = {(char)a, (char)b, 'z', (char)0xe2};
            const unsigned char *out =
                (const unsigned char *)esc(in, sizeof(in), 256);
            for (size_t i = 0; out[i];) {
                assert_true(out[i] >= 0x20 && out[i] != 0x7f);
                if (out[i] == '"')
                    fail_msg("bare quote for %02x %02x", a, b);
                if (out[i] == '\\') {
                    assert_non_null(strchr("\"\\nrtbfu", out[i + 1]));
                    i += out[i + 1] == 'u' ? 6 : 2;
                    continue;
                }
                i += utf8_len(out + i);
            }
        }
}

/* ---- The reader ---- */

static muxd_json_t *parse_max(const char *text, size_t len, size_t max) {
    char err[256] = "untouched";
    muxd_json_t *doc = muxd_json_parse(text, len, max, err, sizeof(err));
    if (!doc)
        fail_msg("parse failed: %s", err);
    assert_string_equal(err, "");
    return doc;
}

static muxd_json_t *parse(const char *text) {
    return parse_max(text, strlen(text), 1000);
}

/* The error for `len` bytes of `text` with at most `max` values. */
static void parse_fails_max(const char *text, size_t len, size_t max,
                            const char *want) {
    char err[256];
    muxd_json_t *doc = muxd_json_parse(text, len, max, err, sizeof(err));
    if (doc)
        fail_msg("parsed: %.*s", (int)len, text);
    assert_string_equal(err, want);
}

static void parse_fails(const char *text, const char *want) {
    parse_fails_max(text, strlen(text), 1000, want);
}

/* The string at v, with its length. */
static void assert_json_string(const muxd_json_value_t *v, const char *want,
                               size_t want_len) {
    const char *s;
    size_t len;
    assert_true(muxd_json_string(v, &s, &len));
    assert_int_equal(len, want_len);
    assert_memory_equal(s, want, len);
    assert_int_equal(s[len], '\0');
}

static void assert_member(const muxd_json_value_t *obj, const char *key,
                          const char *want) {
    assert_json_string(muxd_json_get(obj, key), want, strlen(want));
}

static void test_read_proxy(void **state) {
    (void)state;
    muxd_json_t *doc =
        parse("{\"name\":\"redis\",\"listen\":\"127.0.0.1:26379\","
              "\"upstream\":\"127.0.0.1:6379\",\"enabled\":true}");
    const muxd_json_value_t *root = muxd_json_root(doc);
    assert_int_equal(muxd_json_type_of(root), MUXD_JSON_OBJECT);
    assert_int_equal(muxd_json_len(root), 4);
    assert_member(root, "name", "redis");
    assert_member(root, "listen", "127.0.0.1:26379");
    assert_member(root, "upstream", "127.0.0.1:6379");
    bool on = false;
    assert_true(muxd_json_bool(muxd_json_get(root, "enabled"), &on));
    assert_true(on);
    assert_null(muxd_json_get(root, "toxics"));
    assert_null(muxd_json_get(root, "Name")); /* exact: case counts */
    muxd_json_free(doc);
}

static void test_read_populate_array(void **state) {
    (void)state;
    muxd_json_t *doc = parse(
        " [\n  {\"name\": \"a\", \"listen\": \"127.0.0.1:0\", \"upstream\": "
        "\"127.0.0.1:1\"},\r\n\t{\"name\": \"b\", \"listen\": \"[::1]:0\", "
        "\"upstream\": \"[::1]:2\", \"enabled\": false}\n] \n");
    const muxd_json_value_t *root = muxd_json_root(doc);
    assert_int_equal(muxd_json_type_of(root), MUXD_JSON_ARRAY);
    assert_int_equal(muxd_json_len(root), 2);
    assert_member(muxd_json_at(root, 0), "name", "a");
    assert_member(muxd_json_at(root, 1), "listen", "[::1]:0");
    assert_null(muxd_json_get(muxd_json_at(root, 0), "enabled"));
    bool on = true;
    assert_true(
        muxd_json_bool(muxd_json_get(muxd_json_at(root, 1), "enabled"), &on));
    assert_false(on);
    assert_null(muxd_json_at(root, 2));
    muxd_json_free(doc);
}

static void test_read_toxic(void **state) {
    (void)state;
    muxd_json_t *doc =
        parse("{\"name\":\"lat\",\"type\":\"latency\",\"stream\":\"upstream\","
              "\"toxicity\":0.5,\"attributes\":{\"latency\":1000,"
              "\"jitter\":0}}");
    const muxd_json_value_t *root = muxd_json_root(doc);
    double toxicity = 0;
    assert_true(muxd_json_number(muxd_json_get(root, "toxicity"), &toxicity));
    assert_true(toxicity == 0.5);
    const muxd_json_value_t *attrs = muxd_json_get(root, "attributes");
    assert_int_equal(muxd_json_type_of(attrs), MUXD_JSON_OBJECT);
    int64_t latency = 0, jitter = -1;
    assert_true(muxd_json_int(muxd_json_get(attrs, "latency"), &latency));
    assert_true(muxd_json_int(muxd_json_get(attrs, "jitter"), &jitter));
    assert_int_equal(latency, 1000);
    assert_int_equal(jitter, 0);
    muxd_json_free(doc);
}

static void test_read_members_in_order(void **state) {
    (void)state;
    muxd_json_t *doc = parse("{\"b\":[],\"a\":{},\"\":null}");
    const muxd_json_value_t *root = muxd_json_root(doc);
    const char *want[] = {"b", "a", ""};
    muxd_json_type types[] = {MUXD_JSON_ARRAY, MUXD_JSON_OBJECT,
                              MUXD_JSON_NULL};
    for (size_t i = 0; i < 3; i++) {
        size_t len = 99;
        assert_string_equal(muxd_json_key_at(root, i, &len), want[i]);
        assert_int_equal(len, strlen(want[i]));
        assert_int_equal(muxd_json_type_of(muxd_json_at(root, i)), types[i]);
        assert_int_equal(muxd_json_len(muxd_json_at(root, i)), 0);
    }
    assert_null(muxd_json_key_at(root, 3, NULL));
    assert_null(muxd_json_at(root, 3));
    assert_non_null(muxd_json_get(root, "")); /* the empty key is a key */
    /* Accessors on the wrong type, or on nothing, find nothing. */
    const muxd_json_value_t *arr = muxd_json_at(root, 0);
    assert_null(muxd_json_key_at(arr, 0, NULL));
    assert_null(muxd_json_get(arr, "b"));
    assert_null(muxd_json_get(NULL, "b"));
    assert_null(muxd_json_at(NULL, 0));
    assert_int_equal(muxd_json_len(NULL), 0);
    assert_int_equal(muxd_json_type_of(NULL), MUXD_JSON_NULL);
    muxd_json_free(doc);
    muxd_json_free(NULL);
}

static void test_read_scalar_documents(void **state) {
    (void)state;
    const char *texts[] = {"null", " true ", "false", "42", "\"x\""};
    muxd_json_type types[] = {MUXD_JSON_NULL, MUXD_JSON_BOOL, MUXD_JSON_BOOL,
                              MUXD_JSON_NUMBER, MUXD_JSON_STRING};
    for (size_t i = 0; i < 5; i++) {
        muxd_json_t *doc = parse(texts[i]);
        const muxd_json_value_t *v = muxd_json_root(doc);
        assert_int_equal(muxd_json_type_of(v), types[i]);
        assert_int_equal(muxd_json_len(v), 0);
        assert_null(muxd_json_at(v, 0));
        muxd_json_free(doc);
    }
}

/* Typed reads of another type are false and leave *out alone. */
static void test_read_type_mismatch(void **state) {
    (void)state;
    muxd_json_t *doc = parse("[\"1\",1,true,null,1.5]");
    const muxd_json_value_t *root = muxd_json_root(doc);
    const char *s = "kept";
    int64_t i = 7;
    double d = 7;
    bool b = false;
    assert_false(muxd_json_int(muxd_json_at(root, 0), &i));
    assert_false(muxd_json_number(muxd_json_at(root, 0), &d));
    assert_false(muxd_json_string(muxd_json_at(root, 1), &s, NULL));
    assert_false(muxd_json_bool(muxd_json_at(root, 1), &b));
    assert_false(muxd_json_int(muxd_json_at(root, 2), &i));
    assert_false(muxd_json_bool(muxd_json_at(root, 3), &b));
    assert_false(muxd_json_string(muxd_json_at(root, 3), &s, NULL));
    assert_false(muxd_json_int(muxd_json_at(root, 4), &i));
    assert_false(muxd_json_string(NULL, &s, NULL));
    assert_string_equal(s, "kept");
    assert_int_equal(i, 7);
    assert_true(d == 7);
    assert_false(b);
    muxd_json_free(doc);
}

/* As Go's decoder: the last of duplicate keys wins; all stay in order. */
static void test_read_duplicate_keys_last_wins(void **state) {
    (void)state;
    muxd_json_t *doc = parse("{\"a\":1,\"b\":2,\"a\":3}");
    const muxd_json_value_t *root = muxd_json_root(doc);
    int64_t n = 0;
    assert_true(muxd_json_int(muxd_json_get(root, "a"), &n));
    assert_int_equal(n, 3);
    assert_int_equal(muxd_json_len(root), 3);
    assert_string_equal(muxd_json_key_at(root, 2, NULL), "a");
    assert_true(muxd_json_int(muxd_json_at(root, 0), &n));
    assert_int_equal(n, 1);
    muxd_json_free(doc);
}

/* Go 1.19 matches struct fields case-insensitively, with U+017F for s and
 * U+212A for k: checked against its encoding/json. */
static void test_read_get_fold_as_go(void **state) {
    (void)state;
    muxd_json_t *doc =
        parse("{\"NAME\":\"x\",\"name\":\"y\",\"Name\":\"z\","
              "\"\xc5\xbftream\":\"up\",\"\xe2\x84\xaaind\":\"k\","
              "\"names\":\"no\",\"nam\":\"no\"}");
    const muxd_json_value_t *root = muxd_json_root(doc);
    assert_json_string(muxd_json_get_fold(root, "name"), "z", 1);
    assert_json_string(muxd_json_get(root, "name"), "y", 1);
    assert_json_string(muxd_json_get_fold(root, "STREAM"), "up", 2);
    assert_null(muxd_json_get(root, "stream"));
    assert_json_string(muxd_json_get_fold(root, "kind"), "k", 1);
    assert_null(muxd_json_get_fold(root, "nam_"));
    assert_null(muxd_json_get_fold(root, "listen"));
    assert_null(muxd_json_get_fold(muxd_json_at(root, 0), "name"));
    muxd_json_free(doc);
}

static void test_read_escapes(void **state) {
    (void)state;
    muxd_json_t *doc = parse(
        "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\", \"caf\\u00e9 \\u00E9\", "
        "\"\\u20ac\", \"\\ud83d\\ude00\", \"a\\u0000b\", \"\\uDBFF\\uDFFF\", "
        "\"raw \xc3\xa9 \xf0\x9f\x98\x80 \x7f\", \"\"]");
    const muxd_json_value_t *root = muxd_json_root(doc);
    assert_json_string(muxd_json_at(root, 0), "\"\\/\b\f\n\r\t", 8);
    assert_json_string(muxd_json_at(root, 1), "caf\xc3\xa9 \xc3\xa9", 8);
    assert_json_string(muxd_json_at(root, 2), "\xe2\x82\xac", 3);
    assert_json_string(muxd_json_at(root, 3), "\xf0\x9f\x98\x80", 4);
    assert_json_string(muxd_json_at(root, 4), "a\0b", 3);
    assert_json_string(muxd_json_at(root, 5), "\xf4\x8f\xbf\xbf", 4);
    assert_json_string(muxd_json_at(root, 6),
                       "raw \xc3\xa9 \xf0\x9f\x98\x80 \x7f", 13);
    assert_json_string(muxd_json_at(root, 7), "", 0);
    muxd_json_free(doc);
}

/* The int64 read of `text`, or false. */
static bool int_of(const char *text, int64_t *out) {
    muxd_json_t *doc = parse(text);
    bool ok = muxd_json_int(muxd_json_root(doc), out);
    muxd_json_free(doc);
    return ok;
}

static bool number_of(const char *text, double *out) {
    muxd_json_t *doc = parse(text);
    bool ok = muxd_json_number(muxd_json_root(doc), out);
    muxd_json_free(doc);
    return ok;
}

/* Integers as Go reads them into an int64: digits only, in range. */
static void test_read_integers(void **state) {
    (void)state;
    int64_t n = 1;
    assert_true(int_of("0", &n) && n == 0);
    assert_true(int_of("-0", &n) && n == 0);
    assert_true(int_of("42", &n) && n == 42);
    assert_true(int_of("-17", &n) && n == -17);
    assert_true(int_of("9223372036854775807", &n) && n == INT64_MAX);
    assert_true(int_of("-9223372036854775808", &n) && n == INT64_MIN);
    n = 5;
    assert_false(int_of("9223372036854775808", &n));
    assert_false(int_of("-9223372036854775809", &n));
    assert_false(int_of("100000000000000000000000", &n));
    assert_false(int_of("1e3", &n));
    assert_false(int_of("1000.0", &n));
    assert_false(int_of("1.5", &n));
    assert_int_equal(n, 5);
}

static void test_read_floats(void **state) {
    (void)state;
    double d = 1;
    assert_true(number_of("0.5", &d) && d == 0.5);
    assert_true(number_of("-2.25", &d) && d == -2.25);
    assert_true(number_of("1e3", &d) && d == 1000);
    assert_true(number_of("1E+2", &d) && d == 100);
    assert_true(number_of("25e-1", &d) && d == 2.5);
    assert_true(number_of("9223372036854775808", &d) &&
                d == 9223372036854775808.0);
    assert_true(number_of("7", &d) && d == 7);
    assert_true(number_of("1e-400", &d) && d == 0); /* Go: 0, no error */
    d = 3;
    assert_false(number_of("1e400", &d)); /* Go: an error */
    assert_false(number_of("-1e400", &d));
    assert_true(d == 3);
}

static void test_read_syntax_errors(void **state) {
    (void)state;
    parse_fails("", "at byte 0: expected a value, got the end of the input");
    parse_fails(" \n\t",
                "at byte 3: expected a value, got the end of the input");
    parse_fails("{\"a\" 1}",
                "at byte 5: expected ':' after an object key, got '1'");
    parse_fails("{\"a\":1,}",
                "at byte 7: expected '\"' to start an object key, got '}'");
    parse_fails("{1:2}",
                "at byte 1: expected '\"' to start an object key, got '1'");
    parse_fails("{\"a\":1 \"b\":2}", "at byte 7: expected ',' or '}' after "
                                     "an object member, got '\"'");
    parse_fails("{\"a\":1]", "at byte 6: expected ',' or '}' after an object "
                             "member, got ']'");
    parse_fails("[1,2", "at byte 4: expected ',' or ']' after an array "
                        "element, got the end of the input");
    parse_fails("[1,]", "at byte 3: expected a value, got ']'");
    parse_fails("[,]", "at byte 1: expected a value, got ','");
    parse_fails("{\"a\":}", "at byte 5: expected a value, got '}'");
    parse_fails("tru", "at byte 0: expected 'true'");
    parse_fails("[nul]", "at byte 1: expected 'null'");
    parse_fails("True", "at byte 0: expected a value, got 'T'");
    parse_fails("'a'", "at byte 0: expected a value, got byte 0x27");
    parse_fails("\x01", "at byte 0: expected a value, got byte 0x01");
    parse_fails("\xef\xbb\xbf{}", "at byte 0: expected a value, got byte 0xef");
}

static void test_read_trailing_garbage(void **state) {
    (void)state;
    parse_fails("[1] x", "at byte 4: unexpected 'x' after the document");
    parse_fails("{} {}", "at byte 3: unexpected '{' after the document");
    parse_fails("1 2", "at byte 2: unexpected '2' after the document");
    parse_fails("[1]]", "at byte 3: unexpected ']' after the document");
    parse_fails("\"a\"\"b\"", "at byte 3: unexpected '\"' after the document");
    parse_fails_max("[1]\0", 4, 10,
                    "at byte 3: unexpected byte 0x00 after the document");
    /* Only `len` bytes are read: what follows them does not count. */
    muxd_json_t *doc = parse_max("[1]garbage", 3, 10);
    assert_int_equal(muxd_json_len(muxd_json_root(doc)), 1);
    muxd_json_free(doc);
}

static void test_read_number_errors(void **state) {
    (void)state;
    parse_fails("01", "at byte 0: leading zero in a number");
    parse_fails("[-01]", "at byte 2: leading zero in a number");
    parse_fails("00", "at byte 0: leading zero in a number");
    parse_fails("-", "at byte 1: expected a digit after '-'");
    parse_fails("-Infinity", "at byte 1: expected a digit after '-'");
    parse_fails("1.", "at byte 2: expected a digit after '.'");
    parse_fails("1.e3", "at byte 2: expected a digit after '.'");
    parse_fails("1e", "at byte 2: expected a digit in the exponent");
    parse_fails("1e+", "at byte 3: expected a digit in the exponent");
    parse_fails(".5", "at byte 0: expected a value, got '.'");
    parse_fails("+1", "at byte 0: expected a value, got '+'");
    parse_fails("NaN", "at byte 0: expected a value, got 'N'");
    parse_fails("Infinity", "at byte 0: expected a value, got 'I'");
    parse_fails("0x10", "at byte 1: unexpected 'x' after the document");
}

static void test_read_string_errors(void **state) {
    (void)state;
    parse_fails("\"abc", "at byte 4: the input ends inside the string at "
                         "byte 0");
    parse_fails("{\"a\":\"b\\\"}", "at byte 10: the input ends inside the "
                                   "string at byte 5");
    parse_fails("\"a\nb\"", "at byte 2: control character 0x0a in a string");
    parse_fails("\"\t\"", "at byte 1: control character 0x09 in a string");
    parse_fails_max("\"\0\"", 3, 10,
                    "at byte 1: control character 0x00 in a string");
    parse_fails("\"\\x\"", "at byte 1: invalid escape: '\\' then 'x'");
    parse_fails("\"\\", "at byte 1: invalid escape: '\\' then the end of the "
                        "input");
    parse_fails("\"\\u12\"", "at byte 1: expected 4 hex digits after \\u");
    parse_fails("\"\\u12g4\"", "at byte 1: expected 4 hex digits after \\u");
    parse_fails("\"\\ud800\"", "at byte 1: lone high surrogate \\ud800");
    parse_fails("\"ab\\uDBFF\\u0041\"", "at byte 3: lone high surrogate "
                                        "\\udbff");
    parse_fails("\"\\ud800\\ud800\"", "at byte 1: lone high surrogate \\ud800");
    parse_fails("\"\\udc00\"", "at byte 1: lone low surrogate \\udc00");
    parse_fails("\"\\ude00\\ud83d\"", "at byte 1: lone low surrogate \\ude00");
    const char *bad_utf8[] = {
        "\"\xff\"",             /* never valid */
        "\"\x80\"",             /* a stray continuation byte */
        "\"\xc0\xaf\"",         /* overlong '/' */
        "\"\xed\xa0\x80\"",     /* a surrogate, U+D800 */
        "\"\xf4\x90\x80\x80\"", /* beyond U+10FFFF */
        "\"\xe2\x82\"",         /* cut short */
        "\"\xc3\x41\"",         /* cut short by an 'A' */
    };
    for (size_t i = 0; i < sizeof(bad_utf8) / sizeof(*bad_utf8); i++)
        parse_fails(bad_utf8[i], "at byte 1: invalid UTF-8 in a string");
}

/* `n` nested arrays (or objects) around a 1. */
static void nested(char *buf, size_t n, bool objects) {
    char *o = buf;
    for (size_t i = 0; i < n; i++)
        o += sprintf(o, "%s", objects ? "{\"k\":" : "[");
    *o++ = '1';
    for (size_t i = 0; i < n; i++)
        *o++ = objects ? '}' : ']';
    *o = '\0';
}

static void test_read_depth_bound(void **state) {
    (void)state;
    char buf[512];
    for (int objects = 0; objects <= 1; objects++) {
        nested(buf, MUXD_JSON_DEPTH_MAX, objects);
        muxd_json_t *doc = parse(buf);
        const muxd_json_value_t *v = muxd_json_root(doc);
        for (int i = 0; i < MUXD_JSON_DEPTH_MAX; i++)
            v = muxd_json_at(v, 0);
        assert_int_equal(muxd_json_type_of(v), MUXD_JSON_NUMBER);
        muxd_json_free(doc);
    }
    nested(buf, MUXD_JSON_DEPTH_MAX + 1, false);
    parse_fails(buf, "at byte 32: nested deeper than 32");
    nested(buf, MUXD_JSON_DEPTH_MAX + 1, true);
    parse_fails(buf, "at byte 160: nested deeper than 32");
    /* Far deeper input fails as fast, at the same place. */
    static char deep[100000];
    memset(deep, '[', sizeof(deep));
    parse_fails_max(deep, sizeof(deep), 1000,
                    "at byte 32: nested deeper than 32");
}

/* max_values counts every value and every key. */
static void test_read_values_bound(void **state) {
    (void)state;
    muxd_json_free(parse_max("[1,2,3]", 7, 4));
    parse_fails_max("[1,2,3]", 7, 3,
                    "at byte 5: too many values (the limit is 3)");
    muxd_json_free(parse_max("{\"a\":1}", 7, 3));
    parse_fails_max("{\"a\":1}", 7, 2,
                    "at byte 5: too many values (the limit is 2)");
    parse_fails_max("{\"a\":1}", 7, 1,
                    "at byte 1: too many values (the limit is 1)");
    parse_fails_max("1", 1, 0, "at byte 0: too many values (the limit is 0)");
}

static void test_read_error_buffer(void **state) {
    (void)state;
    char err[12];
    memset(err, '#', sizeof(err));
    assert_null(muxd_json_parse("[", 1, 10, err, sizeof(err)));
    assert_string_equal(err, "at byte 1: ");
    assert_null(muxd_json_parse("[", 1, 10, NULL, 0));
    assert_null(muxd_json_parse(NULL, 0, 10, err, 1));
    assert_string_equal(err, "");
}

/* Large documents parse: a long string, many elements. */
static void test_read_large(void **state) {
    (void)state;
    size_t n = 100000;
    char *text = malloc(4 * n + 2);
    assert_non_null(text);
    text[0] = '[';
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(text + len, i + 1 < n ? "%zu," : "%zu]", i % 10);
    muxd_json_t *doc = parse_max(text, len, n + 1);
    const muxd_json_value_t *root = muxd_json_root(doc);
    assert_int_equal(muxd_json_len(root), n);
    int64_t last = 0;
    assert_true(muxd_json_int(muxd_json_at(root, n - 1), &last));
    assert_int_equal(last, (int64_t)((n - 1) % 10));
    muxd_json_free(doc);
    memset(text, 'x', 4 * n + 2);
    text[0] = '"';
    text[4 * n + 1] = '"';
    doc = parse_max(text, 4 * n + 2, 1);
    const char *s;
    size_t slen;
    assert_true(muxd_json_string(muxd_json_root(doc), &s, &slen));
    assert_int_equal(slen, 4 * n);
    muxd_json_free(doc);
    free(text);
}

/* Code point cp as UTF-8 at *o, advancing it. */
static void put_code_point(char **o, unsigned cp) {
    size_t n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    static const unsigned lead[] = {0, 0, 0xc0, 0xe0, 0xf0};
    for (size_t i = n - 1; i > 0; i--)
        (*o)[i] = (char)(0x80 | (cp >> (6 * (n - 1 - i)) & 0x3f));
    (*o)[0] = (char)(n == 1 ? cp : lead[n] | cp >> (6 * (n - 1)));
    *o += n;
}

/* `len` bytes through muxd_json_escape(), quoted, and parsed back: the
 * same bytes (they must be valid UTF-8: the escaper replaces the rest). */
static void assert_round_trip(const char *in, size_t len) {
    size_t size = 6 * len + 4;
    char *quoted = malloc(size + 2);
    assert_non_null(quoted);
    quoted[0] = '"';
    muxd_json_escape(in, len, quoted + 1, size);
    size_t n = strlen(quoted);
    quoted[n] = '"';
    muxd_json_t *doc = parse_max(quoted, n + 1, 1);
    assert_json_string(muxd_json_root(doc), in, len);
    muxd_json_free(doc);
    free(quoted);
}

static void test_read_escaper_round_trip(void **state) {
    (void)state;
    const char text[] = "caf\xc3\xa9 \x01\x1b[0m \"q\" \\ \n\r\t\b\f\x7f "
                        "\xc2\x85 \xe2\x80\xa8\xe2\x80\xa9 \xf0\x9f\x98\x80"
                        " \0 end";
    assert_round_trip(text, sizeof(text) - 1);
    /* Every code point but the surrogates, 4096 to a string. */
    char buf[4096 * 4];
    size_t len = 0;
    for (unsigned cp = 0; cp <= 0x10ffff; cp++) {
        if (cp >= 0xd800 && cp <= 0xdfff)
            continue;
        char *o = buf + len;
        put_code_point(&o, cp);
        len = (size_t)(o - buf);
        if (len > sizeof(buf) - 4 || cp == 0x10ffff) {
            assert_round_trip(buf, len);
            len = 0;
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_printable_ascii_unchanged),
        cmocka_unit_test(test_short_escapes),
        cmocka_unit_test(test_control_bytes_as_u00xx),
        cmocka_unit_test(test_valid_utf8_kept),
        cmocka_unit_test(test_c1_and_line_separators_escaped),
        cmocka_unit_test(test_invalid_utf8_replaced),
        cmocka_unit_test(test_long_input_cut_with_dots),
        cmocka_unit_test(test_every_byte_pair_is_safe),
        cmocka_unit_test(test_read_proxy),
        cmocka_unit_test(test_read_populate_array),
        cmocka_unit_test(test_read_toxic),
        cmocka_unit_test(test_read_members_in_order),
        cmocka_unit_test(test_read_scalar_documents),
        cmocka_unit_test(test_read_type_mismatch),
        cmocka_unit_test(test_read_duplicate_keys_last_wins),
        cmocka_unit_test(test_read_get_fold_as_go),
        cmocka_unit_test(test_read_escapes),
        cmocka_unit_test(test_read_integers),
        cmocka_unit_test(test_read_floats),
        cmocka_unit_test(test_read_syntax_errors),
        cmocka_unit_test(test_read_trailing_garbage),
        cmocka_unit_test(test_read_number_errors),
        cmocka_unit_test(test_read_string_errors),
        cmocka_unit_test(test_read_depth_bound),
        cmocka_unit_test(test_read_values_bound),
        cmocka_unit_test(test_read_error_buffer),
        cmocka_unit_test(test_read_large),
        cmocka_unit_test(test_read_escaper_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
