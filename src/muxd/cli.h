/*
 * cli.h -- muxd's command line: the options as parsed, the parser, and
 * the --help text. Nothing here serves or prints on its own: the parser
 * says what to do and, for a usage error, why; main() prints.
 */
#ifndef MUXD_CLI_H
#define MUXD_CLI_H

#include "acl.h"
#include "faults.h"
#include "log.h"
#include "relay.h"
#include "services.h"

#include "mux.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define MAX_LISTEN 64

/* What the command line asks for: the same in every --workers process. */
typedef struct {
    mux_addr_t listen[MAX_LISTEN];
    size_t nlisten;
    const char *listen_text[MAX_LISTEN]; /* as given, for messages */
    char default_listen[300];            /* -H and -p as one address */
    const char *host;                    /* -H */
    const char *port;                    /* -p */
    mux_server_opts_t server;
    muxd_service_config_t config; /* the service (-s), --text, chat bounds */
    muxd_log_t log;
    muxd_acl_t acl;
    uint64_t shutdown_timeout_ms;
    const char *user; /* --user: whom to become after binding */
    const char *faults[MUXD_FAULTS_MAX]; /* --fault specs, checked */
    size_t nfaults;
    uint64_t seed;             /* --seed: odds= draws */
    muxd_relay_config_t relay; /* --to, --connect-timeout, --dump */
    /* A relay: each listener's upstream, an index in relay.upstreams
     * (-l ADDR --to UPSTREAM: a listener and its upstream). */
    size_t listen_upstream[MAX_LISTEN];
    bool connect_timeout_given, dump_max_given;
    /* For test scripts and service managers (docs/fixtures.md). */
    int inherited[MAX_LISTEN]; /* LISTEN_FDS sockets, then --fd ones */
    size_t ninherited;
    const char *ready_file, *pidfile;
    uint64_t max_accepts;     /* 0: no limit */
    unsigned workers;         /* --workers; 0 or 1: this process serves */
    mux_addr_t control;       /* --control: the control socket */
    const char *control_text; /* as given; NULL: none */
    const char *api_text;     /* --api ADDR as given; NULL: none */
    bool api_remote;          /* --api-remote: beyond loopback too */
    const char *api_config;   /* --api-config FILE, or NULL */
} muxd_options_t;

/* What muxd_cli_parse() found the command line asks for. */
typedef enum {
    MUXD_CLI_SERVE,   /* serve with the options */
    MUXD_CLI_HELP,    /* -h: print muxd_cli_usage() to stdout, exit 0 */
    MUXD_CLI_VERSION, /* -V: print the version, exit 0 */
    MUXD_CLI_USAGE,   /* a usage error: print the message, exit 2 */
} muxd_cli_result;

/*
 * Parses argv into *o (all of it written: defaults first). `activated` is
 * what muxd_listen_fds() returned for the sockets it stored in
 * o->inherited (socket activation): negative or past MAX_LISTEN is a
 * usage error. Arguments may be changed in place (--text's escapes are
 * decoded) and must outlive *o. On MUXD_CLI_USAGE, `msg` (of `size`
 * bytes) holds the first error, without "muxd: " or a line end.
 */
muxd_cli_result muxd_cli_parse(int argc, char **argv, int activated,
                               muxd_options_t *o, char *msg, size_t size);

/* Where an option shows in --help (usage.c prints the topics in order). */
typedef enum {
    MUXD_TOPIC_LISTENING,
    MUXD_TOPIC_SERVING,
    MUXD_TOPIC_RELAYING,
    MUXD_TOPIC_LIMITS,
    MUXD_TOPIC_FAULTS, /* their text is faults.c's muxd_fault_usage() */
    MUXD_TOPIC_FIXTURES,
    MUXD_TOPIC_OUTPUT,
} muxd_cli_topic;

typedef struct muxd_cli_parser muxd_cli_parser_t; /* a parse under way */

/*
 * One option of muxd: everything about it but its man page entry
 * (docs/muxd.1, which test_docs.py checks against --help). getopt_long()'s
 * table, the short options and --help are built from muxd_cli_options.
 */
typedef struct {
    const char *name; /* the long name, without "--"; NULL ends the table */
    char letter;      /* the short form, or 0 */
    const char *arg;  /* the argument's name in --help; NULL: none */
    muxd_cli_topic topic;
    /* The --help text after the option: lines apart from the first are
     * indented to its column (24) by the printer. */
    const char *help;
    void (*more)(FILE *out); /* what follows `help`, from another table */
    /* Takes the option: records a usage error in the parse, if any. The
     * argument may be changed in place (--text decodes its escapes). */
    void (*take)(muxd_cli_parser_t *p, char *arg);
} muxd_cli_option_t;

extern const muxd_cli_option_t muxd_cli_options[];

/* The --help text (usage.c). */
void muxd_cli_usage(FILE *out);
/* The pieces of --help that come from other tables (usage.c). */
void muxd_usage_services(FILE *out);
void muxd_usage_texts(FILE *out);
void muxd_usage_control(FILE *out);

#endif
