/* names.c — import/export names of components (Explainer.md "Import and Export Definitions"):
 * kebab-case labels, annotated plain names, interface names with semver versions, the
 * strongly-unique canonical form, and semver compatibility for linking. */
#include "component/reader.h"

#include <stdio.h>
#include <string.h>

static int is_lower(char ch)
{
    return ch >= 'a' && ch <= 'z';
}
static int is_upper(char ch)
{
    return ch >= 'A' && ch <= 'Z';
}
static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* Length of the label at s[0..n) ending at a character in `stops` (or n), or 0 when the
 * text there is not a label. A label is fragments separated by '-': each all lowercase
 * words or all uppercase acronyms (digits allowed), the first starting with a letter. */
static size_t label_len(const char *s, size_t n, const char *stops, int lower_only)
{
    size_t i = 0;
    int first = 1;
    for (;;) {
        size_t start = i;
        int lower = 0, upper = 0;
        while (i < n && (is_lower(s[i]) || is_upper(s[i]) || is_digit(s[i]))) {
            lower |= is_lower(s[i]);
            upper |= is_upper(s[i]);
            i++;
        }
        if (i == start || (lower && upper) || (lower_only && upper)) return 0;
        if (first && is_digit(s[start])) return 0;
        first = 0;
        if (i < n && s[i] == '-') {
            i++;
            continue;
        }
        if (i == n || (stops && strchr(stops, s[i]))) return i;
        return 0;
    }
}

int kiln_component_is_label(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && label_len(s, n, NULL, 0) == n;
}

/* A numeric semver identifier: digits without a leading zero. */
static int semver_num(const char *s, size_t n, unsigned long long *out)
{
    if (n == 0 || n > 19 || (n > 1 && s[0] == '0')) return 0;
    unsigned long long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i])) return 0;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (out) *out = v;
    return 1;
}

/* Dot-separated identifiers of [0-9A-Za-z-]; numeric ones (pre-release only) without a
 * leading zero. */
static int semver_idents(const char *s, size_t n, int prerelease)
{
    if (n == 0) return 0;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            size_t len = i - start;
            if (len == 0) return 0;
            int numeric = 1;
            for (size_t k = start; k < i; k++) {
                char ch = s[k];
                if (!(is_digit(ch) || is_lower(ch) || is_upper(ch) || ch == '-')) return 0;
                if (!is_digit(ch)) numeric = 0;
            }
            if (prerelease && numeric && len > 1 && s[start] == '0') return 0;
            start = i + 1;
        }
    }
    return 1;
}

typedef struct semver {
    unsigned long long major, minor, patch;
    const char *pre; /* NULL or points after '-' */
    size_t pre_len;
} semver;

/* Parses a whole semver 2.0 string s[0..n). */
static int semver_parse(const char *s, size_t n, semver *v)
{
    const char *end = s + n;
    const char *plus = memchr(s, '+', n);
    if (plus) {
        if (!semver_idents(plus + 1, (size_t)(end - plus - 1), 0)) return 0;
        end = plus;
    }
    const char *dash = memchr(s, '-', (size_t)(end - s));
    const char *core_end = dash ? dash : end;
    v->pre = NULL;
    v->pre_len = 0;
    if (dash) {
        if (!semver_idents(dash + 1, (size_t)(end - dash - 1), 1)) return 0;
        v->pre = dash + 1;
        v->pre_len = (size_t)(end - dash - 1);
    }
    const char *d1 = memchr(s, '.', (size_t)(core_end - s));
    if (!d1) return 0;
    const char *d2 = memchr(d1 + 1, '.', (size_t)(core_end - d1 - 1));
    if (!d2) return 0;
    return semver_num(s, (size_t)(d1 - s), &v->major) &&
           semver_num(d1 + 1, (size_t)(d2 - d1 - 1), &v->minor) &&
           semver_num(d2 + 1, (size_t)(core_end - d2 - 1), &v->patch);
}

static void copy_part(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap) n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = 0;
}

static int why_fail(char *why, size_t whylen, const char *msg)
{
    if (why && whylen) snprintf(why, whylen, "%s", msg);
    return -1;
}

