/* manifest_files.c — the file-system side of the app model: manifest discovery (as Spin
 * does it), outbound host syntax, and resolving a component's `files` into mounts. */
#include "manifest/manifest.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Deepest directory level the glob walker descends to. */
#define MAX_WALK_DEPTH 64

/* Sets *err to an allocated formatted message (left NULL when memory runs out). */
static void set_err(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(char **err, const char *fmt, ...)
{
    kiln_buf b = KILN_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    if (kiln_buf_vprintf(&b, fmt, ap) == 0)
        *err = kiln_buf_steal(&b);
    else
        kiln_buf_free(&b);
    va_end(ap);
}

/* "dir/name" (no doubled slash); NULL when memory runs out. */
static char *join(const char *dir, const char *name)
{
    kiln_buf b = KILN_BUF_INIT;
    size_t n = strlen(dir);
    int rc = n && dir[n - 1] == '/' ? kiln_buf_printf(&b, "%s%s", dir, name)
                                    : kiln_buf_printf(&b, "%s/%s", dir, name);
    if (rc) {
        kiln_buf_free(&b);
        return NULL;
    }
    return kiln_buf_steal(&b);
}

static int is_regular(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int kiln_manifest_find(const char *f_arg, char **path_out, char **err)
{
    static const char *const names[] = {"kiln.toml", "spin.toml"};
    *path_out = NULL;
    *err = NULL;
    const char *dir = NULL;
    if (f_arg) {
        struct stat st;
        if (stat(f_arg, &st) != 0) {
            set_err(err, "%s: %s", f_arg, strerror(errno));
            return -1;
        }
        if (!S_ISDIR(st.st_mode)) {
            *path_out = kiln_strdup(f_arg);
            if (!*path_out) set_err(err, "out of memory");
            return *path_out ? 0 : -1;
        }
        dir = f_arg;
    }
    for (size_t i = 0; i < 2; i++) {
        char *p = dir ? join(dir, names[i]) : kiln_strdup(names[i]);
        if (!p) {
            set_err(err, "out of memory");
            return -1;
        }
        if (is_regular(p)) {
            *path_out = p;
            return 0;
        }
        kiln_free(p);
    }
    if (dir)
        set_err(err, "no kiln.toml or spin.toml in directory %s", dir);
    else
        set_err(err, "no kiln.toml or spin.toml in the current directory (use -f to name the "
                     "manifest)");
    return -1;
}

/* ---- allowed_outbound_hosts ----------------------------------------------------- */

/* Checks a port: "*", 1..65535, or a range "A..B". */
static int valid_port(const char *p, size_t n)
{
    if (n == 1 && p[0] == '*') return 1;
    long lo = -1, hi = -1, v = 0;
    size_t digits = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && p[i] >= '0' && p[i] <= '9') {
            v = v * 10 + (p[i] - '0');
            if (v > 65535) return 0;
            digits++;
        } else if (i == n || (p[i] == '.' && i + 1 < n && p[i + 1] == '.' && lo < 0)) {
            if (!digits) return 0;
            if (lo < 0 && i < n) {
                lo = v;
                i++; /* skip the second '.' */
            } else {
                hi = v;
            }
            v = 0;
            digits = 0;
        } else {
            return 0;
        }
    }
    if (lo < 0) return hi >= 1;
    return lo <= hi;
}

/* Checks a host: "*", "*.example.com", names, IPv4 or [IPv6]. */
static int valid_host(const char *h, size_t n, const char **why)
{
    if (n == 0) {
        *why = "missing host";
        return 0;
    }
    if (n == 1 && h[0] == '*') return 1;
    if (h[0] == '[') {
        if (h[n - 1] != ']') {
            *why = "unclosed '[' in an IPv6 host";
            return 0;
        }
        return 1;
    }
    size_t i = 0;
    if (n > 2 && h[0] == '*' && h[1] == '.') i = 2;
    size_t label = 0;
    for (; i < n; i++) {
        char c = h[i];
        if (c == '.') {
            if (!label) {
                *why = "empty label in host";
                return 0;
            }
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_') {
            label++;
        } else if (c == '*') {
            *why = "'*' is only allowed as the whole host or as a leading \"*.\" label";
            return 0;
        } else {
            *why = "invalid character in host";
            return 0;
        }
    }
    if (!label) {
        *why = "host must not end with '.'";
        return 0;
    }
    return 1;
}

