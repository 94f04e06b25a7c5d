/*
 * fixture.h -- what makes muxd easy to run from a test script or a service
 * manager: files written atomically (--ready-file, --pidfile), systemd
 * socket activation and readiness notification, written by hand (no
 * libsystemd).
 */
#ifndef MUXD_FIXTURE_H
#define MUXD_FIXTURE_H

#include "mux.h"

#include <stddef.h>

/* Writes all `len` bytes to `fd` (EINTR and short writes retried).
 * Returns 0 or -errno. */
int muxd_write_all(int fd, const char *data, size_t len);

/*
 * Writes `len` bytes of `data` to `path` so that a reader sees either no
 * file or the whole of it: into a temporary file next to it
 * ("PATH.XXXXXX"), then rename(). The file is mode 0644. Returns 0 or
 * -errno (nothing is left behind then).
 */
int muxd_write_atomic(const char *path, const char *data, size_t len);

/*
 * Socket activation (sd_listen_fds(3)): if $LISTEN_PID is this process
 * and $LISTEN_FDS is N, stores the fds 3 .. 3+N-1 in `fds` (the first
 * `max` of them) and returns N; returns 0 if the variables are unset or
 * meant for another process, -EINVAL if they do not parse. Either way
 * LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES are removed from the
 * environment, so that nothing started later takes them for its own.
 */
int muxd_listen_fds(int *fds, size_t max);

/*
 * Sends `state` ("READY=1", "STOPPING=1") as one datagram to the unix
 * socket named by $NOTIFY_SOCKET: a path, or "@name" for the abstract
 * namespace. Never blocks. Returns 0 (also when $NOTIFY_SOCKET is unset),
 * or -errno: -EAFNOSUPPORT for an address form it does not know (e.g.
 * vsock:), -ENAMETOOLONG, or what socket() and sendto() returned.
 */
int muxd_notify(const char *state);

/*
 * The server's listeners as ready-file text, "tcp 127.0.0.1:43121\n" per
 * listener, in a string the caller frees; NULL when out of memory.
 */
char *muxd_ready_text(const mux_server_t *server);

/*
 * Tells the world muxd is ready, in this order: writes `pidfile` (if not
 * NULL), writes `ready_file` (if not NULL) with `lines`, prints each line
 * of `lines` to stdout as "listening on LINE" and flushes, sends READY=1
 * to $NOTIFY_SOCKET. So a script that sees a ready line on stdout finds
 * both files in place. Returns 0, or -errno when a file could not be
 * written (logged); a failed notification is only logged.
 */
int muxd_announce(const char *pidfile, const char *ready_file,
                  const char *lines);

/* Sends STOPPING=1 to $NOTIFY_SOCKET, the first time it is called. */
void muxd_announce_stopping(void);

/* Removes the pidfile and the ready file if muxd_announce() wrote them. */
void muxd_remove_files(const char *pidfile, const char *ready_file);

#endif
