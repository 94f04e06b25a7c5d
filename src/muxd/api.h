/*
 * api.h -- toxiproxy's HTTP API (--api ADDR) over muxd's proxies (the --to
 * relays, named by --name) and its fault registry: a toxic is a fault
 * with a name, kept to its proxy (proxy=NAME), so the control socket's
 * `fault list` shows the API's toxics and the other way round every
 * change reaches the same connections (docs/toxiproxy.md).
 */
#ifndef MUXD_API_H
#define MUXD_API_H

#include "control.h"
#include "http.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct muxd_api muxd_api_t;

/* The version /version answers. */
#define MUXD_API_VERSION "muxd " MUX_VERSION

/* The API on `target` (copied; the control socket's view of muxd, whose
 * faults registry must exist), not listening yet. NULL: no memory. */
muxd_api_t *muxd_api_new(const muxd_control_target_t *target);

/*
 * Serves the API over HTTP on `text` (HOST:PORT; port 0 picks one), on the
 * loop of target->server; a non-loopback address is refused unless
 * `remote`. The bound address into bound[size]. Resolves a name
 * (blocking): before the loop runs. Logs why and returns a negative error,
 * or 0.
 */
int muxd_api_listen(muxd_api_t *api, const char *text, bool remote, char *bound,
                    size_t size);

/*
 * --api-config FILE: toxiproxy's -config file (the JSON array POST
 * /populate takes), applied now; unlike toxiproxy, a proxy's "toxics" are
 * made too. Logs why and returns a negative error if the file cannot be
 * read or any of it cannot be done; else 0.
 */
int muxd_api_load(muxd_api_t *api, const char *path);

/* Stops serving and releases it. NULL is a no-op. */
void muxd_api_free(muxd_api_t *api);

/*
 * One request's answer, without the network (the HTTP server's handler,
 * and what the tests and the fuzzer call): the status and the JSON body
 * (empty for 204) in *res, whose body stays valid until the next call.
 */
void muxd_api_answer(muxd_api_t *api, const muxd_http_request_t *req,
                     muxd_http_response_t *res);

#endif
