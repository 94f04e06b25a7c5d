/*
 * server.c -- listeners plus one service: tracks the clients, admits or
 * refuses them (its filter, max_clients and shutdown here; the per-source
 * and rate limits in admission.c), reports events, propagates faults
 * changed at run time, and shuts down gracefully (on signals if asked).
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

#define MAX_RESOLVED 16

struct mux_server {
    mux_loop_t *loop;
    const mux_service_t *service;
    mux_server_opts_t opts;         /* defaults filled in */
    mux_conn_opts_t conn_opts;      /* every client's, made from opts */
    mux__listen_config_t listening; /* every listener's */
    mux__dgram_config_t datagrams;  /* every UDP listener's */
    mux_listener_t *listeners;
    mux_conn_t *conns;
    size_t nclients;
    uint64_t next_id;
    int spare_fd; /* closed to make room when accept() hits EMFILE */
    bool shutting_down;
    bool draining; /* the shutdown accepts what waits in the queues */
    mux_timer_t shutdown_timer;
    /* Clients unused (nclients is the truth); bytes of the clients that
     * left and of datagrams: connected clients count their own. */
    mux_server_stats_t counters;
    mux_timer_t drain_timer; /* starts the per-client shutdown pass */
    /* mux_server_stop_on_signals(): the shutdown's deadline, and whether
     * MUX_EV_DONE stops the loop. */
    uint64_t signal_timeout_ms;
    bool stop_loop_when_done;
    bool watches_signals;
    mux__admission_t *admission;    /* max_per_source, max_rate */
    mux__source_count_t *admitting; /* the count of the client being added */
};

mux_loop_t *mux_server_loop(const mux_server_t *server) { return server->loop; }
const mux_faults_t *mux_server_faults(const mux_server_t *server) {
    return server->conn_opts.faults;
}

void mux_server_set_max_clients(mux_server_t *server, unsigned max_clients) {
    server->opts.max_clients = max_clients;
}
size_t mux_server_clients(const mux_server_t *server) {
    return server->nclients;
}
mux_server_t *mux_conn_server(const mux_conn_t *conn) {
    return mux__conn_owned((mux_conn_t *)conn)->server;
}

/* The next client in the server's list. */
static mux_conn_t *next_conn(mux_conn_t *conn) {
    return mux__conn_owned(conn)->next;
}

void mux_server_stats(const mux_server_t *server, mux_server_stats_t *stats) {
    *stats = server->counters;
    stats->clients = server->nclients;
    for (mux_conn_t *c = server->conns; c; c = next_conn(c))
        mux__conn_add_bytes(c, stats);
}

/* The filter's verdict on a peer (opts.filter): NULL to admit, or the
 * reason. One check for both transports. */
static const char *filter(const mux_server_t *server,
                          const struct sockaddr *peer, socklen_t len) {
    const mux_server_opts_t *o = &server->opts;
    return o->filter ? o->filter(peer, len, o->filter_arg) : NULL;
}

/* Whether `port` is the port of one of the server's UDP listeners. */
static bool own_udp_port(void *arg, unsigned port) {
    const mux_server_t *server = arg;
    for (const mux_listener_t *l = server->listeners; l; l = l->next)
        if (l->transport == MUX_UDP && l->port == port)
            return true;
    return false;
}

static mux_timer_cb on_shutdown_timeout, on_shutdown_drain;
static void on_conn_event(mux_conn_t *conn, mux_event_t *ev, void *arg);
static void on_accepted(void *arg, mux_listener_t *listener, int fd,
                        const struct sockaddr *peer, socklen_t len, bool shed);
static void on_accept_error(void *arg, mux_listener_t *listener, int err);
static void emit_up(void *arg, mux_event_t *ev);
static void server_emit(mux_server_t *server, mux_event_t *ev);
static int admit(mux_server_t *server, int fd, const struct sockaddr *peer,
                 socklen_t peer_len, const char *local);

