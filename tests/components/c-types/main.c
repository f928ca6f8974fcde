/* The canonical-ABI test component (tests/components/build.sh, corpus entry c-types): each
 * export of types.wit implemented in C over the bindings of `wit-bindgen c`. Conventions of
 * those bindings: arguments passed by pointer belong to the callee (freed here), results are
 * allocated with malloc and freed by the generated post-return functions. Every result is a
 * simple function of the arguments, so the caller can predict it. No I/O, so no WASI. */
#include <stdlib.h>
#include <string.h>

#include "types.h"

struct exports_kiln_types_api_counter_t {
    int64_t value;
};

/* Allocates N bytes or traps: a component has no other way to report exhaustion here. */
static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) abort();
    return p;
}

/* RET = a malloc'd copy of the N bytes at S. */
static void string_copy(types_string_t *ret, const uint8_t *s, size_t n)
{
    ret->ptr = xmalloc(n);
    memcpy(ret->ptr, s, n);
    ret->len = n;
}

exports_kiln_types_api_own_counter_t exports_kiln_types_api_constructor_counter(int64_t start)
{
    exports_kiln_types_api_counter_t *c = xmalloc(sizeof *c);
    c->value = start;
    return exports_kiln_types_api_counter_new(c);
}

int64_t
exports_kiln_types_api_method_counter_increment(exports_kiln_types_api_borrow_counter_t self,
                                                int64_t by)
{
    self->value += by;
    return self->value;
}

int64_t exports_kiln_types_api_method_counter_get(exports_kiln_types_api_borrow_counter_t self)
{
    return self->value;
}

exports_kiln_types_api_own_counter_t
exports_kiln_types_api_static_counter_merge(exports_kiln_types_api_borrow_counter_t a,
                                            exports_kiln_types_api_borrow_counter_t b)
{
    return exports_kiln_types_api_constructor_counter(a->value + b->value);
}

void exports_kiln_types_api_counter_destructor(exports_kiln_types_api_counter_t *rep)
{
    free(rep);
}

uint8_t exports_kiln_types_api_add_u8(uint8_t a, uint8_t b)
{
    return (uint8_t)(a + b);
}
int16_t exports_kiln_types_api_add_s16(int16_t a, int16_t b)
{
    return (int16_t)(a + b);
}
uint32_t exports_kiln_types_api_add_u32(uint32_t a, uint32_t b)
{
    return a + b;
}
int64_t exports_kiln_types_api_add_s64(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a + (uint64_t)b);
}
float exports_kiln_types_api_mul_f32(float a, float b)
{
    return a * b;
}
double exports_kiln_types_api_mul_f64(double a, double b)
{
    return a * b;
}

/* The next Unicode scalar value, skipping the surrogates and wrapping after U+10FFFF. */
uint32_t exports_kiln_types_api_next_char(uint32_t c)
{
    if (c == 0xD7FF) return 0xE000;
    if (c >= 0x10FFFF) return 0;
    return c + 1;
}

bool exports_kiln_types_api_not(bool b)
{
    return !b;
}

void exports_kiln_types_api_greet(types_string_t *name, types_string_t *ret)
{
    static const char hello[] = "Hello, ";
    size_t h = sizeof hello - 1;
    ret->len = h + name->len + 1;
    ret->ptr = xmalloc(ret->len);
    memcpy(ret->ptr, hello, h);
    memcpy(ret->ptr + h, name->ptr, name->len);
    ret->ptr[ret->len - 1] = '!';
    types_string_free(name);
}

/* Reverses S by UTF-8 code points (S is valid UTF-8: the canonical ABI guarantees it). */
void exports_kiln_types_api_reverse_string(types_string_t *s, types_string_t *ret)
{
    ret->len = s->len;
    ret->ptr = xmalloc(s->len);
    size_t i = 0;
    while (i < s->len) {
        size_t n = 1;
        while (i + n < s->len && (s->ptr[i + n] & 0xC0) == 0x80)
            n++;
        memcpy(ret->ptr + s->len - i - n, s->ptr + i, n);
        i += n;
    }
    types_string_free(s);
}

