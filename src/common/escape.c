/*
 * escape.c -- C escapes: decoding command-line text, encoding bytes from
 * the network (escape.h).
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

size_t text_escape_byte(unsigned char c, char out[5]) {
    static const char hex[] = "0123456789abcdef";
    static const char from[] = "\n\r\t\\\"", to[] = "nrt\\\"";
    const char *special = c ? strchr(from, c) : NULL;
    memset(out, 0, 5);
    if (special) {
        out[0] = '\\';
        out[1] = to[special - from];
        return 2;
    }
    if (c < 0x20 || c > 0x7e) {
        out[0] = '\\';
        out[1] = 'x';
        out[2] = hex[c >> 4];
        out[3] = hex[c & 15];
        return 4;
    }
    out[0] = (char)c;
    return 1;
}

char *text_escape(const char *in, size_t len, char *out, size_t size) {
    if (size < 4) { /* no room for anything but the NUL */
        if (size)
            out[0] = '\0';
        return out;
    }
    size_t o = 0, cut = 0; /* cut: where "..." goes if the rest won't fit */
    for (size_t i = 0; i < len; i++) {
        char esc[5];
        size_t n = text_escape_byte((unsigned char)in[i], esc);
        if (o + n > size - 1) {
            memcpy(out + cut, "...", 4);
            return out;
        }
        memcpy(out + o, esc, n);
        o += n;
        if (o <= size - 4) /* room for "..." and the NUL after this byte */
            cut = o;
    }
    out[o] = '\0';
    return out;
}
