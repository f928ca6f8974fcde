/* Unit tests of code_scan.c: the walk reads every instruction kind it knows to its end
 * (a module using them all names no data segment), finds memory.init and data.drop
 * however their opcode is encoded, and answers "may" for what it does not know. */
#include "engine/code_scan.h"
#include "util/buf.h"
#include "util/file.h"
#include "util/leb.h"
#include "util/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every kind of immediate the walk knows; constants whose bytes look like memory.init
 * (i32.const 1148 is 41 fc 08) and data.drop (1161: 41 89 09, after an fc byte). */
static const char *all_kinds =
    "(module (type $t (func (param i32) (result i32)))\n"
    "  (memory 1 1 shared) (memory $m2 1) (table $tab 2 funcref) (global $g (mut i32) (i32.const "
    "0))\n"
    "  (elem $e func $f)\n"
    "  (func $f (type $t) (local i64 f32 f64 funcref externref)\n"
    "    (block (result i32) (loop (result i32) (i32.const 1148)))\n"
    "    (if (result i32) (i32.const 1) (then (i32.const -1161)) (else (i32.const 252)))\n"
    "    (drop) (drop)\n"
    "    (block $b (block $c (br_table $b $c $b (local.get 0))))\n"
    "    (block (br_if 0 (i32.const 0))) (drop (call $f (i32.const 0)))\n"
    "    (drop (call_indirect $tab (type $t) (i32.const 0) (i32.const 0)))\n"
    "    (local.set 1 (i64.const -9223372036854775808)) (local.set 2 (f32.const 1.5))\n"
    "    (local.set 3 (f64.const 2.5)) (local.tee 0 (i32.const 3)) (global.set $g)\n"
    "    (drop (select (result i32) (i32.const 1) (i32.const 2) (global.get $g)))\n"
    "    (drop (select (i32.const 1) (i32.const 2) (i32.const 3)))\n"
    "    (i32.store offset=1000000 (i32.const 0) (i32.load8_u offset=7 (i32.const 0)))\n"
    "    (i64.store $m2 (i32.const 0) (i64.load32_s $m2 (i32.const 8)))\n"
    "    (drop (memory.size)) (drop (memory.grow $m2 (i32.const 0)))\n"
    "    (drop (i32.extend8_s (i32.trunc_sat_f32_s (f32.const 0))))\n"
    "    (memory.copy (i32.const 0) (i32.const 1) (i32.const 2))\n"
    "    (memory.fill (i32.const 0) (i32.const 1) (i32.const 2))\n"
    "    (table.init $tab $e (i32.const 0) (i32.const 0) (i32.const 1)) (elem.drop $e)\n"
    "    (table.copy (i32.const 0) (i32.const 1) (i32.const 1))\n"
    "    (drop (table.grow $tab (ref.null func) (i32.const 1))) (drop (table.size $tab))\n"
    "    (table.fill $tab (i32.const 0) (ref.func $f) (i32.const 1))\n"
    "    (table.set $tab (i32.const 0) (table.get $tab (i32.const 1)))\n"
    "    (drop (ref.is_null (ref.null extern))) (local.set 4 (ref.func $f))\n"
    "    (drop (i32.atomic.rmw.add offset=4 (i32.const 0) (i32.const 1))) (atomic.fence)\n"
    "    (drop (memory.atomic.notify (i32.const 0) (i32.const 1)))\n"
    "    (if (i32.const 0) (then (unreachable))) (nop)\n"
    "    (return_call $f (local.get 0)))\n"
    "  (func (param i32) (result i32) (return (return_call_indirect $tab (type $t) (local.get 0) "
    "(i32.const 0)))))\n";

/* The body of the code section (id 10) of the module assembled from wat with FLAGS. */
static int code_of(const char *dir, const char *wat, const char *flags, kiln_buf *mod,
                   size_t *start, size_t *end)
{
    char wpath[160], wasm[160], cmd[512];
    snprintf(wpath, sizeof wpath, "%s/m.wat", dir);
    snprintf(wasm, sizeof wasm, "%s/m.wasm", dir);
    FILE *f = fopen(wpath, "w");
    if (!f) return -1;
    fputs(wat, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "wat2wasm %s %s -o %s", flags, wpath, wasm);
    if (system(cmd) != 0) return -1;
    kiln_buf_reset(mod);
    if (kiln_read_file(wasm, mod) < 0) return -1;
    const uint8_t *p = (const uint8_t *)mod->data;
    size_t pos = 8;
    while (pos < mod->len) {
        int id = p[pos++];
        uint32_t size;
        if (kiln_leb_u32(p, mod->len, &pos, &size) < 0) return -1;
        if (id == 10) {
            *start = pos;
            *end = pos + size;
            return 0;
        }
        pos += size;
    }
    return -1;
}

/* The offsets of the instructions the walk read, as wasm-objdump -d prints them. */
static void record(void *arg, size_t off)
{
    char line[32];
    snprintf(line, sizeof line, "%06zx\n", off);
    kiln_buf_puts(arg, line);
}

