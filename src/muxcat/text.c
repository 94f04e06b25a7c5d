/*
 * text.c -- escapes: reading them in --send/--expect TEXT (-e), and
 * writing bytes from the network to the terminal without control bytes.
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

static int hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes the escape after a backslash at `s`; returns its length or 0. */
static size_t decode(const char *s, char *out) {
    switch (s[0]) {
    case '\\':
        *out = '\\';
        return 1;
    case 'n':
        *out = '\n';
        return 1;
    case 'r':
        *out = '\r';
        return 1;
    case 't':
        *out = '\t';
        return 1;
    case '0':
        *out = '\0';
        return 1;
    case 'x':
        if (hex_value(s[1]) < 0 || hex_value(s[2]) < 0)
            return 0;
        *out = (char)(hex_value(s[1]) * 16 + hex_value(s[2]));
        return 3;
    default:
        return 0;
    }
}

int muxcat_unescape(char *text, size_t *len) {
    size_t in = 0, out = 0, n = strlen(text);
    while (in < n) {
        if (text[in] != '\\') {
            text[out++] = text[in++];
            continue;
        }
        size_t used = decode(text + in + 1, &text[out]);
        if (used == 0)
            return -1;
        in += 1 + used;
        out++;
    }
    text[out] = '\0';
    *len = out;
    return 0;
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
