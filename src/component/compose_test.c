/* compose_test.c — matching dependency names to imports and resolving a component's
 * dependencies (compose.h), with Spin's own cases (crates/compose: test_matches_import). */
#include "component/compose.h"
#include "util/test.h"

static void test_match(void)
{
    /* matches, as Spin's test */
    CHECK_INT(kiln_compose_match("foo:bar/baz@0.1.0", "foo:bar/baz@0.1.0"), 1);
    CHECK_INT(kiln_compose_match("foo:bar/baz", "foo:bar/baz@0.1.0"), 1);
    CHECK_INT(kiln_compose_match("foo:bar/baz", "foo:bar/baz"), 1);
    CHECK_INT(kiln_compose_match("foo:bar", "foo:bar/baz@0.1.0"), 1);
    CHECK_INT(kiln_compose_match("foo:bar", "foo:bar/baz"), 1);
    CHECK_INT(kiln_compose_match("foo:bar@0.1.0", "foo:bar/baz@0.1.0"), 1);
    CHECK_INT(kiln_compose_match("foo-bar", "foo-bar"), 1);
    /* no match */
    CHECK_INT(kiln_compose_match("foo:bar/baz@0.1.0", "foo:bar/baz"), 0);
    CHECK_INT(kiln_compose_match("foo:bar/baz", "foo:bar/bub"), 0);
    CHECK_INT(kiln_compose_match("foo:bar/baz", "foo:bar/bub@0.1.0"), 0);
    CHECK_INT(kiln_compose_match("foo:bar", "foo:bub/bib"), 0);
    CHECK_INT(kiln_compose_match("foo:bar@0.1.0", "foo:bar/baz"), 0);
    CHECK_INT(kiln_compose_match("foo:bar/baz", "foo:bar/baz-bub"), 0);
    CHECK_INT(kiln_compose_match("foo:bar/baz", "foo-bar"), 0);
    CHECK_INT(kiln_compose_match("foo-bar", "foo:bar/baz"), 0);
    CHECK_INT(kiln_compose_match("foo:bar@0.1.0", "foo:bar/baz@0.1.1"), 0);
    CHECK_INT(kiln_compose_match("foo:ba", "foo:bar/baz"), 0);
    /* invalid dependency names */
    CHECK_INT(kiln_compose_match("Foo:bar", "foo:bar/baz"), -1);
    CHECK_INT(kiln_compose_match("foo:bar@", "foo:bar/baz"), -1);
    CHECK_INT(kiln_compose_match("foo--bar", "foo--bar"), -1);
    CHECK_INT(kiln_compose_match("", "x"), -1);
    CHECK_INT(kiln_compose_match("foo@1.0.0", "foo"), -1);
}

static void test_resolve(void)
{
    const char *imports[] = {"wasi:io/streams@0.2.0", "my:lib/a@1.0.0", "my:lib/b@1.0.0",
                             "other:x/y", "plain"};
    long which[5];
    char err[512];
    kiln_compose_spec s = {0};
    CHECK_INT(kiln_compose_spec_add(&s, "my:lib", "/lib.wasm", NULL, 0), 0);
    CHECK_INT(kiln_compose_spec_add(&s, "plain", "/plain.wasm", "exported-name", 1), 0);
    CHECK_INT(kiln_compose_resolve(&s, "app", imports, 5, which, err, sizeof err), 0);
    CHECK_INT(which[0], -1); /* the host's */
    CHECK_INT(which[1], 0);  /* a package dependency: every interface of the package */
    CHECK_INT(which[2], 0);
    CHECK_INT(which[3], -1);
    CHECK_INT(which[4], 1);

    /* a copy owns its strings */
    kiln_compose_spec *c = kiln_compose_spec_dup(&s);
    CHECK(c != NULL);
    CHECK_STR(c ? c->deps[1].export_name : NULL, "exported-name");
    CHECK_INT(c ? c->deps[1].inherit : -1, 1);
    kiln_compose_spec_free(c, 1);

    /* an import matched by two dependencies */
    CHECK_INT(kiln_compose_spec_add(&s, "my:lib/b", "/b.wasm", NULL, 0), 0);
    CHECK_INT(kiln_compose_resolve(&s, "app", imports, 5, which, err, sizeof err), -1);
    CHECK(strstr(err, "dependency conflicts") != NULL);
    CHECK(strstr(err, "my:lib/b@1.0.0") != NULL);
    kiln_compose_spec_free(&s, 0);

    /* a dependency that matches no import */
    CHECK_INT(kiln_compose_spec_add(&s, "my:other", "/o.wasm", NULL, 0), 0);
    CHECK_INT(kiln_compose_resolve(&s, "app", imports, 5, which, err, sizeof err), -1);
    CHECK_STR(err, "dependency 'my:other' doesn't match any imports of component 'app'");
    kiln_compose_spec_free(&s, 0);

    /* an invalid name */
    CHECK_INT(kiln_compose_spec_add(&s, "My:lib", "/o.wasm", NULL, 0), 0);
    CHECK_INT(kiln_compose_resolve(&s, "app", imports, 5, which, err, sizeof err), -1);
    CHECK(strstr(err, "not a valid dependency name") != NULL);
    kiln_compose_spec_free(&s, 0);

    /* no dependencies: everything from the host */
    CHECK_INT(kiln_compose_resolve(&s, "app", imports, 5, which, err, sizeof err), 0);
    CHECK_INT(which[1], -1);
}

/* A middleware chain: spec k loads middleware k with the next link as its one dependency,
 * the last one's being the component (with its own dependencies). */
