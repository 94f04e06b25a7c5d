/*
 * test_addr.c -- address text (src/lib/addr.c): mux_addr_parse() for every
 * form and for bad input, mux_addr_resolve() with numbers, service names
 * and unix paths, and mux_addr_format() for each family.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mux.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

typedef struct {
    const char *text;
    const char *default_host;
    mux_transport transport;
    const char *host;
    const char *port;
    const char *path;
} parse_case_t;

static void check_parse(const parse_case_t *c) {
    mux_addr_t addr;
    memset(&addr, 0x5a, sizeof(addr));
    int err = mux_addr_parse(c->text, c->default_host, &addr);
    if (err != 0)
        fail_msg("\"%s\": %d", c->text, err);
    if (addr.transport != c->transport || strcmp(addr.host, c->host) != 0 ||
        strcmp(addr.port, c->port) != 0 || strcmp(addr.path, c->path) != 0)
        fail_msg("\"%s\" (default %s): got %d host \"%s\" port \"%s\" path "
                 "\"%s\"",
                 c->text, c->default_host ? c->default_host : "NULL",
                 (int)addr.transport, addr.host, addr.port, addr.path);
}

static void test_parse_inet_forms(void **state) {
    (void)state;
    static const parse_case_t cases[] = {
        {"127.0.0.1:80", NULL, MUX_TCP, "127.0.0.1", "80", ""},
        {"localhost:8080", "10.0.0.1", MUX_TCP, "localhost", "8080", ""},
        {"example.org:0", NULL, MUX_TCP, "example.org", "0", ""},
        {"127.0.0.1:65535", NULL, MUX_TCP, "127.0.0.1", "65535", ""},
        {":8080", NULL, MUX_TCP, "", "8080", ""},
        {":8080", "10.0.0.1", MUX_TCP, "10.0.0.1", "8080", ""},
        {":8080", "*", MUX_TCP, "", "8080", ""},
        {"*:8080", NULL, MUX_TCP, "", "8080", ""},
        {"*:8080", "127.0.0.1", MUX_TCP, "", "8080", ""}, /* explicit */
        {"[::1]:80", NULL, MUX_TCP, "::1", "80", ""},
        {"[::]:7", "127.0.0.1", MUX_TCP, "::", "7", ""},
        {"[fe80::1:2]:443", NULL, MUX_TCP, "fe80::1:2", "443", ""},
        {"8080", NULL, MUX_TCP, "", "8080", ""},
        {"8080", "", MUX_TCP, "", "8080", ""},
        {"8080", "*", MUX_TCP, "", "8080", ""},
        {"8080", "127.0.0.1", MUX_TCP, "127.0.0.1", "8080", ""},
        {"0", "::1", MUX_TCP, "::1", "0", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_parse(&cases[i]);
}

