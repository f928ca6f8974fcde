/* Unit tests of the YAML writer (kube_yaml.c): block layout, quoting of hostile strings,
 * empty collections, and the broken-tree contract under allocation failure. */
#include "cli/kube_yaml.h"
#include "util/alloc.h"
#include "util/test.h"

static char *emit(kiln_yaml *root)
{
    kiln_buf b = KILN_BUF_INIT;
    int rc = kiln_yaml_emit(root, &b);
    kiln_yaml_free(root);
    if (rc < 0) {
        kiln_buf_free(&b);
        return NULL;
    }
    return b.data ? b.data : kiln_strdup("");
}

static void test_layout(void)
{
    kiln_yaml *r = kiln_yaml_map();
    kiln_yaml_set_str(r, "apiVersion", "apps/v1");
    kiln_yaml *meta = kiln_yaml_set_map(r, "metadata");
    kiln_yaml_set_str(meta, "name", "hello");
    kiln_yaml *labels = kiln_yaml_set_map(meta, "labels");
    kiln_yaml_set_str(labels, "app.kubernetes.io/name", "hello");
    kiln_yaml *cs = kiln_yaml_set_seq(r, "containers");
    kiln_yaml *c = kiln_yaml_push_map(cs);
    kiln_yaml_set_str(c, "name", "kiln");
    kiln_yaml *args = kiln_yaml_set_seq(c, "args");
    kiln_yaml_push(args, kiln_yaml_str("up"));
    kiln_yaml_push(args, kiln_yaml_str("--listen"));
    kiln_yaml *ports = kiln_yaml_set_seq(c, "ports");
    kiln_yaml_set_int(kiln_yaml_push_map(ports), "containerPort", 3000);
    kiln_yaml_set(c, "stdin", kiln_yaml_bool(0));
    kiln_yaml_set_map(r, "empty");
    kiln_yaml_set_seq(r, "none");
    char *got = emit(r);
    CHECK_STR(got, "apiVersion: \"apps/v1\"\n"
                   "metadata:\n"
                   "  name: \"hello\"\n"
                   "  labels:\n"
                   "    app.kubernetes.io/name: \"hello\"\n"
                   "containers:\n"
                   "  - name: \"kiln\"\n"
                   "    args:\n"
                   "      - \"up\"\n"
                   "      - \"--listen\"\n"
                   "    ports:\n"
                   "      - containerPort: 3000\n"
                   "    stdin: false\n"
                   "empty: {}\n"
                   "none: []\n");
    kiln_free(got);
}

/* Strings that would change meaning unquoted stay strings; odd keys are quoted. */
static void test_quoting(void)
{
    kiln_yaml *r = kiln_yaml_map();
    kiln_yaml_set_str(r, "a", "yes");
    kiln_yaml_set_str(r, "b", "0123");
    kiln_yaml_set_str(r, "c", "x: y # z\n- w");
    kiln_yaml_set_str(r, "d", "quote\" back\\ tab\t bell\a");
    kiln_yaml_set_str(r, "e", "");
    kiln_yaml_set_str(r, "key with: colon", "v");
    kiln_yaml_set_str(r, "on", "v");
    kiln_yaml_set_str(r, "9lives", "v");
    kiln_yaml *s = kiln_yaml_set_seq(r, "seq");
    kiln_yaml_push(s, kiln_yaml_str("*anchor"));
    kiln_yaml *inner = kiln_yaml_push(s, kiln_yaml_seq());
    kiln_yaml_push(inner, kiln_yaml_int(-7));
    char *got = emit(r);
    CHECK_STR(got, "a: \"yes\"\n"
                   "b: \"0123\"\n"
                   "c: \"x: y # z\\n- w\"\n"
                   "d: \"quote\\\" back\\\\ tab\\t bell\\x07\"\n"
                   "e: \"\"\n"
                   "\"key with: colon\": \"v\"\n"
                   "\"on\": \"v\"\n"
                   "\"9lives\": \"v\"\n"
                   "seq:\n"
                   "  - \"*anchor\"\n"
                   "  - - -7\n");
    kiln_free(got);
}

/* Every allocation failure ends in a refused emit, never in a partial document. */
static void test_oom(void)
{
    int refused = 0, ok = 0;
    for (long n = 0; n < 40; n++) {
        kiln_alloc_fail_after(n);
        kiln_yaml *r = kiln_yaml_map();
        kiln_yaml *m = kiln_yaml_set_map(r, "metadata");
        kiln_yaml_set_str(m, "name", "x");
        kiln_yaml_push(kiln_yaml_set_seq(r, "s"), kiln_yaml_str("y"));
        kiln_alloc_fail_after(-1);
        char *got = emit(r);
        if (!got) {
            refused++;
        } else {
            CHECK_STR(got, "metadata:\n  name: \"x\"\ns:\n  - \"y\"\n");
            ok++;
        }
        kiln_free(got);
    }
    CHECK(refused > 0);
    CHECK(ok > 0);
    CHECK(kiln_yaml_set_str(NULL, "k", "v") == NULL);
    kiln_yaml *seq = kiln_yaml_seq();
    CHECK(kiln_yaml_set_str(seq, "k", "v") == NULL); /* a key on a sequence */
    CHECK(emit(seq) == NULL);
}

int main(void)
{
    test_layout();
    test_quoting();
    test_oom();
    return test_finish("kube_yaml_test");
}
