/*
 * workers.h -- muxd --workers N: N single-threaded worker processes, each
 * its own select() loop on its own SO_REUSEPORT sockets of the same
 * addresses, and a parent that starts, watches and stops them.
 */
#ifndef MUXD_WORKERS_H
#define MUXD_WORKERS_H

#include "cli.h"
#include "ready.h"

/*
 * Runs o->workers workers (see docs/fixtures.md): the first binds the
 * addresses as given (port 0 picks a port) and reports what it bound; the
 * others bind exactly those addresses; every worker also serves the
 * inherited sockets (muxd_serve()). Then the parent announces readiness
 * once through `ready` (files, ready lines, READY=1) and waits: SIGTERM or
 * SIGINT stops every worker gracefully, SIGUSR1 makes each print its stats
 * line, a worker that dies is reported and replaced (with a back-off), one
 * stopped by a signal for 3 s is killed and replaced. Returns the exit
 * status: 0 once every worker exited 0 after being asked to stop, 1 if one
 * failed to start, or died or exited on its own during the run.
 */
int muxd_workers_run(muxd_options_t *o, muxd_ready_t *ready);

#endif
