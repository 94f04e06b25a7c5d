/*
 * fuzz_control.c -- libFuzzer harness for the control socket's commands:
 * the parser (src/muxd/control_cmd.c) and muxd's own command table and
 * actions (src/muxd/control.c) on a fake target: a real server with one
 * client (a socketpair) and real faults, the callbacks only serve.c has
 * (faults changed, refusing, shutdown) faked and counted.
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
 *  - a line that ran no command got an error ({"ok":false,"error":"...");
 *    at most one of the target's callbacks is called;
 *  - a line that holds a NUL, an LF, or a CR anywhere but at its end is
 *    an error: no command runs.
 */
#define _POSIX_C_SOURCE 200809L

#include "fuzz_util.h"

#include "control.h"
#include "control_cmd.h"
#include "faults.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

static int calls; /* of the fake callbacks, per line */
static bool refusing;

static void fake_faults_changed(void *arg) {
    (void)arg;
    calls++;
}
static bool fake_refusing(void *arg) {
    (void)arg;
    return refusing;
}
static void fake_set_refusing(void *arg, bool on) {
    (void)arg;
    calls++;
    refusing = on;
}
static void fake_shutdown(void *arg, const char *why) {
    (void)arg;
    CHECK(strcmp(why, "control") == 0);
    calls++;
}

/* One proxy, "p", listening on one address; adding one fails, changing
 * and deleting one only count. */
static bool fake_proxy(void *arg, size_t slot, muxd_proxy_info_t *info) {
    (void)arg;
    *info = (muxd_proxy_info_t){.name = "p",
                                .upstream = "127.0.0.1:1",
                                .listen = "127.0.0.1:2",
                                .enabled = true,
                                .serial = 1};
    return slot == 0;
}
static long fake_proxy_add(void *arg, const muxd_proxy_spec_t *spec, char *err,
                           size_t size) {
    (void)arg;
    CHECK(spec->name && spec->listen && spec->upstream);
    calls++;
    snprintf(err, size, "fake: no proxies made");
    return -EINVAL;
}
static int fake_proxy_update(void *arg, size_t slot,
                             const muxd_proxy_spec_t *spec, char *err,
                             size_t size) {
    (void)arg;
    (void)err;
    (void)size;
    CHECK(slot == 0 && spec->enabled >= 0);
    calls++;
    return 0;
}
static void fake_proxy_del(void *arg, size_t slot) {
    (void)arg;
    CHECK(slot == 0);
    calls++;
}
static size_t fake_proxy_listener(void *arg, size_t i, size_t j,
                                  const char **local) {
    (void)arg;
    (void)i;
    (void)j;
    *local = "127.0.0.1:2";
    return 1;
}

static const mux_service_t quiet_service = {.name = "fuzz",
                                            .framing = MUX_FRAMING_RAW};

/* The target: a server with one client, no faults, not refusing. */
typedef struct {
    mux_loop_t *loop;
    muxd_control_target_t target;
    int peer; /* the client's other end */
} fake_t;

static void fake_start(fake_t *f) {
    static const muxd_log_t quiet = {.level = MUXD_LOG_QUIET};
    muxd_log_init(&quiet, 0);
    refusing = false;
    mux_server_opts_t opts = {0};
    muxd_control_target_t *t = &f->target;
    *t = (muxd_control_target_t){.faults_changed = fake_faults_changed,
                                 .refusing = fake_refusing,
                                 .set_refusing = fake_set_refusing,
                                 .shutdown = fake_shutdown,
                                 .proxy = fake_proxy,
                                 .proxy_slots = 1,
                                 .proxy_listener = fake_proxy_listener,
                                 .proxy_add = fake_proxy_add,
                                 .proxy_update = fake_proxy_update,
                                 .proxy_del = fake_proxy_del};
    CHECK(mux_loop_new(&f->loop) == 0);
    CHECK(mux_server_new(f->loop, &quiet_service, &opts, &t->server) == 0);
    CHECK((t->faults = muxd_faults_new(1)) != NULL);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    CHECK(mux_server_serve_fd(t->server, sv[0]) == 0);
    f->peer = sv[1];
}

static void fake_stop(fake_t *f) {
    mux_server_free(f->target.server);
    muxd_faults_free(f->target.faults);
    mux_loop_free(f->loop);
    close(f->peer);
}

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
static void run_line(fake_t *f, muxd_reply_t *reply, const char *line,
                     size_t len) {
    calls = 0;
    muxd_reply_reset(reply);
    bool ran = muxd_control_command(line, len, muxd_control_commands,
                                    &f->target, reply);
    check_reply(reply);
    bool error = strncmp(reply->data, "{\"ok\":false,\"error\":\"", 21) == 0;
    CHECK(calls <= 1);
    CHECK(ran || error);
    if (breaks_inside(line, len))
        CHECK(!ran && error);
}

/* The line with its first blank (or its end) replaced by `c`. */
static void run_with_break(fake_t *f, muxd_reply_t *reply, const char *line,
                           size_t len, char c) {
    static char copy[MUXD_CONTROL_LINE_MAX + 2];
    if (len >= sizeof(copy))
        return;
    memcpy(copy, line, len);
    const char *blank = memchr(line, ' ', len);
    size_t at = blank ? (size_t)(blank - line) : len;
    copy[at] = c;
    run_line(f, reply, copy, at < len ? len : len + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fake_t f;
    fake_start(&f);
    muxd_reply_t reply = {0};
    const char *p = (const char *)data, *end = p + size;
    while (p <= end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        run_line(&f, &reply, p, len);
        run_with_break(&f, &reply, p, len, '\n');
        run_with_break(&f, &reply, p, len, '\0');
        if (len > 0 && memchr(p, ' ', len)) /* a CR at the end is a line end */
            run_with_break(&f, &reply, p, len, '\r');
        if (!nl)
            break;
        p = nl + 1;
    }
    run_line(&f, &reply, (const char *)data, size);
    muxd_reply_free(&reply);
    fake_stop(&f);
    return 0;
}
