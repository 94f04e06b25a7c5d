/*
 * libuv_echo.c -- an echo server on libuv: each read is written back with
 * uv_try_write(), and only what the socket would not take is copied into a
 * queued uv_write(). Usage: libuv_echo PORT (0: any free port).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

typedef struct {
    uv_write_t req;
    char data[]; /* the bytes being written */
} pending_write_t;

/* One loop, one thread: every read lands in the same buffer. */
static char read_buf[65536];

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
    (void)handle;
    (void)suggested;
    *buf = uv_buf_init(read_buf, sizeof(read_buf));
}

static void on_closed(uv_handle_t *handle) { free(handle); }

static void on_written(uv_write_t *req, int status) {
    if (status < 0 && !uv_is_closing((uv_handle_t *)req->handle))
        uv_close((uv_handle_t *)req->handle, on_closed);
    free(req);
}

/* Writes what uv_try_write() left over; the copy outlives read_buf. */
static void queue_rest(uv_stream_t *client, const char *data, size_t len) {
    pending_write_t *w = malloc(sizeof(*w) + len);
    if (!w) {
        uv_close((uv_handle_t *)client, on_closed);
        return;
    }
    memcpy(w->data, data, len);
    uv_buf_t buf = uv_buf_init(w->data, (unsigned)len);
    if (uv_write(&w->req, client, &buf, 1, on_written) < 0) {
        free(w);
        uv_close((uv_handle_t *)client, on_closed);
    }
}

static void on_read(uv_stream_t *client, ssize_t nread, const uv_buf_t *buf) {
    if (nread < 0) {
        uv_close((uv_handle_t *)client, on_closed);
        return;
    }
    size_t len = (size_t)nread, done = 0;
    uv_buf_t data = uv_buf_init(buf->base, (unsigned)len); /* not buf->len */
    int n = len ? uv_try_write(client, &data, 1) : 0;
    if (n > 0) /* else UV_EAGAIN, or writes already queued */
        done = (size_t)n;
    if (done < len)
        queue_rest(client, buf->base + done, len - done);
}

static void on_connection(uv_stream_t *server, int status) {
    if (status < 0)
        return;
    uv_tcp_t *client = malloc(sizeof(*client));
    if (!client)
        return;
    uv_tcp_init(server->loop, client);
    if (uv_accept(server, (uv_stream_t *)client) < 0 ||
        uv_read_start((uv_stream_t *)client, on_alloc, on_read) < 0)
        uv_close((uv_handle_t *)client, on_closed);
}

int main(int argc, char **argv) {
    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t server;
    struct sockaddr_in sa;
    int len = sizeof(sa);
    uv_ip4_addr("127.0.0.1", atoi(argc > 1 ? argv[1] : "0"), &sa);
    uv_tcp_init(loop, &server);
    if (uv_tcp_bind(&server, (const struct sockaddr *)&sa, 0) < 0 ||
        uv_listen((uv_stream_t *)&server, 1024, on_connection) < 0 ||
        uv_tcp_getsockname(&server, (struct sockaddr *)&sa, &len) < 0) {
        fprintf(stderr, "libuv_echo: cannot listen\n");
        return 1;
    }
    printf("listening on tcp 127.0.0.1:%u\n", ntohs(sa.sin_port));
    fflush(stdout);
    return uv_run(loop, UV_RUN_DEFAULT);
}
