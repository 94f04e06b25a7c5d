/*
 * script.c -- muxcat ADDR --send TEXT [--expect TEXT] ...: print the
 * greeting, then send each TEXT and print its reply, comparing it with
 * --expect where one is given.
 *
 * Where a reply ends (stream):
 *  - as soon as it equals the --expect TEXT (a reply that so far is the
 *    start of TEXT is waited for until -w runs out);
 *  - otherwise when the server has been quiet for --idle ms after the
 *    reply began, or when the server closes;
 *  - and in any case -w seconds after the step began. A reply that has not
 *    begun is waited for -w seconds, except the greeting without --expect:
 *    a server that has none stays quiet, so --idle ms decide.
 * A datagram reply is one datagram. Each reply is printed as received,
 * followed by a newline if it does not end with one.
 */
#define _POSIX_C_SOURCE 200809L

#include "muxcat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* How many bytes of a reply beyond the expected length a message shows. */
#define SHOW_EXTRA 256

typedef enum { COLLECTING, CLOSING, FLUSHING } phase_t;

/* Why a reply ended. */
typedef enum { END_COMPLETE, END_TIMEOUT, END_CLOSED } end_t;

typedef enum { SAME, PREFIX, DIFFERENT } verdict_t;

typedef struct {
    const muxcat_opts_t *opts;
    mux_loop_t *loop;
    int sock; /* -1 until connected */
    bool dgram;
    bool server_closed;
    bool done;
    phase_t phase;
    size_t step; /* index into opts->steps */
    size_t sent; /* bytes of its TEXT written */
    bool send_done;
    uint64_t deadline;
    size_t reply_len; /* bytes of the reply so far */
    char *got;        /* its first got_cap bytes, for --expect */
    size_t got_cap;
    char last; /* its last byte */
    mux_timer_t timer;
    int status;
    bool mismatch; /* a reply differed: reported once stdout is flushed */
    end_t mismatch_end;
    muxcat_buf_t to_out;
} script_t;

static void update(script_t *s);
static void begin_step(script_t *s);

static const muxcat_step_t *current(const script_t *s) {
    return &s->opts->steps[s->step];
}

static void on_timer(mux_loop_t *loop, mux_timer_t *timer, void *arg);

static void arm(script_t *s, uint64_t ms) {
    int err = mux_timer_start(&s->timer, ms, 0);
    if (err < 0) {
        muxcat_error("cannot start a timer: %s", mux_strerror(err));
        s->status = MUXCAT_EXIT_FAIL;
        s->phase = FLUSHING;
    }
}

static void disarm(script_t *s) { mux_timer_stop(&s->timer); }

/* Stops the script: print what is pending, then exit with `status`. */
static void stop(script_t *s, int status) {
    if (status != MUXCAT_EXIT_OK)
        s->status = status;
    s->phase = FLUSHING;
    disarm(s);
}

/* Compares the reply with --expect; a trailing line end is not part of
 * the reply unless the expected text ends with one. */
static verdict_t compare(const script_t *s) {
    const muxcat_step_t *st = current(s);
    if (s->reply_len > s->got_cap)
        return DIFFERENT;
    size_t len = s->reply_len;
    bool want_eol = st->expect_len && st->expect[st->expect_len - 1] == '\n';
    if (!want_eol && len > 0 && s->got[len - 1] == '\n')
        len -= len > 1 && s->got[len - 2] == '\r' ? 2 : 1;
    if (len == st->expect_len && memcmp(s->got, st->expect, len) == 0)
        return SAME;
    if (s->reply_len < st->expect_len &&
        memcmp(s->got, st->expect, s->reply_len) == 0)
        return PREFIX;
    return DIFFERENT;
}

/* Sends a message built in `out` (open_memstream) to stderr. */
static void send_message(FILE *out, char **text, size_t *len) {
    if (fclose(out) == 0)
        muxcat_message(*text, *len);
    free(*text);
}

static void report_mismatch(const script_t *s, end_t why) {
    const muxcat_step_t *st = current(s);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out)
        return;
    fputs("muxcat: ", out);
    if (st->send) {
        fputs("reply to --send ", out);
        muxcat_print_escaped(out, st->send, st->text_len);
    } else {
        fputs("greeting", out);
    }
    fputs(" differs: expected ", out);
    muxcat_print_escaped(out, st->expect, st->expect_len);
    fputs(", got ", out);
    size_t shown = s->reply_len < s->got_cap ? s->reply_len : s->got_cap;
    muxcat_print_escaped(out, s->got, shown);
    if (shown < s->reply_len)
        fputs("...", out);
    if (why == END_TIMEOUT)
        fprintf(out, " (waited %.3g s)", (double)s->opts->wait_ms / 1e3);
    else if (why == END_CLOSED)
        fputs(" (the server closed the connection)", out);
    fputc('\n', out);
    send_message(out, &text, &len);
}

