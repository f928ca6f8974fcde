/* redis_test.c — the Redis trigger's address parsing (redis.c). */
#include "exec/trigger/internal.h"
#include "util/test.h"

int main(void)
{
    const char *good[] = {"redis://localhost",  "redis://127.0.0.1:6379", "REDIS://h:1",
                          "redis://h:65535/3",  "redis://:secret@h:7000", "redis://user:secret@h",
                          "redis://[::1]:6380", "redis://[::1]",          "redis://h?x=1"};
    const char *bad[] = {"",
                         "http://h",
                         "redis://",
                         "redis://:6379",
                         "redis://h:0",
                         "redis://h:65536",
                         "redis://h:12x",
                         "redis://[::1",
                         "redis://h:",
                         "redis://u:p@"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (!trig_redis_address_ok(good[i])) fprintf(stderr, "  refused: %s\n", good[i]);
        CHECK(trig_redis_address_ok(good[i]));
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (trig_redis_address_ok(bad[i])) fprintf(stderr, "  accepted: %s\n", bad[i]);
        CHECK(!trig_redis_address_ok(bad[i]));
    }
    return test_finish("redis_test");
}
