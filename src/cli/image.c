/* image.c — `kiln image build [APP] [-o DIR] [--oci-archive FILE]`: a container image of
 * Kiln serving one application, written as an OCI image layout (dist/image.h) without a
 * container daemon.
 *
 * The image holds two layers:
 *   runtime  /usr/local/bin/kiln, every shared library `ldd` names for it (and for the
 *            compiled modules), the system CA bundle, /tmp and the cache directory
 *   app      /app/...: the manifest, each component's source and the files it mounts
 *            (their paths relative to the manifest's directory), plus /var/cache/kiln:
 *            every component precompiled by this same kiln binary on both tiers
 * Kiln compiles Wasm with wasm2c and a C compiler; the image carries neither. The compiled
 * modules are keyed by the module bytes, the tier and the versions of the compilers
 * (engine/cache.c), so the binary in the image finds them and never compiles (the image's
 * $KILN_CC_ID carries the builder's `cc --version`, part of the opt tier's key): the image
 * stays small (no wasm2c, libc headers, tcc runtime or gcc) and starts at once.
 * With --toolchain the runtime layer also carries the fast tier's toolchain (wasm2c,
 * wasm-rt.h, libc headers and crt files, tcc's runtime; listed by dpkg), so modules the
 * image was not built with compile inside it (docs/kubernetes.md has the sizes).
 * Entrypoint is kiln itself and Cmd `up -f /app/MANIFEST --listen 0.0.0.0:PORT --admin
 * 0.0.0.0:ADMIN --admin-public`, so an orchestrator may replace the arguments (SpinKube's
 * container executor passes `up --listen ... -f ...`). StopSignal is SIGTERM, on which
 * `kiln up` drains and exits 0.
 *
 * With --app-ref REF the image references the app instead of containing it: no app layer,
 * Cmd `up -f REF ...` pulls REF from its registry when the container starts. The app is
 * unknown when the image is built, so nothing is precompiled: the toolchain comes along
 * (--toolchain implied) and the modules compile inside on the fast tier (--no-tier-up).
 * The pulled app and the compiled modules go to KILN_CACHE_DIR=/tmp/kiln-cache, writable
 * with a read-only root filesystem when /tmp is a volume (kube scaffold's emptyDir). */
#include "cli/cli.h"
#include "dist/image.h"
#include "engine/compiler.h"
#include "engine/engine.h"
#include "exec/trigger/trigger.h"
#include "host/registry.h"
#include "host/spin/app.h"
#include "manifest/manifest.h"
#include "util/alloc.h"
#include "util/file.h"
#include "util/proc.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IMAGE_CACHE "var/cache/kiln"

static void image_usage(FILE *f)
{
    fprintf(f,
            "usage: kiln image build [APP] [-o DIR] [--oci-archive FILE] [--tag TAG]\n"
            "                        [--port N] [--admin-port N] [--toolchain]\n"
            "       kiln image build --app-ref REF [-k] [-o DIR] [OPTIONS]\n\n"
            "Writes an OCI image of kiln serving APP (a manifest or its directory; default\n"
            "the current directory) with its components precompiled: no compiler inside.\n"
            "  -o DIR              the OCI image layout (default: APP-NAME-image)\n"
            "  --app-ref REF       no app inside: the container runs `kiln up -f REF`, pulling\n"
            "                      the app from its registry at start (implies --toolchain)\n"
            "  -k, --insecure      with --app-ref: the registry is on loopback, plain HTTP\n"
            "  --toolchain         carry wasm2c and the fast tier's C toolchain\n"
            "  --oci-archive FILE  also pack the layout into one tar (oci-archive:FILE)\n"
            "  --tag TAG           the tag in index.json (default: the app's version)\n"
            "  --port N            the HTTP port of the container (default 3000)\n"
            "  --admin-port N      the admin port: /healthz, /readyz, /metrics (default 9090)\n");
}

typedef struct strset {
    char **v;
    size_t n;
} strset;

