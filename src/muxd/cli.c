/*
 * cli.c -- muxd's command line: options parsed into muxd_options_t, and
 * the usage errors as messages for main() to print (the --help text is
 * usage.c's).
 */
#define _POSIX_C_SOURCE 200809L

#include "cli.h"
#include "escape.h"
#include "faults.h"
#include "number.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Long options without a short form. */
enum {
    OPT_TEXT = 256,
    OPT_FRAMING,
    OPT_MAX_LINE,
    OPT_DELAY,
    OPT_MAX_OUTPUT,
    OPT_IDLE_TIMEOUT,
    OPT_LINE_TIMEOUT,
    OPT_SHUTDOWN_TIMEOUT,
    OPT_ALLOW,
    OPT_DENY,
    OPT_USER,
    OPT_FAULT,
    OPT_SEED,
};

/* The relay (relay_option(); usage.c's usage_relay()). */
enum { OPT_TO = 1280, OPT_CONNECT_TIMEOUT, OPT_DUMP, OPT_DUMP_MAX };

/* Admission limits (admission_option(); usage.c's usage_admission()). */
enum { OPT_MAX_PER_SOURCE = 768, OPT_MAX_RATE, OPT_UDP_BUDGET };

/* The chat broker's bounds (long options only). */
enum { OPT_CHAT_MEMORY = 1024, OPT_CHAT_STALL };

/* Long options of the fixture conveniences (apart from the others'). */
enum {
    OPT_READY_FILE = 512,
    OPT_PIDFILE,
    OPT_FD,
    OPT_MAX_ACCEPTS,
    OPT_LOG_FORMAT,
    OPT_WORKERS,
};

/* The control socket (control.c). */
enum { OPT_CONTROL = 1536 };

/* ------------------------------------------------------------------ */
/* Parsing                                                             */
/* ------------------------------------------------------------------ */

/* The parse under way: the first usage error is kept, and parsing stops
 * at the option that made it. */
typedef struct {
    muxd_options_t *o;
    char *msg;
    size_t size;
    bool failed;
    /* How many -l came before each --to: the listeners it takes. */
    size_t to_at[MUXD_RELAY_UPSTREAMS];
} parser_t;

/* Records a usage error (`fmt` with one %s for `arg`), unless one is
 * recorded already. Returns false, for the caller to return. */
static bool fail(parser_t *p, const char *fmt, const char *arg) {
    if (!p->failed)
        snprintf(p->msg, p->size, fmt, arg);
    p->failed = true;
    return false;
}

static unsigned long parse_number(parser_t *p, const char *text,
                                  const char *what, unsigned long max) {
    unsigned long v;
    if (number_parse_ulong(text, max, &v) < 0) {
        char msg[128];
        snprintf(msg, sizeof(msg), "invalid %s: '%%s' (0 to %lu)", what, max);
        fail(p, msg, text);
        return 0;
    }
    return v;
}

/* Seconds, fractions allowed ("0.5"), as milliseconds. */
static uint64_t parse_seconds(parser_t *p, const char *text, const char *what) {
    double secs;
    if (number_parse_seconds(text, 1e9, &secs) < 0) {
        char msg[128];
        snprintf(msg, sizeof(msg), "invalid %s: '%%s' (seconds)", what);
        fail(p, msg, text);
        return 0;
    }
    return number_seconds_to_ms(secs);
}

/* Bytes, 1 to `max`, with an optional k, M or G suffix (powers of 1024). */
static size_t parse_size(parser_t *p, const char *text, const char *what,
                         uint64_t max) {
    if (max > SIZE_MAX)
        max = SIZE_MAX; /* a 32-bit size_t: 4G would wrap to 0 */
    uint64_t v = number_parse_size(text, NULL, max, true);
    if (!v) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "invalid %s: '%%s' (bytes, e.g. 64k; at most %" PRIu64 "%s)",
                 what, max >> 30 ? max >> 30 : max, max >> 30 ? "G" : "");
        fail(p, msg, text);
    }
    return (size_t)v;
}

