/* errf.h — the error messages of the distribution layer: every function of src/dist/
 * reports failure as an allocated message the caller frees with kiln_free. */
#ifndef KILN_DIST_ERRF_H
#define KILN_DIST_ERRF_H

/* Sets *err to the formatted message (NULL when memory runs out). */
void kiln_dist_errf(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
