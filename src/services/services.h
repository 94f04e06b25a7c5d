/*
 * services.h -- the services muxd offers, one file each in this folder.
 */
#ifndef MUXD_SERVICES_H
#define MUXD_SERVICES_H

#include "mux.h"

/* What `--text` and friends hand to every service (opts.service_arg). */
typedef struct {
    const char *text; /* replaces the service's fixed text; NULL: default */
} muxd_service_config_t;

extern const mux_service_t muxd_echo_service;

/* Every service, NULL-terminated, in the order --help lists them. */
extern const mux_service_t *const muxd_services[];

/* The service called `name`, or NULL. */
const mux_service_t *muxd_service_find(const char *name);

#endif
