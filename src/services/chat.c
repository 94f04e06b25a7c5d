/*
 * chat.c -- a broker: each line a client sends goes to every other client
 * as "<userN> line"; joins and leaves are announced as "* userN joined" /
 * "* userN left", and a newcomer is told its name ("* you are userN").
 *
 * Each client has its own output queue in the library. Memory is bounded
 * as a fair broker bounds it: each client's share of the broker's budget
 * (--chat-memory, divided among the clients, at most the high watermark)
 * is what its queue may hold. A sender whose message leaves some client's
 * queue at or past its share is held (not read) until every queue is back
 * under its share: a slow reader slows the senders instead of filling
 * memory. A client at or past its share that has read nothing for
 * --chat-stall is dropped, so one that never reads cannot stop everyone for
 * good; then the senders go on. (A slow reader that reads is never dropped
 * for it: only past the library's hard cap, "output overflow".)
 */
#define _POSIX_C_SOURCE 200809L

#include "services.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* While a client is behind, how often the queues are looked at again. */
#define TICK_MS 10

/* What the clients of one chat server share; freed with the last one. */
typedef struct {
    mux_server_t *server;
    mux_timer_t tick; /* armed while a client is behind */
    size_t clients;
    bool ticking; /* in on_tick: the last client to go must not free it */
    size_t budget;
    uint64_t stall_ms;
} broker_t;

typedef struct {
    broker_t *broker;
    bool held;            /* its reading is paused: a sender held back */
    size_t pending;       /* its queue when last looked at */
    uint64_t progress_at; /* when its queue was last seen empty or shorter */
} client_t;

static client_t *client_of(const mux_conn_t *conn) {
    return mux_conn_data(conn);
}

/* How much output `conn` may have queued before it holds the senders. */
static size_t share(const mux_conn_t *conn, const broker_t *broker) {
    size_t even = broker->budget / broker->clients;
    size_t limit = mux_conn_watermark(conn);
    return even == 0 ? 1 : even < limit ? even : limit;
}

/* Looks at `conn`'s queue: only the client's reading shrinks it between
 * two looks (every line added is noted in client->pending). */
static void observe(mux_conn_t *conn, client_t *client) {
    size_t pending = mux_conn_pending(conn);
    if (pending == 0 || pending < client->pending)
        client->progress_at = mux_now(mux_conn_loop(conn));
    client->pending = pending;
}

/* ---- the tick: drop the stalled, resume the held ---- */

static void broker_free(broker_t *broker) {
    mux_timer_stop(&broker->tick);
    free(broker);
}

/* Drops `conn`: it read nothing for the stall time while its queue held
 * the senders back. */
static void drop_stalled(mux_conn_t *conn, uint64_t idle_ms) {
    char text[128];
    int len = snprintf(text, sizeof(text),
                       "dropped: %zu bytes unread, nothing read for %" PRIu64
                       " ms, holding the senders back",
                       mux_conn_pending(conn), idle_ms);
    mux_conn_log(conn, text, (size_t)len);
    mux_conn_close(conn, MUX_CLOSE_NOW);
}

/* Counts the clients at or past their share; drops those of them that
 * read nothing for the stall time. */
static void check_behind(mux_conn_t *conn, void *arg) {
    size_t *behind = arg;
    client_t *client = client_of(conn);
    if (!client)
        return;
    observe(conn, client);
    if (client->pending < share(conn, client->broker))
        return;
    uint64_t idle = mux_now(mux_conn_loop(conn)) - client->progress_at;
    if (idle >= client->broker->stall_ms)
        drop_stalled(conn, idle);
    else
        (*behind)++;
}

static void resume(mux_conn_t *conn, void *arg) {
    (void)arg;
    client_t *client = client_of(conn);
    if (client && client->held) {
        client->held = false;
        mux_conn_resume_reading(conn);
    }
}

/* While anyone is behind: once no one is, the held senders go on. */
static void on_tick(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    (void)loop;
    (void)timer;
    broker_t *broker = arg;
    size_t behind = 0;
    broker->ticking = true;
    mux_server_foreach(broker->server, check_behind, &behind);
    broker->ticking = false;
    if (broker->clients == 0) {
        broker_free(broker); /* stops this timer */
        return;
    }
    if (behind == 0) {
        mux_server_foreach(broker->server, resume, NULL);
        mux_timer_stop(&broker->tick);
    }
}

/* Returns 0, or -ENOMEM (then no sender is held: nothing would resume
 * it). */
static int start_tick(broker_t *broker) {
    if (mux_timer_active(&broker->tick))
        return 0;
    return mux_timer_start(&broker->tick, TICK_MS, TICK_MS);
}

/* ---- broadcasts ---- */

/* One message for everyone but its sender; `behind` counts the clients
 * it left at or past their share. */