/* What every client is served with, from the server's options. */
static void make_conn_opts(mux_server_t *server) {
    const mux_server_opts_t *o = &server->opts;
    server->conn_opts = (mux_conn_opts_t){.max_output = o->max_output,
                                          .max_line = o->max_line,
                                          .framing = o->framing,
                                          .idle_timeout_ms = o->idle_timeout_ms,
                                          .line_timeout_ms = o->line_timeout_ms,
                                          .delay_ms = o->delay_ms,
                                          .faults = o->faults,
                                          .service_arg = o->service_arg,
                                          .on_event = on_conn_event,
                                          .event_arg = server};
    server->listening =
        (mux__listen_config_t){.loop = server->loop,
                               .arg = server,
                               .accepted = on_accepted,
                               .error = on_accept_error,
                               .spare_fd = &server->spare_fd,
                               .backlog = o->backlog,
                               .reuseport = o->reuseport,
                               .accept_delay_ms = mux_faults_get(
                                   o->faults, MUX_FAULT_ACCEPT_DELAY_MS)};
    server->datagrams = (mux__dgram_config_t){.loop = server->loop,
                                              .service = server->service,
                                              .service_arg = o->service_arg,
                                              .filter = o->filter,
                                              .filter_arg = o->filter_arg,
                                              .rate = o->dgram_rate,
                                              .burst = o->dgram_burst,
                                              .counters = &server->counters,
                                              .emit = emit_up,
                                              .own_port = own_udp_port,
                                              .arg = server};
}

