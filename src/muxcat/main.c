/*
 * muxcat -- the muxd client: netcat-like piping between stdin/stdout and a
 * TCP, UDP or unix socket, a scripted send/expect mode, and --resolve.
 * Options live here; the modes are in pipe.c, script.c and resolve.c, all
 * running on a libmux loop.
 */
#define _POSIX_C_SOURCE 200809L

#include "escape.h"
#include "muxcat.h"
#include "number.h"
#include "outfd.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_WAIT_MS 5000
#define DEFAULT_IDLE_MS 200

enum {
    OPT_SEND = 256,
    OPT_EXPECT,
    OPT_CRLF,
    OPT_IDLE,
    OPT_UNTIL_CLOSE,
    OPT_RESOLVE,
    OPT_CONTROL,
    OPT_MAX_TIME
};

/* --send and --expect in command-line order, before they become steps. */
typedef struct {
    int kind; /* OPT_SEND or OPT_EXPECT */
    char *text;
} script_arg_t;

typedef struct {
    muxcat_opts_t run;
    script_arg_t *script_args;
    size_t nscript_args;
    const char *script_only; /* an option that needs --send, if given */
    const char *eol;         /* -n / --crlf */
    bool escapes, udp, resolve;
    const char *control; /* --control ADDR */
    char *command;       /* its CMD words, joined, with a line end */
    char **positional;
    int npositional;
} options_t;

/* The modes, then the options they share, then examples. */
static void usage_modes(FILE *out) {
    fputs("Usage: muxcat [OPTION]... HOST PORT\n"
          "       muxcat [OPTION]... ADDR\n"
          "       muxcat [OPTION]... ADDR --send TEXT [--expect TEXT]...\n"
          "       muxcat --resolve HOST [SERVICE]\n"
          "       muxcat --control ADDR CMD [ARG]...\n"
          "The muxd client: copies stdin to the socket and the socket to "
          "stdout, or runs\n"
          "a short send/expect script.\n"
          "\n"
          "ADDR is HOST:PORT, :PORT, *:PORT, [V6ADDR]:PORT, PORT (no host: "
          "127.0.0.1),\n"
          "tcp://ADDR, udp://ADDR or unix:PATH; PORT is a number or a service "
          "name such\n"
          "as echo or http.\n"
          "\n"
          "Piping (no --send): stdin goes to the socket, the socket to "
          "stdout. When stdin\n"
          "ends muxcat shuts its write side and prints what the server "
          "sends until the\n"
          "server closes, or has been quiet for -w seconds. UDP: each read "
          "from stdin is\n"
          "one datagram; after stdin ends muxcat waits until each got a "
          "reply, or until\n"
          "the server has been quiet for -w seconds.\n",
          out);
    fputs("\n"
          "Script (--send/--expect, in order): print the server's greeting, "
          "then send\n"
          "each TEXT and print the reply, with a newline added if it lacks "
          "one.\n"
          "      --send TEXT      send TEXT, as given (no line end unless "
          "-n or --crlf)\n"
          "      --expect TEXT    the reply to the --send before must be TEXT "
          "(before any\n"
          "                       --send: the greeting); otherwise exit 1. A "
          "trailing line\n"
          "                       end of the reply is ignored unless TEXT "
          "ends with one\n"
          "  -n, --newline        append \\n to each --send TEXT\n"
          "      --crlf           append \\r\\n to each --send TEXT\n"
          "  -e, --escapes        TEXT may hold \\n \\r \\t \\\\ \\0 \\xHH\n"
          "      --idle MS        a reply ends when the server has been quiet "
          "for MS ms\n"
          "                       (default 200), or at once when it equals "
          "--expect TEXT\n",
          out);
}

