/* app_test.c — variable names, templates, providers, the runtime config file and the
 * application's grants (app.h). */
#include "host/spin/app.h"
#include "util/alloc.h"
#include "util/file.h"
#include "util/test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/kiln-spin-app-test-XXXXXX";

static const char *lookup(void *arg, const char *name, size_t len)
{
    (void)arg;
    if (len == 3 && memcmp(name, "foo", 3) == 0) return "FOO";
    if (len == 3 && memcmp(name, "bar", 3) == 0) return "";
    return NULL;
}

static void test_names_templates(void)
{
    CHECK(kiln_spin_name_invalid("api_key2", 8) == NULL);
    CHECK(kiln_spin_name_invalid("a", 1) == NULL);
    CHECK(kiln_spin_name_invalid("", 0) != NULL);
    CHECK(kiln_spin_name_invalid("Api", 3) != NULL);
    CHECK(kiln_spin_name_invalid("2a", 2) != NULL);
    CHECK(kiln_spin_name_invalid("a__b", 4) != NULL);
    CHECK(kiln_spin_name_invalid("a_", 2) != NULL);
    CHECK(kiln_spin_name_invalid("a-b", 3) != NULL);
    CHECK(kiln_spin_name_invalid("a\0b", 3) != NULL);

    char *err = NULL, *s;
    CHECK_STR(s = kiln_spin_template_render("plain", lookup, NULL, &err), "plain");
    kiln_free(s);
    CHECK_STR(s = kiln_spin_template_render("", lookup, NULL, &err), "");
    kiln_free(s);
    CHECK_STR(s = kiln_spin_template_render("a-{{ foo }}-b{{bar}}{{  foo}}", lookup, NULL, &err),
              "a-FOO-bFOO");
    kiln_free(s);
    CHECK_STR(s = kiln_spin_template_render("{{ foo }}{{ foo }}", lookup, NULL, &err), "FOOFOO");
    kiln_free(s);
    CHECK(kiln_spin_template_render("x {{ foo", lookup, NULL, &err) == NULL);
    CHECK(err && strstr(err, "unmatched"));
    kiln_free(err);
    err = NULL;
    CHECK(kiln_spin_template_render("{{ nope }}", lookup, NULL, &err) == NULL);
    CHECK_STR(err, "unknown variable \"nope\"");
    kiln_free(err);
}

/* A fake environment for the providers. */
static const char *fake_getenv(const char *name)
{
    if (strcmp(name, "SPIN_VARIABLE_FROM_ENV") == 0) return "env-value";
    if (strcmp(name, "SPIN_VARIABLE_BOTH") == 0) return "env-both";
    if (strcmp(name, "MYAPP_PREFIXED") == 0) return "prefixed";
    return NULL;
}

/* The same with every required variable set. */
static const char *full_getenv(const char *name)
{
    if (strcmp(name, "SPIN_VARIABLE_PREFIXED") == 0 ||
        strcmp(name, "SPIN_VARIABLE_FROM_STATIC") == 0)
        return "x";
    return fake_getenv(name);
}

static char *write_tmp(const char *name, const char *text)
{
    static char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    if (kiln_write_file(p, text, strlen(text)) < 0) return NULL;
    return p;
}

static kiln_manifest *manifest(const char *text)
{
    kiln_diags d = KILN_DIAGS_INIT;
    char path[256];
    snprintf(path, sizeof path, "%s/kiln.toml", dir);
    kiln_manifest *m = kiln_manifest_load_text(text, strlen(text), path, &d);
    for (size_t i = 0; i < d.len; i++)
        fprintf(stderr, "  %s\n", d.items[i].message);
    kiln_diags_free(&d);
    return m;
}

static const char *app_toml =
    "spin_manifest_version = 2\n"
    "[application]\nname = \"t\"\n"
    "[variables]\n"
    "from_env = { required = true }\n"
    "both = { default = \"default-both\" }\n"
    "plain = { default = \"d\" }\n"
    "prefixed = { required = true, secret = true }\n"
    "from_static = { required = true }\n"
    "[[trigger.http]]\nroute = \"/...\"\ncomponent = \"c\"\n"
    "[component.c]\nsource = \"c.wasm\"\nkey_value_stores = [\"default\", \"extra\"]\n"
    "[component.c.variables]\n"
    "url = \"https://{{ from_env }}/{{ plain }}\"\n"
    "both = \"{{ both }}\"\n"
    "key = \"{{prefixed}}{{ from_static }}\"\n";

