/*
 * muxd.h -- what the parts of the muxd program share: its options, and the
 * entry points --workers runs in each worker process.
 */
#ifndef MUXD_H
#define MUXD_H

#include "acl.h"
#include "log.h"
#include "services.h"

#include "mux.h"

#include <stdint.h>

#define MAX_LISTEN 64
/* Ready lines: one listener can resolve to several (localhost, *). */
#define MAX_LISTENERS (MAX_LISTEN * 4)

typedef struct {
    mux_addr_t listen[MAX_LISTEN];
    size_t nlisten;
    const char *listen_text[MAX_LISTEN]; /* as given, for messages */
    const char *host;                    /* -H */
    const char *port;                    /* -p */
    const mux_service_t *service;
    mux_server_opts_t server;
    muxd_service_config_t config;
    muxd_log_t log;
    muxd_acl_t acl;
    uint64_t shutdown_timeout_ms;
    const char *user; /* --user: whom to become after binding */
    /* For test scripts and service managers (docs/fixtures.md). */
    int inherited[MAX_LISTEN]; /* LISTEN_FDS sockets, then --fd ones */
    size_t ninherited;
    const char *ready_file, *pidfile;
    uint64_t max_accepts; /* 0: no limit */
    unsigned workers;     /* --workers; 0 or 1: this process serves */
    /* Set in a worker process of --workers only. */
    unsigned worker; /* 1..workers */
    int report_fd;   /* where the worker reports its ready addresses */
} options_t;

/*
 * Serves with `o` until a stop signal (or --max-accepts) ends it: binds,
 * announces readiness (ready lines, files, notification; a worker reports
 * to its parent instead), runs the loop. Returns the exit status.
 */
int muxd_serve(options_t *o);

/* "SIGTERM", "SIGINT" or "SIGHUP": the signals that stop muxd. */
const char *muxd_stop_signal_name(int signo);

/* --user: becomes `name` (groups too) for good. Returns 0 or -errno,
 * having logged why. */
int muxd_drop_privileges(const char *name);

#endif
