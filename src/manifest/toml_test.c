/* toml_test.c — unit tests of the TOML parser: values and their positions, the tree
 * API, every kind of error message with its line:col, and out-of-memory handling. */
#include "manifest/toml.h"
#include "util/alloc.h"
#include "util/test.h"

#include <math.h>
#include <string.h>

/* Parses s; returns the tree (NULL on error, with the message in *err). */
static kiln_toml_value *parse(const char *s, char **err)
{
    return kiln_toml_parse(s, strlen(s), "t.toml", err);
}

/* The error message for document s ("" when it parses). The returned buffer is static
 * so that CHECK_STR can be used directly; each call overwrites it. */
static const char *error_of(const char *s)
{
    static char msg[512];
    char *err = NULL;
    kiln_toml_value *v = parse(s, &err);
    msg[0] = '\0';
    if (!v && err) snprintf(msg, sizeof msg, "%s", err);
    if (!v && !err) snprintf(msg, sizeof msg, "(no message)");
    kiln_toml_free(v);
    kiln_free(err);
    return msg;
}

static void test_values(void)
{
    const char *doc = "# comment\n"
                      "title = \"TOML \\u00e9\"\n"
                      "n = 0x_1\n"
                      "[server]\n"
                      "  port = 8_080\n"
                      "  ratio = -1.5e3\n"
                      "  on = true\n"
                      "  hosts = [ \"a\", 'b', ]\n"
                      "  when = 1979-05-27 07:32:00.5-07:00\n"
                      "  day = 1979-05-27\n"
                      "  at = 07:32:00\n"
                      "  local = 1979-05-27T07:32:00\n"
                      "  inf = -inf\n"
                      "  nan = nan\n"
                      "  ml = \"\"\"\nline1\\\n   line2\"\"\"\n"
                      "  lit = '''\n\\no escape'''\n";
    char *err = NULL;
    kiln_toml_value *root = parse(doc, &err);
    CHECK(root == NULL); /* n = 0x_1 is invalid */
    CHECK_STR(err, "t.toml:3:5: invalid integer: \"0x_1\"");
    kiln_free(err);

    const char *good = strstr(doc, "[server]");
    char buf[1024];
    snprintf(buf, sizeof buf, "title = \"TOML \\u00e9\"\nn = 0xff\n%s", good);
    root = parse(buf, &err);
    CHECK(root != NULL);
    if (!root) {
        fprintf(stderr, "%s\n", err);
        kiln_free(err);
        return;
    }
    CHECK_STR(kiln_toml_str(kiln_toml_get(root, "title")), "TOML \xc3\xa9");
    CHECK_INT(kiln_toml_get(root, "n")->u.integer, 255);
    kiln_toml_value *srv = kiln_toml_get(root, "server");
    CHECK(kiln_toml_is(srv, KILN_TOML_TABLE));
    CHECK_INT(srv->line, 3);
    CHECK_INT(srv->col, 1);
    kiln_toml_value *port = kiln_toml_get(srv, "port");
    CHECK_INT(port->u.integer, 8080);
    CHECK_INT(port->line, 4);
    CHECK_INT(port->col, 10);
    const kiln_toml_entry *e = kiln_toml_get_entry(srv, "port");
    CHECK_INT(e->line, 4);
    CHECK_INT(e->col, 3);
    CHECK(kiln_toml_get(srv, "ratio")->u.fp == -1500.0);
    CHECK_INT(kiln_toml_get(srv, "on")->u.boolean, 1);
    kiln_toml_value *hosts = kiln_toml_get(srv, "hosts");
    CHECK_INT(kiln_toml_array_len(hosts), 2);
    CHECK_STR(kiln_toml_str(kiln_toml_array_at(hosts, 1)), "b");
    CHECK_INT(kiln_toml_array_at(hosts, 1)->col, 18);
    CHECK(kiln_toml_array_at(hosts, 2) == NULL);
    kiln_toml_value *when = kiln_toml_get(srv, "when");
    CHECK(kiln_toml_is(when, KILN_TOML_DATETIME));
    CHECK_INT(when->u.dt.offset_minutes, -420);
    CHECK_INT(when->u.dt.nanosecond, 500000000);
    char dt[64];
    kiln_toml_format_datetime(when, dt, sizeof dt);
    CHECK_STR(dt, "1979-05-27T07:32:00.5-07:00");
    CHECK_INT(kiln_toml_format_datetime(when, dt, 8), 7); /* truncated, never overflows */
    CHECK_STR(dt, "1979-05");
    kiln_toml_format_datetime(kiln_toml_get(srv, "day"), dt, sizeof dt);
    CHECK_STR(dt, "1979-05-27");
    kiln_toml_format_datetime(kiln_toml_get(srv, "at"), dt, sizeof dt);
    CHECK_STR(dt, "07:32:00");
    CHECK(kiln_toml_is(kiln_toml_get(srv, "local"), KILN_TOML_DATETIME_LOCAL));
    CHECK(isinf(kiln_toml_get(srv, "inf")->u.fp) && kiln_toml_get(srv, "inf")->u.fp < 0);
    CHECK(isnan(kiln_toml_get(srv, "nan")->u.fp));
    CHECK_STR(kiln_toml_str(kiln_toml_get(srv, "ml")), "line1line2");
    CHECK_STR(kiln_toml_str(kiln_toml_get(srv, "lit")), "\\no escape");
    /* document order */
    CHECK_STR(kiln_toml_table_at(srv, 0)->key, "port");
    CHECK_STR(kiln_toml_table_at(srv, kiln_toml_table_len(srv) - 1)->key, "lit");
    CHECK_STR(kiln_toml_type_name(srv->type), "table");
    CHECK(kiln_toml_str(port) == NULL);
    kiln_toml_free(root);
}

