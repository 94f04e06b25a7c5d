/*
 * control_cmd.c -- the control socket's commands: a line cut into words,
 * checked, and handed to the action it names; replies as JSON objects.
 * No I/O and no state of its own, so that a fuzzer can drive it.
 */
#define _POSIX_C_SOURCE 200809L

#include "control_cmd.h"
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- replies ---- */

static bool reply_grow(muxd_reply_t *reply, size_t more) {
    size_t need = reply->len + more + 1;
    if (reply->failed || need > MUXD_REPLY_MAX) {
        reply->failed = true;
        return false;
    }
    if (need <= reply->cap)
        return true;
    size_t cap = reply->cap ? reply->cap : 256;
    while (cap < need)
        cap *= 2;
    char *data = realloc(reply->data, cap);
    if (!data) {
        reply->failed = true;
        return false;
    }
    reply->data = data;
    reply->cap = cap;
    return true;
}

static void reply_vadd(muxd_reply_t *reply, const char *fmt, va_list ap) {
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    if (n >= 0 && reply_grow(reply, (size_t)n))
        reply->len += (size_t)vsnprintf(reply->data + reply->len,
                                        reply->cap - reply->len, fmt, again);
    va_end(again);
}

void muxd_reply_add(muxd_reply_t *reply, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    reply_vadd(reply, fmt, ap);
    va_end(ap);
}

void muxd_reply_string(muxd_reply_t *reply, const char *text, size_t len) {
    /* At worst 6 bytes of JSON per byte ("\u00XX"), and the quotes. */
    size_t room = len * 6 + 3;
    if (!reply_grow(reply, room))
        return;
    reply->data[reply->len++] = '"';
    muxd_json_escape(text, len, reply->data + reply->len, room);
    reply->len += strlen(reply->data + reply->len);
    reply->data[reply->len++] = '"';
    reply->data[reply->len] = '\0';
}

void muxd_reply_ok(muxd_reply_t *reply) {
    muxd_reply_add(reply, "{\"ok\":true}");
}

static void reply_verror(muxd_reply_t *reply, const char *fmt, va_list ap) {
    char text[256];
    vsnprintf(text, sizeof(text), fmt, ap);
    muxd_reply_add(reply, "{\"ok\":false,\"error\":");
    muxd_reply_string(reply, text, strlen(text));
    muxd_reply_add(reply, "}");
}

void muxd_reply_error(muxd_reply_t *reply, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    reply_verror(reply, fmt, ap);
    va_end(ap);
}

void muxd_reply_reset(muxd_reply_t *reply) {
    reply->len = 0;
    reply->failed = false;
    if (reply->data)
        reply->data[0] = '\0';
}

void muxd_reply_free(muxd_reply_t *reply) {
    free(reply->data);
    *reply = (muxd_reply_t){0};
}

/* ---- commands ---- */

#define MAX_WORDS 5

typedef struct {
    char text[MUXD_CONTROL_LINE_MAX + 1]; /* the line, cut into words */
    const char *word[MAX_WORDS];
    size_t nwords;
    const char *error; /* why it is no command, or NULL */
} words_t;

/* Cuts the line at blanks into at most MAX_WORDS words. */
static void split(const char *line, size_t len, words_t *w) {
    memcpy(w->text, line, len);
    w->text[len] = '\0';
    w->nwords = 0;
    for (char *p = w->text;;) {
        p += strspn(p, " \t");
        if (!*p)
            return;
        if (w->nwords == MAX_WORDS) {
            w->error = "too many words";
            return;
        }
        w->word[w->nwords++] = p;
        p += strcspn(p, " \t");
        if (*p)
            *p++ = '\0';
    }
}

/* A decimal id, 1 or more. */
static bool parse_id(const char *text, uint64_t *id) {
    if (!*text || strspn(text, "0123456789") != strlen(text) ||
        strlen(text) > 19)
        return false;
    *id = strtoull(text, NULL, 10);
    return *id > 0;
}

const char *muxd_control_usage(const muxd_control_cmd_t *cmd, char *buf,
                               size_t size) {
    snprintf(buf, size, "%s%s%s%s%s", cmd->name, cmd->sub ? " " : "",
             cmd->sub ? cmd->sub : "", cmd->arg ? " " : "",
             cmd->arg ? cmd->arg : "");
    return buf;
}

/* Whether `c` is a row of the group `first` starts. */
static bool in_group(const muxd_control_cmd_t *c,
                     const muxd_control_cmd_t *first) {
    return c->name && strcmp(c->name, first->name) == 0;
}

/* "usage: fault add SPEC", or with `group` the usages of every row that
 * starts with the name of `cmd` (the first of them), " | " between. */
