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

static void daytime_open(mux_conn_t *conn) {
    char text[DAYTIME_MAX];
    size_t len = daytime_now(text);
    if (len)
        mux_conn_send(conn, text, len);
    mux_conn_close(conn, MUX_CLOSE_AFTER_FLUSH);
}

static void daytime_datagram(mux_dgram_t *dgram, const char *data, size_t len) {
    (void)data, (void)len;
    char text[DAYTIME_MAX];
    size_t n = daytime_now(text);
    if (n)
        mux_dgram_reply(dgram, text, n);
}

const mux_service_t muxd_daytime_service = {
    .name = "daytime",
    .summary = "date and time as text, then close (RFC 867)",
    .framing = MUX_FRAMING_RAW,
    .open = daytime_open,
    .datagram = daytime_datagram,
};
