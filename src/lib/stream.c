/*
 * stream.c -- one connected stream socket, however it came (accepted,
 * connected outbound, handed in): non-blocking reads into the loop's
 * scratch buffer, framing into messages, the output queue with its
 * watermarks, half-close, and lingering close. It knows its loop and the
 * callbacks it was made with; whoever owns it (a server) hears of it
 * through opts.on_event and keeps its own data in `owned`.
 *
 * States: OPEN (reading and serving) -> CLOSING (output still being
 * flushed) -> LINGER (our side shut, discarding input until the client
 * closes, so that a close() with unread input cannot reset the connection
 * before the client has read our last reply) -> CLOSED (memory released
 * at the end of the turn). Any state may jump to CLOSED.
 *
 * Shaping (opts.delay_ms and the faults, src/lib/shape.c) hooks in where
 * it costs one test of a flag when off: with `held`, mux_conn_send() puts
 * the bytes into the output shaper instead, whose timer moves what may go
 * into the output queue; with `in_held`, what is read goes into the input
 * shaper, whose timer hands it to the framing. The faults that end a
 * stream (limit_time, timeout, slow_close, rst, reset-peer) use the fault
 * timer and the close paths. Faults can change while the stream runs
 * (mux_conn_set_faults()): apply_faults() works the flags out again.
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* elsewhere: SO_NOSIGPIPE or SIGPIPE ignored */
#endif

/* How long a lingering close waits for the client to close its side. */
#define LINGER_MS 2000
/* Pending output past this many high watermarks drops the client. */
#define OVERFLOW_FACTOR 16
/* Auto framing: how long a line cut by a read waits for its rest before
 * it is served as it is. */
#define AUTO_TAIL_MS 50

/* conn->shut: MUX_CLOSE_WRITE asked (SHUT_WANTED) and done (SHUT_DONE);
 * MUX_CLOSE_RESET asked (SHUT_RESET). */
enum { SHUT_WANTED = 1, SHUT_DONE = 2, SHUT_RESET = 4 };

/* Why reading is paused (conn->paused): any bit stops it. */
enum {
    PAUSED_OUTPUT = 1,  /* pending output past the high watermark */
    PAUSED_STALL = 2,   /* faults: in.stall, or stopped by timeout */
    PAUSED_SERVICE = 4, /* mux_conn_pause_reading() */
    PAUSED_INPUT = 8    /* held input past the high watermark */
};

/* conn->fault_state: stopped by faults.timeout; a slow close is waiting
 * (FAULT_SLOW) or over (FAULT_SLOWED); the first bytes of a direction
 * came under MUX_FAULT_RESET_OUT_MS / _IN_MS (FAULT_RESET_OUT, _IN): that
 * direction stopped, a reset is due at reset_at. */
enum {
    FAULT_STOPPED = 1,
    FAULT_SLOW = 2,
    FAULT_SLOWED = 4,
    FAULT_RESET_OUT = 8,
    FAULT_RESET_IN = 16
};

typedef enum { OPEN, CLOSING, LINGER, CLOSED } conn_state;

typedef void input_fn(mux_conn_t *conn, const char *data, size_t len);

/*
 * The first 64 bytes are what a message touches, from the read to the
 * echo's send: with many clients every connection is cold in the cache
 * when its turn comes, and one line is one miss instead of three (the
 * struct is allocated on a line; mux_buf_t keeps `len` second for this).
 */
struct mux_conn {
    _Alignas(64) input_fn *input; /* read bytes go to the service or framing */
    mux_loop_t *loop;
    int fd;
    uint8_t state; /* conn_state */
    uint8_t shut;  /* SHUT_* bits: what mux_conn_close() asked beyond a close */
    bool held;     /* sends go through out_shaper: delay or an out chain */
    bool timed;    /* idle or line timeout: reads and writes note it */
    bool eof;      /* the client shut its write side */
    uint8_t paused;               /* reading stops: PAUSED_* bits */
    uint64_t bytes_in, bytes_out; /* the server adds them up when asked */
    mux_buf_t out;                /* output not yet written (data, len) */
    /* ---- the rest: per connection, or on rarer paths ---- */
    const mux_conn_opts_t *opts;
    size_t max_output; /* opts', default resolved */
    const mux_service_t *service;
    int events;                 /* what the loop watches for us now */
    bool opened;                /* the service's open callback ran */
    bool in_held;               /* reads go through hold_input(): an in chain */
    uint8_t fault_state;        /* FAULT_* bits */
    bool eof_held;              /* the peer's EOF waits behind held input */
    bool no_drain;              /* mux_conn_want_drain(conn, 0) */
    bool no_output_pause;       /* mux_conn_pause_on_output(conn, 0) */
    bool stopping;              /* mux__conn_shutdown(): a stall ends too */
    mux__framer_t framer;       /* framing, an incomplete line */
    mux_timer_t tail_timer;     /* auto framing: `in` is served when due */
    const mux_faults_t *faults; /* opts->faults, mux_conn_set_faults()'s,
                                   or &mux__no_faults: never NULL */
    uint64_t *filter_state[2];  /* a word per filter stage, by mux_dir */
    size_t nfilter_state[2];
    mux__shaper_t *out_shaper; /* output held back, or NULL */
    mux__shaper_t *in_shaper;  /* input held back, or NULL */
    mux_timer_t fault_timer;   /* limit_time, timeout, slow_close, reset */
    uint64_t reset_at;         /* ns: a reset-peer's reset is due; 0: none */
    uint64_t started, last_active;
    mux_timer_t timer; /* idle and line timeouts, or the linger limit */
    void *data;
    char peer[MUX_ADDRSTRLEN];
    char local[MUX_ADDRSTRLEN]; /* a copy: listeners may close first */
    mux_transport transport;    /* MUX_TCP or MUX_UNIX */
    int close_err;              /* why it closed, once it did: -errno or 0 */
    const char *close_reason;   /* NULL until it closed; a static string */
    mux__conn_owned_t owned;    /* its owner's, never read here */
};
_Static_assert(offsetof(mux_conn_t, out) + offsetof(mux_buf_t, len) +
                       sizeof(size_t) <=
                   64,
               "the hot fields fit one cache line");

/* Frees what the stream holds, but not the struct. */
static void conn_release(mux_conn_t *conn) {
    mux_timer_stop(&conn->fault_timer);
    mux__shaper_free(conn->out_shaper);
    mux__shaper_free(conn->in_shaper);
    mux__buf_free(&conn->out);
    mux__framer_free(&conn->framer);
    conn->out_shaper = conn->in_shaper = NULL;
    for (int d = 0; d < 2; d++) {
        free(conn->filter_state[d]);
        conn->filter_state[d] = NULL;
        conn->nfilter_state[d] = 0;
    }
}

#ifndef NDEBUG
/* Whether no timer of the stream is armed: the loop may not hold a
 * pointer into memory about to be freed or reused (for assert()). */
static bool timers_stopped(const mux_conn_t *conn) {
    return !mux_timer_active(&conn->timer) &&
           !mux_timer_active(&conn->tail_timer) &&
           !mux_timer_active(&conn->fault_timer) &&
           (!conn->out_shaper || !mux_timer_active(&conn->out_shaper->timer)) &&
           (!conn->in_shaper || !mux_timer_active(&conn->in_shaper->timer));
}
#endif

static void conn_free(void *ptr) {
    mux_conn_t *conn = ptr;
    assert(conn->state == CLOSED && timers_stopped(conn));
    conn_release(conn);
    if (!mux__loop_keep_spare(conn->loop, conn))
        free(conn);
}

static int apply_faults(mux_conn_t *conn);
static mux_timer_cb on_fault_timer;

/* ------------------------------------------------------------------ */
/* Accessors                                                           */
/* ------------------------------------------------------------------ */