static void test_app(void)
{
    char *err = NULL;
    CHECK(write_tmp("c.wasm", "\0asm\1\0\0\0") != NULL);
    kiln_manifest *m = manifest(app_toml);
    CHECK(m != NULL);
    if (!m) return;
    /* without the runtime config: the label "extra" is unknown */
    kiln_spin_options o = {.getenv_fn = full_getenv};
    o.state_dir = dir;
    CHECK(kiln_spin_app_new(m, &o, &err) == NULL);
    CHECK(err && strstr(err, "\"extra\""));
    kiln_free(err);
    err = NULL;
    o.getenv_fn = fake_getenv;

    char *rc =
        write_tmp("rc.toml", "state_dir = \"state\"\n"
                             "[key_value_store.extra]\ntype = \"spin\"\npath = "
                             "\"extra.db\"\n"
                             "[[config_provider]]\ntype = \"static\"\nvalues = { from_static "
                             "= \"S\", both = \"static-both\" }\n"
                             "[[variables_provider]]\ntype = \"env\"\nprefix = \"MYAPP\"\n"
                             "[sqlite_database.default]\ntype = \"spin\"\n");
    CHECK(rc != NULL);
    char rcpath[256];
    snprintf(rcpath, sizeof rcpath, "%s", rc);
    o.state_dir = NULL;
    o.runtime_config_file = rcpath;
    kiln_spin_app *a = kiln_spin_app_new(m, &o, &err);
    if (!a) fprintf(stderr, "  %s\n", err ? err : "?");
    CHECK(a != NULL);
    if (a) {
        CHECK_INT(kiln_spin_app_install(a), 0);
        const spin_component *c = spin_app_component("c");
        CHECK(c != NULL);
        CHECK(spin_app_component("nope") == NULL);
        size_t n = 0;
        const spin_var *vs = c ? spin_component_vars(c, &n) : NULL;
        CHECK_INT(n, 3);
        if (n == 3) {
            CHECK_STR(vs[0].name, "url");
            CHECK_STR(vs[0].value, "https://env-value/d");
            CHECK_STR(vs[1].value, "static-both"); /* the runtime config's provider first */
            CHECK_STR(vs[2].value, "prefixedS");
        }
        kiln_kvs *db = NULL;
        const char *name = NULL;
        CHECK_INT(spin_component_store(c, "default", 7, &db, &name), 1);
        CHECK(db != NULL);
        CHECK_INT(spin_component_store(c, "extra", 5, &db, &name), 1);
        CHECK_STR(name, "extra");
        CHECK_INT(spin_component_store(c, "other", 5, &db, &name), -1);
        char p[300];
        snprintf(p, sizeof p, "%s/state/sqlite_key_value.db", dir);
        CHECK(access(p, F_OK) == 0); /* state_dir relative to the file's directory */
        snprintf(p, sizeof p, "%s/extra.db", dir);
        CHECK(access(p, F_OK) == 0);
        const char *desc = kiln_spin_app_describe(a, "c");
        CHECK(desc && strstr(desc, "extra at "));
        kiln_spin_app_free(a);
        CHECK(spin_app_component("c") == NULL); /* uninstalled with it */
    }

    /* --variable first (NAME=@FILE reads the file), --key-value seeds the default store */
    char *vf = write_tmp("var.txt", "from a file");
    CHECK(vf != NULL);
    char vfarg[300];
    snprintf(vfarg, sizeof vfarg, "from_static=@%s", vf);
    const char *vars[] = {"both=cli-both", vfarg, "prefixed=P"};
    const char *kvs[] = {"seeded=yes", "empty="};
    kiln_spin_options cli = {.state_dir = dir,
                             .runtime_config_file = rcpath,
                             .variables = vars,
                             .nvariables = 3,
                             .key_values = kvs,
                             .nkey_values = 2,
                             .getenv_fn = fake_getenv};
    a = kiln_spin_app_new(m, &cli, &err);
    if (!a) fprintf(stderr, "  %s\n", err ? err : "?");
    CHECK(a != NULL);
    if (a) {
        CHECK_INT(kiln_spin_app_install(a), 0);
        size_t n = 0;
        const spin_var *vs = spin_component_vars(spin_app_component("c"), &n);
        CHECK(n == 3 && strcmp(vs[1].value, "cli-both") == 0);
        CHECK(n == 3 && strcmp(vs[2].value, "Pfrom a file") == 0);
        kiln_kvs *db = NULL;
        const char *name = NULL;
        CHECK_INT(spin_component_store(spin_app_component("c"), "default", 7, &db, &name), 1);
        uint8_t *v = NULL;
        size_t vl = 0;
        int found = 0;
        CHECK_INT(kiln_kvs_get(db, "default", "seeded", 6, &v, &vl, &found, &err), 0);
        CHECK(found && vl == 3 && memcmp(v, "yes", 3) == 0);
        kiln_free(v);
        CHECK_INT(kiln_kvs_get(db, "default", "empty", 5, &v, &vl, &found, &err), 0);
        CHECK(found && vl == 0);
        kiln_free(v);
        kiln_spin_app_free(a);
    }
    const char *bad[] = {"novalue"};
    cli.variables = bad;
    cli.nvariables = 1;
    CHECK(kiln_spin_app_new(m, &cli, &err) == NULL);
    CHECK(err && strstr(err, "--variable novalue"));
    kiln_free(err);
    err = NULL;

    /* a required variable without a value stops with its name */
    o.runtime_config_file = NULL;
    o.state_dir = "";
    CHECK(kiln_spin_app_new(m, &o, &err) == NULL);
    CHECK(err && strstr(err, "`prefixed`"));
    kiln_free(err);
    err = NULL;
    char **vals = NULL;
    CHECK_INT(kiln_spin_vars_resolve(m, NULL, fake_getenv, &vals, &err), -1);
    CHECK(err && strstr(err, "`prefixed`") && strstr(err, "SPIN_VARIABLE_PREFIXED"));
    kiln_free(err);
    kiln_manifest_free(m);
}

