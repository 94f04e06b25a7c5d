/*
 * acceptor.c -- bound sockets: bind (and listen), adopt inherited sockets,
 * name them, own a unix socket's path; for stream sockets, accept clients
 * in bounded batches, with the EMFILE remedy, or (accept_delay_ms) one at
 * a time, late, and hand each to the owner through config->accepted.
 */
#define _GNU_SOURCE /* accept4() */

#include "internal.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Clients accepted per readiness of one listener: fair to the clients
 * already connected, yet quick to drain a burst of connects. */
#define ACCEPT_BATCH 64
/* How long accepting pauses when fds ran out and none could be shed. */
#define ACCEPT_RETRY_MS 100

static int accept_client(int fd, struct sockaddr *sa, socklen_t *len) {
#ifdef SOCK_NONBLOCK
    return accept4(fd, sa, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
    int cfd = accept(fd, sa, len);
    if (cfd < 0)
        return cfd;
    cfd = mux__fd_prepare(cfd);
    if (cfd < 0)
        errno = -cfd; /* the caller reads errno, as after accept4() */
    return cfd < 0 ? -1 : cfd;
#endif
}

/* The EMFILE remedy: closes the spare fd to make room, accepts the oldest
 * waiting client only to hand it up to be turned away, and reopens the
 * spare, so that the listener does not stay readable with a backlog it
 * cannot take. false: no spare fd, or nothing was waiting. */
static bool shed(mux_listener_t *listener) {
    const mux__listen_config_t *c = listener->config;
    if (!c->spare_fd || *c->spare_fd < 0)
        return false;
    close(*c->spare_fd);
    struct sockaddr_storage peer;
    socklen_t len = sizeof(peer);
    int fd = accept_client(listener->fd, (struct sockaddr *)&peer, &len);
    if (fd >= 0)
        c->accepted(c->arg, listener, fd, (struct sockaddr *)&peer, len, true);
    *c->spare_fd = mux__fd_spare();
    return fd >= 0;
}

/* Out of fds: shed one waiting client, or stop accepting for a moment so
 * that select() does not report the same backlog again and again. */
static void out_of_fds(mux_listener_t *listener, int err) {
    const mux__listen_config_t *c = listener->config;
    c->error(c->arg, listener, err);
    if (shed(listener))
        return;
    if (!mux_timer_active(&listener->resume) &&
        mux_timer_start(&listener->resume, ACCEPT_RETRY_MS, 0) == 0)
        mux_watch_events(c->loop, listener->fd, 0);
}

/* Accepts one client and hands it to the server. Returns whether to go
 * on accepting: false once the backlog is empty, on an error, or when a
 * callback closed the listener. */
static bool accept_one(mux_listener_t *listener) {
    struct sockaddr_storage peer;
    socklen_t peer_len = sizeof(peer);
    int cfd = accept_client(listener->fd, (struct sockaddr *)&peer, &peer_len);
    if (cfd >= 0) {
        const mux__listen_config_t *c = listener->config;
        c->accepted(c->arg, listener, cfd, (struct sockaddr *)&peer, peer_len,
                    false);
        return listener->fd >= 0;
    }
    switch (errno) {
    case EINTR:
    case ECONNABORTED: /* gone before we took it: take the next */
        return true;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
        out_of_fds(listener, -errno);
        return false;
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
        return false;
    default:
        listener->config->error(listener->config->arg, listener, -errno);
        return false;
    }
}

/* What a stream listener watches for when no pause of its own holds it:
 * readable, unless its owner paused accepting. */
static int listening_events(const mux_listener_t *listener) {
    return listener->config->paused ? 0 : MUX_READ;
}

void mux__listener_pause_changed(mux_listener_t *listener) {
    if (listener->transport != MUX_UDP && listener->fd >= 0 &&
        !mux_timer_active(&listener->resume))
        mux_watch_events(listener->config->loop, listener->fd,
                         listening_events(listener));
}

/* A pause is over (out of fds, or accept-delay): with accept-delay take
 * the oldest waiting client; then listen again, unless accepting paused
 * for want of fds meanwhile. */
static void on_resume(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    MUX__UNUSED(timer);
    mux_listener_t *listener = arg;
    if (listener->delaying) {
        listener->delaying = false;
        if (!listener->config->paused) /* else it waits for the resume */
            accept_one(listener);
    }
    if (listener->fd >= 0 && !mux_timer_active(&listener->resume))
        mux_watch_events(loop, listener->fd, listening_events(listener));
}

/* accept-delay: pause the readable listener; on_accept_due accepts. If no
 * timer can be armed, accept now rather than spin on the readiness. */
static void delay_accept(mux_listener_t *listener, uint64_t delay_ms) {
    if (mux_timer_start(&listener->resume, delay_ms, 0) == 0) {
        listener->delaying = true;
        mux_watch_events(listener->config->loop, listener->fd, 0);
    } else {
        accept_one(listener);
    }
}

static void on_acceptable(mux_loop_t *loop, int fd, int events, void *arg) {
    MUX__UNUSED(loop);
    MUX__UNUSED(fd);
    MUX__UNUSED(events);
    mux_listener_t *listener = arg;
    uint64_t delay_ms = listener->config->accept_delay_ms;
    if (delay_ms) {
        delay_accept(listener, delay_ms);
        return;
    }
    /* The batch follows the arrivals: a trickle of one client per readiness
     * costs one accept() each instead of a second that says EAGAIN; a full
     * batch doubles the next one, up to ACCEPT_BATCH. */
    int batch = listener->batch ? listener->batch : 1, accepted = 0;
    while (accepted < batch && accept_one(listener))
        accepted++;
    if (listener->fd < 0)
        return; /* closed by a callback: released at the end of the turn */
    listener->batch =
        accepted == batch
            ? (batch * 2 > ACCEPT_BATCH ? ACCEPT_BATCH : batch * 2)
            : (accepted > 0 ? accepted : 1);
}

void mux__listener_drain(mux_listener_t *listener) {
    if (listener->transport == MUX_UDP)
        return;
    /* The queue held at most `backlog` when this began; later arrivals
     * may take the rest of the bound (they are reset at the close). */
    for (int i = 0; i <= listener->config->backlog && listener->fd >= 0 &&
                    accept_one(listener);
         i++)
        ;
}

/* Fills in the listener's address texts from the bound socket. */
static void name_listener(mux_listener_t *listener) {
    static const char *const names[] = {"?", "tcp", "udp", "unix"};
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(listener->fd, (struct sockaddr *)&ss, &len) < 0)
        len = 0, ss.ss_family = AF_UNSPEC;
    mux_addr_format((struct sockaddr *)&ss, len, listener->local,
                    sizeof(listener->local));
    listener->port = mux__addr_port((struct sockaddr *)&ss);
    strcpy(listener->name, names[listener->transport]);
    strcat(listener->name, " ");
    strcat(listener->name, listener->local);
}

