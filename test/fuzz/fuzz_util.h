/*
 * fuzz_util.h -- what the harnesses share: a CHECK that aborts (libFuzzer
 * reports it as a crash, with the input), and for those that drive a
 * server a growable byte string, a pump for the loop and an fd leak check.
 * Header-only: each harness is one translation unit.
 */
#ifndef MUX_FUZZ_UTIL_H
#define MUX_FUZZ_UTIL_H

#include "mux.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,   \
                    #cond);                                                    \
            abort();                                                           \
        }                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A growable byte string. */
typedef struct {
    char *data;
    size_t len, cap;
} bytes_t;

static inline void bytes_add(bytes_t *b, const void *data, size_t len) {
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + len)
            cap *= 2;
        b->data = realloc(b->data, cap);
        CHECK(b->data != NULL);
        b->cap = cap;
    }
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
}

static inline void bytes_free(bytes_t *b) {
    free(b->data);
    memset(b, 0, sizeof(*b));
}

/* Runs non-waiting turns until one runs no callback (bounded: a producer
 * may keep a socket writable for ever). */
static inline void pump(mux_loop_t *loop, int max_turns) {
    for (int i = 0; i < max_turns; i++) {
        int ran = mux_run(loop, MUX_RUN_NOWAIT);
        CHECK(ran >= 0);
        if (ran == 0)
            break;
    }
}

/* Which of the 64 fds from the lowest free one are open: taken before an
 * input runs and compared after it, so that a leaked fd is caught. */
#define FD_WINDOW 64
typedef struct {
    int base;
    uint64_t open;
} fd_snapshot_t;

static inline fd_snapshot_t fd_snapshot(int base) {
    fd_snapshot_t s = {base, 0};
    if (base < 0) {
        s.base = open("/dev/null", O_RDONLY | O_CLOEXEC);
        CHECK(s.base >= 0);
        close(s.base);
    }
    for (int i = 0; i < FD_WINDOW; i++)
        if (fcntl(s.base + i, F_GETFD) >= 0)
            s.open |= (uint64_t)1 << i;
    return s;
}

static inline void check_no_fd_leak(fd_snapshot_t before) {
    fd_snapshot_t after = fd_snapshot(before.base);
    CHECK(after.open == before.open);
}

#endif /* MUX_FUZZ_UTIL_H */
