/*
 * addr.c -- address text: parsing "host:port" and its relatives, resolving
 * with getaddrinfo(), and printing socket addresses.
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

static bool has_prefix(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Copies [s, s+len) into dst of `size` bytes; false if it does not fit. */
static bool copy_span(char *dst, size_t size, const char *s, size_t len) {
    if (len >= size)
        return false;
    memcpy(dst, s, len);
    dst[len] = '\0';
    return true;
}

/* A port is 0..65535 in decimal, or a service name such as "http": a
 * letter, then letters, digits, '-' or '_'. Returns 0, -ERANGE for a
 * number past 65535, or -EINVAL. */
static int check_port(const char *port) {
    if (isdigit((unsigned char)port[0])) {
        unsigned long v = 0;
        for (const char *p = port; *p; p++) {
            if (!isdigit((unsigned char)*p))
                return -EINVAL;
            if (v <= 65535)
                v = v * 10 + (unsigned long)(*p - '0');
        }
        return v > 65535 ? -ERANGE : 0;
    }
    if (!isalpha((unsigned char)port[0]))
        return -EINVAL;
    for (const char *p = port; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
            return -EINVAL;
    return 0;
}

static bool valid_host(const char *host) {
    for (const char *p = host; *p; p++)
        if (!isgraph((unsigned char)*p) || strchr("[]/@", *p))
            return false;
    return true;
}

static bool set_host(mux_addr_t *addr, const char *host, size_t len,
                     const char *default_host) {
    if (len == 0) {
        host = default_host ? default_host : "";
        len = strlen(host);
    }
    if (len == 1 && host[0] == '*')
        len = 0;
    return copy_span(addr->host, sizeof(addr->host), host, len) &&
           valid_host(addr->host);
}

/* "HOST:PORT", "[V6]:PORT", ":PORT", "PORT". Returns 0, -ERANGE (the
 * port) or -EINVAL. */
static int parse_inet(const char *s, const char *default_host,
                      mux_addr_t *addr) {
    const char *port;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':' || close == s + 1)
            return -EINVAL;
        if (!copy_span(addr->host, sizeof(addr->host), s + 1,
                       (size_t)(close - s - 1)) ||
            !strchr(addr->host, ':') || !valid_host(addr->host))
            return -EINVAL;
        port = close + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (colon && memchr(s, ':', (size_t)(colon - s)))
            return -EINVAL; /* a bare IPv6 literal needs brackets */
        size_t host_len = colon ? (size_t)(colon - s) : 0;
        if (!set_host(addr, s, host_len, default_host))
            return -EINVAL;
        port = colon ? colon + 1 : s;
    }
    if (!*port ||
        !copy_span(addr->port, sizeof(addr->port), port, strlen(port)))
        return -EINVAL;
    return check_port(addr->port);
}

int mux_addr_parse(const char *text, const char *default_host,
                   mux_addr_t *out) {
    mux_addr_t addr;
    memset(&addr, 0, sizeof(addr));
    if (!text)
        return -EINVAL;
    if (has_prefix(text, "unix:")) {
        const char *path = text + 5;
        addr.transport = MUX_UNIX;
        if (!*path ||
            !copy_span(addr.path, sizeof(addr.path), path, strlen(path)))
            return -EINVAL;
        *out = addr;
        return 0;
    }
    addr.transport = MUX_TCP;
    if (has_prefix(text, "udp://")) {
        addr.transport = MUX_UDP;
        text += 6;
    } else if (has_prefix(text, "tcp://")) {
        text += 6;
    }
    int err = parse_inet(text, default_host, &addr);
    if (err < 0)
        return err;
    *out = addr;
    return 0;
}

static int resolve_unix(const mux_addr_t *addr, mux_sockaddr_t *out) {
    struct sockaddr_un *sun = (struct sockaddr_un *)&out->sa;
    memset(out, 0, sizeof(*out));
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, addr->path, strlen(addr->path) + 1);
    out->family = AF_UNIX;
    out->socktype = SOCK_STREAM;
    out->len = (socklen_t)sizeof(*sun);
    return 1;
}

static int gai_to_errno(int gai) {
    switch (gai) {
    case EAI_SERVICE:
        return MUX_ENOSERVICE;
    case EAI_MEMORY:
        return -ENOMEM;
    case EAI_AGAIN:
        return -EAGAIN;
    case EAI_SYSTEM:
        return errno ? -errno : -EIO;
    default:
        return MUX_ENOHOST;
    }
}

/* The names muxd's docs use, for a system without a services database (a
 * minimal Debian has no /etc/services until netbase is installed), or one
 * whose database lacks them. Same numbers for TCP and UDP. */
static const struct {
    char name[8];
    unsigned short port;
} builtin_ports[] = {
    {"echo", 7},     {"discard", 9}, {"daytime", 13}, {"qotd", 17},
    {"chargen", 19}, {"ftp", 21},    {"ssh", 22},     {"telnet", 23},
    {"smtp", 25},    {"time", 37},   {"domain", 53},  {"http", 80},
    {"www", 80},     {"pop3", 110},  {"ntp", 123},    {"imap", 143},
    {"https", 443},
};

/* `name` in the system's services database (getaddrinfo: thread-safe, and
 * whatever NSS is set up). Returns the port, or MUX_ENOSERVICE. */
static int system_port(const char *name, int socktype) {
    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET; /* no lookup: the node is NULL, passive */
    hints.ai_socktype = socktype;
    hints.ai_flags = AI_PASSIVE;
    int gai = getaddrinfo(NULL, name, &hints, &res);
    if (gai != 0)
        return gai == EAI_SERVICE ? MUX_ENOSERVICE : gai_to_errno(gai);
    int port =
        ntohs(((const struct sockaddr_in *)(void *)res->ai_addr)->sin_port);
    freeaddrinfo(res);
    return port;
}

