/* manifest_test.c — unit tests of the manifest loader: the app model of a full manifest,
 * every validation error with its file:line:col, discovery, outbound host syntax,
 * globs and file mounts, and out-of-memory handling. Works in a private temp dir. */
#include "manifest/manifest.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/test.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/kiln-manifest-test.XXXXXX";
static char path_buf[4096];

/* tmpdir/rel */
static const char *at(const char *rel)
{
    snprintf(path_buf, sizeof path_buf, "%s/%s", tmpdir, rel);
    return path_buf;
}

/* Creates file tmpdir/rel with content (and its parent directories). */
static void write_file(const char *rel, const char *content)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", at(rel));
    for (char *p = dir + strlen(tmpdir) + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        mkdir(dir, 0755);
        *p = '/';
    }
    FILE *f = fopen(at(rel), "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(content, f);
    fclose(f);
}

/* Loads text as tmpdir/kiln.toml; returns the model and all diagnostics joined by '\n'
 * in *msgs (static buffer). */
static kiln_manifest *load(const char *text, const char **msgs, size_t *errors)
{
    static char out[8192];
    kiln_diags d = KILN_DIAGS_INIT;
    kiln_manifest *m = kiln_manifest_load_text(text, strlen(text), "kiln.toml", &d);
    out[0] = '\0';
    size_t n = 0;
    for (size_t i = 0; i < d.len; i++)
        n += (size_t)snprintf(out + n, sizeof out - n, "%s%s", i ? "\n" : "", d.items[i].message);
    *msgs = out;
    if (errors) *errors = d.errors;
    kiln_diags_free(&d);
    return m;
}

/* The diagnostics of loading `text` (model discarded). */
static const char *diags_of(const char *text)
{
    const char *msgs;
    kiln_manifest_free(load(text, &msgs, NULL));
    return msgs;
}

#define HEAD "spin_manifest_version = 2\n[application]\nname = \"t\"\n"

/* executor = { type = "http" } (Spin's name) and its alias "spin" select wasi:http; an http
 * executor takes no other keys. */
static void test_http_executor(void)
{
    static const char *const types[] = {"http", "spin"};
    for (int i = 0; i < 2; i++) {
        char text[512];
        snprintf(text, sizeof text,
                 HEAD "[[trigger.http]]\nroute = \"/a\"\ncomponent = \"api\"\n"
                      "executor = { type = \"%s\" }\n[component.api]\nsource = \"api.wasm\"\n",
                 types[i]);
        const char *msgs;
        size_t errors;
        kiln_manifest *m = load(text, &msgs, &errors);
        CHECK_INT(errors, 0);
        CHECK(m && m->triggers_len == 1 && m->triggers[0].executor == KILN_EXECUTOR_SPIN);
        kiln_manifest_free(m);
    }
    CHECK(strstr(diags_of(HEAD "[[trigger.http]]\nroute = \"/a\"\ncomponent = \"api\"\n"
                               "executor = { type = \"http\", argv = \"x\" }\n"
                               "[component.api]\nsource = \"api.wasm\"\n"),
                 "an http executor") != NULL);
}

