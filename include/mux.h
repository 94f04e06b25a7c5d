/*
 * mux.h -- libmux, a single-threaded select() event loop and a small
 * stream/datagram server built on it.
 *
 * Conventions used by every function in this header:
 *  - Success is 0 (or a non-negative result); failure is a negative errno
 *    value, which mux_strerror() turns into text. There is no global error
 *    state.
 *  - Handles are opaque. Whatever a *_new function creates, the matching
 *    *_free function releases.
 *  - Callbacks receive the handle they concern and the caller's `arg`,
 *    which the library never dereferences and never frees.
 *  - The library never prints, never exits and never aborts on a failed
 *    system call: errors come back as return values, events through
 *    callbacks.
 *  - Nothing here is thread-safe: one loop belongs to one thread.
 */
#ifndef MUX_H
#define MUX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MUX_VERSION "0.2.0"

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/*
 * Returns a static, human-readable description of `err`, a negative errno
 * value as returned by this library (a positive value is accepted too).
 * Never returns NULL.
 */
const char *mux_strerror(int err);

/* Errors of our own, outside the errno range (as getaddrinfo has its own). */
#define MUX_ENOHOST (-4001)    /* "unknown host" */
#define MUX_ENOSERVICE (-4002) /* "unknown port or service name" */
/* An unknown service name on a system with no services database. */
#define MUX_ENOSERVDB (-4003)

/* ------------------------------------------------------------------ */
/* The loop                                                            */
/* ------------------------------------------------------------------ */

typedef struct mux_loop mux_loop_t;
typedef struct mux_timer mux_timer_t;

/* Interest and readiness bits for fd watchers. */
enum { MUX_READ = 1, MUX_WRITE = 2 };

/* How mux_run() runs. */
typedef enum {
    MUX_RUN_DEFAULT = 0, /* until mux_stop() or nothing is left to wait for */
    MUX_RUN_ONCE = 1,    /* one turn, waiting until something happens */
    MUX_RUN_NOWAIT = 2   /* one turn, without waiting */
} mux_run_mode;

/*
 * Called when `fd` is ready. `events` holds the MUX_READ and/or MUX_WRITE
 * bits that are ready (only bits the watcher asked for).
 */
typedef void mux_io_cb(mux_loop_t *loop, int fd, int events, void *arg);

/*
 * Called when `timer` is due. A one-shot timer is already inactive when
 * this runs, a repeating one already re-armed for its next period, and the
 * loop does not touch `timer` after the callback returns: the callback may
 * start, stop or free it (or the struct it is part of).
 */
typedef void mux_timer_cb(mux_loop_t *loop, mux_timer_t *timer, void *arg);

/*
 * A timer lives in its owner's memory, like libev's ev_timer and libuv's
 * uv_timer_t: embed one in your struct, mux_timer_init() it once, then
 * start and stop it as often as you like; no allocation happens per start
 * and there is no handle to clear. The members are private. A timer must
 * be stopped (or never started) before its memory goes away.
 */
struct mux_timer {
    mux_loop_t *loop; /* private, all of them */
    mux_timer_cb *cb;
    void *arg;
    uint64_t deadline; /* ns on the loop's monotonic clock */
    uint64_t repeat;   /* ns */
    uint64_t seq;      /* arming order: breaks deadline ties */
    size_t active;     /* 0: stopped; else its heap slot + 1 */
};

/* Called from the loop (never from the signal handler) after `signo`. */
typedef void mux_signal_cb(mux_loop_t *loop, int signo, void *arg);

/*
 * Creates a loop in *loop. Returns 0, or -ENOMEM / -EMFILE (the loop owns
 * one pipe, used to turn signals into readable events).
 */
int mux_loop_new(mux_loop_t **loop);

/*
 * Releases a loop: its timers, signal handlers (previous dispositions are
 * restored) and pipe. It does not close fds the caller watched. Servers
 * built on the loop must be freed first. NULL is a no-op.
 */
void mux_loop_free(mux_loop_t *loop);

/*
 * Watches `fd` for `events` (MUX_READ, MUX_WRITE, or both), calling `cb`
 * with `arg` when it is ready. Watching an fd that is already watched
 * replaces its events, callback and argument. `events` may be 0: the fd
 * stays registered but is not selected on (see mux_watch_events()).
 *
 * Any open fd can be watched, at or above FD_SETSIZE too: the loop's sets
 * grow to the highest fd (select() itself takes any fd below
 * RLIMIT_NOFILE; only the fd_set type stops at FD_SETSIZE). A host that
 * drives the loop with plain fd_sets is told by mux_prepare() when the
 * loop holds an fd its sets cannot.
 *
 * Returns 0; -EBADF if fd < 0 (or, when the sets must grow for it, fd is
 * not open); -EINVAL if cb is NULL or events has unknown bits; -ENOMEM if
 * the sets could not grow.
 */
int mux_watch(mux_loop_t *loop, int fd, int events, mux_io_cb *cb, void *arg);

/*
 * Changes only the events of a watched fd. Cheap: meant to be called each
 * time output starts or stops being pending. Returns 0, or -ENOENT if `fd`
 * is not watched, -EINVAL for unknown bits.
 */
int mux_watch_events(mux_loop_t *loop, int fd, int events);

/*
 * Stops watching `fd` (the caller still owns and closes it). Safe from any
 * callback, also for the fd being dispatched: a readiness already reported
 * by select() for a removed fd is never delivered. Returns 0 or -ENOENT.
 */
int mux_unwatch(mux_loop_t *loop, int fd);

/*
 * Prepares `timer` (inactive) to call `cb` with `arg` on `loop`. Call it
 * once before any other use; again only while the timer is stopped.
 */
void mux_timer_init(mux_timer_t *timer, mux_loop_t *loop, mux_timer_cb *cb,
                    void *arg);

/*
 * Arms `timer` to fire after `after_ms` and then every `repeat_ms` (0:
 * once); an active timer is re-armed (no second entry). Deadlines use the
 * monotonic clock, read in nanoseconds at this call: the timer never fires
 * before `after_ms` has passed in full, and is late only by the kernel's
 * wake-up slack and the turn it lands in (no rounding to whole
 * milliseconds). Timers due in the same turn fire in deadline order,
 * ties in the order they were armed; one armed during a turn's timer pass
 * waits for the next turn, so a 0 ms timer cannot spin. Returns 0, or
 * -ENOMEM when the loop's timer heap could not grow (the timer is then
 * left as it was).
 */
int mux_timer_start(mux_timer_t *timer, uint64_t after_ms, uint64_t repeat_ms);

/* Disarms `timer`. Idempotent: a stopped or never-started timer is fine,
 * also from inside its own callback. */
void mux_timer_stop(mux_timer_t *timer);

/* Non-zero while `timer` is armed. */
int mux_timer_active(const mux_timer_t *timer);

/*
 * Milliseconds on the loop's monotonic clock, read at most once per turn
 * (the first call in a turn reads it; later calls in the turn are free).
 */
