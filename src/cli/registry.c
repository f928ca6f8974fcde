/* registry.c — `kiln registry login | logout | push | pull`: apps to and from OCI
 * registries in Spin's layout (dist/oci.h), and the pull behind `kiln up --from REF`.
 *
 * Credentials come from the credentials file (dist/auth.h) that `login` writes after the
 * registry accepted them; without an entry requests are anonymous. `--insecure` talks
 * plain HTTP to a loopback registry; `--ca FILE` (or SSL_CERT_FILE) replaces the system
 * CAs. Pulled apps are cached by manifest digest under the cache directory
 * ($KILN_CACHE_DIR, $XDG_CACHE_HOME/kiln or ~/.cache/kiln)/oci. */
#include "cli/cli.h"
#include "dist/auth.h"
#include "dist/oci.h"
#include "dist/registry.h"
#include "engine/engine.h"
#include "manifest/manifest.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: kiln registry login -u USER (--password-stdin | -p PASSWORD) [OPTIONS] "
        "REGISTRY\n"
        "       kiln registry logout REGISTRY\n"
        "       kiln registry push [-f DIR|FILE] [--archive] [--chunk-size BYTES]\n"
        "                          [--mount-from REPO] [OPTIONS] REGISTRY/REPO:TAG\n"
        "       kiln registry pull [--cache-dir DIR] [OPTIONS] REGISTRY/REPO[:TAG][@sha256:...]\n"
        "Apps move in Spin's OCI layout (`spin registry push/pull` read and write the same).\n"
        "options:\n"
        "  -k, --insecure      plain HTTP (only to a registry on loopback)\n"
        "      --ca FILE       trust the CAs of this PEM file instead of the system's\n"
        "                      (SSL_CERT_FILE does the same)\n"
        "push: -f the manifest or its directory (default: the current directory);\n"
        "      --archive one gzipped tar layer per component for its files (Spin's mode\n"
        "      for many files; also SPIN_OCI_ARCHIVE_LAYERS or past 500 layers);\n"
        "      --chunk-size upload in PATCH chunks of this size (default: one PUT);\n"
        "      --mount-from mount blobs the registry has in REPO instead of uploading\n"
        "pull: prints the directory of the pulled app (cached by manifest digest)\n");
}

typedef struct common_opts {
    int insecure;
    const char *ca;
} common_opts;

/* Takes -k/--insecure and --ca; 1 when argv[*i] was one of them, -1 on a missing value. */
static int common_arg(int argc, char **argv, int *i, common_opts *o)
{
    if (strcmp(argv[*i], "-k") == 0 || strcmp(argv[*i], "--insecure") == 0) {
        o->insecure = 1;
        return 1;
    }
    if (strcmp(argv[*i], "--ca") == 0) {
        if (*i + 1 >= argc) return -1;
        o->ca = argv[++*i];
        return 1;
    }
    return 0;
}

/* Parses ref and opens a client with the stored credentials of its registry. */
static kiln_registry *open_registry(const char *s, kiln_oci_ref *ref, const common_opts *c,
                                    kiln_registry_opts *ro, char **user, char **pass)
{
    const char *why;
    char *err = NULL;
    *user = *pass = NULL;
    if (kiln_oci_ref_parse(s, ref, &why) < 0) {
        fprintf(stderr, "error: %s: not a registry reference: %s\n", s, why);
        return NULL;
    }
    if (kiln_creds_get(ref->registry, user, pass, &err) < 0) {
        fprintf(stderr, "error: %s\n", err ? err : "out of memory");
        kiln_free(err);
        kiln_oci_ref_free(ref);
        return NULL;
    }
    ro->insecure = c->insecure;
    ro->ca_file = c->ca;
    ro->user = *user;
    ro->password = *pass;
    kiln_registry *r = kiln_registry_new(ref, ro, &err);
    if (!r) {
        fprintf(stderr, "error: %s\n", err ? err : "out of memory");
        kiln_free(err);
        kiln_oci_ref_free(ref);
    }
    return r;
}

static void free_secret(char *s)
{
    if (s) memset(s, 0, strlen(s));
    kiln_free(s);
}

/* A password from stdin: the first line, without its newline. NULL on failure. */
static char *read_password_stdin(void)
{
    kiln_buf b = KILN_BUF_INIT;
    int c;
    while ((c = getchar()) != EOF && c != '\n')
        if (c != '\r' && kiln_buf_putc(&b, (char)c) < 0) {
            kiln_buf_free(&b);
            return NULL;
        }
    return kiln_buf_steal(&b);
}