static void test_positions(void)
{
    /* columns count characters, not bytes; CRLF ends lines */
    char *err = NULL;
    kiln_toml_value *root = parse("\"\xc3\xa9t\xc3\xa9\" = 1\r\na.b.c = { x = [1, {y = 2}] }\n"
                                  "[[t]]\n[[t]]\nz = 1\n",
                                  &err);
    CHECK(root != NULL);
    if (!root) return;
    const kiln_toml_entry *e = kiln_toml_table_at(root, 0);
    CHECK_INT(e->value->line, 1);
    CHECK_INT(e->value->col, 9);
    kiln_toml_value *c = kiln_toml_get(kiln_toml_get(kiln_toml_get(root, "a"), "b"), "c");
    CHECK_INT(c->line, 2);
    CHECK_INT(c->col, 9);
    CHECK(c->flags & KILN_TOML_F_INLINE);
    const kiln_toml_entry *be = kiln_toml_get_entry(kiln_toml_get(root, "a"), "b");
    CHECK_INT(be->col, 3);
    kiln_toml_value *y = kiln_toml_get(kiln_toml_array_at(kiln_toml_get(c, "x"), 1), "y");
    CHECK_INT(y->col, 24);
    kiln_toml_value *t = kiln_toml_get(root, "t");
    CHECK_INT(kiln_toml_array_len(t), 2);
    CHECK_INT(kiln_toml_array_at(t, 1)->line, 4);
    CHECK_INT(kiln_toml_get(kiln_toml_array_at(t, 1), "z")->line, 5);
    kiln_toml_free(root);
}

