/*
 * control.c -- the control socket: a mux_server of its own on muxd's
 * loop, raw framing, cut into lines here (a long line is an error reply,
 * not a reason to close), each line run by muxd_control_command() with
 * the commands below (muxd_control_commands) on the target.
 *
 * A second server rather than streams of our own listener: it brings
 * the accepting (EMFILE remedy included), a client limit with a refusal
 * message, bounded output, the unix path's ownership and removal, all
 * already tested; and its clients stay out of the served server's
 * counters, limits, faults and pause.
 */
#define _POSIX_C_SOURCE 200809L

#include "control.h"
#include "control_cmd.h"
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The most clients `clients` lists; "more" counts the others. */
#define CONTROL_MAX_LISTED 1000

/* One control client: its line so far, its place by last activity. */
typedef struct control_client {
    struct control_client *older, *newer;
    mux_conn_t *conn;
    size_t len;
    bool discarding; /* the line grew too long: skip to its end */
    char line[MUXD_CONTROL_LINE_MAX + 1];
} control_client_t;

struct muxd_control {
    muxd_control_target_t target; /* what the commands act on */
    mux_server_t *server;
    muxd_reply_t reply; /* one at a time: the loop has one thread */
    /* The clients, least recently active first. */
    control_client_t *oldest, *newest;
    size_t nclients;
};

/* ---- the actions ---- */

static void do_stats(void *arg, muxd_reply_t *reply) {
    const muxd_control_target_t *t = arg;
    mux_server_stats_t s;
    mux_server_stats(t->server, &s);
    uint64_t id;
    const char *spec;
    size_t faults = muxd_faults_list(t->faults, 0, &id, &spec);
    muxd_reply_add(reply,
                   "{\"clients\":%" PRIu64 ",\"accepted\":%" PRIu64
                   ",\"refused\":%" PRIu64 ",\"bytes_in\":%" PRIu64
                   ",\"bytes_out\":%" PRIu64 ",\"refused_per_source\":%" PRIu64
                   ",\"refused_rate\":%" PRIu64
                   ",\"faults\":%zu,\"paused\":%s,\"refusing\":%s}",
                   s.clients, s.accepted, s.refused, s.bytes_in, s.bytes_out,
                   s.refused_per_source, s.refused_rate, faults,
                   mux_server_accepting_paused(t->server) ? "true" : "false",
                   t->refusing(t->arg) ? "true" : "false");
}

typedef struct {
    muxd_reply_t *reply;
    size_t listed, more;
} listing_t;

static void list_client(mux_conn_t *conn, void *arg) {
    listing_t *l = arg;
    if (l->listed == CONTROL_MAX_LISTED) {
        l->more++;
        return;
    }
    mux_conn_stats_t st;
    mux_conn_stats(conn, &st);
    muxd_reply_add(l->reply,
                   "%s{\"id\":%" PRIu64 ",\"peer\":", l->listed++ ? "," : "",
                   mux_conn_id(conn));
    const char *peer = mux_conn_peer(conn);
    muxd_reply_string(l->reply, peer, strlen(peer));
    muxd_reply_add(l->reply,
                   ",\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64
                   ",\"age_ms\":%" PRIu64 ",\"closing\":%s}",
                   st.bytes_in, st.bytes_out, st.age_ms,
                   mux_conn_closing(conn) ? "true" : "false");
}

static void do_clients(void *arg, muxd_reply_t *reply) {
    const muxd_control_target_t *t = arg;
    listing_t l = {.reply = reply};
    muxd_reply_add(reply, "{\"clients\":[");
    mux_server_foreach_all(t->server, list_client, &l);
    muxd_reply_add(reply, "]");
    if (l.more)
        muxd_reply_add(reply, ",\"more\":%zu", l.more);
    muxd_reply_add(reply, "}");
}

static void do_fault_add(void *arg, const char *spec, muxd_reply_t *reply) {
    const muxd_control_target_t *t = arg;
    char err[MUXD_FAULT_SPEC_MAX + 128];
    uint64_t id = muxd_faults_add(t->faults, spec, err, sizeof(err));
    if (!id) {
        muxd_reply_error(reply, "%s", err);
        return;
    }
    t->faults_changed(t->arg);
    muxd_log_text(MUXD_LOG_NORMAL, "control: fault %" PRIu64 " added: %s", id,
                  spec); /* checked: no raw bytes */
    muxd_reply_add(reply, "{\"ok\":true,\"id\":%" PRIu64 "}", id);
}