int kiln_outbound_host_valid(const char *s, const char **why)
{
    const char *dummy;
    if (!why) why = &dummy;
    *why = NULL;
    if (strstr(s, "{{")) return 1; /* templates: checked once resolved (kiln up) */
    const char *sep = strstr(s, "://");
    if (!sep) {
        *why = "expected scheme://host[:port], for example \"https://example.com\" or "
               "\"*://*:*\"";
        return 0;
    }
    size_t sl = (size_t)(sep - s);
    if (sl == 0) {
        *why = "missing scheme before \"://\"";
        return 0;
    }
    if (!(sl == 1 && s[0] == '*')) {
        for (size_t i = 0; i < sl; i++) {
            char c = s[i];
            int ok = (c >= 'a' && c <= 'z') ||
                     (i && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
            if (!ok) {
                *why = "invalid scheme (use lowercase letters, e.g. \"https\", or \"*\")";
                return 0;
            }
        }
    }
    const char *rest = sep + 3;
    size_t n = strlen(rest);
    if (n && rest[n - 1] == '/') n--;
    if (memchr(rest, '/', n)) {
        *why = "paths are not allowed; give only scheme://host[:port]";
        return 0;
    }
    /* split host and port at the last ':' outside an IPv6 bracket */
    size_t hl = n;
    const char *close = rest[0] == '[' ? memchr(rest, ']', n) : NULL;
    for (size_t i = close ? (size_t)(close - rest) : 0; i < n; i++)
        if (rest[i] == ':') hl = i;
    if (!valid_host(rest, hl, why)) return 0;
    if (hl < n && !valid_port(rest + hl + 1, n - hl - 1)) {
        *why = "invalid port (use a number, a range like 8000..8080, or \"*\")";
        return 0;
    }
    return 1;
}

/* ---- globs ---------------------------------------------------------------------- */

/* Matches the '/'-separated pattern against path, segment by segment; "**" matches
 * any number (zero included) of whole segments. */
static int glob_match(const char *pat, const char *path)
{
    if (*pat == '\0') return *path == '\0';
    const char *pe = strchr(pat, '/');
    size_t pl = pe ? (size_t)(pe - pat) : strlen(pat);
    const char *prest = pe ? pe + 1 : pat + pl;
    if (pl == 2 && pat[0] == '*' && pat[1] == '*') {
        if (glob_match(prest, path)) return 1;
        if (*path == '\0') return 0;
        const char *se = strchr(path, '/');
        return glob_match(pat, se ? se + 1 : path + strlen(path));
    }
    if (*path == '\0') return 0;
    const char *se = strchr(path, '/');
    size_t sl = se ? (size_t)(se - path) : strlen(path);
    char *ps = kiln_strndup(pat, pl), *ss = kiln_strndup(path, sl);
    int ok = ps && ss && fnmatch(ps, ss, FNM_PERIOD) == 0;
    kiln_free(ps);
    kiln_free(ss);
    if (!ok) return 0;
    return glob_match(prest, se ? se + 1 : path + sl);
}

int kiln_glob_match(const char *pattern, const char *path)
{
    while (pattern[0] == '.' && pattern[1] == '/')
        pattern += 2;
    return glob_match(pattern, path);
}

/* ---- mounts --------------------------------------------------------------------- */

typedef struct mount_list {
    kiln_mount *items;
    size_t len, cap;
} mount_list;

/* Adds a mount (copies both paths). */
static int add_mount(mount_list *l, const char *host, const char *guest, int is_dir)
{
    if (l->len == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        kiln_mount *n = kiln_realloc(l->items, cap * sizeof *n);
        if (!n) return -1;
        l->items = n;
        l->cap = cap;
    }
    kiln_mount *m = &l->items[l->len];
    m->host_path = kiln_strdup(host);
    m->guest_path = kiln_strdup(guest);
    m->is_dir = is_dir;
    if (!m->host_path || !m->guest_path) {
        kiln_free(m->host_path);
        kiln_free(m->guest_path);
        return -1;
    }
    l->len++;
    return 0;
}

void kiln_mounts_free(kiln_mount *mounts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        kiln_free(mounts[i].host_path);
        kiln_free(mounts[i].guest_path);
    }
    kiln_free(mounts);
}

/* Is rel excluded by one of the component's exclude_files patterns? */
static int excluded(const kiln_component *c, const char *rel)
{
    for (size_t i = 0; i < c->exclude_files.len; i++)
        if (kiln_glob_match(c->exclude_files.items[i], rel)) return 1;
    return 0;
}

/* Walks the directory root/rel (rel "" for root itself) and adds every regular file
 * whose relative path matches pattern. Symbolic links to files are followed; links to
 * directories are not descended into (no loops). */
