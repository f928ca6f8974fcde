/* kube.c — `kiln kube scaffold [APP] [-o DIR]`: Kubernetes manifests for an app served by
 * Kiln's container image (`kiln image build`), written with cli/kube_yaml.h:
 *   deployment.yaml  Deployment: the image, `kiln up` with bounded concurrency, probes on
 *                    the admin listener (/healthz liveness, /readyz readiness), resources
 *                    sized as below, a read-only root file system
 *   service.yaml     Service: port 80 to the container's HTTP port
 *   hpa.yaml         HorizontalPodAutoscaler (autoscaling/v2) on CPU utilisation
 *   configmap.yaml   ConfigMap: the runtime config (key-value stores on Redis, shared by
 *                    every replica) and the non-secret variables' values
 *   spinkube.yaml    SpinKube's container executor: a SpinAppExecutor whose deployment
 *                    image is Kiln's (createDeployment: true, no containerd shim) and a
 *                    SpinApp run by it
 * Secret variables are read from a Secret NAME-secrets the operator creates (only
 * references are written). Sizing, per pod, with C = --concurrency (passed to kiln up as
 * --max-instances, so it is a true bound):
 *   requests.memory = base + C * instance      limits.memory = base + C * max_instance
 * base = --base-memory (Kiln's measured resident size serving an app, docs/kubernetes.md),
 * instance = --instance-memory (an instance's measured working set; with no flag, from
 * `kiln bench`: twice the Kiln row's memory per instance, at least 1 MiB, rounded up to MiB,
 * read from --from-bench FILE or the app's last run in its state dir), max_instance = the
 * largest component max_instance_memory (kiln up's 128M when none is set): Kiln never
 * lets an instance grow past it, so the limit is never hit by guests. */
#include "cli/cli.h"
#include "cli/kube_yaml.h"
#include "cli/up_metrics.h"
#include "manifest/manifest.h"
#include "util/alloc.h"
#include "util/file.h"
#include "util/json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIB (1024ull * 1024ull)

typedef struct kube_opts {
    const char *app, *out_dir, *image, *app_ref, *redis_url, *namespace_;
    unsigned long long base_mem, instance_mem, cpu_milli;
    const char *from_bench; /* --from-bench FILE: kiln bench's JSON (instance memory) */
    int instance_mem_given; /* --instance-memory was given (it wins over a bench run) */
    unsigned long long replicas, max_replicas, cpu_target, concurrency, port, admin_port;
} kube_opts;

static void kube_usage(FILE *f)
{
    fprintf(
        f,
        "usage: kiln kube scaffold [APP] [-o DIR] [--image REF] [--app-ref REF]\n"
        "                          [--replicas N] [--max-replicas N] [--cpu-target PCT]\n"
        "                          [--concurrency N] [--cpu MILLI] [--base-memory SIZE]\n"
        "                          [--instance-memory SIZE | --from-bench FILE]\n"
        "                          [--redis-url URL]\n"
        "                          [--namespace NS] [--port N] [--admin-port N]\n\n"
        "Writes Deployment, Service, HorizontalPodAutoscaler, ConfigMap and SpinKube\n"
        "(SpinAppExecutor + SpinApp) manifests for APP into DIR (default: kube).\n"
        "  --image REF        Kiln's image of the app (`kiln image build`; default NAME:VERSION)\n"
        "  --app-ref REF      the app's OCI artifact for the SpinApp (default: --image)\n"
        "  --concurrency N    instances at once per pod (kiln up --max-instances; default 16)\n"
        "  --base-memory SIZE, --instance-memory SIZE   sizing (defaults 24M, 1M)\n"
        "  --from-bench FILE  instance memory from a `kiln bench` run: twice its measured\n"
        "                     memory per instance, at least 1M (default: the app's last run,\n"
        "                     .kiln/bench.json, when there is one)\n"
        "  --redis-url URL    the Redis of the key-value stores (default redis://redis:6379)\n");
}

/* A Kubernetes name (RFC 1123 label) from the app's name: lower case, [a-z0-9-], at most
 * 63 bytes, no dash at either end; "app" when nothing is left. Allocated. */