static bool add_cidr(parser_t *p, muxd_cidr_t *list, size_t *n,
                     const char *text) {
    if (*n == MUXD_ACL_MAX)
        return fail(p, "too many --allow or --deny entries (at most 64): '%s'",
                    text);
    if (!muxd_cidr_parse(text, &list[*n]))
        return fail(p, "invalid CIDR: '%s' (e.g. 10.0.0.0/8, ::1/128)", text);
    (*n)++;
    return true;
}

static void add_listen(parser_t *p, const char *text) {
    muxd_options_t *o = p->o;
    if (o->nlisten == MAX_LISTEN)
        fail(p, "too many listeners (at most 64): '%s'", text);
    else
        o->listen_text[o->nlisten++] = text;
}

/* Why an address (or, with -p, its port) cannot be listened on: `err`
 * from mux_addr_parse() or mux_port_lookup(). */
static bool address_error(parser_t *p, const char *text, const char *port,
                          int err) {
    const char *why = mux_strerror(err);
    if (err == -ERANGE)
        why = port ? "out of range (0-65535)" : "port out of range (0-65535)";
    else if (err == MUX_ENOSERVICE)
        why = "unknown service name (not in /etc/services)";
    else if (err == -EINVAL)
        why = port ? "not a number 0-65535 or a service name"
                   : "not HOST:PORT, [V6]:PORT, udp://HOST:PORT or unix:/PATH";
    char msg[512];
    snprintf(msg, sizeof(msg), "invalid %s '%s': %s", port ? "port" : "address",
             port ? port : text, why);
    return fail(p, "%s", msg);
}

/* -H and -p as one address, the listener they add (or the default). */
static bool add_default_listen(parser_t *p) {
    muxd_options_t *o = p->o;
    const char *host = o->host ? o->host : "127.0.0.1";
    snprintf(o->default_listen, sizeof(o->default_listen),
             strchr(host, ':') ? "[%s]:%s" : "%s:%s", host,
             o->port ? o->port : "9999");
    if (o->nlisten == MAX_LISTEN)
        return fail(p, "too many listeners (at most 64): '%s'",
                    o->default_listen);
    o->listen_text[o->nlisten++] = o->default_listen;
    return true;
}

/* Parses addresses once -H is known ("-l :80 -H ::1" works too), and looks
 * their service names up: a port muxd cannot use is a usage error, however
 * it is wrong. */
static bool parse_listeners(parser_t *p) {
    muxd_options_t *o = p->o;
    const char *host = o->host ? o->host : "127.0.0.1";
    if ((o->port || (o->nlisten == 0 && o->ninherited == 0)) &&
        !add_default_listen(p))
        return false;
    for (size_t i = 0; i < o->nlisten; i++) {
        bool is_default = o->listen_text[i] == o->default_listen;
        mux_addr_t *addr = &o->listen[i];
        int err = mux_addr_parse(o->listen_text[i], host, addr);
        if (err == 0 && addr->transport != MUX_UNIX)
            err = mux_port_lookup(addr->port, addr->transport);
        if (err < 0)
            return address_error(p, o->listen_text[i],
                                 is_default ? o->port : NULL, err);
    }
    return true;
}

static mux_framing parse_framing(parser_t *p, const char *text) {
    if (strcmp(text, "raw") == 0)
        return MUX_FRAMING_RAW;
    if (strcmp(text, "line") == 0)
        return MUX_FRAMING_LINE;
    if (strcmp(text, "auto") == 0)
        return MUX_FRAMING_AUTO;
    fail(p, "invalid framing: '%s' (raw, line or auto)", text);
    return MUX_FRAMING_DEFAULT;
}

/* --text: sent exactly as given once its escapes are decoded (in place:
 * the argument is ours to change). */
static void set_text(parser_t *p, char *arg) {
    size_t len;
    if (text_unescape(arg, &len) < 0) {
        fail(p, "invalid escape in --text at '%s' (known: " TEXT_ESCAPES ")",
             arg + len);
        return;
    }
    p->o->config.text = arg;
    p->o->config.text_len = len;
}