/* Adds s unless present. 0 or -1 (out of memory). */
static int strset_add(strset *s, const char *p, size_t n)
{
    for (size_t i = 0; i < s->n; i++)
        if (strlen(s->v[i]) == n && memcmp(s->v[i], p, n) == 0) return 0;
    char **nv = kiln_realloc(s->v, (s->n + 1) * sizeof *nv);
    if (!nv) return -1;
    s->v = nv;
    if (!(nv[s->n] = kiln_strndup(p, n))) return -1;
    s->n++;
    return 0;
}

static void strset_free(strset *s)
{
    for (size_t i = 0; i < s->n; i++)
        kiln_free(s->v[i]);
    kiln_free(s->v);
}

/* Adds the absolute paths `ldd file` names (libraries and the dynamic loader). 0 or -1
 * (printed). */
static int ldd_libs(const char *file, strset *libs)
{
    const char *argv[] = {"ldd", file, NULL};
    kiln_buf out = KILN_BUF_INIT;
    int st = kiln_proc_run(argv, &out, 0);
    if (st != 0) {
        fprintf(stderr, "error: ldd %s failed: %s\n", file, out.data ? out.data : "");
        kiln_buf_free(&out);
        return -1;
    }
    int rc = 0;
    for (char *line = out.data; line && *line;) {
        char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        /* "\tlibx.so.1 => /lib/.../libx.so.1 (0x...)" or "\t/lib64/ld-linux... (0x...)" */
        char *arrow = memmem(line, n, "=> ", 3);
        char *p = arrow ? arrow + 3 : line;
        while (p < line + n && (*p == ' ' || *p == '\t'))
            p++;
        if (p < line + n && *p == '/') {
            char *q = p;
            while (q < line + n && *q != ' ')
                q++;
            if (strset_add(libs, p, (size_t)(q - p)) < 0) rc = -1;
        } else if (memmem(line, n, "not found", 9)) {
            fprintf(stderr, "error: ldd %s: %.*s\n", file, (int)n, line);
            rc = -1;
        }
        line = end ? end + 1 : NULL;
    }
    kiln_buf_free(&out);
    return rc;
}

/* Adds the absolute paths a GNU ld script names (libc.so, libm.so are scripts: GROUP (
 * /lib/.../libc.so.6 ... )), so that tcc can follow them inside the image. */
static int ld_script_paths(const char *file, strset *files)
{
    kiln_buf text = KILN_BUF_INIT;
    struct stat st;
    int rc = 0;
    if (stat(file, &st) < 0 || st.st_size > 4096 || kiln_read_file(file, &text) < 0 || !text.data ||
        !strstr(text.data, "GNU ld script")) {
        kiln_buf_free(&text);
        return 0;
    }
    for (char *p = text.data; rc == 0 && (p = strchr(p, '/'));) {
        if (p[1] == '*') { /* a comment */
            char *end = strstr(p + 2, "*/");
            if (!end) break;
            p = end + 2;
            continue;
        }
        size_t n = strcspn(p, " \t\n()");
        char *q = kiln_strndup(p, n);
        if (!q)
            rc = -1;
        else if (n > 1 && access(q, R_OK) == 0)
            rc = strset_add(files, q, n);
        kiln_free(q);
        p += n;
    }
    kiln_buf_free(&text);
    return rc;
}

/* The fast tier's toolchain, as files at their own paths: wasm2c and its libraries,
 * wasm-rt.h, the libc and kernel headers and the crt files and linker scripts
 * (libc6-dev, linux-libc-dev; static archives left out but libc_nonshared.a), and tcc's
 * runtime (libtcc1.a, its headers). Read from dpkg. 0 or -1 (printed). */
