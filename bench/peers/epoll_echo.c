/*
 * epoll_echo.c -- a minimal epoll echo server: what select_echo does, with
 * the kernel reporting only the ready fds. Blocking sockets, as there: a
 * write blocks until the echo is out. Usage: epoll_echo PORT (0: any).
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

static int echo(int fd, char *buf, size_t size) {
    ssize_t n = read(fd, buf, size);
    for (ssize_t off = 0, w; n > 0 && off < n; off += w)
        if ((w = write(fd, buf + off, (size_t)(n - off))) < 0)
            return -1;
    return n > 0 ? 0 : -1;
}

int main(int argc, char **argv) {
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)atoi(argc > 1 ? argv[1] : "0"));
    socklen_t len = sizeof(sa);
    int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd}, ready[256];
    if (bind(lfd, (struct sockaddr *)&sa, len) < 0 ||
        listen(lfd, SOMAXCONN) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &len) < 0 || ep < 0 ||
        epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) {
        perror("epoll_echo");
        return 1;
    }
    printf("listening on tcp 127.0.0.1:%u\n", ntohs(sa.sin_port));
    fflush(stdout);
    signal(SIGPIPE, SIG_IGN);
    static char buf[65536];
    for (;;) {
        int n = epoll_wait(ep, ready, 256, -1);
        if (n < 0 && errno != EINTR)
            return 1;
        for (int i = 0; i < n; i++) {
            int fd = ready[i].data.fd;
            if (fd != lfd) {
                if (echo(fd, buf, sizeof(buf)) < 0)
                    close(fd); /* also leaves the epoll set */
                continue;
            }
            ev.data.fd = accept(lfd, NULL, NULL);
            if (ev.data.fd >= 0 &&
                epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0)
                close(ev.data.fd);
        }
    }
}
