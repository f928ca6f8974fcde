/* sqlite_conv.h — Spin's sqlite values between component values (kiln_cval) and SQLite's
 * (sqlite_db.h), for fermyon:spin/sqlite (sqlite.c) and the unit test. */
#ifndef KILN_HOST_SPIN_SQLITE_CONV_H
#define KILN_HOST_SPIN_SQLITE_CONV_H

#include "component/cabi.h"
#include "host/spin/sqlite_db.h"

/* The parameters (a list<value> as lifted) as SQLite values in the call's arena (bytes not
 * copied: they point into list); *n their number. NULL out of memory. */
kiln_sql_value *spin_sql_params(kiln_cabi_cx *cx, const kiln_cval *list, size_t *n);
/* record query-result { columns: list<string>, rows: list<record row-result { values:
 * list<value> }> } of r, copied into the call's arena. NULL out of memory. */
kiln_cval *spin_sql_result(kiln_cabi_cx *cx, const kiln_sql_result *r);

#endif
