/* static — serves the files of the component's read-only `files` mount (/public):
 *
 *   GET /            -> /public/index.html
 *   GET /css/x.css   -> /public/css/x.css, Content-Type by extension
 *   missing file     -> 404 (JSON error)
 *
 * No way out of the mount: a path with a "." or ".." segment (also when sent encoded as
 * %2e%2e: the host decodes PATH_INFO) is refused with 404 before touching the file
 * system, and Kiln's WASI layer resolves every path beneath the mount, so a symbolic
 * link that points outside fails to open (also 404). */
#include "kiln.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define ROOT "/public"

/* The Content-Type for a file name, by extension. */
static const char *content_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".htm", "text/html; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".json", "application/json"},
        {".txt", "text/plain; charset=utf-8"},
        {".md", "text/markdown; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},
        {".gif", "image/gif"},
        {".webp", "image/webp"},
        {".ico", "image/x-icon"},
        {".wasm", "application/wasm"},
        {".xml", "application/xml"},
        {".pdf", "application/pdf"},
        {".woff2", "font/woff2"},
    };
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcasecmp(dot, types[i].ext) == 0) return types[i].type;
    return "application/octet-stream";
}

/* 1 if the decoded path is safe to look up: absolute, without "." or ".." segments,
 * backslashes or control characters. */
static int safe_path(const char *p)
{
    if (p[0] != '/') return 0;
    for (const char *s = p; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == '\\') return 0;
    for (const char *seg = p + 1;; seg = strchr(seg, '/') + 1) {
        size_t n = strcspn(seg, "/");
        if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.')) return 0;
        if (!seg[n]) return 1;
    }
}

/* Reads the regular file at path into the response body; 0, or -1 (errno set). */
static int send_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    struct stat st;
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        errno = EISDIR;
        return -1;
    }
    char buf[16384];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        kiln_write(buf, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        errno = EIO;
        return -1;
    }
    return 0;
}

int main(void)
{
    const char *m = kiln_method();
    if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
        kiln_add_header("Allow", "GET, HEAD");
        return kiln_respond_error(405, "method %s is not allowed", m);
    }
    const char *info = kiln_path_info();
    const char *rel = *info ? info : "/";
    if (!safe_path(rel)) return kiln_respond_error(404, "not found");
    size_t len = strlen(ROOT) + strlen(rel) + sizeof "/index.html";
    char *path = malloc(len);
    if (!path) return kiln_respond_error(500, "out of memory");
    snprintf(path, len, "%s%s%s", ROOT, rel, rel[strlen(rel) - 1] == '/' ? "index.html" : "");
    int rc = send_file(path);
    if (rc < 0 && errno == EISDIR) { /* a directory without the slash: its index */
        snprintf(path, len, "%s%s/index.html", ROOT, rel);
        rc = send_file(path);
    }
    if (rc < 0) {
        free(path);
        return kiln_respond_error(404, "not found");
    }
    kiln_set_header("Content-Type", content_type(path));
    free(path);
    return kiln_send();
}