static char *k8s_name(const char *s)
{
    char *out = kiln_malloc(64);
    if (!out) return NULL;
    size_t n = 0;
    for (; s && *s && n < 63; s++) {
        char c = *s;
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) c = '-';
        if (c == '-' && (n == 0 || out[n - 1] == '-')) continue;
        out[n++] = c;
    }
    while (n && out[n - 1] == '-')
        n--;
    if (!n)
        memcpy(out, "app", 4);
    else
        out[n] = '\0';
    return out;
}

/* SPIN_VARIABLE_NAME for variable `name` (Kiln's env provider, runtime_config.c). */
static char *var_env(const char *name)
{
    kiln_buf b = KILN_BUF_INIT;
    if (kiln_buf_puts(&b, "SPIN_VARIABLE_") < 0) return NULL;
    for (const char *p = name; *p; p++)
        if (kiln_buf_putc(&b, *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p) < 0) {
            kiln_buf_free(&b);
            return NULL;
        }
    return b.data;
}

/* "48Mi" for a byte count (rounded up to MiB). */
static void mib(char out[32], unsigned long long bytes)
{
    snprintf(out, 32, "%lluMi", (bytes + MIB - 1) / MIB);
}

/* metadata: name, namespace, labels (app.kubernetes.io/name = app). Returns the map. */
static kiln_yaml *metadata(kiln_yaml *doc, const char *name, const char *app, const kube_opts *o,
                           const kiln_manifest *m)
{
    kiln_yaml *md = kiln_yaml_set_map(doc, "metadata");
    kiln_yaml_set_str(md, "name", name);
    if (o->namespace_) kiln_yaml_set_str(md, "namespace", o->namespace_);
    kiln_yaml *l = kiln_yaml_set_map(md, "labels");
    kiln_yaml_set_str(l, "app.kubernetes.io/name", app);
    if (m->version) kiln_yaml_set_str(l, "app.kubernetes.io/version", m->version);
    kiln_yaml_set_str(l, "app.kubernetes.io/managed-by", "kiln");
    return md;
}

static kiln_yaml *doc_head(const char *api, const char *kind)
{
    kiln_yaml *d = kiln_yaml_map();
    kiln_yaml_set_str(d, "apiVersion", api);
    kiln_yaml_set_str(d, "kind", kind);
    return d;
}

/* Whether any component uses a key-value store / SQLite database. */
static int uses(const kiln_manifest *m, int sqlite)
{
    for (size_t i = 0; i < m->components_len; i++)
        if ((sqlite ? m->components[i].sqlite_databases.len
                    : m->components[i].key_value_stores.len))
            return 1;
    return 0;
}

/* s as a TOML basic string ("..." with escapes). */
static int toml_str(kiln_buf *b, const char *s)
{
    int rc = kiln_buf_putc(b, '"');
    for (const char *p = s; rc == 0 && *p; p++)
        rc = (*p == '"' || *p == '\\')                ? kiln_buf_printf(b, "\\%c", *p)
             : (unsigned char)*p < 0x20 || *p == 0x7f ? kiln_buf_printf(b, "\\u%04x", *p)
                                                      : kiln_buf_putc(b, *p);
    return rc == 0 ? kiln_buf_putc(b, '"') : -1;
}

/* Whether label occurs in one of lists[0..i) / items[0..k) of list i before position k. */
static int seen_before(const kiln_manifest *m, int sqlite, size_t i, size_t k, const char *label)
{
    for (size_t j = 0; j <= i; j++) {
        const kiln_strlist *l =
            sqlite ? &m->components[j].sqlite_databases : &m->components[j].key_value_stores;
        for (size_t n = 0; n < (j == i ? k : l->len); n++)
            if (strcmp(l->items[n], label) == 0) return 1;
    }
    return 0;
}

