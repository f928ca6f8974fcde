/* kiln_sdk_test.c — native tests of the C guest SDK (sdk/c/kiln.c), built and run by
 * tests/e2e/sdk_c.sh with the host compiler under ASan+UBSan.
 *
 *   kiln_sdk_test json      the JSON reader and writer; prints "sdk json: N passed, N failed"
 *   kiln_sdk_test request   prints what the SDK reads from the CGI environment and stdin
 *   kiln_sdk_test respond   writes a response (checked by the script)
 *   kiln_sdk_test error     writes a body, then replaces it with an error */
#include "kiln.h"

#include <stdio.h>
#include <string.h>

static int passed, failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            passed++;                                                                              \
        } else {                                                                                   \
            failed++;                                                                              \
            fprintf(stderr, "  FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                      \
        }                                                                                          \
    } while (0)

/* 1 if text parses (and, when want_type >= 0, to that type). */
static int parses(const char *text, size_t len, int want_type)
{
    char err[96];
    kiln_jv *v = kiln_jv_parse(text, len, err, sizeof err);
    int ok = v && (want_type < 0 || (int)v->type == want_type);
    if (!v && err[0] == '\0') failed++, fprintf(stderr, "  FAIL no error message for %s\n", text);
    kiln_jv_free(v);
    return ok;
}

static int json_tests(void)
{
    static const char *valid[] = {
        "{}",
        "[]",
        "0",
        "-0",
        "1.5e10",
        "-12.25E-3",
        "\"\"",
        "true",
        "false",
        "null",
        " \t\r\n{\"a\" : [1, {\"b\": null}], \"c\": \"\\u00e9\\ud83d\\ude00\\n\"} ",
        "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"",
        "[[[[[]]]]]",
        "{\"\": 1}",
    };
    static const char *invalid[] = {
        "",
        " ",
        "{",
        "}",
        "[1,]",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "{a:1}",
        "'x'",
        "01",
        "-",
        "1.",
        ".5",
        "1e",
        "+1",
        "tru",
        "nul",
        "[1 2]",
        "\"\\x\"",
        "\"\\u12\"",
        "\"\\ud800\"",
        "\"\\udc00\"",
        "\"\\ud800\\u0041\"",
        "\"a\tb\"",
        "\"\xff\"",
        "\"\xc0\xaf\"",
        "\"\xed\xa0\x80\"",
        "\"\xf4\x90\x80\x80\"",
        "{\"a\":1,\"a\":2}",
        "[] []",
        "/* */ 1",
        "NaN",
        "Infinity",
        "\"unterminated",
    };
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        int ok = parses(valid[i], strlen(valid[i]), -1);
        if (!ok) fprintf(stderr, "  (valid #%zu: %s)\n", i, valid[i]);
        CHECK(ok);
    }
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        int ok = !parses(invalid[i], strlen(invalid[i]), -1);
        if (!ok) fprintf(stderr, "  (invalid #%zu: %s)\n", i, invalid[i]);
        CHECK(ok);
    }
    /* NUL inside the text is not whitespace; \u0000 inside a string is kept. */
    CHECK(!parses("1\0", 2, -1));
    kiln_jv *v = kiln_jv_parse(
        "{\"s\": \"a\\u0000b\", \"n\": -2.5, \"t\": true, \"k\\u00e9\": [1]}", 55, NULL, 0);
    CHECK(v != NULL);
    if (v) {
        const kiln_jv *s = kiln_jv_get(v, "s");
        CHECK(s && s->type == KILN_JV_STRING && s->string_len == 3 &&
              memcmp(s->string, "a\0b", 3) == 0);
        CHECK(kiln_jv_string(s) == NULL); /* has a NUL inside */
        CHECK(kiln_jv_get(v, "n")->number == -2.5);
        CHECK(kiln_jv_get(v, "t")->type == KILN_JV_BOOL && kiln_jv_get(v, "t")->boolean == 1);
        CHECK(kiln_jv_get(v, "k\xc3\xa9") && kiln_jv_get(v, "k\xc3\xa9")->len == 1);
        CHECK(kiln_jv_get(v, "missing") == NULL);
        CHECK(kiln_jv_get(kiln_jv_get(v, "n"), "x") == NULL);
    }
    kiln_jv_free(v);
    /* Depth: KILN_JV_MAX_DEPTH levels parse, one more does not (and deep input does not
     * exhaust the stack). */
    char deep[200001];
    memset(deep, '[', KILN_JV_MAX_DEPTH);
    memset(deep + KILN_JV_MAX_DEPTH, ']', KILN_JV_MAX_DEPTH);
    CHECK(parses(deep, 2 * KILN_JV_MAX_DEPTH, KILN_JV_ARRAY));
    memset(deep, '[', sizeof deep - 1);
    CHECK(!parses(deep, sizeof deep - 1, -1));
    char err[64];
    CHECK(kiln_jv_parse("[1,]", 4, err, sizeof err) == NULL && strstr(err, "offset 3") != NULL);
    printf("sdk json: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}

static int request_dump(void)
{
    size_t len = 0;
    const char *body = kiln_body(&len);
    printf("method=%s\npath=%s\ninfo=%s\n", kiln_method(), kiln_path(), kiln_path_info());
    printf("param=%s\n", kiln_param("user_id") ? kiln_param("user_id") : "(null)");
    printf("param-missing=%s\n", kiln_param("nope") ? "set" : "(null)");
    const char *qs[] = {"a", "b", "flag", "sp", "enc", "bad", "none", "empty"};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++)
        printf("q[%s]=%s\n", qs[i], kiln_query(qs[i]) ? kiln_query(qs[i]) : "(null)");
    printf("qcount=%zu\n", kiln_query_count());
    printf("header=%s\n", kiln_header("X-Custom-Thing") ? kiln_header("X-Custom-Thing") : "(null)");
    printf("ctype=%s\n", kiln_header("content-type") ? kiln_header("content-type") : "(null)");
    printf("body=%zu:%s\n", len, body ? body : "(null)");
    const char *again = kiln_body(&len);
    printf("body-again=%s\n", again == body ? "same" : "different");
    return 0;
}

static int respond(void)
{
    kiln_status(201);
    CHECK(kiln_add_header("X-One", "1") == 0);
    CHECK(kiln_add_header("Set-Cookie", "a=1") == 0);
    CHECK(kiln_add_header("Set-Cookie", "b=2") == 0);
    CHECK(kiln_add_header("Bad Name", "x") < 0);
    CHECK(kiln_add_header("X-Inject", "a\r\nStatus: 500") < 0);
    CHECK(kiln_add_header("", "x") < 0);
    CHECK(kiln_set_header("x-one", "replaced") == 0);
    kiln_set_header("Content-Type", "application/json");
    kiln_puts("{\"s\": ");
    kiln_write_json_string("q\"b\\n\n\x01\x7f\xc3\xa9\xff", 11);
    kiln_printf(", \"n\": %d}", 42);
    if (failed) return 1;
    int rc = kiln_send();
    CHECK(kiln_send() == 0); /* a second send writes nothing */
    return rc || failed;
}

static int error(void)
{
    kiln_set_header("Content-Type", "text/html");
    kiln_add_header("Allow", "POST");
    kiln_puts("<p>half a page</p>");
    return kiln_respond_error(405, "no %s here: \"%s\"", "GET", "quoted");
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "json";
    if (strcmp(mode, "json") == 0) return json_tests();
    if (strcmp(mode, "request") == 0) return request_dump();
    if (strcmp(mode, "respond") == 0) return respond();
    if (strcmp(mode, "error") == 0) return error();
    fprintf(stderr, "unknown mode %s\n", mode);
    return 2;
}
