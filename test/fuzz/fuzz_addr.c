/*
 * fuzz_addr.c -- libFuzzer harness for address text: mux_addr_parse() and
 * mux_addr_format().
 *
 * Input: TEXT [NUL DEFAULT_HOST [NUL SOCKADDR_BYTES]]. Checks:
 *  - mux_addr_parse returns 0, -EINVAL or -ERANGE (a port past 65535),
 *    and on failure writes nothing;
 *  - a parsed address is well formed (NUL-terminated fields, a valid port,
 *    a host without blanks, brackets, '/' or '@') and survives a round
 *    trip: formatted back to text and parsed again, it is the same;
 *  - a host that is an IPv4/IPv6 literal (inet_pton only: nothing here
 *    resolves names) with a numeric port formats to "ip:port" or
 *    "[ip]:port", which parses back to the same address;
 *  - mux_addr_format of arbitrary sockaddr bytes (a length and an output
 *    size of their own) stays inside both buffers and NUL-terminates.
 * Both buffers are heap blocks of the exact size, so ASan sees any overrun.
 */
#define _POSIX_C_SOURCE 200809L

#include "fuzz_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/un.h>

/* Splits off the next NUL-terminated part of the input (as a copy). */
static char *next_part(const uint8_t **data, size_t *size, int *found_nul) {
    const uint8_t *nul = memchr(*data, 0, *size);
    size_t len = nul ? (size_t)(nul - *data) : *size;
    char *part = malloc(len + 1);
    CHECK(part != NULL);
    memcpy(part, *data, len);
    part[len] = '\0';
    *found_nul = nul != NULL;
    *data += nul ? len + 1 : len;
    *size -= nul ? len + 1 : len;
    return part;
}

static int terminated(const char *s, size_t size) {
    return memchr(s, '\0', size) != NULL;
}

/* A decimal port 0..65535 (leading zeros allowed); -1 if it is not one. */
static long port_number(const char *port) {
    long v = 0;
    if (!*port)
        return -1;
    for (const char *p = port; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
        if (v > 65535)
            return -1;
    }
    return v;
}

/* A port number, or a service name: letters, digits, '-' and '_'. */
static int valid_port(const char *port) {
    if (port[0] >= '0' && port[0] <= '9')
        return port_number(port) >= 0;
    if (!*port)
        return 0;
    for (const char *p = port; *p; p++)
        if (!(*p >= '0' && *p <= '9') && !(*p >= 'a' && *p <= 'z') &&
            !(*p >= 'A' && *p <= 'Z') && *p != '-' && *p != '_')
            return 0;
    return 1;
}

static void check_well_formed(const mux_addr_t *a) {
    CHECK(terminated(a->host, sizeof(a->host)));
    CHECK(terminated(a->port, sizeof(a->port)));
    CHECK(terminated(a->path, sizeof(a->path)));
    if (a->transport == MUX_UNIX) {
        CHECK(a->path[0] != '\0');
        CHECK(a->host[0] == '\0' && a->port[0] == '\0');
        return;
    }
    CHECK(a->transport == MUX_TCP || a->transport == MUX_UDP);
    CHECK(a->path[0] == '\0');
    CHECK(valid_port(a->port));
    for (const char *p = a->host; *p; p++)
        CHECK(*p > ' ' && *p < 0x7f && !strchr("[]/@", *p));
}

static int same_addr(const mux_addr_t *a, const mux_addr_t *b) {
    return a->transport == b->transport && !strcmp(a->host, b->host) &&
           !strcmp(a->port, b->port) && !strcmp(a->path, b->path);
}

/* The text that must parse back to `a` (always with an explicit scheme,
 * so that a host named "unix" cannot turn into a path). */
static void to_text(const mux_addr_t *a, char *out, size_t size) {
    const char *scheme = a->transport == MUX_UDP ? "udp://" : "tcp://";
    if (a->transport == MUX_UNIX)
        snprintf(out, size, "unix:%s", a->path);
    else if (strchr(a->host, ':'))
        snprintf(out, size, "%s[%s]:%s", scheme, a->host, a->port);
    else
        snprintf(out, size, "%s%s:%s", scheme, a->host[0] ? a->host : "*",
                 a->port);
}