int kiln_kube_runtime_config(kiln_buf *b, const struct kiln_manifest *m, const char *redis_url)
{
    int rc = kiln_buf_puts(b, redis_url ? "# kiln up --runtime-config-file: state shared by "
                                          "every replica\n"
                                        : "");
    for (int sqlite = 0; sqlite < (redis_url ? 1 : 2); sqlite++)
        for (size_t i = 0; rc == 0 && i < m->components_len; i++) {
            const kiln_strlist *l =
                sqlite ? &m->components[i].sqlite_databases : &m->components[i].key_value_stores;
            for (size_t k = 0; rc == 0 && k < l->len; k++) {
                if (seen_before(m, sqlite, i, k, l->items[k])) continue;
                rc = kiln_buf_puts(b, sqlite ? "[sqlite_database." : "[key_value_store.") < 0 ||
                             toml_str(b, l->items[k]) < 0 ||
                             kiln_buf_puts(b, redis_url ? "]\ntype = \"redis\"\nurl = "
                                                        : "]\ntype = \"spin\"\n") < 0 ||
                             (redis_url &&
                              (toml_str(b, redis_url) < 0 || kiln_buf_putc(b, '\n') < 0))
                         ? -1
                         : 0;
            }
        }
    return rc;
}

/* The env entries of the variables: non-secret ones from the ConfigMap, secret ones
 * from NAME-secrets. */
static void variables_env(kiln_yaml *env, const kiln_manifest *m, const char *name)
{
    for (size_t i = 0; i < m->variables_len; i++) {
        const kiln_variable *v = &m->variables[i];
        char *e = var_env(v->name);
        kiln_buf ref = KILN_BUF_INIT;
        kiln_buf_printf(&ref, "%s-%s", name, v->secret ? "secrets" : "config");
        kiln_yaml *item = kiln_yaml_push_map(env);
        kiln_yaml_set_str(item, "name", e);
        kiln_yaml *sel = kiln_yaml_set_map(kiln_yaml_set_map(item, "valueFrom"),
                                           v->secret ? "secretKeyRef" : "configMapKeyRef");
        kiln_yaml_set_str(sel, "name", ref.data);
        kiln_yaml_set_str(sel, "key", v->name);
        /* a variable with a default may be left out of the Secret */
        if (v->secret) kiln_yaml_set(sel, "optional", kiln_yaml_bool(!v->required));
        kiln_free(e);
        kiln_buf_free(&ref);
    }
}

/* Appends the document to file `path`, after a "---" when the file is not new. */
static int write_docs(const char *path, kiln_yaml **docs, size_t n)
{
    kiln_buf b = KILN_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (i && kiln_buf_puts(&b, "---\n") < 0) rc = -1;
        if (rc == 0 && kiln_yaml_emit(docs[i], &b) < 0) rc = -1;
    }
    for (size_t i = 0; i < n; i++)
        kiln_yaml_free(docs[i]);
    if (rc < 0) {
        fprintf(stderr, "error: out of memory writing %s\n", path);
    } else if (kiln_write_file(path, b.data ? b.data : "", b.len) < 0) {
        fprintf(stderr, "error: cannot write %s: %s\n", path, strerror(errno));
        rc = -1;
    } else {
        printf("wrote %s\n", path);
    }
    kiln_buf_free(&b);
    return rc;
}

static kiln_yaml *resources(unsigned long long req_mem, unsigned long long lim_mem,
                            unsigned long long cpu_milli)
{
    char rm[32], lm[32], cpu[32];
    mib(rm, req_mem);
    mib(lm, lim_mem);
    snprintf(cpu, sizeof cpu, "%llum", cpu_milli);
    kiln_yaml *r = kiln_yaml_map();
    kiln_yaml *req = kiln_yaml_set_map(r, "requests");
    kiln_yaml_set_str(req, "cpu", cpu);
    kiln_yaml_set_str(req, "memory", rm);
    kiln_yaml_set_str(kiln_yaml_set_map(r, "limits"), "memory", lm);
    return r;
}

static kiln_yaml *probe(const char *path, const char *port, int period)
{
    kiln_yaml *p = kiln_yaml_map();
    kiln_yaml *g = kiln_yaml_set_map(p, "httpGet");
    kiln_yaml_set_str(g, "path", path);
    kiln_yaml_set_str(g, "port", port);
    kiln_yaml_set_int(p, "periodSeconds", period);
    return p;
}

