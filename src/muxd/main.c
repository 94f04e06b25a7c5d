/*
 * muxd -- a select() multiplexing server: echo and friends on TCP, UDP
 * and unix sockets. Options and logging live here; the loop and the
 * server are libmux.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* initgroups() */

#include "acl.h"
#include "escape.h"
#include "faults.h"
#include "fixture.h"
#include "log.h"
#include "muxd.h"
#include "outfd.h"
#include "services.h"
#include "workers.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

enum { EXIT_USAGE = 2 };

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
};

/* Admission limits (limits_usage(), admission_option()). */
enum { OPT_MAX_PER_SOURCE = 768, OPT_MAX_RATE, OPT_UDP_BUDGET };

/* Everything a running muxd holds, for the callbacks. */
typedef struct {
    options_t *opts;
    mux_loop_t *loop;
    mux_server_t *server;
    int signals;       /* how many stop signals arrived */
    uint64_t accepted; /* clients admitted, for --max-accepts */
} muxd_t;

/* Options for test scripts and service managers (docs/fixtures.md). */
static void usage_fixture(FILE *out) {
    fprintf(out,
            "Fixtures and service managers:\n"
            "      --ready-file PATH  once listening, write the ready lines "
            "(without\n"
            "                        \"listening on \") to PATH atomically; "
            "removed at exit\n"
            "      --pidfile PATH    write muxd's pid to PATH; removed at "
            "exit\n"
            "      --fd N            serve the inherited listening socket N "
            "(repeatable;\n"
            "                        not 0-2); systemd's (LISTEN_FDS) are "
            "served without\n"
            "                        it; with either, only -l/-p add other "
            "listeners\n"
            "      --max-accepts N   close the listeners after N clients; "
            "exit 0 once\n"
            "                        those N have gone\n"
            "      --workers N       N processes serve the same addresses "
            "(SO_REUSEPORT;\n"
            "                        TCP and UDP); the parent prints the "
            "ready lines once\n"
            "                        and passes SIGTERM, SIGINT, SIGHUP and "
            "SIGUSR1 on\n"
            "  With $NOTIFY_SOCKET set, muxd sends READY=1 and STOPPING=1 "
            "there.\n");
}

static void usage_listening(FILE *out) {
    fprintf(out,
            "Listening:\n"
            "  -l, --listen ADDR     listen on ADDR; repeat for more "
            "listeners:\n"
            "                          HOST:PORT, :PORT, *:PORT (all "
            "interfaces), [V6ADDR]:PORT,\n"
            "                          PORT, tcp://ADDR, udp://ADDR "
            "(datagrams), unix:PATH\n"
            "                        PORT is a number, 0 (any free port) or "
            "a service name\n"
            "  -H, --host HOST       host for -p and for ADDRs without one "
            "(default 127.0.0.1)\n"
            "  -p, --port PORT       listen on HOST:PORT (default 9999 when "
            "no -l is given)\n"
            "  -b, --backlog N       listen() backlog (default: SOMAXCONN)\n"
            "      --allow CIDR      admit only clients in CIDR (repeatable; "
            "e.g. 127.0.0.0/8)\n"
            "      --deny CIDR       refuse clients in CIDR (repeatable; wins "
            "over --allow)\n"
            "      --user NAME       drop privileges to NAME once listening\n");
}

/* "over udp:// too: echo ack ...", wrapped at 80 columns. */
static void usage_datagram_forms(FILE *out) {
    int col = fprintf(out, "                        over udp:// too:");
    for (size_t i = 0; muxd_services[i]; i++) {
        if (!muxd_services[i]->datagram)
            continue;
        int len = (int)strlen(muxd_services[i]->name) + 1;
        if (col + len > 79)
            col = fprintf(out, "\n                         ") - 1;
        col += fprintf(out, " %s", muxd_services[i]->name);
    }
    fprintf(out, "\n");
}

/* The service list, the datagram forms and the texts come from the
 * service table, so --help cannot drift from it. */
static void usage_services(FILE *out) {
    fprintf(out, "  -s, --service NAME    the protocol to serve (default "
                 "echo):\n");
    for (size_t i = 0; muxd_services[i]; i++)
        fprintf(out, "                          %-9s %s\n",
                muxd_services[i]->name, muxd_services[i]->summary);
    usage_datagram_forms(out);
    fprintf(out, "      --text TEXT       send TEXT exactly, nothing added, "
                 "after the escapes\n"
                 "                          " TEXT_ESCAPES
                 ", instead of the fixed text\n"
                 "                          (which ends in a line end) of:\n");
    for (size_t i = 0; muxd_services[i]; i++) {
        const char *text = muxd_service_default_text(muxd_services[i]);
        if (text)
            fprintf(out, "                          %-9s %s\n",
                    muxd_services[i]->name, text);
    }
}

