/* trigger.c — starting and stopping the Redis and cron triggers (trigger.h). */
#include "exec/trigger/internal.h"
#include "manifest/manifest.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* The value of a trigger setting, else of [application.trigger.TYPE], else NULL. */
static const char *setting(const kiln_manifest *m, const kiln_other_trigger *ot, const char *key)
{
    for (size_t i = 0; i < ot->settings.len; i++)
        if (strcmp(ot->settings.items[i].key, key) == 0) return ot->settings.items[i].value;
    for (size_t i = 0; i < m->trigger_settings_len; i++) {
        const kiln_trigger_settings *s = &m->trigger_settings[i];
        if (strcmp(s->type, ot->type) != 0) continue;
        for (size_t k = 0; k < s->settings.len; k++)
            if (strcmp(s->settings.items[k].key, key) == 0) return s->settings.items[k].value;
    }
    return NULL;
}

/* Fills t from the manifest's trigger ot. 0, or -1 with the reason on stderr. */
static int target_init(const kiln_triggers_config *cfg, const kiln_other_trigger *ot,
                       trig_target *t)
{
    const kiln_manifest *m = cfg->manifest;
    t->id = ot->id;
    t->kind = strcmp(ot->type, "redis") == 0 ? TRIG_REDIS : TRIG_CRON;
    if (ot->component < 0 || (size_t)ot->component >= m->components_len) {
        fprintf(stderr, "error: trigger %s: no component to run\n", ot->id);
        return -1;
    }
    const char *comp = m->components[ot->component].id;
    if (t->kind == TRIG_REDIS) {
        const char *addr = setting(m, ot, "address"), *chan = setting(m, ot, "channel");
        if (!addr) {
            fprintf(stderr,
                    "error: trigger %s: no Redis address (set [application.trigger.redis] "
                    "address = \"redis://HOST:PORT\", or `address` on the trigger)\n",
                    ot->id);
            return -1;
        }
        if (!chan || !*chan) {
            fprintf(stderr, "error: trigger %s: [[trigger.redis]] needs a `channel`\n", ot->id);
            return -1;
        }
        if (!(t->address = kiln_strdup(addr)) || !(t->channel = kiln_strdup(chan))) return -1;
        char **vals[] = {&t->address, &t->channel};
        if (trig_render_settings(cfg, vals, 2) < 0) return -1;
        if (!trig_redis_address_ok(t->address)) {
            fprintf(stderr,
                    "error: trigger %s: bad Redis address \"%s\" (want "
                    "redis://[user][:password@]host[:port][/db])\n",
                    ot->id, addr);
            return -1;
        }
    } else {
        const char *expr = setting(m, ot, "cron_expression"), *err = NULL;
        if (!expr) {
            fprintf(stderr, "error: trigger %s: [[trigger.cron]] needs a `cron_expression`\n",
                    ot->id);
            return -1;
        }
        if (!(t->expr = kiln_strdup(expr))) return -1;
        char **vals[] = {&t->expr};
        if (trig_render_settings(cfg, vals, 1) < 0) return -1;
        if (kiln_cron_parse(t->expr, &t->cron, &err) < 0) {
            fprintf(stderr, "error: trigger %s: cron_expression \"%s\": %s\n", ot->id, t->expr,
                    err);
            return -1;
        }
        t->next = kiln_cron_next(&t->cron, (int64_t)time(NULL));
        if (t->next < 0)
            fprintf(stderr, "warning: trigger %s: cron_expression \"%s\" never fires\n", ot->id,
                    t->expr);
    }
    if (!(t->c = cfg->load(cfg->load_ctx, (size_t)ot->component))) return -1;
    if (!(t->func = trig_find_export(t->c, t->kind, &t->err_shape))) {
        fprintf(stderr,
                "error: trigger %s: component %s does not export %s with the handler's "
                "type\n",
                ot->id, comp,
                t->kind == TRIG_REDIS ? "fermyon:spin/inbound-redis (handle-message)"
                                      : "handle-cron-event (fermyon:spin-cron@2.0.0)");
        return -1;
    }
    return 0;
}