static void do_fault_set(void *arg, uint64_t id, const char *spec,
                         muxd_reply_t *reply) {
    const muxd_control_target_t *t = arg;
    char err[MUXD_FAULT_SPEC_MAX + 128];
    if (!muxd_faults_set(t->faults, id, spec, err, sizeof(err))) {
        muxd_reply_error(reply, "%s", err);
        return;
    }
    t->faults_changed(t->arg);
    muxd_log_text(MUXD_LOG_NORMAL, "control: fault %" PRIu64 " set: %s", id,
                  spec); /* checked: no raw bytes */
    muxd_reply_ok(reply);
}

/* One proxy's object: name, upstream, enabled, the addresses it listens
 * on. */
static void add_proxy(const muxd_control_target_t *t, size_t slot,
                      const muxd_proxy_info_t *info, bool first,
                      muxd_reply_t *reply) {
    const char *local = NULL;
    muxd_reply_add(reply, "%s{\"name\":", first ? "" : ",");
    muxd_reply_string(reply, info->name, strlen(info->name));
    muxd_reply_add(reply, ",\"upstream\":");
    muxd_reply_string(reply, info->upstream, strlen(info->upstream));
    muxd_reply_add(reply, ",\"enabled\":%s,\"listen\":[",
                   info->enabled ? "true" : "false");
    for (size_t j = 0; j < t->proxy_listener(t->arg, slot, j, &local); j++) {
        /* a unix socket's path (or @abstract name) as -l takes it */
        char addr[MUXD_PROXY_ADDR_MAX];
        int n =
            snprintf(addr, sizeof(addr), "%s%s",
                     local[0] == '/' || local[0] == '@' ? "unix:" : "", local);
        muxd_reply_add(reply, "%s", j ? "," : "");
        muxd_reply_string(reply, addr, n < 0 ? 0 : strlen(addr));
    }
    muxd_reply_add(reply, "]}");
}

/* {"ok":true,"proxy":{...}} for the proxy in `slot`. */
static void do_proxy_show(const muxd_control_target_t *t, size_t slot,
                          muxd_reply_t *reply) {
    muxd_proxy_info_t info;
    if (slot == SIZE_MAX || !t->proxy(t->arg, slot, &info))
        return;
    muxd_reply_add(reply, "{\"ok\":true,\"proxy\":");
    add_proxy(t, slot, &info, true, reply);
    muxd_reply_add(reply, "}");
}

static void do_proxy_list(void *arg, muxd_reply_t *reply) {
    const muxd_control_target_t *t = arg;
    muxd_proxy_info_t info;
    bool first = true;
    muxd_reply_add(reply, "{\"proxies\":[");
    for (size_t k = 0; k < t->proxy_slots; k++)
        if (t->proxy(t->arg, k, &info)) {
            add_proxy(t, k, &info, first, reply);
            first = false;
        }
    muxd_reply_add(reply, "]}");
}

/* The slot of the proxy named `name`, or SIZE_MAX with the error. */
static size_t proxy_named(const muxd_control_target_t *t, const char *name,
                          muxd_reply_t *reply) {
    muxd_proxy_info_t info;
    for (size_t k = 0; k < t->proxy_slots; k++)
        if (t->proxy(t->arg, k, &info) && !strcmp(info.name, name))
            return k;
    muxd_reply_error(reply, "no proxy named '%.64s' (see: proxy list)", name);
    return SIZE_MAX;
}

static void do_proxy_add(void *arg, const char *const *words,
                         muxd_reply_t *reply) {
    const muxd_control_target_t *t = arg;
    muxd_proxy_spec_t spec = {.name = words[0],
                              .listen = words[1],
                              .upstream = words[2],
                              .enabled = 1};
    char err[256];
    if (t->proxy_add(t->arg, &spec, err, sizeof(err)) < 0) {
        muxd_reply_error(reply, "%s", err);
        return;
    }
    do_proxy_show(t, proxy_named(t, words[0], reply), reply);
}

static void do_proxy_del(void *arg, const char *name, muxd_reply_t *reply) {
    const muxd_control_target_t *t = arg;
    size_t slot = proxy_named(t, name, reply);
    if (slot == SIZE_MAX)
        return;
    t->proxy_del(t->arg, slot);
    muxd_reply_ok(reply);
}