static int cmd_login(int argc, char **argv)
{
    common_opts c = {0};
    const char *user = NULL, *server = NULL;
    char *password = NULL;
    int from_stdin = 0;
    for (int i = 0; i < argc; i++) {
        int k = common_arg(argc, argv, &i, &c);
        if (k < 0) goto usage;
        if (k) continue;
        if ((strcmp(argv[i], "-u") == 0 || strcmp(argv[i], "--username") == 0) && i + 1 < argc)
            user = argv[++i];
        else if ((strcmp(argv[i], "-p") == 0 || strcmp(argv[i], "--password") == 0) && i + 1 < argc)
            password = kiln_strdup(argv[++i]);
        else if (strcmp(argv[i], "--password-stdin") == 0)
            from_stdin = 1;
        else if (argv[i][0] != '-' && !server)
            server = argv[i];
        else
            goto usage;
    }
    if (!server || !user) goto usage;
    if (from_stdin) {
        kiln_free(password);
        password = read_password_stdin();
    }
    if (!password) {
        fprintf(stderr, "error: give the password with --password-stdin or -p\n");
        return 2;
    }
    /* the registry checks the credentials on a request that needs them: GET /v2/ */
    kiln_buf s = KILN_BUF_INIT;
    if (kiln_buf_printf(&s, "%s/login-check", server) < 0) {
        free_secret(password);
        return 1;
    }
    kiln_oci_ref ref;
    const char *why;
    char *err = NULL;
    int rc = 1;
    if (kiln_oci_ref_parse(s.data, &ref, &why) < 0 || strchr(server, '/')) {
        fprintf(stderr, "error: %s: not a registry host[:port]\n", server);
        kiln_buf_free(&s);
        free_secret(password);
        return 2;
    }
    kiln_registry_opts ro = {.insecure = c.insecure,
                             .ca_file = c.ca,
                             .user = user,
                             .password = password,
                             .registry_only = 1};
    kiln_registry *r = kiln_registry_new(&ref, &ro, &err);
    if (!r || kiln_registry_ping(r, &err) < 0) {
        fprintf(stderr, "error: cannot log in to %s as %s: %s\n", server, user,
                err ? err : "out of memory");
    } else if (kiln_creds_put(ref.registry, user, password, &err) < 0) {
        fprintf(stderr, "error: %s\n", err ? err : "out of memory");
    } else {
        char *path = kiln_creds_path();
        printf("logged in to %s as %s (credentials in %s)\n", ref.registry, user,
               path ? path : "?");
        kiln_free(path);
        rc = 0;
    }
    kiln_free(err);
    kiln_registry_free(r);
    kiln_oci_ref_free(&ref);
    kiln_buf_free(&s);
    free_secret(password);
    return rc;
usage:
    usage(stderr);
    free_secret(password);
    return 2;
}

static int cmd_logout(int argc, char **argv)
{
    if (argc != 1 || argv[0][0] == '-') {
        usage(stderr);
        return 2;
    }
    char *err = NULL;
    if (kiln_creds_put(argv[0], NULL, NULL, &err) < 0) {
        fprintf(stderr, "error: %s\n", err ? err : "out of memory");
        kiln_free(err);
        return 1;
    }
    printf("removed the credentials of %s\n", argv[0]);
    return 0;
}

