/*
 * ready.c -- readiness announced and taken back (ready.h), on the
 * protocols of fixture.c.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* initgroups() */

#include "ready.h"
#include "fixture.h"
#include "log.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void muxd_ready_init(muxd_ready_t *ready, const char *pidfile,
                     const char *ready_file) {
    *ready = (muxd_ready_t){.pidfile = {.path = pidfile},
                            .ready_file = {.path = ready_file},
                            .report_fd = -1};
}

void muxd_ready_init_report(muxd_ready_t *ready, int report_fd) {
    muxd_ready_init(ready, NULL, NULL);
    ready->reports = true;
    ready->report_fd = report_fd;
}

char *muxd_ready_text(const mux_server_t *server) {
    size_t n = mux_server_addresses(server, NULL, 0);
    const char **names = malloc((n ? n : 1) * sizeof(*names));
    char *text = malloc(n * (MUX_ADDRSTRLEN + 8) + 1);
    if (names && text) {
        mux_server_addresses(server, names, n);
        size_t len = 0;
        for (size_t i = 0; i < n; i++)
            len += (size_t)sprintf(text + len, "%s\n", names[i]);
        text[len] = '\0';
    } else {
        free(text);
        text = NULL;
    }
    free(names);
    return text;
}

/* Writes one announced file, if asked for; logs a failure. */
static int write_file(const char *what, muxd_ready_file_t *file,
                      const char *data) {
    if (!file->path)
        return 0;
    int err = muxd_write_atomic(file->path, data, strlen(data), &file->made);
    if (err < 0)
        muxd_log_error("cannot write the %s %s: %s", what, file->path,
                       mux_strerror(err));
    file->written = err == 0;
    return err;
}

static void notify(const char *state) {
    int err = muxd_notify(state);
    if (err < 0)
        muxd_log_error("cannot send %s to NOTIFY_SOCKET %s: %s", state,
                       getenv("NOTIFY_SOCKET"), mux_strerror(err));
}

/* --user: become NAME (groups too) for good, after binding. */
static int drop_privileges(const char *name) {
    struct passwd *pw = getpwnam(name);
    if (!pw) {
        muxd_log_error("cannot switch to user %s: no such user", name);
        return -ENOENT;
    }
    if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
        setuid(pw->pw_uid) < 0) {
        int err = -errno;
        muxd_log_error("cannot switch to user %s: %s", name, mux_strerror(err));
        return err;
    }
    if (pw->pw_uid != 0 && setuid(0) == 0) { /* must not be able to return */
        muxd_log_error("cannot switch to user %s: root could be regained",
                       name);
        return -EPERM;
    }
    return 0;
}

/* "listening on LINE\n" for each line of `lines`, in one string to free. */
static char *ready_lines(const char *lines) {
    size_t n = 1;
    for (const char *p = lines; *p; p++)
        n += *p == '\n' ? 14 : 1;
    char *out = malloc(n + 14), *o = out;
    for (const char *p = lines; out && *p;) {
        size_t len = strcspn(p, "\n");
        o += sprintf(o, "listening on %.*s\n", (int)len, p);
        p += len + (p[len] == '\n');
    }
    if (out)
        *o = '\0';
    return out;
}

/* The ready lines on stdout, then READY=1. */
static int announce_lines(const char *lines) {
    char *text = ready_lines(lines);
    int err =
        text ? muxd_write_all(STDOUT_FILENO, text, strlen(text)) : -ENOMEM;
    free(text);
    if (err < 0) {
        muxd_log_error("cannot write the ready lines to stdout: %s",
                       mux_strerror(err));
        return err;
    }
    notify("READY=1");
    return 0;
}

/* A worker tells its parent what it listens on: the ready text, then an
 * empty line to say it is complete. */
static int report(muxd_ready_t *ready, const char *lines) {
    int err = muxd_write_all(ready->report_fd, lines, strlen(lines));
    if (err == 0)
        err = muxd_write_all(ready->report_fd, "\n", 1);
    close(ready->report_fd);
    ready->report_fd = -1;
    if (err < 0)
        muxd_log_error("cannot report to the parent: %s", mux_strerror(err));
    return err;
}

int muxd_ready_announce(muxd_ready_t *ready, const char *lines,
                        const char *user) {
    char pid[32];
    snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    int err = write_file("pidfile", &ready->pidfile, pid);
    if (err == 0)
        err = write_file("ready file", &ready->ready_file, lines);
    if (err == 0 && user)
        err = drop_privileges(user);
    if (err == 0)
        err = ready->reports ? report(ready, lines) : announce_lines(lines);
    return err;
}

void muxd_ready_stopping(muxd_ready_t *ready) {
    if (ready->stopping_sent || ready->reports)
        return;
    ready->stopping_sent = true;
    notify("STOPPING=1");
}

/* Removes one announced file if it is still the one muxd wrote. */
static void remove_file(const char *what, muxd_ready_file_t *file) {
    int err = file->written ? muxd_unlink_own(file->path, &file->made) : 0;
    if (err < 0)
        muxd_log_error("cannot remove the %s %s: %s", what, file->path,
                       mux_strerror(err));
    file->written = false;
}

void muxd_ready_remove(muxd_ready_t *ready) {
    remove_file("pidfile", &ready->pidfile);
    remove_file("ready file", &ready->ready_file);
}