static void usage_error(const muxd_control_cmd_t *cmd, bool group,
                        muxd_reply_t *reply) {
    char text[256], one[64];
    size_t len = (size_t)snprintf(text, sizeof(text), "usage:");
    for (const muxd_control_cmd_t *c = cmd;
         in_group(c, cmd) && len < sizeof(text); c++) {
        len += (size_t)snprintf(text + len, sizeof(text) - len, "%s %s",
                                c == cmd ? "" : " |",
                                muxd_control_usage(c, one, sizeof(one)));
        if (!group)
            break;
    }
    muxd_reply_error(reply, "%s", text);
}

/* "unknown command: 'x' (known: ...)": each first word once. */
static void unknown_error(const muxd_control_cmd_t *commands, const char *word,
                          muxd_reply_t *reply) {
    char known[192];
    size_t len = 0;
    for (const muxd_control_cmd_t *c = commands; c->name && len < sizeof(known);
         c++)
        if (c == commands || strcmp(c->name, c[-1].name) != 0)
            len += (size_t)snprintf(known + len, sizeof(known) - len, "%s%s",
                                    len ? ", " : "", c->name);
    muxd_reply_error(reply, "unknown command: '%.40s' (known: %s)", word,
                     known);
}

/* The row the words name, or NULL with the error replied. */
static const muxd_control_cmd_t *find(const muxd_control_cmd_t *commands,
                                      const words_t *w, muxd_reply_t *reply) {
    const muxd_control_cmd_t *c = commands;
    while (c->name && strcmp(c->name, w->word[0]) != 0)
        c++;
    if (!c->name) {
        unknown_error(commands, w->word[0], reply);
        return NULL;
    }
    const muxd_control_cmd_t *first = c;
    if (first->sub) {
        const char *sub = w->nwords > 1 ? w->word[1] : "";
        while (in_group(c, first) && strcmp(c->sub, sub) != 0)
            c++;
        if (!in_group(c, first)) {
            usage_error(first, true, reply);
            return NULL;
        }
    }
    size_t args = c->run_words     ? c->nargs
                  : c->run_id_word ? 2u
                  : c->arg         ? 1u
                                   : 0u;
    if (w->nwords != 1 + (c->sub ? 1u : 0u) + args) {
        usage_error(c, false, reply);
        return NULL;
    }
    return c;
}

/* Runs `c` with its argument, the last word (and an id before it);
 * false if that is invalid (the error replied). */
static bool run(const muxd_control_cmd_t *c, const words_t *w, void *target,
                muxd_reply_t *reply) {
    const char *arg = w->word[w->nwords - 1];
    const char *id_word = c->run_id_word ? w->word[w->nwords - 2] : arg;
    uint64_t id = 0;
    if ((c->run_id || c->run_id_word) && !parse_id(id_word, &id)) {
        muxd_reply_error(reply, "invalid %s: '%.40s'", c->what, id_word);
        return false;
    }
    bool on = c->flag;
    if (c->run_flag && c->arg) {
        if (strcmp(arg, "on") != 0 && strcmp(arg, "off") != 0) {
            usage_error(c, false, reply);
            return false;
        }
        on = arg[1] == 'n';
    }
    if (c->run)
        c->run(target, reply);
    else if (c->run_word)
        c->run_word(target, arg, reply);
    else if (c->run_id)
        c->run_id(target, id, reply);
    else if (c->run_id_word)
        c->run_id_word(target, id, arg, reply);
    else if (c->run_words)
        c->run_words(target, &w->word[w->nwords - c->nargs], reply);
    else
        c->run_flag(target, on, reply);
    return true;
}

bool muxd_control_command(const char *line, size_t len,
                          const muxd_control_cmd_t *commands, void *target,
                          muxd_reply_t *reply) {
    if (len > 0 && line[len - 1] == '\r')
        len--;
    static words_t w; /* one thread; too big for a small stack */
    w.error = NULL;
    const muxd_control_cmd_t *c = NULL;
    bool ran = false;
    if (len > MUXD_CONTROL_LINE_MAX)
        muxd_reply_error(reply, "line too long (max %d bytes)",
                         MUXD_CONTROL_LINE_MAX);
    else if (memchr(line, '\0', len))
        muxd_reply_error(reply, "a NUL byte in the command");
    else if (memchr(line, '\r', len) || memchr(line, '\n', len))
        muxd_reply_error(reply, "a line break (CR or LF) inside the command: "
                                "one command per line");
    else if (split(line, len, &w), w.error)
        muxd_reply_error(reply, "%s", w.error);
    else if (w.nwords == 0)
        muxd_reply_error(reply, "empty command");
    else if ((c = find(commands, &w, reply)) != NULL)
        ran = run(c, &w, target, reply);
    if (reply->failed) {
        muxd_reply_reset(reply);
        muxd_reply_error(reply, "reply too large or out of memory");
    }
    return ran;
}
