/*
 * internal.h -- what the parts of libmux share and do not export.
 */
#ifndef MUX_INTERNAL_H
#define MUX_INTERNAL_H

#include "mux.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MUX__UNUSED(x) ((void)(x))

/* A rare path: kept out of line, so that the common one stays short. */
#if defined(__GNUC__)
#define MUX__COLD __attribute__((cold, noinline))
#else
#define MUX__COLD
#endif

/* The size of the loop's scratch buffer: the most one read() takes. */
#define MUX__SCRATCH_SIZE (64 * 1024)

/* ---- buf.c: a growable byte buffer with a read offset ---- */

typedef struct {
    char *data;
    size_t len; /* bytes after off (second: see struct mux_conn) */
    size_t off; /* first unread byte */
    size_t cap;
} mux_buf_t;

/* Appends; returns 0 or -ENOMEM (the buffer is unchanged then). */
int mux__buf_append(mux_buf_t *buf, const void *data, size_t len);
/* Drops `len` bytes from the front (len <= buf->len). Empty -> off 0. */
void mux__buf_consume(mux_buf_t *buf, size_t len);
/* The unread bytes. */
static inline char *mux__buf_head(const mux_buf_t *buf) {
    return buf->data + buf->off;
}
/* Releases the storage; the buffer is empty and reusable after. */
void mux__buf_free(mux_buf_t *buf);

/* ---- loop.c: what the other layers need from the loop ---- */

/* A scratch buffer of MUX__SCRATCH_SIZE bytes, shared by all reads. */
char *mux__loop_scratch(mux_loop_t *loop);

/*
 * Freed connection structs the loop keeps for the next clients (at most
 * MUX__SPARE_CONNS; freed with the loop): accepting and closing clients
 * at a high rate then costs no malloc()/free(), whose aligned form
 * bypasses glibc's caches. take: one, or NULL; keep: false when full
 * (the caller frees it then), and always under AddressSanitizer, so that
 * a use after free of a connection is caught, not handed to the next.
 */
#define MUX__SPARE_CONNS 32
#if defined(__SANITIZE_ADDRESS__)
#define MUX__SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MUX__SANITIZED 1
#endif
#endif
#ifndef MUX__SANITIZED
#define MUX__SANITIZED 0
#endif
void *mux__loop_take_spare(mux_loop_t *loop);
bool mux__loop_keep_spare(mux_loop_t *loop, void *block);

/*
 * Calls fn(ptr) at the end of the current turn (at once if no turn runs),
 * after every callback of the turn. Returns 0 or -ENOMEM; on failure the
 * caller must not free ptr now either (it is still in use): it leaks, which
 * beats a use after free.
 */
int mux__defer(mux_loop_t *loop, void (*fn)(void *), void *ptr);

/*
 * Holds deferred work back until the matching release, as a turn does:
 * lets code outside a turn walk lists whose members callbacks may close.
 */
void mux__loop_hold(mux_loop_t *loop);
void mux__loop_release(mux_loop_t *loop);

/* ---- fd.c: descriptors ---- */

/*
 * Makes `fd` non-blocking and close-on-exec (any fd: the loop's sets grow
 * past FD_SETSIZE). Returns fd, or -errno (fd closed then).
 */
int mux__fd_prepare(int fd);
/* A new socket(family, type, 0), prepared so. Returns it, or -errno. */
int mux__fd_socket(int family, int type);

/* A descriptor kept open for the EMFILE remedy (/dev/null), or -1. */
int mux__fd_spare(void);

/* close() that keeps errno. */
void mux__close(int fd);
/* Makes the coming close() of a TCP socket abortive: SO_LINGER {1, 0},
 * the peer gets a reset instead of a FIN (MUX_FAULT_RST). Keeps errno. */
void mux__reset_on_close(int fd);

/* ---- addr.c: sources, for the per-source limits ---- */

/*
 * Who a client or a datagram comes from, as the per-source limits count
 * it: an IPv4 address (an IPv4-mapped IPv6 one counts as IPv4), or the
 * /64 prefix of an IPv6 address (one host usually holds a whole /64).
 * Bytes only, no padding: compared with memcmp().
 */
typedef struct {
    uint8_t family; /* AF_INET or AF_INET6 */
    uint8_t addr[8];
} mux__source_t;