static int scaffold(const kube_opts *o, const kiln_manifest *m, const char *manifest_rel)
{
    char *name = k8s_name(m->name);
    kiln_buf image = KILN_BUF_INIT, path = KILN_BUF_INIT, rc_toml = KILN_BUF_INIT,
             cfg = KILN_BUF_INIT, mpath = KILN_BUF_INIT, s1 = KILN_BUF_INIT, s2 = KILN_BUF_INIT,
             s3 = KILN_BUF_INIT;
    int rc = -1;
    if (!name) goto oom;
    if (kiln_buf_printf(&image, "%s:%s", name, m->version ? m->version : "latest") < 0 ||
        kiln_buf_printf(&cfg, "%s-config", name) < 0 ||
        kiln_buf_printf(&mpath, "/app/%s", manifest_rel) < 0 ||
        kiln_buf_printf(&s1, "0.0.0.0:%llu", o->port) < 0 ||
        kiln_buf_printf(&s2, "0.0.0.0:%llu", o->admin_port) < 0 ||
        kiln_buf_printf(&s3, "%llu", o->concurrency) < 0 ||
        kiln_kube_runtime_config(&rc_toml, m, o->redis_url) < 0)
        goto oom;
    const char *img = o->image ? o->image : image.data;
    unsigned long long max_inst = 0; /* the largest instance limit; kiln up's default 128M */
    for (size_t i = 0; i < m->components_len; i++) {
        unsigned long long lim = m->components[i].max_instance_memory;
        if (!lim) lim = 128 * MIB;
        if (lim > max_inst) max_inst = lim;
    }
    if (!max_inst) max_inst = 128 * MIB;
    unsigned long long req_mem = o->base_mem + o->concurrency * o->instance_mem;
    unsigned long long lim_mem = o->base_mem + o->concurrency * max_inst;
    if (mkdir(o->out_dir, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "error: cannot create %s: %s\n", o->out_dir, strerror(errno));
        goto out;
    }

    /* deployment.yaml */
    kiln_yaml *dep = doc_head("apps/v1", "Deployment");
    metadata(dep, name, name, o, m);
    kiln_yaml *spec = kiln_yaml_set_map(dep, "spec");
    kiln_yaml_set_int(spec, "replicas", (long long)o->replicas);
    kiln_yaml_set_str(kiln_yaml_set_map(kiln_yaml_set_map(spec, "selector"), "matchLabels"),
                      "app.kubernetes.io/name", name);
    kiln_yaml *tmpl = kiln_yaml_set_map(spec, "template");
    kiln_yaml_set_str(kiln_yaml_set_map(kiln_yaml_set_map(tmpl, "metadata"), "labels"),
                      "app.kubernetes.io/name", name);
    kiln_yaml *pod = kiln_yaml_set_map(tmpl, "spec");
    kiln_yaml_set_int(pod, "terminationGracePeriodSeconds", 30);
    kiln_yaml *c = kiln_yaml_push_map(kiln_yaml_set_seq(pod, "containers"));
    kiln_yaml_set_str(c, "name", "kiln");
    kiln_yaml_set_str(c, "image", img);
    kiln_yaml *args = kiln_yaml_set_seq(c, "args");
    const char *argv[] = {"up",
                          "-f",
                          mpath.data,
                          "--listen",
                          s1.data,
                          "--admin",
                          s2.data,
                          "--admin-public",
                          "--max-instances",
                          s3.data,
                          "--runtime-config-file",
                          "/etc/kiln/runtime-config.toml",
                          "--state-dir",
                          ""};
    for (size_t i = 0; i < sizeof argv / sizeof argv[0]; i++)
        kiln_yaml_push(args, kiln_yaml_str(argv[i]));
    kiln_yaml *ports = kiln_yaml_set_seq(c, "ports");
    kiln_yaml *p = kiln_yaml_push_map(ports);
    kiln_yaml_set_str(p, "name", "http");
    kiln_yaml_set_int(p, "containerPort", (long long)o->port);
    p = kiln_yaml_push_map(ports);
    kiln_yaml_set_str(p, "name", "admin");
    kiln_yaml_set_int(p, "containerPort", (long long)o->admin_port);
    if (m->variables_len) variables_env(kiln_yaml_set_seq(c, "env"), m, name);
    kiln_yaml_set(c, "livenessProbe", probe("/healthz", "admin", 10));
    kiln_yaml_set(c, "readinessProbe", probe("/readyz", "admin", 2));
    kiln_yaml_set(c, "resources", resources(req_mem, lim_mem, o->cpu_milli));
    kiln_yaml *sc = kiln_yaml_set_map(c, "securityContext");
    kiln_yaml_set(sc, "readOnlyRootFilesystem", kiln_yaml_bool(1));
    kiln_yaml_set(sc, "allowPrivilegeEscalation", kiln_yaml_bool(0));
    kiln_yaml *vm = kiln_yaml_set_seq(c, "volumeMounts");
    kiln_yaml *v = kiln_yaml_push_map(vm);
    kiln_yaml_set_str(v, "name", "runtime-config");
    kiln_yaml_set_str(v, "mountPath", "/etc/kiln");
    kiln_yaml_set(v, "readOnly", kiln_yaml_bool(1));
    v = kiln_yaml_push_map(vm);
    kiln_yaml_set_str(v, "name", "tmp");
    kiln_yaml_set_str(v, "mountPath", "/tmp");
    kiln_yaml *vols = kiln_yaml_set_seq(pod, "volumes");
    v = kiln_yaml_push_map(vols);
    kiln_yaml_set_str(v, "name", "runtime-config");
    kiln_yaml *cmv = kiln_yaml_set_map(v, "configMap");
    kiln_yaml_set_str(cmv, "name", cfg.data);
    kiln_yaml *it = kiln_yaml_push_map(kiln_yaml_set_seq(cmv, "items"));
    kiln_yaml_set_str(it, "key", "runtime-config.toml");
    kiln_yaml_set_str(it, "path", "runtime-config.toml");
    v = kiln_yaml_push_map(vols);
    kiln_yaml_set_str(v, "name", "tmp");
    kiln_yaml_set_map(v, "emptyDir");

    /* service.yaml */
    kiln_yaml *svc = doc_head("v1", "Service");
    metadata(svc, name, name, o, m);
    kiln_yaml *ss = kiln_yaml_set_map(svc, "spec");
    kiln_yaml_set_str(kiln_yaml_set_map(ss, "selector"), "app.kubernetes.io/name", name);
    p = kiln_yaml_push_map(kiln_yaml_set_seq(ss, "ports"));
    kiln_yaml_set_str(p, "name", "http");
    kiln_yaml_set_int(p, "port", 80);
    kiln_yaml_set_str(p, "targetPort", "http");

    /* hpa.yaml */
    kiln_yaml *hpa = doc_head("autoscaling/v2", "HorizontalPodAutoscaler");
    metadata(hpa, name, name, o, m);
    kiln_yaml *hs = kiln_yaml_set_map(hpa, "spec");
    kiln_yaml *ref = kiln_yaml_set_map(hs, "scaleTargetRef");
    kiln_yaml_set_str(ref, "apiVersion", "apps/v1");
    kiln_yaml_set_str(ref, "kind", "Deployment");
    kiln_yaml_set_str(ref, "name", name);
    kiln_yaml_set_int(hs, "minReplicas", (long long)o->replicas);
    kiln_yaml_set_int(hs, "maxReplicas", (long long)o->max_replicas);
    kiln_yaml *met = kiln_yaml_push_map(kiln_yaml_set_seq(hs, "metrics"));
    kiln_yaml_set_str(met, "type", "Resource");
    kiln_yaml *res = kiln_yaml_set_map(met, "resource");
    kiln_yaml_set_str(res, "name", "cpu");
    kiln_yaml *tgt = kiln_yaml_set_map(res, "target");
    kiln_yaml_set_str(tgt, "type", "Utilization");
    kiln_yaml_set_int(tgt, "averageUtilization", (long long)o->cpu_target);

    /* configmap.yaml */
    kiln_yaml *cm = doc_head("v1", "ConfigMap");
    metadata(cm, cfg.data, name, o, m);
    kiln_yaml *data = kiln_yaml_set_map(cm, "data");
    kiln_yaml_set_str(data, "runtime-config.toml", rc_toml.data);
    for (size_t i = 0; i < m->variables_len; i++)
        if (!m->variables[i].secret)
            kiln_yaml_set_str(data, m->variables[i].name,
                              m->variables[i].default_value ? m->variables[i].default_value : "");

    /* spinkube.yaml: the executor, then the app */
    kiln_yaml *ex = doc_head("core.spinkube.dev/v1alpha1", "SpinAppExecutor");
    metadata(ex, "kiln", "kiln", o, m);
    kiln_yaml *es = kiln_yaml_set_map(ex, "spec");
    kiln_yaml_set(es, "createDeployment", kiln_yaml_bool(1));
    kiln_yaml *dc = kiln_yaml_set_map(es, "deploymentConfig");
    kiln_yaml_set_str(dc, "spinImage", img);
    kiln_yaml_set(dc, "installDefaultCACerts", kiln_yaml_bool(1));
    kiln_yaml *sa = doc_head("core.spinkube.dev/v1alpha1", "SpinApp");
    metadata(sa, name, name, o, m);
    kiln_yaml *sas = kiln_yaml_set_map(sa, "spec");
    kiln_yaml_set_str(sas, "image", o->app_ref ? o->app_ref : img);
    kiln_yaml_set_str(sas, "executor", "kiln");
    kiln_yaml_set_int(sas, "replicas", (long long)o->replicas);
    kiln_yaml_set(sas, "resources", resources(req_mem, lim_mem, o->cpu_milli));
    kiln_yaml *checks = kiln_yaml_set_map(sas, "checks");
    kiln_yaml_set_str(kiln_yaml_set_map(kiln_yaml_set_map(checks, "liveness"), "httpGet"), "path",
                      "/.well-known/spin/health");
    kiln_yaml_set_str(kiln_yaml_set_map(kiln_yaml_set_map(checks, "readiness"), "httpGet"), "path",
                      "/.well-known/spin/health");
    if (m->variables_len) {
        kiln_yaml *vars = kiln_yaml_set_seq(sas, "variables");
        for (size_t i = 0; i < m->variables_len; i++) {
            const kiln_variable *var = &m->variables[i];
            kiln_yaml *e = kiln_yaml_push_map(vars);
            kiln_yaml_set_str(e, "name", var->name);
            kiln_buf r = KILN_BUF_INIT;
            kiln_buf_printf(&r, "%s-%s", name, var->secret ? "secrets" : "config");
            kiln_yaml *sel = kiln_yaml_set_map(kiln_yaml_set_map(e, "valueFrom"),
                                               var->secret ? "secretKeyRef" : "configMapKeyRef");
            kiln_yaml_set_str(sel, "name", r.data);
            kiln_yaml_set_str(sel, "key", var->name);
            if (var->secret) kiln_yaml_set(sel, "optional", kiln_yaml_bool(!var->required));
            kiln_buf_free(&r);
        }
    }
    if (uses(m, 0)) {
        kiln_yaml *kvs =
            kiln_yaml_set_seq(kiln_yaml_set_map(sas, "runtimeConfig"), "keyValueStores");
        kiln_strlist done = {NULL, 0};
        for (size_t i = 0; i < m->components_len; i++)
            for (size_t k = 0; k < m->components[i].key_value_stores.len; k++) {
                const char *label = m->components[i].key_value_stores.items[k];
                int dup = 0;
                for (size_t d = 0; d < done.len; d++)
                    dup |= strcmp(done.items[d], label) == 0;
                char **ni = dup ? NULL : kiln_realloc(done.items, (done.len + 1) * sizeof *ni);
                if (dup) continue;
                if (!ni) {
                    kiln_yaml_push(kvs, NULL); /* breaks the tree: emit refuses it */
                    continue;
                }
                done.items = ni;
                done.items[done.len++] = (char *)label;
                kiln_yaml *s = kiln_yaml_push_map(kvs);
                kiln_yaml_set_str(s, "name", label);
                kiln_yaml_set_str(s, "type", "redis");
                kiln_yaml *opt = kiln_yaml_push_map(kiln_yaml_set_seq(s, "options"));
                kiln_yaml_set_str(opt, "name", "url");
                kiln_yaml_set_str(opt, "value", o->redis_url);
            }
        kiln_free(done.items);
    }

    rc = 0;
    struct {
        const char *file;
        kiln_yaml *docs[2];
        size_t n;
    } files[] = {{"deployment.yaml", {dep}, 1},
                 {"service.yaml", {svc}, 1},
                 {"hpa.yaml", {hpa}, 1},
                 {"configmap.yaml", {cm}, 1},
                 {"spinkube.yaml", {ex, sa}, 2}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        kiln_buf_reset(&path);
        if (kiln_buf_printf(&path, "%s/%s", o->out_dir, files[i].file) < 0 ||
            write_docs(path.data, files[i].docs, files[i].n) < 0)
            rc = -1;
        if (!path.data) /* path could not be built: the documents are still ours */
            for (size_t k = 0; k < files[i].n; k++)
                kiln_yaml_free(files[i].docs[k]);
    }
    if (rc == 0) {
        char rm[32], lm[32];
        mib(rm, req_mem);
        mib(lm, lim_mem);
        printf("sizing per pod: memory request %s = %lluMi + %llu x %lluMi, limit %s = %lluMi + "
               "%llu x %lluMi (largest max_instance_memory)\n",
               rm, o->base_mem / MIB, o->concurrency, o->instance_mem / MIB, lm, o->base_mem / MIB,
               o->concurrency, max_inst / MIB);
        if (uses(m, 1))
            fprintf(stderr, "warning: SQLite databases are files inside each pod, not shared "
                            "between replicas: serve them from one replica or move the data\n");
    }
    goto out;
oom:
    fprintf(stderr, "error: out of memory\n");
out:
    kiln_free(name);
    kiln_buf_free(&image);
    kiln_buf_free(&path);
    kiln_buf_free(&rc_toml);
    kiln_buf_free(&cfg);
    kiln_buf_free(&mpath);
    kiln_buf_free(&s1);
    kiln_buf_free(&s2);
    kiln_buf_free(&s3);
    return rc;
}