static void usage_serving(FILE *out) {
    fprintf(out, "Serving:\n");
    usage_services(out);
    fprintf(out,
            "      --framing MODE    how input is cut into messages: raw (each "
            "read is one\n"
            "                          message), line (LF-terminated lines, "
            "a CR before\n"
            "                          the LF dropped) or auto (each read cut "
            "after every\n"
            "                          LF, the rest of the read one more "
            "message); default:\n"
            "                          line for chat, auto for hello and "
            "reply, else raw\n"
            "      --max-line BYTES  longest line in line and auto framing "
            "(default 65536);\n"
            "                          a longer line gets an error line and "
            "a close\n"
            "      --delay MS        send every reply MS milliseconds later "
            "(stream clients;\n"
            "                          a timer: muxd never blocks)\n"
            "      --chat-memory BYTES  chat: what all queued lines may take "
            "(default 64M);\n"
            "                          a sender is not read while a client's "
            "queue holds its\n"
            "                          share of it (at most --max-output)\n"
            "      --chat-stall SECS  chat: drop a client whose queue held "
            "its share that\n"
            "                          long (default 10), so the senders go "
            "on\n");
}

/* --max-per-source, --max-rate, --udp-budget. */
static void usage_admission(FILE *out) {
    fprintf(out,
            "      --max-per-source N  clients at once from one address (an "
            "IPv6 /64 counts\n"
            "                        as one; unix clients are not counted); "
            "more are closed\n"
            "                        at once and logged (default: no limit)\n"
            "      --max-rate N      new clients admitted per second (any "
            "1 s window); more\n"
            "                        are closed at once and logged (default: "
            "no limit)\n"
            "      --udp-budget RATE[:BURST]  replies a second to one UDP "
            "source, BURST at\n"
            "                        once (default 100:1000; 0: no budget). "
            "Whatever it is,\n"
            "                        datagrams from ports below 1024, a few "
            "others and\n"
            "                        muxd's own UDP ports are never answered "
            "(reflection)\n");
}

static void usage(FILE *out) {
    fprintf(out, "Usage: muxd [OPTION]...\n"
                 "A select() multiplexing server. With no options it serves "
                 "echo on 127.0.0.1:9999.\n\n");
    usage_listening(out);
    fprintf(out, "\n");
    usage_serving(out);
    fprintf(out,
            "\n"
            "Limits:\n"
            "  -m, --max-clients N   clients at once; more are told "
            "\"muxd: server full\"\n"
            "                        (default: the fds free below the fd "
            "limit,\n"
            "                        raised to its hard limit at start)\n"
            "      --max-output BYTES  pending output per client past which "
            "muxd stops\n"
            "                        reading from it (default 1M; suffixes "
            "k, M, G;\n"
            "                        held-back replies count what they "
            "cost)\n"
            "      --idle-timeout SECS  close clients that neither send nor "
            "read for SECS\n"
            "                        (default: never)\n"
            "      --line-timeout SECS  line framing: a line must arrive "
            "within SECS of its\n"
            "                        first byte, else \"error: line "
            "timeout\" and a close\n"
            "                        (default: never)\n"
            "      --shutdown-timeout SECS  on SIGTERM, wait at most SECS "
            "for clients\n"
            "                        (default 5)\n");
    usage_admission(out);
    fprintf(out, "\n");
    muxd_fault_usage(out);
    usage_fixture(out);
    fprintf(out,
            "\n"
            "Output:\n"
            "  -q, --quiet           log only errors\n"
            "  -v, --verbose         also log bound listeners and the end of a "
            "shutdown\n"
            "      --log-format FMT  text (default) or json: one JSON object "
            "per event\n"
            "  -h, --help            show this help and exit\n"
            "  -V, --version         show the version and exit\n"
            "\n"
            "Once every listener is bound, muxd prints one line per listener "
            "to stdout,\n"
            "e.g. \"listening on tcp 127.0.0.1:43121\", and logs clients to "
            "stderr.\n"
            "The log never blocks: lines stderr does not take are queued "
            "(64 KiB), then\n"
            "dropped and counted (\"N log lines dropped\").\n"
            "SIGINT, SIGTERM or SIGHUP: stop accepting, answer what clients "
            "sent, exit 0.\n"
            "SIGUSR1: log one stats line (clients, accepted, refused, bytes "
            "in and out).\n"
            "Exit status: 0 ok, 1 runtime failure (e.g. cannot listen), 2 "
            "usage error.\n"
            "See muxd(1) and docs/services.md for the services.\n");
}

