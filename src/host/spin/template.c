/* template.c — variable names and "{{ name }}" templates, as Spin's spin-expressions
 * crate reads them (spin.h). */
#include "host/spin/app.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <string.h>

const char *kiln_spin_name_invalid(const char *name, size_t len)
{
    if (len == 0) return "must not be empty";
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return "may contain only lower-case letters, numbers, and underscores";
        if (c == '_' && i + 1 < len && name[i + 1] == '_')
            return "must not contain multiple consecutive underscores";
    }
    if (!(name[0] >= 'a' && name[0] <= 'z')) return "must start with a lowercase ASCII letter";
    char last = name[len - 1];
    if (last == '_') return "must end with a lowercase ASCII letter or digit";
    return NULL;
}

/* Sets *err to a copy of the message printed by fmt; returns NULL. */
static char *fail(char **err, kiln_buf *out, const char *what, const char *name, size_t len)
{
    kiln_buf_free(out);
    kiln_buf b = KILN_BUF_INIT;
    if (kiln_buf_printf(&b, "%s%.*s%s", what, (int)len, name ? name : "", name ? "\"" : "") < 0)
        *err = kiln_strdup("out of memory");
    else
        *err = kiln_buf_steal(&b);
    return NULL;
}

char *kiln_spin_template_render(const char *tmpl, kiln_spin_lookup_fn lookup, void *arg, char **err)
{
    kiln_buf out = KILN_BUF_INIT;
    const char *p = tmpl;
    for (;;) {
        const char *open = strstr(p, "{{");
        size_t lit = open ? (size_t)(open - p) : strlen(p);
        if (kiln_buf_append(&out, p, lit) < 0) return fail(err, &out, "out of memory", NULL, 0);
        if (!open) break;
        const char *close = strstr(open + 2, "}}");
        if (!close) return fail(err, &out, "unmatched '{{' in template", NULL, 0);
        const char *n = open + 2, *e = close;
        while (n < e && (*n == ' ' || *n == '\t'))
            n++;
        while (e > n && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        const char *v = lookup(arg, n, (size_t)(e - n));
        if (!v) return fail(err, &out, "unknown variable \"", n, (size_t)(e - n));
        if (kiln_buf_puts(&out, v) < 0) return fail(err, &out, "out of memory", NULL, 0);
        p = close + 2;
    }
    char *s = kiln_buf_steal(&out);
    if (!s) *err = kiln_strdup("out of memory");
    return s;
}