static void test_parse_schemes_and_services(void **state) {
    (void)state;
    static const parse_case_t cases[] = {
        {"tcp://127.0.0.1:7", NULL, MUX_TCP, "127.0.0.1", "7", ""},
        {"tcp://:7", "127.0.0.1", MUX_TCP, "127.0.0.1", "7", ""},
        {"udp://127.0.0.1:53", NULL, MUX_UDP, "127.0.0.1", "53", ""},
        {"udp://[::1]:9", NULL, MUX_UDP, "::1", "9", ""},
        {"udp://9", "127.0.0.1", MUX_UDP, "127.0.0.1", "9", ""},
        {"udp://*:9", "127.0.0.1", MUX_UDP, "", "9", ""},
        {"echo", NULL, MUX_TCP, "", "echo", ""},
        {"http", "127.0.0.1", MUX_TCP, "127.0.0.1", "http", ""},
        {"localhost:echo", NULL, MUX_TCP, "localhost", "echo", ""},
        {"[::1]:http", NULL, MUX_TCP, "::1", "http", ""},
        {"udp://localhost:daytime", NULL, MUX_UDP, "localhost", "daytime", ""},
        {"unix:/tmp/muxd.sock", "127.0.0.1", MUX_UNIX, "", "",
         "/tmp/muxd.sock"},
        {"unix:relative/x.sock", NULL, MUX_UNIX, "", "", "relative/x.sock"},
        {"unix:/a:b", NULL, MUX_UNIX, "", "", "/a:b"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_parse(&cases[i]);
}

/* The longest path a sockaddr_un holds (with its NUL) parses. */
static void test_parse_unix_path_limit(void **state) {
    (void)state;
    struct sockaddr_un sun;
    char text[5 + sizeof(sun.sun_path) + 1];
    memcpy(text, "unix:", 5);
    memset(text + 5, 'p', sizeof(sun.sun_path) - 1);
    text[5 + sizeof(sun.sun_path) - 1] = '\0';
    mux_addr_t addr;
    assert_int_equal(mux_addr_parse(text, NULL, &addr), 0);
    assert_int_equal(strlen(addr.path), sizeof(sun.sun_path) - 1);
    text[5 + sizeof(sun.sun_path) - 1] = 'p'; /* one more byte */
    text[5 + sizeof(sun.sun_path)] = '\0';
    assert_int_equal(mux_addr_parse(text, NULL, &addr), -EINVAL);
}

static void test_parse_bad_input(void **state) {
    (void)state;
    static const char *const bad[] = {
        "",
        ":",
        "[::1",
        "[::1]",
        "[::1]80",
        "[::1]:",
        "[]:80",
        "[127.0.0.1]:80",
        "::1:80",
        "::1",
        "fe80::1:443",
        "host:",
        "host:80x",
        "host:8 0",
        "local host:80",
        "host\t:80",
        "host:80\n",
        "host\x01:80",
        "\x7f:80",
        "a/b:80",
        "user@host:80",
        "tcp://",
        "udp://",
        "udp://host:",
        "unix:",
        "host:ht\x01tp",
        " 80",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        mux_addr_t addr, before;
        memset(&addr, 0x5a, sizeof(addr));
        before = addr;
        int err = mux_addr_parse(bad[i], "127.0.0.1", &addr);
        if (err != -EINVAL)
            fail_msg("\"%s\": expected -EINVAL, got %d", bad[i], err);
        /* Nothing else written. */
        assert_memory_equal(&addr, &before, sizeof(addr));
    }
    static const char *const out_of_range[] = {
        "127.0.0.1:65536", "127.0.0.1:99999999999999999999", "udp://:70000"};
    for (size_t i = 0; i < sizeof(out_of_range) / sizeof(out_of_range[0]);
         i++) {
        mux_addr_t addr, before;
        memset(&addr, 0x5a, sizeof(addr));
        before = addr;
        int err = mux_addr_parse(out_of_range[i], "127.0.0.1", &addr);
        if (err != -ERANGE)
            fail_msg("\"%s\": expected -ERANGE, got %d", out_of_range[i], err);
        /* Nothing else written. */
        assert_memory_equal(&addr, &before, sizeof(addr));
    }
    mux_addr_t addr;
    assert_int_equal(mux_addr_parse(NULL, NULL, &addr), -EINVAL);
    /* A default host that is not a host name is refused too. */
    assert_int_equal(mux_addr_parse("80", "bad host", &addr), -EINVAL);
}

static void test_parse_long_host(void **state) {
    (void)state;
    char text[300];
    mux_addr_t addr;
    memset(text, 'h', 255);
    strcpy(text + 255, ":80");
    assert_int_equal(mux_addr_parse(text, NULL, &addr), 0);
    assert_int_equal(strlen(addr.host), 255);
    memset(text, 'h', 256);
    strcpy(text + 256, ":80");
    assert_int_equal(mux_addr_parse(text, NULL, &addr), -EINVAL);
}

/* ------------------------------------------------------------------ */
/* Resolving                                                           */
/* ------------------------------------------------------------------ */

static int resolve(const char *text, int passive, mux_sockaddr_t *out,
                   size_t max) {
    mux_addr_t addr;
    assert_int_equal(mux_addr_parse(text, NULL, &addr), 0);
    return mux_addr_resolve(&addr, passive, out, max);
}

static void test_resolve_ipv4(void **state) {
    (void)state;
    mux_sockaddr_t sa[4];
    int n = resolve("127.0.0.1:0", 1, sa, 4);
    assert_int_equal(n, 1);
    assert_int_equal(sa[0].family, AF_INET);
    assert_int_equal(sa[0].socktype, SOCK_STREAM);
    assert_int_equal(sa[0].len, sizeof(struct sockaddr_in));
    const struct sockaddr_in *in = (const struct sockaddr_in *)&sa[0].sa;
    assert_int_equal(in->sin_family, AF_INET);
    assert_int_equal(ntohs(in->sin_port), 0);
    assert_int_equal(ntohl(in->sin_addr.s_addr), INADDR_LOOPBACK);

    n = resolve("udp://127.0.0.1:4242", 0, sa, 4);
    assert_int_equal(n, 1);
    assert_int_equal(sa[0].socktype, SOCK_DGRAM);
    assert_int_equal(ntohs(in->sin_port), 4242);
}

static void test_resolve_service_name(void **state) {
    (void)state;
    mux_sockaddr_t sa[4];
    int n = resolve("[::1]:echo", 0, sa, 4);
    assert_int_equal(n, 1);
    assert_int_equal(sa[0].family, AF_INET6);
    assert_int_equal(sa[0].len, sizeof(struct sockaddr_in6));
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&sa[0].sa;
    assert_int_equal(ntohs(in6->sin6_port), 7);
    assert_true(IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr));

    n = resolve("127.0.0.1:http", 0, sa, 4);
    assert_int_equal(n, 1);
    const struct sockaddr_in *in = (const struct sockaddr_in *)&sa[0].sa;
    assert_int_equal(ntohs(in->sin_port), 80);
}

static void test_resolve_unknown_service(void **state) {
    (void)state;
    mux_sockaddr_t sa[4];
    assert_int_equal(resolve("127.0.0.1:no-such-service-here", 0, sa, 4),
                     MUX_ENOSERVICE);
    assert_string_equal(mux_strerror(MUX_ENOSERVICE),
                        "Unknown port or service name");
    assert_string_equal(mux_strerror(MUX_ENOHOST), "Unknown host");
}

/* Numbers, names, and the reasons a port is refused. */
static void test_port_lookup(void **state) {
    (void)state;
    assert_int_equal(mux_port_lookup("0", MUX_TCP), 0);
    assert_int_equal(mux_port_lookup("65535", MUX_UDP), 65535);
    assert_int_equal(mux_port_lookup("65536", MUX_TCP), -ERANGE);
    assert_int_equal(mux_port_lookup("99999999999999999999", MUX_TCP), -ERANGE);
    assert_int_equal(mux_port_lookup("-1", MUX_TCP), -EINVAL);
    assert_int_equal(mux_port_lookup("", MUX_TCP), -EINVAL);
    assert_int_equal(mux_port_lookup("12ab", MUX_TCP), -EINVAL);
    assert_int_equal(mux_port_lookup("echo", MUX_TCP), 7);
    assert_int_equal(mux_port_lookup("chargen", MUX_UDP), 19);
    assert_int_equal(mux_port_lookup("no-such-service-here", MUX_TCP),
                     MUX_ENOSERVICE);
    mux_addr_t addr;
    assert_int_equal(mux_addr_parse("127.0.0.1:70000", NULL, &addr), -ERANGE);
    assert_int_equal(mux_addr_parse("127.0.0.1:-1", NULL, &addr), -EINVAL);
    assert_non_null(strstr(mux_strerror(MUX_ENOSERVDB), "netbase"));
}

/* An empty host is every interface for bind() and loopback for connect(). */
static void test_resolve_empty_host(void **state) {
    (void)state;
    mux_sockaddr_t sa[8];
    int n = resolve(":5555", 1, sa, 8);
    assert_true(n >= 1);
    for (int i = 0; i < n; i++) {
        if (sa[i].family == AF_INET) {
            const struct sockaddr_in *in =
                (const struct sockaddr_in *)&sa[i].sa;
            assert_int_equal(ntohl(in->sin_addr.s_addr), INADDR_ANY);
        } else {
            assert_int_equal(sa[i].family, AF_INET6);
            const struct sockaddr_in6 *in6 =
                (const struct sockaddr_in6 *)&sa[i].sa;
            assert_true(IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr));
        }
    }
    n = resolve(":5555", 0, sa, 8);
    assert_true(n >= 1);
    for (int i = 0; i < n; i++) {
        if (sa[i].family == AF_INET) {
            const struct sockaddr_in *in =
                (const struct sockaddr_in *)&sa[i].sa;
            assert_int_equal(ntohl(in->sin_addr.s_addr), INADDR_LOOPBACK);
        } else {
            const struct sockaddr_in6 *in6 =
                (const struct sockaddr_in6 *)&sa[i].sa;
            assert_true(IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr));
        }
    }
    /* `max` bounds what is stored. */
    assert_int_equal(resolve(":5555", 1, sa, 1), 1);
    assert_int_equal(resolve(":5555", 1, sa, 0), -EINVAL);
}

