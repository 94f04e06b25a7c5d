/*
 * serve.c -- one muxd process serving (serve.h): the loop and the server
 * made from the options, the signals, the default client limit and
 * --max-accepts. The server is libmux.
 */
#define _POSIX_C_SOURCE 200809L

#include "serve.h"
#include "acl.h"
#include "api.h"
#include "control.h"
#include "fixture.h"
#include "log.h"
#include "proxies.h"
#include "relay.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Everything a running muxd holds, for the callbacks. */
typedef struct muxd {
    muxd_options_t *opts;
    muxd_ready_t *ready;
    unsigned worker; /* 1..N in a --workers process, else 0 */
    mux_loop_t *loop;
    mux_server_t *server;
    int signals;       /* how many stop signals arrived */
    uint64_t accepted; /* clients admitted, for --max-accepts */
    /* A graceful stop's end (mux_now()'s clock): --shutdown-timeout after
     * it began, for the clients and a relay's upstreams alike. */
    uint64_t stop_deadline_ms;
    /* The faults in force (--fault), or NULL: then clients cost nothing
     * for them. With a registry, every client has a muxd_conn_faults_t,
     * its stream's faults (mux_conn_faults()) pointing into it. */
    muxd_faults_t *faults;
    mux_faults_t *server_faults; /* the server's part of them (accept delay) */
    muxd_control_t *control;     /* --control, or NULL */
    muxd_api_t *api;             /* --api, or NULL */
    char api_bound[MUX_ADDRSTRLEN + 16];
    bool refusing;           /* control's `refuse on` */
    muxd_relay_t *relay;     /* --to or --api, or NULL */
    muxd_proxies_t *proxies; /* the relay's */
} muxd_t;

/* Control's `refuse on|off`: new clients are reset at once, or served. */
static void set_refusing(void *arg, bool on) { ((muxd_t *)arg)->refusing = on; }
static bool refusing(void *arg) { return ((muxd_t *)arg)->refusing; }

/* ---- faults: what each client gets ---- */

/* A new client: its faults drawn; refused or black-holed here. */
static void faults_accept(muxd_t *muxd, mux_conn_t *conn) {
    muxd_conn_faults_t *cf = muxd_conn_faults_new();
    if (!cf) { /* nothing to hang its faults on: not served */
        mux_conn_close(conn, MUX_CLOSE_NOW);
        return;
    }
    if (muxd->relay)
        cf->proxy = muxd_relay_index_of(muxd->relay, conn);
    muxd_faults_pick(muxd->faults, muxd->relay != NULL, cf);
    cf->refuse |= muxd->refusing;
    if (cf->nomem) { /* not its stream's yet: its close would not free it */
        muxd_conn_faults_free(cf);
        mux_conn_close(conn, MUX_CLOSE_NOW);
        return;
    }
    bool refuse = cf->refuse;
    mux_conn_set_faults(conn, cf->client);
    if (refuse) /* nothing is sent yet: a reset at once */
        mux_conn_close(conn, MUX_CLOSE_RESET);
}

/* A client that leaves gives its faults back. */
static void faults_close(mux_conn_t *conn) {
    muxd_conn_faults_free(muxd_conn_faults_of(conn));
}

static void refresh_client(mux_conn_t *conn, void *arg) {
    muxd_t *muxd = arg;
    muxd_conn_faults_t *cf = muxd_conn_faults_of(conn);
    if (!cf || !muxd_faults_refresh(muxd->faults, muxd->relay != NULL, cf))
        return;
    if (cf->nomem) {
        mux_conn_close(conn, MUX_CLOSE_NOW); /* frees cf */
        return;
    }
    mux_conn_set_faults(conn, cf->client); /* the same: read again */
    /* Held bytes released to a client that left may end it here, and its
     * close frees cf: then nothing is left to pass on. */
    if (muxd->relay && !mux_conn_close_reason(conn))
        muxd_relay_faults_changed(conn);
}

/* After the registry changed: the server's accept delay, and every open
 * client's faults, brought up to date. */
static void faults_changed(muxd_t *muxd) {
    muxd_faults_server(muxd->faults, muxd->relay != NULL, muxd->server_faults);
    mux_server_set_faults(muxd->server, muxd->server_faults);
    mux_server_foreach_all(muxd->server, refresh_client, muxd);
    /* Last: every connection has forgotten the deleted faults. */
    muxd_faults_settle(muxd->faults);
}