typedef struct {
    mux_conn_t *sender;
    const muxd_piece_t *pieces;
    size_t n;
    size_t behind;
} broadcast_t;

static void send_to_other(mux_conn_t *conn, void *arg) {
    broadcast_t *b = arg;
    client_t *client = client_of(conn);
    if (conn == b->sender || !client)
        return;
    observe(conn, client);
    muxd_send(&(muxd_client_t){.conn = conn}, b->pieces, b->n);
    if (!(client = client_of(conn)))
        return; /* dropped: output overflow */
    client->pending = mux_conn_pending(conn);
    if (client->pending >= share(conn, client->broker))
        b->behind++;
}

/* Sends to every other client; returns how many it left at or past their
 * share (the tick watches them from now on). */
static size_t broadcast(mux_conn_t *sender, const muxd_piece_t *pieces,
                        size_t n) {
    broadcast_t b = {sender, pieces, n, 0};
    mux_server_foreach(mux_conn_server(sender), send_to_other, &b);
    client_t *client = client_of(sender);
    if (b.behind > 0 && client)
        start_tick(client->broker);
    return b.behind;
}

/* Stops reading a sender until no one is behind (only with a tick to
 * resume it). */
static void hold(mux_conn_t *sender) {
    client_t *client = client_of(sender);
    if (client->held || !mux_timer_active(&client->broker->tick))
        return;
    client->held = true;
    mux_conn_pause_reading(sender);
}

/* "* userN " + what + "\n" to the others. */
static void announce(mux_conn_t *conn, const char *what) {
    char line[64];
    snprintf(line, sizeof(line), "* user%" PRIu64 " %s\n", mux_conn_id(conn),
             what);
    muxd_piece_t piece = muxd_piece(line);
    broadcast(conn, &piece, 1);
}

/* Every line sent on ends in "\n", also for a read without one
 * (--framing raw). A sender whose line left others behind is held. */
static void chat_message(mux_conn_t *conn, const char *data, size_t len) {
    char name[32];
    snprintf(name, sizeof(name), "<user%" PRIu64 "> ", mux_conn_id(conn));
    muxd_line_t line = muxd_line(&(muxd_client_t){.conn = conn}, data, len);
    muxd_piece_t pieces[] = {muxd_piece(name), line.body, {"\n", 1}};
    if (broadcast(conn, pieces, 3) > 0)
        hold(conn);
}

/* ---- clients joining and leaving ---- */

static void find_broker(mux_conn_t *conn, void *arg) {
    broker_t **broker = arg;
    if (!*broker && client_of(conn))
        *broker = client_of(conn)->broker;
}

/* The broker of `conn`'s server, made by its first client. */
static broker_t *join_broker(mux_conn_t *conn) {
    broker_t *broker = NULL;
    mux_server_foreach(mux_conn_server(conn), find_broker, &broker);
    if (!broker && (broker = calloc(1, sizeof(*broker)))) {
        const muxd_service_config_t *config = mux_conn_service_arg(conn);
        broker->server = mux_conn_server(conn);
        mux_timer_init(&broker->tick, mux_conn_loop(conn), on_tick, broker);
        broker->budget = config && config->chat_memory ? config->chat_memory
                                                       : MUXD_CHAT_MEMORY;
        broker->stall_ms = config && config->chat_stall_ms
                               ? config->chat_stall_ms
                               : MUXD_CHAT_STALL_MS;
    }
    return broker;
}

static void chat_open(mux_conn_t *conn) {
    client_t *client = calloc(1, sizeof(*client));
    broker_t *broker = client ? join_broker(conn) : NULL;
    if (!broker) {
        free(client);
        mux_conn_close(conn, MUX_CLOSE_NOW);
        return;
    }
    client->broker = broker;
    broker->clients++;
    mux_conn_set_data(conn, client);
    char line[64];
    snprintf(line, sizeof(line), "* you are user%" PRIu64 "\n",
             mux_conn_id(conn));
    if (mux_conn_send(conn, line, strlen(line)) < 0)
        return; /* closed: chat_close let it go */
    observe(conn, client);
    announce(conn, "joined");
}

/* The library runs this with conn no longer open: foreach skips it. */
static void chat_close(mux_conn_t *conn) {
    client_t *client = client_of(conn);
    if (!client)
        return;
    announce(conn, "left");
    broker_t *broker = client->broker;
    mux_conn_set_data(conn, NULL);
    free(client);
    if (--broker->clients == 0 && !broker->ticking)
        broker_free(broker);
}

const muxd_service_t muxd_chat_service = {
    .callbacks =
        {
            .name = "chat",
            .framing = MUX_FRAMING_LINE,
            .open = chat_open,
            .message = chat_message,
            .close = chat_close,
        },
    .summary = "lines to every other client as <userN> line",
};
