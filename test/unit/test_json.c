/*
 * test_json.c -- muxd_json_escape() (src/muxd/json.c): whatever bytes come
 * in, what goes out is the inside of a valid JSON string, valid UTF-8, and
 * free of raw control characters; long input is cut with "...".
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "json.h"

#include <stdbool.h>
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