/* The registry of --fault's specs, and of the control socket's faults
 * (then it exists even empty). Returns 0 or -ENOMEM. */
static int faults_new(muxd_t *muxd) {
    muxd_options_t *o = muxd->opts;
    if (!o->nfaults && !o->control_text && !o->api_text)
        return 0;
    if (!(muxd->faults = muxd_faults_new(o->seed)) ||
        !(muxd->server_faults = mux_faults_new()))
        return -ENOMEM;
    return 0;
}

/* --fault's specs, once the proxies they may name are there. */
static void faults_load(muxd_t *muxd) {
    muxd_options_t *o = muxd->opts;
    if (!muxd->faults)
        return;
    if (muxd->proxies)
        muxd_faults_proxies(muxd->faults, muxd_proxies_names(muxd->proxies),
                            MUXD_PROXIES_MAX);
    for (size_t i = 0; i < o->nfaults; i++)
        muxd_faults_add(muxd->faults, o->faults[i], NULL, 0);
    muxd_faults_server(muxd->faults, muxd->relay != NULL, muxd->server_faults);
    o->server.faults = muxd->server_faults;
}

/*
 * --max-accepts: the Nth client closes the listeners (those waiting in the
 * backlog are reset) while the N are served as long as they stay; the
 * last one to leave ends muxd, with exit status 0.
 */
static void count_accept(muxd_t *muxd) {
    muxd_options_t *o = muxd->opts;
    if (!o->max_accepts || ++muxd->accepted != o->max_accepts)
        return;
    mux_server_close_listeners(muxd->server);
    muxd_log_text(MUXD_LOG_NORMAL,
                  "accepted %" PRIu64 " client%s (--max-accepts): listeners "
                  "closed",
                  muxd->accepted, muxd->accepted == 1 ? "" : "s");
    muxd_ready_stopping(muxd->ready);
}

static void stop_loop(void *loop) { mux_stop(loop); }

static void on_event(mux_server_t *server, const mux_event_t *ev, void *arg) {
    muxd_t *muxd = arg;
    muxd_options_t *o = muxd->opts;
    muxd_log_event(ev);
    if (ev->type == MUX_EV_LISTEN && muxd->proxies)
        muxd_proxies_listened(muxd->proxies, ev->local);
    if (ev->type == MUX_EV_ACCEPT && muxd->faults)
        faults_accept(muxd, ev->conn);
    if (ev->type == MUX_EV_CLOSE && muxd->faults)
        faults_close(ev->conn);
    if (ev->type == MUX_EV_ACCEPT)
        count_accept(muxd);
    if (ev->type == MUX_EV_CLOSE && o->max_accepts &&
        muxd->accepted >= o->max_accepts && ev->clients == 0)
        mux_server_shutdown(server, 0); /* nobody left: DONE at once */
    if (ev->type == MUX_EV_SHUTDOWN) {
        muxd->stop_deadline_ms = mux_now(muxd->loop) + o->shutdown_timeout_ms;
        muxd_ready_stopping(muxd->ready);
        if (muxd->relay) /* what waits for an upstream is read too */
            muxd_relay_stopping(muxd->relay);
    }
    if (ev->type == MUX_EV_DONE && muxd->relay) /* the upstreams flush */
        muxd_relay_finish(muxd->relay, muxd->stop_deadline_ms, stop_loop,
                          muxd->loop);
    else if (ev->type == MUX_EV_DONE)
        mux_stop(muxd->loop);
}

static void on_stats_signal(mux_loop_t *loop, int signo, void *arg) {
    (void)loop;
    (void)signo;
    muxd_t *muxd = arg;
    mux_server_stats_t stats;
    mux_server_stats(muxd->server, &stats);
    muxd_log_stats(&stats);
}

const char *muxd_stop_signal_name(int signo) {
    return signo == SIGINT ? "SIGINT" : signo == SIGHUP ? "SIGHUP" : "SIGTERM";
}

/* The graceful stop SIGTERM starts (`why` names the cause in the log);
 * a second call stops at once. */
static void muxd_shutdown(muxd_t *muxd, const char *why) {
    if (muxd->signals++ > 0) { /* asked twice: stop waiting for clients */
        mux_stop(muxd->loop);
        return;
    }
    muxd_log_text(MUXD_LOG_NORMAL, "%s: shutting down", why);
    /* 0 means "do not wait"; the library's 0 would mean "no limit". */
    uint64_t ms = muxd->opts->shutdown_timeout_ms;
    mux_server_shutdown(muxd->server, ms ? ms : 1);
}

