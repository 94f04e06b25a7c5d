/*
 * discard.c -- RFC 863: everything is read and thrown away; nothing is
 * ever sent. The client's EOF closes (the library's default).
 */
#include "services.h"

/* Nothing is ever answered, on either transport. */
static void discard_reply(const muxd_client_t *client, const char *data,
                          size_t len) {
    (void)client, (void)data, (void)len;
}

/* No message callback: the library reads and drops a stream's input. */
const muxd_service_t muxd_discard_service = {
    .callbacks = {.name = "discard",
                  .framing = MUX_FRAMING_RAW,
                  .datagram = muxd_reply_to_datagram},
    .summary = "read and throw away everything (RFC 863)",
    .reply = discard_reply,
};
