/* manifest_v1.c — a version-1 Spin manifest (`spin_manifest_version = "1"`, or the older
 * `spin_version = "1"`) read into the same model as version 2, converted the way Spin
 * converts it:
 *
 *   name, version, description, authors   -> [application]
 *   trigger = { type = "http", base = "/x" } -> one trigger type for the whole app; HTTP's
 *                                           `base` becomes [application.trigger.http] base
 *                                           (joined in front of every route by kiln up);
 *                                           another type's settings (redis `address`) are
 *                                           kept as [application.trigger.TYPE]
 *   [variables]                             -> [variables]
 *   [[component]] id = "x"                  -> [component.x]; an id with '_' or capitals
 *                                           becomes kebab-case ("my_Comp" -> "my-comp")
 *   [component.trigger] route, executor     -> [[trigger.TYPE]] id = "trigger-ID"
 *   config = { k = "{{ v }}" }              -> the component's `variables`
 *   allowed_http_hosts                      -> allowed_outbound_hosts http:// and https://;
 *                                           without allowed_outbound_hosts the component
 *                                           may also reach any redis/mysql/postgres host,
 *                                           as version-1 components could
 *   files, exclude_files, environment, build, key_value_stores, sqlite_databases,
 *   ai_models                               -> the same keys
 * Unknown keys are errors (Spin's v1 schema denies them too). */
#include "manifest/manifest_internal.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const char *const v1_top_keys[] = {"spin_manifest_version",
                                          "spin_version",
                                          "name",
                                          "version",
                                          "description",
                                          "authors",
                                          "trigger",
                                          "variables",
                                          "component",
                                          NULL};

/* Spin's fix-up of a version-1 component id: '_' to '-', lowercase. Allocated. */
static char *kebab_id(const char *id)
{
    char *s = kiln_strdup(id);
    if (!s) return NULL;
    for (char *p = s; *p; p++)
        *p = *p == '_' ? '-' : (char)tolower((unsigned char)*p);
    return s;
}

/* Reads the app-wide `trigger = { type = ..., ... }`; returns its type (borrowed from the
 * tree) or NULL after an error. */
static const char *load_app_trigger(loader *L, const kiln_toml_value *root)
{
    kiln_manifest *m = L->m;
    const kiln_toml_value *trig = kiln_toml_get(root, "trigger");
    if (!trig) {
        man_error(L, 1, 1,
                  "a version-1 manifest needs `trigger = { type = \"http\", base = \"/\" }`");
        return NULL;
    }
    if (trig->type != KILN_TOML_TABLE) {
        man_error(L, trig->line, trig->col,
                  "`trigger` must be a table like { type = \"http\", base = \"/\" }, not %s",
                  man_a_type(trig));
        return NULL;
    }
    const kiln_toml_value *type = kiln_toml_get(trig, "type");
    if (!type || type->type != KILN_TOML_STRING) {
        man_error(L, type ? type->line : trig->line, type ? type->col : trig->col,
                  "`trigger` needs a `type` string (\"http\", \"redis\", ...)");
        return NULL;
    }
    if (strcmp(type->u.str.ptr, "http") != 0) {
        /* the type's settings, as [application.trigger.TYPE] */
        kiln_toml_entry e = {(char *)type->u.str.ptr, type->u.str.len, trig->line, trig->col,
                             (kiln_toml_value *)trig};
        man_load_trigger_settings(L, &e);
        /* `type` itself is not a setting */
        kiln_trigger_settings *s = &m->trigger_settings[m->trigger_settings_len - 1];
        for (size_t i = 0; m->trigger_settings_len && i < s->settings.len; i++) {
            if (strcmp(s->settings.items[i].key, "type") != 0) continue;
            kiln_free(s->settings.items[i].key);
            kiln_free(s->settings.items[i].value);
            memmove(&s->settings.items[i], &s->settings.items[i + 1],
                    (s->settings.len - i - 1) * sizeof s->settings.items[i]);
            s->settings.len--;
            break;
        }
        return type->u.str.ptr;
    }
    static const char *const http_keys[] = {"type", "base", NULL};
    man_check_keys(L, trig, http_keys, "an http `trigger`");
    char *base = NULL;
    man_get_string(L, trig, "base", "`trigger`", &base);
    if (base && base[0] != '/') {
        const kiln_toml_value *bv = kiln_toml_get(trig, "base");
        man_error(L, bv->line, bv->col, "base \"%s\" must start with '/'", base);
    }
    if (base) {
        kiln_free(m->base);
        m->base = base;
    }
    return "http";
}

