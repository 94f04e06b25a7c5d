/*
 * buf.c -- a growable byte buffer with a read offset. Consuming from the
 * front is O(1); the unread bytes move to the front only when appending
 * would otherwise have to grow the storage.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int mux__buf_append(mux_buf_t *buf, const void *data, size_t len) {
    if (len == 0)
        return 0;
    if (len > SIZE_MAX / 2 - buf->len) /* before any sum below can wrap */
        return -ENOMEM;
    if (buf->off + buf->len + len > buf->cap && buf->off > 0) {
        memmove(buf->data, buf->data + buf->off, buf->len);
        buf->off = 0;
    }
    if (buf->len + len > buf->cap) {
        size_t cap = buf->cap ? buf->cap : 256;
        while (cap < buf->len + len)
            cap *= 2;
        char *grown = realloc(buf->data, cap);
        if (!grown)
            return -ENOMEM;
        buf->data = grown;
        buf->cap = cap;
    }
    memcpy(buf->data + buf->off + buf->len, data, len);
    buf->len += len;
    return 0;
}

void mux__buf_consume(mux_buf_t *buf, size_t len) {
    if (len >= buf->len) {
        buf->off = 0;
        buf->len = 0;
        return;
    }
    buf->off += len;
    buf->len -= len;
}

void mux__buf_free(mux_buf_t *buf) {
    free(buf->data);
    buf->data = NULL;
    buf->off = buf->len = buf->cap = 0;
}