/* Remembers what bind() made at a unix socket's path: the path is
 * unlinked at close only while it is still that socket. */
static void note_path(mux_listener_t *listener) {
    struct stat st;
    if (!listener->owns_path || lstat(listener->local, &st) < 0) {
        listener->owns_path = false;
        return;
    }
    listener->path_dev = st.st_dev;
    listener->path_ino = st.st_ino;
}

/* Unlinks the unix socket's path unless another file replaced it. */
static void unlink_path(const mux_listener_t *listener) {
    struct stat st;
    if (lstat(listener->local, &st) == 0 && st.st_dev == listener->path_dev &&
        st.st_ino == listener->path_ino)
        unlink(listener->local);
}

/* Starts serving a bound (and, for streams, listening) socket. */
static int start(const mux__listen_config_t *config, int fd,
                 mux_transport transport, bool owns_path,
                 mux_listener_t **out) {
    mux_listener_t *listener = calloc(1, sizeof(*listener));
    if (!listener) {
        mux__close(fd);
        return -ENOMEM;
    }
    listener->config = config;
    mux_timer_init(&listener->resume, config->loop, on_resume, listener);
    listener->fd = fd;
    listener->transport = transport;
    listener->owns_path = owns_path;
    name_listener(listener);
    note_path(listener);
    int err = transport == MUX_UDP
                  ? 0
                  : mux_watch(config->loop, fd, listening_events(listener),
                              on_acceptable, listener);
    if (err < 0) {
        listener->owns_path = false; /* the path may belong to another */
        mux__listener_close(listener);
        return err;
    }
    *out = listener;
    return 0;
}