static void test_full(void)
{
    const char *text =
        HEAD "version = \"1.2.3\"\nauthors = [\"a\", \"b\"]\n"
             "[application.trigger.http]\nbase = \"/base\"\n"
             "[variables]\napi_base = { default = \"https://x\" }\n"
             "token = { required = true, secret = true }\n"
             "[[trigger.http]]\nroute = \"/api/...\"\ncomponent = \"api\"\n"
             "executor = { type = \"wagi\", argv = \"${SCRIPT_NAME} x\" }\n"
             "[[trigger.http]]\nroute = { private = true }\ncomponent = { source = \"api.wasm\" }\n"
             "[[trigger.http]]\nid = \"s\"\nroute = \"/s\"\n"
             "static_response = { status_code = 404, headers = { a = \"b\" }, body = \"no\" }\n"
             "[component.api]\nsource = \"api.wasm\"\ndescription = \"d\"\n"
             "files = [\"static/**/*\", { source = \"assets\", destination = \"/data\" }]\n"
             "exclude_files = [\"**/*.tmp\"]\nenvironment = { LOG = \"info\" }\n"
             "allowed_outbound_hosts = [\"https://api.example.com\", \"redis://*:6379\"]\n"
             "allowed_http_hosts = [\"insecure:allow-all\", \"x.com\"]\n"
             "key_value_stores = [\"default\"]\nsqlite_databases = [\"db\"]\n"
             "variables = { url = \"{{ api_base }}/v1\" }\n"
             "[component.api.build]\ncommand = [\"make\", \"make x\"]\nworkdir = \"w\"\n"
             "watch = [\"src/*.c\"]\n";
    const char *msgs;
    size_t errors;
    kiln_manifest *m = load(text, &msgs, &errors);
    CHECK(m != NULL);
    CHECK_INT(errors, 0);
    CHECK_STR(msgs, "kiln.toml:29:22: warning: `allowed_http_hosts` is deprecated; use "
                    "`allowed_outbound_hosts`");
    if (!m) return;
    CHECK_STR(m->name, "t");
    CHECK_STR(m->version, "1.2.3");
    CHECK_INT(m->authors.len, 2);
    CHECK_STR(m->base, "/base");
    CHECK_STR(m->dir, tmpdir);
    CHECK_INT(m->variables_len, 2);
    CHECK_STR(m->variables[0].default_value, "https://x");
    CHECK(m->variables[1].required && m->variables[1].secret);
    CHECK_INT(m->triggers_len, 3);
    CHECK_STR(m->triggers[0].route, "/api/...");
    CHECK_INT(m->triggers[0].line, 12);
    CHECK_INT(m->triggers[0].col, 9);
    CHECK_INT(m->triggers[0].executor, KILN_EXECUTOR_WAGI);
    CHECK_STR(m->triggers[0].wagi_argv, "${SCRIPT_NAME} x");
    CHECK_STR(m->triggers[0].wagi_entrypoint, "_start");
    CHECK_STR(m->components[m->triggers[0].component].id, "api");
    CHECK(m->triggers[1].is_private && m->triggers[1].route == NULL);
    CHECK_STR(m->components[m->triggers[1].component].id, "inline-component-2");
    CHECK_STR(m->triggers[1].id, "trigger-2");
    CHECK_STR(m->triggers[2].id, "s");
    CHECK_INT(m->triggers[2].component, -1);
    CHECK_INT(m->triggers[2].status_code, 404);
    CHECK_STR(m->triggers[2].static_body, "no");
    CHECK_STR(m->triggers[2].static_headers.items[0].value, "b");
    const kiln_component *c = kiln_manifest_component(m, "api");
    CHECK(c != NULL);
    if (c) {
        CHECK_STR(c->source, at("api.wasm"));
        CHECK_STR(c->description, "d");
        CHECK_INT(c->files_len, 2);
        CHECK_STR(c->files[0].pattern, "static/**/*");
        CHECK_STR(c->files[1].source, at("assets"));
        CHECK_STR(c->files[1].destination, "/data");
        CHECK_STR(c->environment.items[0].key, "LOG");
        /* insecure:allow-all as Spin converts it: every HTTP(S) host and self */
        CHECK_INT(c->allowed_outbound_hosts.len, 7);
        CHECK_STR(c->allowed_outbound_hosts.items[2], "http://*:*");
        CHECK_STR(c->allowed_outbound_hosts.items[3], "https://*:*");
        CHECK_STR(c->allowed_outbound_hosts.items[4], "http://self");
        CHECK_STR(c->allowed_outbound_hosts.items[5], "https://x.com");
        CHECK_STR(c->key_value_stores.items[0], "default");
        CHECK_STR(c->sqlite_databases.items[0], "db");
        CHECK_STR(c->variables.items[0].value, "{{ api_base }}/v1");
        CHECK_INT(c->build_command.len, 2);
        CHECK_STR(c->build_workdir, at("w"));
        CHECK_STR(c->build_watch.items[0], "src/*.c");
    }
    CHECK(kiln_manifest_component(m, "nope") == NULL);

    /* mounts: the glob, minus excluded files, plus the directory mapping */
    kiln_mount *mounts = NULL;
    size_t n = 0;
    char *err = NULL;
    CHECK_INT(kiln_component_mounts(m, c, &mounts, &n, &err), 0);
    CHECK_INT(n, 3);
    int saw_index = 0, saw_css = 0, saw_data = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(mounts[i].guest_path, "/static/index.html") == 0) saw_index = !mounts[i].is_dir;
        if (strcmp(mounts[i].guest_path, "/static/css/a.css") == 0) saw_css = 1;
        if (strcmp(mounts[i].guest_path, "/data") == 0) saw_data = mounts[i].is_dir;
    }
    CHECK(saw_index && saw_css && saw_data);
    kiln_mounts_free(mounts, n);
    kiln_manifest_free(m);
}

