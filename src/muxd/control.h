/*
 * control.h -- muxd's control socket (--control): a second server on
 * muxd's loop whose clients send the commands of control_cmd.h, one per
 * line, and read one JSON reply line each (docs/fixtures.md).
 */
#ifndef MUXD_CONTROL_H
#define MUXD_CONTROL_H

#include "serve.h"

/* Control clients at once; one more is told so and closed. */
#define MUXD_CONTROL_CLIENTS 16
/* Replies a control client may leave unread: past it, at its next
 * command, it is dropped. */
#define MUXD_CONTROL_MAX_PENDING (256 * 1024)

typedef struct muxd_control muxd_control_t;

/*
 * Listens on `addr` (`text` as given, for messages) and serves the
 * commands on `muxd`, whose server must exist. A unix socket is created
 * mode 0600 and removed by muxd_control_free() while it is still ours.
 * Logs why and returns -errno on failure; else 0 and *out.
 */
int muxd_control_start(muxd_t *muxd, const mux_addr_t *addr, const char *text,
                       muxd_control_t **out);

/* Closes the control socket and its clients. NULL is a no-op. */
void muxd_control_free(muxd_control_t *control);

#endif
