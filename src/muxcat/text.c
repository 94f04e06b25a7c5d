/*
 * text.c -- messages, and bytes from the network written to the terminal
 * without control bytes, escaped as muxd's log escapes them
 * (src/common/escape.c, which also decodes --send/--expect TEXT).
 */
#define _POSIX_C_SOURCE 200809L

#include "escape.h"
#include "muxcat.h"
#include "outfd.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* How long muxcat waits at exit for stderr to take its messages. */
#define EXIT_FLUSH_MS 100

/* Messages stderr has not taken yet (it may be a pipe nobody reads):
 * written as it takes them, never with a blocking write. */
static struct {
    outfd_t out;
    bool opened;
    char buf[64 * 1024];
    size_t len;
} messages;

/* Writes what stderr takes now; true once nothing is left. */
static bool flush_messages(void) {
    while (messages.len > 0) {
        ssize_t n = outfd_write(&messages.out, messages.buf, messages.len);
        if (n == -EAGAIN)
            return false;
        if (n < 0) /* nobody will read them */
            n = (ssize_t)messages.len;
        messages.len -= (size_t)n;
        memmove(messages.buf, messages.buf + n, messages.len);
    }
    return true;
}

static void flush_at_exit(void) {
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (!flush_messages()) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long spent = (now.tv_sec - start.tv_sec) * 1000 +
                     (now.tv_nsec - start.tv_nsec) / 1000000;
        if (spent >= EXIT_FLUSH_MS ||
            outfd_wait(&messages.out, (int)(EXIT_FLUSH_MS - spent)) <= 0)
            return;
    }
}

void muxcat_message(const char *text, size_t len) {
    if (!messages.opened) {
        messages.opened = true;
        outfd_open(&messages.out, STDERR_FILENO);
        atexit(flush_at_exit);
    }
    size_t room = sizeof(messages.buf) - messages.len;
    if (len > room)
        len = room; /* what does not fit is lost, never waited for */
    memcpy(messages.buf + messages.len, text, len);
    messages.len += len;
    flush_messages();
}

void muxcat_error(const char *fmt, ...) {
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text + 8, sizeof(text) - 9, fmt, ap);
    va_end(ap);
    memcpy(text, "muxcat: ", 8);
    size_t len = 8 + (n < 0                          ? 0
                      : (size_t)n < sizeof(text) - 9 ? (size_t)n
                                                     : sizeof(text) - 10);
    text[len++] = '\n';
    muxcat_message(text, len);
}

void muxcat_print_escaped(FILE *out, const char *data, size_t len) {
    fputc('"', out);
    for (size_t i = 0; i < len; i++) {
        char esc[5];
        fwrite(esc, 1, text_escape_byte((unsigned char)data[i], esc), out);
    }
    fputc('"', out);
}