int mux_server_new(mux_loop_t *loop, const mux_service_t *service,
                   const mux_server_opts_t *opts, mux_server_t **out) {
    if (!service || !service->name ||
        (opts && opts->max_output > MUX_OUTPUT_MAX))
        return -EINVAL;
    mux_server_t *server = calloc(1, sizeof(*server));
    if (!server)
        return -ENOMEM;
    server->loop = loop;
    server->service = service;
    mux_timer_init(&server->shutdown_timer, loop, on_shutdown_timeout, server);
    mux_timer_init(&server->drain_timer, loop, on_shutdown_drain, server);
    if (opts)
        server->opts = *opts;
    mux_server_opts_t *o = &server->opts;
    if (!o->backlog)
        o->backlog = SOMAXCONN;
    if (!o->max_output)
        o->max_output = 1024 * 1024;
    if (!o->max_line)
        o->max_line = 64 * 1024;
    if (!o->framing)
        o->framing = service->framing ? service->framing : MUX_FRAMING_RAW;
    if (!o->full_message)
        o->full_message = "server full\n";
    make_conn_opts(server);
    server->admission = mux__admission_new(loop, o->max_per_source, o->max_rate,
                                           &server->counters);
    if (!server->admission) {
        free(server);
        return -ENOMEM;
    }
    server->spare_fd = mux__fd_spare();
    *out = server;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Events                                                              */
/* ------------------------------------------------------------------ */

/* Reports an event; fills in the server-wide members (clients). */
static void server_emit(mux_server_t *server, mux_event_t *ev) {
    if (!server->opts.on_event)
        return;
    ev->peer = ev->peer ? ev->peer : "";
    ev->local = ev->local ? ev->local : "";
    ev->reason = ev->reason ? ev->reason : "";
    ev->clients = server->nclients;
    server->opts.on_event(server, ev, server->opts.event_arg);
}

static void emit_up(void *arg, mux_event_t *ev) { server_emit(arg, ev); }

static void on_accept_error(void *arg, mux_listener_t *listener, int err) {
    mux_event_t ev = {.type = MUX_EV_ERROR,
                      .local = listener->local,
                      .reason = "accept",
                      .err = err};
    server_emit(arg, &ev);
}

/* ------------------------------------------------------------------ */
/* Listening                                                           */
/* ------------------------------------------------------------------ */

static void add_listener(mux_server_t *server, mux_listener_t *listener) {
    mux_listener_t **tail = &server->listeners;
    while (*tail)
        tail = &(*tail)->next;
    *tail = listener;
    mux_event_t ev = {.type = MUX_EV_LISTEN,
                      .transport = listener->transport,
                      .local = listener->local};
    server_emit(server, &ev);
}

static void close_listener(mux_listener_t *listener) {
    mux__dgram_stop(listener);
    mux__listener_close(listener);
}

/* Port 0 on a name with several addresses: every one gets the same port. */
static void reuse_port(mux_sockaddr_t *sa, unsigned port) {
    if (sa->family == AF_INET && !((struct sockaddr_in *)&sa->sa)->sin_port)
        ((struct sockaddr_in *)&sa->sa)->sin_port = htons((uint16_t)port);
    if (sa->family == AF_INET6 && !((struct sockaddr_in6 *)&sa->sa)->sin6_port)
        ((struct sockaddr_in6 *)&sa->sa)->sin6_port = htons((uint16_t)port);
}

/* An address family this host lacks (no IPv6, say) is skipped, if another
 * address of the same name could be bound. */
static bool family_missing(int err) {
    return err == -EAFNOSUPPORT || err == -EADDRNOTAVAIL;
}

int mux_server_listen(mux_server_t *server, const char *text) {
    mux_addr_t addr;
    if (mux_addr_parse(text, "127.0.0.1", &addr) < 0)
        return -EINVAL;
    return mux_server_listen_addr(server, &addr);
}

int mux_server_listen_addr(mux_server_t *server, const mux_addr_t *addr) {
    mux_sockaddr_t sa[MAX_RESOLVED];
    if (addr->transport == MUX_UDP && !server->service->datagram)
        return -EPROTONOSUPPORT;
    int n = mux_addr_resolve(addr, 1, sa, MAX_RESOLVED);
    if (n < 0)
        return n;
    mux_listener_t *opened[MAX_RESOLVED];
    int nopened = 0, err = 0;
    unsigned port = 0;
    for (int i = 0; i < n; i++) {
        reuse_port(&sa[i], port);
        mux_listener_t *listener;
        int e = mux__listener_open(&server->listening, &sa[i], addr->transport,
                                   &listener);
        if (e == 0 && addr->transport == MUX_UDP &&
            (e = mux__dgram_start(listener, &server->datagrams)) < 0)
            mux__listener_close(listener);
        if (e < 0) {
            err = err ? err : e;
            continue;
        }
        port = listener->port;
        opened[nopened++] = listener;
    }
    if (nopened > 0 && (!err || family_missing(err)))
        err = 0;
    for (int i = 0; i < nopened; i++) {
        if (err < 0)
            close_listener(opened[i]);
        else
            add_listener(server, opened[i]);
    }
    return err;
}

int mux_server_adopt(mux_server_t *server, int fd) {
    mux_listener_t *listener;
    int err = mux__listener_adopt(&server->listening, fd, &listener);
    if (err == 0 && listener->transport == MUX_UDP &&
        (err = mux__dgram_start(listener, &server->datagrams)) < 0)
        mux__listener_close(listener);
    if (err < 0)
        return err;
    add_listener(server, listener);
    return 0;
}

int mux_server_serve_fd(mux_server_t *server, int fd) {
    mux__handed_in_t ends;
    /* Not while shutting down: it would outlive MUX_EV_DONE. */
    fd = mux__conn_handed_in(fd, server->shutting_down ? -ESHUTDOWN : 0, &ends);
    if (fd < 0)
        return fd;
    return admit(server, fd, (struct sockaddr *)&ends.peer, ends.peer_len,
                 ends.local);
}

size_t mux_server_addresses(const mux_server_t *server, const char **out,
                            size_t max) {
    size_t n = 0;
    for (mux_listener_t *l = server->listeners; l; l = l->next, n++)
        if (n < max)
            out[n] = l->name;
    return n;
}

int mux_server_close_listener(mux_server_t *server, const char *local) {
    for (mux_listener_t **at = &server->listeners; *at; at = &(*at)->next)
        if (strcmp((*at)->local, local) == 0) {
            mux_listener_t *listener = *at;
            *at = listener->next;
            close_listener(listener);
            return 0;
        }
    return -ENOENT;
}

void mux_server_close_listeners(mux_server_t *server) {
    while (server->listeners) {
        mux_listener_t *listener = server->listeners;
        server->listeners = listener->next;
        close_listener(listener);
    }
}

void mux_server_pause_accepting(mux_server_t *server, int paused) {
    server->listening.paused = paused != 0;
    for (mux_listener_t *l = server->listeners; l; l = l->next)
        mux__listener_pause_changed(l);
}

int mux_server_accepting_paused(const mux_server_t *server) {
    return server->listening.paused;
}

/* ------------------------------------------------------------------ */
/* Clients                                                             */
/* ------------------------------------------------------------------ */

/* Tells a client why it is turned away (one line, if `tell`), closes it
 * and reports it. */
static void refuse(mux_server_t *server, mux_listener_t *listener, int fd,
                   const struct sockaddr *peer, socklen_t peer_len,
                   const char *reason, bool tell) {
    if (tell) {
        const char *msg = server->opts.full_message;
        ssize_t n = send(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)n; /* best effort: the client is being turned away anyway */
    }
    if (mux_faults_get(server->opts.faults, MUX_FAULT_RST))
        mux__reset_on_close(fd);
    mux__close(fd);
    server->counters.refused++;
    char text[MUX_ADDRSTRLEN];
    mux_event_t ev = {.type = MUX_EV_REFUSE,
                      .transport = listener->transport,
                      .peer =
                          mux_addr_format(peer, peer_len, text, sizeof(text)),
                      .local = listener->local,
                      .reason = reason};
    server_emit(server, &ev);
}

/* Filter, then per-source and rate limits: the refusals without a word.
 * NULL: admitted so far, with *count its source's count to hold. */
static const char *policy_refusal(mux_server_t *server,
                                  const struct sockaddr *peer, socklen_t len,
                                  mux__source_count_t **count, char *why,
                                  size_t size) {
    const char *reason = filter(server, peer, len);
    return reason ? reason
                  : mux__admission_check(server->admission, peer, count, why,
                                         size);
}

/* A client a listener accepted: admitted (a new stream) or turned away
 * (refused by the filter or a limit, the server full or shutting down, or
 * shed for want of fds). The server owns fd from here on. */
static void on_accepted(void *arg, mux_listener_t *listener, int fd,
                        const struct sockaddr *peer, socklen_t peer_len,
                        bool shed) {
    mux_server_t *server = arg;
    const mux_server_opts_t *o = &server->opts;
    /* add_conn() took the last one before any callback could accept. */
    assert(!server->admitting);
    if (shed) {
        refuse(server, listener, fd, peer, peer_len,
               "server full: out of file descriptors", true);
        return;
    }
    mux__source_count_t *count = NULL;
    char why[96];
    const char *reason =
        policy_refusal(server, peer, peer_len, &count, why, sizeof(why));
    if (reason) {
        refuse(server, listener, fd, peer, peer_len, reason, false);
        return;
    }
    if (o->max_clients && server->nclients >= o->max_clients)
        reason = "server full";
    else if (server->shutting_down && !server->draining)
        reason = "shutting down";
    if (reason) {
        mux__admission_release(server->admission, count);
        refuse(server, listener, fd, peer, peer_len, reason, true);
        return;
    }
    server->admitting = count; /* add_conn() takes it */
    mux__admission_note(server->admission);
    int err = admit(server, fd, peer, peer_len, listener->local);
    if (server->admitting) { /* the client was never added */
        server->admitting = NULL;
        mux__admission_release(server->admission, count);
    }
    if (err < 0)
        on_accept_error(server, listener, err);
}

static void shutdown_done(mux_server_t *server) {
    mux_timer_stop(&server->shutdown_timer);
    mux_event_t ev = {.type = MUX_EV_DONE};
    server_emit(server, &ev);
    if (server->stop_loop_when_done)
        mux_stop(server->loop);
}

/* Forgets a client that closed, reports its MUX_EV_CLOSE, then the end of
 * a graceful shutdown if it was the last. */
static void remove_conn(mux_server_t *server, mux_conn_t *conn,
                        mux_event_t *ev) {
    mux__conn_owned_t *owned = mux__conn_owned(conn);
    assert(owned->server == server && server->nclients > 0);
    assert(owned->prev || server->conns == conn); /* on the list */
    if (owned->prev)
        mux__conn_owned(owned->prev)->next = owned->next;
    else
        server->conns = owned->next;
    if (owned->next)
        mux__conn_owned(owned->next)->prev = owned->prev;
    owned->prev = owned->next = NULL;
    server->nclients--;
    mux__admission_leave(server->admission, owned->source);
    owned->source = NULL;
    mux__conn_add_bytes(conn, &server->counters);
    /* A shutdown begun by this CLOSE's own callback reports DONE itself,
     * and so does one still accepting its queues. */
    bool was_shutting_down = server->shutting_down && !server->draining;
    server_emit(server, ev);
    if (server->nclients == 0 && was_shutting_down)
        shutdown_done(server);
}

/* A client's events: the server's own members filled in; its close also
 * takes it off the list. */
static void on_conn_event(mux_conn_t *conn, mux_event_t *ev, void *arg) {
    mux_server_t *server = arg;
    if (ev->type == MUX_EV_CLOSE)
        remove_conn(server, conn, ev);
    else
        server_emit(server, ev);
}

/* Puts an admitted client on the list, with its id and per-source count. */
static void add_conn(mux_server_t *server, mux_conn_t *conn) {
    mux__conn_owned_t *owned = mux__conn_owned(conn);
    owned->server = server;
    owned->id = ++server->next_id;
    owned->source = server->admitting;
    mux__admission_hold(server->admitting);
    server->admitting = NULL;
    owned->prev = NULL;
    owned->next = server->conns;
    if (server->conns)
        mux__conn_owned(server->conns)->prev = conn;
    server->conns = conn;
    server->nclients++;
    server->counters.accepted++;
}

/* Serves an admitted client: a stream of this server's, on its list,
 * reported, then opened. Returns 0 or -errno (fd closed then). */
static int admit(mux_server_t *server, int fd, const struct sockaddr *peer,
                 socklen_t peer_len, const char *local) {
    mux_conn_t *conn;
    int err = mux__conn_new(server->loop, fd, server->service,
                            &server->conn_opts, peer, peer_len, local, &conn);
    if (err < 0)
        return err;
    add_conn(server, conn);
    /* The callbacks may close the client; outside a turn (serve_fd) that
     * would free it at once, before it is opened. */
    mux__loop_hold(server->loop);
    mux_event_t ev = {.type = MUX_EV_ACCEPT,
                      .conn = conn,
                      .transport =
                          peer->sa_family == AF_UNIX ? MUX_UNIX : MUX_TCP,
                      .peer = mux_conn_peer(conn),
                      .local = mux_conn_local(conn)};
    server_emit(server, &ev);
    if (mux__conn_is_open(conn))
        mux__conn_open(conn);
    mux__loop_release(server->loop);
    return 0;
}

/*
 * Calls fn on a snapshot of the clients, so that fn may close any of them
 * (their memory lives until the hold is released).
 */
static void each_conn(mux_server_t *server, bool open_only,
                      void (*fn)(mux_conn_t *conn, void *arg), void *arg) {
    size_t n = server->nclients;
    if (n == 0)
        return;
    mux_conn_t **all = malloc(n * sizeof(*all));
    if (!all)
        return;
    size_t i = 0;
    for (mux_conn_t *c = server->conns; c && i < n; c = next_conn(c))
        all[i++] = c;
    mux__loop_hold(server->loop);
    for (size_t k = 0; k < i; k++)
        if (!open_only || mux__conn_is_open(all[k]))
            fn(all[k], arg);
    mux__loop_release(server->loop);
    free(all);
}

void mux_server_foreach(mux_server_t *server,
                        void (*fn)(mux_conn_t *conn, void *arg), void *arg) {
    each_conn(server, true, fn, arg);
}

void mux_server_foreach_all(mux_server_t *server,
                            void (*fn)(mux_conn_t *conn, void *arg),
                            void *arg) {
    each_conn(server, false, fn, arg);
}

/* ------------------------------------------------------------------ */
/* Shutdown and teardown                                               */
/* ------------------------------------------------------------------ */

static void destroy_conn(mux_conn_t *conn, void *arg) {
    MUX__UNUSED(arg);
    mux__conn_destroy(conn);
}

static void shutdown_conn(mux_conn_t *conn, void *arg) {
    MUX__UNUSED(arg);
    mux__conn_shutdown(conn);
}

static void on_shutdown_timeout(mux_loop_t *loop, mux_timer_t *timer,
                                void *arg) {
    MUX__UNUSED(loop);
    MUX__UNUSED(timer);
    mux_server_t *server = arg;
    each_conn(server, false, destroy_conn, NULL);
}

/*
 * The per-client pass of a graceful shutdown reads sockets into the loop's
 * scratch buffer and calls services. Run from a service callback, it would
 * re-enter the connection being served and overwrite the bytes still being
 * cut into lines, so it runs from a timer, once that callback returned.
 */
static void on_shutdown_drain(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    MUX__UNUSED(loop);
    MUX__UNUSED(timer);
    mux_server_t *server = arg;
    each_conn(server, false, shutdown_conn, NULL);
}

/* Every client whose connect() the kernel completed is served: the
 * listeners' queues are emptied before they close (a close resets what
 * waits there). */
static void accept_waiting(mux_server_t *server) {
    server->draining = true;
    mux__loop_hold(server->loop); /* a callback may close the listeners */
    for (mux_listener_t *l = server->listeners; l; l = l->next)
        mux__listener_drain(l);
    mux__loop_release(server->loop);
    server->draining = false;
}

void mux_server_shutdown(mux_server_t *server, uint64_t timeout_ms) {
    if (server->shutting_down)
        return;
    server->shutting_down = true;
    accept_waiting(server);
    mux_server_close_listeners(server);
    mux_event_t ev = {.type = MUX_EV_SHUTDOWN};
    server_emit(server, &ev);
    if (server->nclients == 0) {
        shutdown_done(server);
        return;
    }
    if (timeout_ms)
        mux_timer_start(&server->shutdown_timer, timeout_ms, 0);
    if (mux_timer_start(&server->drain_timer, 0, 0) < 0)
        each_conn(server, false, shutdown_conn, NULL); /* no memory: now */
}

static void unwatch_signals(mux_server_t *server) {
    if (!server->watches_signals)
        return;
    mux_signal(server->loop, SIGINT, NULL, NULL);
    mux_signal(server->loop, SIGTERM, NULL, NULL);
    server->watches_signals = false;
}

/* First signal: a graceful shutdown that stops the loop when done; second:
 * every client closed now, and the loop stopped. */
static void on_stop_signal(mux_loop_t *loop, int signo, void *arg) {
    MUX__UNUSED(signo);
    mux_server_t *server = arg;
    if (server->stop_loop_when_done) {
        each_conn(server, false, destroy_conn, NULL);
        mux_stop(loop);
        return;
    }
    server->stop_loop_when_done = true;
    mux_server_shutdown(server, server->signal_timeout_ms);
}

int mux_server_stop_on_signals(mux_server_t *server, uint64_t timeout_ms) {
    server->signal_timeout_ms = timeout_ms;
    int err = mux_signal(server->loop, SIGINT, on_stop_signal, server);
    if (err == 0)
        err = mux_signal(server->loop, SIGTERM, on_stop_signal, server);
    server->watches_signals = true;
    if (err < 0)
        unwatch_signals(server);
    return err;
}

void mux_server_free(mux_server_t *server) {
    if (!server)
        return;
    mux__loop_hold(server->loop);
    unwatch_signals(server);
    mux_server_close_listeners(server);
    server->shutting_down = false; /* no MUX_EV_DONE from a teardown */
    each_conn(server, false, destroy_conn, NULL);
    mux_timer_stop(&server->shutdown_timer);
    mux_timer_stop(&server->drain_timer);
    if (server->spare_fd >= 0)
        close(server->spare_fd);
    mux__dgram_sources_free(server->datagrams.sources);
    mux__admission_free(server->admission);
    mux__loop_release(server->loop);
    free(server);
}

/* A client that follows the server's faults (`arg`, the set before the
 * call) follows the new set; one given its own keeps it. */
static void faults_changed(mux_conn_t *conn, void *arg) {
    if (mux_conn_faults(conn) == arg)
        mux_conn_set_faults(conn, NULL); /* its opts': the server's */
}

void mux_server_set_faults(mux_server_t *server, const mux_faults_t *faults) {
    const mux_faults_t *before = server->conn_opts.faults;
    server->opts.faults = faults;
    server->conn_opts.faults = faults;
    server->listening.accept_delay_ms =
        mux_faults_get(faults, MUX_FAULT_ACCEPT_DELAY_MS);
    each_conn(server, false, faults_changed, (void *)before);
}