/* ns:pkg/iface[@version], with nested namespaces and projections (🪺). */
static int parse_interface(const char *s, kiln_cname *out, char *why, size_t whylen)
{
    size_t n = strlen(s);
    const char *at = memchr(s, '@', n);
    size_t body = at ? (size_t)(at - s) : n;
    /* namespaces: words ':' (one or more) */
    size_t i = 0, nsl = 0, pkg_start = 0;
    int nns = 0;
    for (;;) {
        size_t l = label_len(s + i, body - i, ":/", 1);
        if (l == 0) return why_fail(why, whylen, "namespace and package must be lowercase words");
        if (i + l < body && s[i + l] == ':') {
            if (nns++ == 0) nsl = l;
            i += l + 1;
            continue;
        }
        pkg_start = i;
        i += l;
        break;
    }
    if (nns == 0 || i >= body || s[i] != '/')
        return why_fail(why, whylen, "interface names look like 'namespace:package/interface'");
    size_t pkg_end = i, iface_start = i + 1;
    while (i < body && s[i] == '/') {
        i++;
        iface_start = i;
        size_t l = label_len(s + i, body - i, "/", 0);
        if (l == 0) return why_fail(why, whylen, "interface name must be a kebab-case label");
        i += l;
    }
    if (i != body) return why_fail(why, whylen, "unexpected character in interface name");
    if (at) {
        semver v;
        size_t vn = n - body - 1;
        /* the shortened canonversion ("0.2", 🔗) is not accepted: wasmparser refuses it */
        if (!semver_parse(at + 1, vn, &v))
            return why_fail(why, whylen, "version is not a valid semver (MAJOR.MINOR.PATCH)");
    }
    if (out) {
        memset(out, 0, sizeof *out);
        out->is_interface = 1;
        copy_part(out->ns, sizeof out->ns, s, nsl);
        copy_part(out->pkg, sizeof out->pkg, s + pkg_start, pkg_end - pkg_start);
        copy_part(out->iface, sizeof out->iface, s + iface_start, body - iface_start);
        if (at) copy_part(out->version, sizeof out->version, at + 1, n - body - 1);
    }
    return 0;
}

int kiln_component_parse_name(const char *s, kiln_cname *out, char *why, size_t whylen)
{
    size_t n = strlen(s);
    if (n == 0) return why_fail(why, whylen, "empty name");
    if (strchr(s, ':')) {
        /* dependency names (url=<…>, locked-dep=<…>, …) are refused, as by wasmparser */
        return parse_interface(s, out, why, whylen);
    }
    if (out) memset(out, 0, sizeof *out);
    const char *p = s;
    int two = 0;
    if (s[0] == '[') {
        if (strncmp(s, "[constructor]", 13) == 0)
            p = s + 13;
        else if (strncmp(s, "[method]", 8) == 0)
            p = s + 8, two = 1;
        else if (strncmp(s, "[static]", 8) == 0)
            p = s + 8, two = 1;
        else
            return why_fail(why, whylen,
                            "unknown annotation (want [constructor], [method], [static])");
    }
    size_t pn = n - (size_t)(p - s);
    if (two) {
        size_t l = label_len(p, pn, ".", 0);
        if (l == 0 || l == pn || p[l] != '.')
            return why_fail(why, whylen, "want '[method]resource.name' with kebab-case labels");
        p += l + 1;
        pn -= l + 1;
    }
    if (label_len(p, pn, NULL, 0) != pn)
        return why_fail(why, whylen,
                        "not a kebab-case name (words of a-z0-9 or A-Z0-9 joined by '-')");
    return 0;
}

/* Appends the canonical form of s[0..n) to out at *k: ASCII lowercased, and for plain
 * names (drop_hyphens) without the hyphens. */
static void canon_append(const char *s, size_t n, int drop_hyphens, char *out, size_t *k)
{
    for (size_t i = 0; i < n; i++) {
        if (drop_hyphens && s[i] == '-') continue;
        out[(*k)++] = is_upper(s[i]) ? (char)(s[i] - 'A' + 'a') : s[i];
    }
}

/* Whether a[0..na) and b[0..nb) are the same label, ignoring ASCII case and hyphens. */
static int same_label(const char *a, size_t na, const char *b, size_t nb)
{
    size_t i = 0, j = 0;
    for (;;) {
        while (i < na && a[i] == '-')
            i++;
        while (j < nb && b[j] == '-')
            j++;
        if (i == na || j == nb) return i == na && j == nb;
        char x = is_upper(a[i]) ? (char)(a[i] - 'A' + 'a') : a[i];
        char y = is_upper(b[j]) ? (char)(b[j] - 'A' + 'a') : b[j];
        if (x != y) return 0;
        i++, j++;
    }
}

int kiln_component_canonical_name(const char *s, char *out, size_t outlen)
{
    size_t n = strlen(s);
    if (n >= outlen) return -1;
    /* Interface names keep their hyphens (a version's pre-release needs them). */
    int plain = strchr(s, ':') == NULL;
    const char *p = s;
    size_t k = 0;
    if (strncmp(s, "[method]", 8) == 0 || strncmp(s, "[static]", 8) == 0) {
        p = s + 8;
        const char *dot = strchr(p, '.');
        if (dot && same_label(p, (size_t)(dot - p), dot + 1, strlen(dot + 1)))
            p = dot + 1; /* [method]l.l is l */
    }
    canon_append(p, strlen(p), plain, out, &k);
    out[k] = 0;
    return 0;
}

int kiln_component_version_compatible(const char *want, const char *have)
{
    if (strcmp(want, have) == 0) return 1;
    semver a, b;
    if (!semver_parse(want, strlen(want), &a) || !semver_parse(have, strlen(have), &b)) return 0;
    if (a.pre || b.pre) return 0; /* pre-releases match only themselves (build ignored) */
    if (a.major != b.major) return 0;
    if (a.major > 0) return 1;
    if (a.minor != b.minor) return 0;
    if (a.minor > 0) return 1;
    return a.patch == b.patch;
}