int64_t exports_kiln_types_api_sum_list(types_list_s32_t *xs)
{
    int64_t sum = 0;
    for (size_t i = 0; i < xs->len; i++)
        sum += xs->ptr[i];
    types_list_s32_free(xs);
    return sum;
}

void exports_kiln_types_api_reverse_bytes(types_list_u8_t *xs, types_list_u8_t *ret)
{
    ret->len = xs->len;
    ret->ptr = xmalloc(xs->len);
    for (size_t i = 0; i < xs->len; i++)
        ret->ptr[i] = xs->ptr[xs->len - 1 - i];
    types_list_u8_free(xs);
}

/* The words of S separated by runs of spaces. */
void exports_kiln_types_api_split_words(types_string_t *s, types_list_string_t *ret)
{
    ret->ptr = xmalloc(sizeof(types_string_t) * (s->len / 2 + 1));
    ret->len = 0;
    size_t i = 0;
    while (i < s->len) {
        while (i < s->len && s->ptr[i] == ' ')
            i++;
        size_t start = i;
        while (i < s->len && s->ptr[i] != ' ')
            i++;
        if (i > start) string_copy(&ret->ptr[ret->len++], s->ptr + start, i - start);
    }
    types_string_free(s);
}

void exports_kiln_types_api_join_words(types_list_string_t *words, types_string_t *sep,
                                       types_string_t *ret)
{
    size_t n = 0;
    for (size_t i = 0; i < words->len; i++)
        n += words->ptr[i].len + (i ? sep->len : 0);
    ret->ptr = xmalloc(n);
    ret->len = n;
    size_t at = 0;
    for (size_t i = 0; i < words->len; i++) {
        if (i) {
            memcpy(ret->ptr + at, sep->ptr, sep->len);
            at += sep->len;
        }
        memcpy(ret->ptr + at, words->ptr[i].ptr, words->ptr[i].len);
        at += words->ptr[i].len;
    }
    types_list_string_free(words);
    types_string_free(sep);
}

void exports_kiln_types_api_translate(exports_kiln_types_api_point_t *p, int32_t dx, int32_t dy,
                                      exports_kiln_types_api_point_t *ret)
{
    ret->x = p->x + dx;
    ret->y = p->y + dy;
}

void exports_kiln_types_api_swap(types_tuple2_u32_string_t *t, types_tuple2_string_u32_t *ret)
{
    ret->f0 = t->f1; /* the string moves from the argument to the result */
    ret->f1 = t->f0;
}

/* "NAME (AGE) <EMAIL> [TAG,TAG]", the email part only when present. */
void exports_kiln_types_api_describe_person(exports_kiln_types_api_person_t *p, types_string_t *ret)
{
    size_t n = p->name.len + 8 + (p->email.is_some ? p->email.val.len + 3 : 0) + 3;
    for (size_t i = 0; i < p->tags.len; i++)
        n += p->tags.ptr[i].len + 1;
    uint8_t *out = xmalloc(n);
    size_t at = 0;
    memcpy(out, p->name.ptr, p->name.len);
    at += p->name.len;
    out[at++] = ' ';
    out[at++] = '(';
    if (p->age >= 100) out[at++] = (uint8_t)('0' + p->age / 100);
    if (p->age >= 10) out[at++] = (uint8_t)('0' + p->age / 10 % 10);
    out[at++] = (uint8_t)('0' + p->age % 10);
    out[at++] = ')';
    if (p->email.is_some) {
        out[at++] = ' ';
        out[at++] = '<';
        memcpy(out + at, p->email.val.ptr, p->email.val.len);
        at += p->email.val.len;
        out[at++] = '>';
    }
    out[at++] = ' ';
    out[at++] = '[';
    for (size_t i = 0; i < p->tags.len; i++) {
        if (i) out[at++] = ',';
        memcpy(out + at, p->tags.ptr[i].ptr, p->tags.ptr[i].len);
        at += p->tags.ptr[i].len;
    }
    out[at++] = ']';
    ret->ptr = out;
    ret->len = at;
    exports_kiln_types_api_person_free(p);
}

