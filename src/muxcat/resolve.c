/*
 * resolve.c -- muxcat --resolve HOST [SERVICE]: what getaddrinfo() says,
 * one result per line: family, socket type, address, port.
 */
#define _POSIX_C_SOURCE 200809L

#include "muxcat.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* Numeric text only: an IPv6 address with a scope, and a port number. */
#define HOST_TEXT 64
#define PORT_TEXT 12

static const char *family_name(int family) {
    switch (family) {
    case AF_INET:
        return "ipv4";
    case AF_INET6:
        return "ipv6";
    default:
        return "other";
    }
}

static const char *socktype_name(int socktype) {
    return socktype == SOCK_STREAM ? "stream" : "dgram";
}

/* The numeric host and port of one result (NI_NUMERIC*: no lookups). */
static int print_result(const struct addrinfo *ai) {
    char host[HOST_TEXT], port[PORT_TEXT];
    int gai = getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof(host), port,
                          sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV);
    if (gai != 0) {
        muxcat_error("cannot print an address: %s", gai_strerror(gai));
        return -1;
    }
    printf("%-4s  %-6s  %s  %s\n", family_name(ai->ai_family),
           socktype_name(ai->ai_socktype), host, port);
    return 0;
}

/* SERVICE as a number, as libmux finds it for TCP, else for UDP (the same
 * lookup, built-in names and messages as connecting). Returns 0 or an
 * error for mux_strerror(). */
static int service_number(const char *service, char *number, size_t size) {
    int port = mux_port_lookup(service, MUX_TCP);
    if (port < 0)
        port = mux_port_lookup(service, MUX_UDP);
    if (port >= 0)
        snprintf(number, size, "%d", port);
    return port < 0 ? port : 0;
}

int muxcat_resolve(const char *host, const char *service) {
    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_flags = AI_NUMERICSERV;
    char number[PORT_TEXT];
    int err = service ? service_number(service, number, sizeof(number)) : 0;
    const char *why = err < 0 ? mux_strerror(err) : NULL;
    if (!why) {
        /* getaddrinfo()'s own words ("Name or service not known"): this
         * mode shows what it says, where libmux has one "Unknown host". */
        int gai = getaddrinfo(host, service ? number : NULL, &hints, &res);
        why = gai == 0            ? NULL
              : gai == EAI_SYSTEM ? mux_strerror(errno ? -errno : -EIO)
                                  : gai_strerror(gai);
    }
    if (why) {
        muxcat_error("cannot resolve %s%s%s: %s", host, service ? " " : "",
                     service ? service : "", why);
        return MUXCAT_EXIT_FAIL;
    }
    int status = MUXCAT_EXIT_OK;
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        /* Raw sockets are listed too; nobody connects to those. */
        if (ai->ai_socktype != SOCK_STREAM && ai->ai_socktype != SOCK_DGRAM)
            continue;
        if (print_result(ai) < 0)
            status = MUXCAT_EXIT_FAIL;
    }
    freeaddrinfo(res);
    if (fflush(stdout) != 0) {
        muxcat_error("cannot write to stdout: %s", strerror(errno));
        status = MUXCAT_EXIT_FAIL;
    }
    return status;
}
