/*
 * test_buf.c -- the growable byte buffer (src/lib/buf.c): append, consume,
 * compaction before growth, growth, large appends, free and reuse.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A byte that depends on its position, so that a shifted copy shows. */
static char pattern(size_t i) { return (char)((i * 7u + i / 251u) & 0xffu); }

static void fill(char *dst, size_t start, size_t len) {
    for (size_t i = 0; i < len; i++)
        dst[i] = pattern(start + i);
}

/* The unread bytes are pattern(start) .. pattern(start + len - 1). */
static void assert_holds(const mux_buf_t *buf, size_t start, size_t len) {
    assert_int_equal(buf->len, len);
    const char *head = mux__buf_head(buf);
    for (size_t i = 0; i < len; i++)
        if (head[i] != pattern(start + i))
            fail_msg("byte %zu differs", i);
}

static void test_append_empty(void **state) {
    (void)state;
    mux_buf_t buf = {0};
    assert_int_equal(mux__buf_append(&buf, NULL, 0), 0);
    assert_null(buf.data); /* nothing to store: nothing allocated */
    assert_int_equal(mux__buf_append(&buf, "hello", 5), 0);
    assert_non_null(buf.data);
    assert_int_equal(buf.off, 0);
    assert_int_equal(buf.len, 5);
    assert_true(buf.cap >= 5);
    assert_memory_equal(mux__buf_head(&buf), "hello", 5);
    assert_int_equal(mux__buf_append(&buf, " world", 6), 0);
    assert_int_equal(buf.len, 11);
    assert_memory_equal(mux__buf_head(&buf), "hello world", 11);
    mux__buf_free(&buf);
}

static void test_consume(void **state) {
    (void)state;
    mux_buf_t buf = {0};
    assert_int_equal(mux__buf_append(&buf, "abcdef", 6), 0);
    mux__buf_consume(&buf, 2);
    assert_int_equal(buf.off, 2);
    assert_int_equal(buf.len, 4);
    assert_memory_equal(mux__buf_head(&buf), "cdef", 4);
    mux__buf_consume(&buf, 0);
    assert_int_equal(buf.len, 4);
    mux__buf_consume(&buf, 4); /* emptied: the offset goes back to 0 */
    assert_int_equal(buf.off, 0);
    assert_int_equal(buf.len, 0);
    assert_int_equal(mux__buf_append(&buf, "xy", 2), 0);
    assert_int_equal(buf.off, 0);
    assert_memory_equal(mux__buf_head(&buf), "xy", 2);
    mux__buf_free(&buf);
}

/* Room freed at the front is reused before the storage grows. */
static void test_compaction(void **state) {
    (void)state;
    mux_buf_t buf = {0};
    char chunk[200];
    fill(chunk, 0, 200);
    assert_int_equal(mux__buf_append(&buf, chunk, 200), 0);
    size_t cap = buf.cap;
    char *data = buf.data;
    assert_true(150 + 50 + 100 > cap); /* the append cannot fit behind */
    mux__buf_consume(&buf, 150);
    char more[100];
    fill(more, 200, 100);
    assert_int_equal(mux__buf_append(&buf, more, 100), 0);
    assert_int_equal(buf.cap, cap); /* 50 + 100 fit: no growth */
    assert_ptr_equal(buf.data, data);
    assert_int_equal(buf.off, 0);
    assert_holds(&buf, 150, 150);
    mux__buf_free(&buf);
}

/* When compaction is not enough, the unread bytes survive growth. */
static void test_growth_keeps_unread(void **state) {
    (void)state;
    mux_buf_t buf = {0};
    char chunk[1000];
    fill(chunk, 0, 1000);
    assert_int_equal(mux__buf_append(&buf, chunk, 100), 0);
    mux__buf_consume(&buf, 40);
    assert_int_equal(buf.off, 40);
    fill(chunk, 100, 1000);
    assert_int_equal(mux__buf_append(&buf, chunk, 1000), 0);
    assert_true(buf.cap >= 1060);
    assert_holds(&buf, 40, 1060);
    /* Many small appends interleaved with consumes stay in order. */
    size_t next = 1100, first = 40;
    for (int round = 0; round < 500; round++) {
        fill(chunk, next, 37);
        assert_int_equal(mux__buf_append(&buf, chunk, 37), 0);
        next += 37;
        mux__buf_consume(&buf, 29);
        first += 29;
    }
    assert_holds(&buf, first, next - first);
    mux__buf_free(&buf);
}

static void test_large_append(void **state) {
    (void)state;
    const size_t size = 5u * 1024 * 1024 + 3;
    char *big = malloc(size);
    assert_non_null(big);
    fill(big, 0, size);
    mux_buf_t buf = {0};
    assert_int_equal(mux__buf_append(&buf, "x", 1), 0);
    mux__buf_consume(&buf, 1);
    assert_int_equal(mux__buf_append(&buf, big, size), 0);
    assert_true(buf.cap >= size);
    assert_memory_equal(mux__buf_head(&buf), big, size);
    mux__buf_consume(&buf, size - 10);
    assert_holds(&buf, size - 10, 10);
    free(big);
    mux__buf_free(&buf);
}

/* A length that cannot be stored fails cleanly and changes nothing. */
static void test_append_too_large(void **state) {
    (void)state;
    mux_buf_t buf = {0};
    assert_int_equal(mux__buf_append(&buf, "abc", 3), 0);
    char *data = buf.data;
    size_t cap = buf.cap;
    assert_int_equal(mux__buf_append(&buf, "abc", SIZE_MAX - 1), -ENOMEM);
    assert_int_equal(mux__buf_append(&buf, "abc", SIZE_MAX / 2), -ENOMEM);
    assert_ptr_equal(buf.data, data);
    assert_int_equal(buf.cap, cap);
    assert_int_equal(buf.len, 3);
    assert_memory_equal(mux__buf_head(&buf), "abc", 3);
    mux__buf_free(&buf);
}

static void test_free_and_reuse(void **state) {
    (void)state;
    mux_buf_t buf = {0};
    assert_int_equal(mux__buf_append(&buf, "abcdef", 6), 0);
    mux__buf_consume(&buf, 3);
    mux__buf_free(&buf);
    assert_null(buf.data);
    assert_int_equal(buf.off, 0);
    assert_int_equal(buf.len, 0);
    assert_int_equal(buf.cap, 0);
    mux__buf_free(&buf); /* twice is harmless */
    assert_int_equal(mux__buf_append(&buf, "again", 5), 0);
    assert_int_equal(buf.len, 5);
    assert_memory_equal(mux__buf_head(&buf), "again", 5);
    mux__buf_free(&buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_empty),
        cmocka_unit_test(test_consume),
        cmocka_unit_test(test_compaction),
        cmocka_unit_test(test_growth_keeps_unread),
        cmocka_unit_test(test_large_append),
        cmocka_unit_test(test_append_too_large),
        cmocka_unit_test(test_free_and_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
