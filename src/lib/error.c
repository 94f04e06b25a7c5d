/*
 * error.c -- mux_strerror: the text of every error the library returns
 * (-errno, and its own resolution errors, MUX_ENO*).
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <string.h>

const char *mux_strerror(int err) {
    if (err < 0)
        err = -err;
    if (err == 0)
        return "Success";
    if (err == -MUX_ENOHOST)
        return "Unknown host";
    if (err == -MUX_ENOSERVICE)
        return "Unknown port or service name";
    if (err == -MUX_ENOSERVDB)
        return "Unknown service name (this system has no services database, "
               "/etc/services: install netbase, or give the port number)";
    return strerror(err);
}
