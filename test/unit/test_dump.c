/*
 * test_dump.c -- --dump's files (src/muxd/dump.c): each a new file of its
 * own, mode 0600, never one already there nor where a link points; a
 * name that would not fit PATH_MAX is an error, never a name cut short.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dump.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static int make_dir(void **state) {
    (void)state;
    strcpy(dir, "/tmp/test_dump.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int open_dump(muxd_dump_conn_t *dump, const char *where, uint64_t id) {
    return muxd_dump_open(dump, where, "20261206T200817Z-42", 1 << 20, id,
                          "127.0.0.1:1", "127.0.0.1:2");
}

static void test_a_new_private_file_per_connection(void **state) {
    (void)state;
    mode_t old = umask(0);
    muxd_dump_conn_t dump;
    assert_int_equal(open_dump(&dump, dir, 7), 0);
    umask(old);
    muxd_dump_close(&dump, "done");
    char path[256];
    snprintf(path, sizeof(path), "%s/conn-20261206T200817Z-42-7.txt", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    /* The same name again: the file is kept, the dump refused. */
    assert_int_equal(open_dump(&dump, dir, 7), -EEXIST);
    struct stat again;
    assert_int_equal(stat(path, &again), 0);
    assert_int_equal(again.st_size, st.st_size);
}

static void test_a_link_is_not_followed(void **state) {
    (void)state;
    char victim[128], link[256];
    snprintf(victim, sizeof(victim), "%s/victim", dir);
    snprintf(link, sizeof(link), "%s/conn-20261206T200817Z-42-1.txt", dir);
    FILE *f = fopen(victim, "w");
    assert_non_null(f);
    fputs("precious\n", f);
    fclose(f);
    assert_int_equal(symlink(victim, link), 0);
    muxd_dump_conn_t dump;
    assert_int_equal(open_dump(&dump, dir, 1), -EEXIST);
    struct stat st;
    assert_int_equal(stat(victim, &st), 0);
    assert_int_equal(st.st_size, 9);
    /* A dangling link too: nothing is created where it points. */
    char gone[128];
    snprintf(gone, sizeof(gone), "%s/gone", dir);
    assert_int_equal(unlink(link), 0);
    assert_int_equal(symlink(gone, link), 0);
    assert_int_equal(open_dump(&dump, dir, 1), -EEXIST);
    assert_int_equal(stat(gone, &st), -1);
}

/* A directory whose conn-...-9.txt is PATH_MAX - 1 bytes long: conn 9
 * reaches open() (no such directory), conn 10 would not fit. */
static void test_a_name_past_path_max_is_an_error(void **state) {
    (void)state;
    const char *tail = "/conn-20261206T200817Z-42-9.txt";
    size_t dir_len = PATH_MAX - 1 - strlen(tail);
    char *where = malloc(dir_len + 1);
    assert_non_null(where);
    memset(where, 'd', dir_len);
    for (size_t i = 0; i < dir_len; i += 200) /* each name under NAME_MAX */
        where[i] = '/';
    where[dir_len] = '\0';
    muxd_dump_conn_t dump;
    assert_int_equal(open_dump(&dump, where, 9), -ENOENT);
    assert_int_equal(open_dump(&dump, where, 10), -ENAMETOOLONG);
    /* At start: a directory with no room for a name is refused. */
    assert_int_equal(muxd_dump_check(where), -ENAMETOOLONG);
    free(where);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_new_private_file_per_connection),
        cmocka_unit_test(test_a_link_is_not_followed),
        cmocka_unit_test(test_a_name_past_path_max_is_an_error),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
