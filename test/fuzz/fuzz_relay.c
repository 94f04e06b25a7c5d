/*
 * fuzz_relay.c -- libFuzzer harness for muxd's relay (src/muxd/relay.c):
 * a server running the relay service, a client on a socketpair
 * (mux_server_serve_fd), and the upstream an abstract unix listener of
 * the harness's own, whose accepted end the harness drives too.
 *
 * Input: [max_output] [flags] ops... Operations: the client or the
 * upstream writes bytes, reads, shuts its write side, closes; the loop
 * turns; a graceful shutdown. Each side writes a stream of its own
 * (byte i of the client's is (i * 7 + 1) & 255, of the upstream's
 * (i * 13 + 5) & 255), so a reader checks every byte it gets.
 *
 * Checks:
 *  - each end reads a prefix of what the other wrote, in order;
 *  - an end that reads EOF while the other only shut its write side (no
 *    close, no shutdown) has read every byte the other wrote;
 *  - the end: after mux_server_free(), muxd_relay_free() and
 *    mux_loop_free() no fd is left open, and LSan finds no leak.
 */
#define _POSIX_C_SOURCE 200809L

#include "fuzz_util.h"
#include "log.h"
#include "relay.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

enum { CLIENT = 0, UPSTREAM = 1 };

typedef struct {
    int fd;            /* the harness's end; -1 until there, or once closed */
    bool shut, closed; /* shut its write side; closed its end */
    bool eof;          /* read EOF or an error */
    uint64_t written, read;
} end_t;

static struct {
    mux_loop_t *loop;
    mux_server_t *server;
    muxd_relay_t *relay;
    muxd_relay_config_t config;
    int listener;
    end_t ends[2];
    bool shutdown;
    const uint8_t *ops, *end;
} st;

static uint8_t stream_byte(int side, uint64_t i) {
    return (uint8_t)(side == CLIENT ? i * 7 + 1 : i * 13 + 5);
}

static void on_event(mux_server_t *server, const mux_event_t *ev, void *arg) {
    (void)server;
    (void)arg;
    if (ev->type == MUX_EV_SHUTDOWN) /* as serve.c does */
        muxd_relay_stopping(st.relay);
}

/* The upstream end, once the relay's connect reached the listener. */
static void take_upstream(void) {
    end_t *up = &st.ends[UPSTREAM];
    if (up->fd >= 0 || up->closed)
        return;
    int fd = accept(st.listener, NULL, NULL);
    if (fd >= 0) {
        CHECK(fcntl(fd, F_SETFL, O_NONBLOCK) == 0);
        up->fd = fd;
    }
}

static void end_write(int side, size_t n) {
    end_t *e = &st.ends[side];
    if (e->fd < 0 || e->shut)
        return;
    uint8_t buf[4096];
    n = n < sizeof(buf) ? n : sizeof(buf);
    for (size_t i = 0; i < n; i++)
        buf[i] = stream_byte(side, e->written + i);
    ssize_t w = send(e->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w > 0)
        e->written += (uint64_t)w;
}

/* The other side ended its stream cleanly, and nothing else ended. */
static bool only_shut(int other) {
    return st.ends[other].shut && !st.ends[other].closed && !st.shutdown &&
           !st.ends[1 - other].closed;
}