/* The chat broker's options; false if `c` is not one. */
static bool chat_option(parser_t *p, int c, const char *arg) {
    muxd_service_config_t *config = &p->o->config;
    switch (c) {
    case OPT_CHAT_MEMORY:
        config->chat_memory =
            parse_size(p, arg, "chat memory", (uint64_t)1 << 40);
        return true;
    case OPT_CHAT_STALL:
        config->chat_stall_ms = parse_seconds(p, arg, "chat stall time");
        if (!config->chat_stall_ms)
            fail(p, "invalid chat stall time: '%s' (at least 0.001)", arg);
        return true;
    default:
        return false;
    }
}

/* "unknown service: 'x' (echo, ack, ...)": the names from the table. */
static void unknown_service(parser_t *p, const char *name) {
    char msg[512];
    size_t len = (size_t)snprintf(msg, sizeof(msg), "unknown service: '%%s' (");
    for (size_t i = 0; muxd_services[i] && len < sizeof(msg); i++)
        len +=
            (size_t)snprintf(msg + len, sizeof(msg) - len, "%s%s",
                             i ? ", " : "", muxd_services[i]->callbacks.name);
    if (len < sizeof(msg))
        snprintf(msg + len, sizeof(msg) - len, ")");
    fail(p, msg, name);
}

/* The options that shape what the service does; false if `c` is not one. */
static bool serving_option(parser_t *p, int c, char *arg) {
    muxd_options_t *o = p->o;
    switch (c) {
    case 's': {
        const muxd_service_t *service = muxd_service_find(arg);
        if (service)
            o->config.service = service;
        else
            unknown_service(p, arg);
        return true;
    }
    case OPT_TEXT:
        set_text(p, arg);
        return true;
    case OPT_FRAMING:
        o->server.framing = parse_framing(p, arg);
        return true;
    case OPT_MAX_LINE:
        o->server.max_line = parse_number(p, arg, "line length", 1ul << 30);
        if (o->server.max_line == 0)
            fail(p, "invalid line length: '%s' (at least 1)", arg);
        return true;
    case OPT_DELAY:
        o->server.delay_ms = parse_number(p, arg, "delay", 3600000);
        return true;
    default:
        return chat_option(p, c, arg);
    }
}

static void add_inherited(parser_t *p, const char *text) {
    muxd_options_t *o = p->o;
    int fd = (int)parse_number(p, text, "fd", INT_MAX);
    if (p->failed)
        return;
    if (fd <= STDERR_FILENO) {
        fail(p,
             "invalid fd: '%s' (0, 1 and 2 are stdin, stdout and "
             "stderr, not listening sockets)",
             text);
        return;
    }
    for (size_t i = 0; i < o->ninherited; i++)
        if (o->inherited[i] == fd) {
            fail(p, "fd %s is given twice (--fd or LISTEN_FDS)", text);
            return;
        }
    if (o->ninherited == MAX_LISTEN)
        fail(p, "too many inherited sockets (at most 64): '%s'", text);
    else
        o->inherited[o->ninherited++] = fd;
}

static void set_log_format(parser_t *p, const char *arg) {
    if (strcmp(arg, "text") != 0 && strcmp(arg, "json") != 0)
        fail(p, "invalid log format: '%s' (text or json)", arg);
    else
        p->o->log.format = arg[0] == 'j' ? MUXD_LOG_JSON : MUXD_LOG_TEXT;
}

/* --control ADDR: a unix socket, or TCP on loopback only (anyone on the
 * host may connect to it: it is for tests). */
static void set_control(parser_t *p, const char *arg) {
    muxd_options_t *o = p->o;
    char unix_form[300];
    if (arg[0] == '/' || arg[0] == '.') { /* a path alone: unix */
        snprintf(unix_form, sizeof(unix_form), "unix:%s", arg);
        arg = unix_form;
    }
    if (mux_addr_parse(arg, "127.0.0.1", &o->control) < 0) {
        fail(p,
             "invalid control address: '%s' (unix:PATH or a loopback "
             "HOST:PORT)",
             arg);
        return;
    }
    const char *host = o->control.host;
    bool loopback = strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
                    strcmp(host, "localhost") == 0;
    if (o->control.transport == MUX_UDP ||
        (o->control.transport == MUX_TCP && !loopback))
        fail(p,
             "the control socket takes unix:PATH or a loopback address "
             "(127.0.0.1, ::1, localhost), not '%s'",
             arg);
    o->control_text = o->control.transport == MUX_UNIX ? o->control.path : arg;
}