static void on_stop_signal(mux_loop_t *loop, int signo, void *arg) {
    (void)loop;
    muxd_shutdown(arg, muxd_stop_signal_name(signo));
}

/* Signals first: a script may send SIGTERM as soon as it sees ready. A
 * worker leaves the terminal's SIGINT and SIGHUP to its parent, which
 * passes them on as SIGTERM. */
static int watch_signals(muxd_t *muxd) {
    int err = 0;
    if (muxd->worker) {
        signal(SIGINT, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
    } else if ((err = mux_signal(muxd->loop, SIGINT, on_stop_signal, muxd)) ==
               0)
        err = mux_signal(muxd->loop, SIGHUP, on_stop_signal, muxd);
    if (err == 0)
        err = mux_signal(muxd->loop, SIGTERM, on_stop_signal, muxd);
    if (err == 0)
        err = mux_signal(muxd->loop, SIGUSR1, on_stats_signal, muxd);
    if (err < 0)
        muxd_log_error("cannot watch signals: %s", mux_strerror(err));
    return err;
}

/* Why a listen failed, in words a person can act on. */
static const char *listen_hint(const mux_addr_t *addr, int err) {
    if (err == -EACCES && addr->transport != MUX_UNIX &&
        strtoul(addr->port, NULL, 10) < 1024 && addr->port[0] >= '0' &&
        addr->port[0] <= '9')
        return " (ports below 1024 need root or CAP_NET_BIND_SERVICE)";
    if (err == -EPROTONOSUPPORT)
        return " (this service has no UDP form)";
    return "";
}

/* The -l listeners; each --to's go to its proxy (with one --to, every
 * listener's, inherited ones too). */
static int listen_all(muxd_t *muxd) {
    muxd_options_t *o = muxd->opts;
    size_t fallback = o->relay.nupstreams == 1 ? 0 : SIZE_MAX;
    for (size_t i = 0; i < o->nlisten; i++) {
        if (muxd->proxies)
            muxd_proxies_bind(muxd->proxies, o->listen_upstream[i], fallback);
        int err = mux_server_listen_addr(muxd->server, &o->listen[i]);
        int route_err =
            muxd->proxies ? muxd_proxies_bind(muxd->proxies, SIZE_MAX, fallback)
                          : 0;
        if (err == 0 && route_err == -EEXIST) {
            muxd_log_error(
                "cannot listen on %s for --to %s: the address "
                "is another --to's listener already",
                o->listen_text[i],
                o->relay.upstreams[o->listen_upstream[i]].upstream_text);
            return -EEXIST;
        }
        if (err == 0 && (err = route_err) < 0) {
            muxd_log_error("cannot route %s to its upstream: %s",
                           o->listen_text[i], mux_strerror(err));
            return err;
        }
        if (err == -EPROTONOSUPPORT && o->listen[i].transport == MUX_UDP) {
            muxd_log_error("cannot listen on %s: the %s service has no "
                           "datagram form (see muxd --help)",
                           o->listen_text[i],
                           o->config.service->callbacks.name);
            return err;
        }
        if (err < 0) {
            muxd_log_error("cannot listen on %s: %s%s", o->listen_text[i],
                           mux_strerror(err), listen_hint(&o->listen[i], err));
            return err;
        }
    }
    return 0;
}

/* Inherited sockets (socket activation, --fd), after the bound ones. */
static int adopt_inherited(muxd_t *muxd) {
    muxd_options_t *o = muxd->opts;
    for (size_t i = 0; i < o->ninherited; i++) {
        int err = mux_server_adopt(muxd->server, o->inherited[i]);
        if (err < 0) {
            muxd_log_error("cannot serve the inherited fd %d: %s",
                           o->inherited[i], mux_strerror(err));
            return err;
        }
    }
    return 0;
}

/* Once everything is in place: the files, --user, then the ready lines
 * and READY=1, or, in a worker, the report to the parent. */
static int announce_ready(muxd_t *muxd) {
    char *text = muxd_ready_text(muxd->server);
    if (!text) {
        muxd_log_error("cannot announce readiness: %s", mux_strerror(-ENOMEM));
        return -ENOMEM;
    }
    int err = muxd_ready_announce(muxd->ready, text, muxd->opts->user);
    free(text);
    return err;
}

/* Free fds the default client limit leaves for muxd's own use while it
 * runs (the socket that tells $NOTIFY_SOCKET "STOPPING=1", and one more). */
#define MUXD_FDS_IN_RESERVE 2

void muxd_raise_fd_limit(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* The fds open below `limit`: /proc/self/fd lists them (and the fd that
 * reads it, not counted), or else each one is asked. */
static long open_fds_below(long limit) {
    long n = 0;
    DIR *dir = opendir("/proc/self/fd");
    if (!dir) {
        for (long fd = 0; fd < limit; fd++)
            n += fcntl((int)fd, F_GETFD) >= 0;
        return n;
    }
    for (struct dirent *e; (e = readdir(dir)) != NULL;) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        n += e->d_name[0] != '.' && !*end && fd < limit && fd != dirfd(dir);
    }
    closedir(dir);
    return n;
}

/*
 * The default client limit: the fds now free below RLIMIT_NOFILE (stdio,
 * the loop's pipe, the spare fd, the listeners and inherited fds are open
 * already; a few are kept in reserve). Counted, not derived from the
 * highest open fd: one inherited fd at 900 leaves the 900 below it to
 * clients.
 */
static unsigned default_max_clients(void) {
    long limit = INT_MAX;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)limit)
        limit = (long)rl.rlim_cur;
    long free_fds = limit - open_fds_below(limit) - MUXD_FDS_IN_RESERVE;
    if (free_fds > (long)UINT_MAX)
        free_fds = (long)UINT_MAX;
    return free_fds > 1 ? (unsigned)free_fds : 1;
}