static int toolchain_files(strset *files)
{
    const char *argv[] = {"dpkg", "-L", "libc6-dev", "linux-libc-dev", "tcc", "wabt", NULL};
    kiln_buf out = KILN_BUF_INIT;
    if (kiln_proc_run(argv, &out, 0) != 0) {
        fprintf(stderr,
                "error: dpkg -L of the toolchain failed (Debian's libc6-dev, "
                "linux-libc-dev, tcc and wabt are needed): %s\n",
                out.data ? out.data : "");
        kiln_buf_free(&out);
        return -1;
    }
    int rc = 0;
    for (char *line = out.data; rc == 0 && line && *line;) {
        char *end = strchr(line, '\n');
        if (end) *end = '\0';
        size_t n = strlen(line);
        struct stat st;
        int keep = stat(line, &st) == 0 && S_ISREG(st.st_mode) && !strstr(line, "/share/") &&
                   !strstr(line, "/src/") && strncmp(line, "/usr/include/wabt/", 18) != 0;
        if (keep && strncmp(line, "/usr/bin/", 9) == 0) keep = strcmp(line, "/usr/bin/wasm2c") == 0;
        if (keep && n > 2 && strcmp(line + n - 2, ".a") == 0)
            keep = strstr(line, "/libc_nonshared.a") || strstr(line, "/tcc/libtcc1.a");
        if (keep && strstr(line, "/tcc/") && strstr(line, "i386")) keep = 0;
        if (keep) rc = strset_add(files, line, n) < 0 || ld_script_paths(line, files) < 0 ? -1 : 0;
        line = end ? end + 1 : NULL;
    }
    kiln_buf_free(&out);
    return rc < 0 ? -1 : ldd_libs("/usr/bin/wasm2c", files);
}

/* The path of p relative to dir (p inside dir), or NULL. */
static const char *rel_to(const char *dir, const char *p)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    if (strncmp(p, dir, n) != 0 || p[n] != '/') return NULL;
    return p + n + 1;
}

/* "app/REL" with "." and ".." segments resolved lexically, as `kiln up` inside the image
 * resolves "/app/" + REL (the image has no symlinks there); NULL when it climbs above the
 * image's root or memory runs out. Allocated. */
static char *image_app_path(const char *rel)
{
    kiln_buf b = KILN_BUF_INIT;
    if (kiln_buf_puts(&b, "app") < 0) return NULL;
    for (const char *s = rel; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 2 && s[0] == '.' && s[1] == '.') {
            char *slash = b.len ? memrchr(b.data, '/', b.len) : NULL;
            if (!b.len) {
                kiln_buf_free(&b);
                return NULL;
            }
            b.len = slash ? (size_t)(slash - b.data) : 0;
            b.data[b.len] = '\0';
        } else if (n && !(n == 1 && s[0] == '.')) {
            if ((b.len && kiln_buf_putc(&b, '/') < 0) || kiln_buf_append(&b, s, n) < 0) {
                kiln_buf_free(&b);
                return NULL;
            }
        }
        s += n + (e ? 1 : 0);
    }
    if (!b.len) {
        kiln_buf_free(&b);
        return NULL;
    }
    return b.data;
}

/* Adds host file or directory `src` (inside the app directory) under app/, directories
 * recursively (symlinks followed, at most 64 levels deep: a symlink loop is an error). */
