/* oci_test.c — Spin's layout without a registry: an app assembled into layers, the
 * locked app turned back into a directory (plain, inline and archive files), and a
 * hostile locked app refused before it writes outside its directory. */
#include "dist/auth.h"
#include "dist/oci.h"
#include "dist/tar.h"
#include "manifest/manifest.h"
#include "util/alloc.h"
#include "util/file.h"
#include "util/json.h"
#include "util/test.h"

#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[] = "/tmp/kiln-oci-test-XXXXXX";

static void put(const char *rel, const char *text, size_t len)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    for (char *s = strchr(p + strlen(root) + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        mkdir(p, 0755);
        *s = '/';
    }
    CHECK_INT(kiln_write_file(p, text, len), 0);
}

static char *slurp(const char *dir, const char *rel)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    kiln_buf b = KILN_BUF_INIT;
    if (kiln_read_file(p, &b) < 0) {
        kiln_buf_free(&b);
        return NULL;
    }
    return kiln_buf_steal(&b);
}

/* The blobs of an artifact, for kiln_locked_unpack's fetch. */
static int fetch_from(void *ctx, const char *digest, kiln_buf *out, char **err)
{
    const kiln_oci_artifact *a = ctx;
    for (size_t i = 0; i < a->n_layers; i++)
        if (strcmp(a->layers[i].digest, digest) == 0)
            return kiln_buf_append(out, a->layers[i].data, a->layers[i].len);
    *err = kiln_strdup("no such blob");
    return -1;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)f;
    return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static const char wasm[] = "\0asm\x0d\0\x01\0 a fake component, larger than the inline limit of "
                           "Spin's locked app: 128 bytes. ......................................";