int mux_port_lookup(const char *port, mux_transport transport) {
    int err = check_port(port);
    if (err < 0)
        return err;
    if (isdigit((unsigned char)port[0]))
        return atoi(port);
    int found =
        system_port(port, transport == MUX_UDP ? SOCK_DGRAM : SOCK_STREAM);
    if (found != MUX_ENOSERVICE)
        return found;
    for (size_t i = 0; i < sizeof(builtin_ports) / sizeof(builtin_ports[0]);
         i++)
        if (strcmp(builtin_ports[i].name, port) == 0)
            return builtin_ports[i].port;
    /* Unknown to both: say so differently where there is no database. */
    return system_port("discard", SOCK_STREAM) == MUX_ENOSERVICE
               ? MUX_ENOSERVDB
               : MUX_ENOSERVICE;
}

int mux_addr_resolve(const mux_addr_t *addr, int passive, mux_sockaddr_t *out,
                     size_t max) {
    if (max == 0)
        return -EINVAL;
    if (addr->transport == MUX_UNIX)
        return resolve_unix(addr, out);
    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = addr->transport == MUX_UDP ? SOCK_DGRAM : SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    int port = mux_port_lookup(addr->port, addr->transport);
    if (port < 0)
        return port;
    char number[12];
    snprintf(number, sizeof(number), "%d", port);
    const char *node = addr->host[0] ? addr->host : NULL;
    int gai = getaddrinfo(node, number, &hints, &res);
    if (gai != 0)
        return gai_to_errno(gai);
    size_t n = 0;
    for (struct addrinfo *ai = res; ai && n < max; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof(out[n].sa))
            continue;
        memset(&out[n], 0, sizeof(out[n]));
        out[n].family = ai->ai_family;
        out[n].socktype = ai->ai_socktype;
        out[n].len = ai->ai_addrlen;
        memcpy(&out[n].sa, ai->ai_addr, ai->ai_addrlen);
        n++;
    }
    freeaddrinfo(res);
    return n ? (int)n : MUX_ENOHOST;
}

/* "a.b.c.d:port" by hand: inet_ntop() + snprintf() cost ~2,800
 * instructions, per accepted client. Returns false if it does not fit. */
static bool format_ipv4(const struct sockaddr_in *in, char *out, size_t size) {
    char text[sizeof("255.255.255.255:65535")], *p = text;
    const unsigned char *b = (const unsigned char *)&in->sin_addr;
    for (int i = 0; i < 4; i++) {
        if (b[i] >= 100)
            *p++ = (char)('0' + b[i] / 100);
        if (b[i] >= 10)
            *p++ = (char)('0' + b[i] / 10 % 10);
        *p++ = (char)('0' + b[i] % 10);
        *p++ = i < 3 ? '.' : ':';
    }
    char digits[5];
    int n = 0;
    for (unsigned port = ntohs(in->sin_port); n == 0 || port; port /= 10)
        digits[n++] = (char)('0' + port % 10);
    while (n > 0)
        *p++ = digits[--n];
    *p = '\0';
    if ((size_t)(p - text) >= size)
        return false;
    memcpy(out, text, (size_t)(p - text) + 1);
    return true;
}

char *mux_addr_format(const struct sockaddr *sa, socklen_t len, char *out,
                      size_t size) {
    char ip[INET6_ADDRSTRLEN];
    if (size == 0)
        return out;
    out[0] = '\0';
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        if (format_ipv4(in, out, size))
            return out;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        snprintf(out, size, "%s:%u", ip, ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        snprintf(out, size, "[%s]:%u", ip, ntohs(in6->sin6_port));
    } else if (sa->sa_family == AF_UNIX) {
        const struct sockaddr_un *sun = (const struct sockaddr_un *)sa;
        size_t path_len = len > offsetof(struct sockaddr_un, sun_path)
                              ? len - offsetof(struct sockaddr_un, sun_path)
                              : 0;
        if (path_len == 0 || sun->sun_path[0] == '\0')
            snprintf(out, size, "unix");
        else
            snprintf(out, size, "%.*s", (int)strnlen(sun->sun_path, path_len),
                     sun->sun_path);
    } else {
        snprintf(out, size, "?");
    }
    return out;
}

/* ------------------------------------------------------------------ */
/* Sources, for the per-source limits                                  */
/* ------------------------------------------------------------------ */

bool mux__source_of(const struct sockaddr *sa, mux__source_t *out) {
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
                                       0, 0, 0, 0, 0xff, 0xff};
    memset(out, 0, sizeof(*out));
    if (sa->sa_family == AF_INET) {
        out->family = AF_INET;
        memcpy(out->addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return true;
    }
    if (sa->sa_family != AF_INET6)
        return false;
    const uint8_t *a6 = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    if (memcmp(a6, mapped, sizeof(mapped)) == 0) {
        out->family = AF_INET;
        memcpy(out->addr, a6 + 12, 4);
    } else {
        out->family = AF_INET6;
        memcpy(out->addr, a6, 8); /* the /64 */
    }
    return true;
}

uint32_t mux__source_hash(const mux__source_t *source) {
    uint32_t h = 2166136261u; /* FNV-1a */
    const uint8_t *p = (const uint8_t *)source;
    for (size_t i = 0; i < sizeof(*source); i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

unsigned mux__addr_port(const struct sockaddr *sa) {
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return 0;
}