static _Noreturn void usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "muxd: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'muxd --help' for more information.\n");
    exit(EXIT_USAGE);
}

static unsigned long parse_number(const char *text, const char *what,
                                  unsigned long max) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v > max) {
        char msg[128];
        snprintf(msg, sizeof(msg), "invalid %s: '%%s' (0 to %lu)", what, max);
        usage_error(msg, text);
    }
    return v;
}

/* Seconds, fractions allowed ("0.5"), as milliseconds. */
static uint64_t parse_seconds(const char *text, const char *what) {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !(v >= 0) || v > 1e9) {
        char msg[128];
        snprintf(msg, sizeof(msg), "invalid %s: '%%s' (seconds)", what);
        usage_error(msg, text);
    }
    return (uint64_t)llround(v * 1000);
}

/* Bytes, 1 to `max`, with an optional k, M or G suffix (powers of 1024):
 * muxd_parse_size(), with the usage error. */
static size_t parse_size(const char *text, const char *what, uint64_t max) {
    uint64_t v = muxd_parse_size(text, max);
    if (!v) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "invalid %s: '%%s' (bytes, e.g. 64k; at most %" PRIu64 "%s)",
                 what, max >> 30 ? max >> 30 : max, max >> 30 ? "G" : "");
        usage_error(msg, text);
    }
    return (size_t)v;
}

static void add_cidr(muxd_cidr_t *list, size_t *n, const char *text) {
    if (*n == MUXD_ACL_MAX)
        usage_error("too many --allow or --deny entries (at most 64): '%s'",
                    text);
    if (!muxd_cidr_parse(text, &list[*n]))
        usage_error("invalid CIDR: '%s' (e.g. 10.0.0.0/8, ::1/128)", text);
    (*n)++;
}

static void add_listen(options_t *o, const char *text) {
    if (o->nlisten == MAX_LISTEN)
        usage_error("too many listeners (at most 64): '%s'", text);
    o->listen_text[o->nlisten++] = text;
}

/* Why an address (or, with -p, its port) cannot be listened on: `err`
 * from mux_addr_parse() or mux_port_lookup(). Exits 2. */
static _Noreturn void address_error(const char *text, const char *port,
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
    usage_error("%s", msg);
}

/* Parses addresses once -H is known ("-l :80 -H ::1" works too), and looks
 * their service names up: a port muxd cannot use is a usage error, however
 * it is wrong. */
static void parse_listeners(options_t *o) {
    static char default_addr[300];
    const char *host = o->host ? o->host : "127.0.0.1";
    if (o->port || (o->nlisten == 0 && o->ninherited == 0)) {
        snprintf(default_addr, sizeof(default_addr),
                 strchr(host, ':') ? "[%s]:%s" : "%s:%s", host,
                 o->port ? o->port : "9999");
        if (o->nlisten == MAX_LISTEN)
            usage_error("too many listeners (at most 64): '%s'", default_addr);
        o->listen_text[o->nlisten++] = default_addr;
    }
    for (size_t i = 0; i < o->nlisten; i++) {
        const char *port = o->listen_text[i] == default_addr ? o->port : NULL;
        mux_addr_t *addr = &o->listen[i];
        int err = mux_addr_parse(o->listen_text[i], host, addr);
        if (err == 0 && addr->transport != MUX_UNIX)
            err = mux_port_lookup(addr->port, addr->transport);
        if (err < 0)
            address_error(o->listen_text[i], port, err);
    }
}

static mux_framing parse_framing(const char *text) {
    if (strcmp(text, "raw") == 0)
        return MUX_FRAMING_RAW;
    if (strcmp(text, "line") == 0)
        return MUX_FRAMING_LINE;
    if (strcmp(text, "auto") == 0)
        return MUX_FRAMING_AUTO;
    usage_error("invalid framing: '%s' (raw, line or auto)", text);
}

/* --text: sent exactly as given once its escapes are decoded (in place:
 * the argument is ours to change). */
static void set_text(muxd_service_config_t *config, char *arg) {
    size_t len;
    if (text_unescape(arg, &len) < 0)
        usage_error("invalid escape in --text at '%s' (known: " TEXT_ESCAPES
                    ")",
                    arg + len);
    config->text = arg;
    config->text_len = len;
}

