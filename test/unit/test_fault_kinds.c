/*
 * test_fault_kinds.c -- the fault kinds' registry (src/muxd/faults/):
 * every row well formed, and every kind where a user looks for it: in
 * --help, in the "unknown kind" message and in docs/faults.md's table.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "faults.h"
#include "faults/kind.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A kind's head in --help and in a spec: name, or name=VALUE. */
static void head_of(const muxd_fault_kind_t *kind, char *buf, size_t size) {
    snprintf(buf, size, "%s%s%s", kind->name, kind->value ? "=" : "",
             kind->value ? kind->value : "");
}

static void test_rows_well_formed(void **state) {
    (void)state;
    assert_true(muxd_fault_nkinds > 0);
    for (size_t k = 0; k < muxd_fault_nkinds; k++) {
        const muxd_fault_kind_t *kind = muxd_fault_kinds[k];
        assert_non_null(kind->name);
        assert_true(kind->name[0] != '\0');
        assert_null(strpbrk(kind->name, "=, "));
        for (size_t j = 0; j < k; j++)
            assert_string_not_equal(kind->name, muxd_fault_kinds[j]->name);
        assert_non_null(kind->usage[0]);
        if (kind->value) /* a parser of its own, or a one-number table */
            assert_true(kind->parse || kind->param.why);
        assert_true(!kind->key == !kind->parse_key);
        assert_true(kind->apply || kind->server);
    }
}

/* A kind with a value asks for it; one without refuses one. */
static void test_value_or_none(void **state) {
    (void)state;
    char err[256], spec[64];
    for (size_t k = 0; k < muxd_fault_nkinds; k++) {
        const muxd_fault_kind_t *kind = muxd_fault_kinds[k];
        snprintf(spec, sizeof(spec), "%s%s", kind->name,
                 kind->value ? "" : "=1");
        assert_false(muxd_fault_check(spec, err, sizeof(err)));
        assert_non_null(
            strstr(err, kind->value ? "needs a value" : "takes no value"));
    }
}

static void test_every_kind_in_help(void **state) {
    (void)state;
    char *help = NULL, head[64], line[256];
    size_t len = 0;
    FILE *out = open_memstream(&help, &len);
    assert_non_null(out);
    muxd_fault_usage(out);
    assert_int_equal(fclose(out), 0);
    for (size_t k = 0; k < muxd_fault_nkinds; k++) {
        head_of(muxd_fault_kinds[k], head, sizeof(head));
        if (strlen(head) < 18)
            snprintf(line, sizeof(line), "\n%26s%-18s%s\n", "", head,
                     muxd_fault_kinds[k]->usage[0]);
        else /* its usage on the next line */
            snprintf(line, sizeof(line), "\n%26s%s\n%44s%s\n", "", head, "",
                     muxd_fault_kinds[k]->usage[0]);
        assert_non_null(strstr(help, line));
    }
    free(help);
}

static void test_every_kind_in_unknown(void **state) {
    (void)state;
    char err[512];
    assert_false(muxd_fault_check("nope", err, sizeof(err)));
    for (size_t k = 0; k < muxd_fault_nkinds; k++)
        assert_non_null(strstr(err, muxd_fault_kinds[k]->name));
}

/* A bad key's message names every kind's own key, with its kind. */
static void test_every_key_in_unknown_key(void **state) {
    (void)state;
    char err[512], with[64];
    assert_false(muxd_fault_check("stall,nope=1", err, sizeof(err)));
    for (size_t k = 0; k < muxd_fault_nkinds; k++) {
        const muxd_fault_kind_t *kind = muxd_fault_kinds[k];
        if (!kind->key)
            continue;
        snprintf(with, sizeof(with), "%s with %s", kind->key, kind->name);
        assert_non_null(strstr(err, with));
    }
}

/* docs/faults.md, whole. */
static char *read_doc(void) {
    FILE *f = fopen(MUX_SOURCE_DIR "/docs/faults.md", "r");
    assert_non_null(f);
    static char text[1 << 17];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    assert_int_equal(fclose(f), 0);
    text[n] = '\0';
    return text;
}

static void test_every_kind_in_docs(void **state) {
    (void)state;
    const char *doc = read_doc();
    char head[64], row[80];
    for (size_t k = 0; k < muxd_fault_nkinds; k++) {
        head_of(muxd_fault_kinds[k], head, sizeof(head));
        snprintf(row, sizeof(row), "\n| `%s`", head);
        assert_non_null(strstr(doc, row));
    }
}

/* Whether `name` is a whole word of text[0..len). */
static bool has_word(const char *text, size_t len, const char *name) {
    size_t n = strlen(name);
    for (const char *p = text; p + n <= text + len; p++)
        if (!strncmp(p, name, n) &&
            (p == text || p[-1] == ' ' || p[-1] == '\n') &&
            strchr(" ,\n;", p[n]))
            return true;
    return false;
}

/* The part of doc from `from` to `to`: its start, its length in *len. */
static const char *between(const char *doc, const char *from, const char *to,
                           size_t *len) {
    const char *a = strstr(doc, from);
    assert_non_null(a);
    const char *b = strstr(a, to);
    assert_non_null(b);
    *len = (size_t)(b - a);
    return a;
}

/* faults.md says which kinds reach open connections, as reaches_open. */
static void test_reaches_open_as_docs(void **state) {
    (void)state;
    const char *doc = read_doc();
    size_t nopen, nnew;
    const char *open =
        between(doc, "already connected for", "(not with", &nopen);
    const char *new = between(open, "only);", "apply to new", &nnew);
    for (size_t k = 0; k < muxd_fault_nkinds; k++) {
        const muxd_fault_kind_t *kind = muxd_fault_kinds[k];
        if (kind->where == MUXD_FAULT_AT_ACCEPT)
            continue; /* "to the next accept" */
        assert_true(has_word(open, nopen, kind->name) == kind->reaches_open);
        assert_true(has_word(new, nnew, kind->name) == !kind->reaches_open);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_well_formed),
        cmocka_unit_test(test_value_or_none),
        cmocka_unit_test(test_every_kind_in_help),
        cmocka_unit_test(test_every_kind_in_unknown),
        cmocka_unit_test(test_every_key_in_unknown_key),
        cmocka_unit_test(test_every_kind_in_docs),
        cmocka_unit_test(test_reaches_open_as_docs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
