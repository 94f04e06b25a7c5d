/*
 * daytime.c -- RFC 867: the date and time as one line of text, then
 * close. The form is the RFC's example, in UTC:
 *     Tuesday, February 22, 1982 17:37:43-UTC\r\n
 * built by hand so that no locale can change it.
 */
#define _POSIX_C_SOURCE 200809L

#include "services.h"

#include <stdio.h>
#include <time.h>

#define DAYTIME_MAX 64

/* Formats the current time; returns the length (0 if the clock fails). */
static size_t daytime_now(char out[DAYTIME_MAX]) {
    static const char *const days[] = {"Sunday",    "Monday",   "Tuesday",
                                       "Wednesday", "Thursday", "Friday",
                                       "Saturday"};
    static const char *const months[] = {
        "January", "February", "March",     "April",   "May",      "June",
        "July",    "August",   "September", "October", "November", "December"};
    time_t now = time(NULL);
    struct tm tm;
    if (now == (time_t)-1 || !gmtime_r(&now, &tm))
        return 0;
    int n = snprintf(out, DAYTIME_MAX, "%s, %s %d, %d %02d:%02d:%02d-UTC\r\n",
                     days[tm.tm_wday], months[tm.tm_mon], tm.tm_mday,
                     tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return n > 0 && n < DAYTIME_MAX ? (size_t)n : 0;
}

/* The time, to a stream client as it connects (then closed), or to each
 * datagram whatever it holds. */
static void daytime_reply(const muxd_client_t *client, const char *data,
                          size_t len) {
    (void)data, (void)len;
    char text[DAYTIME_MAX];
    muxd_piece_t now = {text, daytime_now(text)};
    if (now.len)
        muxd_send(client, &now, 1);
    muxd_end(client);
}

const muxd_service_t muxd_daytime_service = {
    .callbacks = {.name = "daytime",
                  .framing = MUX_FRAMING_RAW,
                  .open = muxd_reply_on_open,
                  .datagram = muxd_reply_to_datagram},
    .summary = "date and time as text, then close (RFC 867)",
    .reply = daytime_reply,
};