static void test_runtime_config_errors(void)
{
    kiln_spin_runtime_config rc;
    char *err = NULL;
    char *p = write_tmp("good1.toml", "[key_value_store.x]\ntype = \"redis\"\nurl = \"redis://x\"\n"
                                      "[sqlite_database.y]\ntype = \"spin\"\npath = \"y.db\"\n");
    CHECK_INT(kiln_spin_runtime_config_load(p, &rc, &err), 0);
    CHECK(rc.nstores == 1 && rc.stores[0].url && strcmp(rc.stores[0].url, "redis://x") == 0);
    CHECK(rc.nsqlite == 1 && rc.sqlite[0].path && strstr(rc.sqlite[0].path, "/y.db"));
    kiln_spin_runtime_config_free(&rc);
    p = write_tmp("bad1.toml", "[key_value_store.x]\ntype = \"redis\"\n");
    CHECK_INT(kiln_spin_runtime_config_load(p, &rc, &err), -1);
    CHECK(err && strstr(err, "a redis store needs a url"));
    kiln_free(err);
    p = write_tmp("bad1b.toml", "[key_value_store.x]\ntype = \"azure_cosmos\"\n");
    CHECK_INT(kiln_spin_runtime_config_load(p, &rc, &err), -1);
    CHECK(err && strstr(err, "azure_cosmos"));
    kiln_free(err);
    p = write_tmp("bad1c.toml", "[sqlite_database.x]\ntype = \"libsql\"\nurl = \"u\"\n");
    CHECK_INT(kiln_spin_runtime_config_load(p, &rc, &err), -1);
    CHECK(err && strstr(err, "libsql"));
    kiln_free(err);
    p = write_tmp("bad2.toml", "[[config_provider]]\ntype = \"vault\"\n");
    CHECK_INT(kiln_spin_runtime_config_load(p, &rc, &err), -1);
    CHECK(err && strstr(err, "vault"));
    kiln_free(err);
    p = write_tmp("bad3.toml", "state_dir = = 1\n");
    CHECK_INT(kiln_spin_runtime_config_load(p, &rc, &err), -1);
    CHECK(err != NULL);
    kiln_free(err);
    CHECK_INT(kiln_spin_runtime_config_load("/nonexistent/rc.toml", &rc, &err), -1);
    kiln_free(err);
    p = write_tmp("out1.toml", "[outbound_http]\nmax_connections = 3\nconnection_pooling = true\n");
    CHECK_INT(kiln_spin_runtime_config_load(p, &rc, &err), 0);
    CHECK(rc.outbound_limited && rc.outbound_max == 3);
    kiln_spin_runtime_config_free(&rc);
    p = write_tmp("out2.toml", "[outbound_http]\nmax_concurrent_requests = 0\n");
    CHECK_INT(kiln_spin_runtime_config_load(p, &rc, &err), 0);
    CHECK(rc.outbound_limited && rc.outbound_max == 1); /* Spin: the deprecated key is N + 1 */
    kiln_spin_runtime_config_free(&rc);
    p = write_tmp("out3.toml", "[outbound_http]\nmax_connections = -1\n");
    CHECK_INT(kiln_spin_runtime_config_load(p, &rc, &err), -1);
    CHECK(err && strstr(err, "max_connections must be a number"));
    kiln_free(err);
    p = write_tmp("out4.toml", "[outbound_http]\nmax_conns = 1\n");
    CHECK_INT(kiln_spin_runtime_config_load(p, &rc, &err), -1);
    CHECK(err && strstr(err, "unknown key `max_conns`"));
    kiln_free(err);
    p = write_tmp("out5.toml", "state_dir = \"\"\n");
    CHECK_INT(kiln_spin_runtime_config_load(p, &rc, &err), 0);
    CHECK(!rc.outbound_limited); /* no [outbound_http]: no limit */
    kiln_spin_runtime_config_free(&rc);
    p = write_tmp("mem.toml", "state_dir = \"\"\n[key_value_store.m]\ntype = \"spin\"\n");
    CHECK_INT(kiln_spin_runtime_config_load(p, &rc, &err), 0);
    CHECK_STR(rc.state_dir, "");
    CHECK_INT(rc.nstores, 1);
    CHECK(rc.nstores == 1 && rc.stores[0].path == NULL); /* no path: in memory */
    kiln_spin_runtime_config_free(&rc);
}

