/* db-http — "database via HTTP": the users live behind a JSON API (http://API/users,
 * the variable `api`; ?active=true filters on the API's side). This component queries it
 * with kiln_http_fetch and answers with a transformed result, never the API's raw rows
 * (no e-mail addresses out, only their domains):
 *     GET /users          {"count": N, "average_age": A, "users": [{"id", "name",
 *                          "email_domain"}, ...]}
 *     GET /users/active   the same for the active users only
 *     GET /users/ID       {"id", "name", "email_domain"}, or 404
 * The API unreachable or answering garbage: 502 with a JSON error. */
#include "kiln.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One user as {"id": ..., "name": ..., "email_domain": ...}. */
static void write_user(const kiln_jv *u)
{
    const kiln_jv *id = kiln_jv_get(u, "id");
    const char *name = kiln_jv_string(kiln_jv_get(u, "name"));
    const char *email = kiln_jv_string(kiln_jv_get(u, "email"));
    const char *at = email ? strrchr(email, '@') : NULL;
    const char *domain = at ? at + 1 : "";
    kiln_printf("{\"id\": %.0f, \"name\": ", id && id->type == KILN_JV_NUMBER ? id->number : -1.0);
    kiln_write_json_string(name ? name : "", name ? strlen(name) : 0);
    kiln_puts(", \"email_domain\": ");
    kiln_write_json_string(domain, strlen(domain));
    kiln_puts("}");
}

int main(void)
{
    if (strcmp(kiln_method(), "GET") != 0 && strcmp(kiln_method(), "HEAD") != 0) {
        kiln_add_header("Allow", "GET, HEAD");
        return kiln_respond_error(405, "method %s is not allowed", kiln_method());
    }
    const char *api = kiln_variable_get("api");
    if (!api) return kiln_respond_error(500, "no api variable: %s", kiln_error());
    const char *sub = kiln_path_info(); /* "", "/", "/active" or "/ID" */
    if (*sub == '/') sub++;
    int active = strcmp(sub, "active") == 0;
    long want = -1;
    if (*sub && !active) {
        char *end;
        want = strtol(sub, &end, 10);
        if (*end != '\0' || want < 0) return kiln_respond_error(404, "no route /users/%s", sub);
    }

    char url[512];
    int w = snprintf(url, sizeof url, "http://%s/users%s", api, active ? "?active=true" : "");
    if (w < 0 || (size_t)w >= sizeof url) return kiln_respond_error(500, "api name too long");
    const char *const headers[] = {"Accept: application/json", NULL};
    kiln_http_response resp;
    if (kiln_http_fetch("GET", url, headers, NULL, 0, &resp) < 0)
        return kiln_respond_error(502, "the users API cannot be reached: %s", kiln_error());
    char why[128];
    kiln_jv *doc =
        resp.status == 200 ? kiln_jv_parse(resp.body, resp.body_len, why, sizeof why) : NULL;
    int status = resp.status;
    kiln_http_response_free(&resp);
    const kiln_jv *users = doc ? kiln_jv_get(doc, "users") : NULL;
    if (!users || users->type != KILN_JV_ARRAY) {
        kiln_jv_free(doc);
        return kiln_respond_error(502, "the users API answered %d without a users list", status);
    }

    kiln_set_header("Content-Type", "application/json");
    if (want >= 0) {
        for (size_t i = 0; i < users->len; i++) {
            const kiln_jv *id = kiln_jv_get(&users->items[i], "id");
            if (id && id->type == KILN_JV_NUMBER && id->number == (double)want) {
                write_user(&users->items[i]);
                kiln_puts("\n");
                kiln_jv_free(doc);
                return kiln_send();
            }
        }
        kiln_jv_free(doc);
        return kiln_respond_error(404, "no user %ld", want);
    }
    double ages = 0;
    size_t aged = 0;
    for (size_t i = 0; i < users->len; i++) {
        const kiln_jv *age = kiln_jv_get(&users->items[i], "age");
        if (age && age->type == KILN_JV_NUMBER) {
            ages += age->number;
            aged++;
        }
    }
    kiln_printf("{\"count\": %zu, \"average_age\": %.1f, \"users\": [", users->len,
                aged ? ages / (double)aged : 0.0);
    for (size_t i = 0; i < users->len; i++) {
        if (i) kiln_puts(", ");
        write_user(&users->items[i]);
    }
    kiln_puts("]}\n");
    kiln_jv_free(doc);
    return kiln_send();
}
