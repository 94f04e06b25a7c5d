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

#define MAX_WORDS 4

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

/* The reply for a command that got the wrong number of words. */
static bool arity(const words_t *w, size_t want, const char *usage,
                  muxd_reply_t *reply) {
    if (w->nwords == want)
        return true;
    muxd_reply_error(reply, "usage: %s", usage);
    return false;
}

static void fault_command(const words_t *w, const muxd_control_ops_t *ops,
                          void *arg, muxd_reply_t *reply) {
    const char *sub = w->nwords > 1 ? w->word[1] : "";
    uint64_t id;
    if (strcmp(sub, "add") == 0) {
        if (arity(w, 3, "fault add SPEC", reply))
            ops->fault_add(arg, w->word[2], reply);
    } else if (strcmp(sub, "list") == 0) {
        if (arity(w, 2, "fault list", reply))
            ops->fault_list(arg, reply);
    } else if (strcmp(sub, "del") == 0) {
        if (!arity(w, 3, "fault del ID", reply))
            return;
        if (parse_id(w->word[2], &id))
            ops->fault_del(arg, id, reply);
        else
            muxd_reply_error(reply, "invalid fault id: '%.40s'", w->word[2]);
    } else if (strcmp(sub, "clear") == 0) {
        if (arity(w, 2, "fault clear", reply))
            ops->fault_clear(arg, reply);
    } else {
        muxd_reply_error(reply, "usage: fault add SPEC | fault list | fault "
                                "del ID | fault clear");
    }
}

static void kick_command(const words_t *w, const muxd_control_ops_t *ops,
                         void *arg, muxd_reply_t *reply) {
    uint64_t id;
    if (!arity(w, 2, "kick ID", reply))
        return;
    if (parse_id(w->word[1], &id))
        ops->kick(arg, id, reply);
    else
        muxd_reply_error(reply, "invalid client id: '%.40s'", w->word[1]);
}

static void refuse_command(const words_t *w, const muxd_control_ops_t *ops,
                           void *arg, muxd_reply_t *reply) {
    const char *how = w->nwords == 2 ? w->word[1] : "";
    if (strcmp(how, "on") == 0 || strcmp(how, "off") == 0)
        ops->refuse(arg, how[1] == 'n', reply);
    else
        muxd_reply_error(reply, "usage: refuse on|off");
}

/* The commands without arguments. */
static bool plain_command(const words_t *w, const muxd_control_ops_t *ops,
                          void *arg, muxd_reply_t *reply) {
    static const char *const names[] = {"stats", "clients", "pause", "resume",
                                        "shutdown"};
    size_t i = 0;
    while (i < 5 && strcmp(w->word[0], names[i]) != 0)
        i++;
    if (i == 5)
        return false;
    if (!arity(w, 1, names[i], reply))
        return true;
    if (i == 0)
        ops->stats(arg, reply);
    else if (i == 1)
        ops->clients(arg, reply);
    else if (i == 4)
        ops->shutdown(arg, reply);
    else
        ops->pause(arg, i == 2, reply);
    return true;
}

static void dispatch(const words_t *w, const muxd_control_ops_t *ops, void *arg,
                     muxd_reply_t *reply) {
    const char *cmd = w->word[0];
    if (plain_command(w, ops, arg, reply))
        return;
    if (strcmp(cmd, "fault") == 0)
        fault_command(w, ops, arg, reply);
    else if (strcmp(cmd, "kick") == 0)
        kick_command(w, ops, arg, reply);
    else if (strcmp(cmd, "refuse") == 0)
        refuse_command(w, ops, arg, reply);
    else
        muxd_reply_error(reply,
                         "unknown command: '%.40s' (known: stats, clients, "
                         "fault, kick, pause, resume, refuse, shutdown)",
                         cmd);
}

void muxd_control_command(const char *line, size_t len,
                          const muxd_control_ops_t *ops, void *arg,
                          muxd_reply_t *reply) {
    if (len > 0 && line[len - 1] == '\r')
        len--;
    static words_t w; /* one thread; too big for a small stack */
    w.error = NULL;
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
    else
        dispatch(&w, ops, arg, reply);
    if (reply->failed) {
        muxd_reply_reset(reply);
        muxd_reply_error(reply, "reply too large or out of memory");
    }
}
