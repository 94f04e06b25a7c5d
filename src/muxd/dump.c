/*
 * dump.c -- --dump (dump.h). A connection's bytes are formatted into one
 * block at a time on the stack and written at once: to its own file (a
 * regular file: write() does not wait for a reader) or through the log's
 * queue to stderr (bounded: what it cannot hold is dropped and counted).
 * Each connection writes at most its `max` bytes of text, in whole lines;
 * past it, the bytes relayed are only counted.
 */
#define _POSIX_C_SOURCE 200809L

#include "dump.h"
#include "log.h"
#include "timestamp.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* One block of text, written whole; a hex line is 78 bytes. */
#define BLOCK_MAX 8192
#define LINE_MAX_LEN 160

typedef struct {
    char text[BLOCK_MAX];
    size_t len;
} block_t;

void muxd_dump_tag(char tag[MUXD_DUMP_TAG_MAX]) {
    time_t now = time(NULL);
    struct tm tm;
    size_t n = gmtime_r(&now, &tm)
                   ? strftime(tag, MUXD_DUMP_TAG_MAX, "%Y%m%dT%H%M%SZ-", &tm)
                   : 0;
    snprintf(tag + n, MUXD_DUMP_TAG_MAX - n, "%ld", (long)getpid());
}

/* DIR/conn-TAG-ID.txt in path[PATH_MAX]. Returns 0, or -ENAMETOOLONG
 * where it does not fit (never a name cut short). */
static int dump_path(char path[PATH_MAX], const char *where, const char *tag,
                     uint64_t id) {
    int n =
        snprintf(path, PATH_MAX, "%s/conn-%s-%" PRIu64 ".txt", where, tag, id);
    return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

int muxd_dump_check(const char *where) {
    struct stat st;
    if (strcmp(where, "-") == 0)
        return 0;
    char tag[MUXD_DUMP_TAG_MAX], path[PATH_MAX];
    muxd_dump_tag(tag);
    if (dump_path(path, where, tag, 1) < 0)
        return -ENAMETOOLONG;
    if (stat(where, &st) < 0)
        return -errno;
    if (!S_ISDIR(st.st_mode))
        return -ENOTDIR;
    return access(where, W_OK | X_OK) < 0 ? -errno : 0;
}

/* A write to the dump's file failed (ENOSPC, EFBIG past `ulimit -f`...):
 * said once per connection; the bytes lost are counted for its closing
 * line, if that still fits. */
static void dump_failed(muxd_dump_conn_t *dump, int err) {
    if (dump->failed)
        return;
    dump->failed = true;
    muxd_log_error("cannot write the dump of conn %" PRIu64
                   ": %s (what it cannot take is lost, and counted)",
                   dump->id, mux_strerror(err));
}

/* Writes the block where the dump goes, and empties it. */
static void block_flush(muxd_dump_conn_t *dump, block_t *b) {
    if (b->len == 0)
        return;
    if (dump->fd < 0) {
        muxd_log_raw(b->text, b->len);
    } else {
        size_t done = 0;
        while (done < b->len) {
            ssize_t n = write(dump->fd, b->text + done, b->len - done);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) { /* disk full, file too large...: lost, counted */
                dump_failed(dump, n < 0 ? -errno : -EIO);
                dump->dropped += b->len - done;
                break;
            }
            done += (size_t)n;
        }
    }
    b->len = 0;
}

/* Appends one line to the block (flushing the block first when it is
 * nearly full). A line that would take the connection's text past its
 * max is left out, and false returned, unless `forced` (the lines that
 * end a dump, which are not counted). */
