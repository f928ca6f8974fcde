/* Unit tests of wasi:http 0.3's request slots (http.h): several requests bound to one
 * context at once (an instance serving concurrent requests) each get a slot of their own
 * with its own rep, up to KILN_P3HTTP_MAX_REQS; a released slot is bound again; a served
 * request is one bound; a body not taken is not wanted. */
#include "host/wasip3/http.h"
#include "util/test.h"

#include <string.h>

static void test_slots(kiln_p3http *h)
{
    static kiln_wasihttp_request reqs[KILN_P3HTTP_MAX_REQS + 1];
    kiln_p3http_req *q[KILN_P3HTTP_MAX_REQS];
    CHECK(kiln_p3http_served(h) == NULL);
    for (size_t i = 0; i < KILN_P3HTTP_MAX_REQS; i++) {
        q[i] = kiln_p3http_bind(h, &reqs[i], i % 2);
        CHECK(q[i] != NULL);
        if (!q[i]) return;
        CHECK_INT((int)kiln_p3http_request_rep(q[i]), (int)i + 1);
        CHECK(!kiln_p3http_body_wants(q[i])); /* the guest did not take it */
    }
    CHECK(kiln_p3http_bind(h, &reqs[KILN_P3HTTP_MAX_REQS], 0) == NULL); /* all taken */
    CHECK(kiln_p3http_served(h) == &reqs[0]);
    CHECK_INT(kiln_p3http_release(q[4], 0), 0);
    kiln_p3http_req *again = kiln_p3http_bind(h, &reqs[KILN_P3HTTP_MAX_REQS], 0);
    CHECK(again == q[4]);
    if (again) CHECK_INT((int)kiln_p3http_request_rep(again), 5);
    CHECK_INT(kiln_p3http_release(q[0], 0), 0);
    CHECK(kiln_p3http_served(h) == &reqs[1]);
    for (size_t i = 1; i < KILN_P3HTTP_MAX_REQS; i++)
        CHECK_INT(kiln_p3http_release(q[i], 0), 0);
    CHECK(kiln_p3http_served(h) == NULL);
}

int main(void)
{
    kiln_grants g;
    memset(&g, 0, sizeof g);
    char *err = NULL;
    void *h = kiln_p3http_provider.ctx_new(&g, &err);
    CHECK(h != NULL);
    if (h) {
        test_slots(h);
        kiln_p3http_provider.ctx_free(h);
    }
    return test_finish("p3http_test");
}