/*
 * A unix socket path left by a process that died is stale: nobody accepts
 * on it. Remove it so bind() can succeed; a live one stays (EADDRINUSE).
 */
static void remove_stale_socket(const mux_sockaddr_t *sa) {
    const struct sockaddr_un *sun = (const struct sockaddr_un *)&sa->sa;
    struct stat st;
    if (stat(sun->sun_path, &st) < 0 || !S_ISSOCK(st.st_mode))
        return;
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0)
        return;
    if (connect(probe, (const struct sockaddr *)&sa->sa, sa->len) < 0 &&
        errno == ECONNREFUSED)
        unlink(sun->sun_path);
    mux__close(probe);
}

/* opts.reuseport: several sockets, in this or other processes, share the
 * address; the kernel spreads clients among them. */
static int share_port(int fd) {
#ifdef SO_REUSEPORT
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
        return errno == ENOPROTOOPT ? -EOPNOTSUPP : -errno;
    return 0;
#else
    MUX__UNUSED(fd);
    return -EOPNOTSUPP;
#endif
}

static int bind_socket(int fd, const mux_sockaddr_t *sa,
                       const mux__listen_config_t *config) {
    int one = 1, err;
    if (sa->family != AF_UNIX &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
        return -errno;
    if (sa->family != AF_UNIX && config->reuseport &&
        (err = share_port(fd)) < 0)
        return err;
    /* Wildcard v4 and v6 listeners share a port: keep v6 to itself. */
    if (sa->family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
        return -errno;
    if (sa->family == AF_UNIX)
        remove_stale_socket(sa);
    if (bind(fd, (const struct sockaddr *)&sa->sa, sa->len) < 0)
        return -errno;
    if (sa->socktype == SOCK_STREAM && listen(fd, config->backlog) < 0)
        return -errno;
    return 0;
}

int mux__listener_open(const mux__listen_config_t *config,
                       const mux_sockaddr_t *sa, mux_transport transport,
                       mux_listener_t **out) {
    int fd = mux__fd_socket(sa->family, sa->socktype);
    if (fd < 0)
        return fd;
    int err = bind_socket(fd, sa, config);
    if (err < 0) {
        mux__close(fd);
        return err;
    }
    return start(config, fd, transport, sa->family == AF_UNIX, out);
}

int mux__listener_adopt(const mux__listen_config_t *config, int fd,
                        mux_listener_t **out) {
    fd = mux__fd_prepare(fd);
    if (fd < 0)
        return fd;
    int type = 0, listening = 0;
    socklen_t len = sizeof(type);
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0) {
        int err = -errno;
        mux__close(fd);
        return err == -ENOTSOCK ? -ENOTSOCK : err;
    }
    len = sizeof(listening);
    if (type == SOCK_STREAM &&
        (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 ||
         (!listening && listen(fd, config->backlog) < 0))) {
        int err = -errno;
        mux__close(fd);
        return err;
    }
    mux_transport transport = type == SOCK_DGRAM        ? MUX_UDP
                              : ss.ss_family == AF_UNIX ? MUX_UNIX
                                                        : MUX_TCP;
    return start(config, fd, transport, false, out);
}

void mux__listener_close(mux_listener_t *listener) {
    if (!listener)
        return;
    mux_loop_t *loop = listener->config->loop;
    if (listener->transport != MUX_UDP) /* the owner stopped its dgram */
        mux_unwatch(loop, listener->fd);
    mux_timer_stop(&listener->resume);
    if (listener->owns_path)
        unlink_path(listener);
    mux__close(listener->fd);
    listener->fd = -1;
    /* Its accept loop may be on the stack: release at the end of turn. */
    if (mux__defer(loop, free, listener) < 0)
        return; /* leaks one listener rather than risk a use after free */
}
