/*
 * control.h -- muxd's control socket (--control): a second server on
 * muxd's loop whose clients send the commands of control_cmd.h, one per
 * line, and read one JSON reply line each (docs/fixtures.md).
 */
#ifndef MUXD_CONTROL_H
#define MUXD_CONTROL_H

#include "control_cmd.h"
#include "faults.h"
#include "proxies.h"

#include "mux.h"

#include <stdbool.h>

/* Control clients at once; one more closes the one idle for longest. */
#define MUXD_CONTROL_CLIENTS 16
/* Replies a control client may leave unread: past it, at its next
 * command, it is dropped. */
#define MUXD_CONTROL_MAX_PENDING (256 * 1024)

typedef struct muxd_control muxd_control_t;

/* What the commands act on: the serving muxd's server and faults, and the
 * few things only it can do (serve.c fills it in). */
typedef struct {
    mux_server_t *server;
    muxd_faults_t *faults;
    void (*faults_changed)(void *arg); /* after an add, del or clear */
    bool (*refusing)(void *arg);       /* `refuse on` in force */
    void (*set_refusing)(void *arg, bool on);
    void (*shutdown)(void *arg, const char *why); /* as SIGTERM does */
    /* Proxy slot `slot` (0 .. proxy_slots - 1) into *info; false for a
     * free slot. Its listeners' addresses: proxy_listener(arg, slot, j,
     * &local) for j = 0, 1, ... while below what it returns. */
    bool (*proxy)(void *arg, size_t slot, muxd_proxy_info_t *info);
    size_t proxy_slots;
    size_t (*proxy_listener)(void *arg, size_t slot, size_t j,
                             const char **local);
    /* As muxd_proxies_add(), _update(), _del() (proxies.h); del makes the
     * faults the proxy had forgotten too. */
    long (*proxy_add)(void *arg, const muxd_proxy_spec_t *spec, char *err,
                      size_t size);
    int (*proxy_update)(void *arg, size_t slot, const muxd_proxy_spec_t *spec,
                        char *err, size_t size);
    void (*proxy_del)(void *arg, size_t slot);
    void *arg;
} muxd_control_target_t;

/* The commands (control_cmd.h), each acting on a muxd_control_target_t:
 * the `target` of muxd_control_command(). */
extern const muxd_control_cmd_t muxd_control_commands[];

/*
 * Listens on `addr` (`text` as given, for messages) and serves the
 * commands on `target` (copied), whose server must exist. A unix socket is
 * created mode 0600 and removed by muxd_control_free() while it is still ours.
 * Logs why and returns -errno on failure; else 0 and *out.
 */
int muxd_control_start(const muxd_control_target_t *target,
                       const mux_addr_t *addr, const char *text,
                       muxd_control_t **out);

/* Closes the control socket and its clients. NULL is a no-op. */
void muxd_control_free(muxd_control_t *control);

#endif