static void test_errors(void)
{
    CHECK_STR(error_of("a = 1\nroute \"/x\"\n"),
              "t.toml:2:7: expected '=' after key \"route\", found '\"'");
    CHECK_STR(error_of("a = \n"), "t.toml:1:5: expected a value, found end of line");
    CHECK_STR(error_of("a = 1 b = 2\n"), "t.toml:1:7: expected a newline after a value, found 'b'");
    CHECK_STR(error_of("a = 1\na = 2\n"),
              "t.toml:2:1: duplicate key \"a\" (first defined at line 1)");
    CHECK_STR(error_of("[a]\n[a]\n"),
              "t.toml:2:1: duplicate table \"a\" (already defined at line 1)");
    CHECK_STR(error_of("a = \"abc\n"),
              "t.toml:1:9: unterminated string: newline before the closing quote");
    CHECK_STR(error_of("a = \"\"\"abc"), "t.toml:1:5: unterminated string (opened here)");
    CHECK_STR(error_of("a = \"\\x41\"\n"), "t.toml:1:6: invalid escape sequence \\x");
    CHECK_STR(error_of("a = \"\\uD800\"\n"),
              "t.toml:1:6: \\u escape U+D800 is not a Unicode scalar value");
    CHECK_STR(error_of("a = \"\\u12\"\n"), "t.toml:1:6: \\u escape needs 4 hexadecimal digits");
    CHECK_STR(error_of("a = 'x\x01'\n"),
              "t.toml:1:7: control character U+0001 must be escaped in a string");
    CHECK_STR(error_of("# \x7f\n"),
              "t.toml:1:3: control character U+007F is not allowed in a comment");
    CHECK_STR(error_of("a = 01\n"),
              "t.toml:1:5: leading zeros are not allowed in integers: \"01\"");
    CHECK_STR(error_of("a = 9223372036854775808\n"),
              "t.toml:1:5: integer does not fit in 64 bits: \"9223372036854775808\"");
    CHECK_STR(error_of("a = -9223372036854775808\n"), "");
    CHECK_STR(
        error_of("a = +0x1\n"),
        "t.toml:1:5: a sign is not allowed on hexadecimal, octal or binary integers: \"+0x1\"");
    CHECK_STR(error_of("a = 1.\n"), "t.toml:1:5: invalid float: \"1.\"");
    CHECK_STR(error_of("a = 03.5\n"),
              "t.toml:1:5: leading zeros are not allowed in floats: \"03.5\"");
    CHECK_STR(error_of("a = 2021-02-29\n"),
              "t.toml:1:5: invalid date: no such day: \"2021-02-29\"");
    CHECK_STR(error_of("a = 2020-02-29\n"), "");
    CHECK_STR(error_of("a = 12:60:00\n"),
              "t.toml:1:5: invalid time: value out of range: \"12:60:00\"");
    CHECK_STR(error_of("a = 12:30\n"), "t.toml:1:5: invalid time: expected HH:MM:SS: \"12:30\"");
    CHECK_STR(error_of("a = 1979-05-27T07:32:00+7\n"),
              "t.toml:1:5: invalid time offset: expected +HH:MM: \"1979-05-27T07:32:00+7\"");
    CHECK_STR(error_of("a = [1 2]\n"), "t.toml:1:8: expected ',' or ']' in array, found '2'");
    CHECK_STR(error_of("a = {b = 1,}\n"),
              "t.toml:1:12: trailing comma is not allowed in an inline table");
    CHECK_STR(error_of("a = {b = 1\n}\n"),
              "t.toml:1:11: newlines are not allowed in an inline table; expected ',' or '}'");
    CHECK_STR(error_of("a = {b = 1}\na.c = 2\n"),
              "t.toml:2:1: cannot add keys to table \"a\" defined at line 1");
    CHECK_STR(error_of("a = {b = 1}\n[a.c]\n"),
              "t.toml:2:2: cannot define table \"a.c\": \"a\" is already an inline table (line 1)");
    CHECK_STR(error_of("a = [1]\n[[a]]\n"),
              "t.toml:2:3: cannot define array of tables \"a\": it is already an array (line 1)");
    CHECK_STR(error_of("a.b = 1\n[a]\n"),
              "t.toml:2:1: duplicate table \"a\" (already defined at line 1)");
    CHECK_STR(error_of("a = 1\na.b = 2\n"),
              "t.toml:2:1: cannot use key \"a\" as a table: it is already an integer (line 1)");
    CHECK_STR(error_of("[a.b]\n[a]\nb.c = 1\n"),
              "t.toml:3:1: cannot add keys to table \"b\" defined at line 1");
    CHECK_STR(error_of("[a\n"),
              "t.toml:1:3: expected ']' to close the header of table \"a\", found end of line");
    CHECK_STR(error_of("[[a]\n"),
              "t.toml:1:4: expected ']]' to close the header of table \"a\", found ']'");
    CHECK_STR(error_of("[]\n"), "t.toml:1:2: expected a key, found ']'");
    CHECK_STR(error_of("= 1\n"), "t.toml:1:1: expected a key before '='");
    CHECK_STR(error_of("\"\"\"a\"\"\" = 1\n"),
              "t.toml:1:1: multi-line strings cannot be used as keys");
    CHECK_STR(
        error_of("a = truex\n"),
        "t.toml:1:5: expected a value (string, number, boolean, date, array or table), found 't'");
    CHECK_STR(error_of("a = \"\xff\"\n"), "t.toml:1:6: invalid UTF-8 byte 0xFF");
    CHECK_STR(error_of("a = \"\xc0\x80\"\n"), "t.toml:1:6: invalid UTF-8 sequence (U+0)");
    CHECK_STR(error_of("a = 1\r\r\n"),
              "t.toml:1:6: expected a newline after a value, found byte 0x0D");
    CHECK_STR(error_of("a = \"\"\"x\"\"\"\"\"\"\n"),
              "t.toml:1:9: too many quotes at the end of a multi-line string");
    CHECK_STR(error_of("a = \"\"\"x\"\"\"\"\"\n"), "");
    /* nesting limit */
    char deep[1000];
    memset(deep, '[', sizeof deep);
    memcpy(deep, "a = ", 4);
    deep[sizeof deep - 1] = '\0';
    CHECK_STR(error_of(deep), "t.toml:1:205: document is nested too deeply");
    /* NUL bytes are not text */
    char *err = NULL;
    CHECK(kiln_toml_parse("a = 1\0", 6, NULL, &err) == NULL);
    CHECK_STR(err, "<input>:1:6: expected a newline after a value, found byte 0x00");
    kiln_free(err);
}