size_t mux_conn_pending(const mux_conn_t *conn) {
    return conn->out.len + mux__shaper_len(conn->out_shaper);
}
mux_framing mux_conn_framing(const mux_conn_t *conn) {
    return conn->framer.framing;
}
size_t mux_conn_watermark(const mux_conn_t *conn) { return conn->max_output; }
const char *mux_conn_peer(const mux_conn_t *conn) { return conn->peer; }
const char *mux_conn_local(const mux_conn_t *conn) { return conn->local; }
uint64_t mux_conn_id(const mux_conn_t *conn) { return conn->owned.id; }
void *mux_conn_data(const mux_conn_t *conn) { return conn->data; }
void mux_conn_set_data(mux_conn_t *conn, void *data) { conn->data = data; }
void *mux_conn_service_arg(const mux_conn_t *conn) {
    return conn->opts->service_arg;
}
mux__conn_owned_t *mux__conn_owned(mux_conn_t *conn) { return &conn->owned; }
mux_loop_t *mux_conn_loop(const mux_conn_t *conn) { return conn->loop; }

/* Reports an event of this stream to its owner, with its addresses. */
static void emit(mux_conn_t *conn, mux_event_t *ev) {
    if (!conn->opts->on_event)
        return;
    ev->conn = conn;
    ev->peer = conn->peer;
    ev->local = conn->local;
    ev->transport = conn->transport;
    ev->reason = ev->reason ? ev->reason : "";
    conn->opts->on_event(conn, ev, conn->opts->event_arg);
}

void mux_conn_log(mux_conn_t *conn, const char *text, size_t len) {
    mux_event_t ev = {.type = MUX_EV_SERVICE, .text = text, .text_len = len};
    emit(conn, &ev);
}

/* ------------------------------------------------------------------ */
/* Interest                                                            */
/* ------------------------------------------------------------------ */

static size_t low_watermark(const mux_conn_t *conn) {
    return mux_conn_watermark(conn) / 2;
}

/* What pending output costs, as the watermarks count it: its bytes and
 * the delay queue's records (the buffers' spare room is at most as much
 * again: they double as they grow, and are freed once empty). */
static size_t output_cost(const mux_conn_t *conn) {
    return conn->out.len + mux__shaper_cost(conn->out_shaper);
}

/* Whether the service's drain callback is wanted now. */
static bool drains(const mux_conn_t *conn) {
    return conn->service->drain && !conn->no_drain;
}

/* The state machine's only moves: OPEN -> CLOSING -> LINGER, and from
 * any of them to CLOSED, once. */
static void set_state(mux_conn_t *conn, conn_state to) {
    assert(conn->state != CLOSED);
    assert(to == CLOSED || (unsigned)to == conn->state + 1u);
    conn->state = (uint8_t)to;
}

/* Reads while open and not paused (or to discard, lingering); writes while
 * output is pending, or while a producer service can add more. */
static const mux_shape_t *out_shape(const mux_conn_t *conn);

/* A closing stream whose output a stall holds reads on (and discards, as
 * a lingering close does: the service is done with input) so that it sees
 * its peer leave: see drop_stalled(). */
static bool watches_for_leaving(const mux_conn_t *conn) {
    return conn->state == CLOSING && out_shape(conn)->stall && !conn->eof;
}

static void update_interest(mux_conn_t *conn) {
    assert(conn->state != CLOSED); /* its fd is closed and unwatched */
    int events = 0;
    if ((conn->state == OPEN && !conn->eof && !conn->paused) ||
        conn->state == LINGER || watches_for_leaving(conn))
        events |= MUX_READ;
    if (conn->out.len > 0 || (conn->state == OPEN && drains(conn) &&
                              output_cost(conn) <= low_watermark(conn)))
        events |= MUX_WRITE;
    if (events != conn->events) {
        conn->events = events;
        mux_watch_events(conn->loop, conn->fd, events);
    }
}

/* ------------------------------------------------------------------ */
/* Closing                                                             */
/* ------------------------------------------------------------------ */

/* One of the faults that end the stream (0: off, or no faults). */
static uint64_t fault(const mux_conn_t *conn, mux_fault_end what) {
    return conn->faults->end[what];
}

/* The end of every connection: exactly once, whatever the path. */
static void finish_err(mux_conn_t *conn, const char *reason, int err) {
    if (conn->state == CLOSED)
        return;
    set_state(conn, CLOSED);
    conn->close_reason = reason;
    conn->close_err = err;
    /* Read first: the close callback may free the faults set. */
    bool reset = fault(conn, MUX_FAULT_RST) || (conn->shut & SHUT_RESET);
    if (conn->opened && conn->service->close)
        conn->service->close(conn);
    mux_timer_stop(&conn->timer);
    mux_timer_stop(&conn->tail_timer);
    mux_timer_stop(&conn->fault_timer);
    if (conn->out_shaper) /* the queues go in conn_free */
        mux_timer_stop(&conn->out_shaper->timer);
    if (conn->in_shaper)
        mux_timer_stop(&conn->in_shaper->timer);
    mux_unwatch(conn->loop, conn->fd);
    if (reset)
        mux__reset_on_close(conn->fd);
    mux__close(conn->fd);
    mux_event_t ev = {.type = MUX_EV_CLOSE,
                      .reason = reason,
                      .err = err,
                      .bytes_in = conn->bytes_in,
                      .bytes_out = conn->bytes_out,
                      .duration_ms = mux_now(conn->loop) - conn->started};
    emit(conn, &ev);
    if (mux__defer(conn->loop, conn_free, conn) < 0)
        return; /* leaks rather than free memory still on the stack */
}

static void finish(mux_conn_t *conn, const char *reason) {
    finish_err(conn, reason, 0);
}

/* MUX_FAULT_SLOW_CLOSE_MS: the close (`full`: nothing is read meanwhile) or
 * the half-close waits. Returns true while it waits: the fault timer
 * goes on with the close when it ends (once: a full close asked while a
 * half-close waits shares its wait). */
static bool slow_close(mux_conn_t *conn, bool full) {
    uint64_t slow = fault(conn, MUX_FAULT_SLOW_CLOSE_MS);
    if (!slow || (conn->fault_state & FAULT_SLOWED))
        return false;
    if (full)
        conn->paused |= PAUSED_STALL;
    if (!(conn->fault_state & FAULT_SLOW)) {
        conn->fault_state |= FAULT_SLOW;
        if (mux_timer_start(&conn->fault_timer, slow, 0) < 0) {
            finish(conn, "out of memory");
            return true;
        }
    }
    update_interest(conn);
    return true;
}

static int arm_reset(mux_conn_t *conn);

/* MUX_FAULT_RESET_*: a reset is due, and a close after flush or a
 * half-close waits for it (the peer is to see a reset, not a FIN), unless
 * a reset was asked now. Returns true while it waits. */
static bool reset_waits(mux_conn_t *conn) {
    if (!conn->reset_at || (conn->shut & SHUT_RESET))
        return false;
    if (arm_reset(conn) < 0)
        finish(conn, "out of memory");
    return true;
}

static void on_linger_timeout(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    MUX__UNUSED(loop);
    MUX__UNUSED(timer);
    mux_conn_t *conn = arg;
    finish(conn, "closed");
}

/* Output is flushed: shut our side, wait for the client's EOF (with
 * MUX_FAULT_RST: no FIN, no wait, a reset at once). */