/* Adds the trigger of one version-1 component (its [component.trigger] table). */
static void load_component_trigger(loader *L, const char *type, const kiln_toml_value *ct, long idx,
                                   const char *id)
{
    kiln_manifest *m = L->m;
    kiln_buf tid = KILN_BUF_INIT;
    if (kiln_buf_printf(&tid, "trigger-%s", id) < 0) {
        man_oom(L);
        return;
    }
    if (strcmp(type, "http") == 0) {
        kiln_trigger *t = man_add_http_trigger(L, ct, idx, tid.data);
        if (t) {
            t->line = ct->line;
            t->col = ct->col;
        }
        kiln_buf_free(&tid);
        return;
    }
    kiln_other_trigger *n =
        kiln_realloc(m->other_triggers, (m->other_triggers_len + 1) * sizeof *n);
    if (!n) {
        kiln_buf_free(&tid);
        man_oom(L);
        return;
    }
    m->other_triggers = n;
    kiln_other_trigger *t = &m->other_triggers[m->other_triggers_len++];
    memset(t, 0, sizeof *t);
    t->type = kiln_strdup(type);
    t->id = kiln_buf_steal(&tid);
    t->component = idx;
    t->line = ct->line;
    t->col = ct->col;
    if (!t->type || !t->id) {
        man_oom(L);
        return;
    }
    /* the component trigger's settings (redis `channel`), scalars as text */
    for (size_t i = 0; i < kiln_toml_table_len(ct); i++) {
        const kiln_toml_entry *e = kiln_toml_table_at(ct, i);
        if (e->value->type != KILN_TOML_STRING) continue;
        kiln_kv *items =
            kiln_realloc(t->settings.items, (t->settings.len + 1) * sizeof *t->settings.items);
        if (!items) {
            man_oom(L);
            return;
        }
        t->settings.items = items;
        items[t->settings.len].key = kiln_strdup(e->key);
        items[t->settings.len].value = kiln_strdup(e->value->u.str.ptr);
        t->settings.len++;
        if (!items[t->settings.len - 1].key || !items[t->settings.len - 1].value) {
            man_oom(L);
            return;
        }
    }
}

void man_load_v1(loader *L, const kiln_toml_value *root)
{
    kiln_manifest *m = L->m;
    man_check_keys(L, root, v1_top_keys, "a version-1 manifest");
    man_get_string(L, root, "name", "the manifest", &m->name);
    if (!kiln_toml_get(root, "name")) man_error(L, 1, 1, "a version-1 manifest needs a `name`");
    man_get_string(L, root, "version", "the manifest", &m->version);
    man_get_string(L, root, "description", "the manifest", &m->description);
    man_get_strlist(L, root, "authors", "the manifest", 0, &m->authors);
    const char *type = load_app_trigger(L, root);
    man_load_variables(L, root);
    const kiln_toml_value *comps = kiln_toml_get(root, "component");
    if (!comps) return;
    if (comps->type != KILN_TOML_ARRAY) {
        man_error(L, comps->line, comps->col,
                  "in a version-1 manifest, components are an array of tables ([[component]]), "
                  "not %s",
                  man_a_type(comps));
        return;
    }
    for (size_t i = 0; i < kiln_toml_array_len(comps) && !L->oom; i++) {
        const kiln_toml_value *t = kiln_toml_array_at(comps, i);
        if (t->type != KILN_TOML_TABLE) {
            man_error(L, t->line, t->col, "each [[component]] must be a table, not %s",
                      man_a_type(t));
            continue;
        }
        const kiln_toml_value *idv = kiln_toml_get(t, "id");
        if (!idv || idv->type != KILN_TOML_STRING) {
            man_error(L, idv ? idv->line : t->line, idv ? idv->col : t->col,
                      "[[component]] needs an `id` string");
            continue;
        }
        char *id = kebab_id(idv->u.str.ptr);
        if (!id) {
            man_oom(L);
            return;
        }
        if (!man_is_kebab(id))
            man_error(L, idv->line, idv->col,
                      "component id `%s` cannot be made kebab-case (letters and digits "
                      "separated by '-', '_' or capitals)",
                      idv->u.str.ptr);
        else if (kiln_manifest_component(m, id))
            man_error(L, idv->line, idv->col, "component id `%s` is used twice", id);
        long idx = man_load_component(L, id, t, t->line, t->col, 1);
        const kiln_toml_value *ct = kiln_toml_get(t, "trigger");
        if (idx < 0) {
            kiln_free(id);
            continue;
        }
        if (!ct || ct->type != KILN_TOML_TABLE)
            man_error(L, ct ? ct->line : t->line, ct ? ct->col : t->col,
                      "component `%s` needs a [component.trigger] table (e.g. route = \"/...\")",
                      id);
        else if (type)
            load_component_trigger(L, type, ct, idx, id);
        kiln_free(id);
    }
}