static void test_errors(void)
{
    CHECK_STR(diags_of("[application]\nname = \"x\"\n"),
              "kiln.toml:1:1: missing `spin_manifest_version = 2` (Kiln reads Spin manifests, "
              "version 2)");
    CHECK_STR(diags_of("spin_manifest_version = \"1\"\nname = \"x\"\n"),
              "kiln.toml:1:1: a version-1 manifest needs `trigger = { type = \"http\", base = "
              "\"/\" }`");
    CHECK_STR(diags_of("spin_manifest_version = 3\n"),
              "kiln.toml:1:25: unsupported spin_manifest_version 3; Kiln supports version 2");
    CHECK_STR(diags_of("spin_manifest_version = 2\n[application]\nname = \"x\"\nrout = 1\n"),
              "kiln.toml:4:1: unknown key `rout` in [application]");
    CHECK_STR(diags_of(HEAD "[[trigger.http]]\nroute = \"/a\"\ncomponnt = \"x\"\n"),
              "kiln.toml:4:1: [[trigger.http]] needs a `component` (or a `static_response`)\n"
              "kiln.toml:6:1: unknown key `componnt` in [[trigger.http]]; did you mean "
              "`component`?");
    CHECK_STR(diags_of(HEAD "[[trigger.http]]\nroute = \"a\"\ncomponent = \"api\"\n"
                            "[component.api]\nsource = \"api.wasm\"\n"),
              "kiln.toml:5:9: route \"a\" must start with '/'");
    CHECK_STR(diags_of(HEAD "[[trigger.http]]\nroute = \"/a\"\ncomponent = \"apx\"\n"
                            "[component.api]\nsource = \"api.wasm\"\n"),
              "kiln.toml:6:13: trigger names component `apx`, which is not defined; did you mean "
              "`api`?");
    CHECK_STR(diags_of(HEAD "[component.My_Api]\nsource = \"api.wasm\"\n"),
              "kiln.toml:4:12: component id `My_Api` must be kebab-case (lowercase letters and "
              "digits separated by '-', starting with a letter)");
    const char *m = diags_of(HEAD "[component.api]\nsource = \"gone.wasm\"\n");
    CHECK(strstr(m, "kiln.toml:5:10: component `api`: source file \"") == m);
    CHECK(strstr(m, "/gone.wasm\" does not exist") != NULL);
    CHECK_STR(diags_of(HEAD "[component.api]\nsource = \"api.wasm\"\n"
                            "allowed_outbound_hosts = [\"example.com\", 5, \"https://a:0\"]\n"),
              "kiln.toml:6:27: invalid allowed_outbound_hosts entry \"example.com\": expected "
              "scheme://host[:port], for example \"https://example.com\" or \"*://*:*\"\n"
              "kiln.toml:6:42: `allowed_outbound_hosts` entries must be strings, not an integer\n"
              "kiln.toml:6:45: invalid allowed_outbound_hosts entry \"https://a:0\": invalid port "
              "(use a number, a range like 8000..8080, or \"*\")");
    CHECK_STR(diags_of(HEAD "[component.api]\nsource = 5\nenvironment = [\"A\"]\n"
                            "key_value_stores = \"default\"\nbuild = { workdir = \"x\" }\n"),
              "kiln.toml:5:10: `source` of component `api` must be a path or { url, digest }, not "
              "an integer\n"
              "kiln.toml:6:15: `environment` in component `api` must be a table of strings, not an "
              "array\n"
              "kiln.toml:7:20: `key_value_stores` in component `api` must be an array of strings, "
              "not a string\n"
              "kiln.toml:8:9: [component.api.build] needs a `command`");
    CHECK_STR(
        diags_of(HEAD
                 "[[trigger.http]]\nroute = \"/a\"\nstatic_response = { body = \"x\" }\n"
                 "[[trigger.http]]\nroute = \"/a\"\nstatic_response = { status_code = 700 }\n"),
        "kiln.toml:8:9: warning: duplicate route \"/a\" (also at line 5); the later one "
        "wins\nkiln.toml:9:35: status_code must be an integer from 100 to 599");
    CHECK_STR(diags_of(HEAD "[variables]\nTok = { required = true, default = \"x\" }\n"),
              "kiln.toml:5:1: variable name `Tok` must be lowercase letters, digits and '_', "
              "starting with a letter\n"
              "kiln.toml:5:1: variable `Tok` cannot be both required and have a default");
    CHECK_STR(diags_of(HEAD "[[trigger.http]]\nroute = \"/a\"\ncomponent = \"api\"\n"
                            "executor = { type = \"wagii\" }\n"
                            "[component.api]\nsource = \"api.wasm\"\n"
                            "variables = { u = \"{{ nope }}\" }\n"),
              "kiln.toml:7:21: unknown executor type \"wagii\"; expected \"http\" or \"wagi\" (did "
              "you mean \"wagi\"?)\n"
              "kiln.toml:10:19: component `api` uses variable `nope`, which is not defined in "
              "[variables]");
    CHECK_STR(diags_of(HEAD "[trigger.redis]\nx = 1\n"),
              "kiln.toml:4:1: `trigger.redis` must be an array of tables ([[trigger.redis]]), "
              "not a table");
    m = diags_of(HEAD "[component.api]\nsource = \"api.wasm\"\n"
                      "files = [{ source = \"nowhere\", destination = \"data\" }]\n");
    CHECK(strstr(m, "kiln.toml:6:21: files source \"/") == m);
    CHECK(strstr(m, "/nowhere\" does not exist\nkiln.toml:6:46: destination \"data\" must be an "
                    "absolute path") != NULL);
    /* a TOML error is reported as is */
    CHECK_STR(diags_of("spin_manifest_version = 2\n[application\n"),
              "kiln.toml:2:13: expected ']' to close the header of table \"application\", found "
              "end of line");
    /* all errors are collected */
    size_t errors = 0;
    const char *msgs;
    kiln_manifest *mm =
        load(HEAD "[[trigger.http]]\nroute = \"x\"\ncomponent = \"a\"\n[[trigger.http]]\n"
                  "route = \"y\"\ncomponent = \"b\"\n",
             &msgs, &errors);
    CHECK(mm == NULL);
    CHECK_INT(errors, 4);
}

static void test_duplicates(void)
{
    const char *msgs;
    size_t errors;
    kiln_manifest *m = load(HEAD "[[trigger.http]]\nroute = \"/a/...\"\ncomponent = \"x\"\n"
                                 "[[trigger.http]]\nroute = \"/b\"\ncomponent = \"x\"\n"
                                 "[[trigger.http]]\nroute = \"/a/*\"\ncomponent = \"y\"\n"
                                 "[component.x]\nsource = \"api.wasm\"\n"
                                 "[component.y]\nsource = \"api.wasm\"\n",
                            &msgs, &errors);
    CHECK(m != NULL);
    CHECK_INT(errors, 0);
    CHECK_STR(msgs, "kiln.toml:11:9: warning: duplicate route \"/a/*\" (also at line 5); the "
                    "later one wins");
    if (!m) return;
    CHECK_INT(m->triggers_len, 2);
    CHECK_STR(m->triggers[0].route, "/b");
    CHECK_STR(m->triggers[1].route, "/a/*");
    CHECK_STR(m->components[m->triggers[1].component].id, "y");
    kiln_manifest_free(m);
}