/* Assembles the app, unpacks it into a fresh directory and loads the manifest there. */
static void round_trip(int archive)
{
    char created[] = "2026-01-01T00:00:00Z";
    kiln_oci_artifact a;
    char *err = NULL, man[512], out[512];
    snprintf(man, sizeof man, "%s/app/spin.toml", root);
    int arc = kiln_oci_assemble(man, archive, created, &a, &err);
    CHECK_INT(arc, 0);
    if (err) fprintf(stderr, "  %s\n", err);
    kiln_free(err);
    if (arc < 0) return;
    err = NULL;
    CHECK_INT(a.archive, archive);
    /* wasm, [one data layer: big.txt], locked app; archive: wasm, archive, locked app */
    CHECK_INT(a.n_layers, 3);
    CHECK_STR(a.layers[0].media_type, KILN_OCI_WASM_TYPE);
    CHECK_STR(a.layers[1].media_type, archive ? KILN_OCI_ARCHIVE_TYPE : KILN_OCI_DATA_TYPE);
    CHECK_STR(a.layers[a.n_layers - 1].media_type, KILN_OCI_LOCKED_TYPE);
    CHECK(strstr(a.config.data, "\"architecture\":\"wasm\"") != NULL);
    CHECK(strstr(a.config.data, a.layers[a.n_layers - 1].digest) != NULL);
    CHECK(strstr(a.manifest.data, "\"org.opencontainers.image.title\":\"demo\"") != NULL);
    CHECK(strstr(a.manifest.data,
                 "\"org.opencontainers.image.created\":\"2026-01-01T00:00:00Z\"") != NULL);
    kiln_json *mj = kiln_json_parse(a.manifest.data, a.manifest.len, NULL, 0);
    CHECK(mj != NULL);
    CHECK_STR(kiln_json_get_str(kiln_json_get(mj, "config"), "mediaType"), KILN_OCI_CONFIG_TYPE);
    kiln_json_free(mj);
    CHECK(kiln_digest_check(a.manifest.data, a.manifest.len, a.manifest_digest));
    /* small files are inlined in the locked app, as Spin does */
    const kiln_oci_blob *locked = &a.layers[a.n_layers - 1];
    CHECK(strstr(locked->data, "\"inline\"") != NULL);
    CHECK(strstr(locked->data, "\"path\":\"static/small.txt\"") != NULL);

    snprintf(out, sizeof out, "%s/out%d", root, archive);
    CHECK_INT(mkdir(out, 0755), 0);
    kiln_buf arch = KILN_BUF_INIT;
    if (archive) kiln_buf_append(&arch, a.layers[1].data, a.layers[1].len);
    int rc = kiln_locked_unpack(locked->data, locked->len, &arch, archive ? 1 : 0, fetch_from, &a,
                                out, &err);
    CHECK_INT(rc, 0);
    if (err) fprintf(stderr, "  %s\n", err);
    kiln_free(err);
    kiln_buf_free(&arch);
    char *small = slurp(out, "files/web/static/small.txt");
    CHECK_STR(small, "tiny\n");
    kiln_free(small);
    char *big = slurp(out, "files/web/static/sub/big.txt");
    CHECK(big && strlen(big) == 300 && big[0] == 'x');
    kiln_free(big);
    char *w = slurp(out, "components/web.wasm");
    CHECK(w && memcmp(w, wasm, sizeof wasm - 1) == 0);
    kiln_free(w);

    char toml[600];
    snprintf(toml, sizeof toml, "%s/spin.toml", out);
    kiln_diags d = KILN_DIAGS_INIT;
    kiln_manifest *m = kiln_manifest_load(toml, &d);
    CHECK(m != NULL);
    for (size_t i = 0; i < d.len; i++)
        fprintf(stderr, "  %s\n", d.items[i].message);
    if (m) {
        CHECK_STR(m->name, "demo");
        CHECK_STR(m->version, "1.2.3");
        CHECK_INT(m->triggers_len, 2);
        CHECK_STR(m->triggers[0].route, "/api/...");
        CHECK_INT(m->triggers[1].executor, KILN_EXECUTOR_WAGI);
        CHECK_STR(m->triggers[1].wagi_argv, "${SCRIPT_NAME} x");
        CHECK_INT(m->components_len, 1);
        const kiln_component *c = &m->components[0];
        CHECK_STR(c->id, "web");
        CHECK_INT(c->allowed_outbound_hosts.len, 1);
        CHECK_INT(c->key_value_stores.len, 1);
        CHECK_INT(c->environment.len, 1);
        CHECK_STR(c->environment.items[0].value, "b \"quoted\"");
        CHECK_INT(c->variables.len, 1);
        CHECK_INT(m->variables_len, 2);
        kiln_mount *mounts = NULL;
        size_t n = 0;
        CHECK_INT(kiln_component_mounts(m, c, &mounts, &n, &err), 0);
        CHECK_INT(n, 1);
        if (n) CHECK_STR(mounts[0].guest_path, "/");
        kiln_mounts_free(mounts, n);
    }
    kiln_manifest_free(m);
    kiln_diags_free(&d);
    kiln_oci_artifact_free(&a);
}

/* A locked app with one file entry; 0 when unpacking it worked. */
static int unpack_one(const char *path, const char *inline_b64, const char *digest)
{
    static int n;
    char out[512], json[2048];
    snprintf(out, sizeof out, "%s/hostile%d", root, n++);
    mkdir(out, 0755);
    snprintf(json, sizeof json,
             "{\"spin_lock_version\":1,\"triggers\":[],\"components\":[{\"id\":\"c\",\"source\":{"
             "\"content_type\":\"application/wasm\",\"inline\":\"AGFzbQ==\"},\"files\":[{"
             "\"path\":\"%s\",\"inline\":\"%s\"%s%s%s}]}]}",
             path, inline_b64, digest ? ",\"digest\":\"" : "", digest ? digest : "",
             digest ? "\"" : "");
    char *err = NULL;
    int rc = kiln_locked_unpack(json, strlen(json), NULL, 0, fetch_from, NULL, out, &err);
    kiln_free(err);
    return rc;
}