static void linger(mux_conn_t *conn) {
    assert(conn->state == CLOSING && mux_conn_pending(conn) == 0);
    if (reset_waits(conn) || slow_close(conn, true))
        return;
    bool rst = fault(conn, MUX_FAULT_RST);
    if (rst || (conn->shut & SHUT_RESET)) {
        finish(conn, rst ? "reset (fault rst)" : "reset");
        return;
    }
    if (conn->eof ||
        (!(conn->shut & SHUT_DONE) && shutdown(conn->fd, SHUT_WR) < 0)) {
        finish(conn, conn->eof ? "client closed" : "closed");
        return;
    }
    set_state(conn, LINGER);
    mux_timer_stop(&conn->timer); /* the idle check's, taken over */
    mux_timer_init(&conn->timer, conn->loop, on_linger_timeout, conn);
    if (mux_timer_start(&conn->timer, LINGER_MS, 0) < 0) {
        finish(conn, "closed");
        return;
    }
    update_interest(conn);
}

static void fail(mux_conn_t *conn, int err);

/* MUX_CLOSE_WRITE: once output is flushed, the FIN; reading goes on.
 * Under MUX_FAULT_RST a close never sends a FIN: the half-close is a reset,
 * whenever the fault came (also after the half-close was asked). */
static void shut_write(mux_conn_t *conn) {
    if (!(conn->shut & SHUT_WANTED) || (conn->shut & SHUT_DONE) ||
        mux_conn_pending(conn) > 0 || reset_waits(conn) ||
        slow_close(conn, false))
        return;
    if (fault(conn, MUX_FAULT_RST)) {
        finish(conn, "reset (fault rst)");
        return;
    }
    conn->shut |= SHUT_DONE;
    if (shutdown(conn->fd, SHUT_WR) < 0 && errno != ENOTCONN)
        fail(conn, -errno);
}

/* Discards what a shaper holds (NULL: none), and its timer. */
static void drop_held(mux__shaper_t *sh) {
    if (!sh)
        return;
    mux__shaper_drop(sh);
    (void)mux__shaper_arm(sh, 0); /* stopping cannot fail */
}

/* A closing stream whose output a stall holds, once its peer ended its
 * side (a client that left cannot receive it) or the server stops: the
 * stall would hold the close for ever, so what it holds is dropped and the
 * close goes on. Else a close waits behind the stall like the bytes. */
static void drop_stalled(mux_conn_t *conn) {
    if (conn->state == CLOSING && out_shape(conn)->stall &&
        (conn->eof || conn->stopping))
        drop_held(conn->out_shaper);
}

static void close_goes_on(mux_conn_t *conn);

/* MUX_FAULT_RESET_OUT_MS / _IN_MS on direction `dir`: whether the bytes
 * coming now are its first under it: then they are dropped (the caller
 * does not pass them on), the direction stops, and the reset is due.
 * Returns 1 then, 0 if not, or -ENOMEM with the stream finished. */
static int reset_starts(mux_conn_t *conn, mux_dir dir) {
    uint8_t bit = dir == MUX_OUT ? FAULT_RESET_OUT : FAULT_RESET_IN;
    uint64_t wait = fault(conn, dir == MUX_OUT ? MUX_FAULT_RESET_OUT_MS
                                               : MUX_FAULT_RESET_IN_MS);
    if (!wait || (conn->fault_state & bit))
        return 0;
    conn->fault_state |= bit;
    uint64_t now = mux__clock_ns();
    uint64_t after = wait == MUX_AT_ONCE ? 0 : mux__ms_to_ns(wait);
    uint64_t at = after > UINT64_MAX - now ? UINT64_MAX : now + after;
    if (!conn->reset_at || at < conn->reset_at)
        conn->reset_at = at;
    if (dir == MUX_IN) {
        conn->paused |= PAUSED_STALL;
        update_interest(conn);
    }
    if (arm_reset(conn) < 0) {
        finish(conn, "out of memory");
        return -ENOMEM;
    }
    return 1;
}

void mux_conn_close(mux_conn_t *conn, int how) {
    if (conn->state == CLOSED)
        return;
    if (how == MUX_CLOSE_NOW) {
        finish(conn, "closed by server");
        return;
    }
    if (how == MUX_CLOSE_WRITE) {
        conn->shut |= SHUT_WANTED;
        shut_write(conn);
        return;
    }
    if (how == MUX_CLOSE_RESET)
        conn->shut |= SHUT_RESET;
    if (conn->state != OPEN)
        return;
    set_state(conn, CLOSING);
    close_goes_on(conn);
}

/* A closing stream: lingers once its output is out (delayed output waits
 * its turn; what a stall holds for a peer that left is dropped first). */
static void close_goes_on(mux_conn_t *conn) {
    drop_stalled(conn);
    if (mux_conn_pending(conn) == 0)
        linger(conn);
    else
        update_interest(conn);
}

void mux__conn_destroy(mux_conn_t *conn) { finish(conn, "server stopped"); }

/* The service's own pause (a broker holding back a sender), beside the
 * library's reasons. */
static void set_service_pause(mux_conn_t *conn, bool paused) {
    if (paused)
        conn->paused |= PAUSED_SERVICE;
    else
        conn->paused &= (uint8_t)~PAUSED_SERVICE;
    if (conn->state != CLOSED)
        update_interest(conn);
}

void mux_conn_pause_reading(mux_conn_t *conn) { set_service_pause(conn, true); }

void mux_conn_pause_on_output(mux_conn_t *conn, int on) {
    conn->no_output_pause = !on;
    if (!on)
        conn->paused &= (uint8_t)~PAUSED_OUTPUT;
    if (conn->state != CLOSED)
        update_interest(conn);
}

void mux_conn_want_drain(mux_conn_t *conn, int on) {
    conn->no_drain = !on;
    if (conn->state != CLOSED)
        update_interest(conn);
}

void mux_conn_resume_reading(mux_conn_t *conn) {
    set_service_pause(conn, false);
}

/* A failed read or write: the reason names the errno. */
static void fail(mux_conn_t *conn, int err) {
    finish_err(conn, err == -ECONNRESET ? "reset by client" : mux_strerror(err),
               err);
}

/* ------------------------------------------------------------------ */
/* Output                                                              */
/* ------------------------------------------------------------------ */

/* With a timeout: reading or writing is activity. */
MUX__COLD static void note_activity(mux_conn_t *conn) {
    conn->last_active = mux_now(conn->loop);
}

/* The socket took `n` bytes. */
static inline void wrote(mux_conn_t *conn, size_t n) {
    conn->bytes_out += n;
    if (conn->timed)
        note_activity(conn);
}

