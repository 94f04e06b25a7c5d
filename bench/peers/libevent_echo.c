/*
 * libevent_echo.c -- an echo server written the way libevent is meant to be
 * used: an evconnlistener and one bufferevent per client, whose input is
 * moved to its output. Usage: libevent_echo PORT (0: any free port).
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <stdio.h>
#include <stdlib.h>

static void on_read(struct bufferevent *bev, void *arg) {
    (void)arg;
    evbuffer_add_buffer(bufferevent_get_output(bev),
                        bufferevent_get_input(bev));
}

static void on_event(struct bufferevent *bev, short what, void *arg) {
    (void)arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        bufferevent_free(bev);
}

static void on_accept(struct evconnlistener *listener, evutil_socket_t fd,
                      struct sockaddr *sa, int len, void *arg) {
    (void)sa;
    (void)len;
    (void)arg;
    struct event_base *base = evconnlistener_get_base(listener);
    struct bufferevent *bev =
        bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        evutil_closesocket(fd);
        return;
    }
    bufferevent_setcb(bev, on_read, NULL, on_event, NULL);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

int main(int argc, char **argv) {
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)atoi(argc > 1 ? argv[1] : "0"));
    socklen_t len = sizeof(sa);
    struct event_base *base = event_base_new();
    struct evconnlistener *listener =
        base
            ? evconnlistener_new_bind(base, on_accept, NULL,
                                      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                      -1, (struct sockaddr *)&sa, (int)len)
            : NULL;
    if (!listener || getsockname(evconnlistener_get_fd(listener),
                                 (struct sockaddr *)&sa, &len) < 0) {
        fprintf(stderr, "libevent_echo: cannot listen\n");
        return 1;
    }
    printf("listening on tcp 127.0.0.1:%u\n", ntohs(sa.sin_port));
    fflush(stdout);
    event_base_dispatch(base);
    evconnlistener_free(listener);
    event_base_free(base);
    return 0;
}