/* The options for scripts and service managers; false if `c` is not one. */
static bool fixture_option(parser_t *p, int c, const char *arg) {
    muxd_options_t *o = p->o;
    switch (c) {
    case OPT_READY_FILE:
        o->ready_file = arg;
        return true;
    case OPT_PIDFILE:
        o->pidfile = arg;
        return true;
    case OPT_FD:
        add_inherited(p, arg);
        return true;
    case OPT_MAX_ACCEPTS:
        if (!(o->max_accepts = parse_number(p, arg, "accept count", ULONG_MAX)))
            fail(p, "invalid accept count: '%s' (at least 1)", arg);
        return true;
    case OPT_LOG_FORMAT:
        set_log_format(p, arg);
        return true;
    case OPT_WORKERS:
        o->workers = (unsigned)parse_number(p, arg, "worker count", 1024);
        if (!o->workers)
            fail(p, "invalid worker count: '%s' (1 to 1024)", arg);
        return true;
    case OPT_CONTROL:
        set_control(p, arg);
        return true;
    default:
        return false;
    }
}

/* Option combinations that cannot do what the user asked. */
static bool check_options(parser_t *p, bool max_line_given) {
    const muxd_options_t *o = p->o;
    const muxd_service_t *service = o->config.service;
    const char *name = service->callbacks.name;
    if (o->config.text && !service->text)
        return fail(p,
                    "--text does not apply to the %s service (see muxd "
                    "--help)",
                    name);
    if ((o->config.chat_memory || o->config.chat_stall_ms) &&
        service != &muxd_chat_service)
        return fail(p,
                    "--chat-memory and --chat-stall apply to the chat "
                    "service, not %s",
                    name);
    mux_framing framing = o->server.framing ? o->server.framing
                          : service->callbacks.framing
                              ? service->callbacks.framing
                              : MUX_FRAMING_RAW;
    if (max_line_given && framing == MUX_FRAMING_RAW)
        return fail(p,
                    "--max-line needs line or auto framing, and %s is "
                    "framed raw here: add --framing line",
                    name);
    if (o->server.line_timeout_ms && framing != MUX_FRAMING_LINE)
        return fail(p,
                    "--line-timeout needs line framing, and %s is framed "
                    "raw here: add --framing line",
                    name);
    return true;
}

/* Combinations --workers cannot honour. */
static bool check_workers(parser_t *p) {
    const muxd_options_t *o = p->o;
    if (o->workers < 2)
        return true;
    if (o->max_accepts)
        return fail(p, "%s",
                    "--max-accepts cannot be combined with --workers "
                    "(each worker would count its own)");
    if (o->control_text)
        return fail(p, "%s",
                    "--control cannot be combined with --workers (each "
                    "worker has its own clients and faults)");
    if (o->relay.nupstreams > 1)
        return fail(p, "%s",
                    "several --to cannot be combined with --workers (the "
                    "other workers bind worker 1's addresses without "
                    "knowing their upstreams): one muxd per relay");
    for (size_t i = 0; i < o->nlisten; i++)
        if (o->listen[i].transport == MUX_UNIX)
            return fail(p,
                        "--workers cannot share a unix socket: '%s' (TCP "
                        "and UDP only; or pass it with --fd)",
                        o->listen_text[i]);
    return true;
}