/* --to or --api: the relay is the service, its proxies the --to's (the
 * API adds more). Returns 0 or -ENOMEM. */
static int relay_start(muxd_t *muxd, const mux_service_t **service) {
    muxd_options_t *o = muxd->opts;
    if (!o->relay.nupstreams && !o->api_text)
        return 0;
    muxd->relay = muxd_relay_new(muxd->loop, &o->relay, o->server.max_output,
                                 o->server.idle_timeout_ms);
    if (!muxd->relay ||
        !(muxd->proxies = muxd_proxies_new(muxd->relay, muxd->faults,
                                           o->host ? o->host : "127.0.0.1")))
        return -ENOMEM;
    for (size_t k = 0; k < o->relay.nupstreams; k++)
        if (muxd_proxies_adopt(muxd->proxies, &o->relay.upstreams[k]) != k)
            return -ENOMEM;
    *service = muxd_relay_service();
    o->server.service_arg = muxd->relay;
    return 0;
}

/* The control socket's view of this muxd. */
static void control_faults_changed(void *arg) { faults_changed(arg); }
static bool control_proxy(void *arg, size_t slot, muxd_proxy_info_t *info) {
    const muxd_t *muxd = arg;
    return muxd->proxies && muxd_proxies_info(muxd->proxies, slot, info);
}
static size_t control_proxy_listener(void *arg, size_t i, size_t j,
                                     const char **local) {
    return muxd_relay_listener(((muxd_t *)arg)->relay, i, j, local);
}
static long control_proxy_add(void *arg, const muxd_proxy_spec_t *spec,
                              char *err, size_t size) {
    muxd_t *muxd = arg;
    if (muxd->proxies)
        return muxd_proxies_add(muxd->proxies, spec, err, size);
    snprintf(err, size, "this muxd relays nothing: proxies need --to or --api");
    return -EINVAL;
}
static int control_proxy_update(void *arg, size_t slot,
                                const muxd_proxy_spec_t *spec, char *err,
                                size_t size) {
    return muxd_proxies_update(((muxd_t *)arg)->proxies, slot, spec, err, size);
}
static void control_proxy_del(void *arg, size_t slot) {
    muxd_t *muxd = arg;
    if (muxd_proxies_del(muxd->proxies, slot))
        faults_changed(muxd);
}
static void control_shutdown(void *arg, const char *why) {
    muxd_shutdown(arg, why);
}

/* What the control socket and the API act on. */
static muxd_control_target_t control_target(muxd_t *muxd) {
    return (muxd_control_target_t){.server = muxd->server,
                                   .faults = muxd->faults,
                                   .faults_changed = control_faults_changed,
                                   .refusing = refusing,
                                   .set_refusing = set_refusing,
                                   .shutdown = control_shutdown,
                                   .proxy = control_proxy,
                                   .proxy_slots = MUXD_PROXIES_MAX,
                                   .proxy_listener = control_proxy_listener,
                                   .proxy_add = control_proxy_add,
                                   .proxy_update = control_proxy_update,
                                   .proxy_del = control_proxy_del,
                                   .arg = muxd};
}