static void test_hosts(void)
{
    static const char *const good[] = {"https://example.com",
                                       "http://example.com:8080",
                                       "*://*:*",
                                       "redis://*:6379",
                                       "http://*.spin.internal",
                                       "https://x.com/",
                                       "mysql://db:3306..3310",
                                       "http://[::1]:80",
                                       "https://{{ host }}",
                                       "http://127.0.0.1:3000",
                                       NULL};
    static const char *const bad[] = {
        "example.com", "://x",       "https://", "https://a.*.b", "http://x:0",    "http://x:99999",
        "http://x:a",  "http://x/p", "HTTP://x", "http://x..y",   "http://x:9..1", NULL};
    for (const char *const *g = good; *g; g++) {
        const char *why = NULL;
        int ok = kiln_outbound_host_valid(*g, &why);
        if (!ok) fprintf(stderr, "  should be valid: %s (%s)\n", *g, why);
        CHECK(ok);
    }
    for (const char *const *b = bad; *b; b++) {
        const char *why = NULL;
        int ok = kiln_outbound_host_valid(*b, &why);
        if (ok) fprintf(stderr, "  should be invalid: %s\n", *b);
        CHECK(!ok && why != NULL);
    }
}

static void test_glob(void)
{
    CHECK(kiln_glob_match("static/**/*", "static/a.html"));
    CHECK(kiln_glob_match("static/**/*", "static/css/a.css"));
    CHECK(!kiln_glob_match("static/**/*", "other/a.css"));
    CHECK(kiln_glob_match("**/*.tmp", "x.tmp"));
    CHECK(kiln_glob_match("**/*.tmp", "a/b/x.tmp"));
    CHECK(!kiln_glob_match("*.tmp", "a/x.tmp"));
    CHECK(kiln_glob_match("./a?c.txt", "abc.txt"));
    CHECK(kiln_glob_match("[ab].txt", "b.txt"));
    CHECK(!kiln_glob_match("*", ".hidden"));
}

static void test_find(void)
{
    char *path = NULL, *err = NULL;
    char cwd[4096];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    write_file("d1/spin.toml", "");
    CHECK_INT(kiln_manifest_find(at("d1"), &path, &err), 0);
    CHECK_STR(path, at("d1/spin.toml"));
    kiln_free(path);
    write_file("d1/kiln.toml", "");
    CHECK_INT(kiln_manifest_find(at("d1"), &path, &err), 0);
    CHECK_STR(path, at("d1/kiln.toml"));
    kiln_free(path);
    CHECK_INT(kiln_manifest_find(at("d1/spin.toml"), &path, &err), 0);
    CHECK_STR(path, at("d1/spin.toml"));
    kiln_free(path);
    CHECK(chdir(at("d1")) == 0);
    CHECK_INT(kiln_manifest_find(NULL, &path, &err), 0);
    CHECK_STR(path, "kiln.toml");
    kiln_free(path);
    CHECK(chdir(at("static")) == 0);
    CHECK_INT(kiln_manifest_find(NULL, &path, &err), -1);
    CHECK_STR(err, "no kiln.toml or spin.toml in the current directory (use -f to name the "
                   "manifest)");
    kiln_free(err);
    CHECK(chdir(cwd) == 0);
    CHECK_INT(kiln_manifest_find(at("static"), &path, &err), -1);
    CHECK(err && strstr(err, "no kiln.toml or spin.toml in directory") == err);
    kiln_free(err);
    CHECK_INT(kiln_manifest_find(at("nope"), &path, &err), -1);
    CHECK(err && strstr(err, "No such file or directory"));
    kiln_free(err);

    /* kiln_manifest_load reads the file */
    write_file("d2/kiln.toml", HEAD "[component.a]\nsource = \"a.wasm\"\n");
    write_file("d2/a.wasm", "");
    kiln_diags d = KILN_DIAGS_INIT;
    kiln_manifest *m = kiln_manifest_load(at("d2/kiln.toml"), &d);
    CHECK(m != NULL);
    CHECK_INT(d.len, 0);
    kiln_manifest_free(m);
    m = kiln_manifest_load(at("d2/none.toml"), &d);
    CHECK(m == NULL);
    CHECK_INT(d.errors, 1);
    kiln_diags_free(&d);
}

static void test_oom(void)
{
    const char *text = HEAD "[variables]\nv = { default = \"x\" }\n"
                            "[[trigger.http]]\nroute = \"/a\"\ncomponent = \"api\"\n"
                            "executor = { type = \"wagi\" }\n"
                            "[component.api]\nsource = \"api.wasm\"\nfiles = [\"static/*\"]\n"
                            "environment = { A = \"b\" }\nallowed_http_hosts = [\"x.com\"]\n";
    int ok = 0;
    for (long n = 0; n < 400 && !ok; n++) {
        kiln_diags d = KILN_DIAGS_INIT;
        kiln_alloc_fail_after(n);
        kiln_manifest *m = kiln_manifest_load_text(text, strlen(text), "kiln.toml", &d);
        kiln_alloc_fail_after(-1);
        ok = m != NULL;
        kiln_manifest_free(m);
        kiln_diags_free(&d);
    }
    CHECK(ok);
}