/* --udp-budget RATE[:BURST]: replies a second to one source; 0 is off. */
static void parse_udp_budget(parser_t *p, const char *arg) {
    mux_server_opts_t *server = &p->o->server;
    char rate[32];
    const char *colon = strchr(arg, ':');
    size_t len = colon ? (size_t)(colon - arg) : strlen(arg);
    if (len == 0 || len >= sizeof(rate) || (colon && !colon[1])) {
        fail(p,
             "invalid UDP budget: '%s' (RATE or RATE:BURST, e.g. 100:1000; "
             "0 for none)",
             arg);
        return;
    }
    memcpy(rate, arg, len);
    rate[len] = '\0';
    server->dgram_rate = (unsigned)parse_number(p, rate, "UDP budget", 1000000);
    if (p->failed)
        return;
    if (!server->dgram_rate) {
        if (colon)
            fail(p, "invalid UDP budget: '%s' (0 takes no burst)", arg);
        server->dgram_rate = MUX_UNLIMITED;
        return;
    }
    if (colon && !(server->dgram_burst = (unsigned)parse_number(
                       p, colon + 1, "UDP budget burst", 100000000)))
        fail(p, "invalid UDP budget: '%s' (a burst of at least 1)", arg);
}

/* Per-source and per-second admission: true if `c` was one of them. */
static bool admission_option(parser_t *p, int c, const char *arg) {
    mux_server_opts_t *server = &p->o->server;
    switch (c) {
    case OPT_MAX_PER_SOURCE:
        server->max_per_source =
            (unsigned)parse_number(p, arg, "per-source limit", UINT_MAX);
        if (!server->max_per_source)
            fail(p, "invalid per-source limit: '%s' (at least 1)", arg);
        return true;
    case OPT_MAX_RATE:
        server->max_rate =
            (unsigned)parse_number(p, arg, "connection rate", 1000000);
        if (!server->max_rate)
            fail(p, "invalid connection rate: '%s' (1 to 1000000)", arg);
        return true;
    case OPT_UDP_BUDGET:
        parse_udp_budget(p, arg);
        return true;
    default:
        return false;
    }
}

/* --to UPSTREAM: a TCP or unix address with a port other than 0; it
 * takes the -l options given since the previous --to. */
static void add_upstream(parser_t *p, const char *arg) {
    muxd_relay_config_t *relay = &p->o->relay;
    if (relay->nupstreams == MUXD_RELAY_UPSTREAMS) {
        fail(p, "too many --to (at most 64): '%s'", arg);
        return;
    }
    muxd_upstream_t *to = &relay->upstreams[relay->nupstreams];
    int err = mux_addr_parse(arg, NULL, &to->upstream);
    if (err == 0 && to->upstream.transport == MUX_UDP)
        fail(p,
             "invalid upstream '%s': a relay carries streams (TCP or "
             "unix:PATH), not udp://",
             arg);
    else if (err == 0 && to->upstream.transport == MUX_TCP &&
             (err = mux_port_lookup(to->upstream.port, MUX_TCP)) == 0)
        fail(p, "invalid upstream '%s': port 0 (give the upstream's port)",
             arg);
    else if (err < 0)
        fail(p,
             "invalid upstream '%s': not HOST:PORT, [V6]:PORT, PORT or "
             "unix:PATH (or an unknown port name)",
             arg);
    else {
        to->upstream_text = arg;
        p->to_at[relay->nupstreams++] = p->o->nlisten;
    }
}

/* The relay's options: true if `c` was one of them. */
static bool relay_option(parser_t *p, int c, const char *arg) {
    muxd_relay_config_t *relay = &p->o->relay;
    switch (c) {
    case OPT_TO:
        add_upstream(p, arg);
        return true;
    case OPT_CONNECT_TIMEOUT:
        relay->connect_timeout_ms = parse_seconds(p, arg, "connect timeout");
        if (!p->failed && !relay->connect_timeout_ms)
            fail(p, "invalid connect timeout: '%s' (at least 0.001)", arg);
        p->o->connect_timeout_given = true;
        return true;
    case OPT_DUMP:
        relay->dump = arg;
        return true;
    case OPT_DUMP_MAX:
        relay->dump_max = parse_size(p, arg, "dump limit", UINT64_C(1) << 40);
        p->o->dump_max_given = true;
        return true;
    default:
        return false;
    }
}

/* A usage error naming two arguments. */
static bool fail2(parser_t *p, const char *fmt, const char *a, const char *b) {
    char msg[512];
    snprintf(msg, sizeof(msg), fmt, a, b);
    return fail(p, "%s", msg);
}

