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

static void time_open(mux_conn_t *conn) {
    unsigned char secs[4];
    if (time_now(secs))
        mux_conn_send(conn, secs, sizeof(secs));
    mux_conn_close(conn, MUX_CLOSE_AFTER_FLUSH);
}

static void time_datagram(mux_dgram_t *dgram, const char *data, size_t len) {
    (void)data, (void)len;
    unsigned char secs[4];
    if (time_now(secs))
        mux_dgram_reply(dgram, secs, sizeof(secs));
}

const mux_service_t muxd_time_service = {
    .name = "time",
    .summary = "seconds since 1900 as 4 bytes (RFC 868)",
    .framing = MUX_FRAMING_RAW,
    .open = time_open,
    .datagram = time_datagram,
};