uint64_t mux_now(const mux_loop_t *loop);

/*
 * Calls `cb` from the loop whenever `signo` arrives; cb NULL removes the
 * watcher and restores the disposition the signal had before. One loop at
 * a time may watch a given signal. Returns 0; -EINVAL for a bad signal
 * number; -EBUSY if another loop watches it; -errno from sigaction().
 */
int mux_signal(mux_loop_t *loop, int signo, mux_signal_cb *cb, void *arg);

/*
 * Runs the loop. Each turn: select() on the watched fds (waiting at most
 * until the nearest timer), dispatch ready fds in fd order, run due
 * timers, then release what callbacks freed during the turn.
 *
 * MUX_RUN_DEFAULT returns 0 after mux_stop() or once no fd, timer or signal
 * is watched. MUX_RUN_ONCE and MUX_RUN_NOWAIT return the number of
 * callbacks run (0 or more). Any mode returns -errno if select() fails
 * with anything but EINTR (-EBADF: a watched fd was closed unwatched).
 */
int mux_run(mux_loop_t *loop, mux_run_mode mode);

/*
 * Makes mux_run() return after the current turn. Safe from any callback.
 */
void mux_stop(mux_loop_t *loop);

/*
 * For a host that owns its select() loop: adds the loop's fds to `rd` and
 * `wr` (which the host has already filled with its own), raises *maxfd to
 * the highest fd added (leave it at -1 if the host has none), and, when the
 * loop has a timer, stores the wait until the nearest one in *timeout and
 * returns 1 (a host with its own deadline uses the smaller of the two).
 * Returns 0 and leaves *timeout alone when the loop needs no timeout.
 *
 * Returns -ERANGE, and changes nothing, when the loop watches an fd at or
 * above FD_SETSIZE, which a plain fd_set cannot hold (possible only once
 * RLIMIT_NOFILE is above FD_SETSIZE): no turn starts, and the host should
 * switch to mux_prepare_sized() with sets of its own size.
 */
int mux_prepare(mux_loop_t *loop, fd_set *rd, fd_set *wr, int *maxfd,
                struct timeval *timeout);

/*
 * mux_prepare() for sets of any size: `rd` and `wr` each point to
 * `setsize` bits (setsize / 8 bytes, zeroed, then filled with the host's
 * own fds) laid out as fd_set, that is one bit per fd in unsigned long
 * words; `setsize` is a positive multiple of 64. Cast such an array to
 * fd_set * for select(), and set or test its bits without glibc's FD_SET
 * and FD_ISSET beyond FD_SETSIZE (fortified builds abort there).
 *
 * Returns 1 or 0 as mux_prepare(); -ERANGE, changing nothing, if the loop
 * watches an fd >= setsize: grow the sets to more than mux_loop_maxfd()
 * and call again; -EINVAL for a bad setsize.
 */
int mux_prepare_sized(mux_loop_t *loop, fd_set *rd, fd_set *wr, int setsize,
                      int *maxfd, struct timeval *timeout);

/*
 * The highest fd the loop watches, or -1 if none: the sets a host hands to
 * mux_prepare_sized() must hold at least this fd.
 */
int mux_loop_maxfd(const mux_loop_t *loop);

/*
 * For a host that owns its select() loop: after select() returned, runs
 * the callbacks of the loop's ready fds (fds in the sets that the loop
 * does not watch are ignored), then due timers and deferred frees.
 * `rd`/`wr` may be NULL (nothing ready: e.g. select() timed out).
 * Returns the number of callbacks run.
 */
int mux_process(mux_loop_t *loop, const fd_set *rd, const fd_set *wr);

/*
 * mux_process() for the sets of mux_prepare_sized(), of `setsize` bits.
 * Returns the number of callbacks run, or -EINVAL for a bad setsize.
 */
int mux_process_sized(mux_loop_t *loop, const fd_set *rd, const fd_set *wr,
                      int setsize);

/* ------------------------------------------------------------------ */
/* Addresses                                                           */
/* ------------------------------------------------------------------ */

typedef enum { MUX_TCP = 1, MUX_UDP = 2, MUX_UNIX = 3 } mux_transport;

/* Longest text an address can format to, with its terminating NUL. */
#define MUX_ADDRSTRLEN 112

/*
 * A parsed, not yet resolved, address. `host` is "" for all interfaces
 * (written "*" or left empty); for MUX_UNIX `path` is set instead.
 */
typedef struct {
    mux_transport transport;
    char host[256];
    char port[64];
    char path[108];
} mux_addr_t;

/*
 * Parses an address in one of the forms
 *     HOST:PORT   :PORT   *:PORT   [V6]:PORT   PORT
 *     tcp://...   udp://...   unix:/path   unix:relative/path
 * HOST is a name or an IPv4/IPv6 literal; PORT a number (0..65535, 0 picks
 * a free one) or a service name ("echo", "http"). A bare PORT and ":PORT"
 * take `default_host` (NULL or "" or "*": all interfaces). A service name
 * starts with a letter; it is looked up by mux_addr_resolve().
 * Returns 0; -ERANGE for a port number past 65535; -EINVAL for anything
 * else that does not parse (empty, unbalanced brackets, a unix path too
 * long, ...). Nothing is written on failure.
 */
int mux_addr_parse(const char *text, const char *default_host,
                   mux_addr_t *addr);

/*
 * The number of `port` for `transport` (MUX_TCP or MUX_UDP): decimal
 * 0..65535, or a service name from the system's services database
 * (/etc/services), or, where the database lacks it or is missing, from
 * libmux's own table of the names its docs use (echo, discard, daytime,
 * qotd, chargen, time, ftp, ssh, telnet, smtp, domain, http, www, pop3,
 * ntp, imap, https). Blocking like any NSS lookup.
 * Returns the number; -ERANGE past 65535; -EINVAL for text that is neither
 * a number nor a name; MUX_ENOSERVICE for an unknown name; MUX_ENOSERVDB
 * for a name outside that table on a system with no services database.
 */
int mux_port_lookup(const char *port, mux_transport transport);

/* One resolved address, ready for socket() and bind() or connect(). */
typedef struct {
    int family;   /* AF_INET, AF_INET6, AF_UNIX */
    int socktype; /* SOCK_STREAM or SOCK_DGRAM */
    socklen_t len;
    struct sockaddr_storage sa;
} mux_sockaddr_t;

/*
 * Resolves `addr` with getaddrinfo() (blocking: call it before the loop
 * runs) into up to `max` entries of `out`. `passive` non-zero resolves for
 * bind() ("" means all interfaces), zero for connect() ("" means
 * loopback); the port as mux_port_lookup() finds it. Returns how many
 * entries were stored (at least 1), or MUX_ENOHOST, MUX_ENOSERVICE,
 * MUX_ENOSERVDB, -ENOMEM, -EAGAIN (temporary DNS failure).
 */
