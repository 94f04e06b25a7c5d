/* upper.c -- a custom service: every line back in upper case. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <mux.h>
#include <stdio.h>

#define MAX_LINE 1024 /* opts.max_line: the server refuses longer lines */
/* One line, without its terminator (len <= MAX_LINE). */
static void upper_line(mux_conn_t *conn, const char *line, size_t len) {
    char out[MAX_LINE + 1];
    for (size_t i = 0; i < len; i++)
        out[i] = (char)toupper((unsigned char)line[i]);
    out[len] = '\n';
    mux_conn_send(conn, out, len + 1);
}

static const mux_service_t upper = {
    .name = "upper", .framing = MUX_FRAMING_LINE, .message = upper_line};

int main(int argc, char **argv) {
    const char *addr = argc > 1 ? argv[1] : "0"; /* 0: any free port */
    mux_server_opts_t opts = {.max_line = MAX_LINE};
    mux_loop_t *loop = NULL;
    mux_server_t *server = NULL;
    int err = mux_loop_new(&loop);
    if (err == 0 && (err = mux_server_new(loop, &upper, &opts, &server)) == 0 &&
        (err = mux_server_listen(server, addr)) == 0 &&
        /* Ctrl-C: answer what clients sent, then return from mux_run(). */
        (err = mux_server_stop_on_signals(server, 5000)) == 0) {
        const char *where;
        mux_server_addresses(server, &where, 1);
        printf("listening on %s\n", where);
        fflush(stdout);
        err = mux_run(loop, MUX_RUN_DEFAULT);
    }
    if (err < 0)
        fprintf(stderr, "upper: %s: %s\n", addr, mux_strerror(err));
    mux_server_free(server);
    mux_loop_free(loop);
    return err < 0 ? 1 : 0;
}
