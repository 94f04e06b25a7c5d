/*
 * http_parse.h -- the HTTP/1.x request parser of the API's server
 * (http.h): a pure function, bytes in, a request, "more" or an error
 * status out; no I/O, no state between calls.
 */
#ifndef MUXD_HTTP_PARSE_H
#define MUXD_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The longest request head (request line, header lines, blank line). */
#define MUXD_HTTP_MAX_HEADER (8 * 1024)
/* The largest Content-Length accepted: a /populate of many proxies fits. */
#define MUXD_HTTP_MAX_BODY (1024 * 1024)

/* One request, pointing into the parsed buffer. */
typedef struct {
    const char *method; /* "GET", ...: a token, case as sent */
    size_t method_len;
    const char *path; /* the request target as sent, query included */
    size_t path_len;
    const char *body; /* the Content-Length bytes (NULL when 0) */
    size_t body_len;
    /* HTTP/1.1: on unless "Connection: close"; HTTP/1.0: off unless
     * "Connection: keep-alive". */
    bool keep_alive;
    /* A User-Agent starting with "Mozilla/": toxiproxy answers those 403
     * (a web page must not drive the API). */
    bool browser;
    /* "Expect: 100-continue": the client may wait for a 100 before its
     * body. */
    bool expect_continue;
    /* The bytes of the head, blank line included: set once the head is
     * complete, also when 0 is returned because the body is not. */
    size_t head_len;
    /* Why, when an error status is returned: a static text (no quotes,
     * no backslashes: it goes into JSON as it is). */
    const char *error;
} muxd_http_request_t;

/*
 * Parses one request at the start of buf[0..len), from scratch each call
 * (no state between calls: call again with the same bytes and more).
 * Leading empty lines are skipped; line ends are CRLF or a bare LF;
 * header names are case-insensitive. A request without Content-Length has
 * an empty body (RFC 9112 6.3), POST and PATCH included: no 411, since
 * toxiproxy (Go) takes `curl -X POST .../reset`, which sends none; bytes
 * after the head are then the next request.
 *
 * Returns the bytes the request takes (> 0), *req pointing into buf; 0 if
 * more bytes are needed (req->head_len says whether the head is already
 * complete); or -STATUS, req->error saying why, for an error to answer
 * and then close:
 *  -400 malformed: request line, header line, obs-fold (a line starting
 *       with a blank), a NUL or other control byte, a bare CR, a bad
 *       Content-Length (not only digits, overflow, two that differ);
 *  -413 Content-Length past max_body (at once, without its body);
 *  -431 the head not complete within max_header bytes;
 *  -501 Transfer-Encoding (chunked or any other: only Content-Length
 *       bodies are supported);
 *  -505 a version other than HTTP/1.x.
 * Errors are found as soon as the bytes that make them arrive.
 */
ssize_t muxd_http_parse(const char *buf, size_t len, size_t max_header,
                        size_t max_body, muxd_http_request_t *req);

#endif
