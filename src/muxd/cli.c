/*
 * cli.c -- muxd's command line: options parsed into muxd_options_t, and
 * the usage errors as messages for main() to print. Every option is one
 * row of muxd_cli_options (at the end) and the function that takes it;
 * getopt_long()'s tables and the dispatch are built from the rows, and
 * usage.c prints --help from them.
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

/* ------------------------------------------------------------------ */
/* Parsing                                                             */
/* ------------------------------------------------------------------ */

/* The parse under way: the first usage error is kept, and parsing stops
 * at the option that made it. */
struct muxd_cli_parser {
    muxd_options_t *o;
    char *msg;
    size_t size;
    bool failed;
    muxd_cli_result result; /* -h and -V stop the parse with theirs */
    bool max_line_given;
    /* How many -l came before each --to: the listeners it takes. */
    size_t to_at[MUXD_RELAY_UPSTREAMS];
    bool named[MUXD_RELAY_UPSTREAMS]; /* --name given for that --to */
};
typedef muxd_cli_parser_t parser_t;

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

static void add_listen(parser_t *p, char *text) {
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
    if ((o->port || (o->nlisten == 0 && o->ninherited == 0 && !o->api_text)) &&
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

static void add_inherited(parser_t *p, char *text) {
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

static void set_log_format(parser_t *p, char *arg) {
    if (strcmp(arg, "text") != 0 && strcmp(arg, "json") != 0)
        fail(p, "invalid log format: '%s' (text or json)", arg);
    else
        p->o->log.format = arg[0] == 'j' ? MUXD_LOG_JSON : MUXD_LOG_TEXT;
}

/* --control ADDR: a unix socket, or TCP on loopback only (anyone on the
 * host may connect to it: it is for tests). */
static void set_control(parser_t *p, char *arg) {
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

/* --api ADDR: toxiproxy's HTTP API (checked when it listens: the address
 * may be a name). */
static void set_api(parser_t *p, char *arg) { p->o->api_text = arg; }

static void set_api_config(parser_t *p, char *arg) { p->o->api_config = arg; }

static void set_api_remote(parser_t *p, char *arg) {
    (void)arg;
    p->o->api_remote = true;
}

/* Option combinations that cannot do what the user asked. */
static bool check_options(parser_t *p) {
    const muxd_options_t *o = p->o;
    if (o->api_remote && !o->api_text)
        return fail(p, "%s", "--api-remote needs --api ADDR");
    if (o->api_config && !o->api_text)
        return fail(p, "%s", "--api-config needs --api ADDR");
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
    if (p->max_line_given && framing == MUX_FRAMING_RAW)
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
    if (o->control_text || o->api_text)
        return fail(p,
                    "%s cannot be combined with --workers (each worker has "
                    "its own clients and faults)",
                    o->control_text ? "--control" : "--api");
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
static void parse_udp_budget(parser_t *p, char *arg) {
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

/* A usage error naming two arguments. */
static bool fail2(parser_t *p, const char *fmt, const char *a, const char *b) {
    char msg[512];
    snprintf(msg, sizeof(msg), fmt, a, b);
    return fail(p, "%s", msg);
}

/* --to UPSTREAM: a TCP or unix address with a port other than 0; it
 * takes the -l options given since the previous --to. */
static void add_upstream(parser_t *p, char *arg) {
    muxd_relay_config_t *relay = &p->o->relay;
    if (relay->nupstreams == MUXD_RELAY_UPSTREAMS) {
        fail(p, "too many --to (at most 64): '%s'", arg);
        return;
    }
    muxd_upstream_t *to = &relay->upstreams[relay->nupstreams];
    const char *why = muxd_upstream_parse(arg, to);
    if (why)
        fail2(p, "invalid upstream '%s': %s", arg, why);
    else
        p->to_at[relay->nupstreams++] = p->o->nlisten;
}

/* --name NAME: the proxy of the --to just given. */
static void set_proxy_name(parser_t *p, char *arg) {
    muxd_relay_config_t *relay = &p->o->relay;
    size_t k = relay->nupstreams;
    size_t len = strlen(arg);
    if (!k) {
        fail(p,
             "--name %s names the proxy of the --to before it: give --to "
             "UPSTREAM first",
             arg);
    } else if (p->named[k - 1]) {
        fail(p, "--name %s: that --to has a name already", arg);
    } else if (!len || len > MUXD_PROXY_NAME_MAX ||
               strspn(arg,
                      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                      "0123456789._-") != len) {
        fail(p, "invalid proxy name '%s' (1 to 64 of A-Z a-z 0-9 . _ -)", arg);
    } else {
        memcpy(relay->upstreams[k - 1].name, arg, len + 1);
        p->named[k - 1] = true;
    }
}

/* Every proxy's name: --name's, else proxyN (N from 1, in --to order);
 * two alike are a usage error. */
static bool name_proxies(parser_t *p) {
    muxd_relay_config_t *relay = &p->o->relay;
    for (size_t k = 0; k < relay->nupstreams; k++)
        if (!p->named[k])
            snprintf(relay->upstreams[k].name, sizeof(relay->upstreams[k].name),
                     "proxy%zu", k + 1);
    for (size_t k = 1; k < relay->nupstreams; k++)
        for (size_t j = 0; j < k; j++)
            if (!strcmp(relay->upstreams[k].name, relay->upstreams[j].name))
                return fail(p,
                            "two proxies named '%s' (--name, or a default "
                            "proxyN): give each its own name",
                            relay->upstreams[k].name);
    return true;
}

/* Each --fault's proxy=NAME names a proxy (a --to). */
static bool check_fault_proxies(parser_t *p) {
    const muxd_options_t *o = p->o;
    char name[MUXD_PROXY_NAME_MAX + 1];
    for (size_t i = 0; i < o->nfaults; i++) {
        if (!muxd_fault_proxy(o->faults[i], name, sizeof(name)))
            continue;
        bool known = false;
        for (size_t k = 0; k < o->relay.nupstreams && !known; k++)
            known = !strcmp(o->relay.upstreams[k].name, name);
        if (!known)
            return fail2(p,
                         "invalid fault: '%s' (no proxy named '%s': proxies "
                         "are the --to relays, named by --name or proxyN)",
                         o->faults[i], name);
    }
    return true;
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
static bool check_relay(parser_t *p) {
    const muxd_options_t *o = p->o;
    if (!o->relay.nupstreams && o->api_text && (o->nlisten || o->ninherited))
        return fail(p, "%s",
                    "with --api muxd relays only: give each -l ADDR a --to "
                    "UPSTREAM after it (or make proxies with the API)");
    if (!o->relay.nupstreams && o->api_text &&
        o->config.service != &muxd_echo_service)
        return fail(p, "%s", "with --api muxd relays only: -s does not apply");
    if (!o->relay.nupstreams) {
        if (o->connect_timeout_given || o->relay.dump || o->dump_max_given)
            return fail(p, "%s",
                        "--connect-timeout, --dump and --dump-max need --to "
                        "UPSTREAM");
        return check_fault_proxies(p);
    }
    if (o->dump_max_given && !o->relay.dump)
        return fail(p, "%s", "--dump-max needs --dump DIR|-");
    if (o->config.service != &muxd_echo_service || o->config.text ||
        o->server.framing || p->max_line_given || o->server.line_timeout_ms ||
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
    return assign_upstreams(p) && name_proxies(p) && check_fault_proxies(p);
}

/* Socket activation's count, from muxd_listen_fds(). */
static void take_activated(parser_t *p, int activated) {
    if (activated < 0)
        fail(p, "%s", "invalid LISTEN_PID or LISTEN_FDS in the environment");
    else if (activated > MAX_LISTEN)
        fail(p, "%s", "too many sockets in LISTEN_FDS (at most 64)");
    else
        p->o->ninherited = (size_t)activated;
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

/* ------------------------------------------------------------------ */
/* The options, one function each (the table below names them)        */
/* ------------------------------------------------------------------ */

static void set_host(parser_t *p, char *arg) { p->o->host = arg; }

static void set_port(parser_t *p, char *arg) { p->o->port = arg; }

static void set_backlog(parser_t *p, char *arg) {
    p->o->server.backlog = (int)parse_number(p, arg, "backlog", INT_MAX);
}

static void add_allow(parser_t *p, char *arg) {
    add_cidr(p, p->o->acl.allow, &p->o->acl.nallow, arg);
}

static void add_deny(parser_t *p, char *arg) {
    add_cidr(p, p->o->acl.deny, &p->o->acl.ndeny, arg);
}

static void set_user(parser_t *p, char *arg) { p->o->user = arg; }

static void set_service(parser_t *p, char *arg) {
    const muxd_service_t *service = muxd_service_find(arg);
    if (service)
        p->o->config.service = service;
    else
        unknown_service(p, arg);
}

static void set_framing(parser_t *p, char *arg) {
    p->o->server.framing = parse_framing(p, arg);
}

static void set_max_line(parser_t *p, char *arg) {
    p->o->server.max_line = parse_number(p, arg, "line length", 1ul << 30);
    if (p->o->server.max_line == 0)
        fail(p, "invalid line length: '%s' (at least 1)", arg);
    p->max_line_given = true;
}

static void set_delay(parser_t *p, char *arg) {
    p->o->server.delay_ms = parse_number(p, arg, "delay", 3600000);
}

static void set_chat_memory(parser_t *p, char *arg) {
    p->o->config.chat_memory =
        parse_size(p, arg, "chat memory", (uint64_t)1 << 40);
}

static void set_chat_stall(parser_t *p, char *arg) {
    p->o->config.chat_stall_ms = parse_seconds(p, arg, "chat stall time");
    if (!p->o->config.chat_stall_ms)
        fail(p, "invalid chat stall time: '%s' (at least 0.001)", arg);
}

static void set_connect_timeout(parser_t *p, char *arg) {
    muxd_relay_config_t *relay = &p->o->relay;
    relay->connect_timeout_ms = parse_seconds(p, arg, "connect timeout");
    if (!p->failed && !relay->connect_timeout_ms)
        fail(p, "invalid connect timeout: '%s' (at least 0.001)", arg);
    p->o->connect_timeout_given = true;
}

static void set_dump(parser_t *p, char *arg) { p->o->relay.dump = arg; }

static void set_dump_max(parser_t *p, char *arg) {
    p->o->relay.dump_max = parse_size(p, arg, "dump limit", UINT64_C(1) << 40);
    p->o->dump_max_given = true;
}

static void set_max_clients(parser_t *p, char *arg) {
    mux_server_opts_t *server = &p->o->server;
    server->max_clients =
        (unsigned)parse_number(p, arg, "client limit", UINT_MAX);
    if (!server->max_clients)
        fail(p, "invalid client limit: '%s' (at least 1)", arg);
}

static void set_max_output(parser_t *p, char *arg) {
    p->o->server.max_output =
        parse_size(p, arg, "output limit", MUX_OUTPUT_MAX);
}

static void set_idle_timeout(parser_t *p, char *arg) {
    p->o->server.idle_timeout_ms = parse_seconds(p, arg, "idle timeout");
}

static void set_line_timeout(parser_t *p, char *arg) {
    p->o->server.line_timeout_ms = parse_seconds(p, arg, "line timeout");
}

static void set_shutdown_timeout(parser_t *p, char *arg) {
    p->o->shutdown_timeout_ms = parse_seconds(p, arg, "shutdown timeout");
}

static void set_max_per_source(parser_t *p, char *arg) {
    mux_server_opts_t *server = &p->o->server;
    server->max_per_source =
        (unsigned)parse_number(p, arg, "per-source limit", UINT_MAX);
    if (!server->max_per_source)
        fail(p, "invalid per-source limit: '%s' (at least 1)", arg);
}

static void set_max_rate(parser_t *p, char *arg) {
    mux_server_opts_t *server = &p->o->server;
    server->max_rate =
        (unsigned)parse_number(p, arg, "connection rate", 1000000);
    if (!server->max_rate)
        fail(p, "invalid connection rate: '%s' (1 to 1000000)", arg);
}

static void add_fault(parser_t *p, char *arg) {
    muxd_options_t *o = p->o;
    char err[MUXD_FAULT_SPEC_MAX + 128];
    if (o->nfaults == MUXD_FAULTS_MAX)
        fail(p, "too many --fault options (at most 64): '%s'", arg);
    else if (!muxd_fault_check(arg, err, sizeof(err)))
        fail(p, "%s", err);
    else
        o->faults[o->nfaults++] = arg;
}

static void set_seed(parser_t *p, char *arg) {
    p->o->seed = parse_number(p, arg, "seed", ULONG_MAX);
}

static void set_ready_file(parser_t *p, char *arg) { p->o->ready_file = arg; }

static void set_pidfile(parser_t *p, char *arg) { p->o->pidfile = arg; }

static void set_max_accepts(parser_t *p, char *arg) {
    p->o->max_accepts = parse_number(p, arg, "accept count", ULONG_MAX);
    if (!p->o->max_accepts)
        fail(p, "invalid accept count: '%s' (at least 1)", arg);
}

static void set_workers(parser_t *p, char *arg) {
    p->o->workers = (unsigned)parse_number(p, arg, "worker count", 1024);
    if (!p->o->workers)
        fail(p, "invalid worker count: '%s' (1 to 1024)", arg);
}

static void set_quiet(parser_t *p, char *arg) {
    (void)arg;
    p->o->log.level = MUXD_LOG_QUIET;
}

static void set_verbose(parser_t *p, char *arg) {
    (void)arg;
    p->o->log.level = MUXD_LOG_VERBOSE;
}

static void ask_help(parser_t *p, char *arg) {
    (void)arg;
    p->result = MUXD_CLI_HELP;
}

static void ask_version(parser_t *p, char *arg) {
    (void)arg;
    p->result = MUXD_CLI_VERSION;
}

/* ------------------------------------------------------------------ */
/* The table: one row per option, in the order of --help               */
/* ------------------------------------------------------------------ */

const muxd_cli_option_t muxd_cli_options[] = {
    {.name = "listen",
     .letter = 'l',
     .arg = "ADDR",
     .topic = MUXD_TOPIC_LISTENING,
     .take = add_listen,
     .help = "listen on ADDR; repeat for more listeners:\n"
             "  HOST:PORT, :PORT, *:PORT (all interfaces), [V6ADDR]:PORT,\n"
             "  PORT, tcp://ADDR, udp://ADDR (datagrams), unix:PATH\n"
             "PORT is a number, 0 (any free port) or a service name"},
    {.name = "host",
     .letter = 'H',
     .arg = "HOST",
     .topic = MUXD_TOPIC_LISTENING,
     .take = set_host,
     .help = "host for -p and for ADDRs without one (default 127.0.0.1)"},
    {.name = "port",
     .letter = 'p',
     .arg = "PORT",
     .topic = MUXD_TOPIC_LISTENING,
     .take = set_port,
     .help = "listen on HOST:PORT (default 9999 when no -l is given)"},
    {.name = "backlog",
     .letter = 'b',
     .arg = "N",
     .topic = MUXD_TOPIC_LISTENING,
     .take = set_backlog,
     .help = "listen() backlog (default: SOMAXCONN)"},
    {.name = "allow",
     .arg = "CIDR",
     .topic = MUXD_TOPIC_LISTENING,
     .take = add_allow,
     .help = "admit only clients in CIDR (repeatable; e.g. 127.0.0.0/8)"},
    {.name = "deny",
     .arg = "CIDR",
     .topic = MUXD_TOPIC_LISTENING,
     .take = add_deny,
     .help = "refuse clients in CIDR (repeatable; wins over --allow)"},
    {.name = "user",
     .arg = "NAME",
     .topic = MUXD_TOPIC_LISTENING,
     .take = set_user,
     .help = "drop privileges to NAME once listening"},

    {.name = "service",
     .letter = 's',
     .arg = "NAME",
     .topic = MUXD_TOPIC_SERVING,
     .take = set_service,
     .help = "the protocol to serve (default echo):",
     .more = muxd_usage_services},
    {.name = "text",
     .arg = "TEXT",
     .topic = MUXD_TOPIC_SERVING,
     .take = set_text,
     .help = "send TEXT exactly, nothing added, after the escapes\n"
             "  " TEXT_ESCAPES ", instead of the fixed text\n"
             "  (which ends in a line end) of:",
     .more = muxd_usage_texts},
    {.name = "framing",
     .arg = "MODE",
     .topic = MUXD_TOPIC_SERVING,
     .take = set_framing,
     .help = "how input is cut into messages: raw (each read is one\n"
             "  message), line (LF-terminated lines, a CR before\n"
             "  the LF dropped) or auto (each read cut after every\n"
             "  LF, the rest of the read one more message); default:\n"
             "  line for chat, auto for hello and reply, else raw"},
    {.name = "max-line",
     .arg = "BYTES",
     .topic = MUXD_TOPIC_SERVING,
     .take = set_max_line,
     .help = "longest line in line and auto framing (default 65536);\n"
             "  a longer line gets an error line and a close"},
    {.name = "delay",
     .arg = "MS",
     .topic = MUXD_TOPIC_SERVING,
     .take = set_delay,
     .help = "send every reply MS milliseconds later (stream clients;\n"
             "  a timer: muxd never blocks)"},
    {.name = "chat-memory",
     .arg = "BYTES",
     .topic = MUXD_TOPIC_SERVING,
     .take = set_chat_memory,
     .help = "chat: what all queued lines may take (default 64M);\n"
             "  a sender is not read while a client's queue holds its\n"
             "  share of it (at most --max-output)"},
    {.name = "chat-stall",
     .arg = "SECS",
     .topic = MUXD_TOPIC_SERVING,
     .take = set_chat_stall,
     .help = "chat: drop a client whose queue held its share that\n"
             "  long (default 10), so the senders go on"},

    {.name = "to",
     .arg = "UPSTREAM",
     .topic = MUXD_TOPIC_RELAYING,
     .take = add_upstream,
     .help = "relay instead of serving: every client gets its own\n"
             "connection to UPSTREAM (HOST:PORT, [V6]:PORT, PORT or\n"
             "unix:PATH; resolved once at start), bytes both ways\n"
             "unchanged; --fault applies (dir=up: toward UPSTREAM).\n"
             "Several relays: -l A --to X -l B --to Y (each -l takes\n"
             "the --to after it; one --to before any -l relays\n"
             "every listener)"},
    {.name = "name",
     .arg = "NAME",
     .topic = MUXD_TOPIC_RELAYING,
     .take = set_proxy_name,
     .help = "the name of the proxy of the --to before it (1 to 64\n"
             "of A-Z a-z 0-9 . _ -; default proxy1, proxy2, ... in\n"
             "--to order), for --fault's proxy=NAME and the control\n"
             "socket's proxy list"},
    {.name = "connect-timeout",
     .arg = "SECS",
     .topic = MUXD_TOPIC_RELAYING,
     .take = set_connect_timeout,
     .help = "give up connecting to UPSTREAM after SECS (each\n"
             "address; default 10); the client is closed, or reset\n"
             "where UPSTREAM refused"},
    {.name = "dump",
     .arg = "DIR|-",
     .topic = MUXD_TOPIC_RELAYING,
     .take = set_dump,
     .help = "write each connection's bytes, both ways, as hex and\n"
             "text with times and offsets: to a new file (mode 0600)\n"
             "DIR/conn-START-PID-N.txt, or with - to stderr (bounded:\n"
             "past 64 KiB queued, dropped and counted)"},
    {.name = "dump-max",
     .arg = "BYTES",
     .topic = MUXD_TOPIC_RELAYING,
     .take = set_dump_max,
     .help = "dump at most BYTES of text per connection (default 16M;\n"
             "k, M, G); then one line says it was truncated, and the\n"
             "closing line how many bytes were not dumped"},

    {.name = "max-clients",
     .letter = 'm',
     .arg = "N",
     .topic = MUXD_TOPIC_LIMITS,
     .take = set_max_clients,
     .help = "clients at once; more are told \"muxd: server full\"\n"
             "(default: the fds free below the fd limit,\n"
             "raised to its hard limit at start)"},
    {.name = "max-output",
     .arg = "BYTES",
     .topic = MUXD_TOPIC_LIMITS,
     .take = set_max_output,
     .help = "pending output per client past which muxd stops\n"
             "reading from it (default 1M; suffixes k, M, G;\n"
             "held-back replies count what they cost)"},
    {.name = "idle-timeout",
     .arg = "SECS",
     .topic = MUXD_TOPIC_LIMITS,
     .take = set_idle_timeout,
     .help = "close clients that neither send nor read for SECS\n"
             "(with --to their upstreams too; default: never)"},
    {.name = "line-timeout",
     .arg = "SECS",
     .topic = MUXD_TOPIC_LIMITS,
     .take = set_line_timeout,
     .help = "line framing: a line must arrive within SECS of its\n"
             "first byte, else \"error: line timeout\" and a close\n"
             "(default: never)"},
    {.name = "shutdown-timeout",
     .arg = "SECS",
     .topic = MUXD_TOPIC_LIMITS,
     .take = set_shutdown_timeout,
     .help = "on SIGTERM, wait at most SECS for clients\n"
             "(and with --to their upstreams; default 5)"},
    {.name = "max-per-source",
     .arg = "N",
     .topic = MUXD_TOPIC_LIMITS,
     .take = set_max_per_source,
     .help = "clients at once from one address (an IPv6 /64 counts\n"
             "as one; unix clients are not counted); more are closed\n"
             "at once and logged (default: no limit)"},
    {.name = "max-rate",
     .arg = "N",
     .topic = MUXD_TOPIC_LIMITS,
     .take = set_max_rate,
     .help = "new clients admitted per second (any 1 s window); more\n"
             "are closed at once and logged (default: no limit)"},
    {.name = "udp-budget",
     .arg = "RATE[:BURST]",
     .topic = MUXD_TOPIC_LIMITS,
     .take = parse_udp_budget,
     .help = "replies a second to one UDP source, BURST at\n"
             "once (default 100:1000; 0: no budget). Whatever it is,\n"
             "datagrams from ports below 1024, a few others and\n"
             "muxd's own UDP ports are never answered (reflection)"},

    /* Their --help lines are muxd_fault_usage()'s (faults.c). */
    {.name = "fault",
     .arg = "SPEC",
     .topic = MUXD_TOPIC_FAULTS,
     .take = add_fault},
    {.name = "seed", .arg = "N", .topic = MUXD_TOPIC_FAULTS, .take = set_seed},

    {.name = "ready-file",
     .arg = "PATH",
     .topic = MUXD_TOPIC_FIXTURES,
     .take = set_ready_file,
     .help = "once listening, write the ready lines (without\n"
             "\"listening on \") to PATH atomically; removed at exit"},
    {.name = "pidfile",
     .arg = "PATH",
     .topic = MUXD_TOPIC_FIXTURES,
     .take = set_pidfile,
     .help = "write muxd's pid to PATH; removed at exit"},
    {.name = "fd",
     .arg = "N",
     .topic = MUXD_TOPIC_FIXTURES,
     .take = add_inherited,
     .help = "serve the inherited listening socket N (repeatable;\n"
             "not 0-2); systemd's (LISTEN_FDS) are served without\n"
             "it; with either, only -l/-p add other listeners"},
    {.name = "max-accepts",
     .arg = "N",
     .topic = MUXD_TOPIC_FIXTURES,
     .take = set_max_accepts,
     .help = "close the listeners after N clients; exit 0 once\n"
             "those N have gone"},
    {.name = "workers",
     .arg = "N",
     .topic = MUXD_TOPIC_FIXTURES,
     .take = set_workers,
     .help = "N processes serve the same addresses (SO_REUSEPORT;\n"
             "TCP and UDP); the parent prints the ready lines once,\n"
             "passes SIGTERM, SIGINT, SIGHUP and SIGUSR1 on, and\n"
             "replaces a worker that dies or stays stopped 3 s"},
    {.name = "control",
     .arg = "ADDR",
     .topic = MUXD_TOPIC_FIXTURES,
     .take = set_control,
     .help = "commands while muxd runs, one per line, a JSON reply",
     .more = muxd_usage_control},
    {.name = "api",
     .arg = "ADDR",
     .topic = MUXD_TOPIC_FIXTURES,
     .take = set_api,
     .help = "toxiproxy's HTTP API on ADDR (HOST:PORT, port 0 too;\n"
             "loopback only unless --api-remote): the --to relays are\n"
             "its first proxies, it makes more; toxics are faults\n"
             "(docs/toxiproxy.md). muxd relays only: no default\n"
             "listener. An \"api on http://ADDR\" line follows the\n"
             "ready lines"},
    {.name = "api-config",
     .arg = "FILE",
     .topic = MUXD_TOPIC_FIXTURES,
     .take = set_api_config,
     .help = "proxies (and their toxics) made before the ready lines,\n"
             "from toxiproxy's -config JSON (POST /populate's body); a\n"
             "file that cannot be done is a start error"},
    {.name = "api-remote",
     .topic = MUXD_TOPIC_FIXTURES,
     .take = set_api_remote,
     .help = "let --api listen beyond loopback (anyone who reaches it\n"
             "can change the faults: there is no authentication)"},

    {.name = "quiet",
     .letter = 'q',
     .topic = MUXD_TOPIC_OUTPUT,
     .take = set_quiet,
     .help = "log only errors"},
    {.name = "verbose",
     .letter = 'v',
     .topic = MUXD_TOPIC_OUTPUT,
     .take = set_verbose,
     .help = "also log bound listeners and the end of a shutdown"},
    {.name = "log-format",
     .arg = "FMT",
     .topic = MUXD_TOPIC_OUTPUT,
     .take = set_log_format,
     .help = "text (default) or json: one JSON object per event"},
    {.name = "help",
     .letter = 'h',
     .topic = MUXD_TOPIC_OUTPUT,
     .take = ask_help,
     .help = "show this help and exit"},
    {.name = "version",
     .letter = 'V',
     .topic = MUXD_TOPIC_OUTPUT,
     .take = ask_version,
     .help = "show the version and exit"},
    {0}};

#define NOPTIONS (sizeof(muxd_cli_options) / sizeof(muxd_cli_options[0]) - 1)

/* getopt_long() returns a row's letter, or for a long-only option this
 * plus its index. */
#define LONG_ONLY 256

/* getopt_long()'s tables from the rows: `shortopts` (of 3 bytes a row
 * and 2) starts with ':' for a missing argument to be told apart. */
static void build_getopt(struct option *longopts, char *shortopts) {
    *shortopts++ = ':';
    for (size_t i = 0; i < NOPTIONS; i++) {
        const muxd_cli_option_t *row = &muxd_cli_options[i];
        int has_arg = row->arg ? required_argument : no_argument;
        int val = row->letter ? row->letter : LONG_ONLY + (int)i;
        longopts[i] = (struct option){row->name, has_arg, NULL, val};
        if (row->letter) {
            *shortopts++ = row->letter;
            if (row->arg)
                *shortopts++ = ':';
        }
    }
    longopts[NOPTIONS] = (struct option){NULL, 0, NULL, 0};
    *shortopts = '\0';
}

/* The row of what getopt_long() returned, or NULL. */
static const muxd_cli_option_t *option_of(int c) {
    if (c >= LONG_ONLY && (size_t)(c - LONG_ONLY) < NOPTIONS)
        return &muxd_cli_options[c - LONG_ONLY];
    for (size_t i = 0; c > 0 && c < LONG_ONLY && i < NOPTIONS; i++)
        if (muxd_cli_options[i].letter == c)
            return &muxd_cli_options[i];
    return NULL;
}

/* One option that getopt_long() returned; false to stop parsing. */
static bool take_option(parser_t *p, int c, char **argv) {
    if (c == ':')
        return fail(p, "option '%s' needs an argument", argv[optind - 1]);
    const muxd_cli_option_t *row = option_of(c);
    if (!row)
        return fail(p, "unknown option: '%s'", argv[optind - 1]);
    row->take(p, optarg);
    return !p->failed && p->result == MUXD_CLI_SERVE;
}

muxd_cli_result muxd_cli_parse(int argc, char **argv, int activated,
                               muxd_options_t *o, char *msg, size_t size) {
    parser_t p = {.o = o, .msg = msg, .size = size};
    struct option longopts[NOPTIONS + 1];
    char shortopts[3 * NOPTIONS + 2];
    int c;
    build_getopt(longopts, shortopts);
    set_defaults(o);
    take_activated(&p, activated);
    opterr = 0;
    optind = 0; /* glibc: start afresh (the tests parse many times) */
    while (!p.failed &&
           (c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1)
        if (!take_option(&p, c, argv))
            break;
    if (p.result != MUXD_CLI_SERVE)
        return p.failed ? MUXD_CLI_USAGE : p.result;
    if (!p.failed && optind < argc)
        fail(&p, "unexpected argument: '%s'", argv[optind]);
    if (!p.failed && check_options(&p) && parse_listeners(&p) &&
        check_relay(&p))
        check_workers(&p);
    return p.failed ? MUXD_CLI_USAGE : MUXD_CLI_SERVE;
}
