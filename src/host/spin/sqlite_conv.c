/* sqlite_conv.c — Spin's sqlite values to and from component values (sqlite_conv.h). */
#include "host/spin/sqlite_conv.h"

#include <string.h>

kiln_sql_value *spin_sql_params(kiln_cabi_cx *cx, const kiln_cval *list, size_t *n)
{
    size_t count = list->agg.n;
    kiln_sql_value *p = kiln_cabi_alloc(cx, (count + 1) * sizeof *p);
    if (!p) return NULL;
    for (size_t i = 0; i < count; i++) {
        const kiln_cval *v = &list->agg.items[i];
        memset(&p[i], 0, sizeof p[i]);
        p[i].kind = (int)v->var.disc;
        switch (v->var.disc) {
        case KILN_SQL_INTEGER:
            p[i].i = v->var.payload->s;
            break;
        case KILN_SQL_REAL:
            p[i].r = v->var.payload->f64;
            break;
        case KILN_SQL_TEXT:
        case KILN_SQL_BLOB:
            p[i].p = (const uint8_t *)v->var.payload->str.ptr;
            p[i].n = v->var.payload->str.len;
            break;
        default:
            p[i].kind = KILN_SQL_NULL;
            break;
        }
    }
    *n = count;
    return p;
}

/* A copy of n bytes in the arena as a string / byte-list value at *v. -1 out of memory. */
static int copy_bytes(kiln_cabi_cx *cx, kiln_cval *v, const void *p, size_t n)
{
    char *b = kiln_cabi_alloc(cx, n ? n : 1);
    if (!b) return -1;
    if (n) memcpy(b, p, n);
    v->str.ptr = b;
    v->str.len = n;
    return 0;
}

kiln_cval *spin_sql_result(kiln_cabi_cx *cx, const kiln_sql_result *r)
{
    size_t cells = r->nrows * r->ncols;
    /* rec[0] the record, rec[1..2] its fields; cols; per row a record + its list; cells
     * (each a variant) and one payload per cell */
    kiln_cval *rec = kiln_cabi_alloc(cx, 3 * sizeof *rec);
    kiln_cval *cols = kiln_cabi_alloc(cx, (r->ncols + 1) * sizeof *cols);
    kiln_cval *rows = kiln_cabi_alloc(cx, (2 * r->nrows + 1) * sizeof *rows);
    kiln_cval *vals = kiln_cabi_alloc(cx, (2 * cells + 1) * sizeof *vals);
    if (!rec || !cols || !rows || !vals) return NULL;
    for (size_t c = 0; c < r->ncols; c++)
        if (copy_bytes(cx, &cols[c], r->cols[c], r->col_lens[c]) < 0) return NULL;
    for (size_t i = 0; i < cells; i++) {
        const kiln_sql_value *s = &r->vals[i];
        kiln_cval *v = &vals[i], *payload = &vals[cells + i];
        v->var.disc = (uint32_t)s->kind;
        v->var.payload = payload;
        switch (s->kind) {
        case KILN_SQL_INTEGER:
            payload->s = s->i;
            break;
        case KILN_SQL_REAL:
            payload->f64 = s->r;
            break;
        case KILN_SQL_TEXT:
        case KILN_SQL_BLOB:
            if (copy_bytes(cx, payload, s->p, s->n) < 0) return NULL;
            break;
        default:
            v->var.disc = KILN_SQL_NULL;
            v->var.payload = NULL;
            break;
        }
    }
    /* rows[k] = record row-result { values }, rows[nrows + k] = its values list */
    kiln_cval *row_items = &rows[r->nrows];
    for (size_t k = 0; k < r->nrows; k++) {
        kiln_cval *list = &row_items[k];
        list->agg.items = &vals[k * r->ncols];
        list->agg.n = (uint32_t)r->ncols;
        rows[k].agg.items = list;
        rows[k].agg.n = 1;
    }
    rec[1].agg.items = cols;
    rec[1].agg.n = (uint32_t)r->ncols;
    rec[2].agg.items = rows;
    rec[2].agg.n = (uint32_t)r->nrows;
    rec[0].agg.items = &rec[1];
    rec[0].agg.n = 2;
    return rec;
}
