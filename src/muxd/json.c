/*
 * json.c -- escaping bytes from the network into JSON strings.
 */
#define _POSIX_C_SOURCE 200809L

#include "json.h"

#include <stdio.h>
#include <string.h>

/*
 * The length of the well-formed UTF-8 sequence at p (2 to 4 bytes), or 0
 * if the bytes there are not one (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF).
 */
static size_t utf8_sequence(const unsigned char *p, size_t n) {
    unsigned char c = p[0], lo = 0x80, hi = 0xbf;
    size_t len;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
    else
        return 0;
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return len;
}

/* The code point of a well-formed sequence of `len` bytes. */
static unsigned code_point(const unsigned char *p, size_t len) {
    unsigned cp = p[0] & (0x7fu >> len);
    for (size_t i = 1; i < len; i++)
        cp = cp << 6 | (p[i] & 0x3fu);
    return cp;
}

/* One ASCII byte as JSON, NUL-terminated, in esc[7]. */
static void escape_ascii(unsigned char c, char esc[7]) {
    static const char from[] = "\"\\\n\r\t\b\f", to[] = "\"\\nrtbf";
    const char *special = c ? strchr(from, c) : NULL;
    if (special)
        snprintf(esc, 7, "\\%c", to[special - from]);
    else if (c < 0x20 || c == 0x7f)
        snprintf(esc, 7, "\\u%04x", c);
    else
        esc[0] = (char)c, esc[1] = '\0';
}

/*
 * The JSON form of the character at in[0] into esc (NUL-terminated, at
 * most 7 bytes with the NUL); returns how many input bytes it stands for.
 */
static size_t escape_char(const unsigned char *in, size_t n, char esc[7]) {
    if (in[0] < 0x80) {
        escape_ascii(in[0], esc);
        return 1;
    }
    size_t len = utf8_sequence(in, n);
    if (len == 0) {
        strcpy(esc, "\\ufffd");
        return 1;
    }
    unsigned cp = code_point(in, len);
    if (cp <= 0x9f || cp == 0x2028 || cp == 0x2029) {
        snprintf(esc, 7, "\\u%04x", cp);
    } else {
        memcpy(esc, in, len);
        esc[len] = '\0';
    }
    return len;
}

char *muxd_json_escape(const char *in, size_t len, char *out, size_t size) {
    if (size < 4) {
        if (size)
            out[0] = '\0';
        return out;
    }
    const unsigned char *p = (const unsigned char *)in;
    size_t o = 0, cut = 0; /* cut: where "..." goes if the rest won't fit */
    for (size_t i = 0; i < len;) {
        char esc[7];
        i += escape_char(p + i, len - i, esc);
        size_t n = strlen(esc);
        if (o + n > size - 1) {
            memcpy(out + cut, "...", 4);
            return out;
        }
        memcpy(out + o, esc, n);
        o += n;
        if (o <= size - 4)
            cut = o;
    }
    out[o] = '\0';
    return out;
}
