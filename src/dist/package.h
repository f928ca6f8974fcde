/* package.h — Wasm packages (components) from OCI registries, as wasm-pkg-tools stores them.
 *
 * Spin 3 resolves `[component.X.dependencies] "ns:pkg/iface" = { version = "1.0.0",
 * registry = "HOST" }` with wasm-pkg-tools. When HOST is an OCI registry, package
 * `ns:pkg` version V lives at HOST/[PREFIX]ns/pkg:V (the tag is the version, written as
 * semver prints it), an image manifest whose first layer is the component
 * (`application/wasm`, the CNCF "Wasm OCI artifact" layout `wkg oci push` writes).
 * Which protocol HOST speaks comes from its discovery document,
 * https://HOST/.well-known/wasm-pkg/registry.json (http:// for a loopback HOST):
 *   {"preferredProtocol": "oci"|"warg", "oci": {"registry": R, "namespacePrefix": P},
 *    "warg": {"url": U}}
 * No document (or one that cannot be read) means OCI at HOST itself, as wasm-pkg-tools
 * assumes. A warg registry is refused with that reason: Kiln speaks OCI only.
 *
 * The version is a requirement as Cargo writes them (Spin parses it so): "1.2.3" means
 * "^1.2.3"; "=", ">", ">=", "<", "<=", "~", "^" and "*" comparators, comma-separated. The
 * highest tag that parses as a version (pre-releases only when asked for exactly) and
 * meets it is taken, from the registry's tag list.
 *
 * The component lands in CACHE/downloads/sha256-HEX.wasm, the same place as `{ url,
 * digest }` sources (manifest/source_fetch.c): written to a temporary file and renamed
 * once its bytes match the manifest's layer digest; a cached file is hashed again before
 * it is used. Credentials come from kiln_creds_get (Kiln's file, then docker's); plain
 * HTTP is used for loopback registries only. */
#ifndef KILN_DIST_PACKAGE_H
#define KILN_DIST_PACKAGE_H

#include <stdio.h>

/* Fetches package `package` ("ns:name", or a dependency name "ns:name/iface@ver" whose
 * package part is taken) matching version requirement `req` from registry `host`. 0 with
 * *path_out (allocated: the verified file in cache_dir/downloads), or -1 with *err
 * (allocated) naming the package, the registry and the cause. One line on log (when not
 * NULL) says what was fetched or found in the cache. */
int kiln_pkg_fetch(const char *host, const char *package, const char *req, const char *cache_dir,
                   char **path_out, FILE *log, char **err);

/* Whether version (semver "X.Y.Z[-pre][+build]") meets requirement req (see above): 1
 * yes, 0 no, -1 when either is malformed. */
int kiln_semver_match(const char *req, const char *version);
/* Compares two well-formed versions like strcmp (semver precedence). */
int kiln_semver_cmp(const char *a, const char *b);

#endif