static void test_chain(void)
{
    kiln_compose_spec inner = {0};
    CHECK_INT(kiln_compose_spec_add(&inner, "a:b", "/dep.wasm", NULL, 0), 0);
    const char *mw[] = {"/auth.wasm", "/log.wasm"};
    int inherit[] = {0, KILN_INHERIT_ALL};
    kiln_compose_spec *c = kiln_compose_chain("/app.wasm", &inner, mw, inherit, 2);
    CHECK(c != NULL);
    if (c) {
        CHECK_INT(c->deny_self, KILN_INHERIT_ALL); /* auth.wasm: deny-all */
        CHECK_INT(c->ndeps, 1);
        CHECK_STR(c->deps[0].name, "wasi:http/incoming-handler");
        CHECK_STR(c->deps[0].path, "/log.wasm");
        CHECK_INT(c->deps[0].inherit, KILN_INHERIT_ALL);
        const kiln_compose_spec *l = c->deps[0].sub;
        CHECK(l != NULL);
        if (l) {
            CHECK_INT(l->deny_self, 0); /* log.wasm inherits */
            CHECK_STR(l->deps[0].path, "/app.wasm");
            CHECK_INT(l->deps[0].inherit, KILN_INHERIT_ALL); /* the component keeps its grants */
            CHECK(l->deps[0].sub != NULL && l->deps[0].sub != &inner);
            CHECK_STR(l->deps[0].sub ? l->deps[0].sub->deps[0].path : NULL, "/dep.wasm");
        }
        kiln_compose_spec *d = kiln_compose_spec_dup(c);
        CHECK(d && d->deny_self == KILN_INHERIT_ALL && d->deps[0].sub &&
              d->deps[0].sub->deps[0].sub);
        kiln_compose_spec_free(d, 1);
    }
    kiln_compose_spec_free(c, 1);
    /* a link satisfies the middleware's HTTP handler import, 0.3 or 0.2 */
    c = kiln_compose_chain("/app.wasm", NULL, mw, inherit, 1);
    const char *p3[] = {"wasi:http/types@0.3.0-rc-2026-03-15",
                        "wasi:http/handler@0.3.0-rc-2026-03-15"};
    const char *p2[] = {"wasi:http/types@0.2.0", "wasi:http/incoming-handler@0.2.0"};
    const char *none[] = {"wasi:http/types@0.2.0"};
    long which[2];
    char err[300];
    CHECK(c && c->deps[0].link);
    CHECK_INT(kiln_compose_resolve(c, "mw", p3, 2, which, err, sizeof err), 0);
    CHECK(which[0] == -1 && which[1] == 0);
    CHECK_INT(kiln_compose_resolve(c, "mw", p2, 2, which, err, sizeof err), 0);
    CHECK(which[0] == -1 && which[1] == 0);
    CHECK_INT(kiln_compose_resolve(c, "mw", none, 1, which, err, sizeof err), -1);
    CHECK(strstr(err, "imports neither wasi:http/handler@0.3") != NULL);
    kiln_compose_spec *d = c ? kiln_compose_spec_dup(c) : NULL;
    CHECK(d && d->deps[0].link); /* kept by a copy */
    kiln_compose_spec_free(d, 1);
    kiln_compose_spec_free(c, 1);
    /* without dependencies of its own, the component is the last link's plain file */
    c = kiln_compose_chain("/app.wasm", NULL, mw, inherit, 1);
    CHECK(c && c->deps[0].sub == NULL && strcmp(c->deps[0].path, "/app.wasm") == 0);
    kiln_compose_spec_free(c, 1);
    kiln_compose_spec_free(&inner, 0);
}

/* Spin's capability sets: manifest keys and the interfaces each one covers. */
static void test_capabilities(void)
{
    CHECK_INT(kiln_compose_inherit_key("allowed_outbound_hosts"), KILN_INHERIT_OUTBOUND);
    CHECK_INT(kiln_compose_inherit_key("key_value_stores"), KILN_INHERIT_KEY_VALUE);
    CHECK_INT(kiln_compose_inherit_key("environment"), KILN_INHERIT_ENVIRONMENT);
    CHECK_INT(kiln_compose_inherit_key("nonsense"), 0); /* ignored, as Spin does */
    CHECK_INT(kiln_compose_capability("wasi:cli/environment@0.2.3"), KILN_INHERIT_ENVIRONMENT);
    CHECK_INT(kiln_compose_capability("wasi:filesystem/preopens@0.2.0"), KILN_INHERIT_FILES);
    CHECK_INT(kiln_compose_capability("wasi:http/outgoing-handler@0.2.0"), KILN_INHERIT_OUTBOUND);
    CHECK_INT(kiln_compose_capability("fermyon:spin/key-value@2.0.0"), KILN_INHERIT_KEY_VALUE);
    CHECK_INT(kiln_compose_capability("fermyon:spin/sqlite"), KILN_INHERIT_SQLITE);
    CHECK_INT(kiln_compose_capability("spin:variables/variables@3.0.0"), KILN_INHERIT_VARIABLES);
    CHECK_INT(kiln_compose_capability("fermyon:spin/llm@2.0.0"), KILN_INHERIT_AI_MODELS);
    /* granted to every dependency */
    CHECK_INT(kiln_compose_capability("wasi:io/streams@0.2.0"), 0);
    CHECK_INT(kiln_compose_capability("wasi:http/types@0.2.0"), 0);
    CHECK_INT(kiln_compose_capability("wasi:cli/environmentx@0.2.0"), 0);
}

int main(void)
{
    test_capabilities();
    test_match();
    test_resolve();
    test_chain();
    return test_finish("compose_test");
}
