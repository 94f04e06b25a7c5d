/*
 * usage.c -- muxd --help (muxd_cli_usage(), cli.h): the options by topic.
 * test_docs.py checks that every option here is in the man page,
 * docs/muxd.1, and back.
 */
#define _POSIX_C_SOURCE 200809L

#include "cli.h"
#include "escape.h"
#include "faults.h"

#include <stdio.h>
#include <string.h>

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
            "ready lines once,\n"
            "                        passes SIGTERM, SIGINT, SIGHUP and "
            "SIGUSR1 on, and\n"
            "                        replaces a worker that dies or stays "
            "stopped 3 s\n"
            "      --control ADDR    commands while muxd runs, one per line, "
            "a JSON reply\n"
            "                        each: stats, clients, fault add SPEC, "
            "fault list,\n"
            "                        fault del ID, fault clear, kick ID, "
            "pause, resume,\n"
            "                        refuse on|off, shutdown; ADDR unix:PATH "
            "(mode 0600,\n"
            "                        removed at exit) or a loopback "
            "HOST:PORT\n"
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
        if (!muxd_services[i]->callbacks.datagram)
            continue;
        int len = (int)strlen(muxd_services[i]->callbacks.name) + 1;
        if (col + len > 79)
            col = fprintf(out, "\n                         ") - 1;
        col += fprintf(out, " %s", muxd_services[i]->callbacks.name);
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
                muxd_services[i]->callbacks.name, muxd_services[i]->summary);
    usage_datagram_forms(out);
    fprintf(out, "      --text TEXT       send TEXT exactly, nothing added, "
                 "after the escapes\n"
                 "                          " TEXT_ESCAPES
                 ", instead of the fixed text\n"
                 "                          (which ends in a line end) of:\n");
    for (size_t i = 0; muxd_services[i]; i++) {
        if (muxd_services[i]->text)
            fprintf(out, "                          %-9s %s\n",
                    muxd_services[i]->callbacks.name, muxd_services[i]->text);
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

/* --to and what goes with it (docs/relay.md). */
static void usage_relay(FILE *out) {
    fprintf(out,
            "Relaying (docs/relay.md):\n"
            "      --to UPSTREAM     relay instead of serving: every client "
            "gets its own\n"
            "                        connection to UPSTREAM (HOST:PORT, "
            "[V6]:PORT, PORT or\n"
            "                        unix:PATH; resolved once at start), "
            "bytes both ways\n"
            "                        unchanged; --fault applies (dir=up: "
            "toward UPSTREAM).\n"
            "                        Several relays: -l A --to X -l B --to "
            "Y (each -l takes\n"
            "                        the --to after it; one --to before "
            "any -l relays\n"
            "                        every listener)\n"
            "      --connect-timeout SECS  give up connecting to UPSTREAM "
            "after SECS (each\n"
            "                        address; default 10); the client is "
            "closed, or reset\n"
            "                        where UPSTREAM refused\n"
            "      --dump DIR|-      write each connection's bytes, both "
            "ways, as hex and\n"
            "                        text with times and offsets: to a new "
            "file (mode 0600)\n"
            "                        DIR/conn-START-PID-N.txt, or with - to "
            "stderr (bounded:\n"
            "                        past 64 KiB queued, dropped and "
            "counted)\n"
            "      --dump-max BYTES  dump at most BYTES of text per "
            "connection (default 16M;\n"
            "                        k, M, G); then one line says it was "
            "truncated, and the\n"
            "                        closing line how many bytes were not "
            "dumped\n");
}

void muxd_cli_usage(FILE *out) {
    fprintf(out, "Usage: muxd [OPTION]...\n"
                 "A select() multiplexing server. With no options it serves "
                 "echo on 127.0.0.1:9999.\n\n");
    usage_listening(out);
    fprintf(out, "\n");
    usage_serving(out);
    fprintf(out, "\n");
    usage_relay(out);
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
            "                        (with --to their upstreams too; "
            "default: never)\n"
            "      --line-timeout SECS  line framing: a line must arrive "
            "within SECS of its\n"
            "                        first byte, else \"error: line "
            "timeout\" and a close\n"
            "                        (default: never)\n"
            "      --shutdown-timeout SECS  on SIGTERM, wait at most SECS "
            "for clients\n"
            "                        (and with --to their upstreams; "
            "default 5)\n");
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
