/*
 * outfd.c -- non-blocking writes to stdout and stderr that leave the file
 * descriptions other processes share alone.
 */
#define _POSIX_C_SOURCE 200809L

#include "outfd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

int outfd_open_std(void) {
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
            continue;
        int null = open("/dev/null", O_RDWR);
        if (null < 0)
            return -errno;
        if (null != fd) { /* a lower one was closed too: impossible here */
            close(null);
            return -EBADF;
        }
    }
    return 0;
}

/* A description of our own for the file behind `fd`: the same pipe or
 * terminal, but O_NONBLOCK changes only ours. -errno if not possible. */
static int reopen_private(int fd) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    int own = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    return own < 0 ? -errno : own;
}

void outfd_open(outfd_t *out, int fd) {
    struct stat st;
    out->fd = fd;
    out->how = OUTFD_PLAIN;
    if (fstat(fd, &st) < 0)
        return; /* writes will fail with the same error, and be dropped */
    if (S_ISSOCK(st.st_mode)) {
        out->how = OUTFD_SOCKET;
    } else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
        int own = reopen_private(fd);
        out->fd = own >= 0 ? own : fd;
        out->how = own >= 0 ? OUTFD_PRIVATE : OUTFD_POLL;
    }
}

int outfd_wait(const outfd_t *out, int ms) {
    struct pollfd p = {.fd = out->fd, .events = POLLOUT};
    int n;
    while ((n = poll(&p, 1, ms)) < 0 && errno == EINTR)
        ;
    if (n < 0)
        return -errno;
    return n > 0 && (p.revents & (POLLOUT | POLLERR | POLLHUP)) ? 1 : 0;
}

static ssize_t write_once(const outfd_t *out, const void *data, size_t len) {
    switch (out->how) {
    case OUTFD_SOCKET:
        return send(out->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    case OUTFD_POLL:
        if (outfd_wait(out, 0) == 0) {
            errno = EAGAIN;
            return -1;
        }
        /* A pipe that polls writable takes PIPE_BUF bytes at once. */
        return write(out->fd, data, len < PIPE_BUF ? len : PIPE_BUF);
    default:
        return write(out->fd, data, len);
    }
}

ssize_t outfd_write(const outfd_t *out, const void *data, size_t len) {
    for (;;) {
        ssize_t n = write_once(out, data, len);
        if (n >= 0)
            return n;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return -EAGAIN;
        if (errno != EINTR)
            return -errno;
    }
}

void outfd_close(outfd_t *out) {
    if (out->how == OUTFD_PRIVATE)
        close(out->fd);
    out->fd = -1;
}