int mux_addr_resolve(const mux_addr_t *addr, int passive, mux_sockaddr_t *out,
                     size_t max);

/*
 * Formats a socket address as "1.2.3.4:80", "[::1]:80" or "/path" into
 * `out` (at least MUX_ADDRSTRLEN bytes is always enough). Returns `out`.
 */
char *mux_addr_format(const struct sockaddr *sa, socklen_t len, char *out,
                      size_t size);

/* ------------------------------------------------------------------ */
/* Outbound connects                                                   */
/* ------------------------------------------------------------------ */

/* One outbound connect under way, from mux_connect() until its callback
 * runs or mux_connect_cancel(). Opaque; the library allocates it. */
typedef struct mux_connect mux_connect_t;

/*
 * The result of a mux_connect(), always called from inside the loop, once
 * (never if it was cancelled):
 *  - fd >= 0, err 0: connected. `fd` is non-blocking and close-on-exec,
 *    no longer watched; the callee owns it (watch it, close it).
 *  - fd >= 0, err < 0: it connected, but the peer reset the connection
 *    before the result came in (a server that accepts and resets at once:
 *    err is -ECONNRESET, or -EPIPE after its FIN). Reading the result took
 *    the error off the socket, so `fd` reads as end of file (maybe after
 *    bytes the peer sent first): treat err as that read's error. The callee
 *    owns `fd` here too. No other address was tried.
 *  - fd -1, err < 0: every address failed; err is the failure of the last
 *    one: -ECONNREFUSED, -ETIMEDOUT (its attempt took longer than the
 *    timeout), -ENOENT (no unix socket there), -EAGAIN (a unix listener's
 *    backlog is full), -ENETUNREACH, -EAFNOSUPPORT, -EMFILE, ...
 * The callback may do anything a loop callback may, mux_connect() again
 * included; the handle is released when it returns.
 */
typedef void mux_connect_cb(mux_loop_t *loop, int fd, int err, void *arg);

/*
 * Connects to the first of `addrs` that accepts (stream or datagram
 * sockets of any family, as mux_addr_resolve() fills them: resolve once,
 * before the loop runs, and connect as often as needed), without blocking:
 * a non-blocking connect() to each address in turn, each attempt given
 * `timeout_ms` (0: no limit but the system's own, about two minutes for
 * TCP) and counted as failed when it fails at once (a unix path with
 * nobody listening) or the socket turns writable with an error. The
 * `naddrs` entries are copied. The result comes through `cb` with `arg`,
 * from a later loop callback, never from inside mux_connect(). *out (if
 * out is not NULL) is the handle for mux_connect_cancel(), valid until the
 * callback returns.
 *
 * Returns 0 (`cb` will run once, unless cancelled); -EINVAL (NULL loop,
 * addrs or cb, naddrs 0); -ENOMEM. On failure `cb` never runs. Cancel or
 * finish every connect before mux_loop_free().
 */
int mux_connect(mux_loop_t *loop, const mux_sockaddr_t *addrs, size_t naddrs,
                uint64_t timeout_ms, mux_connect_cb *cb, void *arg,
                mux_connect_t **out);

/*
 * Abandons a connect: closes its socket, stops its timer and releases it;
 * its callback never runs. Safe from any callback; inside the connect's
 * own callback it does nothing (the connect is over). Not after the
 * callback returned: the handle is gone then. NULL is a no-op.
 */
void mux_connect_cancel(mux_connect_t *connector);

/* ------------------------------------------------------------------ */
/* Servers, connections and services                                   */
/* ------------------------------------------------------------------ */

typedef struct mux_server mux_server_t;
typedef struct mux_conn mux_conn_t;
typedef struct mux_dgram mux_dgram_t;

/*
 * How a stream's bytes are cut into messages. MUX_FRAMING_AUTO serves both
 * a client that writes one message at a time without a line end and one
 * that sends lines, many per write: a read without a LF (nothing held
 * before it) is one message as it came; otherwise every line is one, its
 * line end kept, and a last piece without a LF waits up to 50 ms for the
 * rest of its line before it is served as it is.
 */
typedef enum {
    MUX_FRAMING_DEFAULT = 0, /* in options: the service's own */
    MUX_FRAMING_RAW = 1,     /* each read() is one message */
    MUX_FRAMING_LINE = 2, /* LF-terminated lines, LF and a CR before it cut */
    MUX_FRAMING_AUTO = 3  /* lines, line ends kept, or a read: see above */
} mux_framing;

/* How mux_conn_close() closes. */
enum {
    MUX_CLOSE_AFTER_FLUSH = 0,
    MUX_CLOSE_NOW = 1,
    MUX_CLOSE_WRITE = 2, /* half-close: a FIN once output is flushed */
    MUX_CLOSE_RESET = 3  /* a reset (RST) once output is flushed */
};

/*
 * A service: one protocol, as a table of callbacks. Every member but
 * `name` may be NULL. Stream callbacks:
 *  - open: a client connected; may send a greeting or close it.
 *  - message: one message (a read, or a line without its terminator).
 *  - eof: the client half-closed. NULL means close after flushing output.
 *  - drain: makes the service a producer (chargen): called whenever the
 *    client can take more, i.e. the socket is writable and pending output
 *    is at or below half the high watermark; write a bounded batch here.
 *  - close: the connection is going away; release per-connection data.
 *    mux_conn_close_reason() says why (the reason MUX_EV_CLOSE carries,
 *    which comes after this callback).
 *  - shutdown: a graceful shutdown (mux_server_shutdown()) reached this
 *    client, after what it had already sent was served. NULL: close after
 *    flushing output. A relay passes the end on to its other stream
 *    instead, and closes the client once that one has answered; the
 *    shutdown's timeout still bounds it.
 * Datagram callback:
 *  - datagram: one datagram arrived; answer with mux_dgram_reply().
 *    NULL: the service has no datagram form, and udp:// listening fails
 *    with -EPROTONOSUPPORT.
 */
typedef struct mux_service {
    const char *name;
    mux_framing framing; /* default framing; 0 means raw */
    void (*open)(mux_conn_t *conn);
    void (*message)(mux_conn_t *conn, const char *data, size_t len);
    void (*eof)(mux_conn_t *conn);
    void (*drain)(mux_conn_t *conn);
    void (*close)(mux_conn_t *conn);
    void (*datagram)(mux_dgram_t *dgram, const char *data, size_t len);
    void (*shutdown)(mux_conn_t *conn);
} mux_service_t;

/* What happened, for the server's event callback. */
typedef enum {
    MUX_EV_LISTEN = 1, /* a listener is bound: local */
    MUX_EV_ACCEPT,     /* a client connected: peer, local */
    MUX_EV_REFUSE,     /* a client was turned away: peer, reason */
    MUX_EV_CLOSE,      /* a client left: peer, bytes, duration, reason */
    MUX_EV_ERROR,      /* a failure that cost one client or one accept: err */
    MUX_EV_SERVICE,    /* a service's own log line: text */
    MUX_EV_SHUTDOWN,   /* graceful shutdown began: clients still open */
    MUX_EV_DONE        /* graceful shutdown finished: every client closed */
} mux_event_type;

