/*
 * escape.h -- C escapes in text given on a command line: muxd's --text and
 * muxcat's --send/--expect with -e read them through this one decoder.
 * Shared by the programs, not part of libmux.
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

#endif
