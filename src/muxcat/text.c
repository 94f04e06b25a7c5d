/*
 * text.c -- messages, and bytes from the network written to the terminal
 * without control bytes. (Escapes in --send/--expect TEXT are decoded by
 * src/common/escape.c, which muxd's --text shares.)
 */
#define _POSIX_C_SOURCE 200809L

#include "muxcat.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void muxcat_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("muxcat: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void muxcat_print_escaped(const char *data, size_t len) {
    fputc('"', stderr);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)data[i];
        if (c == '\n')
            fputs("\\n", stderr);
        else if (c == '\r')
            fputs("\\r", stderr);
        else if (c == '\t')
            fputs("\\t", stderr);
        else if (c == '"' || c == '\\')
            fprintf(stderr, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(stderr, "\\x%02x", c);
        else
            fputc(c, stderr);
    }
    fputc('"', stderr);
}
