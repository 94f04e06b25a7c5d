/*
 * loop_main.c -- libmux as a program's main loop.
 *
 * A console for a small notice board: clients connect over TCP and receive
 * what the operator broadcasts; what they send shows up on the console.
 * The one loop serves the clients, reads the operator's commands from
 * stdin and catches SIGINT/SIGTERM:
 *
 *     clients           list the connected clients
 *     broadcast TEXT    send TEXT to every client
 *     quit              say bye, close every client, exit 0 (also on EOF)
 *
 * Usage: loop_main [HOST:]PORT   (PORT 0: any free port; see the ready line)
 */
#define _POSIX_C_SOURCE 200809L

#include <mux.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Everything the callbacks share. */
typedef struct {
    mux_loop_t *loop;
    mux_server_t *server;
    char input[1024]; /* console input that is not a whole line yet */
    size_t input_len;
    int quitting;
} board_t;

/* Text from the network may hold any byte: escape it for the terminal. */
static void print_escaped(const char *data, size_t len) {
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)data[i];
        if (isprint(c) && c != '\\')
            putchar(c);
        else
            printf("\\x%02x", c);
    }
}

/* ---- the service: one value of mux_service_t ---- */

static void board_open(mux_conn_t *conn) {
    char hello[64];
    int n = snprintf(hello, sizeof(hello), "welcome, client %" PRIu64 "\n",
                     mux_conn_id(conn));
    mux_conn_send(conn, hello, (size_t)n);
    printf("client %" PRIu64 " connected from %s\n", mux_conn_id(conn),
           mux_conn_peer(conn));
}

static void board_message(mux_conn_t *conn, const char *line, size_t len) {
    printf("client %" PRIu64 ": ", mux_conn_id(conn));
    print_escaped(line, len);
    putchar('\n');
}

static void board_close(mux_conn_t *conn) {
    printf("client %" PRIu64 " left\n", mux_conn_id(conn));
}

static const mux_service_t board_service = {
    .name = "board",
    .framing = MUX_FRAMING_LINE,
    .open = board_open,
    .message = board_message,
    .close = board_close,
};

/* ---- console commands ---- */

typedef struct {
    const char *text;
    size_t len;
    unsigned count;
} message_t;

/* Sends one line: the text and its terminator. */
static void send_message(mux_conn_t *conn, void *arg) {
    message_t *msg = arg;
    if (mux_conn_send(conn, msg->text, msg->len) == 0 &&
        mux_conn_send(conn, "\n", 1) == 0)
        msg->count++;
}

static void list_client(mux_conn_t *conn, void *arg) {
    (void)arg;
    printf("  client %" PRIu64 " from %s\n", mux_conn_id(conn),
           mux_conn_peer(conn));
}

/* Says bye, then lets the server close every client once its output is
 * flushed; MUX_EV_DONE (on_event) ends the loop. */
static void quit(board_t *board) {
    if (board->quitting++)
        return;
    mux_unwatch(board->loop, STDIN_FILENO);
    mux_server_foreach(board->server, send_message,
                       &(message_t){.text = "bye", .len = 3});
    mux_server_shutdown(board->server, 2000);
}

static void run_command(board_t *board, char *line) {
    if (strcmp(line, "clients") == 0) {
        size_t n = mux_server_clients(board->server);
        printf("%zu client%s\n", n, n == 1 ? "" : "s");
        mux_server_foreach(board->server, list_client, NULL);
    } else if (strncmp(line, "broadcast ", 10) == 0) {
        message_t msg = {.text = line + 10, .len = strlen(line + 10)};
        mux_server_foreach(board->server, send_message, &msg);
        printf("sent to %u client%s\n", msg.count, msg.count == 1 ? "" : "s");
    } else if (strcmp(line, "quit") == 0) {
        quit(board);
    } else if (line[0]) {
        printf("unknown command: %s (commands: clients, broadcast TEXT, "
               "quit)\n",
               line);
    }
}

/* Splits console input into lines; a line longer than the buffer is cut. */
static void on_stdin(mux_loop_t *loop, int fd, int events, void *arg) {
    board_t *board = arg;
    (void)loop;
    (void)events;
    /* One read() per readiness: it does not block, stdin stays blocking. */
    ssize_t n = read(fd, board->input + board->input_len,
                     sizeof(board->input) - 1 - board->input_len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;   /* not now: select() reports it again */
    if (n <= 0) { /* EOF, or stdin failed: nothing more will come */
        quit(board);
        return;
    }
    board->input_len += (size_t)n;
    char *start = board->input, *end = board->input + board->input_len;
    char *nl;
    while (!board->quitting &&
           (nl = memchr(start, '\n', (size_t)(end - start)))) {
        *nl = '\0';
        run_command(board, start);
        start = nl + 1;
    }
    board->input_len = (size_t)(end - start);
    memmove(board->input, start, board->input_len);
    if (board->input_len == sizeof(board->input) - 1) {
        board->input[board->input_len] = '\0';
        run_command(board, board->input);
        board->input_len = 0;
    }
}

/* ---- wiring ---- */

static void on_event(mux_server_t *server, const mux_event_t *ev, void *arg) {
    board_t *board = arg;
    (void)server;
    if (ev->type == MUX_EV_DONE) /* the last client is gone after quit */
        mux_stop(board->loop);
}

static void on_signal(mux_loop_t *loop, int signo, void *arg) {
    (void)loop;
    (void)signo;
    quit(arg);
}

static int start(board_t *board, const char *addr) {
    mux_server_opts_t opts = {.on_event = on_event, .event_arg = board};
    int err;
    if ((err = mux_server_new(board->loop, &board_service, &opts,
                              &board->server)) < 0 ||
        (err = mux_signal(board->loop, SIGINT, on_signal, board)) < 0 ||
        (err = mux_signal(board->loop, SIGTERM, on_signal, board)) < 0 ||
        (err = mux_watch(board->loop, STDIN_FILENO, MUX_READ, on_stdin,
                         board)) < 0) {
        fprintf(stderr, "loop_main: cannot start: %s\n", mux_strerror(err));
        return err;
    }
    if ((err = mux_server_listen(board->server, addr)) < 0) {
        fprintf(stderr, "loop_main: cannot listen on %s: %s\n", addr,
                mux_strerror(err));
        return err;
    }
    const char *where[16];
    size_t n = mux_server_addresses(board->server, where, 16);
    for (size_t i = 0; i < n && i < 16; i++)
        printf("listening on %s\n", where[i]);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: loop_main [HOST:]PORT\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* one line at a time, also to a pipe */
    signal(SIGPIPE, SIG_IGN);         /* stdout may be a closed pipe */
    board_t board = {0};
    int err = mux_loop_new(&board.loop);
    if (err < 0)
        fprintf(stderr, "loop_main: cannot create the loop: %s\n",
                mux_strerror(err));
    if (err == 0 && (err = start(&board, argv[1])) == 0 &&
        (err = mux_run(board.loop, MUX_RUN_DEFAULT)) < 0)
        fprintf(stderr, "loop_main: event loop failed: %s\n",
                mux_strerror(err));
    mux_server_free(board.server);
    mux_loop_free(board.loop);
    return err < 0 ? 1 : 0;
}