/*
 * One event. Strings point into library memory valid only during the
 * callback; `text` is raw (it may hold any bytes from the network: escape
 * it before printing it). Unused members are 0 / NULL / "".
 */
typedef struct {
    mux_event_type type;
    mux_conn_t *conn; /* the client, or NULL */
    mux_transport transport;
    const char *peer;   /* "1.2.3.4:5678", "[::1]:80", "unix" */
    const char *local;  /* the listener's address */
    const char *reason; /* why a refuse/close/error happened */
    int err;            /* -errno for errors, else 0 */
    uint64_t bytes_in, bytes_out;
    uint64_t duration_ms;
    uint64_t clients; /* clients connected after this event */
    const char *text; /* MUX_EV_SERVICE: the service's text */
    size_t text_len;
    /* MUX_EV_REFUSE of a datagram: refusals of the same source not
     * reported on their own since its previous event (a summary when
     * `repeats` > 0; see mux_server_opts_t.dgram_rate). Else 0. */
    uint64_t repeats;
} mux_event_t;

typedef void mux_event_cb(mux_server_t *server, const mux_event_t *ev,
                          void *arg);

/*
 * How a fault stage (and a direction's whole chain of them) disturbs the
 * timing of bytes, to test a peer against a slow, choppy or failing link
 * (see docs/faults.md). Zero it: every 0 means "off". The members
 * combine. Bytes held back count as pending output (output) and keep
 * their order.
 */
typedef struct {
    /* Every byte this much later, by a timer (never by blocking), plus
     * up to `jitter_ms` more drawn per send (order kept). */
    uint64_t latency_ms;
    uint64_t jitter_ms;
    /* At most this many bytes a second (a token bucket of 10 ms: after a
     * pause, a stall lifted included, at most 10 ms of the rate at once;
     * the time a timer that wakes late lost is made up, up to 1 s, so a
     * loaded machine costs no rate); 0: unlimited. */
    uint64_t bandwidth;
    /* Pieces of at most `split` bytes, one write() (or one delivery to
     * the service) each, at least `split_us` microseconds apart (0: no
     * pause, the next piece as soon as the last is written in full), so
     * a message arrives in several reads. 0: off. The pause is a timer:
     * it is never shorter, and as much longer as the loop wakes late
     * (select() and the kernel's timer slack: tens of microseconds on
     * an idle Linux machine). */
    size_t split;
    uint64_t split_us;
    /* Once this many bytes went through, the rest is discarded and the
     * stream closed after flush (output: exactly that many reach the peer,
     * then EOF, or a reset with `rst`). 0: off; MUX_DROP_ALL: no byte
     * goes through, the first ones end the stream so. */
    uint64_t drop_after;
    /* Non-zero: nothing goes through. Input: the stream never reads (the
     * peer's sends block once the socket buffers are full; a greeting
     * still goes out). Output: bytes are held until the stall ends, and a
     * close after flush waits behind them, unless the peer's EOF was read
     * or a server's graceful shutdown reached the stream: then they are
     * dropped and the close goes on. They are not activity for the idle
     * timeout. */
    int stall;
    /* toxiproxy's slicer: each chunk (the bytes of one send, or of one
     * read on input) is cut into pieces around `slice` bytes: a chunk of
     * more than slice + slice_variation bytes is cut in two near its
     * middle (moved by a draw in [-slice_variation, slice_variation)),
     * and each half again, left first; no piece is larger than slice +
     * slice_variation, and a chunk smaller than that is one piece. Each
     * piece is its own write() (or delivery), at least `split_us` apart,
     * as split's. slice_variation must be below slice. 0: off. */
    size_t slice;
    size_t slice_variation;
    /* The seed of the stream's draws for this direction (slice_variation,
     * jitter_ms), so that a run repeats; 0: a fixed one. */
    uint64_t seed;
} mux_shape_t;

/*
 * One stage of a direction's fault chain: what it does to the bytes that
 * pass. Its timing is a mux_shape_t; stages stack in the order they were
 * pushed, each in series with the ones before it (see mux_faults_push()).
 * A stage may also change the bytes themselves: `filter` runs on every
 * byte that enters the direction, in place, before any timing holds it
 * (NULL: the bytes are not touched); `state` is one word of the stream's
 * own for this stage (0 when the stream starts, kept while the stage
 * keeps its place in the chain), `param` the stage's numbers (copied with
 * it). The library never reads `name`: it is for the caller's lists.
 */
typedef struct mux_stage mux_stage_t;
struct mux_stage {
    const char *name;
    mux_shape_t shape;
    void (*filter)(const mux_stage_t *stage, uint64_t *state, char *data,
                   size_t len);
    uint64_t param[4];
};

/* The two directions of a stream's bytes. */
typedef enum {
    MUX_OUT = 0, /* the bytes we write to the peer ("down" for a client) */
    MUX_IN = 1,  /* the bytes we read from it ("up") */
} mux_dir;

/* The faults that end a stream or slow its server: one value each. */
typedef enum {
    /* Non-zero: every close, refused clients' included, is abortive
     * (SO_LINGER {1, 0}): no FIN and no lingering wait, the peer gets a
     * reset (ECONNRESET), and output it has not received may be lost. TCP
     * only: a unix socket closes as usual. */
    MUX_FAULT_RST,
    /* Accepts stream clients this many milliseconds late, one at a time:
     * a readable listener is paused (by a timer, never by blocking), one
     * client is accepted when the timer fires, and the listener resumes.
     * Connects complete at once (the kernel's backlog); a burst of N
     * waits up to N times as long for the last. Server-wide. */
    MUX_FAULT_ACCEPT_DELAY_MS,
    /* Holds every close this long: the stream stops reading and writing,
     * then closes as it would have; a half-close (MUX_CLOSE_WRITE) waits
     * as long before its FIN, reading on. */
    MUX_FAULT_SLOW_CLOSE_MS,
    /* Closes the stream this long after it started (or after the faults
     * were set on an open one), whatever it is doing. */
    MUX_FAULT_LIMIT_TIME_MS,
    /* Stops both directions at once (nothing is read or written any more)
     * and this long later closes the stream as a close after flush does
     * (the peer reads EOF; a reset with MUX_FAULT_RST), what was held back
     * either way or not yet written dropped; MUX_FOREVER: never closes.
     * Lifted from a stream it stopped (the faults set again without it),
     * the stream closes at once the same way. */
    MUX_FAULT_TIMEOUT_MS,
    /* toxiproxy's reset_peer, one value per direction: the first bytes
     * given to the stream to send (OUT) or read from it (IN) are dropped,
     * never written or delivered, and that direction stops there (output
     * is held, reading stops); this many milliseconds after those bytes
     * (MUX_AT_ONCE: at the turn's timers) the stream is reset, as
     * MUX_FAULT_RST's close (the peer gets ECONNRESET), its close reason
     * "reset (fault reset-peer)". Until then a close after flush or a
     * half-close waits for the reset. A stream that never has bytes in
     * that direction is never reset; once due, the reset comes even if the
     * fault is lifted. */
    MUX_FAULT_RESET_OUT_MS,
    MUX_FAULT_RESET_IN_MS,
} mux_fault_end;

