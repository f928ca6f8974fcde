/* redis.c — placeholder */
#include "host/spin/data.h"
void spin_redis_close(spin_redis *r)
{
    (void)r;
}