static bool block_add(muxd_dump_conn_t *dump, block_t *b, bool forced,
                      const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool block_add(muxd_dump_conn_t *dump, block_t *b, bool forced,
                      const char *fmt, ...) {
    if (BLOCK_MAX - b->len < LINE_MAX_LEN)
        block_flush(dump, b);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->text + b->len, BLOCK_MAX - b->len, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return true;
    size_t len =
        (size_t)n < BLOCK_MAX - b->len ? (size_t)n : BLOCK_MAX - 1 - b->len;
    if (!forced) {
        if (len > dump->max - dump->written)
            return false; /* formatted past b->len: not taken */
        dump->written += len;
    }
    b->len += len;
    return true;
}

/* The max is reached: `left` bytes of this read, and every later one,
 * are counted, not dumped; one line says so. */
static void truncate_dump(muxd_dump_conn_t *dump, block_t *b, const char *ts,
                          size_t left) {
    dump->truncated = true;
    dump->undumped += left;
    block_add(dump, b, true,
              "# %s conn %" PRIu64 " truncated at %" PRIu64
              " bytes (--dump-max): later bytes only counted\n",
              ts, dump->id, dump->max);
}

/* Creates the dump's file: a new one, never a file or link already
 * there, readable by muxd's user alone (it holds what was relayed,
 * passwords included). Returns the fd or -errno. */
static int create_file(const char *where, const char *tag, uint64_t id) {
    char path[PATH_MAX];
    int err = dump_path(path, where, tag, id);
    if (err < 0)
        return err;
    int fd = open(path,
                  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC |
                      O_NONBLOCK | O_NOCTTY,
                  0600);
    return fd < 0 ? -errno : fd;
}

int muxd_dump_open(muxd_dump_conn_t *dump, const char *where, const char *tag,
                   uint64_t max, uint64_t id, const char *client,
                   const char *upstream) {
    memset(dump, 0, sizeof(*dump));
    dump->fd = -1;
    dump->id = id;
    dump->max = max;
    if (strcmp(where, "-") != 0 &&
        (dump->fd = create_file(where, tag, id)) < 0) {
        int err = dump->fd;
        dump->fd = -1;
        return err;
    }
    dump->on = true;
    char ts[TIMESTAMP_MAX];
    timestamp_utc(ts, 6); /* 2024-05-01T12:00:00.123456Z */
    block_t b = {.len = 0};
    if (!block_add(dump, &b, false,
                   "# %s conn %" PRIu64 " client %s upstream %s\n", ts, id,
                   client, upstream))
        truncate_dump(dump, &b, ts, 0); /* a max shorter than a line */
    block_flush(dump, &b);
    return 0;
}

/* One hexdump -C line: offset, 16 bytes in hex, the printable ones.
 * Returns false if it did not fit under the max. */
static bool hex_line(muxd_dump_conn_t *dump, block_t *b, uint64_t off,
                     const unsigned char *p, size_t n) {
    char hex[16 * 3 + 2], text[17];
    size_t h = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i == 8)
            hex[h++] = ' ';
        if (i < n)
            h += (size_t)snprintf(hex + h, sizeof(hex) - h, "%02x ", p[i]);
        else {
            memcpy(hex + h, "   ", 3);
            h += 3;
        }
        text[i] =
            i < n ? (p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '.') : '\0';
    }
    hex[h] = '\0';
    text[16] = '\0';
    return block_add(dump, b, false, "%08" PRIx64 "  %s |%s|\n", off, hex,
                     text);
}

void muxd_dump_bytes(muxd_dump_conn_t *dump, int dir, const char *data,
                     size_t len) {
    if (!dump->on || len == 0)
        return;
    uint64_t from = dump->off[dir];
    dump->off[dir] += len;
    if (dump->truncated) {
        dump->undumped += len;
        return;
    }
    char ts[TIMESTAMP_MAX];
    timestamp_utc(ts, 6); /* 2024-05-01T12:00:00.123456Z */
    block_t b = {.len = 0};
    size_t done = 0;
    if (block_add(dump, &b, false,
                  "%c %s conn %" PRIu64 " %s length=%zu from=%" PRIu64
                  " to=%" PRIu64 "\n",
                  dir == MUXD_DUMP_UP ? '>' : '<', ts, dump->id,
                  dir == MUXD_DUMP_UP ? "up" : "down", len, from,
                  from + len - 1))
        for (size_t n; done < len; done += n) {
            n = len - done < 16 ? len - done : 16;
            if (!hex_line(dump, &b, from + done,
                          (const unsigned char *)data + done, n))
                break;
        }
    if (done < len)
        truncate_dump(dump, &b, ts, len - done);
    block_flush(dump, &b);
}

void muxd_dump_close(muxd_dump_conn_t *dump, const char *reason) {
    if (!dump->on)
        return;
    char ts[TIMESTAMP_MAX];
    timestamp_utc(ts, 6); /* 2024-05-01T12:00:00.123456Z */
    block_t b = {.len = 0};
    block_add(dump, &b, true,
              "# %s conn %" PRIu64 " closed: %s (%" PRIu64 " bytes up, %" PRIu64
              " bytes down",
              ts, dump->id, reason, dump->off[MUXD_DUMP_UP],
              dump->off[MUXD_DUMP_DOWN]);
    if (dump->truncated)
        block_add(dump, &b, true,
                  "; truncated at %" PRIu64 " bytes of dump, %" PRIu64
                  " bytes not dumped",
                  dump->max, dump->undumped);
    if (dump->dropped)
        block_add(dump, &b, true, ", %" PRIu64 " bytes of dump lost",
                  dump->dropped);
    block_add(dump, &b, true, ")\n");
    block_flush(dump, &b);
    if (dump->fd >= 0)
        close(dump->fd);
    dump->fd = -1;
    dump->on = false;
}