void exports_kiln_types_api_make_person(types_string_t *name, uint8_t age,
                                        exports_kiln_types_api_person_t *ret)
{
    ret->name = *name; /* moved */
    ret->age = age;
    ret->email.is_some = age >= 18;
    if (ret->email.is_some) string_copy(&ret->email.val, (const uint8_t *)"adult@example.com", 17);
    ret->tags.len = 2;
    ret->tags.ptr = xmalloc(2 * sizeof(types_string_t));
    string_copy(&ret->tags.ptr[0], (const uint8_t *)"made", 4);
    string_copy(&ret->tags.ptr[1], (const uint8_t *)(age >= 18 ? "adult" : "minor"), 5);
}

bool exports_kiln_types_api_maybe_double(int32_t *maybe_x, int32_t *ret)
{
    if (!maybe_x) return false;
    *ret = *maybe_x * 2;
    return true;
}

/* Decimal digits only; err bad-char carries the offending byte, empty-input for "". */
bool exports_kiln_types_api_parse_number(types_string_t *s, uint32_t *ret,
                                         exports_kiln_types_api_parse_error_t *err)
{
    bool ok = true;
    uint32_t v = 0;
    if (s->len == 0) {
        err->tag = EXPORTS_KILN_TYPES_API_PARSE_ERROR_EMPTY_INPUT;
        ok = false;
    }
    for (size_t i = 0; ok && i < s->len; i++) {
        if (s->ptr[i] < '0' || s->ptr[i] > '9') {
            err->tag = EXPORTS_KILN_TYPES_API_PARSE_ERROR_BAD_CHAR;
            err->val.bad_char = s->ptr[i];
            ok = false;
        } else {
            v = v * 10 + (uint32_t)(s->ptr[i] - '0');
        }
    }
    if (ok) *ret = v;
    types_string_free(s);
    return ok;
}

bool exports_kiln_types_api_checked_div(int32_t a, int32_t b, int32_t *ret, types_string_t *err)
{
    if (b == 0 || (a == INT32_MIN && b == -1)) {
        const char *msg = b == 0 ? "division by zero" : "overflow";
        string_copy(err, (const uint8_t *)msg, strlen(msg));
        return false;
    }
    *ret = a / b;
    return true;
}

exports_kiln_types_api_color_t exports_kiln_types_api_next_color(exports_kiln_types_api_color_t c)
{
    return (exports_kiln_types_api_color_t)((c + 1) % 3);
}

exports_kiln_types_api_permissions_t
exports_kiln_types_api_toggle_write(exports_kiln_types_api_permissions_t p)
{
    return p ^ EXPORTS_KILN_TYPES_API_PERMISSIONS_WRITE;
}

double exports_kiln_types_api_area(exports_kiln_types_api_shape_t *s)
{
    switch (s->tag) {
    case EXPORTS_KILN_TYPES_API_SHAPE_CIRCLE:
        return 3.0 * s->val.circle * s->val.circle;
    case EXPORTS_KILN_TYPES_API_SHAPE_RECT:
        return (double)s->val.rect.x * (double)s->val.rect.y;
    default:
        return 0;
    }
}

/* Circles double their radius, rectangles their sides; empty stays empty. */
void exports_kiln_types_api_bigger(exports_kiln_types_api_shape_t *s,
                                   exports_kiln_types_api_shape_t *ret)
{
    *ret = *s;
    if (s->tag == EXPORTS_KILN_TYPES_API_SHAPE_CIRCLE)
        ret->val.circle = s->val.circle * 2;
    else if (s->tag == EXPORTS_KILN_TYPES_API_SHAPE_RECT) {
        ret->val.rect.x = s->val.rect.x * 2;
        ret->val.rect.y = s->val.rect.y * 2;
    }
}

/* N points (i, i*i). */
void exports_kiln_types_api_points(uint32_t n, exports_kiln_types_api_list_point_t *ret)
{
    ret->ptr = xmalloc(sizeof(exports_kiln_types_api_point_t) * n);
    ret->len = n;
    for (uint32_t i = 0; i < n; i++) {
        ret->ptr[i].x = (int32_t)i;
        ret->ptr[i].y = (int32_t)(i * i);
    }
}
