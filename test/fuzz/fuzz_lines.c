/*
 * fuzz_lines.c -- libFuzzer harness for line framing: a server whose
 * service records every line, fed over a socketpair in fuzzed chunks.
 *
 * Input: [max_line] [end] [8 chunk sizes] payload...
 *  - max_line: 1..48, the server's opts.max_line;
 *  - end: what the client does after the last chunk: shut its write side,
 *    stay open, or close;
 *  - chunk sizes: 1..96 bytes each, used in turn to cut the payload into
 *    writes, each followed by loop turns until the loop is idle.
 *
 * Checks, against a model that reads the whole stream at once:
 *  - every delivered line holds no '\n' and at most max_line bytes;
 *  - the lines delivered are exactly the model's: the stream cut at each
 *    LF (a CR before it cut too), up to the first line longer than
 *    max_line, plus an unterminated last line once the client shut its
 *    write side; so no byte is lost, duplicated or reordered, and the
 *    outcome does not depend on how the stream was cut into reads;
 *  - "line too long" (an error event and the error line to the client,
 *    then the server's EOF) happens exactly when the model says so;
 *  - the close callback and the close event run once; no fd and (LSan)
 *    no memory leaks after mux_server_free() and mux_loop_free().
 */
#define _POSIX_C_SOURCE 200809L

#include "fuzz_util.h"

#include <errno.h>
#include <sys/socket.h>

enum { END_SHUT_WR, END_STAY_OPEN, END_CLOSE, END_MODES };

typedef struct {
    size_t max_line;
    bytes_t lines;      /* each delivered line plus '\n' */
    int opened, closed; /* service callbacks */
    int close_events, too_long_events;
} state_t;

static state_t st;

static void on_open(mux_conn_t *conn) {
    CHECK(st.opened == 0);
    st.opened++;
    mux_conn_set_data(conn, &st);
}

static void on_message(mux_conn_t *conn, const char *data, size_t len) {
    CHECK(mux_conn_data(conn) == &st);
    CHECK(st.opened == 1 && st.closed == 0);
    CHECK(len <= st.max_line);
    CHECK(memchr(data, '\n', len) == NULL);
    bytes_add(&st.lines, data, len);
    bytes_add(&st.lines, "\n", 1);
}

static void on_close(mux_conn_t *conn) {
    CHECK(mux_conn_data(conn) == &st);
    CHECK(st.closed == 0);
    st.closed++;
}

static const mux_service_t line_service = {
    .name = "fuzz-lines",
    .framing = MUX_FRAMING_LINE,
    .open = on_open,
    .message = on_message,
    .close = on_close,
};

static void on_event(mux_server_t *server, const mux_event_t *ev, void *arg) {
    (void)server;
    (void)arg;
    if (ev->type == MUX_EV_CLOSE)
        st.close_events++;
    if (ev->type == MUX_EV_ERROR && !strcmp(ev->reason, "line too long"))
        st.too_long_events++;
}

/*
 * The model: the lines a correct server delivers for `stream`, and
 * whether it must refuse a line as too long. An unterminated tail is
 * delivered when the client shut its write side (`eof`); without EOF it
 * is only an error if it is already too long, not counting a final CR
 * (the LF that makes it a CRLF may still be on its way).
 */
static int model(const char *stream, size_t len, size_t max_line, int eof,
                 bytes_t *lines) {
    size_t p = 0;
    if (len == 0)
        return 0;
    for (;;) {
        const char *nl = memchr(stream + p, '\n', len - p);
        size_t end = nl ? (size_t)(nl - stream) : len;
        size_t line = end - p;
        if (nl && line > 0 && stream[end - 1] == '\r')
            line--;
        else if (!nl && !eof && line > 0 && stream[end - 1] == '\r')
            line--;
        if (line > max_line)
            return 1;
        if (!nl) {
            if (eof && end > p) {
                bytes_add(lines, stream + p, end - p);
                bytes_add(lines, "\n", 1);
            }
            return 0;
        }
        bytes_add(lines, stream + p, line);
        bytes_add(lines, "\n", 1);
        p = end + 1;
    }
}

