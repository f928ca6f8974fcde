/* The handler of tests/e2e/sdk_c_sql.sh: kiln_sql_query on the default database (table
 * notes(id INTEGER PRIMARY KEY, body TEXT, score REAL, raw BLOB), made by kiln up --sqlite).
 *   POST /add?score=S   inserts the body as a note (parameters bound), answers its id
 *   GET  /list          every note, one line each: "id|body|score|raw bytes|type of raw"
 *   GET  /find?q=TEXT   the ids of the notes whose body is exactly TEXT (bound, so quotes
 *                       and SQL in TEXT are data)
 *   GET  /bad           a statement that fails: 500 with kiln_error()
 *   GET  /other         the database "other" (not granted): 500 with kiln_error() */
#include "kiln.h"

#include <stdlib.h>
#include <string.h>

static int list(void)
{
    kiln_sql_result r;
    if (kiln_sql_query(NULL, "SELECT id, body, score, raw FROM notes ORDER BY id", NULL, 0, &r))
        return kiln_respond_error(500, "%s", kiln_error());
    for (size_t i = 0; i < r.nrows; i++) {
        const kiln_sql_value *raw = kiln_sql_at(&r, i, "raw");
        kiln_printf("%lld|%s|%.2f|%zu|%d\n", (long long)kiln_sql_at(&r, i, "id")->integer,
                    kiln_sql_at(&r, i, "body")->text, kiln_sql_at(&r, i, "score")->real, raw->len,
                    (int)raw->type);
    }
    kiln_printf("columns=%zu rows=%zu\n", r.ncolumns, r.nrows);
    kiln_sql_result_free(&r);
    return kiln_send();
}

int main(void)
{
    const char *p = kiln_path();
    kiln_sql_result r;
    if (strcmp(p, "/add") == 0) {
        size_t len;
        const char *body = kiln_body(&len);
        const char *score = kiln_query("score");
        kiln_sql_value params[3] = {
            {.type = KILN_SQL_TEXT, .text = (char *)body, .len = len},
            {.type = KILN_SQL_REAL, .real = score ? atof(score) : 0},
            {.type = KILN_SQL_BLOB, .text = "\0\1\2", .len = 3},
        };
        if (kiln_sql_query(NULL, "INSERT INTO notes (body, score, raw) VALUES (?, ?, ?)", params, 3,
                           &r) ||
            (kiln_sql_result_free(&r),
             kiln_sql_query(NULL, "SELECT last_insert_rowid() AS id", NULL, 0, &r)))
            return kiln_respond_error(500, "%s", kiln_error());
        kiln_printf("%lld\n", (long long)r.values[0].integer);
        kiln_sql_result_free(&r);
        return kiln_send();
    }
    if (strcmp(p, "/list") == 0) return list();
    if (strcmp(p, "/find") == 0) {
        const char *q = kiln_query("q");
        kiln_sql_value param = {
            .type = KILN_SQL_TEXT, .text = (char *)(q ? q : ""), .len = q ? strlen(q) : 0};
        if (kiln_sql_query("default", "SELECT id FROM notes WHERE body = ? ORDER BY id", &param, 1,
                           &r))
            return kiln_respond_error(500, "%s", kiln_error());
        kiln_printf("found %zu:", r.nrows);
        for (size_t i = 0; i < r.nrows; i++)
            kiln_printf(" %lld", (long long)r.values[i].integer);
        kiln_puts("\n");
        kiln_sql_result_free(&r);
        return kiln_send();
    }
    if (strcmp(p, "/bad") == 0 || strcmp(p, "/other") == 0) {
        int rc = strcmp(p, "/bad") == 0
                     ? kiln_sql_query(NULL, "SELECT * FROM no_such_table", NULL, 0, &r)
                     : kiln_sql_query("other", "SELECT 1", NULL, 0, &r);
        if (rc == 0) {
            kiln_sql_result_free(&r);
            return kiln_respond(200, "text/plain", "unexpectedly fine\n");
        }
        return kiln_respond_error(500, "%s", kiln_error());
    }
    return kiln_respond_error(404, "no route %s", p);
}