/* allowed_outbound_hosts templates resolved with the application variables (Spin's
 * rules: an entry that resolves empty is dropped; one that resolves invalid is an error). */
static void test_outbound_templates(void)
{
    static const char *toml =
        "spin_manifest_version = 2\n"
        "[application]\nname = \"t\"\n"
        "[variables]\nhost = { default = \"api.example.com\" }\n"
        "port = { default = \"8080\" }\nempty = { default = \"\" }\n"
        "bad = { default = \"not a host\" }\n"
        "[[trigger.http]]\nroute = \"/...\"\ncomponent = \"c\"\n"
        "[component.c]\nsource = \"c.wasm\"\n"
        "allowed_outbound_hosts = [\"https://{{ host }}:{{port}}\", \"http://{{ empty }}\", "
        "\"{{ empty }}\", \"http://{{ host }}.spin.internal\", \"http://plain.test\"]\n";
    kiln_manifest *m = manifest(toml);
    CHECK(m != NULL);
    if (!m) return;
    kiln_spin_options o = {0};
    o.state_dir = dir;
    o.getenv_fn = fake_getenv;
    char *err = NULL;
    kiln_spin_app *a = kiln_spin_app_new(m, &o, &err);
    CHECK(a != NULL);
    size_t n = 0;
    const char *const *hs = kiln_spin_app_outbound(a, "c", &n);
    CHECK_INT(n, 3);
    if (n == 3) {
        CHECK_STR(hs[0], "https://api.example.com:8080");
        CHECK_STR(hs[1], "http://api.example.com.spin.internal");
        CHECK_STR(hs[2], "http://plain.test");
    }
    CHECK(kiln_spin_app_outbound(a, "other", &n) == NULL && n == 0);
    kiln_spin_app_free(a);
    kiln_manifest_free(m);
    /* a template resolving to an invalid entry stops kiln up with both spellings */
    static const char *bad = "spin_manifest_version = 2\n"
                             "[application]\nname = \"t\"\n"
                             "[variables]\nbad = { default = \"not a host\" }\n"
                             "[[trigger.http]]\nroute = \"/...\"\ncomponent = \"c\"\n"
                             "[component.c]\nsource = \"c.wasm\"\n"
                             "allowed_outbound_hosts = [\"{{ bad }}\"]\n";
    m = manifest(bad);
    CHECK(m != NULL);
    if (!m) return;
    CHECK(kiln_spin_app_new(m, &o, &err) == NULL);
    CHECK(err && strstr(err, "component c: allowed_outbound_hosts entry \"{{ bad }}\" resolves "
                             "to \"not a host\""));
    kiln_free(err);
    kiln_manifest_free(m);
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    test_names_templates();
    test_app();
    test_outbound_templates();
    test_runtime_config_errors();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return test_finish("spin_app");
}
