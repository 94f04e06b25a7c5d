/*
 * fuzz_control.c -- libFuzzer harness for the control socket's command
 * parser (src/muxd/control_cmd.c), with fake actions; `fault add` runs
 * the real spec check of src/muxd/faults.c.
 *
 * Input: any bytes, cut at each LF into lines, each run as a command;
 * then the whole input once more as one line, its LFs inside it (a
 * client cannot send that, but a line must never be more than one
 * command however it was cut), and each line again with a CR, LF and NUL
 * put in where its first blank was (a word that carried a line break).
 *
 * Checks, for every line:
 *  - exactly one reply, a JSON object: it starts with '{', ends with '}',
 *    holds no byte below 0x20 (so no line end) and balanced quotes;
 *  - a reply is an error ({"ok":false,"error":"...") exactly when no
 *    action ran, and at most one action runs;
 *  - an id handed to an action is at least 1; a spec is NUL-free and at
 *    most a line long;
 *  - a line that holds a NUL, an LF, or a CR anywhere but at its end is
 *    an error: no action runs.
 */
#define _POSIX_C_SOURCE 200809L

#include "fuzz_util.h"

#include "control_cmd.h"
#include "faults.h"

static int actions;

static void fake_stats(void *arg, muxd_reply_t *r) {
    (void)arg;
    actions++;
    muxd_reply_add(r, "{\"clients\":0}");
}
static void fake_clients(void *arg, muxd_reply_t *r) {
    (void)arg;
    actions++;
    muxd_reply_add(r, "{\"clients\":[{\"peer\":");
    muxd_reply_string(r, "\x01\xff\"\\", 4);
    muxd_reply_add(r, "}]}");
}
static void fake_fault_add(void *arg, const char *spec, muxd_reply_t *r) {
    (void)arg;
    actions++;
    CHECK(strlen(spec) <= MUXD_CONTROL_LINE_MAX);
    char err[MUXD_FAULT_SPEC_MAX + 128];
    if (muxd_fault_check(spec, err, sizeof(err)))
        muxd_reply_add(r, "{\"ok\":true,\"id\":1}");
    else /* an action that ran: not the parser's error */
        muxd_reply_add(r, "{\"ok\":true,\"rejected\":true}");
}
static void fake_fault_list(void *arg, muxd_reply_t *r) {
    (void)arg;
    actions++;
    muxd_reply_add(r, "{\"faults\":[]}");
}
static void fake_id(void *arg, uint64_t id, muxd_reply_t *r) {
    (void)arg;
    actions++;
    CHECK(id >= 1);
    muxd_reply_ok(r);
}
static void fake_plain(void *arg, muxd_reply_t *r) {
    (void)arg;
    actions++;
    muxd_reply_ok(r);
}
static void fake_flag(void *arg, bool on, muxd_reply_t *r) {
    (void)arg;
    (void)on;
    actions++;
    muxd_reply_ok(r);
}

static const muxd_control_ops_t ops = {.stats = fake_stats,
                                       .clients = fake_clients,
                                       .fault_add = fake_fault_add,
                                       .fault_list = fake_fault_list,
                                       .fault_del = fake_id,
                                       .fault_clear = fake_plain,
                                       .kick = fake_id,
                                       .pause = fake_flag,
                                       .refuse = fake_flag,
                                       .shutdown = fake_plain};

/* One JSON object on one line, strings well delimited. */
static void check_reply(const muxd_reply_t *r) {
    CHECK(!r->failed && r->data && r->len >= 2 && strlen(r->data) == r->len);
    CHECK(r->data[0] == '{' && r->data[r->len - 1] == '}');
    bool in_string = false;
    for (size_t i = 0; i < r->len; i++) {
        unsigned char c = (unsigned char)r->data[i];
        CHECK(c >= 0x20);
        if (in_string && c == '\\')
            i++;
        else if (c == '"')
            in_string = !in_string;
    }
    CHECK(!in_string);
}

/* Whether the line holds a NUL, an LF, or a CR before its last byte:
 * what must never run. */
static bool breaks_inside(const char *line, size_t len) {
    size_t body = len > 0 && line[len - 1] == '\r' ? len - 1 : len;
    return memchr(line, '\0', len) || memchr(line, '\n', len) ||
           memchr(line, '\r', body);
}

/* Runs one line and checks its reply. */
static void run_line(muxd_reply_t *reply, const char *line, size_t len) {
    actions = 0;
    muxd_reply_reset(reply);
    muxd_control_command(line, len, &ops, NULL, reply);
    check_reply(reply);
    bool error = strncmp(reply->data, "{\"ok\":false,\"error\":\"", 21) == 0;
    CHECK(actions <= 1);
    CHECK(error == (actions == 0));
    if (breaks_inside(line, len))
        CHECK(error);
}

/* The line with its first blank (or its end) replaced by `c`. */
static void run_with_break(muxd_reply_t *reply, const char *line, size_t len,
                           char c) {
    static char copy[MUXD_CONTROL_LINE_MAX + 2];
    if (len >= sizeof(copy))
        return;
    memcpy(copy, line, len);
    const char *blank = memchr(line, ' ', len);
    size_t at = blank ? (size_t)(blank - line) : len;
    copy[at] = c;
    run_line(reply, copy, at < len ? len : len + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    muxd_reply_t reply = {0};
    const char *p = (const char *)data, *end = p + size;
    while (p <= end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        run_line(&reply, p, len);
        run_with_break(&reply, p, len, '\n');
        run_with_break(&reply, p, len, '\0');
        if (len > 0 && memchr(p, ' ', len)) /* a CR at the end is a line end */
            run_with_break(&reply, p, len, '\r');
        if (!nl)
            break;
        p = nl + 1;
    }
    run_line(&reply, (const char *)data, size);
    muxd_reply_free(&reply);
    return 0;
}
