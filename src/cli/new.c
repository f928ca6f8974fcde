/* new.c — `kiln new TEMPLATE NAME` and `kiln templates list`: projects from templates.
 *
 * The templates are embedded in the binary (templates.h): `kiln new` writes the files of
 * one into ./NAME (or -o DIR), replacing {{project-name}} with NAME. NAME becomes the
 * application name and the component id, so it must be kebab-case like Spin's ids
 * ("hello", "my-api"). An existing directory is never overwritten. */
#include "cli/cli.h"
#include "cli/templates.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PLACEHOLDER "{{project-name}}"

static void new_usage(FILE *f)
{
    fprintf(f, "usage: kiln new TEMPLATE NAME [-o DIR]\n\n"
               "Creates a ready-to-build project from a template in ./NAME (or DIR).\n"
               "NAME is kebab-case (lowercase letters, digits and dashes: \"hello\", \"my-api\").\n"
               "See the templates with `kiln templates list`.\n\n"
               "  -o, --output DIR   where to create the project (default: ./NAME)\n");
}

/* The template called `name`, or NULL. */
static const kiln_template *find_template(const char *name)
{
    for (size_t i = 0; i < kiln_templates_len; i++)
        if (strcmp(kiln_templates[i].name, name) == 0) return &kiln_templates[i];
    return NULL;
}

/* One line per template, names padded to the longest. */
static void list_templates(FILE *f)
{
    int width = 0;
    for (size_t i = 0; i < kiln_templates_len; i++)
        if ((int)strlen(kiln_templates[i].name) > width)
            width = (int)strlen(kiln_templates[i].name);
    for (size_t i = 0; i < kiln_templates_len; i++)
        fprintf(f, "  %-*s %s\n", width, kiln_templates[i].name, kiln_templates[i].description);
}

/* 1 if s is a kebab-case id: lowercase words of letters and digits joined by single
 * dashes, starting with a letter (Spin's rule for component ids). */
static int is_kebab(const char *s)
{
    if (!(*s >= 'a' && *s <= 'z')) return 0;
    for (const char *p = s; *p; p++) {
        int ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                 (*p == '-' && p[1] != '-' && p[1] != '\0');
        if (!ok) return 0;
    }
    return 1;
}

/* Names a template's files cannot build under, with the reason (printed after the name).
 * The Go template's module is example/NAME (go.mod): every other name is a valid module
 * path, but Go reads an import path element "vendor" as a vendor directory. */
static const struct {
    const char *tmpl, *name, *why;
} refused[] = {
    {"http-go", "vendor",
     "Go reads an import path element named 'vendor' as a vendor directory, so the "
     "project's module (example/vendor) could not import its own kiln package"},
};

/* Why template t cannot make a project called name, or NULL when it can. */
static const char *refused_name(const kiln_template *t, const char *name)
{
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (strcmp(refused[i].tmpl, t->name) == 0 && strcmp(refused[i].name, name) == 0)
            return refused[i].why;
    return NULL;
}

/* Writes all of data to a new file (O_EXCL); returns 0 or -1 with errno set. */
static int write_new_file(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            close(fd);
            errno = e;
            return -1;
        }
        off += (size_t)n;
    }
    return close(fd);
}

/* Creates the directories of a relative path below dir ("src/x.c" -> dir/src). */
static int make_parents(const char *dir, const char *rel)
{
    kiln_buf b = KILN_BUF_INIT;
    int rc = 0;
    for (const char *p = strchr(rel, '/'); p && rc == 0; p = strchr(p + 1, '/')) {
        kiln_buf_reset(&b);
        if (kiln_buf_printf(&b, "%s/%.*s", dir, (int)(p - rel), rel) < 0) {
            errno = ENOMEM;
            rc = -1;
        } else if (mkdir(b.data, 0755) < 0 && errno != EEXIST) {
            rc = -1;
        }
    }
    kiln_buf_free(&b);
    return rc;
}

/* Appends data with every PLACEHOLDER replaced by name. */
static int substitute(kiln_buf *out, const char *data, size_t len, const char *name)
{
    size_t plen = strlen(PLACEHOLDER);
    size_t i = 0;
    while (i < len) {
        const char *hit = NULL;
        for (size_t k = i; k + plen <= len; k++)
            if (data[k] == '{' && memcmp(data + k, PLACEHOLDER, plen) == 0) {
                hit = data + k;
                break;
            }
        size_t upto = hit ? (size_t)(hit - data) : len;
        if (kiln_buf_append(out, data + i, upto - i) < 0) return -1;
        if (!hit) break;
        if (kiln_buf_puts(out, name) < 0) return -1;
        i = upto + plen;
    }
    return 0;
}