/* The chat broker's bounds (long options only). */
enum { OPT_CHAT_MEMORY = 1024, OPT_CHAT_STALL };

/* The chat broker's options; false if `c` is not one. */
static bool chat_option(int c, const char *arg, options_t *o) {
    switch (c) {
    case OPT_CHAT_MEMORY:
        o->config.chat_memory =
            parse_size(arg, "chat memory", (uint64_t)1 << 40);
        return true;
    case OPT_CHAT_STALL:
        o->config.chat_stall_ms = parse_seconds(arg, "chat stall time");
        if (!o->config.chat_stall_ms)
            usage_error("invalid chat stall time: '%s' (at least 0.001)", arg);
        return true;
    default:
        return false;
    }
}

/* "unknown service: 'x' (echo, ack, ...)": the names from the table. */
static _Noreturn void unknown_service(const char *name) {
    char msg[512];
    size_t len = (size_t)snprintf(msg, sizeof(msg), "unknown service: '%%s' (");
    for (size_t i = 0; muxd_services[i] && len < sizeof(msg); i++)
        len += (size_t)snprintf(msg + len, sizeof(msg) - len, "%s%s",
                                i ? ", " : "", muxd_services[i]->name);
    if (len < sizeof(msg))
        snprintf(msg + len, sizeof(msg) - len, ")");
    usage_error(msg, name);
}

/* The options that shape what the service does; false if `c` is not one. */
static bool serving_option(int c, char *arg, options_t *o) {
    switch (c) {
    case 's':
        if (!(o->service = muxd_service_find(arg)))
            unknown_service(arg);
        return true;
    case OPT_TEXT:
        set_text(&o->config, arg);
        return true;
    case OPT_FRAMING:
        o->server.framing = parse_framing(arg);
        return true;
    case OPT_MAX_LINE:
        o->server.max_line = parse_number(arg, "line length", 1ul << 30);
        if (o->server.max_line == 0)
            usage_error("invalid line length: '%s' (at least 1)", arg);
        return true;
    case OPT_DELAY:
        o->server.delay_ms = parse_number(arg, "delay", 3600000);
        return true;
    default:
        return chat_option(c, arg, o);
    }
}

/* Long options of the fixture conveniences (apart from the others'). */
enum {
    OPT_READY_FILE = 512,
    OPT_PIDFILE,
    OPT_FD,
    OPT_MAX_ACCEPTS,
    OPT_LOG_FORMAT,
    OPT_WORKERS,
};

static void add_inherited(options_t *o, const char *text) {
    int fd = (int)parse_number(text, "fd", INT_MAX);
    if (fd <= STDERR_FILENO)
        usage_error("invalid fd: '%s' (0, 1 and 2 are stdin, stdout and "
                    "stderr, not listening sockets)",
                    text);
    for (size_t i = 0; i < o->ninherited; i++)
        if (o->inherited[i] == fd)
            usage_error("fd %s is given twice (--fd or LISTEN_FDS)", text);
    if (o->ninherited == MAX_LISTEN)
        usage_error("too many inherited sockets (at most 64): '%s'", text);
    o->inherited[o->ninherited++] = fd;
}

/* The options for scripts and service managers; false if `c` is not one. */
static bool fixture_option(int c, const char *arg, options_t *o) {
    switch (c) {
    case OPT_READY_FILE:
        o->ready_file = arg;
        return true;
    case OPT_PIDFILE:
        o->pidfile = arg;
        return true;
    case OPT_FD:
        add_inherited(o, arg);
        return true;
    case OPT_MAX_ACCEPTS:
        if (!(o->max_accepts = parse_number(arg, "accept count", ULONG_MAX)))
            usage_error("invalid accept count: '%s' (at least 1)", arg);
        return true;
    case OPT_LOG_FORMAT:
        if (strcmp(arg, "text") != 0 && strcmp(arg, "json") != 0)
            usage_error("invalid log format: '%s' (text or json)", arg);
        o->log.format = arg[0] == 'j' ? MUXD_LOG_JSON : MUXD_LOG_TEXT;
        return true;
    case OPT_WORKERS:
        o->workers = (unsigned)parse_number(arg, "worker count", 1024);
        if (!o->workers)
            usage_error("invalid worker count: '%s' (1 to 1024)", arg);
        return true;
    default:
        return false;
    }
}