static int cmd_push(int argc, char **argv)
{
    common_opts c = {0};
    const char *from = NULL, *target = NULL, *mount_from = NULL;
    int archive = 0;
    unsigned long long chunk = 0;
    for (int i = 0; i < argc; i++) {
        int k = common_arg(argc, argv, &i, &c);
        if (k < 0) goto usage;
        if (k) continue;
        if ((strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--from") == 0) && i + 1 < argc) {
            from = argv[++i];
        } else if (strcmp(argv[i], "--archive") == 0) {
            archive = 1;
        } else if (strcmp(argv[i], "--chunk-size") == 0 && i + 1 < argc) {
            char *end;
            chunk = strtoull(argv[++i], &end, 10);
            if (*end || chunk == 0 || chunk > (1ull << 30)) {
                fprintf(stderr, "error: --chunk-size %s: expected 1 to 1073741824 bytes\n",
                        argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "--mount-from") == 0 && i + 1 < argc) {
            mount_from = argv[++i];
        } else if (argv[i][0] != '-' && !target) {
            target = argv[i];
        } else {
            goto usage;
        }
    }
    if (!target) goto usage;
    char *path = NULL, *err = NULL, *user = NULL, *pass = NULL;
    if (kiln_manifest_find(from, &path, &err) < 0) {
        fprintf(stderr, "error: %s\n", err ? err : "no manifest found");
        kiln_free(err);
        return 1;
    }
    kiln_oci_ref ref;
    kiln_registry_opts ro = {.push = 1, .chunk_size = (size_t)chunk, .mount_from = mount_from};
    kiln_registry *r = open_registry(target, &ref, &c, &ro, &user, &pass);
    if (!r) {
        kiln_free(path);
        return 1;
    }
    char created[32] = "";
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm)) strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    kiln_oci_artifact a;
    int rc = 1;
    if (kiln_oci_assemble(path, archive, created[0] ? created : NULL, &a, &err) < 0) {
        fprintf(stderr, "error: %s\n", err ? err : "out of memory");
    } else {
        printf("pushing %s to %s/%s:%s (%zu layers%s)\n", path, ref.registry, ref.repo,
               ref.tag ? ref.tag : "?", a.n_layers, a.archive ? ", archive mode" : "");
        if (kiln_oci_push(r, &ref, &a, stdout, &err) < 0) {
            fprintf(stderr, "error: push of %s failed: %s\n", target, err ? err : "out of memory");
        } else {
            printf("pushed %s/%s:%s@%s\n", ref.registry, ref.repo, ref.tag, a.manifest_digest);
            rc = 0;
        }
        kiln_oci_artifact_free(&a);
    }
    kiln_free(err);
    kiln_registry_free(r);
    kiln_oci_ref_free(&ref);
    kiln_free(path);
    kiln_free(user);
    free_secret(pass);
    return rc;
usage:
    usage(stderr);
    return 2;
}

int kiln_registry_fetch_app(const char *reference, int insecure, const char *ca,
                            const char *cache_dir, char **app_dir)
{
    common_opts c = {insecure, ca};
    kiln_oci_ref ref;
    kiln_registry_opts ro = {0};
    char *user = NULL, *pass = NULL, *err = NULL;
    char dir[PATH_MAX], digest[KILN_DIGEST_LEN + 1];
    *app_dir = NULL;
    if (!cache_dir) {
        if (kiln_cache_dir(NULL, dir, sizeof dir) < 0) {
            fprintf(stderr, "error: the cache directory path is too long\n");
            return -1;
        }
        cache_dir = dir;
    }
    kiln_registry *r = open_registry(reference, &ref, &c, &ro, &user, &pass);
    if (!r) return -1;
    int rc = kiln_oci_pull(r, &ref, cache_dir, app_dir, digest, stderr, &err);
    if (rc < 0)
        fprintf(stderr, "error: pull of %s failed: %s\n", reference, err ? err : "out of memory");
    kiln_free(err);
    kiln_registry_free(r);
    kiln_oci_ref_free(&ref);
    kiln_free(user);
    free_secret(pass);
    return rc;
}

static int cmd_pull(int argc, char **argv)
{
    common_opts c = {0};
    const char *target = NULL, *cache = NULL;
    for (int i = 0; i < argc; i++) {
        int k = common_arg(argc, argv, &i, &c);
        if (k < 0) goto usage;
        if (k) continue;
        if (strcmp(argv[i], "--cache-dir") == 0 && i + 1 < argc)
            cache = argv[++i];
        else if (argv[i][0] != '-' && !target)
            target = argv[i];
        else
            goto usage;
    }
    if (!target) goto usage;
    char *dir = NULL;
    if (kiln_registry_fetch_app(target, c.insecure, c.ca, cache, &dir) < 0) return 1;
    printf("%s\n", dir);
    kiln_free(dir);
    return 0;
usage:
    usage(stderr);
    return 2;
}

int kiln_cmd_registry(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "login") == 0) return cmd_login(argc - 2, argv + 2);
    if (strcmp(sub, "logout") == 0) return cmd_logout(argc - 2, argv + 2);
    if (strcmp(sub, "push") == 0) return cmd_push(argc - 2, argv + 2);
    if (strcmp(sub, "pull") == 0) return cmd_pull(argc - 2, argv + 2);
    fprintf(stderr, "error: unknown registry command %s\n", sub);
    usage(stderr);
    return 2;
}