static void set_enabled(const muxd_control_target_t *t, const char *name,
                        int enabled, muxd_reply_t *reply) {
    size_t slot = proxy_named(t, name, reply);
    if (slot == SIZE_MAX)
        return;
    muxd_proxy_spec_t spec = {.enabled = enabled};
    char err[256];
    if (t->proxy_update(t->arg, slot, &spec, err, sizeof(err)) < 0)
        muxd_reply_error(reply, "%s", err);
    else
        do_proxy_show(t, slot, reply);
}

static void do_proxy_enable(void *arg, const char *name, muxd_reply_t *reply) {
    set_enabled(arg, name, 1, reply);
}

static void do_proxy_disable(void *arg, const char *name, muxd_reply_t *reply) {
    set_enabled(arg, name, 0, reply);
}

static void do_fault_list(void *arg, muxd_reply_t *reply) {
    const muxd_control_target_t *t = arg;
    uint64_t id;
    const char *spec;
    muxd_reply_add(reply, "{\"faults\":[");
    for (size_t i = 0; i < muxd_faults_list(t->faults, i, &id, &spec); i++) {
        muxd_reply_add(reply, "%s{\"id\":%" PRIu64 ",\"spec\":", i ? "," : "",
                       id);
        muxd_reply_string(reply, spec, strlen(spec));
        muxd_reply_add(reply, "}");
    }
    muxd_reply_add(reply, "]}");
}

static void do_fault_del(void *arg, uint64_t id, muxd_reply_t *reply) {
    const muxd_control_target_t *t = arg;
    if (!muxd_faults_del(t->faults, id)) {
        muxd_reply_error(reply, "no fault with id %" PRIu64, id);
        return;
    }
    t->faults_changed(t->arg);
    muxd_log_text(MUXD_LOG_NORMAL, "control: fault %" PRIu64 " removed", id);
    muxd_reply_ok(reply);
}

static void do_fault_clear(void *arg, muxd_reply_t *reply) {
    const muxd_control_target_t *t = arg;
    muxd_faults_clear(t->faults);
    t->faults_changed(t->arg);
    muxd_log_text(MUXD_LOG_NORMAL, "control: faults cleared");
    muxd_reply_ok(reply);
}

typedef struct {
    uint64_t id;
    bool found;
} kick_t;

static void kick_client(mux_conn_t *conn, void *arg) {
    kick_t *k = arg;
    if (mux_conn_id(conn) == k->id) {
        k->found = true;
        mux_conn_close(conn, MUX_CLOSE_NOW);
    }
}

static void do_kick(void *arg, uint64_t id, muxd_reply_t *reply) {
    const muxd_control_target_t *t = arg;
    kick_t k = {.id = id};
    mux_server_foreach_all(t->server, kick_client, &k);
    if (!k.found) {
        muxd_reply_error(reply, "no client with id %" PRIu64, id);
        return;
    }
    muxd_log_text(MUXD_LOG_NORMAL, "control: client %" PRIu64 " kicked", id);
    muxd_reply_ok(reply);
}

static void do_pause(void *arg, bool paused, muxd_reply_t *reply) {
    const muxd_control_target_t *t = arg;
    mux_server_pause_accepting(t->server, paused);
    muxd_log_text(MUXD_LOG_NORMAL, "control: accepting %s",
                  paused ? "paused" : "resumed");
    muxd_reply_ok(reply);
}

static void do_refuse(void *arg, bool on, muxd_reply_t *reply) {
    const muxd_control_target_t *t = arg;
    t->set_refusing(t->arg, on);
    muxd_log_text(MUXD_LOG_NORMAL, "control: new clients %s",
                  on ? "reset" : "served");
    muxd_reply_ok(reply);
}

static void do_shutdown(void *arg, muxd_reply_t *reply) {
    muxd_reply_ok(reply); /* before: the loop may stop this turn */
    const muxd_control_target_t *t = arg;
    t->shutdown(t->arg, "control");
}

/* The commands: a new one is a row here and its function above (and a
 * line in docs/fixtures.md). */
