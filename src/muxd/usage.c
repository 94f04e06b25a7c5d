/*
 * usage.c -- muxd --help (muxd_cli_usage(), cli.h): the rows of
 * muxd_cli_options by topic, and the lists that come from other tables
 * (services, control commands). test_docs.py checks that every option
 * here is in the man page, docs/muxd.1, and back.
 */
#define _POSIX_C_SOURCE 200809L

#include "cli.h"
#include "control.h"
#include "escape.h"
#include "faults.h"

#include <stdio.h>
#include <string.h>

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

/* The service list and the datagram forms come from the service table,
 * so --help cannot drift from it (-s). */
void muxd_usage_services(FILE *out) {
    for (size_t i = 0; muxd_services[i]; i++)
        fprintf(out, "                          %-9s %s\n",
                muxd_services[i]->callbacks.name, muxd_services[i]->summary);
    usage_datagram_forms(out);
}

/* The services' fixed texts (--text). */
void muxd_usage_texts(FILE *out) {
    for (size_t i = 0; muxd_services[i]; i++) {
        if (muxd_services[i]->text)
            fprintf(out, "                          %-9s %s\n",
                    muxd_services[i]->callbacks.name, muxd_services[i]->text);
    }
}

/* `text` wrapped at 79 columns, each line from column 24; a '\1' in it
 * is a space where no line breaks. */
static void usage_wrapped(FILE *out, const char *text) {
    int col = 0;
    while (*text) {
        int len = (int)strcspn(text, " ");
        if (col == 0 || col + 1 + len > 79) {
            if (col)
                fprintf(out, "\n");
            col = fprintf(out, "%23s", "");
        }
        col += fprintf(out, " ");
        for (int i = 0; i < len; i++)
            col += fprintf(out, "%c", text[i] == '\1' ? ' ' : text[i]);
        text += len;
        text += strspn(text, " ");
    }
    fprintf(out, "\n");
}

/* The control commands (--control), from their table. */
void muxd_usage_control(FILE *out) {
    char text[1024], usage[64];
    size_t len = (size_t)snprintf(text, sizeof(text), "each:");
    for (size_t i = 0; muxd_control_commands[i].name; i++) {
        muxd_control_usage(&muxd_control_commands[i], usage, sizeof(usage));
        for (char *blank; (blank = strchr(usage, ' ')) != NULL;)
            *blank = '\1'; /* a command stays on one line */
        len += (size_t)snprintf(text + len, sizeof(text) - len, " %s%s", usage,
                                muxd_control_commands[i + 1].name ? "," : ";");
    }
    snprintf(text + len, sizeof(text) - len,
             " ADDR unix:PATH (mode 0600, removed at exit) or a loopback "
             "HOST:PORT");
    usage_wrapped(out, text);
}

/* One option: its forms in a column of 20, then its help, each line
 * after the first indented to the help's column. */
static void usage_option(FILE *out, const muxd_cli_option_t *row) {
    char forms[64];
    snprintf(forms, sizeof(forms), "%c%c%s--%s%s%s", row->letter ? '-' : ' ',
             row->letter ? row->letter : ' ', row->letter ? ", " : "  ",
             row->name, row->arg ? " " : "", row->arg ? row->arg : "");
    fprintf(out, "  %-20s  ", forms);
    for (const char *line = row->help; line;) {
        size_t len = strcspn(line, "\n");
        fprintf(out, "%.*s\n", (int)len, line);
        line = line[len] ? line + len + 1 : NULL;
        if (line)
            fprintf(out, "%24s", "");
    }
    if (row->more)
        row->more(out);
}

/* A topic's heading and its options, in the table's order. */
static void usage_topic(FILE *out, muxd_cli_topic topic, const char *heading) {
    fputs(heading, out);
    for (size_t i = 0; muxd_cli_options[i].name; i++)
        if (muxd_cli_options[i].topic == topic)
            usage_option(out, &muxd_cli_options[i]);
}

void muxd_cli_usage(FILE *out) {
    fprintf(out, "Usage: muxd [OPTION]...\n"
                 "A select() multiplexing server. With no options it serves "
                 "echo on 127.0.0.1:9999.\n\n");
    usage_topic(out, MUXD_TOPIC_LISTENING, "Listening:\n");
    usage_topic(out, MUXD_TOPIC_SERVING, "\nServing:\n");
    usage_topic(out, MUXD_TOPIC_RELAYING, "\nRelaying (docs/relay.md):\n");
    usage_topic(out, MUXD_TOPIC_LIMITS, "\nLimits:\n");
    fprintf(out, "\n");
    muxd_fault_usage(out); /* MUXD_TOPIC_FAULTS: the kinds' own text */
    usage_topic(out, MUXD_TOPIC_FIXTURES, "Fixtures and service managers:\n");
    fprintf(out, "  With $NOTIFY_SOCKET set, muxd sends READY=1 and STOPPING=1 "
                 "there.\n");
    usage_topic(out, MUXD_TOPIC_OUTPUT, "\nOutput:\n");
    fprintf(out,
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