/* Big tables use a hash index: lookups and duplicate detection must still work. */
static void test_big_table(void)
{
    char doc[8192];
    size_t n = 0;
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(doc + n, sizeof doc - n, "k%d = %d\n", i, i);
    char *err = NULL;
    kiln_toml_value *root = parse(doc, &err);
    CHECK(root != NULL);
    int all = 1;
    for (int i = 0; i < 300 && root; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        kiln_toml_value *v = kiln_toml_get(root, key);
        if (!v || v->u.integer != i || v->line != i + 1) all = 0;
    }
    CHECK(all);
    CHECK(kiln_toml_get(root, "k300") == NULL);
    CHECK_STR(kiln_toml_table_at(root, 299)->key, "k299");
    kiln_toml_free(root);
    snprintf(doc + n, sizeof doc - n, "k150 = 1\n");
    CHECK_STR(error_of(doc), "t.toml:301:1: duplicate key \"k150\" (first defined at line 151)");
}

static void test_oom(void)
{
    const char *doc = "a = \"x\"\n[b.c]\nd = [1, {e = 2}]\n[[f]]\ng.h = 1979-05-27\n";
    int ok = 0, failures = 0;
    for (long n = 0; n < 200; n++) {
        char *err = NULL;
        kiln_alloc_fail_after(n);
        kiln_toml_value *v = parse(doc, &err);
        kiln_alloc_fail_after(-1);
        if (v) {
            ok = 1;
            kiln_toml_free(v);
            break;
        }
        failures++;
        kiln_free(err);
    }
    CHECK(ok);
    CHECK(failures > 10);
}

int main(void)
{
    test_values();
    test_positions();
    test_errors();
    test_big_table();
    test_oom();
    return test_finish("toml_test");
}