static int walk(const char *root, const char *rel, int depth, const char *pattern,
                const kiln_component *c, mount_list *out, char **err)
{
    if (depth > MAX_WALK_DEPTH) return 0;
    char *dirpath = rel[0] ? join(root, rel) : kiln_strdup(root);
    if (!dirpath) goto oom;
    DIR *d = opendir(dirpath);
    if (!d) {
        set_err(err, "cannot read directory %s: %s", dirpath, strerror(errno));
        kiln_free(dirpath);
        return -1;
    }
    int rc = 0;
    struct dirent *de;
    errno = 0;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        char *r = rel[0] ? join(rel, de->d_name) : kiln_strdup(de->d_name);
        char *full = r ? join(root, r) : NULL;
        struct stat lst, st;
        if (!r || !full) {
            set_err(err, "out of memory");
            rc = -1;
        } else if (lstat(full, &lst) == 0) {
            if (S_ISDIR(lst.st_mode)) {
                rc = walk(root, r, depth + 1, pattern, c, out, err);
            } else if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && kiln_glob_match(pattern, r) &&
                       !excluded(c, r)) {
                char *guest = join("/", r);
                if (!guest || add_mount(out, full, guest, 0)) {
                    set_err(err, "out of memory");
                    rc = -1;
                }
                kiln_free(guest);
            }
        }
        kiln_free(r);
        kiln_free(full);
        errno = 0;
    }
    if (rc == 0 && errno != 0) {
        set_err(err, "cannot read directory %s: %s", dirpath, strerror(errno));
        rc = -1;
    }
    if (closedir(d) != 0 && rc == 0) {
        set_err(err, "cannot close directory %s: %s", dirpath, strerror(errno));
        rc = -1;
    }
    kiln_free(dirpath);
    return rc;
oom:
    set_err(err, "out of memory");
    return -1;
}

/* The directory part of pattern before its first wildcard ("static/img/x*.png" ->
 * "static/img"); "" when the first segment has one. */
static char *literal_prefix(const char *pattern)
{
    size_t end = 0;
    for (size_t i = 0; pattern[i]; i++) {
        if (strchr("*?[", pattern[i])) break;
        if (pattern[i] == '/') end = i;
    }
    return kiln_strndup(pattern, end);
}

int kiln_component_mounts(const kiln_manifest *m, const kiln_component *c, kiln_mount **out,
                          size_t *n_out, char **err)
{
    mount_list l = {0};
    *out = NULL;
    *n_out = 0;
    *err = NULL;
    for (size_t i = 0; i < c->files_len; i++) {
        const kiln_file_spec *f = &c->files[i];
        if (!f->pattern) {
            struct stat st;
            if (stat(f->source, &st) != 0) {
                set_err(err, "%s: %s", f->source, strerror(errno));
                goto fail;
            }
            if (add_mount(&l, f->source, f->destination, S_ISDIR(st.st_mode))) goto oom;
            continue;
        }
        const char *pat = f->pattern;
        while (pat[0] == '.' && pat[1] == '/')
            pat += 2;
        if (pat[0] == '/' || strstr(pat, "..")) {
            set_err(err, "files pattern \"%s\" must be relative to the manifest directory",
                    f->pattern);
            goto fail;
        }
        if (!strpbrk(pat, "*?[")) {
            /* a plain path: the file (or directory) itself */
            char *host = join(m->dir, pat), *guest = join("/", pat);
            struct stat st;
            int rc = 0;
            if (!host || !guest)
                rc = -2;
            else if (stat(host, &st) != 0)
                set_err(err, "files entry \"%s\": %s: %s", f->pattern, host, strerror(errno)),
                    rc = -1;
            else if (!excluded(c, pat))
                rc = add_mount(&l, host, guest, S_ISDIR(st.st_mode)) ? -2 : 0;
            kiln_free(host);
            kiln_free(guest);
            if (rc == -2) goto oom;
            if (rc) goto fail;
            continue;
        }
        char *prefix = literal_prefix(pat);
        if (!prefix) goto oom;
        char *start = prefix[0] ? join(m->dir, prefix) : kiln_strdup(m->dir);
        struct stat st;
        int rc = 0;
        if (!start)
            rc = -2;
        else if (stat(start, &st) == 0 && S_ISDIR(st.st_mode))
            rc = walk(m->dir, prefix, 0, pat, c, &l, err);
        kiln_free(start);
        kiln_free(prefix);
        if (rc == -2) goto oom;
        if (rc) goto fail;
    }
    *out = l.items;
    *n_out = l.len;
    return 0;
oom:
    kiln_free(*err);
    set_err(err, "out of memory");
fail:
    kiln_mounts_free(l.items, l.len);
    return -1;
}
