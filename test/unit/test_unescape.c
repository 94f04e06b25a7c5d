/*
 * test_unescape.c -- text_unescape() (src/common/escape.c), the decoder
 * muxd's --text and muxcat's -e share: each escape, bytes kept as given,
 * and where a bad escape is.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "escape.h"

#include <string.h>

/* Decodes `in` in a copy; returns the length, or -1 - the bad offset. */
static long decode(const char *in, char *out, size_t size) {
    assert_true(strlen(in) < size);
    strcpy(out, in);
    size_t len = 12345;
    if (text_unescape(out, &len) < 0)
        return -1 - (long)len;
    assert_int_equal(out[len], '\0');
    return (long)len;
}

static void test_plain_text_unchanged(void **state) {
    (void)state;
    char out[64];
    assert_int_equal(decode("Welcome!", out, sizeof(out)), 8);
    assert_string_equal(out, "Welcome!");
    assert_int_equal(decode("", out, sizeof(out)), 0);
}

static void test_each_escape(void **state) {
    (void)state;
    char out[64];
    assert_int_equal(decode("a\\nb\\rc\\td\\\\e", out, sizeof(out)), 9);
    assert_memory_equal(out, "a\nb\rc\td\\e", 9);
    assert_int_equal(decode("\\x41\\x7e\\xFf", out, sizeof(out)), 3);
    assert_memory_equal(out, "A~\xff", 3);
    assert_int_equal(decode("x\\0y\\x00z", out, sizeof(out)), 5);
    assert_memory_equal(out, "x\0y\0z", 5);
    /* An escaped backslash does not start another escape. */
    assert_int_equal(decode("\\\\n", out, sizeof(out)), 2);
    assert_memory_equal(out, "\\n", 2);
}

static void test_bad_escape_says_where(void **state) {
    (void)state;
    char out[64];
    assert_int_equal(decode("ok\\q", out, sizeof(out)), -1 - 2);
    assert_string_equal(out + 2, "\\q"); /* unchanged from there on */
    assert_int_equal(decode("\\n\\n\\x4", out, sizeof(out)), -1 - 4);
    assert_string_equal(out + 4, "\\x4");
    assert_int_equal(decode("\\xg0", out, sizeof(out)), -1);
    assert_int_equal(decode("trailing\\", out, sizeof(out)), -1 - 8);
    assert_int_equal(decode("\\a", out, sizeof(out)), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_text_unchanged),
        cmocka_unit_test(test_each_escape),
        cmocka_unit_test(test_bad_escape_says_where),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
