/*
 * escape.c -- decoding the C escapes of command-line text (escape.h).
 */
#include "escape.h"

#include <string.h>

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

int text_unescape(char *text, size_t *len) {
    size_t in = 0, out = 0, n = strlen(text);
    while (in < n) {
        if (text[in] != '\\') {
            text[out++] = text[in++];
            continue;
        }
        char byte;
        size_t used = decode(text + in + 1, &byte);
        if (used == 0) {
            *len = in;
            return -1;
        }
        text[out++] = byte;
        in += 1 + used;
    }
    text[out] = '\0';
    *len = out;
    return 0;
}