static void usage_common(FILE *out) {
    fputs("\n"
          "Common options:\n"
          "  -u, --udp            HOST PORT and ADDR mean UDP\n"
          "  -w, --wait SECS      the bound of every wait: connecting, a "
          "reply, a quiet\n"
          "                       server (default 5; fractions such as 0.5 "
          "work)\n"
          "      --max-time SECS  the limit of the whole run, in every mode: "
          "once it has\n"
          "                       passed muxcat stops and exits 1 (default: "
          "none)\n"
          "      --until-close    read until the server closes the "
          "connection (a script\n"
          "                       shuts its write side after the last step); "
          "a server\n"
          "                       quiet for -w seconds is then an error\n"
          "      --resolve        print what HOST [SERVICE] resolves to: "
          "family, socket\n"
          "                       type, address, port\n"
          "      --control ADDR   send CMD to muxd's control socket ADDR "
          "(unix:PATH, a\n"
          "                       path that begins with / or ., or "
          "HOST:PORT) and print\n"
          "                       its JSON reply line; exit 1 if the reply "
          "is an error or\n"
          "                       none came within -w\n"
          "  -h, --help           show this help and exit\n"
          "  -V, --version        show the version and exit\n"
          "\n"
          "Examples:\n"
          "  echo hello | muxcat 127.0.0.1 9999\n"
          "  muxcat 127.0.0.1:9999 --send hi --expect hi\n"
          "  muxcat 127.0.0.1:9999 --send Michael --send Tracy --send exit\n"
          "  printf 'GET / HTTP/1.0\\r\\n\\r\\n' | muxcat --until-close "
          "localhost 80\n"
          "  echo ping | muxcat udp://127.0.0.1:7\n"
          "  muxcat --resolve localhost www\n"
          "  muxcat --control unix:/tmp/muxd.ctl fault add latency=200\n"
          "\n"
          "Exit status: 0 ok; 1 connection failure, a differing reply or a "
          "server that\n"
          "did not close with --until-close, an error reply to --control, "
          "the --max-time\n"
          "limit; 2 usage error.\n",
          out);
}

static void usage(FILE *out) {
    usage_modes(out);
    usage_common(out);
}

static _Noreturn void usage_error(const char *fmt, const char *arg) {
    fputs("muxcat: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nTry 'muxcat --help' for more information.\n", stderr);
    exit(MUXCAT_EXIT_USAGE);
}

/* -w, -m: seconds, fractions allowed, into milliseconds (at least 1);
 * `what` names it in the message ("invalid wait ..."). */
static uint64_t parse_secs(const char *text, const char *what) {
    double secs;
    if (number_parse_seconds(text, 1e6, &secs) < 0 || secs <= 0) {
        char fmt[80];
        snprintf(fmt, sizeof(fmt), "invalid %s (seconds, more than 0): '%%s'",
                 what);
        usage_error(fmt, text);
    }
    uint64_t ms = number_seconds_to_ms(secs);
    return ms ? ms : 1;
}

static uint64_t parse_idle(const char *text) {
    unsigned long ms;
    if (number_parse_ulong(text, 3600000, &ms) < 0 || ms == 0)
        usage_error("invalid idle time (milliseconds, 1 to 3600000): '%s'",
                    text);
    return ms;
}

static void add_script_arg(options_t *o, int kind, char *text) {
    o->script_args[o->nscript_args++] = (script_arg_t){kind, text};
}

/* Options that mean something only with --send/--expect. */
static void note_script_only(options_t *o, const char *name) {
    if (!o->script_only)
        o->script_only = name;
}

static void parse_option(options_t *o, int c, char **argv) {
    switch (c) {
    case OPT_SEND:
    case OPT_EXPECT:
        add_script_arg(o, c, optarg);
        break;
    case 'e':
        o->escapes = true;
        note_script_only(o, "--escapes");
        break;
    case 'n':
        o->eol = "\n";
        note_script_only(o, "--newline");
        break;
    case OPT_CRLF:
        o->eol = "\r\n";
        note_script_only(o, "--crlf");
        break;
    case OPT_IDLE:
        o->run.idle_ms = parse_idle(optarg);
        note_script_only(o, "--idle");
        break;
    case OPT_UNTIL_CLOSE:
        o->run.until_close = true;
        break;
    case 'w':
        o->run.wait_ms = parse_secs(optarg, "wait");
        break;
    case OPT_MAX_TIME:
        o->run.max_time_ms = parse_secs(optarg, "time limit");
        break;
    case 'u':
        o->udp = true;
        break;
    case OPT_RESOLVE:
        o->resolve = true;
        break;
    case OPT_CONTROL:
        o->control = optarg;
        break;
    case 'h':
        usage(stdout);
        exit(MUXCAT_EXIT_OK);
    case 'V':
        printf("muxcat %s\n", MUX_VERSION);
        exit(MUXCAT_EXIT_OK);
    case ':':
        usage_error("option '%s' needs an argument", argv[optind - 1]);
    default: {
        char shortopt[3] = {'-', (char)optopt, '\0'};
        usage_error("unknown option: '%s'",
                    optopt ? shortopt : argv[optind - 1]);
    }
    }
}