static int add_app_path(kiln_tar *t, const char *appdir, const char *src, int depth, kiln_buf *err)
{
    if (depth > 64) {
        kiln_buf_printf(err, "%s: directories nested too deep (a symlink loop?)", src);
        return -1;
    }
    const char *rel = rel_to(appdir, src);
    char *dst = rel ? image_app_path(rel) : NULL;
    if (!dst) {
        kiln_buf_printf(err,
                        "%s is outside the application directory %s (the image holds that "
                        "directory at /app, and what it reaches through '..' within /)",
                        src, appdir);
        return -1;
    }
    struct stat st;
    int rc = -1;
    if (stat(src, &st) < 0) {
        kiln_buf_printf(err, "cannot read %s: %s", src, strerror(errno));
    } else if (!S_ISDIR(st.st_mode)) {
        rc = kiln_tar_add_host_file(t, dst, src, err);
    } else {
        struct dirent **names = NULL; /* sorted: reproducible layers */
        int n = scandir(src, &names, NULL, alphasort);
        if (n < 0) {
            kiln_buf_printf(err, "cannot read %s: %s", src, strerror(errno));
        } else {
            rc = kiln_tar_add(t, KILN_TAR_DIR, dst, 0755, NULL, 0, NULL, err);
            for (int i = 0; i < n; i++) {
                const char *name = names[i]->d_name;
                if (rc == 0 && strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
                    kiln_buf sub = KILN_BUF_INIT;
                    rc = kiln_buf_printf(&sub, "%s/%s", src, name) < 0
                             ? -1
                             : add_app_path(t, appdir, sub.data, depth + 1, err);
                    kiln_buf_free(&sub);
                }
                free(names[i]);
            }
            free(names);
        }
    }
    kiln_free(dst);
    return rc;
}

/* Compiles every component into cache_dir on both tiers, in this process, as `kiln up`
 * would load it: the Spin host APIs installed first (a component importing them links
 * only then), each component with its own memory-checks variant. The Spin app is made
 * with placeholders (every required variable empty, every store and database label in
 * memory, from a runtime config written to tmp_dir): only the linking needs it. 0 or -1
 * (printed). */
static int precompile(const kiln_manifest *m, const char *cache_dir, const char *tmp_dir)
{
    kiln_buf rc_toml = KILN_BUF_INIT, rc_path = KILN_BUF_INIT;
    strset vars = {NULL, 0};
    kiln_spin_app *spin = NULL;
    char *err = NULL;
    int rc = -1;
    for (size_t i = 0; i < m->variables_len; i++) {
        kiln_buf v = KILN_BUF_INIT;
        int r = kiln_buf_printf(&v, "%s=", m->variables[i].name) < 0 ||
                        strset_add(&vars, v.data, v.len) < 0
                    ? -1
                    : 0;
        kiln_buf_free(&v);
        if (r < 0) goto oom;
    }
    if (kiln_kube_runtime_config(&rc_toml, m, NULL) < 0) goto oom;
    if (kiln_buf_printf(&rc_path, "%s/runtime-config.toml", tmp_dir) < 0) goto oom;
    if (kiln_write_file(rc_path.data, rc_toml.data ? rc_toml.data : "", rc_toml.len) < 0) {
        fprintf(stderr, "error: cannot write %s: %s\n", rc_path.data, strerror(errno));
        goto out;
    }
    kiln_spin_options so = {"", rc_path.data, (const char *const *)vars.v, vars.n, NULL, 0, NULL,
                            0,  NULL};
    spin = kiln_spin_app_new(m, &so, &err);
    if (!spin || kiln_spin_app_install(spin) < 0 || kiln_rt_init() < 0 ||
        kiln_triggers_register_types() < 0) {
        fprintf(stderr, "error: cannot set up the hosts to link the components: %s\n",
                err ? err : "out of memory");
        goto out;
    }
    for (size_t i = 0; i < m->components_len; i++) {
        const kiln_component *c = &m->components[i];
        if (!c->source) continue;
        for (int k = 0; k < 2; k++) {
            kiln_compile_opts o = {.tier = k ? KILN_TIER_OPT : KILN_TIER_FAST,
                                   .cache_dir = cache_dir};
            if (c->memory_checks)
                o.memory_checks =
                    c->memory_checks == 2 ? KILN_MEM_CHECKS_BOUNDS : KILN_MEM_CHECKS_GUARD;
            if (kiln_cli_is_component_file(c->source)) { /* prints its own line */
                if (kiln_compile_component(c->source, &o) != 0) goto out;
                continue;
            }
            kiln_err e;
            kiln_module *mod = kiln_module_load_file(c->source, &o, kiln_hosts_linker(), &e);
            if (!mod) {
                fprintf(stderr, "error: precompiling component %s (%s tier): %s\n", c->id,
                        k ? "opt" : "fast", e.msg);
                goto out;
            }
            kiln_module_free(mod);
        }
    }
    rc = 0;
    goto out;
oom:
    fprintf(stderr, "error: out of memory\n");
out:
    if (spin) kiln_spin_app_free(spin);
    kiln_free(err);
    if (rc_path.data) unlink(rc_path.data);
    kiln_buf_free(&rc_toml);
    kiln_buf_free(&rc_path);
    strset_free(&vars);
    return rc;
}