const muxd_control_cmd_t muxd_control_commands[] = {
    {.name = "stats", .run = do_stats},
    {.name = "clients", .run = do_clients},
    {.name = "fault", .sub = "add", .arg = "SPEC", .run_word = do_fault_add},
    {.name = "fault",
     .sub = "set",
     .arg = "ID SPEC",
     .run_id_word = do_fault_set,
     .what = "fault id"},
    {.name = "fault", .sub = "list", .run = do_fault_list},
    {.name = "fault",
     .sub = "del",
     .arg = "ID",
     .run_id = do_fault_del,
     .what = "fault id"},
    {.name = "fault", .sub = "clear", .run = do_fault_clear},
    {.name = "proxy", .sub = "list", .run = do_proxy_list},
    {.name = "proxy",
     .sub = "add",
     .arg = "NAME LISTEN UPSTREAM",
     .run_words = do_proxy_add,
     .nargs = 3},
    {.name = "proxy", .sub = "del", .arg = "NAME", .run_word = do_proxy_del},
    {.name = "proxy",
     .sub = "enable",
     .arg = "NAME",
     .run_word = do_proxy_enable},
    {.name = "proxy",
     .sub = "disable",
     .arg = "NAME",
     .run_word = do_proxy_disable},
    {.name = "kick", .arg = "ID", .run_id = do_kick, .what = "client id"},
    {.name = "pause", .run_flag = do_pause, .flag = true},
    {.name = "resume", .run_flag = do_pause, .flag = false},
    {.name = "refuse", .arg = "on|off", .run_flag = do_refuse},
    {.name = "shutdown", .run = do_shutdown},
    {0}};

/* ---- the service ---- */

/* ---- the clients, by last activity ---- */

static void unlink_client(muxd_control_t *control, control_client_t *client) {
    if (client->older)
        client->older->newer = client->newer;
    else
        control->oldest = client->newer;
    if (client->newer)
        client->newer->older = client->older;
    else
        control->newest = client->older;
    client->older = client->newer = NULL;
}

/* `client` is the most recently active one (new, or it just sent). */
static void make_newest(muxd_control_t *control, control_client_t *client) {
    if (control->newest == client)
        return;
    if (client->older || client->newer || control->oldest == client)
        unlink_client(control, client);
    client->older = control->newest;
    if (control->newest)
        control->newest->newer = client;
    else
        control->oldest = client;
    control->newest = client;
}

/* The table is full and one more came: the client idle for longest goes
 * (told why), so that a new one (a test harness) always gets in. */
static void evict_oldest(muxd_control_t *control) {
    static const char why[] =
        "{\"ok\":false,\"error\":\"closed: the control client idle for "
        "longest, to make room for a new one\"}\n";
    control_client_t *oldest = control->oldest;
    muxd_log_text(MUXD_LOG_NORMAL,
                  "control: the client idle for longest closed to make room "
                  "(%d at most)",
                  MUXD_CONTROL_CLIENTS);
    mux_conn_send(oldest->conn, why, sizeof(why) - 1);
    mux_conn_close(oldest->conn, MUX_CLOSE_NOW); /* control_close() frees */
}

static void control_close(mux_conn_t *conn) {
    control_client_t *client = mux_conn_data(conn);
    if (!client)
        return;
    muxd_control_t *control = mux_conn_service_arg(conn);
    unlink_client(control, client);
    control->nclients--;
    free(client);
    mux_conn_set_data(conn, NULL);
}

/* The reply buffer for a client's next command, or NULL: a client that
 * leaves its replies unread is dropped instead. */
static muxd_reply_t *begin_reply(mux_conn_t *conn) {
    muxd_control_t *control = mux_conn_service_arg(conn);
    if (mux_conn_pending(conn) > MUXD_CONTROL_MAX_PENDING) {
        muxd_log_text(MUXD_LOG_NORMAL,
                      "control: client dropped: it leaves its replies "
                      "unread (over %d bytes)",
                      MUXD_CONTROL_MAX_PENDING);
        control_close(conn); /* its line goes now: nothing more is run */
        mux_conn_close(conn, MUX_CLOSE_NOW);
        return NULL;
    }
    muxd_reply_reset(&control->reply);
    return &control->reply;
}

static void send_reply(mux_conn_t *conn, muxd_reply_t *reply) {
    muxd_reply_add(reply, "\n");
    if (!reply->failed)
        mux_conn_send(conn, reply->data, reply->len);
}

/* Runs one complete line and sends its reply. */
static void run_line(mux_conn_t *conn, const char *line, size_t len) {
    muxd_reply_t *reply = begin_reply(conn);
    if (!reply)
        return;
    muxd_control_t *control = mux_conn_service_arg(conn);
    muxd_control_command(line, len, muxd_control_commands, &control->target,
                         reply);
    send_reply(conn, reply);
}