/* Fills *out from a peer address; false for unix and other families. */
bool mux__source_of(const struct sockaddr *sa, mux__source_t *out);
/* A hash of the source, for tables keyed by it. */
uint32_t mux__source_hash(const mux__source_t *source);
/* The port of an IPv4 or IPv6 address (0 for others). */
unsigned mux__addr_port(const struct sockaddr *sa);

/* ---- admission.c: a server's limits on who may come in ---- */

/*
 * The per-source and rate limits of a server's stream clients
 * (opts.max_per_source, opts.max_rate; 0: none): how many clients each
 * source holds, and the times of the last admissions. Refusals are counted
 * in `counters` (refused_per_source, refused_rate). Owned by the server.
 */
typedef struct mux__admission mux__admission_t;
/* One source's count of clients; held by each admitted client of it. */
typedef struct mux__source_count mux__source_count_t;

/* NULL: no memory. */
mux__admission_t *mux__admission_new(mux_loop_t *loop, unsigned max_per_source,
                                     unsigned max_rate,
                                     mux_server_stats_t *counters);
void mux__admission_free(mux__admission_t *adm);
/*
 * Why `peer` may not come in now (into `why`, or a fixed text), or NULL:
 * then *count is its source's count, made if new, that the client takes
 * with mux__admission_hold(), or that mux__admission_release() frees if
 * nobody holds it (NULL: not counted, e.g. a unix client).
 */
const char *mux__admission_check(mux__admission_t *adm,
                                 const struct sockaddr *peer,
                                 mux__source_count_t **count, char *why,
                                 size_t size);
/* A client was admitted now: one more in the rate window. */
void mux__admission_note(mux__admission_t *adm);
/* A client holds its source's count, or lets it go (freed when nobody
 * holds it); NULL is a no-op. */
void mux__admission_hold(mux__source_count_t *count);
void mux__admission_leave(mux__admission_t *adm, mux__source_count_t *count);
/* Frees a count that no client holds (NULL or a held one: a no-op). */
void mux__admission_release(mux__admission_t *adm, mux__source_count_t *count);

/* ---- acceptor.c: bound sockets; accepting stream clients ---- */

typedef struct mux_listener mux_listener_t;

/*
 * What a listener reports to its owner, and the settings it reads at each
 * readiness (the owner may change them while it runs). Owned by the owner;
 * outlives its listeners.
 */
typedef struct {
    mux_loop_t *loop;
    void *arg; /* for the callbacks */
    /* A client accepted (non-blocking, close-on-exec); the callee owns fd.
     * `shed`: accepted only to make room when fds ran out (EMFILE), to be
     * turned away at once. */
    void (*accepted)(void *arg, mux_listener_t *listener, int fd,
                     const struct sockaddr *peer, socklen_t len, bool shed);
    /* accept() failed (-EMFILE, ...): reported, accepting goes on. */
    void (*error)(void *arg, mux_listener_t *listener, int err);
    int *spare_fd;            /* closed to shed a client on EMFILE; -1: none */
    int backlog;              /* listen() */
    int reuseport;            /* SO_REUSEPORT */
    uint64_t accept_delay_ms; /* MUX_FAULT_ACCEPT_DELAY_MS */
    bool paused; /* mux_server_pause_accepting(): stream listeners idle */
} mux__listen_config_t;

struct mux_listener {
    const mux__listen_config_t *config;
    mux_listener_t *next; /* the owner's list */
    int fd;
    mux_transport transport;
    bool owns_path;                /* unlink the unix path on close */
    dev_t path_dev;                /* what bind() made there: unlinked */
    ino_t path_ino;                /* only if the path is still that */
    char local[MUX_ADDRSTRLEN];    /* "127.0.0.1:9999", "/tmp/x.sock" */
    char name[MUX_ADDRSTRLEN + 8]; /* "tcp 127.0.0.1:9999" */
    mux_timer_t resume;            /* paused: no fd to shed; accept-delay */
    bool delaying;                 /* accept-delay: `resume` accepts one */
    int batch;                     /* accept() calls for the next readiness */
    mux_dgram_t *dgram;            /* UDP: its server, set by dgram.c */
    unsigned port;                 /* bound port; 0 for unix */
};

/*
 * Opens and binds a socket for one resolved address (and listens, for a
 * stream one, watching it for clients); a UDP socket is only bound: the
 * owner serves it (mux__dgram_start()). Returns 0 or -errno.
 */
