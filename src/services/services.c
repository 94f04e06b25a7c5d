/*
 * services.c -- the table of muxd's services.
 */
#include "services.h"

#include <string.h>

const mux_service_t *const muxd_services[] = {
    &muxd_echo_service,
    NULL,
};

const mux_service_t *muxd_service_find(const char *name) {
    for (size_t i = 0; muxd_services[i]; i++)
        if (strcmp(muxd_services[i]->name, name) == 0)
            return muxd_services[i];
    return NULL;
}
