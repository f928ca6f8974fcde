/* cabi_sig_test.c — flattening checked against wasm-tools (a second implementation of the
 * Canonical ABI): for each function type, kiln_cabi_core_sig computes the core signatures
 * of `canon lift` and `canon lower`; a component that lifts a core function of the first
 * and hands the lowered function to a core import of the second is then built as text,
 * converted with `wasm-tools parse` and must pass `wasm-tools validate` (which checks both
 * signatures against its own flattening). A deliberately wrong signature must fail, so the
 * check is known to bite. The types come from the same text read by kiln_component_read,
 * so their layout is validate.c's.
 * Then the real components of $KILN_TOOLS/corpus are checked the same way (see
 * test_corpus). wasm-tools and the corpus come from scripts/install-tools.sh
 * ($KILN_TOOLS, default /var/cache/kiln-tools); without them this test fails. */
#include "component/cabi.h"
#include "component/reader.h"
#include "util/buf.h"
#include "util/file.h"
#include "util/proc.h"
#include "util/test.h"

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

static char wt[512], dir[64];

/* Converts the component text to a binary with wasm-tools; 0 and the bytes, or -1. */
static int parse(const char *text, kiln_buf *bin, int validate)
{
    char wat[128], wasm[128];
    snprintf(wat, sizeof wat, "%s/c.wat", dir);
    snprintf(wasm, sizeof wasm, "%s/c.wasm", dir);
    if (kiln_write_file(wat, text, strlen(text)) < 0) return -1;
    kiln_buf out = {0};
    const char *argv[] = {wt, "parse", wat, "-o", wasm, NULL};
    int rc = kiln_proc_run(argv, &out, 0);
    if (rc == 0 && validate) {
        const char *vargv[] = {wt, "validate", wasm, NULL};
        rc = kiln_proc_run(vargv, &out, 0);
    }
    if (rc != 0 && !validate) fprintf(stderr, "  wasm-tools: %s\n", out.data ? out.data : "");
    kiln_buf_free(&out);
    if (rc != 0) return -1;
    return kiln_read_file(wasm, bin);
}

/* "ij:f" -> "(param i32 i64) (result f32)" */
static void sig_wat(const char *sig, kiln_buf *b)
{
    static const char *const names[] = {['i'] = "i32", ['j'] = "i64", ['f'] = "f32", ['d'] = "f64"};
    const char *colon = strchr(sig, ':');
    kiln_buf_puts(b, "(param");
    for (const char *p = sig; p < colon; p++)
        kiln_buf_printf(b, " %s", names[(unsigned char)*p]);
    kiln_buf_puts(b, ") (result");
    for (const char *p = colon + 1; *p; p++)
        kiln_buf_printf(b, " %s", names[(unsigned char)*p]);
    kiln_buf_puts(b, ")");
}

/* The component around the type definitions `types` (the last one the func type $ft):
 * lifts core func "run" of signature lift_sig, lowers it, imports it into a core module
 * as lower_sig. */
static void component_text(kiln_buf *b, const char *types, const char *lift_sig,
                           const char *lower_sig)
{
    kiln_buf_printf(b, "(component\n%s\n", types);
    if (!lift_sig) {
        kiln_buf_puts(b, ")");
        return;
    }
    kiln_buf_puts(b, "(core module $libc (memory (export \"memory\") 1)\n"
                     "  (func (export \"realloc\") (param i32 i32 i32 i32) (result i32) "
                     "unreachable))\n"
                     "(core instance $libc (instantiate $libc))\n"
                     "(alias core export $libc \"memory\" (core memory $mem))\n"
                     "(alias core export $libc \"realloc\" (core func $realloc))\n"
                     "(core module $m (func (export \"run\") ");
    sig_wat(lift_sig, b);
    kiln_buf_puts(b, " unreachable))\n"
                     "(core instance $ci (instantiate $m))\n"
                     "(func $run (type $ft) (canon lift (core func $ci \"run\") (memory $mem) "
                     "(realloc $realloc)))\n"
                     "(core func $low (canon lower (func $run) (memory $mem) (realloc "
                     "$realloc)))\n"
                     "(core module $u (import \"\" \"f\" (func ");
    sig_wat(lower_sig, b);
    kiln_buf_puts(b, ")))\n"
                     "(core instance (instantiate $u (with \"\" (instance (export \"f\" (func "
                     "$low))))))\n)\n");
}

