/* fanout — GET /?n=N (1..100, default 20) sends N requests at once to the upstream
 * (http://UPSTREAM/item/I for I in 0..N-1; the variable `upstream`) and answers
 *     200 {"n": N, "ok": K, "results": [{"i": I, "status": S, "body": "..."}, ...]}
 * in request order, once all are back. The requests go out together
 * (kiln_http_fetch_all), so N requests to an upstream that takes 200 ms take about 200 ms,
 * not N x 200 ms. A request that failed has "error" instead of status and body. */
#include "kiln.h"

#include <stdio.h>
#include <stdlib.h>

#define MAX_N 100

int main(void)
{
    const char *up = kiln_variable_get("upstream");
    if (!up) return kiln_respond_error(500, "no upstream: %s", kiln_error());
    const char *ns = kiln_query("n");
    char *end = NULL;
    long n = ns ? strtol(ns, &end, 10) : 20;
    if ((ns && (*ns == '\0' || *end != '\0')) || n < 1 || n > MAX_N)
        return kiln_respond_error(400, "n must be a number from 1 to %d", MAX_N);

    kiln_http_request reqs[MAX_N];
    kiln_http_response resps[MAX_N];
    int rcs[MAX_N];
    char urls[MAX_N][300];
    for (long i = 0; i < n; i++) {
        int w = snprintf(urls[i], sizeof urls[i], "http://%s/item/%ld", up, i);
        if (w < 0 || (size_t)w >= sizeof urls[i])
            return kiln_respond_error(500, "the upstream name is too long");
        reqs[i] = (kiln_http_request){.url = urls[i]};
    }
    kiln_http_fetch_all((size_t)n, reqs, resps, rcs);

    int ok = 0;
    for (long i = 0; i < n; i++)
        ok += rcs[i] == 0;
    kiln_set_header("Content-Type", "application/json");
    kiln_printf("{\"n\": %ld, \"ok\": %d, \"results\": [", n, ok);
    for (long i = 0; i < n; i++) {
        kiln_printf("%s{\"i\": %ld, ", i ? ", " : "", i);
        if (rcs[i] == 0) {
            kiln_printf("\"status\": %d, \"body\": ", resps[i].status);
            kiln_write_json_string(resps[i].body, resps[i].body_len);
            kiln_http_response_free(&resps[i]);
        } else {
            kiln_puts("\"error\": \"request failed\"");
        }
        kiln_puts("}");
    }
    kiln_puts("]}\n");
    return kiln_send();
}
