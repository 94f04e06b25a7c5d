/*
 * outfd.h -- writing a program's own output (stderr, stdout) without ever
 * blocking, and without changing the flags of a file description that
 * other processes share (a terminal, the parent's pipe). Shared by muxd
 * and muxcat; see docs/design.md, "Output that never blocks".
 */
#ifndef MUX_OUTFD_H
#define MUX_OUTFD_H

#include <stddef.h>
#include <sys/types.h>

/* How outfd_write() reaches the file. */
typedef enum {
    OUTFD_PLAIN = 0, /* a regular file or the like: write() never waits */
    OUTFD_PRIVATE,   /* a pipe, FIFO or terminal reopened: our own
                        O_NONBLOCK file description */
    OUTFD_SOCKET,    /* send(MSG_DONTWAIT): no flag is changed */
    OUTFD_POLL,      /* could not reopen: poll() with a zero timeout,
                        then at most PIPE_BUF bytes */
} outfd_how;

typedef struct {
    int fd; /* what to write to, and to watch for writability */
    outfd_how how;
} outfd_t;

/*
 * Opens /dev/null on each of the fds 0, 1 and 2 that is closed, so that
 * nothing the program opens later becomes its stdin, stdout or stderr.
 * Call it first thing in main(). Returns 0 or -errno.
 */
int outfd_open_std(void);

/*
 * Prepares non-blocking writes to `fd` (STDERR_FILENO, STDOUT_FILENO):
 * a pipe, FIFO or character device is reopened through /proc/self/fd as
 * a private file description with O_NONBLOCK and FD_CLOEXEC; a socket is
 * written with send(MSG_DONTWAIT); anything else is written as it is.
 * Never fails: when reopening is not possible, out->how is OUTFD_POLL.
 */
void outfd_open(outfd_t *out, int fd);

/*
 * Writes at most `len` bytes of `data` now. Returns the bytes written
 * (at most PIPE_BUF in OUTFD_POLL), -EAGAIN when the fd cannot take any
 * now, or another -errno (-EPIPE, -ENOSPC...). Never raises SIGPIPE
 * for a socket, never blocks (but see OUTFD_POLL in docs/design.md).
 */
ssize_t outfd_write(const outfd_t *out, const void *data, size_t len);

/*
 * Waits at most `ms` milliseconds for `out` to become writable. Returns
 * 1 if it is, 0 on timeout, -errno on error.
 */
int outfd_wait(const outfd_t *out, int ms);

/* Closes the private description, if outfd_open() made one. */
void outfd_close(outfd_t *out);

#endif