/* Writes one chunk; returns the bytes the socket took (all of them, or
 * fewer once the server closed its side). */
static size_t write_chunk(mux_loop_t *loop, int fd, const uint8_t *data,
                          size_t len) {
    size_t done = 0;
    for (int tries = 0; done < len && tries < 64; tries++) {
        ssize_t n = send(fd, data + done, len - done, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            CHECK(errno == EPIPE || errno == ECONNRESET);
            break;
        }
        if (n > 0)
            done += (size_t)n;
        pump(loop, 16);
    }
    return done;
}

/* Everything the server sent; *eof tells whether it shut its side. */
static void read_replies(int fd, bytes_t *out, int *eof) {
    char buf[512];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0) {
            bytes_add(out, buf, (size_t)n);
            continue;
        }
        *eof = n == 0;
        return;
    }
}

static void check_outcome(const bytes_t *stream, int end, int peer_fd) {
    bytes_t expected = {0};
    int eof = end != END_STAY_OPEN;
    int too_long =
        model(stream->data, stream->len, st.max_line, eof, &expected);
    CHECK(st.lines.len == expected.len);
    CHECK(!expected.len || !memcmp(st.lines.data, expected.data, expected.len));
    CHECK(st.too_long_events == too_long);
    if (end != END_CLOSE) {
        bytes_t replies = {0};
        int server_eof = 0;
        char msg[80];
        snprintf(msg, sizeof(msg), "error: line too long (max %zu bytes)\n",
                 st.max_line);
        read_replies(peer_fd, &replies, &server_eof);
        CHECK(replies.len == (too_long ? strlen(msg) : 0));
        CHECK(!too_long || !memcmp(replies.data, msg, replies.len));
        CHECK(server_eof == (too_long || eof));
        bytes_free(&replies);
    }
    if (end == END_SHUT_WR)
        CHECK(st.closed == 1 && st.close_events == 1);
    bytes_free(&expected);
}

static void run(const uint8_t *sizes, int end, const uint8_t *data,
                size_t size) {
    mux_loop_t *loop;
    mux_server_t *server;
    mux_server_opts_t opts = {.max_line = st.max_line, .on_event = on_event};
    int sv[2];
    CHECK(mux_loop_new(&loop) == 0);
    CHECK(mux_server_new(loop, &line_service, &opts, &server) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    CHECK(mux_server_serve_fd(server, sv[0]) == 0);
    CHECK(fcntl(sv[1], F_SETFL, O_NONBLOCK) == 0);

    bytes_t stream = {0};
    for (size_t off = 0, i = 0; off < size; i++) {
        size_t chunk = 1 + sizes[i % 8] % 96;
        chunk = chunk < size - off ? chunk : size - off;
        size_t done = write_chunk(loop, sv[1], data + off, chunk);
        bytes_add(&stream, data + off, done);
        if (done < chunk)
            break;
        off += chunk;
    }
    if (end == END_SHUT_WR)
        CHECK(shutdown(sv[1], SHUT_WR) == 0);
    if (end == END_CLOSE)
        close(sv[1]);
    pump(loop, 64);
    check_outcome(&stream, end, sv[1]);

    mux_server_free(server);
    mux_loop_free(loop);
    if (end != END_CLOSE)
        close(sv[1]);
    CHECK(st.closed == 1 && st.close_events == 1);
    bytes_free(&stream);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 10)
        return 0;
    fd_snapshot_t fds = fd_snapshot(-1);
    memset(&st, 0, sizeof(st));
    st.max_line = 1 + data[0] % 48;
    run(data + 2, data[1] % END_MODES, data + 10, size - 10);
    bytes_free(&st.lines);
    check_no_fd_leak(fds);
    return 0;
}
