/* templates.h — the project templates of `kiln new`, embedded in the binary.
 *
 * The data ($(BUILD)/gen/templates_data.c) is generated at build time from templates/ and
 * sdk/ by scripts/embed-templates.sh, so the installed kiln needs no files of its own. */
#ifndef KILN_CLI_TEMPLATES_H
#define KILN_CLI_TEMPLATES_H

#include <stddef.h>

/* One file of a template: its path in the new project and its contents, in which
 * {{project-name}} stands for the project's name. */
typedef struct kiln_template_file {
    const char *path;
    size_t len;
    const char *data;
} kiln_template_file;

typedef struct kiln_template {
    const char *name;        /* "http-c" */
    const char *description; /* one line for `kiln templates list` */
    const kiln_template_file *files;
    size_t nfiles;
} kiln_template;

extern const kiln_template kiln_templates[];
extern const size_t kiln_templates_len;

#endif
