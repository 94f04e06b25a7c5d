/*
 * json.h -- JSON strings for muxd's --log-format json: any bytes in, valid
 * JSON and valid UTF-8 out, safe on a terminal.
 */
#ifndef MUXD_JSON_H
#define MUXD_JSON_H

#include <stddef.h>

/*
 * Writes `len` bytes of `in` to `out` (of `size` bytes, NUL-terminated) as
 * the inside of a JSON string, quotes not included:
 *  - printable ASCII as is, but \" and \\;
 *  - \n \r \t \b \f, and \u00XX for the other control bytes and DEL;
 *  - well-formed UTF-8 as is, except the C1 controls U+0080..U+009F and
 *    U+2028, U+2029, which are written \uXXXX;
 *  - every byte that is not part of well-formed UTF-8 (a stray
 *    continuation byte, a truncated or overlong sequence, a surrogate,
 *    beyond U+10FFFF) as \ufffd, the replacement character.
 * Input that does not fit is cut at a character boundary and ends in
 * "..." (size must be at least 4 for anything to be written). Returns out.
 */
char *muxd_json_escape(const char *in, size_t len, char *out, size_t size);

#endif
