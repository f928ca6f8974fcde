/* guest_log.h — where a guest's stdout and stderr go with `kiln up --log-dir DIR`.
 *
 * Spin's layout: DIR/COMPONENT_stdout.txt and DIR/COMPONENT_stderr.txt, created when the
 * application starts and appended to (O_APPEND: lines that concurrent requests write with
 * one write(2) each never interleave). A WAGI guest's stderr is written once its request
 * ends, each line prefixed with the request's id (exec/handler.h: kiln_request.request_id,
 * the trace id when the request is traced) and its control bytes escaped; its stdout is the
 * HTTP response, so its stdout file stays empty. A wasi:http component's wasi:cli stdout
 * and stderr are streams written as the guest writes them: they go to the files raw,
 * without request ids. Without --log-dir every guest's output goes to kiln's stderr.
 *
 * `kiln up --follow ID` (Spin's): only the followed components' output reaches kiln's
 * stderr. With --log-dir a followed component's files get everything as before and a
 * copy goes to the terminal (kiln_guest_log_tee: its descriptors become pipes, a thread
 * per stream writes what comes out to the file and to the terminal); without --log-dir
 * the others' output is dropped. */
#ifndef KILN_EXEC_GUEST_LOG_H
#define KILN_EXEC_GUEST_LOG_H

#include <stddef.h>

typedef struct kiln_guest_log_tee_t kiln_guest_log_tee_t;

typedef struct kiln_guest_log {
    int out_fd, err_fd;           /* the component's files (or the tee's pipes); -1: none */
    kiln_guest_log_tee_t *tee[2]; /* kiln_guest_log_tee's threads, NULL: none */
} kiln_guest_log;

/* Creates DIR (mode 0755, one level) if needed and opens the component's two files for
 * append. 0, or -1 with a message in err (then l holds no descriptor). */
int kiln_guest_log_open(kiln_guest_log *l, const char *dir, const char *component, char *err,
                        size_t errlen);
/* Copies what the guest writes to l's files to term_fd too (the files opened): out_fd and
 * err_fd become pipes read by a thread each. 0, or -1 with a message in err (l unchanged). */
int kiln_guest_log_tee(kiln_guest_log *l, int term_fd, char *err, size_t errlen);
/* Closes what is open (a tee's threads write what is left and end); l can be opened
 * again. */
void kiln_guest_log_close(kiln_guest_log *l);

/* Writes text (len bytes) to fd with one write(2): each line prefixed with prefix (NUL-
 * terminated), bytes other than tab and printable ones as \xNN (a guest must not forge log
 * lines or send terminal escapes), a last line without newline ended with one. 0 or -1. */
int kiln_guest_log_lines(int fd, const char *prefix, const char *text, size_t len);

#endif