static void triggers_free(kiln_triggers *T)
{
    for (size_t i = 0; i < T->ntargets; i++) {
        trig_target *t = &T->targets[i];
        kiln_free(t->func);
        kiln_free(t->address);
        kiln_free(t->channel);
        kiln_free(t->expr);
    }
    kiln_free(T->targets);
    pthread_cond_destroy(&T->cond);
    pthread_mutex_destroy(&T->mu);
    kiln_free(T);
}

int kiln_triggers_start(const kiln_triggers_config *cfg, kiln_triggers **out)
{
    const kiln_manifest *m = cfg->manifest;
    *out = NULL;
    size_t n = 0;
    for (size_t i = 0; i < m->other_triggers_len; i++)
        if (kiln_trigger_type_served(m->other_triggers[i].type)) n++;
    if (!n) return 0;
    kiln_triggers *T = kiln_calloc(1, sizeof *T);
    if (!T) return -1;
    if (pthread_mutex_init(&T->mu, NULL) != 0) {
        kiln_free(T);
        return -1;
    }
    if (pthread_cond_init(&T->cond, NULL) != 0) {
        pthread_mutex_destroy(&T->mu);
        kiln_free(T);
        return -1;
    }
    T->slots = cfg->slots;
    T->executor = cfg->executor;
    T->quiet = cfg->quiet;
    T->observer = cfg->observer;
    atomic_init(&T->stopping, 0);
    if (!(T->targets = kiln_calloc(n, sizeof *T->targets))) {
        triggers_free(T);
        return -1;
    }
    int has_cron = 0;
    for (size_t i = 0; i < m->other_triggers_len; i++) {
        const kiln_other_trigger *ot = &m->other_triggers[i];
        if (!kiln_trigger_type_served(ot->type)) continue;
        trig_target *t = &T->targets[T->ntargets++];
        t->owner = T;
        if (target_init(cfg, ot, t) < 0) {
            triggers_free(T);
            return -1;
        }
        if (T->observer) { /* "redis:CHANNEL" / "cron:EXPR" */
            kiln_buf name = KILN_BUF_INIT;
            if (kiln_buf_printf(&name, "%s:%s", ot->type,
                                t->kind == TRIG_REDIS ? t->channel : t->expr) == 0)
                t->metrics_ix =
                    T->observer->add(T->observer->ctx, name.data, (size_t)ot->component, t->c->id);
            kiln_buf_free(&name);
        }
        if (t->kind == TRIG_CRON) {
            has_cron = 1;
            fprintf(stderr, "kiln: trigger %s: component %s on the schedule \"%s\" (UTC)\n", t->id,
                    t->c->id, t->expr);
        } else {
            fprintf(stderr, "kiln: trigger %s: component %s on Redis channel %s\n", t->id, t->c->id,
                    t->channel);
        }
    }
    for (size_t i = 0; i < T->ntargets; i++) {
        trig_target *t = &T->targets[i];
        if (t->kind != TRIG_REDIS) continue;
        if (pthread_create(&t->thread, NULL, trig_redis_main, t) != 0) {
            fprintf(stderr, "error: trigger %s: cannot start its thread\n", t->id);
            kiln_triggers_stop(T);
            return -1;
        }
        t->started = 1;
    }
    if (has_cron) {
        if (pthread_create(&T->cron_thread, NULL, trig_cron_main, T) != 0) {
            fprintf(stderr, "error: cannot start the cron thread\n");
            kiln_triggers_stop(T);
            return -1;
        }
        T->cron_started = 1;
    }
    *out = T;
    return 0;
}

size_t kiln_triggers_count(const kiln_triggers *T)
{
    return T ? T->ntargets : 0;
}

void kiln_triggers_stop(kiln_triggers *T)
{
    if (!T) return;
    pthread_mutex_lock(&T->mu);
    atomic_store(&T->stopping, 1);
    pthread_cond_broadcast(&T->cond);
    pthread_mutex_unlock(&T->mu);
    /* no new events: the subscriptions and the schedule end first */
    for (size_t i = 0; i < T->ntargets; i++)
        if (T->targets[i].started) pthread_join(T->targets[i].thread, NULL);
    if (T->cron_started) pthread_join(T->cron_thread, NULL);
    /* then the handlers queued or running finish */
    pthread_mutex_lock(&T->mu);
    while (T->inflight)
        pthread_cond_wait(&T->cond, &T->mu);
    pthread_mutex_unlock(&T->mu);
    triggers_free(T);
}
