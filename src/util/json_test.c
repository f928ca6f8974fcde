/* json_test.c — unit tests of the strict JSON parser (util/json.h). */
#include "util/json.h"
#include "util/buf.h"

#include <math.h>
#include <string.h>

#include "util/alloc.h"
#include "util/test.h"

/* Parses a NUL-terminated text (NULL on error). */
static kiln_json *parse(const char *s)
{
    char err[200];
    return kiln_json_parse(s, strlen(s), err, sizeof err);
}

/* 1 if the text is rejected. */
static int rejects(const char *s)
{
    kiln_json *v = parse(s);
    kiln_json_free(v);
    return v == NULL;
}

static void test_scalars(void)
{
    kiln_json *v = parse(" null ");
    CHECK(v && v->type == KILN_JSON_NULL);
    kiln_json_free(v);
    v = parse("true");
    CHECK(v && v->type == KILN_JSON_BOOL && v->boolean == 1);
    kiln_json_free(v);
    v = parse("false");
    CHECK(v && v->type == KILN_JSON_BOOL && v->boolean == 0);
    kiln_json_free(v);
    v = parse("-12.5e2");
    CHECK(v && v->type == KILN_JSON_NUMBER && v->number == -1250.0);
    CHECK_STR(v ? v->str : NULL, "-12.5e2");
    kiln_json_free(v);
    v = parse("18446744073709551615");
    CHECK_STR(v ? v->str : NULL, "18446744073709551615");
    kiln_json_free(v);
    v = parse("0");
    CHECK(v && v->number == 0.0);
    kiln_json_free(v);
    v = parse("1e400");
    CHECK(v && isinf(v->number));
    kiln_json_free(v);
}