static void parse_options(int argc, char **argv, options_t *o) {
    static const struct option longopts[] = {
        {"send", required_argument, NULL, OPT_SEND},
        {"expect", required_argument, NULL, OPT_EXPECT},
        {"escapes", no_argument, NULL, 'e'},
        {"newline", no_argument, NULL, 'n'},
        {"crlf", no_argument, NULL, OPT_CRLF},
        {"idle", required_argument, NULL, OPT_IDLE},
        {"until-close", no_argument, NULL, OPT_UNTIL_CLOSE},
        {"wait", required_argument, NULL, 'w'},
        {"max-time", required_argument, NULL, OPT_MAX_TIME},
        {"udp", no_argument, NULL, 'u'},
        {"resolve", no_argument, NULL, OPT_RESOLVE},
        {"control", required_argument, NULL, OPT_CONTROL},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    o->script_args = calloc((size_t)argc, sizeof(*o->script_args));
    if (!o->script_args) {
        muxcat_error("out of memory");
        exit(MUXCAT_EXIT_FAIL);
    }
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":enuw:hV", longopts, NULL)) != -1)
        parse_option(o, c, argv);
    o->positional = argv + optind;
    o->npositional = argc - optind;
}

/* TEXT of --send/--expect, decoded in place if -e was given. */
static size_t script_text(const options_t *o, char *text) {
    size_t len = strlen(text);
    if (!o->escapes)
        return len;
    char *given = strdup(text); /* for the message: decoding overwrites */
    if (text_unescape(text, &len) < 0)
        usage_error("bad escape in TEXT (known: " TEXT_ESCAPES "): '%s'",
                    given ? given : "?");
    free(given);
    return len;
}

static void add_send(options_t *o, muxcat_step_t *st, char *text) {
    size_t len = script_text(o, text);
    size_t eol = o->eol ? strlen(o->eol) : 0;
    st->send = malloc(len + eol + 1);
    if (!st->send) {
        muxcat_error("out of memory");
        exit(MUXCAT_EXIT_FAIL);
    }
    memcpy(st->send, text, len);
    memcpy(st->send + len, o->eol ? o->eol : "", eol + 1);
    st->text_len = len;
    st->send_len = len + eol;
}

/* Turns --send/--expect into steps: steps[0] is the greeting. */
static void build_steps(options_t *o) {
    muxcat_opts_t *run = &o->run;
    run->steps = calloc(o->nscript_args + 1, sizeof(*run->steps));
    if (!run->steps) {
        muxcat_error("out of memory");
        exit(MUXCAT_EXIT_FAIL);
    }
    run->nsteps = 1;
    for (size_t i = 0; i < o->nscript_args; i++) {
        script_arg_t *arg = &o->script_args[i];
        if (arg->kind == OPT_SEND) {
            add_send(o, &run->steps[run->nsteps++], arg->text);
            continue;
        }
        muxcat_step_t *st = &run->steps[run->nsteps - 1];
        if (st->expect)
            usage_error("two --expect in a row (one per --send): '%s'",
                        arg->text);
        st->expect = arg->text;
        st->expect_len = script_text(o, arg->text);
    }
    run->script = o->nscript_args > 0;
}

/* "127.0.0.1:9", "[::1]:9", "udp://...", "unix:/p": for messages. */
static void format_target(const mux_addr_t *addr, char *out, size_t size) {
    const char *host = addr->host[0] ? addr->host : "localhost";
    const char *scheme = addr->transport == MUX_UDP ? "udp://" : "";
    if (addr->transport == MUX_UNIX)
        snprintf(out, size, "unix:%s", addr->path);
    else if (strchr(host, ':'))
        snprintf(out, size, "%s[%s]:%s", scheme, host, addr->port);
    else
        snprintf(out, size, "%s%s:%s", scheme, host, addr->port);
}

/* HOST PORT or ADDR into run->addr (-u makes an inet address UDP). */
static void parse_target(options_t *o) {
    char joined[600];
    const char *text = o->positional[0];
    if (o->npositional == 2) {
        const char *host = o->positional[0];
        bool bare_v6 = strchr(host, ':') && host[0] != '[';
        snprintf(joined, sizeof(joined), bare_v6 ? "[%s]:%s" : "%s:%s", host,
                 o->positional[1]);
        text = joined;
    }
    if (strncmp(text, "unix:", 5) == 0 && o->npositional == 2)
        usage_error("a unix: address takes no PORT: '%s'", text);
    int err = mux_addr_parse(text, "127.0.0.1", &o->run.addr);
    if (err == -ERANGE)
        usage_error("invalid address '%s': port out of range (0-65535)", text);
    if (err < 0)
        usage_error(o->npositional == 2 ? "invalid host or port: '%s'"
                                        : "invalid address: '%s'",
                    text);
    if (o->udp && o->run.addr.transport == MUX_UNIX)
        usage_error("--udp does not apply to a unix: address: '%s'", text);
    if (o->udp)
        o->run.addr.transport = MUX_UDP;
    format_target(&o->run.addr, o->run.target, sizeof(o->run.target));
}