/* Option combinations that cannot do what the user asked. */
static void check_options(const options_t *o, bool max_line_given) {
    if (o->config.text && !muxd_service_default_text(o->service))
        usage_error("--text does not apply to the %s service (see muxd "
                    "--help)",
                    o->service->name);
    if ((o->config.chat_memory || o->config.chat_stall_ms) &&
        o->service != &muxd_chat_service)
        usage_error("--chat-memory and --chat-stall apply to the chat "
                    "service, not %s",
                    o->service->name);
    mux_framing framing = o->server.framing     ? o->server.framing
                          : o->service->framing ? o->service->framing
                                                : MUX_FRAMING_RAW;
    if (max_line_given && framing == MUX_FRAMING_RAW)
        usage_error("--max-line needs line or auto framing, and %s is "
                    "framed raw here: add --framing line",
                    o->service->name);
    if (o->server.line_timeout_ms && framing != MUX_FRAMING_LINE)
        usage_error("--line-timeout needs line framing, and %s is framed raw "
                    "here: add --framing line",
                    o->service->name);
}

/* Combinations --workers cannot honour. */
static void check_workers(const options_t *o) {
    if (o->workers < 2)
        return;
    if (o->max_accepts)
        usage_error("%s", "--max-accepts cannot be combined with --workers "
                          "(each worker would count its own)");
    for (size_t i = 0; i < o->nlisten; i++)
        if (o->listen[i].transport == MUX_UNIX)
            usage_error("--workers cannot share a unix socket: '%s' (TCP "
                        "and UDP only; or pass it with --fd)",
                        o->listen_text[i]);
}

/* --udp-budget RATE[:BURST]: replies a second to one source; 0 is off. */
static void parse_udp_budget(const char *arg, mux_server_opts_t *server) {
    char rate[32];
    const char *colon = strchr(arg, ':');
    size_t len = colon ? (size_t)(colon - arg) : strlen(arg);
    if (len == 0 || len >= sizeof(rate) || (colon && !colon[1]))
        usage_error("invalid UDP budget: '%s' (RATE or RATE:BURST, e.g. "
                    "100:1000; 0 for none)",
                    arg);
    memcpy(rate, arg, len);
    rate[len] = '\0';
    server->dgram_rate = (unsigned)parse_number(rate, "UDP budget", 1000000);
    if (!server->dgram_rate) {
        if (colon)
            usage_error("invalid UDP budget: '%s' (0 takes no burst)", arg);
        server->dgram_rate = MUX_UNLIMITED;
        return;
    }
    if (colon && !(server->dgram_burst = (unsigned)parse_number(
                       colon + 1, "UDP budget burst", 100000000)))
        usage_error("invalid UDP budget: '%s' (a burst of at least 1)", arg);
}

/* Per-source and per-second admission: true if `c` was one of them. */
static bool admission_option(int c, const char *arg, options_t *o) {
    switch (c) {
    case OPT_MAX_PER_SOURCE:
        o->server.max_per_source =
            (unsigned)parse_number(arg, "per-source limit", UINT_MAX);
        if (!o->server.max_per_source)
            usage_error("invalid per-source limit: '%s' (at least 1)", arg);
        return true;
    case OPT_MAX_RATE:
        o->server.max_rate =
            (unsigned)parse_number(arg, "connection rate", 1000000);
        if (!o->server.max_rate)
            usage_error("invalid connection rate: '%s' (1 to 1000000)", arg);
        return true;
    case OPT_UDP_BUDGET:
        parse_udp_budget(arg, &o->server);
        return true;
    default:
        return false;
    }
}

/* Limits, access and faults: true if `c` was one of them. */
static bool limit_option(int c, const char *arg, options_t *o) {
    switch (c) {
    case 'm':
        o->server.max_clients =
            (unsigned)parse_number(arg, "client limit", UINT_MAX);
        if (!o->server.max_clients)
            usage_error("invalid client limit: '%s' (at least 1)", arg);
        return true;
    case OPT_MAX_OUTPUT:
        o->server.max_output = parse_size(arg, "output limit", MUX_OUTPUT_MAX);
        return true;
    case OPT_IDLE_TIMEOUT:
        o->server.idle_timeout_ms = parse_seconds(arg, "idle timeout");
        return true;
    case OPT_LINE_TIMEOUT:
        o->server.line_timeout_ms = parse_seconds(arg, "line timeout");
        return true;
    case OPT_SHUTDOWN_TIMEOUT:
        o->shutdown_timeout_ms = parse_seconds(arg, "shutdown timeout");
        return true;
    case OPT_ALLOW:
        add_cidr(o->acl.allow, &o->acl.nallow, arg);
        return true;
    case OPT_DENY:
        add_cidr(o->acl.deny, &o->acl.ndeny, arg);
        return true;
    case OPT_USER:
        o->user = arg;
        return true;
    case OPT_FAULT: {
        const char *err = muxd_fault_parse(arg, &o->server.faults);
        if (err)
            usage_error(err, arg);
        return true;
    }
    default:
        return false;
    }
}