/* [component.ID.tool.kiln]: Kiln's per-component limits; other tools are ignored. */
static void test_kiln_tool(void)
{
    const char *msgs;
    kiln_manifest *m = load(HEAD "[component.api]\nsource = \"api.wasm\"\n"
                                 "[component.api.tool.kiln]\nrequest_timeout = \"1.5s\"\n"
                                 "max_instance_memory = \"64M\"\nmemory_checks = \"bounds\"\n"
                                 "[component.api.tool.other]\nanything = 1\n",
                            &msgs, NULL);
    CHECK(m != NULL);
    if (m) {
        CHECK_INT(m->components[0].request_timeout_ms, 1500);
        CHECK_INT(m->components[0].max_instance_memory, 64ull << 20);
        CHECK_INT(m->components[0].memory_checks, 2);
    }
    kiln_manifest_free(m);
    CHECK_STR(diags_of(HEAD "[component.api]\nsource = \"api.wasm\"\n"
                            "[component.api.tool.kiln]\nrequest_timeout = 5\n"),
              "kiln.toml:7:19: `request_timeout` must be a duration string like \"5s\" or "
              "\"500ms\"");
    CHECK_STR(diags_of(HEAD "[component.api]\nsource = \"api.wasm\"\n"
                            "[component.api.tool.kiln]\nmax_instance_memory = \"lots\"\n"),
              "kiln.toml:7:23: `max_instance_memory` must be a size string of at least 64K, like "
              "\"64M\"");
    CHECK_STR(diags_of(HEAD "[component.api]\nsource = \"api.wasm\"\n"
                            "[component.api.tool.kiln]\nmemory_checks = \"fast\"\n"),
              "kiln.toml:7:17: `memory_checks` must be \"guard\" (guard pages) or \"bounds\" "
              "(explicit bounds checks)");
    const char *d = diags_of(HEAD "[component.api]\nsource = \"api.wasm\"\n"
                                  "[component.api.tool.kiln]\nrequest_timout = \"1s\"\n");
    CHECK(strstr(d, "unknown key `request_timout`") && strstr(d, "did you mean"));
}

/* A version-1 manifest is converted as Spin converts it: [[component]] ids made
 * kebab-case, one [[trigger.TYPE]] per component with id "trigger-ID", the app trigger's
 * `base`, `config` as variables, allowed_http_hosts as outbound hosts (plus every
 * database host when allowed_outbound_hosts is absent). */
static void test_v1(void)
{
    const char *msgs;
    size_t errors = 0;
    kiln_manifest *m = load("spin_manifest_version = \"1\"\n"
                            "name = \"old\"\nversion = \"1.0.0\"\nauthors = [\"a\"]\n"
                            "trigger = { type = \"http\", base = \"/base\" }\n"
                            "[variables]\nmsg = { default = \"hi\" }\n"
                            "[[component]]\nid = \"hello_World\"\nsource = \"api.wasm\"\n"
                            "allowed_http_hosts = [\"example.com:8080\", \"self\"]\n"
                            "config = { greeting = \"{{ msg }}\" }\n"
                            "[component.trigger]\nroute = \"/hello\"\n"
                            "executor = { type = \"wagi\" }\n"
                            "[component.build]\ncommand = \"make\"\n"
                            "[[component]]\nid = \"two\"\nsource = \"api.wasm\"\n"
                            "allowed_outbound_hosts = [\"https://x.com\"]\n"
                            "[component.trigger]\nroute = \"/two/...\"\n",
                            &msgs, &errors);
    CHECK(m != NULL);
    CHECK_INT(errors, 0);
    if (!m) {
        fprintf(stderr, "%s\n", msgs);
        return;
    }
    CHECK_INT(m->manifest_version, 1);
    CHECK_STR(m->name, "old");
    CHECK_STR(m->base, "/base");
    CHECK_INT(m->components_len, 2);
    CHECK_INT(m->triggers_len, 2);
    const kiln_component *c = &m->components[0];
    CHECK_STR(c->id, "hello-world");
    CHECK_STR(c->variables.items[0].key, "greeting");
    CHECK_STR(c->variables.items[0].value, "{{ msg }}");
    CHECK_INT(c->allowed_outbound_hosts.len, 6);
    CHECK_STR(c->allowed_outbound_hosts.items[0], "redis://*:*");
    CHECK_STR(c->allowed_outbound_hosts.items[3], "https://example.com:8080");
    CHECK_STR(c->allowed_outbound_hosts.items[4], "http://example.com:8080");
    CHECK_STR(c->allowed_outbound_hosts.items[5], "http://self");
    CHECK_STR(c->build_command.items[0], "make");
    CHECK_INT(m->components[1].allowed_outbound_hosts.len, 1);
    CHECK_STR(m->triggers[0].id, "trigger-hello-world");
    CHECK_STR(m->triggers[0].route, "/hello");
    CHECK_INT(m->triggers[0].executor, KILN_EXECUTOR_WAGI);
    CHECK_INT(m->triggers[0].component, 0);
    CHECK_STR(m->triggers[1].route, "/two/...");
    CHECK_INT(m->triggers[1].component, 1);
    kiln_manifest_free(m);

    /* the older spin_version key, and a Redis app: settings kept, nothing to serve */
    m = load("spin_version = \"1\"\nname = \"r\"\n"
             "trigger = { type = \"redis\", address = \"redis://localhost:6379\" }\n"
             "[[component]]\nid = \"echo\"\nsource = \"api.wasm\"\n"
             "[component.trigger]\nchannel = \"messages\"\n",
             &msgs, &errors);
    CHECK(m != NULL);
    if (m) {
        CHECK_INT(m->triggers_len, 0);
        CHECK_INT(m->other_triggers_len, 1);
        CHECK_STR(m->other_triggers[0].type, "redis");
        CHECK_STR(m->other_triggers[0].settings.items[0].value, "messages");
        CHECK_INT(m->trigger_settings_len, 1);
        CHECK_STR(m->trigger_settings[0].settings.items[0].key, "address");
        CHECK_INT(m->trigger_settings[0].settings.len, 1);
        kiln_strlist why = {0};
        CHECK_INT(kiln_manifest_unserved(m, &why), 0); /* Redis is served (exec/trigger/) */
        kiln_strlist_free(&why);
        kiln_manifest_free(m);
    }
    CHECK_STR(diags_of("spin_manifest_version = \"1\"\nname = \"x\"\ntrigger = { type = "
                       "\"http\" }\n[[component]]\nid = \"a\"\nsource = \"api.wasm\"\nroute = "
                       "\"/\"\n"),
              "kiln.toml:4:1: component `a` needs a [component.trigger] table (e.g. route = "
              "\"/...\")\n"
              "kiln.toml:7:1: unknown key `route` in component `a`");
    CHECK(strstr(diags_of("spin_manifest_version = \"1\"\nname = \"x\"\ntrigger = { type = "
                          "\"http\" }\n[[component]]\nid = \"a.b\"\nsource = \"api.wasm\"\n"
                          "[component.trigger]\nroute = \"/\"\n"),
                 "kiln.toml:5:6: component id `a.b` cannot be made kebab-case") != NULL);
}