/*
 * Fault injection for a stream, or every client of a server (an opaque
 * set: a new kind of fault changes no struct of yours): a chain of
 * stages for each direction, and the faults that end a stream. A new set
 * has none ("off"); none applies to datagrams. A stream or server keeps a
 * pointer to the set it follows: change the set, then hand it again to
 * mux_conn_set_faults() or mux_server_set_faults() to reach open streams.
 * With no set (NULL) the paths the faults hook into cost one test.
 */
typedef struct mux_faults mux_faults_t;

/* A new set with no fault, or NULL (no memory). */
mux_faults_t *mux_faults_new(void);
void mux_faults_free(mux_faults_t *faults);
/* Back to no fault (the data pointer stays). */
void mux_faults_clear(mux_faults_t *faults);
/* *dst becomes a copy of *src (its data pointer stays). Returns 0 or
 * -ENOMEM (then *dst is cleared). */
int mux_faults_copy(mux_faults_t *dst, const mux_faults_t *src);
/* One of the ending faults; 0: off. */
void mux_faults_set(mux_faults_t *faults, mux_fault_end what, uint64_t value);
uint64_t mux_faults_get(const mux_faults_t *faults, mux_fault_end what);
/*
 * Appends a stage (copied) to a direction's chain. Stages stack in
 * series, as two links one after the other would: latencies and their
 * jitters add up, the slowest bandwidth and the smallest split, slice
 * (with its variation) and drop_after hold, the longest pause between
 * pieces, the first seed, and one stalled stage stalls the direction.
 * Returns 0, or -ENOMEM.
 */
int mux_faults_push(mux_faults_t *faults, mux_dir dir,
                    const mux_stage_t *stage);
/* The stages of a direction: the count, and the i-th (NULL past it). */
size_t mux_faults_stages(const mux_faults_t *faults, mux_dir dir);
const mux_stage_t *mux_faults_stage(const mux_faults_t *faults, mux_dir dir,
                                    size_t i);
/* The timing of a direction's whole chain (all 0 for NULL or none). */
const mux_shape_t *mux_faults_shape(const mux_faults_t *faults, mux_dir dir);
/* A pointer of the caller's, kept with the set (NULL at first). */
void mux_faults_set_data(mux_faults_t *faults, void *data);
void *mux_faults_data(const mux_faults_t *faults);

/* MUX_FAULT_TIMEOUT_MS: stop, and never close. */
#define MUX_FOREVER UINT64_MAX
/* mux_shape_t.drop_after: not one byte (toxiproxy's limit_data of 0). */
#define MUX_DROP_ALL UINT64_MAX
/* MUX_FAULT_RESET_OUT_MS, MUX_FAULT_RESET_IN_MS: reset at once (0 is off). */
#define MUX_AT_ONCE (UINT64_MAX - 1)

/* The largest opts.max_output: 16 times it (the hard cap) fits a size_t. */
#define MUX_OUTPUT_MAX (SIZE_MAX / 16)

/*
 * How a stream (a mux_conn_t) is served. A server keeps one for all its
 * clients, made from its mux_server_opts_t; mux_conn_new() takes one for a
 * stream of your own. The stream keeps a pointer: the struct must outlive
 * it, and the stream reads `delay_ms` and `faults` as it runs (other
 * faults reach an open stream through mux_conn_set_faults(), a server's
 * clients through mux_server_set_faults()). Every 0 means the default
 * beside it.
 */
typedef struct {
    size_t max_output;        /* high watermark of pending output; 0: 1 MiB;
                                 at most MUX_OUTPUT_MAX */
    size_t max_line;          /* longest line (line, auto framing); 0: 64 KiB */
    mux_framing framing;      /* 0: the service's own, else raw */
    uint64_t idle_timeout_ms; /* as mux_server_opts_t's; 0: never */
    uint64_t line_timeout_ms; /* as mux_server_opts_t's; 0: never */
    uint64_t delay_ms;        /* every send this much later; 0: none */
    const mux_faults_t *faults; /* fault injection; NULL: none */
    void *service_arg;          /* mux_conn_service_arg() */
    /* The stream's events (MUX_EV_ERROR, MUX_EV_SERVICE, and last its
     * MUX_EV_CLOSE, with peer, local, transport, bytes and duration
     * filled in; `clients` is 0). NULL: not reported. The event may be
     * changed by the callback. */
    void (*on_event)(mux_conn_t *conn, mux_event_t *ev, void *arg);
    void *event_arg;
} mux_conn_opts_t;

/*
 * Server options. Zero-initialise, then set what you need: every 0 means
 * the default given beside it.
 */