int mux__listener_open(const mux__listen_config_t *config,
                       const mux_sockaddr_t *sa, mux_transport transport,
                       mux_listener_t **out);
/* Takes over a bound socket (listening on it if it is a stream one and
 * does not yet). Closes fd on failure. */
int mux__listener_adopt(const mux__listen_config_t *config, int fd,
                        mux_listener_t **out);
/* After config->paused changed: a stream listener stops or starts
 * watching for clients (a pause of its own, for want of fds or an accept
 * delay, still ends by its timer). */
void mux__listener_pause_changed(mux_listener_t *listener);
/* Before a stream listener closes: accepts every client already waiting
 * in its queue (the kernel completed their connects; closing would reset
 * them) and hands each up as usual, whatever pause or accept delay holds
 * it; bounded by the backlog. A no-op for UDP. */
void mux__listener_drain(mux_listener_t *listener);
/* Unwatches, closes, unlinks its unix path, frees (at the end of the
 * turn). A UDP listener's dgram must be stopped first. */
void mux__listener_close(mux_listener_t *listener);

/* ---- dgram.c: serving one UDP socket ---- */

/*
 * What a server keeps about the sources of its datagrams (reply budgets,
 * refusals not yet reported), made with its first UDP listener; freed with
 * the server (refusals not yet reported are lost then: the counters keep
 * them).
 */
typedef struct mux__dgram_sources mux__dgram_sources_t;
void mux__dgram_sources_free(mux__dgram_sources_t *sources);

/* How the owner's UDP sockets are served, what they report to it, and
 * what they share (owned by the owner; outlives its UDP sockets). */
typedef struct {
    mux_loop_t *loop;
    const mux_service_t *service;
    void *service_arg;
    const char *(*filter)(const struct sockaddr *peer, socklen_t len,
                          void *arg); /* NULL: admit all */
    void *filter_arg;
    unsigned rate;                /* reply budget per source; 0: the default */
    uint64_t burst;               /* 0: the default */
    mux_server_stats_t *counters; /* bytes and refusals are counted here */
    void (*emit)(void *arg, mux_event_t *ev);   /* events go up */
    bool (*own_port)(void *arg, unsigned port); /* one of the owner's */
    void *arg;                                  /* for emit and own_port */
    mux__dgram_sources_t *sources;              /* made by mux__dgram_start() */
} mux__dgram_config_t;

/* Serves a bound UDP listener: -EPROTONOSUPPORT if the service has no
 * datagram form. */
int mux__dgram_start(mux_listener_t *listener, mux__dgram_config_t *config);
void mux__dgram_stop(mux_listener_t *listener);

/* ---- faults.c: the fault chains ---- */

/* One direction's chain. */
typedef struct {
    mux_stage_t *stages;
    size_t n, cap;
    size_t nfilters;   /* stages with a filter */
    mux_shape_t shape; /* the stages in series */
} mux__chain_t;

/* Opaque to callers; the library's files read it directly. */
struct mux_faults {
    uint64_t end[MUX_FAULT_RESET_IN_MS + 1]; /* by mux_fault_end */
    mux__chain_t dir[2];                     /* by mux_dir */
    void *data;
};

/* The empty set: a stream with no faults points here, so that reading
 * one of them is one load, never a test for NULL. */
extern const mux_faults_t mux__no_faults;

/* Runs the filter stages of a direction in order on `len` bytes entering the
 * direction, in place; state[] holds a word per filter stage. */
void mux__faults_filter(const mux_faults_t *faults, mux_dir dir,
                        uint64_t *state, char *data, size_t len);

/* ---- shape.c: one direction of a stream's bytes, disturbed ---- */

/* Bytes held back by a mux_shape_t (and a stream's delay), and what the
 * shape has let through so far. */
typedef struct {
    mux_buf_t bytes;     /* held bytes, oldest first */
    mux_buf_t groups;    /* {due, len} records: how `bytes` falls due */
    mux_timer_t timer;   /* the owner's: armed for the next release */
    uint64_t next_piece; /* split, slice: not before this time */
    mux_buf_t slices;    /* slice: the first group's chunk halves still to
                            cut, nearest last (size_t each) */
    size_t slice_left;   /* slice: what is left of the piece under way */
    uint64_t passed;     /* bytes let through (drop_after) */
    uint64_t empty_at;   /* bandwidth: the bucket (see shape.c) */
    uint64_t wake;       /* when its timer was last armed for; 0: stopped */
    uint32_t rng;        /* jitter, slice_variation; 0: not started */
    bool dropped;        /* drop_after reached: nothing more */
} mux__shaper_t;