static void check_round_trip(const mux_addr_t *a) {
    char text[512];
    mux_addr_t again;
    to_text(a, text, sizeof(text));
    CHECK(mux_addr_parse(text, NULL, &again) == 0);
    CHECK(same_addr(a, &again));
}

/* An IP literal with a numeric port: format it as a sockaddr, parse the
 * text back, compare the bytes. */
static void check_literal(const mux_addr_t *a) {
    struct sockaddr_in6 sin6;
    struct sockaddr_in sin;
    long number = port_number(a->port);
    if (a->transport == MUX_UNIX || number < 0)
        return;
    uint16_t port = (uint16_t)number;
    memset(&sin, 0, sizeof(sin));
    memset(&sin6, 0, sizeof(sin6));
    const struct sockaddr *sa;
    socklen_t len;
    if (inet_pton(AF_INET, a->host, &sin.sin_addr) == 1) {
        sin.sin_family = AF_INET;
        sin.sin_port = htons(port);
        sa = (const struct sockaddr *)&sin, len = sizeof(sin);
    } else if (inet_pton(AF_INET6, a->host, &sin6.sin6_addr) == 1) {
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons(port);
        sa = (const struct sockaddr *)&sin6, len = sizeof(sin6);
    } else {
        return;
    }
    char text[MUX_ADDRSTRLEN];
    mux_addr_t back;
    mux_addr_format(sa, len, text, sizeof(text));
    CHECK(mux_addr_parse(text, NULL, &back) == 0);
    CHECK(back.transport == MUX_TCP && port_number(back.port) == port);
    unsigned char bytes[16];
    if (sa->sa_family == AF_INET)
        CHECK(inet_pton(AF_INET, back.host, bytes) == 1 &&
              !memcmp(bytes, &sin.sin_addr, 4));
    else
        CHECK(inet_pton(AF_INET6, back.host, bytes) == 1 &&
              !memcmp(bytes, &sin6.sin6_addr, 16));
}

static void fuzz_parse(const char *text, const char *default_host) {
    mux_addr_t addr, before;
    memset(&addr, 0xa5, sizeof(addr));
    before = addr;
    int err = mux_addr_parse(text, default_host, &addr);
    CHECK(err == 0 || err == -EINVAL || err == -ERANGE);
    if (err < 0) {
        CHECK(!memcmp(&addr, &before, sizeof(addr)));
        return;
    }
    check_well_formed(&addr);
    check_round_trip(&addr);
    check_literal(&addr);
}

/*
 * Raw sockaddr bytes: [family selector, length, output size, bytes...].
 * The sockaddr is a heap block of exactly `len` bytes (at least the
 * fixed-size struct for AF_INET/AF_INET6, which the format reads whole).
 */
static void fuzz_format(const uint8_t *data, size_t size) {
    static const int families[] = {AF_INET, AF_INET6, AF_UNIX, AF_UNSPEC};
    if (size < 3)
        return;
    int family = families[data[0] % 4];
    size_t len = data[1] % (sizeof(struct sockaddr_storage) + 1);
    size_t out_size = data[2] % (MUX_ADDRSTRLEN + 1);
    data += 3, size -= 3;
    size_t min = family == AF_INET    ? sizeof(struct sockaddr_in)
                 : family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                      : sizeof(sa_family_t);
    if (len < min)
        len = min;
    unsigned char *sa = calloc(1, len);
    char *out = malloc(out_size ? out_size : 1);
    CHECK(sa && out);
    memcpy(sa, data, size < len ? size : len);
    ((struct sockaddr *)(void *)sa)->sa_family = (sa_family_t)family;
    out[0] = 'x';
    char *ret = mux_addr_format((const struct sockaddr *)(void *)sa,
                                (socklen_t)len, out, out_size);
    CHECK(ret == out);
    if (out_size == 0)
        CHECK(out[0] == 'x');
    else
        CHECK(terminated(out, out_size));
    free(sa);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int more = 0;
    char *text = next_part(&data, &size, &more);
    char *default_host = more ? next_part(&data, &size, &more) : NULL;
    fuzz_parse(text, default_host);
    if (default_host)
        fuzz_parse(text, NULL);
    if (more)
        fuzz_format(data, size);
    free(default_host);
    free(text);
    return 0;
}