/* Spin 3 syntax: kept in the model; what Kiln cannot serve is named once. */
static void test_spin3(void)
{
    const char *msgs;
    size_t errors = 0;
    kiln_manifest *m =
        load(HEAD "[application.trigger.redis]\naddress = \"redis://h:6379\"\n"
                  "[variables]\ntoken = { required = true, description = \"API token\" }\n"
                  "[[trigger.http]]\nroute = \"/...\"\ncomponent = \"api\"\n"
                  "dependencies.middleware = [{ component = \"auth\" }, { path = \"m.wasm\" }]\n"
                  "[[trigger.redis]]\nchannel = \"c\"\ncomponent = \"auth\"\n"
                  "[[trigger.redis]]\nchannel = \"d\"\ncomponent = \"auth\"\n"
                  "[component.api]\nsource = \"api.wasm\"\nai_models = [\"llama2-chat\"]\n"
                  "dependencies_inherit_configuration = true\n"
                  "[component.api.dependencies]\n\"a:b/c\" = \">= 0.1.0\"\n"
                  "\"d:e/f\" = { path = \"dep.wasm\", export = \"x:y/z\" }\n"
                  "\"g:h\" = { component = \"auth\" }\n"
                  "[component.api.profile.debug]\nsource = \"api.wasm\"\n"
                  "environment = { MODE = \"debug\" }\nbuild.command = \"make debug\"\n"
                  "dependencies = { \"a:b/c\" = { path = \"debug-c.wasm\" }, "
                  "\"n:e/w\" = { path = \"n.wasm\" } }\n"
                  "[component.auth]\nsource = \"api.wasm\"\n",
             &msgs, &errors);
    CHECK(m != NULL);
    CHECK_INT(errors, 0);
    if (!m) {
        fprintf(stderr, "%s\n", msgs);
        return;
    }
    /* one warning for AI models, none for the Redis triggers (served) */
    CHECK(strstr(msgs, "`ai_models` (Spin's Serverless AI") != NULL);
    CHECK(strstr(msgs, "[[trigger.redis]]") == NULL);
    CHECK_STR(m->variables[0].description, "API token");
    const kiln_component *c = &m->components[0];
    CHECK_INT(c->dependencies_len, 3);
    CHECK_STR(c->dependencies[0].kind, "version");
    CHECK_STR(c->dependencies[1].kind, "path");
    CHECK_STR(c->dependencies[1].value, at("dep.wasm"));
    CHECK_STR(c->dependencies[1].export_name, "x:y/z");
    CHECK_STR(c->dependencies[2].value, "auth");
    CHECK_INT(c->dependencies_inherit_configuration, 1);
    CHECK_INT(c->profiles_len, 1);
    CHECK_STR(c->profiles[0].build_command.items[0], "make debug");
    CHECK_INT(m->triggers[0].middleware.len, 2);
    CHECK_STR(m->triggers[0].middleware.items[1], "path:m.wasm");
    CHECK_STR(m->trigger_settings[0].type, "redis");
    kiln_strlist why = {0};
    /* the registry dependency only: path and component dependencies and middleware are
     * served */
    CHECK_INT(kiln_manifest_unserved(m, &why), 1);
    CHECK(why.len == 1 && strstr(why.items[0], "dependency '") &&
          strstr(why.items[0], "from OCI registries only"));
    CHECK_INT(m->triggers[0].mw_len, 2);
    CHECK_STR(m->triggers[0].mw[1].kind, "path");
    CHECK_STR(m->triggers[0].mw[1].value, at("m.wasm"));
    CHECK_INT(m->triggers[0].mw[0].inherit, -1);
    kiln_strlist_free(&why);
    /* where each dependency is loaded from, and its grants */
    const char *dwhy = NULL;
    CHECK(kiln_dependency_file(m, &c->dependencies[0], &dwhy) == NULL);
    CHECK(dwhy && strstr(dwhy, "registry"));
    CHECK_STR(kiln_dependency_file(m, &c->dependencies[1], &dwhy), at("dep.wasm"));
    CHECK_STR(kiln_dependency_file(m, &c->dependencies[2], &dwhy), at("api.wasm"));
    CHECK_INT(kiln_dependency_inherits(c, &c->dependencies[1]), 1);
    kiln_dependency own = c->dependencies[1];
    own.inherit = 0;
    CHECK_INT(kiln_dependency_inherits(c, &own), 0);
    own.inherit = 2; /* a list of keys (the capability sets in inherit_keys) */
    CHECK_INT(kiln_dependency_inherits(c, &own), 2);
    CHECK_INT(kiln_dependency_inherits(NULL, &c->dependencies[1]), 0); /* middleware: none */
    const char *err = NULL;
    CHECK_INT(kiln_manifest_apply_profile(m, "relase", &err), -1);
    CHECK_INT(kiln_manifest_apply_profile(m, "debug", &err), 0);
    CHECK_STR(m->components[0].environment.items[0].value, "debug");
    /* the profile's dependencies replace the component's of the same name, add the others */
    CHECK_INT(m->components[0].dependencies_len, 4);
    CHECK_STR(m->components[0].dependencies[0].kind, "path");
    CHECK_STR(m->components[0].dependencies[0].value, at("debug-c.wasm"));
    CHECK_STR(m->components[0].dependencies[3].name, "n:e/w");
    kiln_manifest_free(m);
    CHECK_STR(diags_of(HEAD "[component.api]\nsource = \"api.wasm\"\n"
                            "[component.api.dependencies]\nplain = \"1.0\"\n"
                            "\"a:b\" = { versoin = \"1\" }\n"),
              "kiln.toml:7:1: dependency `plain` must specify a package name\n"
              "kiln.toml:8:9: dependency `a:b` needs one of `version`, `path`, `url` or "
              "`component`\n"
              "kiln.toml:8:11: unknown key `versoin` in a dependency; did you mean `version`?");
}