static void test_strings(void)
{
    kiln_json *v = parse("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"");
    CHECK_STR(v ? v->str : NULL, "a\"b\\c/d\b\f\n\r\t");
    kiln_json_free(v);
    v = parse("\"\\u00e9\\u20AC\"");
    CHECK_STR(v ? v->str : NULL, "\xc3\xa9\xe2\x82\xac");
    kiln_json_free(v);
    v = parse("\"\\ud83d\\ude00\""); /* U+1F600 */
    CHECK_STR(v ? v->str : NULL, "\xf0\x9f\x98\x80");
    kiln_json_free(v);
    v = parse("\"a\\u0000b\"");
    CHECK(v && v->len == 3 && memcmp(v->str, "a\0b", 3) == 0);
    kiln_json_free(v);
    v = parse("\"\xe2\x82\xac raw\"");
    CHECK_STR(v ? v->str : NULL, "\xe2\x82\xac raw");
    kiln_json_free(v);
    CHECK(rejects("\"\\ud83d\""));        /* lone high surrogate */
    CHECK(rejects("\"\\ud83d\\u0041\"")); /* high + non-low */
    CHECK(rejects("\"\\ude00\""));        /* lone low surrogate */
    CHECK(rejects("\"\\x41\""));
    CHECK(rejects("\"\\u12G4\""));
    CHECK(rejects("\"tab\there\""));
    CHECK(rejects("\"unterminated"));
    CHECK(rejects("\"\xc0\xaf\""));         /* overlong */
    CHECK(rejects("\"\xed\xa0\x80\""));     /* encoded surrogate */
    CHECK(rejects("\"\xf4\x90\x80\x80\"")); /* > U+10FFFF */
    CHECK(rejects("\"\xe2\x82\""));         /* truncated */
}

static void test_containers(void)
{
    kiln_json *v = parse("{\"a\": [1, 2, {\"b\": null}], \"c\": \"x\", \"a\": 3}");
    CHECK(v && v->type == KILN_JSON_OBJECT && v->count == 3);
    const kiln_json *a = kiln_json_get(v, "a");
    CHECK(a && a->type == KILN_JSON_ARRAY && a->count == 3); /* first duplicate wins */
    CHECK(kiln_json_at(a, 1) && kiln_json_at(a, 1)->number == 2.0);
    CHECK(kiln_json_at(a, 3) == NULL);
    CHECK(kiln_json_get(kiln_json_at(a, 2), "b") != NULL);
    CHECK_STR(kiln_json_get_str(v, "c"), "x");
    CHECK(kiln_json_get_str(v, "a") == NULL);
    CHECK(kiln_json_get(v, "zz") == NULL);
    CHECK(kiln_json_get(a, "a") == NULL);
    kiln_json_free(v);
    v = parse("[]");
    CHECK(v && v->type == KILN_JSON_ARRAY && v->count == 0);
    kiln_json_free(v);
    v = parse("{ }");
    CHECK(v && v->type == KILN_JSON_OBJECT && v->count == 0);
    kiln_json_free(v);
    CHECK_STR(kiln_json_type_name(KILN_JSON_OBJECT), "object");
}

static void test_rejects(void)
{
    const char *bad[] = {"",    "  ",       "[1,]",     "{\"a\":1,}", "[1 2]",  "{a:1}",
                         "01",  "-",        "1.",       ".5",         "1e",     "+1",
                         "tru", "nul",      "[1]]",     "{} x",       "/*c*/1", "{\"a\" 1}",
                         "[",   "{\"a\":}", "NaN",      "Infinity",   "'s'",    "[\x01]",
                         "-01", "1.e5",     "{\"a\":1", "[1,,2]",     "{1:2}",  "\"a\"\"b\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int r = rejects(bad[i]);
        if (!r) fprintf(stderr, "  accepted: %s\n", bad[i]);
        CHECK(r);
    }
    char err[128];
    kiln_json *v = kiln_json_parse("[1,\n  x]", 8, err, sizeof err);
    CHECK(v == NULL);
    CHECK(strncmp(err, "line 2, column 3", 16) == 0);
    v = kiln_json_parse("[1]", 3, NULL, 0); /* err may be NULL */
    CHECK(v != NULL);
    kiln_json_free(v);
    CHECK(kiln_json_parse("[1,]", 4, NULL, 0) == NULL);
}

static void test_depth(void)
{
    size_t n = KILN_JSON_MAX_DEPTH + 1;
    char *s = kiln_malloc(2 * n + 1);
    CHECK(s != NULL);
    if (!s) return;
    memset(s, '[', n);
    memset(s + n, ']', n);
    s[2 * n] = '\0';
    CHECK(rejects(s));
    s[0] = ' ';
    s[2 * n - 1] = ' ';
    kiln_json *v = parse(s); /* exactly the maximum depth */
    CHECK(v != NULL);
    kiln_json_free(v);
    kiln_free(s);
}

static void test_oom(void)
{
    const char *doc = "{\"k\": [1, \"two\", {\"x\": [true, null]}], \"s\": \"\\u00e9\"}";
    int ok_once = 0, all_clean = 1;
    for (long n = 0; n < 64; n++) {
        kiln_alloc_fail_after(n);
        kiln_json *v = parse(doc);
        kiln_alloc_fail_after(-1);
        if (v) {
            ok_once = 1;
            if (kiln_json_get(v, "k") == NULL) all_clean = 0;
            kiln_json_free(v);
        }
    }
    CHECK(ok_once);
    CHECK(all_clean);
}

/* The writer: every byte the parser would refuse raw is escaped, UTF-8 kept, and what it
 * writes parses back to the same bytes. */
static void test_write(void)
{
    kiln_buf b = KILN_BUF_INIT;
    CHECK_INT(kiln_json_write_str(&b, "a\"b\\c\n\t\x01\x7f\xc3\xa9"), 0);
    CHECK_STR(b.data, "\"a\\\"b\\\\c\\n\\t\\u0001\\u007f\xc3\xa9\"");
    kiln_json *v = kiln_json_parse(b.data, b.len, NULL, 0);
    CHECK(v && v->type == KILN_JSON_STRING && v->len == 11 &&
          memcmp(v->str, "a\"b\\c\n\t\x01\x7f\xc3\xa9", 11) == 0);
    kiln_json_free(v);
    kiln_buf_reset(&b);
    CHECK_INT(kiln_json_write_str(&b, NULL), 0);
    CHECK_STR(b.data, "\"\"");
    kiln_buf_reset(&b);
    CHECK_INT(kiln_json_write_strn(&b, "x\0y", 3), 0); /* a NUL inside: escaped, not an end */
    CHECK_INT((int)b.len, 10);
    CHECK(memcmp(b.data, "\"x\\u0000y\"", 10) == 0);
    kiln_buf_free(&b);
}

int main(void)
{
    test_scalars();
    test_strings();
    test_containers();
    test_rejects();
    test_depth();
    test_oom();
    test_write();
    return test_finish("json_test");
}
