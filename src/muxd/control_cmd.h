/*
 * control_cmd.h -- the control socket's command language, as a pure
 * function: one line in, one JSON reply out, the command found in a
 * table of rows (muxd's in control.c, which test/fuzz/fuzz_control.c runs
 * on a fake target). docs/fixtures.md lists the commands.
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
 * One command: its words, its argument, and what runs it. Exactly one of
 * the run functions is set; it gets the `target` of muxd_control_command()
 * and writes the whole reply, a JSON object. The usage ("fault del ID"),
 * the arity and the "unknown command (known: ...)" list are built from
 * the rows (muxd's are control.c's muxd_control_commands).
 */
typedef struct {
    const char *name; /* the first word; NULL ends a table */
    /* The second word, for commands that share a first word (fault add,
     * fault list): rows of one name are next to each other. */
    const char *sub;
    const char *arg; /* the argument's name in the usage; NULL: none */
    void (*run)(void *target, muxd_reply_t *reply);
    void (*run_word)(void *target, const char *word, muxd_reply_t *reply);
    /* A decimal id, 1 or more; else "invalid <what>: '...'". */
    void (*run_id)(void *target, uint64_t id, muxd_reply_t *reply);
    const char *what;
    /* With an argument, it must be on or off; without, `flag` is given. */
    void (*run_flag)(void *target, bool on, muxd_reply_t *reply);
    bool flag;
    /* Two arguments ("ID SPEC"): an id as run_id's, then a word. */
    void (*run_id_word)(void *target, uint64_t id, const char *word,
                        muxd_reply_t *reply);
    /* `nargs` words ("NAME LISTEN UPSTREAM"), as they are. */
    void (*run_words)(void *target, const char *const *words,
                      muxd_reply_t *reply);
    size_t nargs;
} muxd_control_cmd_t;

/* A command's usage, "fault del ID", in `buf` (returned). */
const char *muxd_control_usage(const muxd_control_cmd_t *cmd, char *buf,
                               size_t size);

/*
 * Runs one command line of `commands` on `target` (`len` bytes, any
 * bytes, its LF already cut; a CR before it is cut here) and leaves its
 * reply in *reply, which must be empty: always one JSON object on one
 * line, {"ok":false,"error":"..."} for anything that is not a command
 * (unknown words, missing or extra arguments, a line longer than
 * MUXD_CONTROL_LINE_MAX, a NUL, or a CR or LF inside it: never a second
 * command, nor part of a word), or for a reply that failed. Returns
 * whether a command's run function ran (at most one does).
 */
bool muxd_control_command(const char *line, size_t len,
                          const muxd_control_cmd_t *commands, void *target,
                          muxd_reply_t *reply);

#endif