/* A shaper whose timer calls cb(arg). NULL: no memory. */
mux__shaper_t *mux__shaper_new(mux_loop_t *loop, mux_timer_cb *cb, void *arg);
void mux__shaper_free(mux__shaper_t *sh);
/* Holds `len` bytes, due `delay_ms` + the shape's latency (and jitter)
 * from `now`, behind what is held. Times are ns on mux__clock_ns(), here
 * and below. Returns 0 or -ENOMEM. */
int mux__shaper_hold(mux__shaper_t *sh, const mux_shape_t *shape,
                     uint64_t delay_ms, const void *data, size_t len,
                     uint64_t now);
/* The last `len` bytes held (just held: a filter may change them). */
char *mux__shaper_tail(mux__shaper_t *sh, size_t len);
/* How many held bytes may go now (from *data on), as the shape lets them:
 * due, and within the piece, the rate and the total. `busy`: the sink has
 * not taken the last piece yet (split and slice wait for it). A slice's
 * pieces are drawn here, as a chunk's first piece is asked for. */
size_t mux__shaper_peek(mux__shaper_t *sh, const mux_shape_t *shape,
                        uint64_t now, bool busy, const char **data);
/* The sink took `n` of them. Returns true when drop_after was reached
 * just now: the rest was discarded, nothing more goes through. */
bool mux__shaper_took(mux__shaper_t *sh, const mux_shape_t *shape, size_t n,
                      uint64_t now);
/* drop_after is MUX_DROP_ALL and bytes are held: they are discarded, and
 * true is returned (once), as mux__shaper_took() does at its limit. */
bool mux__shaper_drop_all(mux__shaper_t *sh, const mux_shape_t *shape);
/* When to look again (0: nothing held, or stalled). */
uint64_t mux__shaper_next(const mux__shaper_t *sh, const mux_shape_t *shape,
                          uint64_t now, bool busy);
/* Arms the timer for `when`, no earlier (0: stops it). Returns 0 or
 * -ENOMEM. */
int mux__shaper_arm(mux__shaper_t *sh, uint64_t when);
/* Bytes held, and what they cost (with the records); 0 for NULL. */
size_t mux__shaper_len(const mux__shaper_t *sh);
size_t mux__shaper_cost(const mux__shaper_t *sh);
/* Discards what is held. */
void mux__shaper_drop(mux__shaper_t *sh);

/* ---- framing.c: a stream's input cut into messages ---- */

typedef struct {
    mux_buf_t in; /* an incomplete line (line and auto framing) */
    size_t max_line;
    mux_framing framing;
    uint64_t line_timeout_ms; /* line framing's, else 0 */
    uint64_t line_started;    /* ms, mux_now(): when the line in `in` began */
} mux__framer_t;

/* A framer for `framing` (resolved: never 0) with its limits. */
void mux__framer_init(mux__framer_t *fr, mux_framing framing, size_t max_line,
                      uint64_t line_timeout_ms);
void mux__framer_free(mux__framer_t *fr);
/* Whether a line of `len` bytes is not too long. */
static inline bool mux__frame_fits(const mux__framer_t *fr, size_t len) {
    return len <= fr->max_line;
}
/* Auto framing: whether one read is a message as it came (no line end,
 * nothing held before it, and not a read that filled the buffer). */
bool mux__frame_whole(const mux__framer_t *fr, const char *data, size_t len);
/* Joins a read to the held tail, if any: *data and *len then point at all
 * of it, inside the framer. Returns 0 or -ENOMEM. */
int mux__frame_join(mux__framer_t *fr, const char **data, size_t *len);
/* The first line of data[0..len): returns the bytes up to and including
 * its LF, with the message's length in *msg_len (its line end kept only
 * in auto framing, a CR before the LF dropped), 0 if no line ends in it,
 * or -EMSGSIZE if it is longer than max_line. */
ssize_t mux__frame_line(const mux__framer_t *fr, const char *data, size_t len,
                        size_t *msg_len);
/* After `used` bytes of what mux__frame_join() gave were served: keeps
 * the rest as the held tail. Returns 0, -ENOMEM, or -EMSGSIZE when the
 * tail is already longer than a line may be. */
