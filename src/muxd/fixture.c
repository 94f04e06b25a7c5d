/*
 * fixture.c -- atomic files, socket activation and readiness
 * notification: the small protocols a test script or systemd speaks.
 */
#define _POSIX_C_SOURCE 200809L

#include "fixture.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

/* The first fd systemd passes (SD_LISTEN_FDS_START). */
#define LISTEN_FDS_START 3

int muxd_write_all(int fd, const char *data, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            /* someone else made the description non-blocking */
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            if (poll(&p, 1, -1) < 0 && errno != EINTR)
                return -errno;
            continue;
        }
        if (n < 0)
            return -errno;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Writes the temporary file; *made gets what it is (device, inode). */
static int write_file(int fd, const char *data, size_t len, struct stat *made) {
    int err = muxd_write_all(fd, data, len);
    if (err == 0 && fchmod(fd, 0644) < 0)
        err = -errno;
    if (err == 0 && made && fstat(fd, made) < 0)
        err = -errno;
    if (close(fd) < 0 && err == 0)
        err = -errno;
    return err;
}

int muxd_write_atomic(const char *path, const char *data, size_t len,
                      struct stat *made) {
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    int fd = mkstemp(tmp);
    if (fd < 0)
        return -errno;
    int err = write_file(fd, data, len, made);
    if (err == 0 && rename(tmp, path) < 0)
        err = -errno;
    if (err < 0)
        unlink(tmp);
    return err;
}

int muxd_unlink_own(const char *path, const struct stat *made) {
    struct stat now;
    if (lstat(path, &now) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (now.st_dev != made->st_dev || now.st_ino != made->st_ino)
        return 0; /* replaced: another's now */
    return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

/* A whole decimal number in `text`, or -1. */
static long parse_long(const char *text) {
    if (!text || !*text)
        return -1;
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    return errno || *end || v < 0 ? -1 : v;
}

int muxd_listen_fds(int *fds, size_t max) {
    const char *pid_text = getenv("LISTEN_PID");
    const char *fds_text = getenv("LISTEN_FDS");
    long pid = parse_long(pid_text), n = parse_long(fds_text);
    int result = 0;
    if (pid_text && pid == (long)getpid())
        result = n < 0 || n > INT_MAX - LISTEN_FDS_START ? -EINVAL : (int)n;
    else if (pid_text && pid < 0)
        result = -EINVAL;
    for (int i = 0; i < result && (size_t)i < max; i++)
        fds[i] = LISTEN_FDS_START + i;
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    return result;
}

/* Why inherited fd `fd` cannot be served, or NULL if it can: it must be
 * open, a socket, and a datagram socket or a stream one that listens or
 * is only bound (muxd listens then): never a connected one. */
static const char *unservable(int fd) {
    int type = 0, listening = 0;
    socklen_t len = sizeof(type);
    struct sockaddr_storage peer;
    socklen_t peer_len = sizeof(peer);
    if (fcntl(fd, F_GETFD) < 0)
        return "it is not open";
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
        return errno == ENOTSOCK ? "it is not a socket" : strerror(errno);
    len = sizeof(listening);
    if (type == SOCK_DGRAM ||
        (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 &&
         listening))
        return NULL;
    if (getpeername(fd, (struct sockaddr *)&peer, &peer_len) == 0)
        return "it is a connected socket, not a listening one";
    return NULL;
}

int muxd_check_inherited(const int *fds, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const char *why = unservable(fds[i]);
        if (why) {
            muxd_log_error("cannot serve the inherited fd %d: %s", fds[i], why);
            return -EBADF;
        }
    }
    return 0;
}

/* $NOTIFY_SOCKET as an address: "/path", or "@name" (abstract). */
static int notify_address(const char *name, struct sockaddr_un *sun,
                          socklen_t *len) {
    size_t n = strlen(name);
    if (name[0] != '/' && name[0] != '@')
        return -EAFNOSUPPORT;
    if (n < 2 || n > sizeof(sun->sun_path) - (name[0] == '/'))
        return -ENAMETOOLONG;
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, name, n);
    if (name[0] == '@')
        sun->sun_path[0] = '\0'; /* no NUL at the end: the length says */
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
                       (name[0] == '/'));
    return 0;
}

int muxd_notify(const char *state) {
    const char *name = getenv("NOTIFY_SOCKET");
    if (!name || !*name)
        return 0;
    struct sockaddr_un sun;
    socklen_t len;
    int err = notify_address(name, &sun, &len);
    if (err < 0)
        return err;
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd < 0)
        return -errno;
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    ssize_t n;
    do
        n = sendto(fd, state, strlen(state), MSG_NOSIGNAL | MSG_DONTWAIT,
                   (struct sockaddr *)&sun, len);
    while (n < 0 && errno == EINTR);
    err = n < 0 ? -errno : 0;
    close(fd);
    return err;
}
