/*
 * ready.h -- how muxd tells the world it is ready, and that it stops: the
 * pidfile and ready file, the ready lines on stdout and READY=1 to
 * $NOTIFY_SOCKET; or, in a --workers worker, a report to its parent,
 * which announces for all. One object holds what was announced, so that
 * it is taken back at exit.
 */
#ifndef MUXD_READY_H
#define MUXD_READY_H

#include "mux.h"

#include <stdbool.h>
#include <sys/stat.h>

/* A file muxd wrote, removed at exit if it is still that file. */
typedef struct {
    const char *path; /* NULL: not asked for */
    bool written;
    struct stat made;
} muxd_ready_file_t;

typedef struct {
    muxd_ready_file_t pidfile, ready_file;
    bool reports;       /* a worker: its parent announces for all */
    int report_fd;      /* the worker's pipe to its parent, until used */
    bool stopping_sent; /* STOPPING=1 goes once */
} muxd_ready_t;

/* Announces to the world: the files at `pidfile` and `ready_file` (either
 * may be NULL), the ready lines, $NOTIFY_SOCKET. */
void muxd_ready_init(muxd_ready_t *ready, const char *pidfile,
                     const char *ready_file);

/* Announces to a parent instead: the ready text goes to `report_fd` (then
 * closed), followed by an empty line that says it is complete. */
void muxd_ready_init_report(muxd_ready_t *ready, int report_fd);

/*
 * The server's listeners as ready-file text, "tcp 127.0.0.1:43121\n" per
 * listener, in a string the caller frees; NULL when out of memory.
 */
char *muxd_ready_text(const mux_server_t *server);

/*
 * Once everything listens: writes the files while still privileged, then
 * becomes `user` (if not NULL; for good, groups too), then announces
 * `lines` (ready-file text): to a parent, or as "listening on LINE" lines
 * on stdout, written completely, and READY=1 (a script that sees a ready
 * line finds the files). Returns 0, or -errno having logged why.
 */
int muxd_ready_announce(muxd_ready_t *ready, const char *lines,
                        const char *user);

/* Sends STOPPING=1 to $NOTIFY_SOCKET the first time (not from a worker:
 * its parent does). */
void muxd_ready_stopping(muxd_ready_t *ready);

/* Removes the files muxd_ready_announce() wrote, if they are still those
 * files (not another muxd's since). */
void muxd_ready_remove(muxd_ready_t *ready);

#endif