/* Creates the directories above dir (mkdir -p of its parent). 0 or -1 (errno set). */
static int make_dir_parents(const char *dir)
{
    char *copy = kiln_strdup(dir);
    if (!copy) {
        errno = ENOMEM;
        return -1;
    }
    int rc = 0;
    for (char *p = strchr(copy + 1, '/'); p && rc == 0; p = strchr(p + 1, '/')) {
        *p = '\0';
        if (mkdir(copy, 0755) < 0 && errno != EEXIST) rc = -1;
        *p = '/';
    }
    kiln_free(copy);
    return rc;
}

/* Writes the template's files into dir (which must not exist yet). Returns 0 or 1. */
static int create_project(const kiln_template *t, const char *name, const char *dir)
{
    if (make_dir_parents(dir) < 0 || mkdir(dir, 0755) < 0) {
        if (errno == EEXIST)
            fprintf(stderr, "error: %s already exists; choose another name or -o DIR\n", dir);
        else
            fprintf(stderr, "error: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    kiln_buf path = KILN_BUF_INIT, text = KILN_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; i < t->nfiles && rc == 0; i++) {
        const kiln_template_file *f = &t->files[i];
        kiln_buf_reset(&path);
        kiln_buf_reset(&text);
        if (kiln_buf_printf(&path, "%s/%s", dir, f->path) < 0 ||
            substitute(&text, f->data, f->len, name) < 0) {
            fprintf(stderr, "error: out of memory\n");
            rc = 1;
        } else if (make_parents(dir, f->path) < 0 ||
                   write_new_file(path.data, text.data ? text.data : "", text.len) < 0) {
            fprintf(stderr, "error: cannot write %s: %s\n", path.data, strerror(errno));
            rc = 1;
        }
    }
    kiln_buf_free(&path);
    kiln_buf_free(&text);
    return rc;
}

int kiln_cmd_new(int argc, char **argv)
{
    const char *tname = NULL, *name = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            new_usage(stdout);
            printf("\ntemplates:\n");
            list_templates(stdout);
            return 0;
        } else if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && i + 1 < argc) {
            out = argv[++i];
        } else if (a[0] == '-') {
            fprintf(stderr, "error: kiln new: unknown or incomplete option '%s'\n", a);
            new_usage(stderr);
            return 2;
        } else if (!tname) {
            tname = a;
        } else if (!name) {
            name = a;
        } else {
            fprintf(stderr, "error: kiln new: unexpected argument '%s'\n", a);
            new_usage(stderr);
            return 2;
        }
    }
    if (!tname || !name) {
        new_usage(stderr);
        fprintf(stderr, "\ntemplates:\n");
        list_templates(stderr);
        return 2;
    }
    const kiln_template *t = find_template(tname);
    if (!t) {
        fprintf(stderr, "error: no template '%s'; the templates are:\n", tname);
        list_templates(stderr);
        return 2;
    }
    if (!is_kebab(name)) {
        fprintf(stderr,
                "error: '%s' is not a valid project name: use lowercase letters, digits and "
                "single dashes, starting with a letter (e.g. \"hello\", \"my-api\")\n",
                name);
        return 2;
    }
    const char *why = refused_name(t, name);
    if (why) {
        fprintf(stderr,
                "error: '%s' cannot name a %s project: %s; choose another name (e.g. \"%s-app\")\n",
                name, t->name, why, name);
        return 2;
    }
    const char *dir = out ? out : name;
    if (create_project(t, name, dir) != 0) return 1;
    printf("Created project %s from template %s in %s\n\nNext:\n  cd %s\n  kiln build\n"
           "  kiln up\n",
           name, t->name, dir, dir);
    return 0;
}

int kiln_cmd_templates(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        printf("usage: kiln templates list\n\nLists the templates of `kiln new`.\n");
        return 0;
    }
    if (argc != 2 || strcmp(argv[1], "list") != 0) {
        fprintf(stderr, "usage: kiln templates list\n");
        return 2;
    }
    printf("Templates (use: kiln new TEMPLATE NAME):\n");
    list_templates(stdout);
    return 0;
}
