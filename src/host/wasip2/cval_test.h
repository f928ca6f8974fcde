/* cval_test.h — argument values for unit tests that call host functions directly
 * (wasip2_test.c, wasip3_test.c): a resource rep, a u64, a string, a flags value. Each is
 * a whole kiln_cval (zeroed first); flags_ words live in a ring of 8, so up to 8 flags
 * values of one call stay valid together. Test code only (static functions). */
#ifndef KILN_HOST_CVAL_TEST_H
#define KILN_HOST_CVAL_TEST_H

#include "component/cabi.h"

#include <string.h>

static inline kiln_cval res_(uint32_t rep)
{
    kiln_cval v;
    memset(&v, 0, sizeof v);
    v.res.rep = rep;
    return v;
}

static inline kiln_cval u64_(uint64_t u)
{
    kiln_cval v;
    memset(&v, 0, sizeof v);
    v.u = u;
    return v;
}

static inline kiln_cval str_(const char *s)
{
    kiln_cval v;
    memset(&v, 0, sizeof v);
    v.str.ptr = (char *)s;
    v.str.len = strlen(s);
    return v;
}

static uint32_t flagw[8];
static int nflag;
static inline kiln_cval flags_(uint32_t bits)
{
    kiln_cval v;
    memset(&v, 0, sizeof v);
    flagw[nflag] = bits;
    v.flags = &flagw[nflag];
    nflag = (nflag + 1) % 8;
    return v;
}

#endif