/* After the last step: done, or read until the server closes. */
static void end_script(script_t *s) {
    if (!s->opts->until_close || s->server_closed) {
        stop(s, MUXCAT_EXIT_OK);
        return;
    }
    shutdown(s->sock, SHUT_WR); /* fails only if the peer is gone */
    s->phase = CLOSING;
    arm(s, s->opts->wait_ms);
}

static void end_reply(script_t *s, end_t why) {
    const muxcat_step_t *st = current(s);
    disarm(s);
    if (s->reply_len > 0 && s->last != '\n')
        muxcat_buf_put(&s->to_out, "\n", 1);
    if (st->expect && compare(s) != SAME) {
        /* Reported in finish(), after the reply and its newline are out,
         * so that on a terminal the message starts a line of its own. */
        s->mismatch = true;
        s->mismatch_end = why;
        stop(s, MUXCAT_EXIT_FAIL);
        return;
    }
    if (++s->step < s->opts->nsteps)
        begin_step(s);
    else
        end_script(s);
}

/* How long the reply may still take, given what has arrived so far. */
static uint64_t reply_wait(script_t *s) {
    const muxcat_step_t *st = current(s);
    uint64_t now = mux_now(s->loop);
    uint64_t left = s->deadline > now ? s->deadline - now : 0;
    uint64_t quiet = s->opts->idle_ms;
    if (!s->send_done)
        return left;
    if (s->reply_len == 0 && (st->send || st->expect))
        return left;
    if (st->expect && compare(s) == PREFIX)
        return left;
    return quiet < left ? quiet : left;
}

static void begin_step(script_t *s) {
    const muxcat_step_t *st = current(s);
    if (st->send && s->server_closed) {
        char *text = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&text, &len);
        if (out) {
            fputs("muxcat: the server closed the connection before --send ",
                  out);
            muxcat_print_escaped(out, st->send, st->text_len);
            fputc('\n', out);
            send_message(out, &text, &len);
        }
        stop(s, MUXCAT_EXIT_FAIL);
        return;
    }
    s->sent = 0;
    s->send_done = st->send == NULL;
    s->reply_len = 0;
    s->deadline = mux_now(s->loop) + s->opts->wait_ms;
    arm(s, reply_wait(s));
}

static bool has_room(script_t *s);

static void on_timer(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    script_t *s = arg;
    if (s->phase != FLUSHING && !s->server_closed && !has_room(s)) {
        /* We are not reading because stdout is slow: not the server's
         * silence. Writing to stdout re-arms the timer as well. */
        mux_timer_start(timer, s->opts->idle_ms, 0);
        return;
    }
    if (s->phase == CLOSING) {
        muxcat_error("%s: the server did not close the connection "
                     "(quiet for %.3g s)",
                     s->opts->target, (double)s->opts->wait_ms / 1e3);
        stop(s, MUXCAT_EXIT_FAIL);
    } else if (s->phase == COLLECTING) {
        if (!s->send_done) {
            muxcat_error("%s: timed out sending (the server is not reading)",
                         s->opts->target);
            stop(s, MUXCAT_EXIT_FAIL);
        } else {
            end_reply(s, mux_now(loop) >= s->deadline ? END_TIMEOUT
                                                      : END_COMPLETE);
        }
    }
    update(s);
}

/* The reply grew or the send finished: is the reply complete yet? */
static void reply_progress(script_t *s) {
    if (s->send_done && current(s)->expect && compare(s) == SAME)
        end_reply(s, END_COMPLETE);
    else
        arm(s, reply_wait(s));
}

static void got_data(script_t *s, const char *data, size_t len) {
    if (s->phase == CLOSING) {
        arm(s, s->opts->wait_ms);
        return;
    }
    if (s->reply_len < s->got_cap) {
        size_t room = s->got_cap - s->reply_len;
        memcpy(s->got + s->reply_len, data, len < room ? len : room);
    }
    s->reply_len += len;
    if (len > 0)
        s->last = data[len - 1];
    if (s->dgram)
        end_reply(s, END_COMPLETE); /* one datagram is the whole reply */
    else
        reply_progress(s);
}

static void server_closed(script_t *s) {
    s->server_closed = true;
    if (s->phase == COLLECTING)
        end_reply(s, END_CLOSED);
    else if (s->phase == CLOSING)
        stop(s, MUXCAT_EXIT_OK);
}

/* Room for what one read may bring plus the newline a reply may need. */
static bool has_room(script_t *s) {
    return s->dgram ? s->to_out.len == 0 : muxcat_buf_space(&s->to_out) > 1;
}