/* Checks the func type defined last in `types` (named $ft) against wasm-tools. */
static void check_func(const char *types, const char *want_lift, const char *want_lower)
{
    kiln_buf text = {0}, bin = {0};
    component_text(&text, types, NULL, NULL);
    int ok = parse(text.data, &bin, 0) == 0;
    CHECK(ok);
    char err[512], lift[64] = "", lower[64] = "";
    kiln_component *c =
        ok ? kiln_component_read((const uint8_t *)bin.data, bin.len, "t", err, sizeof err) : NULL;
    if (ok && !c) fprintf(stderr, "  kiln: %s\n", err);
    CHECK(c != NULL);
    if (c) {
        const kiln_cspace *ts = &c->spaces[KILN_CSORT_TYPE];
        const kiln_ctype *ft = ts->n ? ts->types[ts->n - 1] : NULL;
        CHECK(ft && ft->kind == KILN_CT_FUNC);
        if (ft && ft->kind == KILN_CT_FUNC) {
            CHECK_INT(kiln_cabi_core_sig(ft, 0, lift, sizeof lift), 0);
            CHECK_INT(kiln_cabi_core_sig(ft, 1, lower, sizeof lower), 0);
        }
        kiln_component_free(c);
    }
    if (want_lift) CHECK_STR(lift, want_lift);
    if (want_lower) CHECK_STR(lower, want_lower);
    kiln_buf_reset(&text);
    component_text(&text, types, lift, lower);
    int valid = parse(text.data, &bin, 1) == 0;
    if (!valid)
        fprintf(stderr, "  wasm-tools rejects lift %s / lower %s for:\n%s\n", lift, lower, types);
    CHECK(valid);
    kiln_buf_free(&text);
    kiln_buf_free(&bin);
}

/* Real components (the corpus of C/Go/JS/Python components built by scripts/install-tools.sh
 * with wit-bindgen, TinyGo, componentize-js/-py): every sync `canon lift` must name a core
 * function whose (toolchain-made) signature is kiln_cabi_core_sig(lift), and every `canon
 * lower` must give the signature the core module imports it as (validate.c checks the
 * import against the lowered func's type, which is compared here). Counts the checks. */
static int ncorpus_lift, ncorpus_lower;

static void check_component(const kiln_component *c, const char *file)
{
    uint32_t core_funcs = 0;
    for (uint32_t i = 0; i < c->ndefs; i++) {
        const kiln_cdef *d = &c->defs[i];
        if (d->kind == KILN_CDEF_COMPONENT && d->component) check_component(d->component, file);
        if (d->kind == KILN_CDEF_ALIAS && d->alias.sort == KILN_CSORT_CORE_FUNC) core_funcs++;
        if (d->kind != KILN_CDEF_CANON) continue;
        const kiln_canon *k = &d->canon;
        char sig[64];
        if (k->op == KILN_CANON_LIFT) {
            const kiln_ctype *ft = c->spaces[KILN_CSORT_TYPE].types[k->type];
            const kiln_ctype *cf = c->spaces[KILN_CSORT_CORE_FUNC].types[k->func];
            if (!k->opts.async && cf && cf->sig) {
                CHECK_INT(kiln_cabi_core_sig(ft, 0, sig, sizeof sig), 0);
                if (strcmp(sig, cf->sig) != 0)
                    fprintf(stderr, "  %s: lift of core func %u: %s, kiln says %s\n", file, k->func,
                            cf->sig, sig);
                CHECK_STR(sig, cf->sig);
                ncorpus_lift++;
            }
            continue;
        }
        uint32_t idx = core_funcs++;
        if (k->op == KILN_CANON_LOWER && !k->opts.async) {
            const kiln_ctype *ft = c->spaces[KILN_CSORT_FUNC].types[k->func];
            const kiln_ctype *cf = idx < c->spaces[KILN_CSORT_CORE_FUNC].n
                                       ? c->spaces[KILN_CSORT_CORE_FUNC].types[idx]
                                       : NULL;
            CHECK(cf && cf->sig);
            if (!cf || !cf->sig) continue;
            CHECK_INT(kiln_cabi_core_sig(ft, 1, sig, sizeof sig), 0);
            CHECK_STR(sig, cf->sig);
            ncorpus_lower++;
        }
    }
}

static void test_corpus(const char *tools)
{
    char corpus[512];
    snprintf(corpus, sizeof corpus, "%s/corpus", tools);
    DIR *dp = opendir(corpus);
    CHECK(dp != NULL);
    if (!dp) return;
    struct dirent *e;
    int files = 0;
    while ((e = readdir(dp))) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 5, ".wasm") != 0) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", corpus, e->d_name);
        kiln_buf bin = {0};
        CHECK_INT(kiln_read_file(path, &bin), 0);
        char err[512];
        kiln_component *c =
            kiln_component_read((const uint8_t *)bin.data, bin.len, e->d_name, err, sizeof err);
        if (!c) fprintf(stderr, "  %s\n", err);
        CHECK(c != NULL);
        if (c) check_component(c, e->d_name), files++;
        kiln_component_free(c);
        kiln_buf_free(&bin);
    }
    closedir(dp);
    CHECK(files > 0);
    CHECK(ncorpus_lift > 0);
    CHECK(ncorpus_lower > 0);
    printf("corpus: %d components, %d lifts and %d lowers checked\n", files, ncorpus_lift,
           ncorpus_lower);
}

