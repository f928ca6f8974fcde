/* check.c — `kiln check [-f PATH]`: validates a manifest and shows what it grants.
 *
 * Finds the manifest as Spin does (-f FILE, -f DIR, else kiln.toml then spin.toml in the
 * current directory), loads it, prints every warning and error to stderr as
 * "FILE:LINE:COL: message", and on success a summary to stdout: the routes and the
 * component each one runs, and what every component is granted. Version-1 manifests are
 * read as Spin converts them. A valid manifest that needs a Spin feature Kiln does not
 * implement (component dependencies, middleware, registry sources, only non-HTTP
 * triggers) is reported with one message per feature, as `kiln up` refuses it. Exit
 * status: 0 valid and servable (warnings may name unimplemented features the app can do
 * without), 1 invalid (all errors listed) or not servable by Kiln, 2 usage error. */
#include "cli/cli.h"
#include "manifest/manifest.h"
#include "util/alloc.h"

#include <stdio.h>
#include <string.h>

static void check_usage(FILE *f)
{
    fprintf(f, "Validate the application manifest and show its routes and what each\n"
               "component is granted\n\n"
               "Usage: kiln check [OPTIONS]\n\n"
               "Options:\n"
               "  -f, --from PATH   manifest file, or a directory holding kiln.toml or\n"
               "                    spin.toml (default: the current directory)\n");
}

/* Prints "  label: a, b, c" for a non-empty list. */
static void print_list(const char *label, const kiln_strlist *l)
{
    if (!l->len) return;
    printf("    %-24s", label);
    for (size_t i = 0; i < l->len; i++)
        printf("%s%s", i ? ", " : "", l->items[i]);
    printf("\n");
}

/* Prints the keys of a kv list ("  label: K1, K2"). */
static void print_keys(const char *label, const kiln_kvlist *kv)
{
    if (!kv->len) return;
    printf("    %-24s", label);
    for (size_t i = 0; i < kv->len; i++)
        printf("%s%s", i ? ", " : "", kv->items[i].key);
    printf("\n");
}

