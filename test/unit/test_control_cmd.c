/*
 * test_control_cmd.c -- the control socket's command table: muxd's rows
 * well formed (src/muxd/control.c), and the parser (control_cmd.c)
 * driven by any table: a new row is a new command, its usage, arity and
 * place in "unknown command (known: ...)" built from the row.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "control.h"
#include "control_cmd.h"

#include <string.h>

/* Exactly one run function; an argument exactly where one is taken. */
static void check_row(const muxd_control_cmd_t *c) {
    int runs = !!c->run + !!c->run_word + !!c->run_id + !!c->run_flag +
               !!c->run_id_word + !!c->run_words;
    assert_int_equal(runs, 1);
    assert_true(!c->run || !c->arg);
    assert_true(!(c->run_word || c->run_id || c->run_id_word || c->run_words) ||
                c->arg);
    assert_true(!c->run_flag || !c->arg || strcmp(c->arg, "on|off") == 0);
    assert_true(!(c->run_id || c->run_id_word) == !c->what);
    /* Two arguments: two words in the usage. */
    assert_true(!c->run_id_word || strchr(c->arg, ' '));
    /* N words: N words in the usage. */
    if (c->run_words) {
        size_t words = 1;
        for (const char *p = c->arg; *p; p++)
            words += *p == ' ';
        assert_int_equal(words, c->nargs);
    }
}

static void test_muxd_rows_are_well_formed(void **state) {
    (void)state;
    size_t n = 0;
    for (const muxd_control_cmd_t *c = muxd_control_commands; c->name;
         c++, n++) {
        check_row(c);
        /* A first word's rows are next to each other, all with a sub. */
        for (const muxd_control_cmd_t *b = muxd_control_commands; b < c; b++)
            if (strcmp(b->name, c->name) == 0) {
                assert_string_equal(c[-1].name, c->name);
                assert_true(b->sub && c->sub && strcmp(b->sub, c->sub) != 0);
            }
    }
    assert_true(n >= 11);
}

static char said[64];

static void ping(void *target, muxd_reply_t *reply) {
    assert_string_equal(target, "target");
    strcpy(said, "pong");
    muxd_reply_ok(reply);
}

static void echo(void *target, const char *word, muxd_reply_t *reply) {
    (void)target;
    snprintf(said, sizeof(said), "%s", word);
    muxd_reply_ok(reply);
}

static void lamp(void *target, bool on, muxd_reply_t *reply) {
    (void)target;
    strcpy(said, on ? "lit" : "dark");
    muxd_reply_ok(reply);
}

static const muxd_control_cmd_t toy[] = {
    {.name = "ping", .run = ping},
    {.name = "say", .sub = "word", .arg = "WORD", .run_word = echo},
    {.name = "say", .sub = "hi", .run = ping},
    {.name = "lamp", .arg = "on|off", .run_flag = lamp},
    {0}};

/* Runs `line` on the toy table: the reply, and whether a row ran. */
static bool toy_run(const char *line, char *reply_text) {
    muxd_reply_t reply = {0};
    said[0] = '\0';
    bool ran = muxd_control_command(line, strlen(line), toy, "target", &reply);
    strcpy(reply_text, reply.data);
    muxd_reply_free(&reply);
    return ran;
}

static void test_a_row_is_a_command(void **state) {
    (void)state;
    char reply[512];
    for (const muxd_control_cmd_t *c = toy; c->name; c++)
        check_row(c);
    assert_true(toy_run("ping", reply));
    assert_string_equal(said, "pong");
    assert_true(toy_run("say word hello\r", reply));
    assert_string_equal(said, "hello");
    assert_string_equal(reply, "{\"ok\":true}");
    assert_true(toy_run("lamp off", reply));
    assert_string_equal(said, "dark");
    assert_false(toy_run("nope", reply));
    assert_string_equal(reply, "{\"ok\":false,\"error\":\"unknown command: "
                               "'nope' (known: ping, say, lamp)\"}");
    assert_false(toy_run("say", reply));
    assert_string_equal(reply, "{\"ok\":false,\"error\":\"usage: say word "
                               "WORD | say hi\"}");
    assert_false(toy_run("say word", reply));
    assert_string_equal(reply,
                        "{\"ok\":false,\"error\":\"usage: say word WORD\"}");
    assert_false(toy_run("lamp dim", reply));
    assert_string_equal(reply,
                        "{\"ok\":false,\"error\":\"usage: lamp on|off\"}");
    assert_string_equal(said, "");
}

static void test_usage_of_a_row(void **state) {
    (void)state;
    char buf[64];
    assert_string_equal(muxd_control_usage(&toy[1], buf, sizeof(buf)),
                        "say word WORD");
    assert_string_equal(muxd_control_usage(&toy[0], buf, sizeof(buf)), "ping");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_muxd_rows_are_well_formed),
        cmocka_unit_test(test_a_row_is_a_command),
        cmocka_unit_test(test_usage_of_a_row),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
