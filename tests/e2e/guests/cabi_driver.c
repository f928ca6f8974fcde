/* cabi_driver.c — a WASI command component that imports kiln:types/api (the c-types
 * component of the corpus) and calls every function of it, printing each result, so that
 * the composition of the two runs the canonical ABI in both directions (lower here, lift
 * there) for every kind of WIT type. tests/e2e/component_cabi_jco.sh builds it with
 * wit-bindgen c (UTF-8, or UTF-16 with -DUTF16: then every string crosses with
 * transcoding), composes it with c-types and compares `kiln run` with `jco run`.
 * `driver bad-utf8` passes a string cut inside a UTF-8 sequence (a trap by the spec). */
#include "driver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A WIT string from UTF-8 bytes, in the bindings' encoding (leaked: a short-lived run). */
static driver_string_t str_n(const char *u, size_t n)
{
#ifdef UTF16
    uint16_t *o = malloc(2 * n + 2);
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        uint32_t c = (uint8_t)u[i];
        if (c < 0x80) {
            i += 1;
        } else if (c < 0xe0) {
            c = (c & 31) << 6 | (u[i + 1] & 63);
            i += 2;
        } else if (c < 0xf0) {
            c = (c & 15) << 12 | (u[i + 1] & 63) << 6 | (u[i + 2] & 63);
            i += 3;
        } else {
            c = (c & 7) << 18 | (u[i + 1] & 63) << 12 | (u[i + 2] & 63) << 6 | (u[i + 3] & 63);
            i += 4;
        }
        if (c >= 0x10000) {
            o[k++] = (uint16_t)(0xd800 + ((c - 0x10000) >> 10));
            o[k++] = (uint16_t)(0xdc00 + ((c - 0x10000) & 1023));
        } else {
            o[k++] = (uint16_t)c;
        }
    }
    driver_string_t r = {o, k};
#else
    driver_string_t r = {(uint8_t *)u, n};
#endif
    return r;
}

static driver_string_t str(const char *u)
{
    return str_n(u, strlen(u));
}

static driver_string_t *pstr_n(const char *u, size_t n)
{
    driver_string_t *p = malloc(sizeof *p);
    *p = str_n(u, n);
    return p;
}

/* A WIT string as UTF-8 (*n bytes). */
static const char *utf8(driver_string_t s, size_t *n)
{
#ifdef UTF16
    char *o = malloc(3 * s.len + 1);
    size_t k = 0;
    for (size_t i = 0; i < s.len; i++) {
        uint32_t c = s.ptr[i];
        if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.len) {
            c = 0x10000 + ((c - 0xd800) << 10) + (s.ptr[i + 1] - 0xdc00u);
            i++;
        }
        if (c < 0x80) {
            o[k++] = (char)c;
        } else if (c < 0x800) {
            o[k++] = (char)(0xc0 | c >> 6);
            o[k++] = (char)(0x80 | (c & 63));
        } else if (c < 0x10000) {
            o[k++] = (char)(0xe0 | c >> 12);
            o[k++] = (char)(0x80 | (c >> 6 & 63));
            o[k++] = (char)(0x80 | (c & 63));
        } else {
            o[k++] = (char)(0xf0 | c >> 18);
            o[k++] = (char)(0x80 | (c >> 12 & 63));
            o[k++] = (char)(0x80 | (c >> 6 & 63));
            o[k++] = (char)(0x80 | (c & 63));
        }
    }
    *n = k;
    return o;
#else
    *n = s.len;
    return (const char *)s.ptr;
#endif
}

static void print_str(const char *what, driver_string_t s)
{
    size_t n;
    const char *u = utf8(s, &n);
    printf("%s: [%.*s] (%zu)\n", what, (int)n, u, n);
}

static uint32_t seed = 12345;
static uint32_t rnd(void)
{
    seed = seed * 1103515245 + 12345;
    return seed >> 8;
}