int main(void)
{
    const char *tools = getenv("KILN_TOOLS");
    if (!tools) tools = "/var/cache/kiln-tools";
    snprintf(wt, sizeof wt, "%s/cargo/bin/wasm-tools", tools);
    if (access(wt, X_OK) != 0) {
        fprintf(stderr, "wasm-tools not found at %s (scripts/install-tools.sh installs it)\n", wt);
        CHECK(0);
        return test_finish("cabi_sig_test");
    }
    snprintf(dir, sizeof dir, "/tmp/kiln-cabi-sig-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);

    check_func("(type $ft (func (param \"a\" u8) (param \"b\" s64) (param \"c\" f32) "
               "(param \"d\" f64) (param \"e\" char) (param \"f\" bool) (result u16)))",
               "ijfdii:i", "ijfdii:i");
    check_func("(type $o (option f32)) (type $r (result u64 (error f64)))\n"
               "(type $ft (func (param \"a\" $o) (param \"b\" $r) (param \"s\" string)))",
               "ifijii:", "ifijii:");
    /* joins: f32|u32 -> i32, f32|f64 -> i64, (f32,u8)|s64 -> i64 i32 */
    check_func("(type $v1 (variant (case \"a\" f32) (case \"b\" u32)))\n"
               "(type $v2 (variant (case \"a\" f32) (case \"b\" f64)))\n"
               "(type $t (tuple f32 u8))\n"
               "(type $v3 (variant (case \"a\" $t) (case \"b\" s64) (case \"c\")))\n"
               "(type $ft (func (param \"x\" $v1) (param \"y\" $v2) (param \"z\" $v3)))",
               "iiijiji:", "iiijiji:");
    check_func("(type $o (option u64)) (type $r (result f32 (error string)))\n"
               "(type $v (variant (case \"a\" $o) (case \"b\" $r)))\n"
               "(type $ft (func (param \"x\" $v) (result $o)))",
               NULL, NULL);
    check_func("(type $f (flags \"a\" \"b\" \"c\" \"d\" \"e\" \"f\" \"g\" \"h\" \"i\" \"j\"))\n"
               "(type $e (enum \"x\" \"y\" \"z\"))\n"
               "(type $ft (func (param \"f\" $f) (param \"e\" $e) (result $f)))",
               "ii:i", "ii:i");
    check_func("(type $l (list string)) (type $c (option char))\n"
               "(type $r (record (field \"a\" u8) (field \"b\" string) (field \"c\" $c)))\n"
               "(type $ft (func (param \"l\" $l) (param \"r\" $r) (result $r)))",
               "iiiiiii:i", "iiiiiiii:");
    /* 16 flat params stay flat, 17 spill; results of more than one value spill */
    check_func("(type $ft (func (param \"a\" string) (param \"b\" string) (param \"c\" string) "
               "(param \"d\" string) (param \"e\" string) (param \"f\" string) (param \"g\" "
               "string) (param \"h\" string)))",
               "iiiiiiiiiiiiiiii:", "iiiiiiiiiiiiiiii:");
    check_func("(type $ft (func (param \"a\" string) (param \"b\" string) (param \"c\" string) "
               "(param \"d\" string) (param \"e\" string) (param \"f\" string) (param \"g\" "
               "string) (param \"h\" string) (param \"i\" u8)))",
               "i:", "i:");
    check_func("(type $t (tuple s8 f64 bool)) (type $ft (func (param \"x\" u32) (result $t)))",
               "i:i", "ii:");
    check_func("(type $r (result)) (type $ft (func (result $r)))", ":i", ":i");
    check_func("(type $k (list u8)) (type $l (list $k)) (type $ft (func (result $l)))", ":i", "i:");

    /* a wrong signature is rejected: the check bites */
    kiln_buf text = {0}, bin = {0};
    component_text(&text, "(type $ft (func (param \"a\" u64)))", "i:", "i:");
    CHECK_INT(parse(text.data, &bin, 1), -1);
    kiln_buf_free(&text);
    kiln_buf_free(&bin);

    test_corpus(tools);

    char path[128];
    snprintf(path, sizeof path, "%s/c.wat", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/c.wasm", dir);
    unlink(path);
    rmdir(dir);
    return test_finish("cabi_sig_test");
}