typedef struct {
    int backlog;          /* listen() backlog; 0: SOMAXCONN */
    unsigned max_clients; /* 0: as many as the fds allow */
    size_t max_output;    /* high watermark of pending output per client,
                             past which reading pauses (16 times it
                             drops the client), at most
                             MUX_OUTPUT_MAX; 0: 1 MiB */
    size_t max_line;      /* longest line in line and auto framing; 0: 64 KiB */
    mux_framing framing;  /* 0: the service's default */
    /* Close a client idle this long: nothing read from it, nothing
     * written to it, and no reply of its held back by delay_ms; 0: never.
     * A client that only reads (chargen) is not idle; one that neither
     * sends nor reads while output waits for it is. */
    uint64_t idle_timeout_ms;
    /* Line framing: a line (its first byte read, its LF not yet) may take
     * this long to arrive; past it the client gets "error: line
     * timeout\n" (MUX_EV_ERROR, reason "line timeout") and a close after
     * flush. Bounds clients that trickle a line forever, which
     * idle_timeout_ms alone does not. Raw framing ignores it; 0: never. */
    uint64_t line_timeout_ms;
    uint64_t delay_ms;        /* hold every stream send this long (see
                                 mux_conn_send()), up to delay_ms / 1024
                                 longer: sends falling due in the same
                                 slice share one record; 0: none.
                                 Datagram replies are never delayed */
    const char *full_message; /* sent to a refused client; 0: "server
                                 full\n" */
    /* Decides whether a client may stay, at accept time, and whether a
     * datagram is served: NULL to admit, or a short reason, a string that
     * outlives the server (a literal): a stream client is closed at once,
     * without a word to it, a datagram is dropped unanswered; either is
     * reported as MUX_EV_REFUSE with that reason (datagrams as the reply
     * budget below says). NULL filter: admit all. */
    const char *(*filter)(const struct sockaddr *peer, socklen_t len,
                          void *arg);
    void *filter_arg;
    mux_event_cb *on_event; /* NULL: events are not reported */
    void *event_arg;
    void *service_arg; /* for the service: mux_conn_service_arg() */
    /* Fault injection, for testing clients (the set must outlive the
     * server, or the next mux_server_set_faults()); NULL: none. */
    const mux_faults_t *faults;
    /* Non-zero: TCP and UDP listeners set SO_REUSEPORT before bind(), so
     * that several processes (or servers) can each bind their own socket
     * to the same address; the kernel spreads new connections and
     * datagrams among the sockets. Every socket of such a group must be
     * served: a connection the kernel hands to a socket nobody accepts
     * from waits there. Unix listeners ignore it. Listening fails with
     * -EOPNOTSUPP where the system has no SO_REUSEPORT. */
    int reuseport;
    /* Concurrent stream clients from one source (an IPv4 address, or an
     * IPv6 /64; IPv4-mapped IPv6 counts as IPv4): one more is closed at
     * once, without a word, and reported as MUX_EV_REFUSE "too many
     * clients from this address". Unix clients and those given with
     * mux_server_serve_fd() are not counted. 0: no limit. */
    unsigned max_per_source;
    /* New stream clients admitted in any 1 s (a sliding window over the
     * times of the last max_rate admissions: 8 bytes each); more are
     * closed at once, without a word ("too many new clients per
     * second"). Refused clients do not count. 0: no limit. */
    unsigned max_rate;
    /*
     * The per-source reply budget of datagram services, a token bucket
     * per source (as max_per_source counts sources) in a table of 512
     * recently seen ones: `dgram_rate` replies per second, up to
     * `dgram_burst` at once. A reply over it is not sent
     * (mux_dgram_reply() returns -ENOBUFS). 0: 100 per second, burst 10
     * times the rate; MUX_UNLIMITED: no budget.
     *
     * Always on, whatever the budget: a datagram is not served at all
     * when its source could be a reflecting service or muxd itself --
     * source port 0, below 1024 (echo 7, chargen 19, DNS 53, ...), or one
     * of 1900, 2049, 3702, 5353, 11211 (SSDP, NFS, WS-Discovery, mDNS,
     * memcached), or the port of one of this server's UDP listeners --
     * or an unspecified, broadcast or multicast address.
     *
     * Refused datagrams are counted (mux_server_stats()) and reported as
     * MUX_EV_REFUSE without flooding: the first of a source at once,
     * later ones of the same source at most every 5 s as one event whose
     * `repeats` counts them, at most 10 such events a second in all.
     */
    unsigned dgram_rate;
    unsigned dgram_burst;
} mux_server_opts_t;

/* An option value meaning "no limit" where 0 means "the default". */
#define MUX_UNLIMITED ((unsigned)-1)

/*
 * Creates a server running `service` on `loop`, with `opts` (NULL for all
 * defaults; the struct is copied). `service` must outlive the server.
 * Returns 0, -ENOMEM, or -EINVAL (NULL service, or opts->max_output past
 * MUX_OUTPUT_MAX).
 */
int mux_server_new(mux_loop_t *loop, const mux_service_t *service,
                   const mux_server_opts_t *opts, mux_server_t **server);

/*
 * Closes every listener and client at once (service close callbacks run)
 * and releases the server. Call it outside the server's callbacks. NULL is
 * a no-op.
 */
void mux_server_free(mux_server_t *server);

/*
 * Binds and listens on `addr` (see mux_addr_parse(); default host
 * 127.0.0.1), every address it resolves to ("localhost" gives both
 * 127.0.0.1 and ::1, sharing the port that port 0 picked). Each bound
 * listener is reported as MUX_EV_LISTEN. Returns 0; -EINVAL for an address
 * that does not parse; MUX_ENOHOST or MUX_ENOSERVICE for a name that does not
 * resolve; -EPROTONOSUPPORT for udp:// with a service that has no datagram
 * form; -errno from socket(), bind() or listen(), e.g. -EADDRINUSE,
 * -EMFILE.
 */
int mux_server_listen(mux_server_t *server, const char *addr);

/* The same, for an address already parsed with mux_addr_parse(). */
int mux_server_listen_addr(mux_server_t *server, const mux_addr_t *addr);

/*
 * Serves an already bound socket (inherited, socket activation). A stream
 * socket that is not yet listening is put in listening state. The server
 * owns `fd` from then on, also when this fails. Returns 0 or -errno.
 */
int mux_server_adopt(mux_server_t *server, int fd);

/*
 * Serves an already connected stream socket (a socketpair, an inetd-style
 * inherited client) as one more client: it is made non-blocking and the
 * service's open callback runs. The server owns `fd` from then on, also
 * when this fails. Returns 0,
 * -ESHUTDOWN (after mux_server_shutdown(): `fd` is closed), or -errno.
 */
int mux_server_serve_fd(mux_server_t *server, int fd);

/*
 * The addresses the server listens on, formatted like
 * "tcp 127.0.0.1:43121", "udp [::1]:7", "unix /tmp/x.sock": up to `max`
 * pointers into server memory, valid until the server changes. Returns how
 * many listeners there are (which may exceed `max`).
 */
size_t mux_server_addresses(const mux_server_t *server, const char **out,
                            size_t max);

/*
 * Graceful shutdown: accepts every client already waiting in a listener's
 * queue (its connect() returned: a close would reset it; admitted as
 * usual, whatever pause or accept delay holds), closes the listeners,
 * answers what every client has
 * already sent (input already in the socket is read and served), then
 * closes each client once its output is flushed. Clients still open after
 * `timeout_ms` (0: no limit) are closed at once. Reports MUX_EV_SHUTDOWN,
 * then MUX_EV_DONE when the last client is gone (at once if there is
 * none). Calling it again does nothing.
 */
void mux_server_shutdown(mux_server_t *server, uint64_t timeout_ms);

/*
 * The usual graceful Ctrl-C in one call: on the first SIGINT or SIGTERM,
 * mux_server_shutdown(server, timeout_ms), and once it reports MUX_EV_DONE
 * the loop stops (mux_run() returns 0); a second signal closes every
 * client at once and stops the loop. Takes both signals over with
 * mux_signal() (one owner per signal: a later mux_signal() for either
 * replaces this); mux_server_free() gives them back. Returns 0 or -errno
 * from mux_signal(), having watched neither.
 */
int mux_server_stop_on_signals(mux_server_t *server, uint64_t timeout_ms);

/*
 * Stops accepting: closes every listener (stream and datagram; a unix
 * socket's path is removed), while the clients already connected are
 * served on as before. Unlike mux_server_shutdown() it reports no event and
 * sets no deadline: mux_server_clients() tells when the last client has
 * gone. Safe from any callback, also from the MUX_EV_ACCEPT of a client:
 * clients still waiting in a closed listener's backlog are never accepted
 * (the system resets them). Afterwards mux_server_addresses() returns 0.
 */
void mux_server_close_listeners(mux_server_t *server);

