/*
 * dgram.c -- one UDP socket: recvfrom() into the loop's scratch buffer,
 * the service's datagram callback, and replies with sendto().
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

/* Datagrams served per readiness: bounded so streams get their turn. */
#define DGRAM_BATCH 32

struct mux_dgram {
    mux_listener_t *listener;
    struct sockaddr_storage peer; /* the sender being served */
    socklen_t peer_len;
    char peer_text[MUX_ADDRSTRLEN]; /* formatted on demand */
};

int mux_dgram_replyv(mux_dgram_t *dgram, const struct iovec *iov, int iovcnt) {
    if (iovcnt < 0 || iovcnt > MUX_IOV_MAX)
        return -EINVAL;
    struct msghdr msg = {.msg_name = &dgram->peer,
                         .msg_namelen = dgram->peer_len,
                         .msg_iov = (struct iovec *)iov,
                         .msg_iovlen = (size_t)iovcnt};
    for (;;) {
        ssize_t n = sendmsg(dgram->listener->fd, &msg, MSG_NOSIGNAL);
        if (n >= 0) {
            mux__server_counters(dgram->listener->server)->bytes_out +=
                (uint64_t)n;
            return 0;
        }
        if (errno != EINTR)
            return -errno; /* EAGAIN: the reply is dropped, as UDP may */
    }
}

int mux_dgram_reply(mux_dgram_t *dgram, const void *data, size_t len) {
    struct iovec one = {.iov_base = (void *)data, .iov_len = len};
    return mux_dgram_replyv(dgram, &one, 1);
}

const char *mux_dgram_peer(const mux_dgram_t *dgram) {
    mux_dgram_t *d = (mux_dgram_t *)dgram; /* a cache, not a visible change */
    if (!d->peer_text[0])
        mux_addr_format((struct sockaddr *)&d->peer, d->peer_len, d->peer_text,
                        sizeof(d->peer_text));
    return d->peer_text;
}

void *mux_dgram_service_arg(const mux_dgram_t *dgram) {
    return mux__server_opts(dgram->listener->server)->service_arg;
}

void mux_dgram_log(mux_dgram_t *dgram, const char *text, size_t len) {
    mux_event_t ev = {.type = MUX_EV_SERVICE,
                      .transport = MUX_UDP,
                      .peer = mux_dgram_peer(dgram),
                      .local = dgram->listener->local,
                      .text = text,
                      .text_len = len};
    mux__server_emit(dgram->listener->server, &ev);
}

static void on_readable(mux_loop_t *loop, int fd, int events, void *arg) {
    MUX__UNUSED(events);
    mux_dgram_t *dgram = arg;
    const mux_service_t *service = mux__server_service(dgram->listener->server);
    char *scratch = mux__loop_scratch(loop);
    for (int i = 0; i < DGRAM_BATCH; i++) {
        dgram->peer_len = sizeof(dgram->peer);
        ssize_t n = recvfrom(fd, scratch, MUX__SCRATCH_SIZE, 0,
                             (struct sockaddr *)&dgram->peer, &dgram->peer_len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return; /* EAGAIN, or an ICMP error for an earlier reply */
        }
        mux__server_counters(dgram->listener->server)->bytes_in += (uint64_t)n;
        dgram->peer_text[0] = '\0';
        service->datagram(dgram, scratch, (size_t)n);
        if (dgram->listener->fd < 0)
            return; /* the service closed the listener */
    }
}

int mux__dgram_start(mux_listener_t *listener) {
    if (!mux__server_service(listener->server)->datagram)
        return -EPROTONOSUPPORT;
    mux_dgram_t *dgram = calloc(1, sizeof(*dgram));
    if (!dgram)
        return -ENOMEM;
    dgram->listener = listener;
    int err = mux_watch(mux_server_loop(listener->server), listener->fd,
                        MUX_READ, on_readable, dgram);
    if (err < 0) {
        free(dgram);
        return err;
    }
    listener->dgram = dgram;
    return 0;
}

void mux__dgram_stop(mux_listener_t *listener) {
    if (!listener->dgram)
        return;
    mux_loop_t *loop = mux_server_loop(listener->server);
    mux_unwatch(loop, listener->fd);
    if (mux__defer(loop, free, listener->dgram) == 0)
        listener->dgram = NULL;
}