/* The --to of listener `i` (an -l): the first given after it, else
 * nupstreams. */
static size_t upstream_after(const parser_t *p, size_t i) {
    size_t k = 0;
    while (k < p->o->relay.nupstreams && p->to_at[k] <= i)
        k++;
    return k;
}

/* Several --to: each -l takes the --to that follows it, and every
 * listener needs one; anything that leaves a doubt is a usage error. */
static bool pair_listeners(parser_t *p, size_t given) {
    muxd_options_t *o = p->o;
    const muxd_upstream_t *to = o->relay.upstreams;
    for (size_t k = 1; k < o->relay.nupstreams; k++)
        if (p->to_at[k] == p->to_at[k - 1])
            return fail2(p,
                         "--to %s follows --to %s with no -l between them "
                         "(each -l ADDR takes the --to after it)",
                         to[k].upstream_text, to[k - 1].upstream_text);
    for (size_t i = 0; i < given; i++) {
        size_t k = upstream_after(p, i);
        if (k == o->relay.nupstreams)
            return fail(p,
                        "-l %s has no --to after it while other listeners "
                        "have one (each -l ADDR takes the --to after it)",
                        o->listen_text[i]);
        o->listen_upstream[i] = k;
    }
    if (given < o->nlisten)
        return fail(p,
                    "the listener of -p/-H (%s) cannot take one of several "
                    "--to: give it with -l ADDR --to UPSTREAM",
                    o->listen_text[given]);
    if (o->ninherited)
        return fail(p, "%s",
                    "inherited sockets (--fd, LISTEN_FDS) cannot take one "
                    "of several --to: use -l ADDR --to UPSTREAM for each");
    return true;
}

/* Which upstream each listener relays to. One --to: every listener's
 * (any -l, -p, inherited sockets), wherever it was given, except for -l
 * options after it when it follows an -l: those have none. */
static bool assign_upstreams(parser_t *p) {
    muxd_options_t *o = p->o;
    const muxd_upstream_t *to = o->relay.upstreams;
    bool is_default =
        o->nlisten && o->listen_text[o->nlisten - 1] == o->default_listen;
    size_t given = o->nlisten - (is_default ? 1 : 0); /* the -l options */
    if (p->to_at[0] == 0 && o->relay.nupstreams > 1)
        return fail2(p,
                     "--to %s comes before any -l, so it relays every "
                     "listener, and --to %s has none: give each -l ADDR "
                     "its own --to after it",
                     to[0].upstream_text, to[1].upstream_text);
    if (p->to_at[0] == 0 || o->relay.nupstreams == 1) {
        memset(o->listen_upstream, 0, sizeof(o->listen_upstream));
        if (p->to_at[0] == 0 || p->to_at[0] >= given)
            return true;
    }
    return pair_listeners(p, given);
}

/* What --to replaces, and what only --to takes. */
static bool check_relay(parser_t *p, bool max_line_given) {
    const muxd_options_t *o = p->o;
    if (!o->relay.nupstreams) {
        if (o->connect_timeout_given || o->relay.dump || o->dump_max_given)
            return fail(p, "%s",
                        "--connect-timeout, --dump and --dump-max need --to "
                        "UPSTREAM");
        return true;
    }
    if (o->dump_max_given && !o->relay.dump)
        return fail(p, "%s", "--dump-max needs --dump DIR|-");
    if (o->config.service != &muxd_echo_service || o->config.text ||
        o->server.framing || max_line_given || o->server.line_timeout_ms ||
        o->config.chat_memory || o->config.chat_stall_ms)
        return fail(p, "%s",
                    "--to relays bytes unchanged: -s, --text, --framing, "
                    "--max-line, --line-timeout and the chat options do not "
                    "apply");
    for (size_t i = 0; i < o->nlisten; i++)
        if (o->listen[i].transport == MUX_UDP)
            return fail(p,
                        "--to relays streams: '%s' is a UDP listener (TCP "
                        "and unix only)",
                        o->listen_text[i]);
    /* One read (64 KiB) relayed at once, on top of what is pending below
     * the watermark, must fit under the hard cap (16 times it). */
    if (o->server.max_output && o->server.max_output < 8192)
        return fail(p, "%s",
                    "--max-output must be at least 8k with --to (16 times "
                    "it must hold one 64 KiB read on top of it)");
    return assign_upstreams(p);
}

