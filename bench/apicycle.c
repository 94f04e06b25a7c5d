/*
 * apicycle.c -- bench/api.py's HTTP client in C: toxiproxy's API cycle
 * (create a proxy, add a latency toxic, delete it, delete the proxy) over
 * one keep-alive connection, each reply's status checked, for a number of
 * seconds. Cheap per request (a write and a read, no allocation), so
 * that the servers' answers, not the client, make the rate.
 *
 * Usage: apicycle API_PORT UPSTREAM_PORT SECONDS [pipelined]
 *   pipelined: the cycle's four requests in one write, then the replies;
 *   else one request, its reply, the next.
 * Prints "RESULT ops=N seconds=S"; exit status 1 on an unexpected reply,
 * 2 on a usage error.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NREQ 4

typedef struct {
    int fd;
    char buf[65536];
    size_t len;
} client_t;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int request(char *out, size_t size, const char *method, const char *path,
                   const char *body) {
    size_t blen = body ? strlen(body) : 0;
    int n =
        body ? snprintf(out, size,
                        "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        "Content-Type: application/json\r\n"
                        "Content-Length: %zu\r\n\r\n%s",
                        method, path, blen, body)
             : snprintf(out, size, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                        method, path);
    return n > 0 && (size_t)n < size ? n : -1;
}

static size_t content_length(const char *head, size_t len) {
    static const char key[] = "\r\ncontent-length:";
    for (size_t i = 0; i + sizeof(key) - 1 < len; i++)
        if (strncasecmp(head + i, key, sizeof(key) - 1) == 0)
            return (size_t)strtoul(head + i + sizeof(key) - 1, NULL, 10);
    return 0;
}

static const char *find_end(const char *buf, size_t len) {
    for (size_t i = 0; i + 4 <= len; i++)
        if (memcmp(buf + i, "\r\n\r\n", 4) == 0)
            return buf + i;
    return NULL;
}

static int fill(client_t *c) {
    if (c->len == sizeof(c->buf))
        return -1;
    ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
    if (n <= 0)
        return -1;
    c->len += (size_t)n;
    return 0;
}

/* The status of the next reply, its bytes consumed; -1 on an error. */
static int reply(client_t *c) {
    const char *end;
    while (!(end = find_end(c->buf, c->len)))
        if (fill(c) < 0)
            return -1;
    size_t head = (size_t)(end - c->buf);
    size_t total = head + 4 + content_length(c->buf, head);
    while (c->len < total)
        if (fill(c) < 0)
            return -1;
    int status = c->len > 12 ? atoi(c->buf + 9) : -1;
    memmove(c->buf, c->buf + total, c->len - total);
    c->len -= total;
    return status;
}

static int send_all(int fd, const char *data, size_t len) {
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, data + off, len - off);
        if (n <= 0)
            return -1;
        off += (size_t)n;
    }
    return 0;
}

static int connect_to(int port) {
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
        return -1;
    return fd;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: apicycle API_PORT UPSTREAM_PORT SECONDS "
                        "[pipelined]\n");
        return 2;
    }
    static client_t c;
    static char reqs[NREQ][512];
    static const int want[NREQ] = {201, 200, 204, 204};
    size_t lens[NREQ], all_len = 0;
    char proxy[256], all[NREQ * 512];
    snprintf(proxy, sizeof(proxy),
             "{\"name\":\"cycle\",\"listen\":\"127.0.0.1:0\",\"upstream\":"
             "\"127.0.0.1:%d\",\"enabled\":true}",
             atoi(argv[2]));
    int n[NREQ] = {
        request(reqs[0], sizeof(reqs[0]), "POST", "/proxies", proxy),
        request(reqs[1], sizeof(reqs[1]), "POST", "/proxies/cycle/toxics",
                "{\"name\":\"lag\",\"type\":\"latency\",\"attributes\":"
                "{\"latency\":1}}"),
        request(reqs[2], sizeof(reqs[2]), "DELETE", "/proxies/cycle/toxics/lag",
                NULL),
        request(reqs[3], sizeof(reqs[3]), "DELETE", "/proxies/cycle", NULL)};
    for (int i = 0; i < NREQ; i++) {
        if (n[i] < 0)
            return 2; /* cannot happen: the requests fit */
        lens[i] = (size_t)n[i];
        memcpy(all + all_len, reqs[i], lens[i]);
        all_len += lens[i];
    }
    int pipelined = argc > 4 && strcmp(argv[4], "pipelined") == 0;
    double seconds = atof(argv[3]);
    if ((c.fd = connect_to(atoi(argv[1]))) < 0) {
        perror("apicycle: connect");
        return 1;
    }
    unsigned long ops = 0;
    double start = now(), t = start;
    while (t - start < seconds) {
        for (int i = 0; i < NREQ; i++) {
            if ((pipelined ? i == 0 && send_all(c.fd, all, all_len) < 0
                           : send_all(c.fd, reqs[i], lens[i]) < 0)) {
                perror("apicycle: write");
                return 1;
            }
            if (!pipelined || i == NREQ - 1)
                for (int j = pipelined ? 0 : i; j <= i; j++) {
                    int status = reply(&c);
                    if (status != want[j]) {
                        fprintf(stderr, "apicycle: request %d: status %d\n",
                                j + 1, status);
                        return 1;
                    }
                }
        }
        ops += NREQ;
        t = now();
    }
    printf("RESULT ops=%lu seconds=%.6f\n", ops, t - start);
    close(c.fd);
    return 0;
}