static void hostile(void)
{
    CHECK_INT(unpack_one("ok/file.txt", "aGk=", NULL), 0);
    CHECK_INT(unpack_one("../escape.txt", "aGk=", NULL), -1);
    CHECK_INT(unpack_one("a/../../escape.txt", "aGk=", NULL), -1);
    CHECK_INT(unpack_one("a//b", "aGk=", NULL), -1);
    CHECK_INT(unpack_one("a/./b", "aGk=", NULL), -1);
    CHECK_INT(unpack_one("a\\\\b", "aGk=", NULL), -1);
    CHECK_INT(unpack_one("", "aGk=", NULL), -1);
    CHECK_INT(unpack_one("x", "!!!!", NULL), -1); /* not base64 */
    /* inline bytes that do not match their digest */
    CHECK_INT(unpack_one("x", "aGk=",
                         "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
              -1);
    char esc[512];
    snprintf(esc, sizeof esc, "%s/escape.txt", root);
    CHECK(access(esc, F_OK) != 0);

    char *err = NULL, out[512];
    snprintf(out, sizeof out, "%s/hostile-id", root);
    mkdir(out, 0755);
    const char *bad_id =
        "{\"spin_lock_version\":1,\"triggers\":[],\"components\":[{\"id\":\"../x\","
        "\"source\":{\"inline\":\"AGFzbQ==\"}}]}";
    CHECK_INT(kiln_locked_unpack(bad_id, strlen(bad_id), NULL, 0, fetch_from, NULL, out, &err), -1);
    kiln_free(err);
    err = NULL;
    const char *bad_ver = "{\"spin_lock_version\":2,\"triggers\":[],\"components\":[]}";
    CHECK_INT(kiln_locked_unpack(bad_ver, strlen(bad_ver), NULL, 0, fetch_from, NULL, out, &err),
              -1);
    CHECK(err && strstr(err, "spin_lock_version"));
    kiln_free(err);
    err = NULL;
    const char *bad_trig = "{\"spin_lock_version\":1,\"triggers\":[{\"trigger_type\":\"http]]\\n\","
                           "\"trigger_config\":{}}],\"components\":[]}";
    CHECK_INT(kiln_locked_unpack(bad_trig, strlen(bad_trig), NULL, 0, fetch_from, NULL, out, &err),
              -1);
    kiln_free(err);
}

/* A locked app shaped as `spin registry push` writes it (its loader's metadata, a
 * build section, a Redis trigger and its global settings, a WAGI executor without
 * entrypoint) becomes a manifest Kiln loads. */
static void spin_shaped(void)
{
    const char *json =
        "{\"spin_lock_version\":1,\"metadata\":{\"authors\":[\"Ada <ada@example.com>\"],"
        "\"name\":\"spin-app\",\"version\":\"0.3.0\",\"trigger\":{\"type\":\"http\"},"
        "\"triggers\":{\"http\":{},\"redis\":{\"address\":\"redis://127.0.0.1:6379\"}}},"
        "\"variables\":{\"api_key\":{\"secret\":true}},"
        "\"triggers\":[{\"id\":\"trigger--web\",\"trigger_type\":\"http\",\"trigger_config\":"
        "{\"component\":\"web\",\"route\":\"/...\",\"executor\":{\"type\":\"wagi\",\"argv\":"
        "\"${SCRIPT_NAME} ${ARGS}\"}}},{\"id\":\"trigger--private\",\"trigger_type\":\"http\","
        "\"trigger_config\":{\"component\":\"web\",\"route\":{\"private\":true}}},"
        "{\"id\":\"trigger--sub\",\"trigger_type\":\"redis\",\"trigger_config\":{\"component\":"
        "\"web\",\"channel\":\"messages\"}}],"
        "\"components\":[{\"id\":\"web\",\"metadata\":{\"allowed_outbound_hosts\":[],"
        "\"build\":{\"command\":\"cargo build\"},\"databases\":[\"default\"]},"
        "\"source\":{\"content_type\":\"application/wasm\",\"inline\":\"AGFzbQEAAAA=\","
        "\"digest\":\"sha256:93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476\"},"
        "\"env\":{\"RUST_LOG\":\"info\"},\"config\":{\"key\":\"{{ api_key }}\"}}]}";
    char out[512], toml[600];
    snprintf(out, sizeof out, "%s/spin-shaped", root);
    CHECK_INT(mkdir(out, 0755), 0);
    char *err = NULL;
    CHECK_INT(kiln_locked_unpack(json, strlen(json), NULL, 0, fetch_from, NULL, out, &err), 0);
    if (err) fprintf(stderr, "  %s\n", err);
    kiln_free(err);
    snprintf(toml, sizeof toml, "%s/spin.toml", out);
    kiln_diags d = KILN_DIAGS_INIT;
    kiln_manifest *m = kiln_manifest_load(toml, &d);
    CHECK(m != NULL);
    for (size_t i = 0; i < d.len; i++)
        fprintf(stderr, "  %s\n", d.items[i].message);
    if (m) {
        CHECK_STR(m->name, "spin-app");
        CHECK_INT(m->authors.len, 1);
        CHECK_INT(m->triggers_len, 2);
        CHECK_INT(m->triggers[0].executor, KILN_EXECUTOR_WAGI);
        CHECK(m->triggers[1].is_private);
        CHECK_INT(m->other_triggers_len, 1);
        if (m->other_triggers_len) CHECK_STR(m->other_triggers[0].type, "redis");
        CHECK_INT(m->trigger_settings_len, 1);
        CHECK_INT(m->components[0].sqlite_databases.len, 1);
        CHECK_INT(m->variables_len, 1);
        if (m->variables_len) CHECK(m->variables[0].required && m->variables[0].secret);
    }
    kiln_manifest_free(m);
    kiln_diags_free(&d);
}

static int count_entry(void *ctx, const char *name, const void *data, size_t len)
{
    (void)data;
    (void)name;
    (*(size_t *)ctx) += len;
    return 0;
}

static void tar_limits(void)
{
    kiln_tar t = KILN_TAR_INIT;
    char big[5000];
    memset(big, 'z', sizeof big);
    kiln_buf why = KILN_BUF_INIT;
    CHECK_INT(kiln_tar_add(&t, KILN_TAR_FILE, "a/b.txt", 0644, big, sizeof big, NULL, &why), 0);
    kiln_buf_free(&why);
    kiln_buf gz = KILN_BUF_INIT;
    CHECK_INT(kiln_tar_finish_gz(&t, &gz), 0);
    size_t total = 0;
    CHECK_INT(kiln_tar_each_gz(gz.data, gz.len, 1 << 20, count_entry, &total), 0);
    CHECK_INT(total, sizeof big);
    /* the inflated size cap and truncated input are errors */
    CHECK_INT(kiln_tar_each_gz(gz.data, gz.len, 1024, count_entry, &total), -1);
    CHECK_INT(kiln_tar_each_gz(gz.data, gz.len / 2, 1 << 20, count_entry, &total), -1);
    CHECK_INT(kiln_tar_each_gz("not gzip", 8, 1 << 20, count_entry, &total), -1);
    kiln_buf_free(&gz);
}

int main(void)
{
    CHECK(mkdtemp(root) != NULL);
    put("app/web.wasm", wasm, sizeof wasm - 1);
    {
        char p[512];
        snprintf(p, sizeof p, "%s/app/spin.toml", root);
        kiln_buf b = KILN_BUF_INIT;
        kiln_buf_puts(&b, "spin_manifest_version = 2\n"
                          "[application]\nname = \"demo\"\nversion = \"1.2.3\"\n"
                          "[variables]\ngreeting = { default = \"hi\" }\n"
                          "token = { required = true, secret = true }\n"
                          "[[trigger.http]]\nroute = \"/api/...\"\ncomponent = \"web\"\n"
                          "[[trigger.http]]\nroute = \"/cgi\"\ncomponent = \"web\"\n"
                          "executor = { type = \"wagi\", argv = \"${SCRIPT_NAME} x\" }\n"
                          "[component.web]\nsource = \"web.wasm\"\n"
                          "files = [{ source = \"assets\", destination = \"/static\" }]\n"
                          "allowed_outbound_hosts = [\"https://example.com\"]\n"
                          "key_value_stores = [\"default\"]\n"
                          "environment = { A = \"b \\\"quoted\\\"\" }\n"
                          "[component.web.variables]\nmsg = \"{{ greeting }}\"\n");
        CHECK_INT(kiln_write_file(p, b.data, b.len), 0);
        kiln_buf_free(&b);
    }
    put("app/assets/small.txt", "tiny\n", 5);
    char big[300];
    memset(big, 'x', sizeof big);
    put("app/assets/sub/big.txt", big, sizeof big);
    round_trip(0);
    round_trip(1);
    hostile();
    spin_shaped();
    tar_limits();
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return test_finish("oci_test");
}