/* A random string of ASCII, Latin/Greek/Cyrillic…, private-use BMP and astral characters. */
static size_t random_utf8(char *buf)
{
    size_t k = 0;
    int len = (int)(rnd() % 60);
    for (int j = 0; j < len; j++) {
        uint32_t c;
        switch (rnd() % 4) {
        case 0:
            c = 0x20 + rnd() % 95;
            break;
        case 1:
            c = 0xa0 + rnd() % 0x700;
            break;
        case 2:
            c = 0xe000 + rnd() % 0x1000;
            break;
        default:
            c = 0x10000 + rnd() % 0xfffff;
        }
        if (c < 0x80) {
            buf[k++] = (char)c;
        } else if (c < 0x800) {
            buf[k++] = (char)(0xc0 | c >> 6);
            buf[k++] = (char)(0x80 | (c & 63));
        } else if (c < 0x10000) {
            buf[k++] = (char)(0xe0 | c >> 12);
            buf[k++] = (char)(0x80 | (c >> 6 & 63));
            buf[k++] = (char)(0x80 | (c & 63));
        } else {
            buf[k++] = (char)(0xf0 | c >> 18);
            buf[k++] = (char)(0x80 | (c >> 12 & 63));
            buf[k++] = (char)(0x80 | (c >> 6 & 63));
            buf[k++] = (char)(0x80 | (c & 63));
        }
    }
    return k;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "bad-utf8") == 0) {
        driver_list_string_t ws;
        /* "lambda λ" cut after the first byte of λ */
        kiln_types_api_split_words(pstr_n("lambda \xce\xbb", 8), &ws);
        printf("not reached: %zu words\n", ws.len);
        return 0;
    }
    printf("add-u8 %u\n", kiln_types_api_add_u8(200, 100));
    printf("add-s16 %d\n", kiln_types_api_add_s16(-32768, -1));
    printf("add-u32 %u\n", kiln_types_api_add_u32(4000000000u, 500000000u));
    printf("add-s64 %lld\n", (long long)kiln_types_api_add_s64(-5, 9223372036854775807LL));
    printf("mul-f32 %.9g\n", kiln_types_api_mul_f32(1.5f, -2.25f));
    printf("mul-f64 %.17g\n", kiln_types_api_mul_f64(1e300, 1e10));
    printf("next-char %x %x\n", kiln_types_api_next_char('a'), kiln_types_api_next_char(0x1F600));
    printf("not %d\n", kiln_types_api_not(false));

    driver_string_t r;
    kiln_types_api_greet(pstr_n("w\xc3\xb6rld \xf0\x9f\x98\x80", 11), &r);
    print_str("greet", r);
    kiln_types_api_reverse_string(pstr_n("ab\xc3\xa9\xe2\x82\xac", 7), &r);
    print_str("reverse", r);
    int32_t xs[] = {1, -2, 2147483647, 2147483647};
    printf("sum-list %lld\n", (long long)kiln_types_api_sum_list(&(driver_list_s32_t){xs, 4}));
    uint8_t bs[] = {1, 2, 255, 0};
    driver_list_u8_t rb;
    kiln_types_api_reverse_bytes(&(driver_list_u8_t){bs, 4}, &rb);
    printf("reverse-bytes");
    for (size_t i = 0; i < rb.len; i++)
        printf(" %u", rb.ptr[i]);
    printf("\n");
    driver_list_string_t ws;
    kiln_types_api_split_words(pstr_n("the quick  brown \xce\xbb", 19), &ws);
    printf("split %zu\n", ws.len);
    for (size_t i = 0; i < ws.len; i++)
        print_str(" word", ws.ptr[i]);
    kiln_types_api_join_words(&ws, pstr_n("--", 2), &r);
    print_str("join", r);

    kiln_types_api_point_t pt = {3, -4}, pr;
    kiln_types_api_translate(&pt, 10, 20, &pr);
    printf("translate %d %d\n", pr.x, pr.y);
    driver_tuple2_string_u32_t sw;
    kiln_types_api_swap(&(driver_tuple2_u32_string_t){7, str("seven")}, &sw);
    print_str("swap", sw.f0);
    printf("swap %u\n", sw.f1);
    driver_string_t tags[] = {str("a"), str("b\xc3\xa9")};
    kiln_types_api_person_t per = {str("Ada"), 36, {true, str("ada@example.org")}, {tags, 2}};
    kiln_types_api_describe_person(&per, &r);
    print_str("describe", r);
    kiln_types_api_person_t mp;
    kiln_types_api_make_person(pstr_n("Bob", 3), 7, &mp);
    print_str("make name", mp.name);
    printf("make age %u email %d tags %zu\n", mp.age, mp.email.is_some, mp.tags.len);

    int32_t x = 21, d = 0;
    printf("maybe-double %d", kiln_types_api_maybe_double(&x, &d));
    printf(" %d\n", d);
    printf("maybe-double none %d\n", kiln_types_api_maybe_double(NULL, &d));
    const char *nums[] = {"12345", "", "12x", "4294967295"};
    for (int i = 0; i < 4; i++) {
        uint32_t n;
        kiln_types_api_parse_error_t pe;
        if (kiln_types_api_parse_number(pstr_n(nums[i], strlen(nums[i])), &n, &pe))
            printf("parse ok %u\n", n);
        else
            printf("parse err %u %u\n", pe.tag, pe.tag ? pe.val.bad_char : 0);
    }
    int32_t q;
    driver_string_t e;
    if (kiln_types_api_checked_div(7, 2, &q, &e)) printf("div %d\n", q);
    if (!kiln_types_api_checked_div(7, 0, &q, &e)) print_str("div err", e);
    printf("next-color %u %u\n", kiln_types_api_next_color(0), kiln_types_api_next_color(2));
    printf("toggle %u %u\n", kiln_types_api_toggle_write(1), kiln_types_api_toggle_write(7));
    kiln_types_api_shape_t sh = {0, {.circle = 2.0}}, sb;
    printf("area %.17g\n", kiln_types_api_area(&sh));
    sh.tag = 1;
    sh.val.rect = (kiln_types_api_point_t){3, 5};
    printf("area rect %.17g\n", kiln_types_api_area(&sh));
    kiln_types_api_bigger(&sh, &sb);
    printf("bigger %u %d %d\n", sb.tag, sb.val.rect.x, sb.val.rect.y);
    sh.tag = 2;
    kiln_types_api_bigger(&sh, &sb);
    printf("bigger empty %u\n", sb.tag);
    kiln_types_api_list_point_t pl;
    kiln_types_api_points(5, &pl);
    printf("points %zu", pl.len);
    for (size_t i = 0; i < pl.len; i++)
        printf(" (%d,%d)", pl.ptr[i].x, pl.ptr[i].y);
    printf("\n");

    /* resources: own handles, borrows for method calls, a static taking two borrows */
    kiln_types_api_own_counter_t c1 = kiln_types_api_constructor_counter(10);
    kiln_types_api_own_counter_t c2 = kiln_types_api_constructor_counter(-3);
    printf("inc %lld\n", (long long)kiln_types_api_method_counter_increment(
                             kiln_types_api_borrow_counter(c1), 5));
    kiln_types_api_own_counter_t m = kiln_types_api_static_counter_merge(
        kiln_types_api_borrow_counter(c1), kiln_types_api_borrow_counter(c2));
    printf("merged %lld\n",
           (long long)kiln_types_api_method_counter_get(kiln_types_api_borrow_counter(m)));
    kiln_types_api_counter_drop_own(c1);
    kiln_types_api_counter_drop_own(c2);
    kiln_types_api_counter_drop_own(m);

    /* 200 random strings, each reversed twice (400 crossings each way) */
    unsigned long h = 0;
    int mismatches = 0;
    for (int it = 0; it < 200; it++) {
        char buf[512];
        size_t k = random_utf8(buf);
        driver_string_t a = str_n(buf, k), b1, b2;
        kiln_types_api_reverse_string(&a, &b1);
        kiln_types_api_reverse_string(&b1, &b2);
        size_t n1, n2;
        const char *u1 = utf8(b1, &n1), *u2 = utf8(b2, &n2);
        mismatches += n2 != k || memcmp(u2, buf, k) != 0;
        for (size_t j = 0; j < n1; j++)
            h = h * 31 + (uint8_t)u1[j];
    }
    printf("random strings: %d mismatches, hash %lx\n", mismatches, h);
    return 0;
}
