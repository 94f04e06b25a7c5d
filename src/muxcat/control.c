/*
 * control.c -- muxcat --control ADDR CMD...: one command to muxd's control
 * socket, its one-line JSON reply printed; the exit status says whether
 * the reply was an error ({"ok":false,...}) or never came.
 */
#define _POSIX_C_SOURCE 200809L

#include "muxcat.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

/* The longest reply taken: muxd's own bound on a reply. */
#define REPLY_MAX (1024 * 1024 + 1)

typedef struct {
    const muxcat_opts_t *opts;
    const char *command; /* with its line end */
    size_t sent, len;
    int fd;
    mux_timer_t deadline;
    char *reply;
    size_t reply_len;
    int status;
} control_t;

static void finish(mux_loop_t *loop, control_t *c, int status) {
    c->status = status;
    mux_timer_stop(&c->deadline);
    if (c->fd >= 0) {
        mux_unwatch(loop, c->fd);
        close(c->fd);
        c->fd = -1;
    }
    mux_stop(loop);
}

/* The reply is complete: printed, judged. */
static void got_reply(mux_loop_t *loop, control_t *c) {
    fwrite(c->reply, 1, c->reply_len, stdout);
    bool error = strncmp(c->reply, "{\"ok\":false", 11) == 0;
    finish(loop, c, error ? MUXCAT_EXIT_FAIL : MUXCAT_EXIT_OK);
}

static void read_reply(mux_loop_t *loop, control_t *c) {
    ssize_t n = recv(c->fd, c->reply + c->reply_len, REPLY_MAX - c->reply_len,
                     MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        if (n < 0)
            muxcat_socket_failed(c->opts, -errno);
        else
            muxcat_error("%s closed the connection without a reply",
                         c->opts->target);
        finish(loop, c, MUXCAT_EXIT_FAIL);
        return;
    }
    const char *nl = memchr(c->reply + c->reply_len, '\n', (size_t)n);
    c->reply_len += (size_t)n;
    if (nl) {
        c->reply_len = (size_t)(nl - c->reply) + 1;
        got_reply(loop, c);
    } else if (c->reply_len == REPLY_MAX) {
        muxcat_error("%s: reply too long", c->opts->target);
        finish(loop, c, MUXCAT_EXIT_FAIL);
    }
}

static void write_command(mux_loop_t *loop, control_t *c) {
    ssize_t n = send(c->fd, c->command + c->sent, c->len - c->sent,
                     MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        muxcat_socket_failed(c->opts, -errno);
        finish(loop, c, MUXCAT_EXIT_FAIL);
        return;
    }
    if (n > 0)
        c->sent += (size_t)n;
    mux_watch_events(loop, c->fd, c->sent < c->len ? MUX_WRITE : MUX_READ);
}

static void on_ready(mux_loop_t *loop, int fd, int events, void *arg) {
    (void)fd;
    control_t *c = arg;
    if (events & MUX_WRITE)
        write_command(loop, c);
    else if (events & MUX_READ)
        read_reply(loop, c);
}

static void on_deadline(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    (void)timer;
    control_t *c = arg;
    muxcat_error("no reply from %s within %.3g s", c->opts->target,
                 (double)c->opts->wait_ms / 1000);
    finish(loop, c, MUXCAT_EXIT_FAIL);
}

static void on_connected(mux_loop_t *loop, int sock, void *arg) {
    control_t *c = arg;
    c->fd = sock;
    mux_timer_init(&c->deadline, loop, on_deadline, c);
    if (mux_watch(loop, sock, MUX_WRITE, on_ready, c) < 0 ||
        mux_timer_start(&c->deadline, c->opts->wait_ms, 0) < 0) {
        muxcat_error("out of memory");
        finish(loop, c, MUXCAT_EXIT_FAIL);
    }
}

int muxcat_control(const muxcat_opts_t *opts, const char *command) {
    control_t c = {.opts = opts,
                   .command = command,
                   .len = strlen(command),
                   .fd = -1,
                   .reply = malloc(REPLY_MAX),
                   .status = MUXCAT_EXIT_FAIL};
    mux_loop_t *loop;
    if (!c.reply) {
        muxcat_error("out of memory");
        return MUXCAT_EXIT_FAIL;
    }
    if (muxcat_session(opts, &loop, on_connected, &c) < 0)
        c.status = MUXCAT_EXIT_FAIL;
    if (c.fd >= 0)
        close(c.fd);
    free(c.reply);
    return c.status;
}