/* The app layer: the manifest, sources, mounted files, and the precompiled cache (whose
 * modules' libraries are added to libs). */
static int app_layer(kiln_tar *t, const kiln_manifest *m, const char *manifest_path,
                     const char *cache_dir, strset *libs, kiln_buf *err)
{
    if (add_app_path(t, m->dir, manifest_path, 0, err) < 0) return -1;
    for (size_t i = 0; i < m->components_len; i++) {
        const kiln_component *c = &m->components[i];
        if (c->source && add_app_path(t, m->dir, c->source, 0, err) < 0) return -1;
        kiln_mount *mounts = NULL;
        size_t n = 0;
        char *merr = NULL;
        if (kiln_component_mounts(m, c, &mounts, &n, &merr) < 0) {
            kiln_buf_printf(err, "component %s: %s", c->id, merr ? merr : "out of memory");
            kiln_free(merr);
            return -1;
        }
        int rc = 0;
        for (size_t k = 0; rc == 0 && k < n; k++)
            rc = add_app_path(t, m->dir, mounts[k].host_path, 0, err);
        kiln_mounts_free(mounts, n);
        if (rc < 0) return -1;
    }
    /* sorted: the same app gives the same layer, whatever the directory order */
    struct dirent **names = NULL;
    int n = scandir(cache_dir, &names, NULL, alphasort);
    if (n < 0) {
        kiln_buf_printf(err, "cannot read %s: %s", cache_dir, strerror(errno));
        return -1;
    }
    int rc = kiln_tar_add(t, KILN_TAR_DIR, IMAGE_CACHE, 0755, NULL, 0, NULL, err);
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        size_t len = strlen(name);
        if (rc == 0 && len >= 4 && strcmp(name + len - 3, ".so") == 0) {
            kiln_buf src = KILN_BUF_INIT, dst = KILN_BUF_INIT;
            if (kiln_buf_printf(&src, "%s/%s", cache_dir, name) < 0 ||
                kiln_buf_printf(&dst, IMAGE_CACHE "/%s", name) < 0)
                rc = -1;
            else if (kiln_tar_add_host_file(t, dst.data, src.data, err) < 0 ||
                     ldd_libs(src.data, libs) < 0)
                rc = -1;
            kiln_buf_free(&src);
            kiln_buf_free(&dst);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

/* The runtime layer: kiln, its libraries, CA certificates, /tmp, the cache directory. */
static int runtime_layer(kiln_tar *t, const char *self, const strset *libs, kiln_buf *err)
{
    static const char ca[] = "/etc/ssl/certs/ca-certificates.crt";
    if (kiln_tar_add_host_file(t, "usr/local/bin/kiln", self, err) < 0) return -1;
    for (size_t i = 0; i < libs->n; i++)
        if (kiln_tar_add_host_file(t, libs->v[i], libs->v[i], err) < 0) return -1;
    if (access(ca, R_OK) == 0 && kiln_tar_add_host_file(t, ca, ca, err) < 0) return -1;
    static const char passwd[] = "root:x:0:0:root:/root:/usr/sbin/nologin\n";
    if (kiln_tar_add(t, KILN_TAR_FILE, "etc/passwd", 0644, passwd, sizeof passwd - 1, NULL, err) <
            0 ||
        kiln_tar_add(t, KILN_TAR_DIR, "tmp", 01777, NULL, 0, NULL, err) < 0 ||
        kiln_tar_add(t, KILN_TAR_DIR, IMAGE_CACHE, 0755, NULL, 0, NULL, err) < 0)
        return -1;
    return kiln_tar_finish(t) < 0 ? (kiln_buf_puts(err, "out of memory"), -1) : 0;
}

/* Removes the files of a flat directory and the directory. */
static void rm_flat(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        for (struct dirent *e; (e = readdir(d));) {
            if (e->d_name[0] == '.') continue;
            kiln_buf p = KILN_BUF_INIT;
            if (kiln_buf_printf(&p, "%s/%s", dir, e->d_name) == 0) unlink(p.data);
            kiln_buf_free(&p);
        }
        closedir(d);
    }
    rmdir(dir);
}

static int parse_port(const char *s, const char *flag, unsigned *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || v == 0 || v > 65535) {
        fprintf(stderr, "error: %s wants a port number 1-65535, not '%s'\n", flag, s);
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

static int image_write(const kiln_manifest *m, const char *manifest_path, const char *app_ref,
                       int insecure, const char *out_dir, const char *archive, const char *tag,
                       unsigned port, unsigned admin_port, int toolchain);

static int image_build(int argc, char **argv)
{
    const char *app = NULL, *out_dir = NULL, *archive = NULL, *tag = NULL, *app_ref = NULL;
    unsigned port = 3000, admin_port = 9090;
    int toolchain = 0, insecure = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            image_usage(stdout);
            return 0;
        } else if (strcmp(a, "-o") == 0 && val) {
            out_dir = val, i++;
        } else if (strcmp(a, "--oci-archive") == 0 && val) {
            archive = val, i++;
        } else if (strcmp(a, "--toolchain") == 0) {
            toolchain = 1;
        } else if (strcmp(a, "--app-ref") == 0 && val) {
            app_ref = val, i++;
        } else if (strcmp(a, "-k") == 0 || strcmp(a, "--insecure") == 0) {
            insecure = 1;
        } else if (strcmp(a, "--tag") == 0 && val) {
            tag = val, i++;
        } else if ((strcmp(a, "--port") == 0 || strcmp(a, "--admin-port") == 0) && val) {
            if (parse_port(val, a, strcmp(a, "--port") == 0 ? &port : &admin_port) < 0) return 2;
            i++;
        } else if (a[0] != '-' && !app) {
            app = a;
        } else {
            fprintf(stderr, "error: unknown or incomplete option '%s'\n", a);
            image_usage(stderr);
            return 2;
        }
    }
    if (app_ref) {
        kiln_oci_ref ref;
        const char *why = NULL;
        if (app) {
            fprintf(stderr, "error: --app-ref takes no APP: the container pulls the app from "
                            "the registry when it starts\n");
            return 2;
        }
        if (!kiln_oci_ref_looks_like(app_ref) || kiln_oci_ref_parse(app_ref, &ref, &why) < 0) {
            fprintf(stderr,
                    "error: --app-ref %s: not a registry reference HOST[:PORT]/REPO[:TAG][@DIGEST] "
                    "(%s)\n",
                    app_ref, why ? why : "`kiln up -f` would read it as a path: name the host");
            return 2;
        }
        kiln_oci_ref_free(&ref);
        toolchain = 1;
        return image_write(NULL, NULL, app_ref, insecure, out_dir, archive, tag, port, admin_port,
                           toolchain);
    } else if (insecure) {
        fprintf(stderr, "error: -k/--insecure goes with --app-ref\n");
        return 2;
    }
    char *manifest_path = NULL, *ferr = NULL;
    if (kiln_manifest_find(app, &manifest_path, &ferr) < 0) {
        fprintf(stderr, "error: %s\n", ferr ? ferr : "out of memory");
        kiln_free(ferr);
        return 1;
    }
    char *abs_path = realpath(manifest_path, NULL); /* the layer wants it under m->dir */
    if (abs_path) {
        kiln_free(manifest_path);
        manifest_path = kiln_strdup(abs_path);
        free(abs_path);
    }
    if (!manifest_path) {
        fprintf(stderr, "error: out of memory\n");
        return 1;
    }
    kiln_diags diags = KILN_DIAGS_INIT;
    kiln_manifest *m = kiln_manifest_load(manifest_path, &diags);
    for (size_t i = 0; i < diags.len; i++)
        fprintf(stderr, "%s\n", diags.items[i].message);
    kiln_diags_free(&diags);
    if (!m) {
        kiln_free(manifest_path);
        return 1;
    }
    int rc =
        image_write(m, manifest_path, NULL, 0, out_dir, archive, tag, port, admin_port, toolchain);
    kiln_manifest_free(m);
    kiln_free(manifest_path);
    return rc;
}