/* Spin's rules across components for dependencies (its manifest normalization). */
static void test_dependency_rules(void)
{
    CHECK_STR(diags_of(HEAD "[component.api]\nsource = \"api.wasm\"\n"
                            "dependencies_inherit_configuration = true\n"
                            "[component.api.dependencies]\n"
                            "\"a:b/c\" = { path = \"api.wasm\", inherit_configuration = false }\n"),
              "kiln.toml:6:38: component `api` specifies both `dependencies_inherit_configuration` "
              "and per-dependency `inherit_configuration`; they are mutually exclusive: use one "
              "or the other");
    CHECK_STR(diags_of(HEAD "[component.api]\nsource = \"api.wasm\"\n"
                            "[component.api.dependencies]\n"
                            "\"a:b/c\" = { component = \"lib\" }\n"
                            "\"a:b/d\" = { component = \"nope\" }\n"
                            "[component.lib]\nsource = \"api.wasm\"\n"
                            "environment = { A = \"1\" }\nfiles = [\"static/**\"]\n"),
              "kiln.toml:7:1: dependencies may not have their own resources or permissions: "
              "component `lib` cannot be used as a dependency of component `api` because it "
              "specifies: "
              "environment, files\n"
              "kiln.toml:8:1: dependency `a:b/d`: component `nope` does not exist");
    CHECK_STR(diags_of(HEAD "[[trigger.http]]\nroute = \"/...\"\ncomponent = \"api\"\n"
                            "dependencies.middleware = [{ component = \"mw\" }]\n"
                            "[component.api]\nsource = \"api.wasm\"\n"
                            "[component.mw]\nsource = \"api.wasm\"\n"
                            "allowed_outbound_hosts = [\"https://x.com\"]\n"),
              "kiln.toml:7:28: dependencies may not have their own resources or permissions: "
              "component `mw` cannot be used as a dependency of trigger `trigger-1` because it "
              "specifies: allowed_outbound_hosts");
    /* a dependency component without resources is fine */
    const char *msgs;
    kiln_manifest *m = load(HEAD "[component.api]\nsource = \"api.wasm\"\n"
                                 "[component.api.dependencies]\n"
                                 "\"a:b/c\" = { component = \"lib\" }\n"
                                 "[component.lib]\nsource = \"api.wasm\"\n",
                            &msgs, NULL);
    CHECK(m != NULL);
    kiln_manifest_free(m);
}

/* `kiln up -f FILE.wasm`: the one-component app Spin makes of a bare Wasm file. */
static void test_from_wasm(void)
{
    CHECK_INT(kiln_manifest_is_wasm_file("a/b.wasm"), 1);
    CHECK_INT(kiln_manifest_is_wasm_file("b.wat"), 1);
    CHECK_INT(kiln_manifest_is_wasm_file("spin.toml"), 0);
    CHECK_INT(kiln_manifest_is_wasm_file(".wasm"), 0);
    write_file("my \"app\".wasm", "\0asm");
    char wasm[4096];
    snprintf(wasm, sizeof wasm, "%s", at("my \"app\".wasm"));
    kiln_diags d = KILN_DIAGS_INIT;
    kiln_manifest *m = kiln_manifest_from_wasm(wasm, &d);
    CHECK(m != NULL);
    CHECK_INT(d.errors, 0);
    if (m) {
        CHECK_STR(m->name, "my \"app\"");
        CHECK_INT(m->triggers_len, 1);
        CHECK_STR(m->triggers[0].route, "/...");
        CHECK_INT(m->components_len, 1);
        const char *src = m->components[m->triggers[0].component].source;
        size_t n = src ? strlen(src) : 0;
        CHECK(src && src[0] == '/' && n > 14 && strcmp(src + n - 14, "/my \"app\".wasm") == 0);
    }
    kiln_manifest_free(m);
    kiln_diags_free(&d);
}

