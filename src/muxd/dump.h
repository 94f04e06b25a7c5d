/*
 * dump.h -- --dump: the bytes a relay carries, both directions, as hex
 * and printable text with timestamps, directions and offsets (in the
 * manner of ncat -x and socat -x -v), one file per connection in a
 * directory (named so that no two processes, and no two connections of
 * one, ever share one), or all of them on stderr through the log's bounded
 * queue. Never blocks the loop; never holds more than one line block in memory;
 * never writes more than --dump-max bytes of text for one connection
 * (then the rest of its bytes are only counted, for its closing line).
 */
#ifndef MUXD_DUMP_H
#define MUXD_DUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where a connection's bytes go, and how far each direction got. */
typedef struct {
    int fd;            /* its file, -1 for stderr (or none) */
    bool on;           /* dumping */
    bool truncated;    /* `max` reached: bytes are counted, not dumped */
    uint64_t id;       /* the client's connection number */
    uint64_t off[2];   /* bytes relayed so far: [MUXD_DUMP_UP], [.._DOWN] */
    bool failed;       /* a write to its file failed (said once) */
    uint64_t dropped;  /* bytes of text its file did not take */
    uint64_t max;      /* the most text it writes (--dump-max) */
    uint64_t written;  /* text it wrote so far, up to `max` */
    uint64_t undumped; /* bytes relayed past `max`, both ways */
} muxd_dump_conn_t;

/* The directions: toward the upstream, toward the client. */
enum { MUXD_DUMP_UP = 0, MUXD_DUMP_DOWN = 1 };

/* Room for a tag and its NUL. */
#define MUXD_DUMP_TAG_MAX 48

/*
 * The part of the file names that is this process's own: its start time
 * (UTC, to the second) and pid, "20261206T200817Z-4242". Made once per
 * serving process (each --workers process, a replacement too, has its own).
 */
void muxd_dump_tag(char tag[MUXD_DUMP_TAG_MAX]);

/*
 * Checks that `where` ("-" or a directory) can take dumps. Returns 0, or
 * -errno (-ENOTDIR, -EACCES, -ENOENT; -ENAMETOOLONG where a file name in
 * it would not fit PATH_MAX) for a message at start.
 */
int muxd_dump_check(const char *where);

/*
 * Starts the dump of connection `id` between `client` and `upstream`:
 * `where` is "-" (stderr) or a directory, where it creates
 * conn-TAG-ID.txt (`tag` from muxd_dump_tag()), mode 0600, a new file
 * only: a file or link already there is left alone (-EEXIST), a path
 * past PATH_MAX is -ENAMETOOLONG. At most `max` bytes of text are
 * written for it (whole lines), then one line saying it was truncated,
 * and the closing line. Returns 0 or -errno (nothing is dumped for it
 * then).
 */
int muxd_dump_open(muxd_dump_conn_t *dump, const char *where, const char *tag,
                   uint64_t max, uint64_t id, const char *client,
                   const char *upstream);

/* Dumps `len` bytes that went in direction `dir` (MUXD_DUMP_UP/DOWN). */
void muxd_dump_bytes(muxd_dump_conn_t *dump, int dir, const char *data,
                     size_t len);

/* Ends the dump with a line saying why (`reason`), how many bytes went
 * each way and, past `max`, how many were not dumped; closes its file. */
void muxd_dump_close(muxd_dump_conn_t *dump, const char *reason);

#endif
