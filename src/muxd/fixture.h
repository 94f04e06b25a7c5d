/*
 * fixture.h -- the small protocols a test script or a service manager
 * speaks with muxd: files written atomically (--ready-file, --pidfile),
 * systemd socket activation and readiness notification, written by hand
 * (no libsystemd). ready.h says when muxd uses them.
 */
#ifndef MUXD_FIXTURE_H
#define MUXD_FIXTURE_H

#include "mux.h"

#include <stddef.h>
#include <sys/stat.h>

/* Writes all `len` bytes to `fd` (EINTR and short writes retried).
 * Returns 0 or -errno. */
int muxd_write_all(int fd, const char *data, size_t len);

/*
 * Writes `len` bytes of `data` to `path` so that a reader sees either no
 * file or the whole of it: into a temporary file next to it
 * ("PATH.XXXXXX"), then rename(). The file is mode 0644. If `made` is not
 * NULL it gets the file's stat (its device and inode say later whether the
 * path is still this file). Returns 0 or -errno (nothing is left behind
 * then).
 */
int muxd_write_atomic(const char *path, const char *data, size_t len,
                      struct stat *made);

/*
 * Unlinks `path` only if it is still the file `made` describes (same
 * device and inode): one that another process put there since is left
 * alone. Returns 0 (also when the path is gone or no longer ours), or
 * -errno.
 */
int muxd_unlink_own(const char *path, const struct stat *made);

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
 * Checks the inherited sockets (--fd, LISTEN_FDS) before muxd opens any fd
 * of its own, so that none can be taken for one of them: each must be
 * open and a socket: a datagram one, or a stream one listening or only
 * bound (never a connected one). Returns 0, or
 * -EBADF having logged which one and why.
 */
int muxd_check_inherited(const int *fds, size_t n);

/*
 * Sends `state` ("READY=1", "STOPPING=1") as one datagram to the unix
 * socket named by $NOTIFY_SOCKET: a path, or "@name" for the abstract
 * namespace. Never blocks. Returns 0 (also when $NOTIFY_SOCKET is unset),
 * or -errno: -EAFNOSUPPORT for an address form it does not know (e.g.
 * vsock:), -ENAMETOOLONG, or what socket() and sendto() returned.
 */
int muxd_notify(const char *state);

#endif