/* Writes from `data`; returns bytes written (0: not now), or -errno. */
static ssize_t write_some(mux_conn_t *conn, const char *data, size_t len) {
    /* Never after our side is shut (LINGER) or the fd closed (CLOSED). */
    assert(conn->state == OPEN || conn->state == CLOSING);
    for (;;) {
        ssize_t n = send(conn->fd, data, len, MSG_NOSIGNAL);
        if (n >= 0) {
            wrote(conn, (size_t)n);
            return n;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

/* After output shrank: resume reading, feed a producer, finish a close. */
static void output_drained(mux_conn_t *conn) {
    if ((conn->paused & PAUSED_OUTPUT) &&
        output_cost(conn) <= low_watermark(conn))
        conn->paused &= (uint8_t)~PAUSED_OUTPUT;
    if (conn->state == CLOSING && mux_conn_pending(conn) == 0) {
        linger(conn);
        return;
    }
    if (conn->shut & SHUT_WANTED) {
        shut_write(conn);
        if (conn->state == CLOSED)
            return;
    }
    update_interest(conn);
}

static int release_out(mux_conn_t *conn, uint64_t now);

/* A split or slice with no pause (split_us 0) sends its next piece once
 * the last one is written in full: no timer waits for that. */
static bool next_piece_waits_for_flush(const mux_conn_t *conn) {
    const mux_shape_t *shape = &conn->faults->dir[MUX_OUT].shape;
    return conn->out.len == 0 && (shape->split || shape->slice) &&
           !shape->split_us && conn->out_shaper &&
           mux__shaper_len(conn->out_shaper) > 0;
}

static void flush(mux_conn_t *conn) {
    ssize_t n = write_some(conn, mux__buf_head(&conn->out), conn->out.len);
    if (n < 0) {
        fail(conn, (int)n);
        return;
    }
    mux__buf_consume(&conn->out, (size_t)n);
    if (next_piece_waits_for_flush(conn) &&
        release_out(conn, mux__clock_ns()) < 0)
        return; /* finished */
    output_drained(conn);
}

/* Whether `more` bytes on top of what is pending pass the hard cap (which
 * fits a size_t: max_output is at most MUX_OUTPUT_MAX). */
static bool overflows(const mux_conn_t *conn, size_t more) {
    size_t cap = mux_conn_watermark(conn) * OVERFLOW_FACTOR;
    size_t cost = output_cost(conn);
    return cost > cap || more > cap - cost;
}
_Static_assert(MUX_OUTPUT_MAX <= SIZE_MAX / OVERFLOW_FACTOR,
               "the hard cap of the largest watermark fits a size_t");

/* Queues bytes behind what is queued. Returns 0, or -ENOBUFS / -ENOMEM
 * with the connection finished. */
static int queue(mux_conn_t *conn, const char *data, size_t len) {
    if (overflows(conn, len)) {
        finish(conn, "output overflow");
        return -ENOBUFS;
    }
    if (mux__buf_append(&conn->out, data, len) < 0) {
        finish(conn, "out of memory");
        return -ENOMEM;
    }
    return 0;
}

/*
 * Writes what the socket takes now and queues the rest behind what is
 * already queued. Returns 0, or -EPIPE / -ENOBUFS / -ENOMEM with the
 * connection finished.
 */
static int output(mux_conn_t *conn, const char *data, size_t len) {
    size_t written = 0;
    if (conn->out.len == 0) {
        ssize_t n = write_some(conn, data, len);
        if (n < 0) {
            fail(conn, (int)n);
            return -EPIPE;
        }
        written = (size_t)n;
    }
    return written == len ? 0 : queue(conn, data + written, len - written);
}

/* ---- output held back: delay and the out chain ---- */

/* The output chain's timing, or a stalled one while MUX_FAULT_TIMEOUT_MS
 * has stopped the stream, or a reset-peer its output. */
static const mux_shape_t *out_shape(const mux_conn_t *conn) {
    static const mux_shape_t stalled = {.stall = 1};
    return (conn->fault_state & (FAULT_STOPPED | FAULT_RESET_OUT))
               ? &stalled
               : &conn->faults->dir[MUX_OUT].shape;
}

/* The out chain's drop_after was reached: the rest is gone, and the stream
 * closes once what went through is written. */
static void out_dropped(mux_conn_t *conn) {
    if (conn->state == OPEN)
        set_state(conn, CLOSING);
    mux_event_t ev = {.type = MUX_EV_ERROR,
                      .reason = "fault drop-after: closing"};
    emit(conn, &ev);
}

/* Arms the output shaper's timer for its next release. Returns 0, or
 * -ENOMEM with the stream finished. */
static int rearm_out(mux_conn_t *conn, uint64_t now) {
    mux__shaper_t *sh = conn->out_shaper;
    if (mux__shaper_arm(sh, mux__shaper_next(sh, out_shape(conn), now,
                                             conn->out.len > 0)) < 0) {
        finish(conn, "out of memory");
        return -ENOMEM;
    }
    return 0;
}

/* Moves the held-back output that may go now into the output queue,
 * oldest first. Returns 0 or -errno (the stream is finished then). */
static int release_out(mux_conn_t *conn, uint64_t now) {
    mux__shaper_t *sh = conn->out_shaper;
    const mux_shape_t *shape = out_shape(conn);
    const char *data;
    size_t n;
    while ((n = mux__shaper_peek(sh, shape, now, conn->out.len > 0, &data)) >
           0) {
        int err = output(conn, data, n);
        if (err < 0)
            return err;
        if (mux__shaper_took(sh, shape, n, now)) {
            out_dropped(conn);
            if (conn->state == CLOSED) /* its MUX_EV_ERROR's callback */
                return -ECONNABORTED;
        }
    }
    if (mux__shaper_drop_all(sh, shape)) { /* no byte may pass */
        out_dropped(conn);
        if (conn->state == CLOSED)
            return -ECONNABORTED;
    }
    return rearm_out(conn, now);
}

/* The output shaper's timer: release what may go, re-arm for the rest. */
static void on_out_due(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    MUX__UNUSED(loop);
    MUX__UNUSED(timer);
    mux_conn_t *conn = arg;
    if (release_out(conn, mux__clock_ns()) < 0)
        return; /* finished */
    output_drained(conn);
}

/* Holds output back in the shaper (where the chain's filters change the
 * copy), and arms its timer if it was idle. Returns 0 or -ENOMEM. */
static int hold_output(mux_conn_t *conn, const void *data, size_t len,
                       uint64_t now) {
    mux__shaper_t *sh = conn->out_shaper;
    bool idle = !mux_timer_active(&sh->timer);
    int err = mux__shaper_hold(sh, out_shape(conn), conn->opts->delay_ms, data,
                               len, now);
    if (err == 0 && conn->nfilter_state[MUX_OUT])
        mux__faults_filter(conn->faults, MUX_OUT, conn->filter_state[MUX_OUT],
                           mux__shaper_tail(sh, len), len);
    if (err == 0 && idle)
        err = mux__shaper_arm(
            sh, mux__shaper_next(sh, out_shape(conn), now, conn->out.len > 0));
    return err;
}

/* After bytes were queued or held back: the watermark, write interest. */
static int sent(mux_conn_t *conn) {
    if (mux_conn_pending(conn) == 0)
        return 0; /* all written: nothing queued before or now */
    if (output_cost(conn) >= conn->max_output && !conn->no_output_pause)
        conn->paused |= PAUSED_OUTPUT;
    update_interest(conn);
    return 0;
}

/* The socket took `n` bytes of the pieces (n < 0: none, errno says
 * why): the rest is queued. */
MUX__COLD static int send_rest(mux_conn_t *conn, const struct iovec *iov,
                               int iovcnt, ssize_t n) {
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            fail(conn, -errno);
            return -EPIPE;
        }
        n = 0; /* written when the socket is writable */
    }
    wrote(conn, (size_t)n);
    size_t skip = (size_t)n;
    for (int i = 0; i < iovcnt; i++) {
        size_t len = iov[i].iov_len;
        if (skip >= len) {
            skip -= len;
            continue;
        }
        int err = queue(conn, (const char *)iov[i].iov_base + skip, len - skip);
        if (err < 0)
            return err;
        skip = 0;
    }
    return sent(conn);
}

/* send_rest() for mux_conn_send(): the iovec is built here, so that the
 * common path needs no stack frame for it. */
MUX__COLD static int send_rest_of_one(mux_conn_t *conn, const void *data,
                                      size_t len, ssize_t n) {
    struct iovec one = {.iov_base = (void *)data, .iov_len = len};
    return send_rest(conn, &one, 1, n);
}

/* Output behind queued or held-back bytes, without the watermark update
 * (sent()): held back (sent at `now`), or queued behind `out`. */
static int behind(mux_conn_t *conn, const char *data, size_t len,
                  uint64_t now) {
    if (!conn->held)
        return output(conn, data, len);
    int reset = reset_starts(conn, MUX_OUT);
    if (reset)
        return reset < 0 ? reset : 0; /* the first bytes: dropped */
    if (overflows(conn, len)) {
        finish(conn, "output overflow");
        return -ENOBUFS;
    }
    int err = hold_output(conn, data, len, now);
    if (err < 0)
        finish(conn, "out of memory");
    return err;
}

MUX__COLD static int send_behind(mux_conn_t *conn, const char *data,
                                 size_t len) {
    int err = behind(conn, data, len, mux__clock_ns());
    return err < 0 ? err : sent(conn);
}

int mux_conn_send(mux_conn_t *conn, const void *data, size_t len) {
    if (conn->state != OPEN || conn->shut)
        return -EPIPE;
    if (len == 0)
        return 0;
    if (conn->held || conn->out.len > 0)
        return send_behind(conn, data, len);
    /* The common case, kept short: the socket takes it all. */
    ssize_t n = send(conn->fd, data, len, MSG_NOSIGNAL);
    if (n < 0 || (size_t)n != len)
        return send_rest_of_one(conn, data, len, n);
    wrote(conn, len);
    return 0;
}

int mux_conn_sendv(mux_conn_t *conn, const struct iovec *iov, int iovcnt) {
    if (conn->state != OPEN || conn->shut)
        return -EPIPE;
    if (iovcnt < 0 || iovcnt > MUX_IOV_MAX)
        return -EINVAL;
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    if (total == 0)
        return 0;
    if (conn->held || conn->out.len > 0) {
        /* One after another, all due at once: held back, the pieces share
         * one entry of the delay queue, so they leave as one reply (and
         * a split stage cuts that reply, not the pieces). */
        uint64_t now = mux__clock_ns();
        for (int i = 0; i < iovcnt; i++) {
            if (iov[i].iov_len == 0)
                continue;
            int err = behind(conn, iov[i].iov_base, iov[i].iov_len, now);
            if (err < 0)
                return err;
        }
        return sent(conn);
    }
    struct msghdr msg = {.msg_iov = (struct iovec *)iov,
                         .msg_iovlen = (size_t)iovcnt};
    ssize_t n = sendmsg(conn->fd, &msg, MSG_NOSIGNAL);
    if (n < 0 || (size_t)n != total)
        return send_rest(conn, iov, iovcnt, n);
    wrote(conn, total);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Input and framing                                                   */
/* ------------------------------------------------------------------ */

static void line_too_long(mux_conn_t *conn) {
    char msg[80];
    int n = snprintf(msg, sizeof(msg), "error: line too long (max %zu bytes)\n",
                     conn->framer.max_line);
    mux_conn_send(conn, msg, (size_t)n);
    mux__frame_drop(&conn->framer);
    mux_event_t ev = {
        .type = MUX_EV_ERROR, .reason = "line too long", .err = -EMSGSIZE};
    emit(conn, &ev);
    mux_conn_close(conn, MUX_CLOSE_AFTER_FLUSH);
}

/* Serves every complete line in data (framing.c says where each ends);
 * returns the bytes consumed. */
static size_t serve_lines(mux_conn_t *conn, const char *data, size_t len) {
    size_t used = 0, msg_len = 0;
    while (used < len && conn->state == OPEN) {
        ssize_t n =
            mux__frame_line(&conn->framer, data + used, len - used, &msg_len);
        if (n == 0)
            break;
        if (n < 0) {
            line_too_long(conn);
            return len;
        }
        conn->service->message(conn, data + used, msg_len);
        used += (size_t)n;
    }
    return used;
}

/* Line and auto framing: complete lines are served straight from the
 * scratch buffer; only an incomplete tail is copied, into the framer. */
static void frame_lines(mux_conn_t *conn, const char *data, size_t len) {
    mux__framer_t *fr = &conn->framer;
    if (mux__frame_join(fr, &data, &len) < 0) {
        finish(conn, "out of memory");
        return;
    }
    size_t used = serve_lines(conn, data, len);
    if (conn->state != OPEN)
        return;
    int err = mux__frame_keep(fr, data, len, used);
    if (err == -ENOMEM)
        finish(conn, "out of memory");
    else if (err < 0)
        line_too_long(conn);
}

/* Auto framing: a piece without a line end served as it is (unless it is
 * longer than a line may be). */
static void serve_piece(mux_conn_t *conn, const char *data, size_t len) {
    if (!mux__frame_fits(&conn->framer, len))
        line_too_long(conn);
    else
        conn->service->message(conn, data, len);
}

/* Auto framing: the held tail waited AUTO_TAIL_MS for its line end and
 * none came: it is a message of its own. */
static void on_tail_due(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    MUX__UNUSED(loop);
    MUX__UNUSED(timer);
    mux_conn_t *conn = arg;
    mux_buf_t *in = &conn->framer.in;
    if (conn->state != OPEN || in->len == 0)
        return;
    serve_piece(conn, mux__buf_head(in), in->len);
    if (conn->state == OPEN)
        mux__frame_drop(&conn->framer);
}

/*
 * Auto framing. A read without a line end, with nothing held before it,
 * is one message as it came: the tutorials' clients send one message per
 * write. Otherwise it is framed as lines, line ends kept, and a tail
 * without one (a line cut where the read ended) waits for its rest, for
 * AUTO_TAIL_MS at most.
 */
static void frame_auto(mux_conn_t *conn, const char *data, size_t len) {
    if (mux__frame_whole(&conn->framer, data, len)) {
        serve_piece(conn, data, len);
        return;
    }
    frame_lines(conn, data, len);
    if (conn->state != OPEN)
        return;
    if (conn->framer.in.len == 0)
        mux_timer_stop(&conn->tail_timer);
    else if (mux_timer_start(&conn->tail_timer, AUTO_TAIL_MS, 0) < 0)
        finish(conn, "out of memory");
}

/* Input for a service without a message callback. */
static void ignore_input(mux_conn_t *conn, const char *data, size_t len) {
    MUX__UNUSED(conn);
    MUX__UNUSED(data);
    MUX__UNUSED(len);
}

/* The client half-closed: an unterminated last line is still a message. */
static void on_eof(mux_conn_t *conn) {
    conn->eof = true;
    if (conn->state == LINGER) {
        finish(conn, "closed");
        return;
    }
    if (conn->state == CLOSING) { /* seen by watches_for_leaving() */
        close_goes_on(conn);
        return;
    }
    mux_buf_t *in = &conn->framer.in;
    if (conn->state == OPEN && in->len > 0 && conn->service->message) {
        /* Its final CR, if any, is data now: the line may be one too long. */
        if (!mux__frame_fits(&conn->framer, in->len)) {
            line_too_long(conn);
        } else {
            conn->service->message(conn, mux__buf_head(in), in->len);
            mux__frame_drop(&conn->framer);
        }
    }
    if (conn->state == OPEN) {
        if (conn->service->eof)
            conn->service->eof(conn);
        else
            mux_conn_close(conn, MUX_CLOSE_AFTER_FLUSH);
    }
    if (conn->state != CLOSED)
        update_interest(conn); /* stop reading: EOF stays readable */
}

static void read_input(mux_conn_t *conn);

/* A read that returned no bytes: EOF, not now, interrupted (read again),
 * or an error. */
MUX__COLD static void read_ended(mux_conn_t *conn, ssize_t n) {
    if (n == 0 && mux__shaper_len(conn->in_shaper) > 0 && conn->state == OPEN) {
        conn->eof_held = true; /* after the held bytes (release_in) */
        conn->eof = true;      /* stop reading: EOF stays readable */
        update_interest(conn);
    } else if (n == 0)
        on_eof(conn);
    else if (errno == EINTR)
        read_input(conn); /* discard_input retries by itself */
    else if (errno != EAGAIN && errno != EWOULDBLOCK)
        fail(conn, -errno);
}

/* A read under a timeout: activity; with a line timeout, a line in `in`
 * that was not there before the read began in it (if bytes were consumed,
 * a line ended and what is left is a new one). */
MUX__COLD static void timed_input(mux_conn_t *conn, const char *data,
                                  size_t len) {
    note_activity(conn);
    size_t before = conn->framer.in.len;
    conn->input(conn, data, len);
    mux__frame_noted(&conn->framer, before, len, conn->last_active);
}

/* Read bytes for the framing and the service (after any held input). */
static void deliver(mux_conn_t *conn, const char *data, size_t len) {
    if (conn->timed)
        timed_input(conn, data, len);
    else
        conn->input(conn, data, len);
}

MUX__COLD static void hold_input(mux_conn_t *conn, char *data, size_t len);

/* One read per readiness: a client that floods cannot starve the rest.
 * For an open connection: the bytes go to the service. */
static void read_input(mux_conn_t *conn) {
    char *scratch = mux__loop_scratch(conn->loop);
    ssize_t n = read(conn->fd, scratch, MUX__SCRATCH_SIZE);
    if (n <= 0) {
        read_ended(conn, n);
        return;
    }
    conn->bytes_in += (uint64_t)n;
    if (conn->in_held)
        hold_input(conn, scratch, (size_t)n);
    else if (conn->timed)
        timed_input(conn, scratch, (size_t)n);
    else
        conn->input(conn, scratch, (size_t)n);
}

/* ---- input held back: the in chain ---- */

static const mux_shape_t *in_shape(const mux_conn_t *conn) {
    return &conn->faults->dir[MUX_IN].shape;
}

static bool shapes(const mux_shape_t *shape) {
    return shape->latency_ms || shape->jitter_ms || shape->bandwidth ||
           shape->split || shape->slice || shape->drop_after || shape->stall;
}

/* Arms the input shaper's timer; -ENOMEM finishes the stream. */
static int rearm_in(mux_conn_t *conn, uint64_t now) {
    mux__shaper_t *sh = conn->in_shaper;
    if (mux__shaper_arm(sh, mux__shaper_next(sh, in_shape(conn), now, false)) <
        0) {
        finish(conn, "out of memory");
        return -ENOMEM;
    }
    return 0;
}

/* Read bytes go through the in chain's filters, in place, then wait in
 * the input shaper (unless the chain only filters and holds nothing);
 * reading pauses while it holds a high watermark's worth. */
MUX__COLD static void hold_input(mux_conn_t *conn, char *data, size_t len) {
    if (reset_starts(conn, MUX_IN))
        return; /* the first bytes: dropped (or the stream finished) */
    if (conn->nfilter_state[MUX_IN])
        mux__faults_filter(conn->faults, MUX_IN, conn->filter_state[MUX_IN],
                           data, len);
    if (!conn->in_shaper) {
        deliver(conn, data, len);
        return;
    }
    uint64_t now = mux__clock_ns();
    if (mux__shaper_hold(conn->in_shaper, in_shape(conn), 0, data, len, now) <
        0) {
        finish(conn, "out of memory");
        return;
    }
    if (rearm_in(conn, now) < 0)
        return;
    if (mux__shaper_cost(conn->in_shaper) >= conn->max_output) {
        conn->paused |= PAUSED_INPUT;
        update_interest(conn);
    }
}

/* The in chain's drop_after was reached: the stream closes once what it
 * sends is written. */
static void in_dropped(mux_conn_t *conn) {
    if (conn->state != OPEN)
        return;
    mux_event_t ev = {.type = MUX_EV_ERROR,
                      .reason = "fault drop-after (input): closing"};
    emit(conn, &ev);
    mux_conn_close(conn, MUX_CLOSE_AFTER_FLUSH);
}

/* Hands what may go of the held input to the service, then the peer's EOF
 * once nothing is held. */
static void release_in(mux_conn_t *conn, uint64_t now) {
    mux__shaper_t *sh = conn->in_shaper;
    const mux_shape_t *shape = in_shape(conn);
    const char *data;
    size_t n;
    while (conn->state == OPEN &&
           (n = mux__shaper_peek(sh, shape, now, false, &data)) > 0) {
        /* The service may send, close, or change the faults: take the
         * bytes off first (the scratch buffer is free here: no read runs). */
        char *scratch = mux__loop_scratch(conn->loop);
        memcpy(scratch, data, n);
        bool dropped = mux__shaper_took(sh, shape, n, now);
        deliver(conn, scratch, n);
        if (dropped)
            in_dropped(conn);
    }
    if (conn->state == OPEN && mux__shaper_drop_all(sh, shape))
        in_dropped(conn); /* no byte may pass */
    if (conn->state == CLOSED || rearm_in(conn, now) < 0)
        return;
    if ((conn->paused & PAUSED_INPUT) &&
        mux__shaper_cost(sh) <= low_watermark(conn)) {
        conn->paused &= (uint8_t)~PAUSED_INPUT;
        update_interest(conn);
    }
    if (conn->eof_held && mux__shaper_len(sh) == 0) {
        conn->eof_held = false;
        on_eof(conn);
    }
}

static void on_in_due(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    MUX__UNUSED(loop);
    MUX__UNUSED(timer);
    release_in(arg, mux__clock_ns());
}

/* Lingering: what the client still sends is read and dropped. */
MUX__COLD static void discard_input(mux_conn_t *conn) {
    ssize_t n;
    do
        n = read(conn->fd, mux__loop_scratch(conn->loop), MUX__SCRATCH_SIZE);
    while (n < 0 && errno == EINTR);
    if (n > 0)
        conn->bytes_in += (uint64_t)n;
    else
        read_ended(conn, n);
}

/* Writable, or readable while not open: rarer than a plain read. */
MUX__COLD static void on_other_io(mux_conn_t *conn, int events) {
    if (events & MUX_WRITE) {
        if (conn->out.len > 0)
            flush(conn);
        if (conn->state == OPEN && drains(conn) &&
            output_cost(conn) <= low_watermark(conn))
            conn->service->drain(conn);
        if (conn->state == CLOSED)
            return;
    }
    if ((events & MUX_READ) && conn->state == OPEN)
        read_input(conn);
    else if ((events & MUX_READ) &&
             (conn->state == LINGER || conn->state == CLOSING))
        discard_input(conn);
}

static void on_io(mux_loop_t *loop, int fd, int events, void *arg) {
    MUX__UNUSED(loop);
    MUX__UNUSED(fd);
    mux_conn_t *conn = arg;
    if (events == MUX_READ && conn->state == OPEN)
        read_input(conn);
    else
        on_other_io(conn, events);
}

/* ------------------------------------------------------------------ */
/* Idle and line timeouts: one timer per client, re-armed lazily       */
/* ------------------------------------------------------------------ */

/* Whether a line has taken longer than the line timeout to arrive. */
static bool line_overdue(const mux_conn_t *conn, uint64_t now) {
    return conn->state == OPEN && mux__frame_overdue(&conn->framer, now);
}

static void line_timed_out(mux_conn_t *conn) {
    static const char msg[] = "error: line timeout\n";
    mux_conn_send(conn, msg, sizeof(msg) - 1);
    mux_event_t ev = {
        .type = MUX_EV_ERROR, .reason = "line timeout", .err = -ETIMEDOUT};
    emit(conn, &ev);
    mux_conn_close(conn, MUX_CLOSE_AFTER_FLUSH);
}

/* When the timer must look again (0: never). A line that begins between
 * two looks is found at its own deadline: each look is at most one line
 * timeout after the last, and re-arms for that line's deadline. */
static uint64_t next_check(const mux_conn_t *conn, uint64_t now) {
    const mux_conn_opts_t *opts = conn->opts;
    uint64_t next = opts->idle_timeout_ms
                        ? conn->last_active + opts->idle_timeout_ms
                        : UINT64_MAX;
    if (conn->framer.line_timeout_ms && conn->state == OPEN) {
        uint64_t line = mux__frame_line_deadline(&conn->framer, now);
        next = line < next ? line : next;
    }
    return next == UINT64_MAX ? 0 : next;
}

/* Idle: nothing read or written for opts.idle_timeout_ms, and no reply
 * held back on its way. Activity only notes the time; this timer, when it
 * fires, works out whether it was idle or when to look again. */
static void on_timeout_check(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    mux_conn_t *conn = arg;
    uint64_t now = mux_now(loop);
    uint64_t idle_limit = conn->opts->idle_timeout_ms;
    if (mux__shaper_len(conn->out_shaper) > 0 && !out_shape(conn)->stall)
        conn->last_active = now; /* a reply on its way; a stalled one is not */
    if (idle_limit && now - conn->last_active >= idle_limit) {
        finish(conn, "idle timeout");
        return;
    }
    if (line_overdue(conn, now))
        line_timed_out(conn);
    if (conn->state == LINGER || conn->state == CLOSED)
        return; /* a lingering close took the timer over */
    uint64_t next = next_check(conn, now);
    if (next) /* cannot fail: a timer just run has its heap slot */
        (void)mux_timer_start(timer, next > now ? next - now : 0, 0);
}

/* ------------------------------------------------------------------ */
/* Faults: what they make of the stream, also when they change         */
/* ------------------------------------------------------------------ */

/* A state word for each filter stage of a direction: the words of the
 * stages that keep their place are kept, new ones start at 0. Returns 0
 * or -ENOMEM. */
static int filter_states(mux_conn_t *conn, mux_dir dir) {
    size_t n = conn->faults->dir[dir].nfilters;
    size_t had = conn->nfilter_state[dir];
    if (n > had) {
        uint64_t *grown = realloc(conn->filter_state[dir], n * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        memset(grown + had, 0, (n - had) * sizeof(*grown));
        conn->filter_state[dir] = grown;
    }
    conn->nfilter_state[dir] = n;
    return 0;
}

static int arm_fault_timer(mux_conn_t *conn);

/* The wait of a slow close is over: the close, or the half-close, goes
 * on; a stream still open counts its limit_time or timeout again. */
static void slow_close_over(mux_conn_t *conn) {
    conn->fault_state =
        (uint8_t)((conn->fault_state & ~FAULT_SLOW) | FAULT_SLOWED);
    if (conn->state == CLOSING) {
        if (mux_conn_pending(conn) == 0)
            linger(conn);
        return;
    }
    shut_write(conn);
    if (conn->state == OPEN && arm_fault_timer(conn) < 0)
        finish(conn, "out of memory");
}

/* MUX_FAULT_TIMEOUT_MS is over: a close, as a server that gave up would
 * (a reset with MUX_FAULT_RST). What the stop held back in either direction,
 * and output still queued for a peer that does not read, never goes: the
 * close is bounded by the lingering close alone. */
static void timed_out(mux_conn_t *conn, const char *reason) {
    drop_held(conn->out_shaper);
    drop_held(conn->in_shaper);
    mux__buf_consume(&conn->out, conn->out.len);
    conn->eof_held = false;
    mux_event_t ev = {
        .type = MUX_EV_ERROR, .reason = reason, .err = -ETIMEDOUT};
    emit(conn, &ev);
    if (conn->state == OPEN)
        set_state(conn, CLOSING);
    if (conn->state == CLOSING)
        linger(conn);
    else if (conn->state != CLOSED)
        update_interest(conn);
}

/* MUX_FAULT_RESET_*: the wait after a direction's first bytes is over. */
static void reset_now(mux_conn_t *conn) {
    conn->shut |= SHUT_RESET;
    finish(conn, "reset (fault reset-peer)");
}

/* A reset due, limit_time, timeout, or a slow close waiting: the fault
 * timer's end (it wakes for the soonest). */
static void on_fault_timer(mux_loop_t *loop, mux_timer_t *timer, void *arg) {
    MUX__UNUSED(loop);
    MUX__UNUSED(timer);
    mux_conn_t *conn = arg;
    if (conn->reset_at && mux__clock_ns() >= conn->reset_at) {
        reset_now(conn);
        return;
    }
    if (conn->fault_state & FAULT_SLOW) {
        slow_close_over(conn);
        return;
    }
    uint64_t timeout = fault(conn, MUX_FAULT_TIMEOUT_MS);
    uint64_t limit = fault(conn, MUX_FAULT_LIMIT_TIME_MS);
    if ((conn->fault_state & FAULT_STOPPED) && timeout &&
        (!limit || timeout < limit))
        timed_out(conn, "fault timeout: closing");
    else
        finish(conn, "fault limit-time");
}

/* Makes the shaper of a direction that needs one. Returns 0 or -ENOMEM. */
static int need_shaper(mux_conn_t *conn, mux__shaper_t **sh, mux_timer_cb *cb) {
    if (!*sh && !(*sh = mux__shaper_new(conn->loop, cb, conn)))
        return -ENOMEM;
    return 0;
}

/* Arms the fault timer for a due reset, unless it wakes sooner. Returns
 * 0 or -ENOMEM. */
static int arm_reset(mux_conn_t *conn) {
    mux_timer_t *t = &conn->fault_timer;
    if (!conn->reset_at ||
        (mux_timer_active(t) && t->deadline <= conn->reset_at))
        return 0;
    return mux__timer_start_at(t, conn->reset_at, 0);
}

/* Arms the fault timer for limit_time / timeout (not while a slow close
 * waits on it), or a due reset if sooner. Returns 0 or -ENOMEM. */
static int arm_fault_timer(mux_conn_t *conn) {
    if (conn->fault_state & FAULT_SLOW)
        return 0;
    uint64_t limit = fault(conn, MUX_FAULT_LIMIT_TIME_MS);
    uint64_t timeout = fault(conn, MUX_FAULT_TIMEOUT_MS);
    uint64_t after = limit ? limit : UINT64_MAX;
    if (timeout && timeout != MUX_FOREVER && timeout < after)
        after = timeout;
    int err = 0;
    if (after == UINT64_MAX)
        mux_timer_stop(&conn->fault_timer);
    else
        err = mux_timer_start(&conn->fault_timer, after, 0);
    return err < 0 ? err : arm_reset(conn);
}

/*
 * Works out what conn->faults (and the delay) make of the stream: whether
 * output and input go through their shapers (made when first needed),
 * whether reading is stalled or stopped, the fault timer. Held bytes are
 * released as the new faults let them. Returns 0 or -ENOMEM.
 */
static int apply_faults(mux_conn_t *conn) {
    const mux_faults_t *f = conn->faults;
    const mux_shape_t *out = &f->dir[MUX_OUT].shape;
    const mux_shape_t *in = &f->dir[MUX_IN].shape;
    if (fault(conn, MUX_FAULT_TIMEOUT_MS))
        conn->fault_state |= FAULT_STOPPED;
    else
        conn->fault_state &= (uint8_t)~FAULT_STOPPED;
    if (filter_states(conn, MUX_OUT) < 0 || filter_states(conn, MUX_IN) < 0)
        return -ENOMEM;
    bool in_shaped =
        (shapes(in) && !in->stall) || mux__shaper_len(conn->in_shaper) > 0;
    conn->held = conn->opts->delay_ms || shapes(out) ||
                 conn->nfilter_state[MUX_OUT] ||
                 fault(conn, MUX_FAULT_RESET_OUT_MS) ||
                 (conn->fault_state & (FAULT_STOPPED | FAULT_RESET_OUT)) ||
                 mux__shaper_len(conn->out_shaper) > 0;
    conn->in_held = in_shaped || conn->nfilter_state[MUX_IN] ||
                    fault(conn, MUX_FAULT_RESET_IN_MS);
    if (in->stall || (conn->fault_state & (FAULT_STOPPED | FAULT_RESET_IN)))
        conn->paused |= PAUSED_STALL;
    else if (!(conn->fault_state & FAULT_SLOW))
        conn->paused &= (uint8_t)~PAUSED_STALL;
    if ((conn->held && need_shaper(conn, &conn->out_shaper, on_out_due) < 0) ||
        (in_shaped && need_shaper(conn, &conn->in_shaper, on_in_due) < 0))
        return -ENOMEM;
    return arm_fault_timer(conn);
}

void mux_conn_set_faults(mux_conn_t *conn, const mux_faults_t *faults) {
    if (conn->state == CLOSED)
        return;
    bool stopped = conn->fault_state & FAULT_STOPPED;
    conn->faults = faults               ? faults
                   : conn->opts->faults ? conn->opts->faults
                                        : &mux__no_faults;
    if (apply_faults(conn) < 0) {
        finish(conn, "out of memory");
        return;
    }
    if (stopped && !(conn->fault_state & FAULT_STOPPED)) {
        /* A timeout lifted ends the stream it stopped, as toxiproxy's
         * timeout toxic removed closes its connections. */
        timed_out(conn, "fault timeout removed: closing");
        return;
    }
    drop_stalled(conn);
    uint64_t now = mux__clock_ns();
    if (conn->out_shaper && release_out(conn, now) < 0)
        return;
    if (conn->in_shaper && mux__shaper_len(conn->in_shaper) > 0) {
        release_in(conn, now);
        if (conn->state == CLOSED)
            return;
    }
    output_drained(conn);
}

const mux_faults_t *mux_conn_faults(const mux_conn_t *conn) {
    return conn->faults == &mux__no_faults ? NULL : conn->faults;
}

/* ------------------------------------------------------------------ */
/* Creation and graceful shutdown                                      */
/* ------------------------------------------------------------------ */

static int conn_start(mux_conn_t *conn) {
    int err = mux_watch(conn->loop, conn->fd, MUX_READ, on_io, conn);
    if (err < 0)
        return err;
    conn->events = MUX_READ;
    uint64_t check = next_check(conn, conn->started);
    if (check &&
        (err = mux_timer_start(&conn->timer, check - conn->started, 0)) < 0) {
        mux_unwatch(conn->loop, conn->fd);
        return err;
    }
    return 0;
}

int mux__conn_new(mux_loop_t *loop, int fd, const mux_service_t *service,
                  const mux_conn_opts_t *opts, const struct sockaddr *peer,
                  socklen_t peer_len, const char *local, mux_conn_t **out) {
    if (opts->max_output > MUX_OUTPUT_MAX) {
        mux__close(fd);
        return -EINVAL;
    }
    /* A spare one, or a new one on a cache line of its own (sizeof is a
     * multiple of the alignment). */
    mux_conn_t *conn = mux__loop_take_spare(loop);
    if (!conn)
        conn = aligned_alloc(_Alignof(mux_conn_t), sizeof(*conn));
    if (!conn) {
        mux__close(fd);
        return -ENOMEM;
    }
    memset(conn, 0, sizeof(*conn));
    mux_timer_init(&conn->timer, loop, on_timeout_check, conn);
    mux_timer_init(&conn->tail_timer, loop, on_tail_due, conn);
    mux_timer_init(&conn->fault_timer, loop, on_fault_timer, conn);
    conn->opts = opts;
    conn->loop = loop;
    conn->max_output = opts->max_output ? opts->max_output : 1024 * 1024;
    size_t local_len = strnlen(local, sizeof(conn->local) - 1);
    memcpy(conn->local, local, local_len); /* NUL: zeroed above */
    conn->service = service;
    conn->fd = fd;
    mux_framing framing = opts->framing      ? opts->framing
                          : service->framing ? service->framing
                                             : MUX_FRAMING_RAW;
    mux__framer_init(&conn->framer, framing,
                     opts->max_line ? opts->max_line : 64 * 1024,
                     opts->line_timeout_ms);
    conn->input = !service->message             ? ignore_input
                  : framing == MUX_FRAMING_LINE ? frame_lines
                  : framing == MUX_FRAMING_AUTO ? frame_auto
                                                : service->message;
    conn->timed = opts->idle_timeout_ms || conn->framer.line_timeout_ms;
    conn->faults = opts->faults ? opts->faults : &mux__no_faults;
    conn->started = conn->last_active = mux_now(conn->loop);
    mux_addr_format(peer, peer_len, conn->peer, sizeof(conn->peer));
    conn->transport = peer->sa_family == AF_UNIX ? MUX_UNIX : MUX_TCP;
    int err = apply_faults(conn);
    if (err == 0)
        err = conn_start(conn);
    if (err < 0) {
        mux__close(fd);
        conn_release(conn);
        return err;
    }
    *out = conn;
    return 0;
}

void mux__conn_open(mux_conn_t *conn) {
    conn->opened = true;
    if (conn->service->open)
        conn->service->open(conn);
    if (conn->state == OPEN)
        update_interest(conn);
}

int mux__conn_handed_in(int fd, int refusal, mux__handed_in_t *ends) {
    if (refusal < 0) {
        mux__close(fd);
        return refusal;
    }
    fd = mux__fd_prepare(fd);
    if (fd < 0)
        return fd;
    struct sockaddr_storage here;
    socklen_t here_len = sizeof(here);
    ends->peer_len = sizeof(ends->peer);
    if (getpeername(fd, (struct sockaddr *)&ends->peer, &ends->peer_len) < 0 ||
        getsockname(fd, (struct sockaddr *)&here, &here_len) < 0) {
        int err = -errno;
        mux__close(fd);
        return err;
    }
    mux_addr_format((struct sockaddr *)&here, here_len, ends->local,
                    sizeof(ends->local));
    return fd;
}

int mux_conn_new(mux_loop_t *loop, int fd, const mux_service_t *service,
                 const mux_conn_opts_t *opts, mux_conn_t **out) {
    mux__handed_in_t ends;
    fd = mux__conn_handed_in(fd, service ? 0 : -EINVAL, &ends);
    if (fd < 0)
        return fd;
    int err =
        mux__conn_new(loop, fd, service, opts, (struct sockaddr *)&ends.peer,
                      ends.peer_len, ends.local, out);
    if (err < 0)
        return err;
    /* The open callback may close it; outside a turn that would free it
     * at once, before the caller sees *out. */
    mux__loop_hold(loop);
    mux__conn_open(*out);
    mux__loop_release(loop);
    return 0;
}

void mux__conn_shutdown(mux_conn_t *conn) {
    conn->stopping = true;
    if (conn->state == CLOSING) { /* a close a stall held goes on */
        close_goes_on(conn);
        return;
    }
    /* Serve what the client already sent: bounded, the socket may be
     * refilled as fast as we read. */
    for (int i = 0;
         i < 16 && conn->state == OPEN && !conn->eof && !conn->paused; i++) {
        uint64_t before = conn->bytes_in;
        read_input(conn);
        if (conn->bytes_in == before)
            break;
    }
    if (conn->state == OPEN && conn->service->shutdown)
        conn->service->shutdown(conn);
    else
        mux_conn_close(conn, MUX_CLOSE_AFTER_FLUSH);
}

/* ------------------------------------------------------------------ */
/* What the owner asks                                                 */
/* ------------------------------------------------------------------ */

void mux__conn_add_bytes(const mux_conn_t *conn, mux_server_stats_t *stats) {
    stats->bytes_in += conn->bytes_in;
    stats->bytes_out += conn->bytes_out;
}

bool mux__conn_is_open(const mux_conn_t *conn) { return conn->state == OPEN; }

int mux_conn_closing(const mux_conn_t *conn) {
    return conn->state == CLOSING || conn->state == LINGER;
}

const char *mux_conn_close_reason(const mux_conn_t *conn) {
    return conn->close_reason;
}

int mux_conn_close_error(const mux_conn_t *conn) { return conn->close_err; }

void mux_conn_stats(const mux_conn_t *conn, mux_conn_stats_t *stats) {
    stats->bytes_in = conn->bytes_in;
    stats->bytes_out = conn->bytes_out;
    stats->age_ms = mux_now(conn->loop) - conn->started;
}
