/*
 * discard.c -- RFC 863: everything is read and thrown away; nothing is
 * ever sent. The client's EOF closes (the library's default).
 */
#include "services.h"

static void discard_datagram(mux_dgram_t *dgram, const char *data, size_t len) {
    (void)dgram, (void)data, (void)len;
}

const mux_service_t muxd_discard_service = {
    .name = "discard",
    .summary = "read and throw away everything (RFC 863)",
    .framing = MUX_FRAMING_RAW,
    .datagram = discard_datagram,
};