static void parse_options(int argc, char **argv, options_t *o) {
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
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    int c;
    bool max_line_given = false;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":l:H:p:b:s:m:qvhV", longopts, NULL)) !=
           -1) {
        max_line_given |= c == OPT_MAX_LINE;
        if (serving_option(c, optarg, o) || limit_option(c, optarg, o) ||
            admission_option(c, optarg, o) || fixture_option(c, optarg, o))
            continue;
        switch (c) {
        case 'l':
            add_listen(o, optarg);
            break;
        case 'H':
            o->host = optarg;
            break;
        case 'p':
            o->port = optarg;
            break;
        case 'b':
            o->server.backlog = (int)parse_number(optarg, "backlog", INT_MAX);
            break;
        case 'q':
            o->log.level = MUXD_LOG_QUIET;
            break;
        case 'v':
            o->log.level = MUXD_LOG_VERBOSE;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case 'V':
            printf("muxd %s\n", MUX_VERSION);
            exit(0);
        case ':':
            usage_error("option '%s' needs an argument", argv[optind - 1]);
        default:
            usage_error("unknown option: '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        usage_error("unexpected argument: '%s'", argv[optind]);
    check_options(o, max_line_given);
    parse_listeners(o);
    check_workers(o);
}

/* ------------------------------------------------------------------ */

/*
 * --max-accepts: the Nth client closes the listeners (those waiting in the
 * backlog are reset) while the N are served as long as they stay; the
 * last one to leave ends muxd, with exit status 0.
 */
static void count_accept(muxd_t *muxd) {
    options_t *o = muxd->opts;
    if (!o->max_accepts || ++muxd->accepted != o->max_accepts)
        return;
    mux_server_close_listeners(muxd->server);
    muxd_log_text(&o->log, MUXD_LOG_NORMAL,
                  "accepted %" PRIu64 " client%s (--max-accepts): listeners "
                  "closed",
                  muxd->accepted, muxd->accepted == 1 ? "" : "s");
    if (!o->worker)
        muxd_announce_stopping();
}

static void on_event(mux_server_t *server, const mux_event_t *ev, void *arg) {
    muxd_t *muxd = arg;
    options_t *o = muxd->opts;
    muxd_log_event(&o->log, ev);
    if (ev->type == MUX_EV_ACCEPT)
        count_accept(muxd);
    if (ev->type == MUX_EV_CLOSE && o->max_accepts &&
        muxd->accepted >= o->max_accepts && ev->clients == 0)
        mux_server_shutdown(server, 0); /* nobody left: DONE at once */
    if (ev->type == MUX_EV_SHUTDOWN && !o->worker)
        muxd_announce_stopping();
    if (ev->type == MUX_EV_DONE)
        mux_stop(muxd->loop);
}

static void on_stats_signal(mux_loop_t *loop, int signo, void *arg) {
    (void)loop;
    (void)signo;
    muxd_t *muxd = arg;
    mux_server_stats_t stats;
    mux_server_stats(muxd->server, &stats);
    muxd_log_stats(&muxd->opts->log, &stats);
}

const char *muxd_stop_signal_name(int signo) {
    return signo == SIGINT ? "SIGINT" : signo == SIGHUP ? "SIGHUP" : "SIGTERM";
}

static void on_stop_signal(mux_loop_t *loop, int signo, void *arg) {
    muxd_t *muxd = arg;
    if (muxd->signals++ > 0) { /* asked twice: stop waiting for clients */
        mux_stop(loop);
        return;
    }
    muxd_log_text(&muxd->opts->log, MUXD_LOG_NORMAL, "%s: shutting down",
                  muxd_stop_signal_name(signo));
    /* 0 means "do not wait"; the library's 0 would mean "no limit". */
    uint64_t ms = muxd->opts->shutdown_timeout_ms;
    mux_server_shutdown(muxd->server, ms ? ms : 1);
}

/* Signals first: a script may send SIGTERM as soon as it sees ready. A
 * worker leaves the terminal's SIGINT and SIGHUP to its parent, which
 * passes them on as SIGTERM. */
static int watch_signals(muxd_t *muxd) {
    int err = 0;
    if (muxd->opts->worker) {
        signal(SIGINT, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
    } else if ((err = mux_signal(muxd->loop, SIGINT, on_stop_signal, muxd)) ==
               0)
        err = mux_signal(muxd->loop, SIGHUP, on_stop_signal, muxd);
    if (err == 0)
        err = mux_signal(muxd->loop, SIGTERM, on_stop_signal, muxd);
    if (err == 0)
        err = mux_signal(muxd->loop, SIGUSR1, on_stats_signal, muxd);
    if (err < 0)
        muxd_log_error("cannot watch signals: %s", mux_strerror(err));
    return err;
}

/* Why a listen failed, in words a person can act on. */
static const char *listen_hint(const mux_addr_t *addr, int err) {
    if (err == -EACCES && addr->transport != MUX_UNIX &&
        strtoul(addr->port, NULL, 10) < 1024 && addr->port[0] >= '0' &&
        addr->port[0] <= '9')
        return " (ports below 1024 need root or CAP_NET_BIND_SERVICE)";
    if (err == -EPROTONOSUPPORT)
        return " (this service has no UDP form)";
    return "";
}

static int listen_all(muxd_t *muxd) {
    options_t *o = muxd->opts;
    for (size_t i = 0; i < o->nlisten; i++) {
        int err = mux_server_listen_addr(muxd->server, &o->listen[i]);
        if (err == -EPROTONOSUPPORT && o->listen[i].transport == MUX_UDP) {
            muxd_log_error("cannot listen on %s: the %s service has no "
                           "datagram form (see muxd --help)",
                           o->listen_text[i], o->service->name);
            return err;
        }
        if (err < 0) {
            muxd_log_error("cannot listen on %s: %s%s", o->listen_text[i],
                           mux_strerror(err), listen_hint(&o->listen[i], err));
            return err;
        }
    }
    return 0;
}

/* Inherited sockets (socket activation, --fd), after the bound ones. */
static int adopt_inherited(muxd_t *muxd) {
    options_t *o = muxd->opts;
    for (size_t i = 0; i < o->ninherited; i++) {
        int err = mux_server_adopt(muxd->server, o->inherited[i]);
        if (err < 0) {
            muxd_log_error("cannot serve the inherited fd %d: %s",
                           o->inherited[i], mux_strerror(err));
            return err;
        }
    }
    return 0;
}

/* A worker tells its parent what it listens on: the ready text, then an
 * empty line to say it is complete. */
static int report_ready(int fd, const char *text) {
    int err = muxd_write_all(fd, text, strlen(text));
    if (err == 0)
        err = muxd_write_all(fd, "\n", 1);
    close(fd);
    if (err < 0)
        muxd_log_error("cannot report to the parent: %s", mux_strerror(err));
    return err;
}

/* Once everything is in place: the files, --user, then the ready lines
 * and READY=1, or, in a worker, the report to the parent. */
static int announce_ready(muxd_t *muxd) {
    options_t *o = muxd->opts;
    char *text = muxd_ready_text(muxd->server);
    if (!text) {
        muxd_log_error("cannot announce readiness: %s", mux_strerror(-ENOMEM));
        return -ENOMEM;
    }
    /* Files while still privileged (docs/muxd.1, FILES). */
    int err = muxd_announce_files(o->pidfile, o->ready_file, text);
    if (err == 0 && o->user)
        err = muxd_drop_privileges(o->user);
    if (err == 0)
        err =
            o->worker ? report_ready(o->report_fd, text) : muxd_announce(text);
    free(text);
    return err;
}

/* Free fds the default client limit leaves for muxd's own use while it
 * runs (the socket that tells $NOTIFY_SOCKET "STOPPING=1", and one more). */
#define MUXD_FDS_IN_RESERVE 2

/*
 * select() takes any fd below RLIMIT_NOFILE (the loop's sets grow past
 * FD_SETSIZE): the soft limit goes up to the hard one at start, so that
 * muxd holds as many clients as the system lets it. Best effort: muxd
 * runs with the limit it was given if this fails.
 */
static void raise_fd_limit(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* The fds open below `limit`: /proc/self/fd lists them (and the fd that
 * reads it, not counted), or else each one is asked. */
static long open_fds_below(long limit) {
    long n = 0;
    DIR *dir = opendir("/proc/self/fd");
    if (!dir) {
        for (long fd = 0; fd < limit; fd++)
            n += fcntl((int)fd, F_GETFD) >= 0;
        return n;
    }
    for (struct dirent *e; (e = readdir(dir)) != NULL;) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        n += e->d_name[0] != '.' && !*end && fd < limit && fd != dirfd(dir);
    }
    closedir(dir);
    return n;
}

/*
 * The default client limit: the fds now free below RLIMIT_NOFILE (stdio,
 * the loop's pipe, the spare fd, the listeners and inherited fds are open
 * already; a few are kept in reserve). Counted, not derived from the
 * highest open fd: one inherited fd at 900 leaves the 900 below it to
 * clients.
 */
static unsigned default_max_clients(void) {
    long limit = INT_MAX;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)limit)
        limit = (long)rl.rlim_cur;
    long free_fds = limit - open_fds_below(limit) - MUXD_FDS_IN_RESERVE;
    if (free_fds > (long)UINT_MAX)
        free_fds = (long)UINT_MAX;
    return free_fds > 1 ? (unsigned)free_fds : 1;
}

/* --user: become NAME (groups too) for good, after binding. */
int muxd_drop_privileges(const char *name) {
    struct passwd *pw = getpwnam(name);
    if (!pw) {
        muxd_log_error("cannot switch to user %s: no such user", name);
        return -ENOENT;
    }
    if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
        setuid(pw->pw_uid) < 0) {
        int err = -errno;
        muxd_log_error("cannot switch to user %s: %s", name, mux_strerror(err));
        return err;
    }
    if (pw->pw_uid != 0 && setuid(0) == 0) { /* must not be able to return */
        muxd_log_error("cannot switch to user %s: root could be regained",
                       name);
        return -EPERM;
    }
    return 0;
}

