/*
 * fd.c -- descriptor chores shared by the loop, listeners and connections.
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

void mux__close(int fd) {
    int saved = errno;
    close(fd);
    errno = saved;
}

void mux__reset_on_close(int fd) {
    struct linger abortive = {.l_onoff = 1, .l_linger = 0};
    int saved = errno;
    /* Best effort: a socket without resets (unix) just closes as usual. */
    (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &abortive, sizeof(abortive));
    errno = saved;
}

int mux__fd_prepare(int fd) {
    if (fd < 0)
        return -EBADF;
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

int mux__fd_socket(int family, int type) {
#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
    /* One system call instead of five where socket() takes the flags
     * (Linux, the BSDs): a listener made at run time, a relay's upstream
     * connect. */
    int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    return fd < 0 ? -errno : fd;
#else
    int fd = socket(family, type, 0);
    return fd < 0 ? -errno : mux__fd_prepare(fd);
#endif
}

int mux__fd_spare(void) { return open("/dev/null", O_RDONLY | O_CLOEXEC); }
