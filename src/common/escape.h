/*
 * escape.h -- C escapes both ways: text given on a command line is decoded
 * (muxd's --text, muxcat's --send/--expect with -e), and bytes from the
 * network are encoded before they reach a terminal or a log (muxd's log
 * lines, muxcat's transcript). Shared by the programs, not part of libmux.
 */
#ifndef MUX_COMMON_ESCAPE_H
#define MUX_COMMON_ESCAPE_H

#include <stddef.h>

/* The escapes text_unescape() knows, as a message shows them. */
#define TEXT_ESCAPES "\\n \\r \\t \\\\ \\0 \\xHH"

/*
 * Decodes the escapes \n \r \t \\ \0 \xHH in the NUL-terminated `text`, in
 * place (the decoded text is never longer). On success returns 0, and
 * *len is the decoded length: the bytes may hold NULs, and a NUL follows
 * them. On an unknown or incomplete escape returns -1 and *len is the
 * offset of its backslash in `text`, from where the text is unchanged (so
 * a message can quote it); the part before it is undefined.
 */
int text_unescape(char *text, size_t *len);

/*
 * The escaped form of byte `c` as printable ASCII, NUL-terminated, in
 * out[5]: \n \r \t \\ \" for those, \xNN (lowercase) for every other
 * byte outside 0x20..0x7e, else the byte itself. Returns its length.
 */
size_t text_escape_byte(unsigned char c, char out[5]);

/*
 * Writes `len` bytes of `in` to `out` (of `size` bytes, NUL-terminated)
 * escaped by text_escape_byte(). Cuts long input short with "..." at the
 * end (size must be at least 4 for anything to be written). Returns out.
 */
char *text_escape(const char *in, size_t len, char *out, size_t size);

#endif