/* The summary of a valid manifest. */
static void print_summary(const kiln_manifest *m)
{
    printf("%s: valid\n", m->path);
    printf("application: %s", m->name ? m->name : "(unnamed)");
    if (m->version) printf(" %s", m->version);
    printf("\n");
    if (m->description) printf("  %s\n", m->description);
    if (m->manifest_version == 1) printf("manifest version 1 (read as Spin converts it to 2)\n");
    if (strcmp(m->base, "/") != 0) printf("base: %s\n", m->base);
    if (m->variables_len) {
        printf("variables:\n");
        for (size_t i = 0; i < m->variables_len; i++) {
            const kiln_variable *v = &m->variables[i];
            printf("  %s", v->name);
            if (v->required) printf(" (required)");
            if (v->default_value) printf(" = \"%s\"", v->secret ? "********" : v->default_value);
            if (v->secret) printf(" (secret)");
            if (v->description) printf(" — %s", v->description);
            printf("\n");
        }
    }
    printf("routes:\n");
    if (!m->triggers_len) printf("  (none)\n");
    for (size_t i = 0; i < m->triggers_len; i++) {
        const kiln_trigger *t = &m->triggers[i];
        printf("  %-24s -> ", t->is_private ? "(private)" : t->route);
        if (t->component >= 0) {
            const kiln_component *c = &m->components[t->component];
            /* which executor kiln up gives it, and why (as up.c decides) */
            int is_comp = c->source && kiln_cli_is_component_file(c->source);
            printf("%s", c->id);
            if (t->executor == KILN_EXECUTOR_WAGI)
                printf(" (wagi: argv \"%s\", entrypoint %s)%s", t->wagi_argv, t->wagi_entrypoint,
                       is_comp ? " [kiln up refuses it: a component, and WAGI runs core modules]"
                               : "");
            else if (t->executor == KILN_EXECUTOR_SPIN)
                printf(" (wasi:http: executor http)%s",
                       c->source && !is_comp
                           ? " [kiln up refuses it: a core module, not a component]"
                           : "");
            else if (is_comp)
                printf(" (wasi:http: a component and no executor)");
            else if (c->source)
                printf(" (wagi: a core module and no executor)");
        } else {
            printf("static response %d", t->status_code);
        }
        for (size_t k = 0; k < t->middleware.len; k++)
            printf("%s%s", k ? ", " : " [middleware: ", t->middleware.items[k]);
        printf("%s\n", t->middleware.len ? "]" : "");
    }
    for (size_t i = 0; i < m->other_triggers_len; i++) {
        const kiln_other_trigger *t = &m->other_triggers[i];
        printf("  [[trigger.%s]] %s -> %s%s\n", t->type, t->id,
               t->component >= 0 ? m->components[t->component].id : "(none)",
               kiln_trigger_type_served(t->type) ? "" : " (not served by Kiln)");
    }
    printf("components:\n");
    for (size_t i = 0; i < m->components_len; i++) {
        const kiln_component *c = &m->components[i];
        printf("  %s\n", c->id);
        if (c->description) printf("    %-24s%s\n", "description:", c->description);
        if (c->source)
            printf("    %-24s%s\n", "source:", c->source);
        else if (c->source_url)
            printf("    %-24s%s (%s)\n", "source:", c->source_url,
                   c->source_digest ? c->source_digest : "no digest");
        if (c->files_len) {
            printf("    %-24s", "files:");
            for (size_t k = 0; k < c->files_len; k++) {
                const kiln_file_spec *f = &c->files[k];
                if (f->pattern)
                    printf("%s%s", k ? ", " : "", f->pattern);
                else
                    printf("%s%s -> %s", k ? ", " : "", f->source, f->destination);
            }
            printf("\n");
        }
        print_list("exclude_files:", &c->exclude_files);
        print_keys("environment:", &c->environment);
        if (c->allowed_outbound_hosts.len)
            print_list("allowed_outbound_hosts:", &c->allowed_outbound_hosts);
        else
            printf("    %-24s(none)\n", "allowed_outbound_hosts:");
        print_list("key_value_stores:", &c->key_value_stores);
        print_list("sqlite_databases:", &c->sqlite_databases);
        print_keys("variables:", &c->variables);
        print_list("ai_models:", &c->ai_models);
        if (c->dependencies_len) {
            printf("    %-24s", "dependencies:");
            for (size_t k = 0; k < c->dependencies_len; k++)
                printf("%s%s (%s)", k ? ", " : "", c->dependencies[k].name,
                       c->dependencies[k].kind ? c->dependencies[k].kind : "?");
            printf("\n");
        }
        if (c->profiles_len) {
            printf("    %-24s", "profiles:");
            for (size_t k = 0; k < c->profiles_len; k++)
                printf("%s%s", k ? ", " : "", c->profiles[k].name);
            printf("\n");
        }
        if (c->request_timeout_ms)
            printf("    %-24s%llu ms (tool.kiln)\n", "request_timeout:", c->request_timeout_ms);
        if (c->max_instance_memory)
            printf("    %-24s%llu bytes (tool.kiln)\n",
                   "max_instance_memory:", c->max_instance_memory);
        if (c->build_command.len) {
            printf("    %-24s", "build:");
            for (size_t k = 0; k < c->build_command.len; k++)
                printf("%s%s", k ? " && " : "", c->build_command.items[k]);
            if (c->build_workdir) printf(" (in %s)", c->build_workdir);
            printf("\n");
        }
    }
}

int kiln_cmd_check(int argc, char **argv)
{
    const char *from = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            check_usage(stdout);
            return 0;
        }
        if (strcmp(a, "-f") == 0 || strcmp(a, "--from") == 0 || strcmp(a, "--file") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "kiln check: %s needs a path\n", a);
                return 2;
            }
            from = argv[++i];
        } else if (strncmp(a, "--from=", 7) == 0) {
            from = a + 7;
        } else {
            fprintf(stderr, "kiln check: unknown argument '%s'\n", a);
            check_usage(stderr);
            return 2;
        }
    }
    char *path = NULL, *err = NULL;
    if (kiln_manifest_find(from, &path, &err)) {
        fprintf(stderr, "kiln check: %s\n", err ? err : "out of memory");
        kiln_free(err);
        return 1;
    }
    kiln_diags d = KILN_DIAGS_INIT;
    kiln_manifest *m = kiln_manifest_load(path, &d);
    for (size_t i = 0; i < d.len; i++)
        fprintf(stderr, "%s\n", d.items[i].message);
    int rc = 0;
    if (!m || d.errors) {
        fprintf(stderr, "%s: %zu error%s\n", path, d.errors, d.errors == 1 ? "" : "s");
        rc = 1;
    } else {
        print_summary(m);
        if (fflush(stdout) != 0) rc = 1;
        kiln_strlist why = {0};
        long n = kiln_manifest_unserved(m, &why);
        for (size_t i = 0; i < why.len; i++)
            fprintf(stderr, "%s: kiln up cannot serve this app: %s\n", path, why.items[i]);
        if (n != 0) {
            fprintf(stderr, "%s: valid Spin manifest, but not servable by Kiln\n", path);
            rc = 1;
        }
        kiln_strlist_free(&why);
    }
    kiln_manifest_free(m);
    kiln_diags_free(&d);
    kiln_free(path);
    return rc;
}
