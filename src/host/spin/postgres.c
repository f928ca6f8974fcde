/* postgres.c — placeholder */
#include "host/spin/data.h"
void spin_pg_close(spin_pg *p)
{
    (void)p;
}
