/*
 * select_echo.c -- the smallest correct select() echo server: the floor any
 * select() loop pays, for muxbench to compare muxd with. Blocking sockets:
 * select() says when accept() and read() will not block, and a write blocks
 * until the echo is out. Usage: select_echo PORT (0: any free port).
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/select.h>
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
    int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0), maxfd = lfd;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(lfd, (struct sockaddr *)&sa, len) < 0 ||
        listen(lfd, SOMAXCONN) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &len) < 0) {
        perror("select_echo");
        return 1;
    }
    printf("listening on tcp 127.0.0.1:%u\n", ntohs(sa.sin_port));
    fflush(stdout);
    signal(SIGPIPE, SIG_IGN);
    static char buf[65536];
    fd_set all, rd;
    FD_ZERO(&all);
    FD_SET(lfd, &all);
    for (;;) {
        rd = all;
        if (select(maxfd + 1, &rd, NULL, NULL, NULL) < 0 && errno != EINTR)
            return 1;
        for (int fd = 0; fd <= maxfd; fd++) {
            if (!FD_ISSET(fd, &rd))
                continue;
            if (fd != lfd) {
                if (echo(fd, buf, sizeof(buf)) < 0)
                    close(fd), FD_CLR(fd, &all);
                continue;
            }
            int cfd = accept(lfd, NULL, NULL);
            if (cfd >= FD_SETSIZE)
                close(cfd);
            else if (cfd >= 0)
                FD_SET(cfd, &all), maxfd = cfd > maxfd ? cfd : maxfd;
        }
    }
}