static void test_resolve_unix(void **state) {
    (void)state;
    mux_sockaddr_t sa[2];
    memset(sa, 0x5a, sizeof(sa));
    assert_int_equal(resolve("unix:/tmp/muxd-test.sock", 1, sa, 2), 1);
    assert_int_equal(sa[0].family, AF_UNIX);
    assert_int_equal(sa[0].socktype, SOCK_STREAM);
    const struct sockaddr_un *sun = (const struct sockaddr_un *)&sa[0].sa;
    assert_int_equal(sun->sun_family, AF_UNIX);
    assert_string_equal(sun->sun_path, "/tmp/muxd-test.sock");
    assert_true(sa[0].len >= offsetof(struct sockaddr_un, sun_path) +
                                 strlen("/tmp/muxd-test.sock") + 1);
    assert_true(sa[0].len <= sizeof(struct sockaddr_un));
}

/* ------------------------------------------------------------------ */
/* Formatting                                                          */
/* ------------------------------------------------------------------ */

static void test_format_ipv4(void **state) {
    (void)state;
    struct sockaddr_in in;
    memset(&in, 0, sizeof(in));
    in.sin_family = AF_INET;
    in.sin_port = htons(8080);
    assert_int_equal(inet_pton(AF_INET, "192.0.2.33", &in.sin_addr), 1);
    char out[MUX_ADDRSTRLEN];
    char *ret =
        mux_addr_format((struct sockaddr *)&in, sizeof(in), out, sizeof(out));
    assert_ptr_equal(ret, out);
    assert_string_equal(out, "192.0.2.33:8080");
    /* Every digit count of an octet and of a port (formatted by hand). */
    static const struct {
        const char *ip;
        unsigned port;
        const char *text;
    } cases[] = {{"0.0.0.0", 0, "0.0.0.0:0"},
                 {"255.255.255.255", 65535, "255.255.255.255:65535"},
                 {"10.9.100.99", 1, "10.9.100.99:1"},
                 {"127.0.0.1", 10000, "127.0.0.1:10000"},
                 {"1.20.199.250", 80, "1.20.199.250:80"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(inet_pton(AF_INET, cases[i].ip, &in.sin_addr), 1);
        in.sin_port = htons((uint16_t)cases[i].port);
        mux_addr_format((struct sockaddr *)&in, sizeof(in), out, sizeof(out));
        assert_string_equal(out, cases[i].text);
    }
    assert_int_equal(inet_pton(AF_INET, "192.0.2.33", &in.sin_addr), 1);
    in.sin_port = htons(8080);
    /* Too small a buffer: cut, still terminated. */
    char small[6];
    mux_addr_format((struct sockaddr *)&in, sizeof(in), small, sizeof(small));
    assert_string_equal(small, "192.0");
    char untouched[2] = "x";
    mux_addr_format((struct sockaddr *)&in, sizeof(in), untouched, 0);
    assert_string_equal(untouched, "x");
}

static void test_format_ipv6(void **state) {
    (void)state;
    struct sockaddr_in6 in6;
    memset(&in6, 0, sizeof(in6));
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(7);
    in6.sin6_addr = in6addr_loopback;
    char out[MUX_ADDRSTRLEN];
    mux_addr_format((struct sockaddr *)&in6, sizeof(in6), out, sizeof(out));
    assert_string_equal(out, "[::1]:7");
    /* The longest v6 text fits MUX_ADDRSTRLEN. */
    memset(&in6.sin6_addr, 0xff, sizeof(in6.sin6_addr));
    in6.sin6_port = htons(65535);
    mux_addr_format((struct sockaddr *)&in6, sizeof(in6), out, sizeof(out));
    assert_string_equal(out, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
}

static void test_format_unix(void **state) {
    (void)state;
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    strcpy(sun.sun_path, "/run/muxd.sock");
    char out[MUX_ADDRSTRLEN];
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
                                strlen(sun.sun_path) + 1);
    mux_addr_format((struct sockaddr *)&sun, len, out, sizeof(out));
    assert_string_equal(out, "/run/muxd.sock");
    /* Without the NUL in `len` (as the kernel may report it). */
    mux_addr_format((struct sockaddr *)&sun, len - 1, out, sizeof(out));
    assert_string_equal(out, "/run/muxd.sock");
    /* An unnamed peer, as accept() reports a unix client. */
    mux_addr_format((struct sockaddr *)&sun, sizeof(sa_family_t), out,
                    sizeof(out));
    assert_string_equal(out, "unix");
    /* An abstract address. */
    sun.sun_path[0] = '\0';
    mux_addr_format((struct sockaddr *)&sun, len, out, sizeof(out));
    assert_string_equal(out, "unix");
    /* The longest path fits MUX_ADDRSTRLEN. */
    memset(sun.sun_path, 'q', sizeof(sun.sun_path));
    mux_addr_format((struct sockaddr *)&sun, sizeof(sun), out, sizeof(out));
    assert_int_equal(strlen(out), sizeof(sun.sun_path));
}

static void test_format_unknown_family(void **state) {
    (void)state;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    ss.ss_family = AF_UNSPEC;
    char out[MUX_ADDRSTRLEN];
    mux_addr_format((struct sockaddr *)&ss, 0, out, sizeof(out));
    assert_string_equal(out, "?");
}

/* What resolve produces, format prints back. */
static void test_resolve_format_round_trip(void **state) {
    (void)state;
    static const char *const texts[] = {"127.0.0.1:9", "[::1]:65535"};
    for (size_t i = 0; i < 2; i++) {
        mux_sockaddr_t sa[2];
        assert_int_equal(resolve(texts[i], 0, sa, 2), 1);
        char out[MUX_ADDRSTRLEN];
        mux_addr_format((struct sockaddr *)&sa[0].sa, sa[0].len, out,
                        sizeof(out));
        assert_string_equal(out, texts[i]);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_inet_forms),
        cmocka_unit_test(test_parse_schemes_and_services),
        cmocka_unit_test(test_parse_unix_path_limit),
        cmocka_unit_test(test_parse_bad_input),
        cmocka_unit_test(test_parse_long_host),
        cmocka_unit_test(test_resolve_ipv4),
        cmocka_unit_test(test_resolve_service_name),
        cmocka_unit_test(test_resolve_unknown_service),
        cmocka_unit_test(test_port_lookup),
        cmocka_unit_test(test_resolve_empty_host),
        cmocka_unit_test(test_resolve_unix),
        cmocka_unit_test(test_format_ipv4),
        cmocka_unit_test(test_format_ipv6),
        cmocka_unit_test(test_format_unix),
        cmocka_unit_test(test_format_unknown_family),
        cmocka_unit_test(test_resolve_format_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
