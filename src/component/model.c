/* model.c — what the whole component model shares: the arena that owns a component's
 * model, the error messages with file, section and offset, and the names of sorts,
 * sections and canon opcodes. */
#include "component/internal.h"
#include "util/alloc.h"

#include <stdio.h>
#include <string.h>

struct kc_block {
    kc_block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

#define KC_BLOCK_SIZE (64 * 1024)

void *kc_alloc(kc_ctx *x, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    kc_block *b = x->arena;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > KC_BLOCK_SIZE / 4 ? n : KC_BLOCK_SIZE;
        kc_block *nb = kiln_malloc(sizeof *nb + cap);
        if (!nb) {
            kc_fail(x, 0xff, 0, "out of memory");
            return NULL;
        }
        nb->used = 0;
        nb->cap = cap;
        if (b && cap != KC_BLOCK_SIZE) { /* a big block: keep the current one on top */
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            x->arena = nb;
        }
        b = nb;
    }
    void *p = b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

void *kc_alloc_array(kc_ctx *x, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size / 2) {
        kc_fail(x, 0xff, 0, "out of memory");
        return NULL;
    }
    return kc_alloc(x, count * size);
}

char *kc_strndup(kc_ctx *x, const char *s, size_t n)
{
    char *p = kc_alloc(x, n + 1);
    if (p) memcpy(p, s, n);
    return p;
}

void kc_arena_free(kc_block *b)
{
    while (b) {
        kc_block *next = b->next;
        kiln_free(b);
        b = next;
    }
}

const char *kc_section_name(uint8_t id)
{
    static const char *const names[] = {
        "custom", "core module", "core instance", "core type", "component", "instance", "alias",
        "type",   "canon",       "start",         "import",    "export",    "value"};
    return id < sizeof names / sizeof names[0] ? names[id] : "unknown";
}

void kc_vfail(kc_ctx *x, uint8_t section_id, size_t offset, const char *fmt, va_list ap)
{
    if (x->failed) return;
    x->failed = 1;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (section_id == 0xff)
        snprintf(x->err, x->errlen, "%s: at offset 0x%zx: %s", x->file, offset, msg);
    else
        snprintf(x->err, x->errlen, "%s: section '%s' (id %u) at offset 0x%zx: %s", x->file,
                 kc_section_name(section_id), section_id, offset, msg);
}

void kc_fail(kc_ctx *x, uint8_t section_id, size_t offset, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kc_vfail(x, section_id, offset, fmt, ap);
    va_end(ap);
}

const char *kiln_csort_name(kiln_csort s)
{
    static const char *const names[] = {"core func", "core table", "core memory", "core global",
                                        "core tag",  "core type",  "core module", "core instance",
                                        "func",      "value",      "type",        "component",
                                        "instance"};
    return (unsigned)s < KILN_CSORT_COUNT ? names[s] : "?";
}

const char *kiln_canon_op_name(unsigned op)
{
    switch (op) {
    case 0x00:
        return "lift";
    case 0x01:
        return "lower";
    case 0x02:
        return "resource.new";
    case 0x03:
        return "resource.drop";
    case 0x04:
        return "resource.rep";
    case 0x05:
        return "task.cancel";
    case 0x06:
        return "subtask.cancel";
    case 0x09:
        return "task.return";
    case 0x0a:
        return "context.get";
    case 0x0b:
        return "context.set";
    case 0x0c:
        return "thread.yield";
    case 0x0d:
        return "subtask.drop";
    case 0x0e:
        return "stream.new";
    case 0x0f:
        return "stream.read";
    case 0x10:
        return "stream.write";
    case 0x11:
        return "stream.cancel-read";
    case 0x12:
        return "stream.cancel-write";
    case 0x13:
        return "stream.drop-readable";
    case 0x14:
        return "stream.drop-writable";
    case 0x15:
        return "future.new";
    case 0x16:
        return "future.read";
    case 0x17:
        return "future.write";
    case 0x18:
        return "future.cancel-read";
    case 0x19:
        return "future.cancel-write";
    case 0x1a:
        return "future.drop-readable";
    case 0x1b:
        return "future.drop-writable";
    case 0x1c:
        return "error-context.new";
    case 0x1d:
        return "error-context.debug-message";
    case 0x1e:
        return "error-context.drop";
    case 0x1f:
        return "waitable-set.new";
    case 0x20:
        return "waitable-set.wait";
    case 0x21:
        return "waitable-set.poll";
    case 0x22:
        return "waitable-set.drop";
    case 0x23:
        return "waitable.join";
    case 0x24:
        return "backpressure.inc";
    case 0x25:
        return "backpressure.dec";
    case 0x26:
        return "thread.index";
    case 0x27:
        return "thread.new-indirect";
    case 0x28:
        return "thread.resume-later";
    case 0x29:
        return "thread.suspend";
    case 0x2a:
        return "thread.suspend-then-resume";
    case 0x2b:
        return "thread.yield-then-resume";
    case 0x2c:
        return "thread.suspend-then-promote";
    case 0x2d:
        return "thread.yield-then-promote";
    case 0x2e:
        return "stream.forward";
    case 0x2f:
        return "future.forward";
    case 0x40:
        return "thread.spawn-ref";
    case 0x41:
        return "thread.spawn-indirect";
    case 0x42:
        return "thread.available-parallelism";
    default:
        return NULL;
    }
}