int mux__frame_keep(mux__framer_t *fr, const char *data, size_t len,
                    size_t used);
/* Forgets the held tail. */
void mux__frame_drop(mux__framer_t *fr);
/* The line timeout: a read of `len` bytes, with `before` bytes held
 * before it, was framed at `now` (ms): a line in `in` that was not there
 * before began in it. Overdue: a line has taken the timeout or longer.
 * Deadline: when the line held (or one beginning at `now`) is overdue. */
void mux__frame_noted(mux__framer_t *fr, size_t before, size_t len,
                      uint64_t now);
bool mux__frame_overdue(const mux__framer_t *fr, uint64_t now);
uint64_t mux__frame_line_deadline(const mux__framer_t *fr, uint64_t now);

/* ---- stream.c: one connected stream socket ---- */

/* What the owner of a stream (a server) keeps in it: stream.c stores it
 * and never reads it, but mux_conn_id(). */
typedef struct {
    mux_server_t *server;    /* mux_conn_server() */
    mux_conn_t *prev, *next; /* the server's list */
    void *source;            /* the server's per-source count, or NULL */
    uint64_t id;             /* mux_conn_id() */
} mux__conn_owned_t;
mux__conn_owned_t *mux__conn_owned(mux_conn_t *conn);

/*
 * Wraps a connected, non-blocking, close-on-exec stream socket whose
 * addresses the caller knows (an accept gave them), watched and timed but
 * not open yet: the owner links it, then mux__conn_open() runs the
 * service's open callback. Returns 0 or -errno (fd closed then).
 */
int mux__conn_new(mux_loop_t *loop, int fd, const mux_service_t *service,
                  const mux_conn_opts_t *opts, const struct sockaddr *peer,
                  socklen_t peer_len, const char *local, mux_conn_t **out);
void mux__conn_open(mux_conn_t *conn);
/* Who is at the two ends of a socket handed in (mux_conn_new,
 * mux_server_serve_fd). */
typedef struct {
    struct sockaddr_storage peer;
    socklen_t peer_len;
    char local[MUX_ADDRSTRLEN]; /* the local address as text */
} mux__handed_in_t;
/* Takes an fd handed in by the caller (mux_conn_new,
 * mux_server_serve_fd), which is ours to close whatever happens: closes it
 * and returns `refusal` if that is an -errno; else makes it non-blocking
 * and close-on-exec, with its two ends in *ends. Returns the fd, or -errno
 * with the fd closed (-ENOTCONN: not connected). */
int mux__conn_handed_in(int fd, int refusal, mux__handed_in_t *ends);
/* Graceful shutdown of one client: serve what it sent, then close; one
 * already closing drops what a stall holds for it. */
void mux__conn_shutdown(mux_conn_t *conn);
/* Closes and frees now (server teardown): the close callback runs. */
void mux__conn_destroy(mux_conn_t *conn);
/* Adds the client's bytes in and out so far to stats. */
void mux__conn_add_bytes(const mux_conn_t *conn, mux_server_stats_t *stats);
bool mux__conn_is_open(const mux_conn_t *conn);

/* ---- timer.c: the clock, and the heap of timers the loop holds ---- */

#define MUX__NS_PER_MS 1000000u
#define MUX__NS_PER_SEC 1000000000u

/* Monotonic nanoseconds: the clock of timer deadlines and of the shaper.
 * A deadline set from it plus a delay is never met early. */
uint64_t mux__clock_ns(void);
/* Milliseconds as nanoseconds, saturating at UINT64_MAX. */
uint64_t mux__ms_to_ns(uint64_t ms);
/* Arms `t` for an absolute `deadline` on mux__clock_ns(), then every
 * `repeat` ns (0: once), as mux_timer_start() does. Returns 0 or -ENOMEM. */
int mux__timer_start_at(mux_timer_t *t, uint64_t deadline, uint64_t repeat);

/* The armed timers: a binary min-heap on (deadline, seq). */
typedef struct {
    mux_timer_t **heap;
    size_t count, cap;
    uint64_t seq; /* the next timer armed gets it */
} mux__timers_t;

/* The deadline of the nearest timer in *deadline; false if none is armed. */
bool mux__timers_nearest(const mux__timers_t *timers, uint64_t *deadline);
/* Runs the timers due at `now` (ns), armed before this call; returns how
 * many ran. */
int mux__timers_run(mux_loop_t *loop, uint64_t now);
/* Disarms what is left (the timers are their owners' memory) and frees
 * the heap. */