/*
 * Closes the one listener bound at `local` (MUX_EV_LISTEN's address, as
 * "127.0.0.1:9999", "[::1]:9999" or a unix socket's path), as
 * mux_server_close_listeners() closes them all: its clients are served
 * on, its backlog is reset, a unix socket's path is removed. Safe from
 * any callback. Returns 0, or -ENOENT if no listener is bound there.
 */
int mux_server_close_listener(mux_server_t *server, const char *local);

/*
 * Pauses (`paused` non-zero) or resumes accepting stream clients, without
 * closing anything: while paused the listeners stay bound but are not
 * watched, so new clients wait in the kernel's backlog (their connect
 * completes; once the backlog is full the system refuses or drops more)
 * and are accepted, oldest first, after the resume. Clients already
 * connected are served on; datagram listeners keep serving; listeners
 * added while paused start paused. Pausing twice is the same as once.
 * Safe from any callback.
 */
void mux_server_pause_accepting(mux_server_t *server, int paused);

/* Non-zero while mux_server_pause_accepting() holds accepting paused. */
int mux_server_accepting_paused(const mux_server_t *server);

/*
 * Changes opts.faults while the server runs: new clients get them, and so
 * does every client still following the server's faults (not one given
 * its own with mux_conn_set_faults()), at once, as mux_conn_set_faults()
 * says; MUX_FAULT_ACCEPT_DELAY_MS applies from the next readiness of a
 * listener. The server keeps the pointer (NULL: no faults): call again,
 * with the same set, after changing it.
 */
void mux_server_set_faults(mux_server_t *server, const mux_faults_t *faults);

/* The faults the server's clients follow unless given their own. */
const mux_faults_t *mux_server_faults(const mux_server_t *server);

/* Changes opts.max_clients (0: no limit but the fds') for new clients. */
void mux_server_set_max_clients(mux_server_t *server, unsigned max_clients);

/* Clients connected right now. */
size_t mux_server_clients(const mux_server_t *server);

/* Counters of a server since mux_server_new(), for mux_server_stats(). */
typedef struct {
    uint64_t clients;   /* stream clients connected now */
    uint64_t accepted;  /* stream clients admitted (a MUX_EV_ACCEPT each) */
    uint64_t refused;   /* stream clients turned away (a MUX_EV_REFUSE
                           each), those counted below included */
    uint64_t bytes_in;  /* read from stream clients and datagrams received */
    uint64_t bytes_out; /* written to stream clients, datagrams replied */
    uint64_t refused_per_source; /* of refused: over max_per_source */
    uint64_t refused_rate;       /* of refused: over max_rate */
    /* Datagrams not answered (see mux_server_opts_t.dgram_rate): */
    uint64_t dgram_denied;      /* refused by the filter */
    uint64_t dgram_guarded;     /* from a source that could reflect them */
    uint64_t dgram_over_budget; /* replies over the per-source budget */
} mux_server_stats_t;

/*
 * Fills *stats with the server's counters. No system call; it walks the
 * connected clients to add up their bytes (so that reads and writes, the
 * hot path, count into the client alone). Never fails.
 */
void mux_server_stats(const mux_server_t *server, mux_server_stats_t *stats);

/*
 * Serves a connected stream socket `fd` (TCP or unix: accepted, connected
 * outbound with mux_connect(), or handed in) with `service`, on its own:
 * no server, no listener. The stream owns `fd` from the call on (closed on
 * failure too); it is made non-blocking and close-on-exec. The service's
 * open callback runs before this returns (it may close the stream: *out
 * is still valid until the end of the loop turn). `opts` must outlive the
 * stream. Returns 0, -ENOMEM, -EINVAL (max_output past MUX_OUTPUT_MAX, no
 * service), or -errno of getpeername()/getsockname() (-ENOTCONN: not
 * connected).
 */
int mux_conn_new(mux_loop_t *loop, int fd, const mux_service_t *service,
                 const mux_conn_opts_t *opts, mux_conn_t **out);

/*
 * The faults of this stream from now on (NULL: its opts' again; call
 * again with the same set after changing it). `faults` must outlive the
 * stream or the next call. What changes reaches the open stream at once:
 * bytes already held keep the due time they got and go as the new chain
 * lets them (a stall lifted releases them; a new latency applies to later
 * sends; a stage that changed its numbers acts with the new ones from
 * now), stall and timeout stop or restart reading, limit_time and timeout
 * count from this call. MUX_FAULT_ACCEPT_DELAY_MS is a server's and means
 * nothing here.
 */
void mux_conn_set_faults(mux_conn_t *conn, const mux_faults_t *faults);

/* The faults this stream follows (its opts', or mux_conn_set_faults()'s). */
const mux_faults_t *mux_conn_faults(const mux_conn_t *conn);

/* The loop a server or a connection runs on. */
mux_loop_t *mux_server_loop(const mux_server_t *server);
mux_loop_t *mux_conn_loop(const mux_conn_t *conn);

/*
 * Queues `len` bytes for the client: written at once as far as the socket
 * takes them, the rest when it is writable. With opts.delay_ms the bytes
 * are held back instead and written that much later, by a timer (never by
 * blocking): output keeps the order it was sent in, a close after flush
 * waits for it, a close now discards it. Held-back bytes count as pending
 * (mux_conn_pending()); opts.faults' stages hold bytes on the
 * same queue. The watermarks count what pending output costs: its bytes,
 * plus 16 per group of held-back sends that fall due together (at most
 * 65 groups). Past the high watermark the server stops reading
 * this client until its output drains; past 16 times it the client is
 * dropped (MUX_EV_CLOSE, reason "output overflow"). Returns 0; -EPIPE if
 * the connection is closing or closed (or a write failed: the connection
 * is closed then); -ENOBUFS after an overflow; -ENOMEM (the connection is
 * closed).
 */
int mux_conn_send(mux_conn_t *conn, const void *data, size_t len);

/* The most pieces mux_conn_sendv() and mux_dgram_replyv() take. */
#define MUX_IOV_MAX 64

/*
 * mux_conn_send() of the `iovcnt` pieces one after another, without
 * joining them first: one sendmsg() when nothing is queued (a reply and
 * its line end leave in one write). The same returns, and -EINVAL for an
 * iovcnt outside 0..MUX_IOV_MAX. The pieces are not kept.
 */
int mux_conn_sendv(mux_conn_t *conn, const struct iovec *iov, int iovcnt);

/*
 * Closes the connection: MUX_CLOSE_AFTER_FLUSH stops reading and closes
 * once pending output is written; MUX_CLOSE_NOW discards it;
 * MUX_CLOSE_RESET is AFTER_FLUSH ending in a reset (SO_LINGER {1, 0}) where
 * TCP has one, so the peer reads ECONNRESET after the last bytes.
 * MUX_CLOSE_WRITE only half-closes: once pending output is written the
 * peer gets a FIN (reads EOF), while its bytes are still read and served;
 * mux_conn_send() returns -EPIPE from then on (a relay passes on a
 * half-close this way); under MUX_FAULT_RST, which never sends a FIN, the
 * stream resets instead once its output is written. Safe from any
 * callback, also for another connection; the memory is released at the end
 * of the loop turn and the service's close callback runs exactly once.
 */