/* Access and faults: true if `c` was one of them. */
static bool access_option(parser_t *p, int c, const char *arg) {
    muxd_options_t *o = p->o;
    switch (c) {
    case OPT_ALLOW:
        add_cidr(p, o->acl.allow, &o->acl.nallow, arg);
        return true;
    case OPT_DENY:
        add_cidr(p, o->acl.deny, &o->acl.ndeny, arg);
        return true;
    case OPT_USER:
        o->user = arg;
        return true;
    case OPT_FAULT: {
        char err[MUXD_FAULT_SPEC_MAX + 128];
        if (o->nfaults == MUXD_FAULTS_MAX)
            fail(p, "too many --fault options (at most 64): '%s'", arg);
        else if (!muxd_fault_check(arg, err, sizeof(err)))
            fail(p, "%s", err);
        else
            o->faults[o->nfaults++] = arg;
        return true;
    }
    case OPT_SEED:
        o->seed = parse_number(p, arg, "seed", ULONG_MAX);
        return true;
    default:
        return admission_option(p, c, arg);
    }
}

/* Limits: true if `c` was one of them. */
static bool limit_option(parser_t *p, int c, const char *arg) {
    muxd_options_t *o = p->o;
    switch (c) {
    case 'm':
        o->server.max_clients =
            (unsigned)parse_number(p, arg, "client limit", UINT_MAX);
        if (!o->server.max_clients)
            fail(p, "invalid client limit: '%s' (at least 1)", arg);
        return true;
    case OPT_MAX_OUTPUT:
        o->server.max_output =
            parse_size(p, arg, "output limit", MUX_OUTPUT_MAX);
        return true;
    case OPT_IDLE_TIMEOUT:
        o->server.idle_timeout_ms = parse_seconds(p, arg, "idle timeout");
        return true;
    case OPT_LINE_TIMEOUT:
        o->server.line_timeout_ms = parse_seconds(p, arg, "line timeout");
        return true;
    case OPT_SHUTDOWN_TIMEOUT:
        o->shutdown_timeout_ms = parse_seconds(p, arg, "shutdown timeout");
        return true;
    default:
        return access_option(p, c, arg);
    }
}

/* -l, -H, -p, -b, -q, -v: true if `c` was one of them. */
static bool listen_option(parser_t *p, int c, const char *arg) {
    muxd_options_t *o = p->o;
    switch (c) {
    case 'l':
        add_listen(p, arg);
        return true;
    case 'H':
        o->host = arg;
        return true;
    case 'p':
        o->port = arg;
        return true;
    case 'b':
        o->server.backlog = (int)parse_number(p, arg, "backlog", INT_MAX);
        return true;
    case 'q':
        o->log.level = MUXD_LOG_QUIET;
        return true;
    case 'v':
        o->log.level = MUXD_LOG_VERBOSE;
        return true;
    default:
        return false;
    }
}