static int control_start(muxd_t *muxd) {
    const muxd_options_t *o = muxd->opts;
    const muxd_control_target_t target = control_target(muxd);
    return muxd_control_start(&target, &o->control, o->control_text,
                              &muxd->control);
}

/* --api: toxiproxy's HTTP API on the same view. */
static int api_start(muxd_t *muxd) {
    const muxd_options_t *o = muxd->opts;
    const muxd_control_target_t target = control_target(muxd);
    if (!(muxd->api = muxd_api_new(&target))) {
        muxd_log_error("cannot serve --api: %s", mux_strerror(-ENOMEM));
        return -ENOMEM;
    }
    int err = o->api_config ? muxd_api_load(muxd->api, o->api_config) : 0;
    if (err < 0)
        return err;
    return muxd_api_listen(muxd->api, o->api_text, o->api_remote,
                           muxd->api_bound, sizeof(muxd->api_bound));
}

/* After the ready lines: where the API is (its port may be 0's pick). */
static int announce_api(muxd_t *muxd) {
    char line[sizeof(muxd->api_bound) + 32];
    int n = snprintf(line, sizeof(line), "api on http://%s\n", muxd->api_bound);
    int err = muxd_write_all(STDOUT_FILENO, line, (size_t)n);
    if (err < 0)
        muxd_log_error("cannot write the api line to stdout: %s",
                       mux_strerror(err));
    return err;
}

/* Everything up to the ready lines: server, signals, listeners. */
static int start(muxd_t *muxd) {
    muxd_options_t *o = muxd->opts;
    const mux_service_t *service = &o->config.service->callbacks;
    o->server.on_event = on_event;
    o->server.event_arg = muxd;
    o->server.service_arg = &o->config;
    o->server.full_message = "muxd: server full\n";
    if (o->acl.nallow || o->acl.ndeny) {
        o->server.filter = muxd_acl_filter;
        o->server.filter_arg = &o->acl;
    }
    int err = faults_new(muxd);
    if (err == 0)
        err = relay_start(muxd, &service);
    if (err < 0) {
        muxd_log_error("cannot set up the faults or the relay: %s",
                       mux_strerror(err));
        return err;
    }
    faults_load(muxd);
    err = mux_server_new(muxd->loop, service, &o->server, &muxd->server);
    if (err < 0) {
        muxd_log_error("cannot create the server: %s", mux_strerror(err));
        return err;
    }
    if (muxd->proxies)
        muxd_proxies_attach(muxd->proxies, muxd->server);
    if ((err = watch_signals(muxd)) < 0 || (err = listen_all(muxd)) < 0 ||
        (err = adopt_inherited(muxd)) < 0)
        return err;
    if (o->control_text && (err = control_start(muxd)) < 0)
        return err;
    if (o->api_text && (err = api_start(muxd)) < 0)
        return err;
    if (!o->server.max_clients)
        mux_server_set_max_clients(muxd->server, default_max_clients());
    err = announce_ready(muxd);
    return err == 0 && muxd->api ? announce_api(muxd) : err;
}

int muxd_serve(muxd_options_t *o, muxd_ready_t *ready, unsigned worker) {
    muxd_t muxd = {.opts = o, .ready = ready, .worker = worker};
    muxd.faults = NULL;
    int err = mux_loop_new(&muxd.loop);
    if (err < 0) {
        muxd_log_error("cannot create the event loop: %s", mux_strerror(err));
        return 1;
    }
    muxd_log_attach(muxd.loop);
    err = start(&muxd);
    if (err == 0 && (err = mux_run(muxd.loop, MUX_RUN_DEFAULT)) < 0)
        muxd_log_error("event loop failed: %s", mux_strerror(err));
    muxd_control_free(muxd.control);
    muxd_api_free(muxd.api);
    mux_server_free(muxd.server);
    muxd_relay_free(muxd.relay);
    muxd_proxies_free(muxd.proxies);
    muxd_faults_free(muxd.faults);
    mux_faults_free(muxd.server_faults);
    muxd_log_attach(NULL);
    mux_loop_free(muxd.loop);
    muxd_ready_remove(ready);
    return err < 0 ? 1 : 0;
}