/* -c (kiln_manifest_select_components) keeps the triggers of every type of the named
 * components and drops the others', as Spin's retain_components. */
static void test_select_components(void)
{
    const char *msgs;
    size_t errors = 0;
    kiln_manifest *m = load(HEAD "[[trigger.http]]\nroute = \"/a\"\ncomponent = \"a\"\n"
                                 "[[trigger.http]]\nroute = \"/b\"\ncomponent = \"b\"\n"
                                 "[[trigger.redis]]\nchannel = \"c\"\ncomponent = \"b\"\n"
                                 "[[trigger.cron]]\ncron_expression = \"* * * * * *\"\n"
                                 "component = \"a\"\n"
                                 "[component.a]\nsource = \"api.wasm\"\n"
                                 "[component.b]\nsource = \"api.wasm\"\n",
                            &msgs, &errors);
    CHECK(m != NULL);
    if (!m) return;
    const char *ids[] = {"a"}, *bad = NULL;
    CHECK_INT(kiln_manifest_select_components(m, ids, 1, &bad), 0);
    CHECK_INT(m->triggers_len, 1);
    CHECK_STR(m->triggers[0].route, "/a");
    CHECK_INT(m->other_triggers_len, 1);
    CHECK_STR(m->other_triggers[0].type, "cron");
    const char *none[] = {"zz"};
    CHECK_INT(kiln_manifest_select_components(m, none, 1, &bad), -1);
    CHECK_STR(bad, "zz");
    kiln_manifest_free(m);
}

/* Unknown keys in a static_response are ignored by Spin: a warning, not an error. */
static void test_static_extra_keys(void)
{
    const char *msgs;
    size_t errors = 0;
    kiln_manifest *m =
        load(HEAD "[[trigger.http]]\nroute = \"/s\"\n"
                  "static_response = { status_code = 201, status = 404, body = \"b\" }\n",
             &msgs, &errors);
    CHECK(m != NULL);
    CHECK_INT(errors, 0);
    CHECK_STR(msgs, "kiln.toml:6:40: warning: unknown key `status` in a static_response is "
                    "ignored");
    if (m) CHECK_INT(m->triggers[0].status_code, 201);
    kiln_manifest_free(m);
}

/* A profile's `source` may be { url, digest } or a registry package, as Spin's. */
#define PROFILE_APP                                                                                \
    HEAD "[[trigger.http]]\nroute = \"/...\"\ncomponent = \"a\"\n"                                 \
         "[component.a]\nsource = \"api.wasm\"\n"                                                  \
         "[component.a.profile.remote]\nsource = { url = \"https://h/a.wasm\", digest = "          \
         "\"sha256:00\" }\n"                                                                       \
         "[component.a.profile.reg]\nsource = { package = \"x:y\", version = \"1.0.0\" }\n"
static void test_profile_sources(void)
{
    const char *msgs;
    size_t errors = 0;
    kiln_manifest *m = load(PROFILE_APP "[component.a.profile.bad]\nsource = 3\n", &msgs, &errors);
    CHECK(m == NULL);
    CHECK_INT(errors, 1);
    CHECK(strstr(msgs, "must be a path or { url, digest }, not an integer") != NULL);
    m = load(PROFILE_APP, &msgs, &errors);
    CHECK(m != NULL);
    if (!m) return;
    const char *err = NULL;
    CHECK_INT(kiln_manifest_apply_profile(m, "remote", &err), 0);
    CHECK(m->components[0].source == NULL);
    CHECK_STR(m->components[0].source_url, "https://h/a.wasm");
    CHECK_STR(m->components[0].source_digest, "sha256:00");
    CHECK_INT(kiln_manifest_apply_profile(m, "reg", &err), 0);
    CHECK(m->components[0].source_url == NULL);
    kiln_strlist why = {0};
    CHECK_INT(kiln_manifest_unserved(m, &why), 1); /* a registry source: named */
    CHECK(why.len == 1 && strstr(why.items[0], "x:y@1.0.0") != NULL);
    kiln_strlist_free(&why);
    kiln_manifest_free(m);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    char *real = realpath(tmpdir, NULL);
    if (real) {
        snprintf(tmpdir, sizeof tmpdir, "%s", real);
        free(real);
    }
    write_file("api.wasm", "");
    write_file("static/index.html", "x");
    write_file("static/css/a.css", "x");
    write_file("static/junk.tmp", "x");
    write_file("assets/x", "x");
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd) || chdir(tmpdir) != 0) return 1;
    test_from_wasm();
    test_dependency_rules();
    test_full();
    test_errors();
    test_duplicates();
    test_glob();
    test_hosts();
    test_find();
    test_oom();
    test_kiln_tool();
    test_http_executor();
    test_v1();
    test_spin3();
    test_select_components();
    test_profile_sources();
    test_static_extra_keys();
    if (chdir(cwd) != 0) return 1;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return test_finish("manifest_test");
}
