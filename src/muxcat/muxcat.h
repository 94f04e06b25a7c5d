/*
 * muxcat.h -- what the parts of muxcat share: the options, the byte buffer
 * between the socket and stdin/stdout, connecting, and the three modes
 * (pipe, script, resolve).
 */
#ifndef MUXCAT_H
#define MUXCAT_H

#include "mux.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

enum { MUXCAT_EXIT_OK = 0, MUXCAT_EXIT_FAIL = 1, MUXCAT_EXIT_USAGE = 2 };

/* Enough for the largest UDP payload, so one datagram always fits. */
#define MUXCAT_BUF_SIZE (64 * 1024)

/* The most addresses a name may resolve to that we try to connect to. */
#define MUXCAT_MAX_ADDRS 16

/*
 * One step of a script: send `send` (NULL for the greeting, which sends
 * nothing), then read the reply and, if `expect` is set, compare it.
 */
typedef struct {
    char *send;         /* TEXT plus the line end of -n/--crlf, owned */
    size_t send_len;    /* all of it */
    size_t text_len;    /* TEXT alone, for messages */
    const char *expect; /* NULL: print the reply, compare nothing */
    size_t expect_len;
} muxcat_step_t;

typedef struct {
    mux_addr_t addr;
    char target[MUX_ADDRSTRLEN + 300]; /* "127.0.0.1:9", for messages */
    mux_sockaddr_t resolved[MUXCAT_MAX_ADDRS];
    size_t nresolved;
    uint64_t wait_ms;     /* -w: the bound of every wait */
    uint64_t idle_ms;     /* --idle: the quiet time that ends a reply */
    uint64_t max_time_ms; /* -m: the limit of the whole run, 0 none */
    bool until_close;
    bool script;          /* any --send or --expect given */
    muxcat_step_t *steps; /* steps[0] is the greeting */
    size_t nsteps;
} muxcat_opts_t;

/* ---- buf.c: a fixed buffer between two descriptors ---- */

typedef struct {
    char data[MUXCAT_BUF_SIZE];
    size_t off; /* first unsent byte */
    size_t len; /* bytes after off */
} muxcat_buf_t;

/* Free room at the end (moves the bytes to the front when that helps). */
size_t muxcat_buf_space(muxcat_buf_t *buf);
/* Appends; the caller made sure that len <= muxcat_buf_space(). */
void muxcat_buf_put(muxcat_buf_t *buf, const void *data, size_t len);
/*
 * Reads once from `fd` into the free room (at most `max` bytes). Returns
 * the bytes read, 0 at end of file, -EAGAIN when nothing is there now, or
 * -errno. Meant to be called when select() reported `fd` readable.
 */
ssize_t muxcat_buf_read(muxcat_buf_t *buf, int fd, size_t max);
/*
 * Writes from the front of the buffer to `fd`, which select() reported
 * writable. A socket is written with send(MSG_NOSIGNAL); anything else
 * (stdout, left blocking because other processes share it) gets at most
 * PIPE_BUF bytes, which a writable pipe takes without blocking. Returns the
 * bytes written, -EAGAIN, or -errno.
 */
ssize_t muxcat_buf_write(muxcat_buf_t *buf, int fd, bool is_socket);

/* ---- connect.c: resolving and connecting without blocking ---- */

/*
 * Fills opts->resolved from opts->addr (getaddrinfo: call it before the
 * loop runs). Prints the error and returns -1 if the name does not resolve.
 */
int muxcat_resolve_target(muxcat_opts_t *opts);

/* Called once the connection stands, with the non-blocking socket (the
 * mode owns it from then on). */
typedef void muxcat_connected_cb(mux_loop_t *loop, int sock, void *arg);

/*
 * Runs one connection: creates a loop in *loop, connects to each resolved
 * address in turn (non-blocking connect, each attempt bounded by
 * opts->wait_ms) until one succeeds, calls `cb`, and runs the loop until a
 * callback calls mux_stop(), or until opts->max_time_ms (if not 0) have
 * passed since the start: then it prints "muxcat: TARGET: time limit (N s)
 * reached" and stops the loop, whatever the mode was doing. Frees the loop
 * before returning. Returns 0, or -1 after printing why (cannot connect,
 * the time limit, the loop failed).
 */
int muxcat_session(const muxcat_opts_t *opts, mux_loop_t **loop,
                   muxcat_connected_cb *cb, void *arg);

/* Prints "muxcat: cannot connect to TARGET: error". */
void muxcat_connect_failed(const muxcat_opts_t *opts, int err);

/*
 * Prints a failed read or write on the connected socket: "TARGET: error",
 * or, for ECONNREFUSED (what a UDP socket gets when no server listens),
 * the same message as a failed connect.
 */
void muxcat_socket_failed(const muxcat_opts_t *opts, int err);

/* ---- text.c: escaped output (escapes in TEXT: src/common/escape.h) ---- */

/* Writes `data` to `out` in double quotes, control bytes escaped. */
void muxcat_print_escaped(FILE *out, const char *data, size_t len);

/* ---- the modes; each returns the exit status ---- */

int muxcat_pipe(const muxcat_opts_t *opts);                /* pipe.c */
int muxcat_script(const muxcat_opts_t *opts);              /* script.c */
int muxcat_resolve(const char *host, const char *service); /* resolve.c */
/* Sends `command` (ending in a line end) to muxd's control socket at
 * opts->addr and prints the reply line: 0 for a reply that is no error,
 * 1 for {"ok":false,...}, no reply within opts->wait_ms, or a failure. */
int muxcat_control(const muxcat_opts_t *opts, const char *command);
/* control.c */

/*
 * Queues `len` bytes of `text` (whole lines) for stderr and writes what
 * it takes now, never blocking: a stderr nobody reads must not stop
 * muxcat. The rest is written as it drains, waiting at most 100 ms at
 * exit; past 64 KiB, text is lost.
 */
void muxcat_message(const char *text, size_t len);

/* Prints "muxcat: <message>" to stderr (muxcat_message()). */
void muxcat_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#endif /* MUXCAT_H */
