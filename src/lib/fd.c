/*
 * fd.c -- descriptor chores shared by the loop, listeners and connections.
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

void mux__close(int fd) {
    int saved = errno;
    close(fd);
    errno = saved;
}

/*
 * select() cannot hold an fd at or above FD_SETSIZE, so such an fd is moved
 * to the lowest free one (F_DUPFD finds it), or refused.
 */
static int move_below_setsize(int fd) {
    if (fd < FD_SETSIZE)
        return fd;
    int low = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    int err = low < 0 ? -errno : 0;
    mux__close(fd);
    if (low < 0)
        return err;
    if (low >= FD_SETSIZE) {
        mux__close(low);
        return -ERANGE;
    }
    return low;
}

int mux__fd_prepare(int fd) {
    if (fd < 0)
        return -EBADF;
    fd = move_below_setsize(fd);
    if (fd < 0)
        return fd;
    int fl = fcntl(fd, F_GETFL);
    int fdfl = fcntl(fd, F_GETFD);
    if (fl < 0 || fdfl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
        fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0) {
        int err = -errno;
        mux__close(fd);
        return err;
    }
    return fd;
}