void mux__timers_free(mux__timers_t *timers);

/* ---- poll_select.c: the poller, select() behind a small seam ---- */

/* A word of the poller's bit sets: fd_set's layout (see poll_select.c). */
typedef unsigned long mux__fd_word_t;

typedef struct {
    mux_io_cb *cb; /* NULL: not watched */
    void *arg;
    int events;
    uint32_t added_turn; /* readiness from that turn's select() is stale */
} mux__watcher_t;

typedef struct {
    /* One block (see mux__poll_grow): a watcher slot per fd below
     * `capacity`, the master sets, and the copies select() works on. The
     * loop owns the slots' contents; the poller only their events. */
    mux__watcher_t *watchers;
    mux__fd_word_t *rd, *wr;         /* master sets */
    mux__fd_word_t *sel_rd, *sel_wr; /* what select() and dispatch work on */
    int capacity;                    /* fds the block holds: whole words */
    size_t nwriters;          /* watchers with MUX_WRITE: none, no write set */
    mux__fd_word_t *ready_rd; /* the read set being dispatched */
    int ready_capacity;       /* the fds it holds */
} mux__poll_t;

/* What one mux__poll_wait() found, for mux__poll_dispatch(). */
typedef struct {
    mux__fd_word_t *rd, *wr; /* wr NULL: nobody waited to write */
    mux__fd_word_t *nested;  /* the copies of a nested turn, or NULL */
    int maxfd;
} mux__poll_ready_t;

/* Create/resize: room for `fd`; the old block goes to *old, for the caller
 * to free at the end of the turn. Returns 0, -EBADF or -ENOMEM. */
int mux__poll_grow(mux__poll_t *poll, int fd, void **old);
void mux__poll_free(mux__poll_t *poll);
/* Add/del interest: fd's sets bits become `events` (MUX_READ|MUX_WRITE). */
void mux__poll_interest(mux__poll_t *poll, int fd, int events);
/* Adds the interest in fds 0..maxfd to a host's sets (mux_prepare). */
void mux__poll_merge(const mux__poll_t *poll, fd_set *rd, fd_set *wr,
                     int maxfd);
/* select() on copies of the sets (fresh ones if `nested`: a turn inside a
 * callback) until `timeout` (NULL: none). Returns the number of ready bits
 * (0 after EINTR) with them in *ready, or -errno. */
int mux__poll_wait(mux__poll_t *poll, int maxfd, bool nested,
                   struct timeval *timeout, mux__poll_ready_t *ready);
/* Calls the watchers of what is ready, in fd order, except those added in
 * `turn` or no longer wanting it; frees ready's copies. Returns how many
 * ran. */
int mux__poll_dispatch(mux__poll_t *poll, mux_loop_t *loop, uint32_t turn,
                       mux__poll_ready_t *ready, int nready);
/* The same for a host's sets (mux_process), fds 0..maxfd. */
int mux__poll_dispatch_host(mux__poll_t *poll, mux_loop_t *loop, uint32_t turn,
                            const fd_set *rd, const fd_set *wr, int maxfd);

/* ---- loop.c: the loop's own layout, for its parts ---- */

/*
 * The loop's parts each keep their state in one member: timer.c `timers`,
 * poll_select.c `poll`, signal.c `signals` (as libuv's timer.c reaches its
 * loop's timer_heap). No other file reads these fields.
 */
struct mux_loop {
    mux__poll_t poll;
    int maxfd; /* highest watched fd, -1 if none */
    size_t nwatched;
    uint32_t turn;

    mux__timers_t timers;
    uint64_t now;   /* ns, mux__clock_ns(): timer deadlines' clock */
    bool now_stale; /* read the clock on the next mux_now() */

    struct {
        int pipe[2];  /* the handler writes signal numbers to [1] */
        size_t count; /* signals watched: none, the pipe is not watched */
        void (*release)(mux_loop_t *loop); /* forgets them all: free */
    } signals;

    struct mux__deferred *deferred;
    size_t ndeferred, deferred_cap;
    int depth; /* > 0 while a turn dispatches */

    bool stopped;
    void *spares[MUX__SPARE_CONNS]; /* see mux__loop_take_spare() */
    size_t nspares;
    char scratch[MUX__SCRATCH_SIZE];
};

#endif /* MUX_INTERNAL_H */