static void receive(script_t *s) {
    size_t max = muxcat_buf_space(&s->to_out) - 1;
    ssize_t n = muxcat_buf_read(&s->to_out, s->sock, max);
    if (n > 0 || (n == 0 && s->dgram)) { /* a datagram may be empty */
        const char *end = s->to_out.data + s->to_out.off + s->to_out.len;
        got_data(s, end - n, (size_t)n);
    } else if (n == 0) {
        server_closed(s);
    } else if (n != -EAGAIN) {
        muxcat_socket_failed(s->opts, (int)n);
        stop(s, MUXCAT_EXIT_FAIL);
    }
}

static void send_text(script_t *s) {
    const muxcat_step_t *st = current(s);
    ssize_t n =
        send(s->sock, st->send + s->sent, st->send_len - s->sent, MSG_NOSIGNAL);
    if (n >= 0) {
        s->sent += (size_t)n;
        if (s->sent == st->send_len) {
            s->send_done = true;
            reply_progress(s);
        }
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        muxcat_socket_failed(s->opts, -errno);
        stop(s, MUXCAT_EXIT_FAIL);
    }
}

static void on_socket(mux_loop_t *loop, int fd, int events, void *arg) {
    script_t *s = arg;
    (void)loop;
    (void)fd;
    if ((events & MUX_WRITE) && s->phase == COLLECTING && !s->send_done)
        send_text(s);
    if ((events & MUX_READ) && s->phase != FLUSHING && has_room(s))
        receive(s);
    update(s);
}

static void finish(script_t *s) {
    if (s->mismatch)
        report_mismatch(s, s->mismatch_end);
    s->done = true;
    disarm(s);
    mux_unwatch(s->loop, STDOUT_FILENO);
    if (s->sock >= 0)
        mux_unwatch(s->loop, s->sock);
    mux_stop(s->loop);
}

static void on_stdout(mux_loop_t *loop, int fd, int events, void *arg) {
    script_t *s = arg;
    (void)loop;
    (void)events;
    ssize_t n = muxcat_buf_write(&s->to_out, fd, false);
    if (n < 0 && n != -EAGAIN) {
        muxcat_error("cannot write to stdout: %s", mux_strerror((int)n));
        s->status = MUXCAT_EXIT_FAIL;
        finish(s);
        return;
    }
    /* Reading waited for stdout: that time is not the server's silence. */
    if (n > 0 && s->phase == COLLECTING && s->reply_len > 0)
        arm(s, reply_wait(s));
    else if (n > 0 && s->phase == CLOSING)
        arm(s, s->opts->wait_ms);
    update(s);
}

static void update(script_t *s) {
    if (s->done)
        return;
    if (s->phase == FLUSHING && s->to_out.len == 0) {
        finish(s);
        return;
    }
    int sock = 0;
    if (s->phase != FLUSHING && !s->server_closed && has_room(s))
        sock |= MUX_READ;
    if (s->phase == COLLECTING && !s->send_done)
        sock |= MUX_WRITE;
    mux_watch_events(s->loop, s->sock, sock);
    mux_watch_events(s->loop, STDOUT_FILENO, s->to_out.len ? MUX_WRITE : 0);
}

static void on_connected(mux_loop_t *loop, int fd, void *arg) {
    script_t *s = arg;
    int err;
    s->sock = fd;
    mux_timer_init(&s->timer, loop, on_timer, s);
    if ((err = mux_watch(loop, fd, 0, on_socket, s)) < 0 ||
        (err = mux_watch(loop, STDOUT_FILENO, 0, on_stdout, s)) < 0) {
        muxcat_error("cannot watch a descriptor: %s", mux_strerror(err));
        s->status = MUXCAT_EXIT_FAIL;
        finish(s);
        return;
    }
    s->step = s->dgram ? 1 : 0; /* datagram servers send no greeting */
    if (s->step < s->opts->nsteps)
        begin_step(s);
    else
        end_script(s);
    update(s);
}

/* Room for the longest --expect and a little more to show what differed. */
static size_t capture_size(const muxcat_opts_t *opts) {
    size_t longest = 0;
    for (size_t i = 0; i < opts->nsteps; i++)
        if (opts->steps[i].expect && opts->steps[i].expect_len > longest)
            longest = opts->steps[i].expect_len;
    return longest + SHOW_EXTRA;
}

int muxcat_script(const muxcat_opts_t *opts) {
    script_t *s = calloc(1, sizeof(*s));
    size_t cap = capture_size(opts);
    char *got = malloc(cap);
    if (!s || !got) {
        muxcat_error("out of memory");
        free(s);
        free(got);
        return MUXCAT_EXIT_FAIL;
    }
    s->opts = opts;
    s->sock = -1;
    s->dgram = opts->addr.transport == MUX_UDP;
    s->got = got;
    s->got_cap = cap;
    if (muxcat_session(opts, &s->loop, on_connected, s) < 0)
        s->status = MUXCAT_EXIT_FAIL;
    if (s->sock >= 0)
        close(s->sock);
    int status = s->status;
    free(s->got);
    free(s);
    return status;
}
