/*
 * acl.h -- --allow / --deny: which client addresses muxd admits.
 */
#ifndef MUXD_ACL_H
#define MUXD_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define MUXD_ACL_MAX 64

typedef struct {
    int family;             /* AF_INET or AF_INET6 */
    unsigned char addr[16]; /* network byte order */
    unsigned prefix;        /* bits that must match */
} muxd_cidr_t;

typedef struct {
    muxd_cidr_t allow[MUXD_ACL_MAX], deny[MUXD_ACL_MAX];
    size_t nallow, ndeny;
} muxd_acl_t;

/*
 * Parses "10.0.0.0/8", "::1/128" or a bare address (a /32 or /128).
 * Returns false for anything else (bad address, prefix too long).
 */
bool muxd_cidr_parse(const char *text, muxd_cidr_t *cidr);

/*
 * The server's filter (mux_server_opts_t.filter): a client is refused if
 * it matches a --deny, or if there are --allow entries and it matches
 * none. IPv4-mapped IPv6 peers count as IPv4; unix clients are admitted.
 */
const char *muxd_acl_filter(const struct sockaddr *peer, socklen_t len,
                            void *acl);

#endif