/* wasm-objdump -d's instruction offsets of dir/m.wasm (its locals lines, and the lines that
 * continue a long instruction's bytes, left out). */
static int objdump_offsets(const char *dir, kiln_buf *out)
{
    char cmd[512];
    snprintf(
        cmd, sizeof cmd,
        "wasm-objdump -d %s/m.wasm | grep -E '^ [0-9a-f]{6}: .*\\| +[a-z]' | grep -v '| local\\[' "
        "| sed -E 's/^ ([0-9a-f]{6}):.*/\\1/' > %s/offsets",
        dir, dir);
    if (system(cmd) != 0) return -1;
    snprintf(cmd, sizeof cmd, "%s/offsets", dir);
    return kiln_read_file(cmd, out);
}

/* The answer for one function whose body is the given instruction bytes (no locals). */
static int one_body(const uint8_t *code, size_t n)
{
    uint8_t sec[64];
    if (n + 4 > sizeof sec) return -1;
    sec[0] = 1;                /* one body */
    sec[1] = (uint8_t)(n + 1); /* its size */
    sec[2] = 0;                /* no locals */
    memcpy(sec + 3, code, n);
    return kiln_code_names_data(sec, 0, n + 3);
}

int main(void)
{
    char dir[] = "/tmp/kiln-code-scan-test.XXXXXX";
    if (!mkdtemp(dir)) return 1;
    kiln_buf mod = KILN_BUF_INIT;
    size_t s = 0, e = 0;
    const char *flags = "--enable-threads --enable-tail-call --enable-multi-memory";
    CHECK(code_of(dir, all_kinds, flags, &mod, &s, &e) == 0);
    CHECK_INT(kiln_code_names_data((const uint8_t *)mod.data, s, e), 0);
    /* It read every instruction where it starts: the same offsets as wasm-objdump. */
    kiln_buf walked = KILN_BUF_INIT, dumped = KILN_BUF_INIT;
    CHECK_INT(kiln_code_walk((const uint8_t *)mod.data, s, e, record, &walked), 0);
    CHECK(objdump_offsets(dir, &dumped) == 0);
    CHECK(walked.len > 100 * 7); /* (every function's instructions) */
    CHECK(walked.len == dumped.len && walked.data && dumped.data &&
          memcmp(walked.data, dumped.data, walked.len) == 0);
    for (size_t i = 0; walked.data && dumped.data && i < walked.len && i < dumped.len; i++)
        if (walked.data[i] != dumped.data[i]) {
            fprintf(stderr, "  first difference at offset %.6s (wasm-objdump: %.6s)\n",
                    walked.data + i / 7 * 7, dumped.data + i / 7 * 7);
            break;
        }
    kiln_buf_free(&walked);
    kiln_buf_free(&dumped);
    /* Cut short anywhere, the walk answers "may" rather than reading past the end. */
    for (size_t cut = s + 1; cut < e; cut += 7)
        CHECK_INT(kiln_code_names_data((const uint8_t *)mod.data, s, cut), 1);

    CHECK(code_of(dir,
                  "(module (memory 1) (data $d \"ab\")\n"
                  "  (func (memory.init $d (i32.const 0) (i32.const 0) (i32.const 1))))",
                  "", &mod, &s, &e) == 0);
    CHECK_INT(kiln_code_names_data((const uint8_t *)mod.data, s, e), 1);
    CHECK(code_of(dir, "(module (memory 1) (data $d \"ab\") (func (data.drop $d)))", "", &mod, &s,
                  &e) == 0);
    CHECK_INT(kiln_code_names_data((const uint8_t *)mod.data, s, e), 1);
    /* SIMD is not walked: "may". */
    CHECK(code_of(dir, "(module (func (drop (v128.const i64x2 0 0))))", "", &mod, &s, &e) == 0);
    CHECK_INT(kiln_code_names_data((const uint8_t *)mod.data, s, e), 1);

    /* data.drop 0 and memory.init 0 0 with their sub-opcodes in 2 and 5 bytes. */
    static const uint8_t drop2[] = {0xfc, 0x89, 0x00, 0x00, 0x0b};
    static const uint8_t init5[] = {0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xfc, 0x88,
                                    0x80, 0x80, 0x80, 0x00, 0x00, 0x00, 0x0b};
    CHECK_INT(one_body(drop2, sizeof drop2), 1);
    CHECK_INT(one_body(init5, sizeof init5), 1);
    /* memory.fill with a 2-byte sub-opcode: walked, names nothing. */
    static const uint8_t fill2[] = {0x41, 0x00, 0x41, 0x00, 0x41, 0x00,
                                    0xfc, 0x8b, 0x00, 0x00, 0x0b};
    CHECK_INT(one_body(fill2, sizeof fill2), 0);
    /* An opcode no proposal it knows has (0x06, exceptions' try): "may". */
    static const uint8_t try_[] = {0x06, 0x40, 0x0b, 0x0b};
    CHECK_INT(one_body(try_, sizeof try_), 1);
    /* No code section. */
    CHECK_INT(kiln_code_names_data((const uint8_t *)"", 0, 0), 0);

    kiln_buf_free(&mod);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return test_finish("code_scan");
}
