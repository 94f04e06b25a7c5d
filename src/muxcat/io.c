/*
 * io.c -- the fixed buffer that carries bytes between the socket and
 * stdin/stdout, and the reads and writes that fill and drain it. Reads and
 * writes happen only after select() said the descriptor is ready, so none
 * of them blocks.
 */
#define _POSIX_C_SOURCE 200809L

#include "muxcat.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Moving the bytes only once half the buffer is spent keeps copying cheap. */
size_t muxcat_buf_space(muxcat_buf_t *buf) {
    if (buf->len == 0)
        buf->off = 0;
    else if (buf->off >= sizeof(buf->data) / 2) {
        memmove(buf->data, buf->data + buf->off, buf->len);
        buf->off = 0;
    }
    return sizeof(buf->data) - buf->off - buf->len;
}

void muxcat_buf_put(muxcat_buf_t *buf, const void *data, size_t len) {
    memcpy(buf->data + buf->off + buf->len, data, len);
    buf->len += len;
}

ssize_t muxcat_buf_read(muxcat_buf_t *buf, int fd, size_t max) {
    size_t room = muxcat_buf_space(buf);
    if (max > room)
        max = room;
    for (;;) {
        ssize_t n = read(fd, buf->data + buf->off + buf->len, max);
        if (n >= 0) {
            buf->len += (size_t)n;
            return n;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return -EAGAIN;
        if (errno != EINTR)
            return -errno;
    }
}

static ssize_t write_once(int fd, const char *data, size_t len,
                          bool is_socket) {
    if (is_socket)
        return send(fd, data, len, MSG_NOSIGNAL);
    return write(fd, data, len < PIPE_BUF ? len : PIPE_BUF);
}

ssize_t muxcat_buf_write(muxcat_buf_t *buf, int fd, bool is_socket) {
    for (;;) {
        ssize_t n = write_once(fd, buf->data + buf->off, buf->len, is_socket);
        if (n >= 0) {
            buf->off += (size_t)n;
            buf->len -= (size_t)n;
            return n;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return -EAGAIN;
        if (errno != EINTR)
            return -errno;
    }
}
