/*
 * control_cmd.h -- the control socket's command language, as a pure
 * function: one line in, one JSON reply out, the actions done through a
 * table of callbacks (muxd's in control.c; a fuzzer's fakes in
 * test/fuzz/fuzz_control.c). docs/fixtures.md lists the commands.
 */
#ifndef MUXD_CONTROL_CMD_H
#define MUXD_CONTROL_CMD_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest command line, its line end not counted. */
#define MUXD_CONTROL_LINE_MAX 4096
/* The longest reply: past it the reply becomes an error. */
#define MUXD_REPLY_MAX (1024 * 1024)

/* A reply being written: one JSON object, no line end. */
typedef struct {
    char *data; /* NUL-terminated; NULL until something was written */
    size_t len, cap;
    bool failed; /* out of memory, or past MUXD_REPLY_MAX */
} muxd_reply_t;

/* Appends formatted text (JSON the caller vouches for). */
void muxd_reply_add(muxd_reply_t *reply, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends `len` bytes of `text` as a JSON string, quotes included. */
void muxd_reply_string(muxd_reply_t *reply, const char *text, size_t len);
/* The whole reply: {"ok":true}. */
void muxd_reply_ok(muxd_reply_t *reply);
/* The whole reply: {"ok":false,"error":"..."}, the text escaped. */
void muxd_reply_error(muxd_reply_t *reply, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Empties the reply for the next command (its memory kept). */
void muxd_reply_reset(muxd_reply_t *reply);
void muxd_reply_free(muxd_reply_t *reply);

/*
 * What the commands do. Each callback writes the whole reply, a JSON
 * object; `arg` is muxd_control_command()'s. IDs are those of `fault
 * list` and `clients`.
 */
typedef struct {
    void (*stats)(void *arg, muxd_reply_t *reply);
    void (*clients)(void *arg, muxd_reply_t *reply);
    void (*fault_add)(void *arg, const char *spec, muxd_reply_t *reply);
    void (*fault_list)(void *arg, muxd_reply_t *reply);
    void (*fault_del)(void *arg, uint64_t id, muxd_reply_t *reply);
    void (*fault_clear)(void *arg, muxd_reply_t *reply);
    void (*kick)(void *arg, uint64_t id, muxd_reply_t *reply);
    void (*pause)(void *arg, bool paused, muxd_reply_t *reply);
    void (*refuse)(void *arg, bool on, muxd_reply_t *reply);
    void (*shutdown)(void *arg, muxd_reply_t *reply);
} muxd_control_ops_t;

/*
 * Runs one command line (`len` bytes, any bytes, its LF already cut; a
 * CR before it is cut here) and leaves its reply in *reply, which must be
 * empty: always one JSON object on one line, {"ok":false,"error":"..."}
 * for anything that is not a command (unknown words, missing or extra
 * arguments, a line longer than MUXD_CONTROL_LINE_MAX, a NUL, or a CR
 * or LF inside it: never a second command, nor part of a word), or
 * for a reply that failed.
 */
void muxd_control_command(const char *line, size_t len,
                          const muxd_control_ops_t *ops, void *arg,
                          muxd_reply_t *reply);

#endif