/* A line too long was skipped: one error reply for all of it. */
static void reply_too_long(mux_conn_t *conn) {
    muxd_reply_t *reply = begin_reply(conn);
    if (!reply)
        return;
    muxd_reply_error(reply, "line too long (max %d bytes)",
                     MUXD_CONTROL_LINE_MAX);
    send_reply(conn, reply);
}

static void control_open(mux_conn_t *conn) {
    muxd_control_t *control = mux_conn_service_arg(conn);
    control_client_t *client = calloc(1, sizeof(*client));
    if (!client) {
        mux_conn_close(conn, MUX_CLOSE_NOW);
        return;
    }
    client->conn = conn;
    mux_conn_set_data(conn, client);
    make_newest(control, client);
    if (++control->nclients > MUXD_CONTROL_CLIENTS)
        evict_oldest(control);
}

/* Bytes up to a line end (or all of them) into the client's line. */
static void take_bytes(control_client_t *client, const char *data, size_t len) {
    if (client->discarding || len > sizeof(client->line) - client->len) {
        client->discarding = true;
        client->len = 0;
        return;
    }
    memcpy(client->line + client->len, data, len);
    client->len += len;
}

static void control_message(mux_conn_t *conn, const char *data, size_t len) {
    control_client_t *client = mux_conn_data(conn);
    if (client)
        make_newest(mux_conn_service_arg(conn), client);
    while (len > 0 && client) {
        const char *nl = memchr(data, '\n', len);
        size_t piece = nl ? (size_t)(nl - data) : len;
        take_bytes(client, data, piece);
        if (!nl)
            return;
        data += piece + 1;
        len -= piece + 1;
        bool too_long = client->discarding;
        client->discarding = false;
        size_t line_len = client->len;
        client->len = 0; /* before the command: it may close the client */
        if (too_long)
            reply_too_long(conn);
        else
            run_line(conn, client->line, line_len);
        client = mux_conn_data(conn); /* NULL once closed */
    }
}

static const mux_service_t control_service = {.name = "control",
                                              .framing = MUX_FRAMING_RAW,
                                              .open = control_open,
                                              .message = control_message,
                                              .close = control_close};

static void control_event(mux_server_t *server, const mux_event_t *ev,
                          void *arg) {
    (void)server;
    (void)arg;
    if (ev->type == MUX_EV_LISTEN)
        muxd_log_text(MUXD_LOG_VERBOSE, "control socket on %s", ev->local);
    if (ev->type == MUX_EV_REFUSE)
        muxd_log_text(MUXD_LOG_NORMAL, "control: a client refused: %s",
                      ev->reason);
}

/* Listens with a umask that leaves a unix socket to its owner alone: no
 * moment with the path open to others. */
static int listen_private(mux_server_t *server, const mux_addr_t *addr) {
    mode_t old = umask(0177);
    int err = mux_server_listen_addr(server, addr);
    umask(old);
    return err;
}

int muxd_control_start(const muxd_control_target_t *target,
                       const mux_addr_t *addr, const char *text,
                       muxd_control_t **out) {
    muxd_control_t *control = calloc(1, sizeof(*control));
    if (!control) {
        muxd_log_error("cannot start the control socket: %s",
                       mux_strerror(-ENOMEM));
        return -ENOMEM;
    }
    control->target = *target;
    mux_server_opts_t opts = {
        .max_clients = MUXD_CONTROL_CLIENTS + 1, /* the one that evicts */
        .full_message =
            "{\"ok\":false,\"error\":\"too many control clients\"}\n",
        .on_event = control_event,
        .service_arg = control};
    int err = mux_server_new(mux_server_loop(target->server), &control_service,
                             &opts, &control->server);
    if (err == 0 && (err = listen_private(control->server, addr)) < 0)
        muxd_log_error("cannot listen on %s (--control): %s", text,
                       mux_strerror(err));
    else if (err < 0)
        muxd_log_error("cannot start the control socket: %s",
                       mux_strerror(err));
    if (err < 0) {
        muxd_control_free(control);
        return err;
    }
    *out = control;
    return 0;
}

void muxd_control_free(muxd_control_t *control) {
    if (!control)
        return;
    mux_server_free(control->server);
    muxd_reply_free(&control->reply);
    free(control);
}
