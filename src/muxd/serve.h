/*
 * serve.h -- one muxd process serving: the loop, the server on the
 * command line's options, the signals that stop it, --max-accepts.
 */
#ifndef MUXD_SERVE_H
#define MUXD_SERVE_H

#include "cli.h"
#include "ready.h"

#include <stdbool.h>

/*
 * Serves with `o` until a stop signal (or --max-accepts) ends it: binds,
 * announces readiness through `ready`, runs the loop, takes the
 * announcement back. `worker` is 1..N in a --workers process (it leaves
 * SIGINT and SIGHUP to its parent), else 0. Returns the exit status.
 */
int muxd_serve(muxd_options_t *o, muxd_ready_t *ready, unsigned worker);

/* "SIGTERM", "SIGINT" or "SIGHUP": the signals that stop muxd. */
const char *muxd_stop_signal_name(int signo);

/*
 * Raises the soft fd limit to the hard one, so that muxd holds as many
 * clients as the system lets it (select() takes any fd below it: the
 * loop's sets grow). Best effort: muxd runs with the limit it was given
 * if this fails.
 */
void muxd_raise_fd_limit(void);

#endif