/* Everything up to the ready lines: server, signals, listeners. */
static int start(muxd_t *muxd) {
    options_t *o = muxd->opts;
    o->server.on_event = on_event;
    o->server.event_arg = muxd;
    o->server.service_arg = &o->config;
    o->server.full_message = "muxd: server full\n";
    if (o->acl.nallow || o->acl.ndeny) {
        o->server.filter = muxd_acl_filter;
        o->server.filter_arg = &o->acl;
    }
    int err = mux_server_new(muxd->loop, o->service, &o->server, &muxd->server);
    if (err < 0) {
        muxd_log_error("cannot create the server: %s", mux_strerror(err));
        return err;
    }
    if ((err = watch_signals(muxd)) < 0 || (err = listen_all(muxd)) < 0 ||
        (err = adopt_inherited(muxd)) < 0)
        return err;
    if (!o->server.max_clients)
        mux_server_set_max_clients(muxd->server, default_max_clients());
    return announce_ready(muxd);
}

int muxd_serve(options_t *o) {
    muxd_t muxd = {.opts = o};
    int err = mux_loop_new(&muxd.loop);
    if (err < 0) {
        muxd_log_error("cannot create the event loop: %s", mux_strerror(err));
        return 1;
    }
    muxd_log_attach(muxd.loop);
    err = start(&muxd);
    if (err == 0 && (err = mux_run(muxd.loop, MUX_RUN_DEFAULT)) < 0)
        muxd_log_error("event loop failed: %s", mux_strerror(err));
    mux_server_free(muxd.server);
    muxd_log_attach(NULL);
    mux_loop_free(muxd.loop);
    muxd_remove_files(o->pidfile, o->ready_file);
    return err < 0 ? 1 : 0;
}

/* Socket activation: the sockets systemd passed come first. */
static void take_activated(options_t *o) {
    int n = muxd_listen_fds(o->inherited, MAX_LISTEN);
    if (n < 0)
        usage_error("%s", "invalid LISTEN_PID or LISTEN_FDS in the "
                          "environment");
    if (n > MAX_LISTEN)
        usage_error("%s", "too many sockets in LISTEN_FDS (at most 64)");
    o->ninherited = (size_t)n;
}

int main(int argc, char **argv) {
    if (outfd_open_std() < 0) /* a closed 0-2 would be reused: fill it */
        return 1;
    options_t opts = {.service = &muxd_echo_service,
                      .shutdown_timeout_ms = 5000};
    opts.log.level = MUXD_LOG_NORMAL;
    take_activated(&opts);
    parse_options(argc, argv, &opts);
    if (muxd_check_inherited(opts.inherited, opts.ninherited) < 0)
        return 1;
    muxd_log_init(&opts.log);
    raise_fd_limit();         /* before --workers: each inherits it */
    signal(SIGPIPE, SIG_IGN); /* a closed stdout must not kill the server */
    return opts.workers > 1 ? muxd_workers_run(&opts) : muxd_serve(&opts);
}
