/*
 * acl.c -- CIDR matching for --allow / --deny.
 */
#define _POSIX_C_SOURCE 200809L

#include "acl.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

bool muxd_cidr_parse(const char *text, muxd_cidr_t *cidr) {
    char host[64];
    const char *slash = strchr(text, '/');
    size_t len = slash ? (size_t)(slash - text) : strlen(text);
    if (len == 0 || len >= sizeof(host))
        return false;
    memcpy(host, text, len);
    host[len] = '\0';
    memset(cidr, 0, sizeof(*cidr));
    if (inet_pton(AF_INET, host, cidr->addr) == 1)
        cidr->family = AF_INET, cidr->prefix = 32;
    else if (inet_pton(AF_INET6, host, cidr->addr) == 1)
        cidr->family = AF_INET6, cidr->prefix = 128;
    else
        return false;
    if (slash) {
        char *end;
        unsigned long prefix = strtoul(slash + 1, &end, 10);
        if (!slash[1] || *end || slash[1] == '-' || prefix > cidr->prefix)
            return false;
        cidr->prefix = (unsigned)prefix;
    }
    return true;
}

static bool cidr_match(const muxd_cidr_t *cidr, int family,
                       const unsigned char *addr) {
    if (cidr->family != family)
        return false;
    unsigned whole = cidr->prefix / 8, rest = cidr->prefix % 8;
    if (memcmp(cidr->addr, addr, whole) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xffu << (8 - rest));
    return (cidr->addr[whole] & mask) == (addr[whole] & mask);
}

static bool any_match(const muxd_cidr_t *list, size_t n, int family,
                      const unsigned char *addr) {
    for (size_t i = 0; i < n; i++)
        if (cidr_match(&list[i], family, addr))
            return true;
    return false;
}

const char *muxd_acl_filter(const struct sockaddr *peer, socklen_t len,
                            void *arg) {
    const muxd_acl_t *acl = arg;
    unsigned char addr[16];
    int family = peer->sa_family;
    (void)len;
    if (family == AF_INET) {
        memcpy(addr, &((const struct sockaddr_in *)peer)->sin_addr, 4);
    } else if (family == AF_INET6) {
        const struct in6_addr *a6 =
            &((const struct sockaddr_in6 *)peer)->sin6_addr;
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0,    0,
                                                 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(a6->s6_addr, mapped, 12) == 0) {
            family = AF_INET;
            memcpy(addr, a6->s6_addr + 12, 4);
        } else {
            memcpy(addr, a6->s6_addr, 16);
        }
    } else {
        return NULL; /* unix sockets: the file's permissions decide */
    }
    if (any_match(acl->deny, acl->ndeny, family, addr))
        return "denied by --deny";
    if (acl->nallow && !any_match(acl->allow, acl->nallow, family, addr))
        return "not in --allow";
    return NULL;
}