/* Builds the image of app m (loaded from manifest_path), or, with m NULL, the image whose
 * command pulls app_ref (see the top of the file). Returns the exit status. */
static int image_write(const kiln_manifest *m, const char *manifest_path, const char *app_ref,
                       int insecure, const char *out_dir, const char *archive, const char *tag,
                       unsigned port, unsigned admin_port, int toolchain)
{
    int rc = 1;
    char self[PATH_MAX], cache_dir[] = "/tmp/kiln-image.XXXXXX";
    int have_cache = 0;
    ssize_t sn = readlink("/proc/self/exe", self, sizeof self - 1);
    kiln_tar runtime = KILN_TAR_INIT, appl = KILN_TAR_INIT;
    strset libs = {NULL, 0};
    kiln_buf err = KILN_BUF_INIT, dflt = KILN_BUF_INIT, cmd_listen = KILN_BUF_INIT,
             cmd_admin = KILN_BUF_INIT, cmd_manifest = KILN_BUF_INIT, p1 = KILN_BUF_INIT,
             p2 = KILN_BUF_INIT, l1 = KILN_BUF_INIT, l2 = KILN_BUF_INIT, ccid = KILN_BUF_INIT;
    if (sn < 0) {
        fprintf(stderr, "error: cannot find the kiln binary: %s\n", strerror(errno));
        goto out;
    }
    self[sn] = '\0';
    if (!mkdtemp(cache_dir)) {
        fprintf(stderr, "error: cannot create a temporary directory: %s\n", strerror(errno));
        goto out;
    }
    have_cache = 1;
    if (m) fprintf(stderr, "precompiling %zu component(s) on both tiers...\n", m->components_len);
    if ((m && precompile(m, cache_dir, cache_dir) < 0) || ldd_libs(self, &libs) < 0 ||
        (toolchain && toolchain_files(&libs) < 0))
        goto out;
    if ((m && (app_layer(&appl, m, manifest_path, cache_dir, &libs, &err) < 0 ||
               kiln_tar_finish(&appl) < 0)) ||
        runtime_layer(&runtime, self, &libs, &err) < 0) {
        fprintf(stderr, "error: %s\n", err.data ? err.data : "out of memory");
        goto out;
    }
    const char *mrel = m ? rel_to(m->dir, manifest_path) : NULL;
    const char *title = m ? (m->name ? m->name : "app") : app_ref;
    if (!out_dir) {
        /* NAME-image in the current directory, whatever characters the name holds */
        if (kiln_buf_printf(&dflt, "%s-image", m && m->name && *m->name ? m->name : "app") < 0)
            goto oom;
        for (size_t i = 0; i + 6 < dflt.len; i++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
                        dflt.data[i]) ||
                (i == 0 && dflt.data[i] == '.'))
                dflt.data[i] = '-';
        out_dir = dflt.data;
    }
    if ((m ? kiln_buf_printf(&cmd_manifest, "/app/%s", mrel ? mrel : "kiln.toml")
           : kiln_buf_puts(&cmd_manifest, app_ref)) < 0 ||
        kiln_buf_printf(&cmd_listen, "0.0.0.0:%u", port) < 0 ||
        kiln_buf_printf(&cmd_admin, "0.0.0.0:%u", admin_port) < 0 ||
        kiln_buf_printf(&p1, "%u/tcp", port) < 0 ||
        kiln_buf_printf(&p2, "%u/tcp", admin_port) < 0 ||
        kiln_buf_printf(&l1, "org.opencontainers.image.title=%s", title) < 0 ||
        kiln_buf_printf(&l2, "org.opencontainers.image.version=%s",
                        m && m->version ? m->version : "") < 0 ||
        kiln_buf_printf(&ccid, "KILN_CC_ID=%s", kiln_compiler_identity(KILN_TIER_OPT)) < 0)
        goto oom;
    const char *entry[] = {"/usr/local/bin/kiln", NULL};
    /* with the toolchain but no cc, tier-up of a module compiled inside would only fail */
    const char *cmd[] = {"up",
                         "-f",
                         cmd_manifest.data,
                         "--listen",
                         cmd_listen.data,
                         "--admin",
                         cmd_admin.data,
                         "--admin-public",
                         toolchain ? "--no-tier-up" : NULL,
                         NULL,
                         NULL};
    if (insecure) cmd[toolchain ? 9 : 8] = "-k";
    /* an app pulled at start is written where a read-only root still lets it go */
    const char *env[] = {"PATH=/usr/local/bin:/usr/bin:/bin",
                         m ? "KILN_CACHE_DIR=/" IMAGE_CACHE : "KILN_CACHE_DIR=/tmp/kiln-cache",
                         "HOME=/tmp", ccid.data, NULL};
    const char *ports[] = {p1.data, p2.data, NULL};
    const char *labels[] = {l1.data, l2.data, NULL};
    kiln_image_config cfg = {.entrypoint = entry,
                             .cmd = cmd,
                             .env = env,
                             .ports = ports,
                             .labels = labels,
                             .workdir = "/app",
                             .stop_signal = "SIGTERM"};
    kiln_image_layer layers[] = {{&runtime.out, "kiln image build: kiln and its libraries"},
                                 {&appl.out, "kiln image build: the app, precompiled"}};
    char digest[KILN_DIGEST_LEN + 1];
    if (kiln_image_write_layout(out_dir, &cfg, layers, m ? 2 : 1,
                                tag ? tag : (m && m->version ? m->version : "latest"), digest,
                                &err) < 0 ||
        (archive && kiln_image_write_archive(out_dir, archive, &err) < 0)) {
        fprintf(stderr, "error: %s\n", err.data ? err.data : "out of memory");
        goto out;
    }
    if (m)
        printf("%s: OCI image layout, manifest %s (kiln %zu libraries, app + cache %zu bytes "
               "uncompressed)\n",
               out_dir, digest, libs.n, appl.out.len);
    else
        printf("%s: OCI image layout, manifest %s (kiln %zu files; the app is pulled from %s "
               "at start)\n",
               out_dir, digest, libs.n, app_ref);
    if (archive) printf("%s: oci-archive of the same image\n", archive);
    rc = 0;
    goto out;
oom:
    fprintf(stderr, "error: out of memory\n");
out:
    if (have_cache) rm_flat(cache_dir);
    kiln_tar_free(&runtime);
    kiln_tar_free(&appl);
    strset_free(&libs);
    kiln_buf_free(&err);
    kiln_buf_free(&dflt);
    kiln_buf_free(&cmd_listen);
    kiln_buf_free(&cmd_admin);
    kiln_buf_free(&cmd_manifest);
    kiln_buf_free(&p1);
    kiln_buf_free(&p2);
    kiln_buf_free(&l1);
    kiln_buf_free(&l2);
    kiln_buf_free(&ccid);
    return rc;
}

int kiln_cmd_image(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "build") == 0) return image_build(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        image_usage(stdout);
        return 0;
    }
    image_usage(stderr);
    return 2;
}
