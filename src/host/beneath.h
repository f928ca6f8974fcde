/* beneath.h — opening and naming paths confined beneath a directory fd: the one path
 * resolver of Kiln's WASI hosts (preview1: wasi_path.c, WASI 0.2: wasip2/filesystem.c).
 *
 * A guest path is always relative to a directory the guest holds (a preopen or a directory
 * opened from one) and never leaves it: an absolute path, a ".." above the directory, or a
 * symlink (at any component, expanded by us or by openat2 RESOLVE_BENEATH) pointing outside
 * fails with EXDEV, which each host maps to its own "not capable" error. Operations on the
 * last component (unlink, rmdir, rename, link, symlink, readlink, lstat, mkdir) resolve the
 * parent beneath the directory (kiln_beneath_resolve_parent) and act with a *at() call on the final
 * name, which the kernel does not follow.
 *
 * no_openat2 is the caller's per-context flag: 0 to try openat2 first (set to 1 when the
 * kernel lacks it), 1 to use the component-wise resolver (tests set it to cover both). */
#ifndef KILN_HOST_BENEATH_H
#define KILN_HOST_BENEATH_H

#include <sys/types.h>

/* Opens path (NUL-terminated, relative) beneath dirfd with open(2) flags and mode.
 * O_NOFOLLOW in flags: the last component is not followed. Returns an fd, or -errno
 * (-EXDEV: the path would escape). */
int kiln_beneath_open(int *no_openat2, int dirfd, const char *path, int flags, mode_t mode);

/* The target of the symlink dirfd/name as a new string (kiln_free it); NULL with errno. */
char *kiln_beneath_readlink(int dirfd, const char *name);

/* The parent directory of a path's last component. */
typedef struct kiln_beneath_parent {
    char *path; /* a copy of the whole path (owned) */
    int fd;     /* the parent directory (dirfd itself when the path has one component) */
    int owned;  /* fd must be closed */
    char *name; /* the last component with its trailing slashes (points into path) */
    int slash;  /* name has trailing slashes */
} kiln_beneath_parent;

/* Resolves the parent of path's last component beneath dirfd (a path ending in "." / ".."
 * or "/" is checked to stay beneath as a whole). 0, or -errno: -ENOENT for an empty path,
 * -EXDEV for an absolute or escaping one. out needs kiln_beneath_parent_free on success. */
int kiln_beneath_resolve_parent(int *no_openat2, int dirfd, const char *path,
                                kiln_beneath_parent *out);
void kiln_beneath_parent_free(kiln_beneath_parent *p);

#endif