void mux_conn_close(mux_conn_t *conn, int how);

/*
 * Stops reading from the client until mux_conn_resume_reading(), whatever
 * its own output does: a broker holds back a sender while others have not
 * read its last messages (bytes the client sends wait in the kernel). The
 * library's own pause past the high watermark is separate: reading
 * resumes when neither holds it. Both are no-ops on a closed connection
 * and safe from any callback.
 */
void mux_conn_pause_reading(mux_conn_t *conn);
void mux_conn_resume_reading(mux_conn_t *conn);

/*
 * Whether reading this stream pauses while its own pending output is past
 * the high watermark (on: 1, the default: a service that answers what it
 * reads, echo, must not queue without bound for a client that sends but
 * does not read). A relay turns it off for both its streams: what one
 * reads goes to the other, and the other's watermark pauses it instead
 * (mux_conn_pause_reading()); with it on, two streams that each wait for
 * the other to read would both stop. The hard cap (16 times the
 * watermark) still applies. Safe from any callback.
 */
void mux_conn_pause_on_output(mux_conn_t *conn, int on);

/*
 * Whether the service's drain callback runs for this stream (on: 1, the
 * default). On, a producer is fed: the socket is watched for writability
 * whenever pending output is at or below half the high watermark, and
 * drain runs each time. A relay keeps it off, and turns it on only while
 * it holds its other stream back for this one's sake: the next drain
 * says this one's output fell to half the watermark (turn it off there).
 * No effect for a service without drain; safe from any callback.
 */
void mux_conn_want_drain(mux_conn_t *conn, int on);

/* Bytes waiting to be written to the client, those held back by
 * opts.delay_ms or opts.faults (a stage's split, drop_after, ...)
 * included. */
size_t mux_conn_pending(const mux_conn_t *conn);

/*
 * How this connection's input is cut into messages: MUX_FRAMING_RAW,
 * MUX_FRAMING_LINE or MUX_FRAMING_AUTO (never MUX_FRAMING_DEFAULT; the
 * server resolved it from opts.framing and the service's default). A
 * service that answers lines uses it to end its replies the way the client
 * ends its messages: in line framing the terminator was cut off before the
 * message callback; in raw and auto framing it is still there.
 */
mux_framing mux_conn_framing(const mux_conn_t *conn);

/* The high watermark (opts.max_output) of this connection. */
size_t mux_conn_watermark(const mux_conn_t *conn);

/* A stream's own counters, for mux_conn_stats(). */
typedef struct {
    uint64_t bytes_in;  /* read from the peer */
    uint64_t bytes_out; /* written to the peer */
    uint64_t age_ms;    /* since the stream was made (accepted, or
                           mux_conn_new()), on the loop's clock */
} mux_conn_stats_t;

/* Fills *stats with the stream's counters. No system call; never fails. */
void mux_conn_stats(const mux_conn_t *conn, mux_conn_stats_t *stats);

/* Client and listener addresses as text ("1.2.3.4:5678"; "unix"). */
const char *mux_conn_peer(const mux_conn_t *conn);
const char *mux_conn_local(const mux_conn_t *conn);

/* A small number unique per server, starting at 1 (chat's "userN"); 0
 * for a stream of mux_conn_new(). */
uint64_t mux_conn_id(const mux_conn_t *conn);

/* Per-connection data of the service (NULL until set). */
void *mux_conn_data(const mux_conn_t *conn);
void mux_conn_set_data(mux_conn_t *conn, void *data);

/* The opts.service_arg it was made with, and the server it is a client
 * of (NULL for a stream of mux_conn_new()). */
void *mux_conn_service_arg(const mux_conn_t *conn);
mux_server_t *mux_conn_server(const mux_conn_t *conn);

/*
 * Calls `fn` for every open client of the server (not closing ones), e.g.
 * to broadcast, newest first. `fn` may close or send to any connection;
 * clients that arrive meanwhile are not visited.
 */
void mux_server_foreach(mux_server_t *server,
                        void (*fn)(mux_conn_t *conn, void *arg), void *arg);

/*
 * As mux_server_foreach(), closing clients included: every client that
 * mux_server_clients() and mux_server_stats() count (one still flushing
 * its output or waiting for its peer's close is one of them), e.g. to
 * list them, close one, or bring its faults up to date.
 */
void mux_server_foreach_all(mux_server_t *server,
                            void (*fn)(mux_conn_t *conn, void *arg), void *arg);

/* Non-zero once the stream is closing (a close was asked: it flushes its
 * output or waits for its peer's close), until it is gone. */
int mux_conn_closing(const mux_conn_t *conn);

/*
 * Why the stream closed, for its service's close callback: NULL while it
 * is open or closing; from the moment it closed (its close callback and
 * its MUX_EV_CLOSE, for the rest of that loop turn, while `conn` is
 * valid) the same reason as MUX_EV_CLOSE's, a string that is never freed:
 * e.g. "client closed" (the peer's EOF), "reset by client", "idle
 * timeout", "closed by server" (MUX_CLOSE_NOW), "closed" (a close after
 * flush ended), "output overflow", "server stopped". mux_conn_close_error()
 * gives MUX_EV_CLOSE's `err` likewise: -errno when a read or write failed
 * (-ECONNRESET for "reset by client"), else 0 (also before the close).
 */
const char *mux_conn_close_reason(const mux_conn_t *conn);
int mux_conn_close_error(const mux_conn_t *conn);

/*
 * Reports a service log line (MUX_EV_SERVICE) about `conn`. `text` may hold
 * any bytes; the program escapes it before printing.
 */
void mux_conn_log(mux_conn_t *conn, const char *text, size_t len);

/* Datagrams: answer the sender of the datagram being served. Returns 0 or
 * -errno (-EMSGSIZE for a reply too large for one datagram; -ENOBUFS when
 * the sender's reply budget is spent: nothing was sent). */
int mux_dgram_reply(mux_dgram_t *dgram, const void *data, size_t len);
/* The same for a reply in pieces (one datagram); -EINVAL as
 * mux_conn_sendv(). */
int mux_dgram_replyv(mux_dgram_t *dgram, const struct iovec *iov, int iovcnt);
const char *mux_dgram_peer(const mux_dgram_t *dgram);
void *mux_dgram_service_arg(const mux_dgram_t *dgram);

/*
 * Reports a service log line (MUX_EV_SERVICE, conn NULL, peer the sender,
 * transport MUX_UDP) about the datagram being served, as mux_conn_log()
 * does for a stream. `text` may hold any bytes; it is not copied.
 */
void mux_dgram_log(mux_dgram_t *dgram, const char *text, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* MUX_H */
