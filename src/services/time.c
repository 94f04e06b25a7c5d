/*
 * time.c -- RFC 868: the time as 4 bytes, big-endian, seconds since
 * 1900-01-01 00:00 UTC (modulo 2^32: the counter wraps in 2036), then
 * close.
 */
#define _POSIX_C_SOURCE 200809L

#include "services.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* Seconds from 1900-01-01 to 1970-01-01 (70 years, 17 of them leap). */
#define EPOCH_1900 2208988800u

/* The current time in RFC 868 form; false if the clock fails. */
static bool time_now(unsigned char out[4]) {
    time_t now = time(NULL);
    if (now == (time_t)-1)
        return false;
    uint32_t secs = (uint32_t)((uint64_t)now + EPOCH_1900);
    out[0] = (unsigned char)(secs >> 24);
    out[1] = (unsigned char)(secs >> 16);
    out[2] = (unsigned char)(secs >> 8);
    out[3] = (unsigned char)secs;
    return true;
}

/* The time, to a stream client as it connects (then closed), or to each
 * datagram whatever it holds. */
static void time_reply(const muxd_client_t *client, const char *data,
                       size_t len) {
    (void)data, (void)len;
    unsigned char secs[4];
    if (time_now(secs)) {
        muxd_piece_t now = {(const char *)secs, sizeof(secs)};
        muxd_send(client, &now, 1);
    }
    muxd_end(client);
}

const muxd_service_t muxd_time_service = {
    .callbacks = {.name = "time",
                  .framing = MUX_FRAMING_RAW,
                  .open = muxd_reply_on_open,
                  .datagram = muxd_reply_to_datagram},
    .summary = "seconds since 1900 as 4 bytes (RFC 868)",
    .reply = time_reply,
};