static const struct option longopts[] = {
    {"listen", required_argument, NULL, 'l'},
    {"host", required_argument, NULL, 'H'},
    {"port", required_argument, NULL, 'p'},
    {"backlog", required_argument, NULL, 'b'},
    {"service", required_argument, NULL, 's'},
    {"max-clients", required_argument, NULL, 'm'},
    {"max-output", required_argument, NULL, OPT_MAX_OUTPUT},
    {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
    {"line-timeout", required_argument, NULL, OPT_LINE_TIMEOUT},
    {"shutdown-timeout", required_argument, NULL, OPT_SHUTDOWN_TIMEOUT},
    {"allow", required_argument, NULL, OPT_ALLOW},
    {"deny", required_argument, NULL, OPT_DENY},
    {"user", required_argument, NULL, OPT_USER},
    {"fault", required_argument, NULL, OPT_FAULT},
    {"seed", required_argument, NULL, OPT_SEED},
    {"max-per-source", required_argument, NULL, OPT_MAX_PER_SOURCE},
    {"max-rate", required_argument, NULL, OPT_MAX_RATE},
    {"udp-budget", required_argument, NULL, OPT_UDP_BUDGET},
    {"text", required_argument, NULL, OPT_TEXT},
    {"framing", required_argument, NULL, OPT_FRAMING},
    {"max-line", required_argument, NULL, OPT_MAX_LINE},
    {"delay", required_argument, NULL, OPT_DELAY},
    {"chat-memory", required_argument, NULL, OPT_CHAT_MEMORY},
    {"chat-stall", required_argument, NULL, OPT_CHAT_STALL},
    {"ready-file", required_argument, NULL, OPT_READY_FILE},
    {"pidfile", required_argument, NULL, OPT_PIDFILE},
    {"fd", required_argument, NULL, OPT_FD},
    {"max-accepts", required_argument, NULL, OPT_MAX_ACCEPTS},
    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"control", required_argument, NULL, OPT_CONTROL},
    {"to", required_argument, NULL, OPT_TO},
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"dump", required_argument, NULL, OPT_DUMP},
    {"dump-max", required_argument, NULL, OPT_DUMP_MAX},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0}};

/* Socket activation's count, from muxd_listen_fds(). */
static void take_activated(parser_t *p, int activated) {
    if (activated < 0)
        fail(p, "%s", "invalid LISTEN_PID or LISTEN_FDS in the environment");
    else if (activated > MAX_LISTEN)
        fail(p, "%s", "too many sockets in LISTEN_FDS (at most 64)");
    else
        p->o->ninherited = (size_t)activated;
}

/* One option that getopt_long() returned; false to stop parsing. */
static bool take_option(parser_t *p, int c, char **argv, muxd_cli_result *r) {
    if (c == 'h' || c == 'V') {
        *r = c == 'h' ? MUXD_CLI_HELP : MUXD_CLI_VERSION;
        return false;
    }
    if (c == ':')
        return fail(p, "option '%s' needs an argument", argv[optind - 1]);
    if (!serving_option(p, c, optarg) && !limit_option(p, c, optarg) &&
        !fixture_option(p, c, optarg) && !listen_option(p, c, optarg) &&
        !relay_option(p, c, optarg))
        return fail(p, "unknown option: '%s'", argv[optind - 1]);
    return !p->failed;
}

static void set_defaults(muxd_options_t *o) {
    int inherited[MAX_LISTEN];
    memcpy(inherited, o->inherited, sizeof(inherited));
    *o = (muxd_options_t){.config = {.service = &muxd_echo_service},
                          .log = {.level = MUXD_LOG_NORMAL},
                          .shutdown_timeout_ms = 5000,
                          .relay = {.connect_timeout_ms = 10000,
                                    .dump_max = MUXD_RELAY_DUMP_MAX}};
    memcpy(o->inherited, inherited, sizeof(inherited));
}

muxd_cli_result muxd_cli_parse(int argc, char **argv, int activated,
                               muxd_options_t *o, char *msg, size_t size) {
    parser_t p = {.o = o, .msg = msg, .size = size};
    muxd_cli_result result = MUXD_CLI_SERVE;
    bool max_line_given = false;
    int c;
    set_defaults(o);
    take_activated(&p, activated);
    opterr = 0;
    optind = 0; /* glibc: start afresh (the tests parse many times) */
    while (!p.failed && (c = getopt_long(argc, argv, ":l:H:p:b:s:m:qvhV",
                                         longopts, NULL)) != -1) {
        max_line_given |= c == OPT_MAX_LINE;
        if (!take_option(&p, c, argv, &result))
            break;
    }
    if (result != MUXD_CLI_SERVE)
        return p.failed ? MUXD_CLI_USAGE : result;
    if (!p.failed && optind < argc)
        fail(&p, "unexpected argument: '%s'", argv[optind]);
    if (!p.failed && check_options(&p, max_line_given) && parse_listeners(&p) &&
        check_relay(&p, max_line_given))
        check_workers(&p);
    return p.failed ? MUXD_CLI_USAGE : MUXD_CLI_SERVE;
}
