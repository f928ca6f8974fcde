/* manifest_wasm.c — `kiln up -f FILE.wasm`: a bare Wasm file served as a one-component
 * app, as `spin up -f` does (Spin's loader: single_file_manifest): the application named
 * after the file's stem, one HTTP trigger on "/..." whose inline component's source is
 * the file. Kiln then serves it as it serves any component: a wasi:http component, or a
 * core WASI command module through WAGI. */
#include "manifest/manifest.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

int kiln_manifest_is_wasm_file(const char *path)
{
    size_t n = strlen(path);
    return (n > 5 && strcmp(path + n - 5, ".wasm") == 0) ||
           (n > 4 && strcmp(path + n - 4, ".wat") == 0);
}

/* Appends s to b as the body of a TOML basic string (quotes, backslashes and control
 * characters escaped). 0, or -1 out of memory. */
static int toml_escape(kiln_buf *b, const char *s)
{
    int rc = 0;
    for (; *s && rc == 0; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            rc = kiln_buf_printf(b, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            rc = kiln_buf_printf(b, "\\u%04x", c);
        else
            rc = kiln_buf_putc(b, (char)c);
    }
    return rc;
}

kiln_manifest *kiln_manifest_from_wasm(const char *wasm_path, kiln_diags *diags)
{
    char *abs = realpath(wasm_path, NULL);
    const char *src = abs ? abs : wasm_path;
    const char *base = strrchr(src, '/');
    base = base ? base + 1 : src;
    const char *dot = strrchr(base, '.');
    size_t stem = dot && dot > base ? (size_t)(dot - base) : strlen(base);
    kiln_buf name = KILN_BUF_INIT, text = KILN_BUF_INIT;
    kiln_manifest *m = NULL;
    int rc = kiln_buf_append(&name, base, stem);
    if (rc == 0) rc = kiln_buf_puts(&text, "spin_manifest_version = 2\n[application]\nname = \"");
    if (rc == 0) rc = toml_escape(&text, name.data ? name.data : "wasm-file");
    if (rc == 0)
        rc = kiln_buf_puts(&text, "\"\n[[trigger.http]]\nroute = \"/...\"\n"
                                  "component = { source = \"");
    if (rc == 0) rc = toml_escape(&text, src);
    if (rc == 0) rc = kiln_buf_puts(&text, "\" }\n");
    if (rc == 0) m = kiln_manifest_load_text(text.data, text.len, src, diags);
    kiln_buf_free(&name);
    kiln_buf_free(&text);
    free(abs); /* realpath's, from malloc */
    return m;
}