static void end_read(int side) {
    end_t *e = &st.ends[side];
    int other = 1 - side;
    if (e->fd < 0 || e->eof)
        return;
    uint8_t buf[65536];
    ssize_t n = recv(e->fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (n <= 0) {
        e->eof = true;
        if (n == 0 && only_shut(other))
            CHECK(e->read == st.ends[other].written);
        return;
    }
    for (ssize_t i = 0; i < n; i++)
        CHECK(buf[i] == stream_byte(other, e->read + (uint64_t)i));
    e->read += (uint64_t)n;
    CHECK(e->read <= st.ends[other].written);
}

static void end_close(int side, bool shut_only) {
    end_t *e = &st.ends[side];
    if (e->fd < 0)
        return;
    if (shut_only) {
        if (!e->shut)
            shutdown(e->fd, SHUT_WR);
        e->shut = true;
        return;
    }
    close(e->fd);
    e->fd = -1;
    e->closed = true;
}

static int next(void) { return st.ops < st.end ? *st.ops++ : -1; }

static void do_op(int op) {
    int side = op & 1, arg = next();
    switch ((op >> 1) % 6) {
    case 0:
        end_write(side, arg < 0 ? 1 : 1 + (size_t)arg * 16);
        break;
    case 1:
        end_read(side);
        break;
    case 2:
        end_close(side, true);
        break;
    case 3:
        if (arg >= 0 && arg % 4 == 0)
            end_close(side, false);
        break;
    case 4:
        if (arg >= 0 && arg % 8 == 0 && !st.shutdown) {
            st.shutdown = true;
            mux_server_shutdown(st.server, 1000);
        }
        break;
    default:
        pump(st.loop, 1 + (arg < 0 ? 0 : arg % 8));
    }
    take_upstream();
}

static void setup(const uint8_t *data) {
    static int serial;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int len = snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1,
                       "fuzz-relay-%d-%d", (int)getpid(), serial++);
    socklen_t alen =
        (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)len);
    st.listener =
        socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    CHECK(st.listener >= 0);
    CHECK(bind(st.listener, (struct sockaddr *)&sun, alen) == 0);
    CHECK(listen(st.listener, 4) == 0);
    muxd_upstream_t *to = &st.config.upstreams[0];
    st.config.nupstreams = 1;
    st.config.connect_timeout_ms = 1000;
    to->upstream_text = "fuzz";
    to->naddrs = 1;
    to->addrs[0].family = AF_UNIX;
    to->addrs[0].socktype = SOCK_STREAM;
    to->addrs[0].len = alen;
    memcpy(&to->addrs[0].sa, &sun, alen);
    size_t max_output = (size_t)8192 << (data[0] % 8); /* --to: at least 8k */
    CHECK(mux_loop_new(&st.loop) == 0);
    CHECK((st.relay = muxd_relay_new(st.loop, &st.config, max_output, 0)));
    mux_server_opts_t opts = {.on_event = on_event,
                              .service_arg = st.relay,
                              .max_output = max_output};
    CHECK(mux_server_new(st.loop, muxd_relay_service(), &opts, &st.server) ==
          0);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    CHECK(fcntl(sv[1], F_SETFL, O_NONBLOCK) == 0);
    st.ends[CLIENT].fd = sv[1];
    CHECK(mux_server_serve_fd(st.server, sv[0]) == 0);
}

static void teardown(void) {
    mux_server_free(st.server);
    muxd_relay_free(st.relay);
    mux_loop_free(st.loop);
    for (int i = 0; i < 2; i++)
        if (st.ends[i].fd >= 0)
            close(st.ends[i].fd);
    close(st.listener);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2)
        return 0;
    static const muxd_log_t quiet = {.level = MUXD_LOG_QUIET};
    muxd_log_init(&quiet, 0);
    fd_snapshot_t fds = fd_snapshot(-1);
    memset(&st, 0, sizeof(st));
    st.ends[CLIENT].fd = st.ends[UPSTREAM].fd = -1;
    setup(data);
    st.ops = data + 2;
    st.end = data + size;
    for (int op; (op = next()) >= 0;)
        do_op(op);
    if (data[1] & 1) { /* both say goodbye and read the rest */
        end_close(CLIENT, true);
        end_close(UPSTREAM, true);
        for (int i = 0; i < 64; i++) {
            pump(st.loop, 4);
            take_upstream();
            end_read(CLIENT);
            end_read(UPSTREAM);
        }
    }
    teardown();
    check_no_fd_leak(fds);
    return 0;
}