/* Parses a positive integer flag value within [1, max]. */
static int parse_num(const char *flag, const char *s, unsigned long long max,
                     unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || errno || v == 0 || v > max) {
        fprintf(stderr, "error: %s wants a number 1-%llu, not '%s'\n", flag, max, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* Sizes o->instance_mem from a `kiln bench` run: o->from_bench, else the app's last run
 * (bench.json in the state dir beside manifest_path; none there is no error: the default
 * stays). The Kiln row's mem_per_instance_kib, doubled for headroom, at least 1 MiB,
 * rounded up to MiB. 0, or -1 after saying why (an unreadable or malformed file named). */
static int size_from_bench(kube_opts *o, const char *manifest_path)
{
    char *dflt = NULL;
    const char *path = o->from_bench;
    if (!path) {
        char *dir = kiln_strdup(manifest_path);
        if (!dir) return -1;
        char *slash = strrchr(dir, '/');
        if (slash) *slash = '\0';
        dflt = kiln_up_bench_path(slash ? dir : ".", NULL);
        kiln_free(dir);
        if (!dflt || access(dflt, R_OK) < 0) {
            kiln_free(dflt);
            return 0;
        }
        path = dflt;
    }
    kiln_buf b = KILN_BUF_INIT;
    kiln_json *j = NULL;
    double kib = -1;
    if (kiln_read_file(path, &b) == 0 && (j = kiln_json_parse(b.data, b.len, NULL, 0))) {
        const kiln_json *rows = kiln_json_get(j, "rows");
        for (size_t i = 0; rows && i < rows->count; i++) {
            const kiln_json *r = kiln_json_at(rows, i),
                            *v = kiln_json_get(r, "mem_per_instance_kib");
            const char *name = kiln_json_get_str(r, "name");
            if (name && strcmp(name, "Kiln") == 0 && v && v->type == KILN_JSON_NUMBER)
                kib = v->number;
        }
    }
    int rc = 0;
    if (!(kib > 0 && kib < 1e9)) {
        fprintf(stderr,
                "error: %s: not a `kiln bench` result with Kiln's memory per instance (run kiln "
                "bench, or give --instance-memory)\n",
                path);
        rc = -1;
    } else {
        unsigned long long bytes = (unsigned long long)(2 * kib * 1024);
        if (bytes < MIB) bytes = MIB;
        o->instance_mem = (bytes + MIB - 1) / MIB * MIB;
        printf("instance memory from kiln bench (%s): %.0f KiB measured, sized at %lluMi\n", path,
               kib, o->instance_mem / MIB);
    }
    kiln_json_free(j);
    kiln_buf_free(&b);
    kiln_free(dflt);
    return rc;
}

static int kube_scaffold(int argc, char **argv)
{
    kube_opts o = {.out_dir = "kube",
                   .redis_url = "redis://redis:6379",
                   .base_mem = 24 * MIB,
                   .instance_mem = 1 * MIB,
                   .cpu_milli = 250,
                   .replicas = 2,
                   .max_replicas = 10,
                   .cpu_target = 70,
                   .concurrency = 16,
                   .port = 3000,
                   .admin_port = 9090};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
#define STR_FLAG(f, dst)                                                                           \
    if (strcmp(a, f) == 0 && val) {                                                                \
        dst = val, i++;                                                                            \
        continue;                                                                                  \
    }
#define NUM_FLAG(f, dst, max)                                                                      \
    if (strcmp(a, f) == 0 && val) {                                                                \
        if (parse_num(f, val, max, &dst) < 0) return 2;                                            \
        i++;                                                                                       \
        continue;                                                                                  \
    }
#define SIZE_FLAG(f, dst)                                                                          \
    if (strcmp(a, f) == 0 && val) {                                                                \
        if (kiln_parse_size(val, &dst) < 0 || dst == 0 || dst > (1ull << 40)) {                    \
            fprintf(stderr, "error: %s wants a size such as 16M, not '%s'\n", f, val);             \
            return 2;                                                                              \
        }                                                                                          \
        i++;                                                                                       \
        continue;                                                                                  \
    }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            kube_usage(stdout);
            return 0;
        }
        STR_FLAG("-o", o.out_dir)
        STR_FLAG("--image", o.image)
        STR_FLAG("--app-ref", o.app_ref)
        STR_FLAG("--redis-url", o.redis_url)
        STR_FLAG("--namespace", o.namespace_)
        NUM_FLAG("--replicas", o.replicas, 1000)
        NUM_FLAG("--max-replicas", o.max_replicas, 10000)
        NUM_FLAG("--cpu-target", o.cpu_target, 100)
        NUM_FLAG("--concurrency", o.concurrency, 100000)
        NUM_FLAG("--cpu", o.cpu_milli, 1000000)
        NUM_FLAG("--port", o.port, 65535)
        NUM_FLAG("--admin-port", o.admin_port, 65535)
        SIZE_FLAG("--base-memory", o.base_mem)
        STR_FLAG("--from-bench", o.from_bench)
        if (strcmp(a, "--instance-memory") == 0) o.instance_mem_given = 1;
        SIZE_FLAG("--instance-memory", o.instance_mem)
#undef STR_FLAG
#undef NUM_FLAG
#undef SIZE_FLAG
        if (a[0] != '-' && !o.app) {
            o.app = a;
            continue;
        }
        fprintf(stderr, "error: unknown or incomplete option '%s'\n", a);
        kube_usage(stderr);
        return 2;
    }
    if (o.max_replicas < o.replicas) {
        fprintf(stderr, "error: --max-replicas (%llu) is below --replicas (%llu)\n", o.max_replicas,
                o.replicas);
        return 2;
    }
    char *manifest_path = NULL, *ferr = NULL;
    if (kiln_manifest_find(o.app, &manifest_path, &ferr) < 0) {
        fprintf(stderr, "error: %s\n", ferr ? ferr : "out of memory");
        kiln_free(ferr);
        return 1;
    }
    if (!o.instance_mem_given && size_from_bench(&o, manifest_path) < 0) {
        kiln_free(manifest_path);
        return 1;
    }
    kiln_diags diags = KILN_DIAGS_INIT;
    kiln_manifest *m = kiln_manifest_load(manifest_path, &diags);
    for (size_t i = 0; i < diags.len; i++)
        fprintf(stderr, "%s\n", diags.items[i].message);
    kiln_diags_free(&diags);
    int rc = 1;
    if (m) {
        const char *base = strrchr(manifest_path, '/');
        rc = scaffold(&o, m, base ? base + 1 : manifest_path) == 0 ? 0 : 1;
        kiln_manifest_free(m);
    }
    kiln_free(manifest_path);
    return rc;
}

int kiln_cmd_kube(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "scaffold") == 0) return kube_scaffold(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        kube_usage(stdout);
        return 0;
    }
    kube_usage(stderr);
    return 2;
}
