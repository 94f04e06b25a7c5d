/*
 * test_escape.c -- text_escape() (src/common/escape.c): what reaches a terminal
 * from the network is printable ASCII, and long input is cut with "...".
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "escape.h"

#include <string.h>

/* Escapes `len` bytes of `in` into a buffer of `size` bytes. */
static const char *esc(const char *in, size_t len, size_t size) {
    static char out[1024];
    assert_true(size <= sizeof(out));
    memset(out, '#', sizeof(out));
    char *ret = text_escape(in, len, out, size);
    assert_ptr_equal(ret, out);
    if (size > 0)
        assert_true(strlen(out) < size);
    return out;
}

static void test_printable_unchanged(void **state) {
    (void)state;
    const char *text = "Hello, client! ~ {[(<>)]} 0123456789 'single'";
    assert_string_equal(esc(text, strlen(text), 256), text);
    assert_string_equal(esc("", 0, 16), "");
    assert_string_equal(esc("abc", 2, 16), "ab"); /* only len bytes */
}

static void test_named_escapes(void **state) {
    (void)state;
    assert_string_equal(esc("a\nb\rc\td", 7, 64), "a\\nb\\rc\\td");
    assert_string_equal(esc("say \"hi\"", 8, 64), "say \\\"hi\\\"");
    assert_string_equal(esc("C:\\dir", 6, 64), "C:\\\\dir");
}

static void test_control_bytes(void **state) {
    (void)state;
    assert_string_equal(esc("\x01\x1b[31m\x7f", 7, 64), "\\x01\\x1b[31m\\x7f");
    /* A NUL byte in the middle is escaped, not a terminator. */
    assert_string_equal(esc("a\0b", 3, 64), "a\\x00b");
    assert_string_equal(esc("\x1f\x20", 2, 64), "\\x1f ");
    assert_string_equal(esc("\b\f\v\a", 4, 64), "\\x08\\x0c\\x0b\\x07");
}

static void test_high_bytes(void **state) {
    (void)state;
    assert_string_equal(esc("\x80\xff\xc3\xa9", 4, 64), "\\x80\\xff\\xc3\\xa9");
}

/* Every byte value comes out as printable ASCII. */
static void test_all_bytes_printable(void **state) {
    (void)state;
    char in[256];
    for (int i = 0; i < 256; i++)
        in[i] = (char)i;
    const char *out = esc(in, sizeof(in), 1024);
    for (const char *p = out; *p; p++)
        assert_true(*p >= 0x20 && *p <= 0x7e);
    /* 95 printable bytes, 2 of them escaped (\\ and \"), 3 named ones
     * (\n \r \t), 158 as \xNN. */
    assert_int_equal(strlen(out), 93 + 2 * 2 + 3 * 2 + 158 * 4);
}

static void test_truncation(void **state) {
    (void)state;
    const char *text = "abcdefghijklmnopqrstuvwxyz";
    assert_string_equal(esc(text, 26, 16), "abcdefghijkl...");
    /* An escape sequence is never cut in half. */
    assert_string_equal(esc("\x01\x02\x03\x04\x05", 5, 16),
                        "\\x01\\x02\\x03...");
    assert_string_equal(esc("ab\ncd\ref", 8, 10), "ab\\ncd...");
}

/* Input whose escaped form fits exactly is not cut. */
static void test_exact_fit(void **state) {
    (void)state;
    assert_string_equal(esc("abcdefg", 7, 8), "abcdefg");
    assert_string_equal(esc("abcdefgh", 8, 8), "abcd...");
    assert_string_equal(esc("\x01\x02", 2, 9), "\\x01\\x02");
    assert_string_equal(esc("\x01\x02", 2, 8), "\\x01...");
}

static void test_tiny_output(void **state) {
    (void)state;
    assert_string_equal(esc("abc", 3, 4), "abc");
    assert_string_equal(esc("abcd", 4, 4), "...");
    assert_string_equal(esc("\n", 1, 4), "\\n");
    assert_string_equal(esc("abc", 3, 1), "");
    char out[4] = "xyz";
    text_escape("abc", 3, out, 0); /* no room at all: nothing written */
    assert_string_equal(out, "xyz");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_printable_unchanged),
        cmocka_unit_test(test_named_escapes),
        cmocka_unit_test(test_control_bytes),
        cmocka_unit_test(test_high_bytes),
        cmocka_unit_test(test_all_bytes_printable),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_exact_fit),
        cmocka_unit_test(test_tiny_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
