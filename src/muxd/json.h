/*
 * json.h -- JSON for muxd: strings for --log-format json (any bytes in,
 * valid JSON and valid UTF-8 out, safe on a terminal), and a small,
 * bounded reader for the bodies of the toxiproxy-compatible HTTP API
 * (--api) and its config file (--api-config).
 */
#ifndef MUXD_JSON_H
#define MUXD_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* ---- The reader ---- */

/* Containers nest at most this deep: "[[1]]" is depth 2. */
#define MUXD_JSON_DEPTH_MAX 32

typedef enum {
    MUXD_JSON_NULL,
    MUXD_JSON_BOOL,
    MUXD_JSON_NUMBER,
    MUXD_JSON_STRING,
    MUXD_JSON_ARRAY,
    MUXD_JSON_OBJECT,
} muxd_json_type;

/* A parsed document: owns every value and string in it. */
typedef struct muxd_json muxd_json_t;
/* One value inside a document, valid until the document is freed. */
typedef struct muxd_json_value muxd_json_value_t;

/*
 * Parses `len` bytes of `text` (not NUL-terminated; any bytes) as one JSON
 * document (RFC 8259), whitespace allowed around it. Returns the document
 * (free it with muxd_json_free()), or NULL with a message in err[size]
 * (NUL-terminated, cut to fit; err may be NULL if size is 0) that says
 * where and what, the place as a byte offset from 0: "at byte 17: expected
 * ':' after an object key, got '}'". Refused:
 *  - anything after the document but whitespace (Go's json.Decoder, which
 *    toxiproxy uses, would ignore it: we do not);
 *  - containers nested deeper than MUXD_JSON_DEPTH_MAX;
 *  - more than `max_values` values, object keys counted as values;
 *  - in strings: raw control characters (below 0x20), invalid UTF-8, a
 *    lone or reversed UTF-16 surrogate in \u escapes, unknown escapes
 *    (Go's decoder would put U+FFFD in for the bad UTF-8 and surrogates);
 *  - in numbers: leading zeros, a '+' sign, a bare '.', NaN, Infinity.
 * Duplicate object keys are kept, in order: muxd_json_get() returns the
 * last, as Go's decoder keeps the last. Numbers are read once here:
 * muxd_json_int() and muxd_json_number() only look.
 * Costs: time linear in len; memory one block of len + 1 bytes for the
 * strings plus, per value, a record and a pointer (bounded by max_values).
 * No recursion. Out of memory is an error ("out of memory").
 */
muxd_json_t *muxd_json_parse(const char *text, size_t len, size_t max_values,
                             char *err, size_t size);
/* Frees the document and every value in it; NULL is allowed. */
void muxd_json_free(muxd_json_t *doc);
/* The document's top value (never NULL for a parsed document). */
const muxd_json_value_t *muxd_json_root(const muxd_json_t *doc);

/*
 * The value's type. A missing value (NULL, from muxd_json_get() or
 * muxd_json_at()) reads as MUXD_JSON_NULL: Go's decoder treats a member
 * that is null as one that is absent.
 */
muxd_json_type muxd_json_type_of(const muxd_json_value_t *v);
/* An array's elements or an object's members; 0 for anything else. */
size_t muxd_json_len(const muxd_json_value_t *v);
/* The i-th element of an array or the i-th member's value of an object,
 * in document order; NULL if i >= muxd_json_len(v) or for other types. */
const muxd_json_value_t *muxd_json_at(const muxd_json_value_t *v, size_t i);
/* The i-th member's key of an object (unescaped UTF-8, NUL-terminated but
 * it may hold a NUL: its length in *key_len if key_len is not NULL);
 * NULL if i >= muxd_json_len(obj) or obj is not an object. */
const char *muxd_json_key_at(const muxd_json_value_t *obj, size_t i,
                             size_t *key_len);
/*
 * The value of the object's last member whose key is exactly `key` (a C
 * string); NULL if there is none or obj is not an object (or NULL).
 * Linear in the object's members.
 */
const muxd_json_value_t *muxd_json_get(const muxd_json_value_t *obj,
                                       const char *key);
/*
 * The same, matching keys as Go's decoder (1.19) matches struct fields,
 * which toxiproxy's bodies go through: case-insensitive, so "Name" and
 * "NAME" find "name", and U+017F (long s) and U+212A (Kelvin sign) match
 * 's' and 'k'. `key` must be ASCII. The last match wins, as in Go.
 */
const muxd_json_value_t *muxd_json_get_fold(const muxd_json_value_t *obj,
                                            const char *key);

/*
 * Typed reads: each returns false, *out untouched, if v is NULL or of
 * another type.
 * muxd_json_string: the unescaped UTF-8 bytes (valid UTF-8, NUL-terminated,
 * but \u0000 puts a NUL inside: the length is in *len if len is not NULL).
 */
bool muxd_json_string(const muxd_json_value_t *v, const char **s, size_t *len);
/* muxd_json_bool: true or false. */
bool muxd_json_bool(const muxd_json_value_t *v, bool *out);
/*
 * muxd_json_int: a number written as an integer ("-12", "0", not "1e3",
 * "1000.0" or "1.5") within int64_t, as Go's decoder reads into an int64
 * (toxiproxy's toxic attributes): anything else is false, as it is an
 * error there.
 */
bool muxd_json_int(const muxd_json_value_t *v, int64_t *out);
/*
 * muxd_json_number: any number as the nearest double (strtod; muxd never
 * changes the C locale); false if it is beyond the double's range (1e400),
 * as Go's decoder refuses it; tiny ones (1e-400) read as 0, as in Go.
 * toxiproxy's toxicity is a float32: the caller checks that range.
 */
bool muxd_json_number(const muxd_json_value_t *v, double *out);

#endif