/* Combinations that cannot work, caught before anything runs. */
static void check_options(options_t *o) {
    muxcat_opts_t *run = &o->run;
    if (o->npositional == 0)
        usage_error("missing %s", o->resolve ? "HOST" : "address");
    if (o->npositional > 2)
        usage_error("unexpected argument: '%s'", o->positional[2]);
    if (o->resolve && (run->script || run->until_close || o->script_only))
        usage_error("%s", "--resolve takes only HOST [SERVICE]");
    if (o->resolve)
        return;
    if (!run->script && o->script_only)
        usage_error("%s needs --send or --expect", o->script_only);
    if (run->addr.transport != MUX_UDP)
        return;
    if (run->until_close)
        usage_error("%s", "--until-close needs a stream (TCP or unix) address");
    if (run->steps[0].expect)
        usage_error("a UDP server sends no greeting: --expect '%s' must "
                    "follow a --send",
                    run->steps[0].expect);
}

static void free_options(options_t *o) {
    for (size_t i = 0; i < o->run.nsteps; i++)
        free(o->run.steps[i].send);
    free(o->run.steps);
    free(o->script_args);
    free(o->command);
}

/* A command is one line: a CR or LF in a word would end it there and make
 * the rest a second command (a NUL cannot be in an argument). */
static void check_control_word(const char *word) {
    if (!strpbrk(word, "\r\n"))
        return;
    char shown[128];
    text_escape(word, strlen(word), shown, sizeof(shown));
    usage_error("a control command is one line: no CR or LF in its "
                "words: '%s'",
                shown);
}

/* --control ADDR CMD...: the address, and the words as one line. */
static void parse_control(options_t *o) {
    if (o->resolve || o->udp || o->run.script || o->script_only ||
        o->run.until_close)
        usage_error("%s", "--control takes only -w and CMD [ARG]...");
    if (o->npositional == 0)
        usage_error("%s", "missing CMD after --control ADDR");
    char unix_form[300];
    const char *text = o->control;
    if (text[0] == '/' || text[0] == '.') { /* a path alone: unix */
        snprintf(unix_form, sizeof(unix_form), "unix:%s", text);
        text = unix_form;
    }
    if (mux_addr_parse(text, "127.0.0.1", &o->run.addr) < 0 ||
        o->run.addr.transport == MUX_UDP)
        usage_error("invalid control address: '%s' (unix:PATH or HOST:PORT)",
                    o->control);
    format_target(&o->run.addr, o->run.target, sizeof(o->run.target));
    size_t len = 2;
    for (int i = 0; i < o->npositional; i++) {
        check_control_word(o->positional[i]);
        len += strlen(o->positional[i]) + 1;
    }
    if (!(o->command = calloc(1, len))) {
        muxcat_error("out of memory");
        exit(MUXCAT_EXIT_FAIL);
    }
    for (int i = 0; i < o->npositional; i++) {
        strcat(o->command, o->positional[i]);
        strcat(o->command, i + 1 < o->npositional ? " " : "\n");
    }
}

static int run(options_t *o) {
    if (o->control)
        return muxcat_resolve_target(&o->run) < 0
                   ? MUXCAT_EXIT_FAIL
                   : muxcat_control(&o->run, o->command);
    if (o->resolve)
        return muxcat_resolve(o->positional[0],
                              o->npositional == 2 ? o->positional[1] : NULL);
    if (muxcat_resolve_target(&o->run) < 0)
        return MUXCAT_EXIT_FAIL;
    return o->run.script ? muxcat_script(&o->run) : muxcat_pipe(&o->run);
}

int main(int argc, char **argv) {
    options_t o = {0};
    o.run.wait_ms = DEFAULT_WAIT_MS;
    o.run.idle_ms = DEFAULT_IDLE_MS;
    if (outfd_open_std() < 0) /* a closed 0-2 would be reused: fill it */
        return MUXCAT_EXIT_FAIL;
    parse_options(argc, argv, &o);
    build_steps(&o);
    if (o.control)
        parse_control(&o);
    else if (!o.resolve && o.npositional >= 1 && o.npositional <= 2)
        parse_target(&o);
    if (!o.control)
        check_options(&o);
    int status = run(&o);
    free_options(&o);
    return status;
}
