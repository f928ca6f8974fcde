/* allow.c — outbound targets and Spin's allowed_outbound_hosts grants (outbound.h). */
#include "host/wasihttp/outbound.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Parses a decimal port of 1..65535 (s[0..n), n > 0); -1 if not one. */
static long parse_port(const char *s, size_t n)
{
    if (n == 0 || n > 5) return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i])) return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v >= 1 && v <= 65535 ? v : -1;
}

/* 1 if the name's last label is numeric ("1", "0x7f"): WHATWG URL parsers and inet_aton
 * read such a host as an IPv4 address. */
static int ends_in_number(const char *h, size_t n)
{
    size_t i = n;
    while (i > 0 && h[i - 1] != '.')
        i--;
    if (i == n) return 0;
    const char *l = h + i;
    size_t k = n - i;
    if (k >= 2 && l[0] == '0' && (l[1] == 'x' || l[1] == 'X')) return 1;
    for (size_t j = 0; j < k; j++)
        if (!is_digit(l[j])) return 0;
    return 1;
}

/* Normalizes host h[0..n) into out: lowercased, one trailing dot dropped, an IP literal
 * in canonical form. Returns 0 (name), 4 or 6 (IP literal), or -1 when invalid. */
static int norm_host(const char *h, size_t n, char out[WH_HOST_MAX + 3])
{
    if (n && h[0] == '[') {
        char tmp[64], buf[INET6_ADDRSTRLEN];
        struct in6_addr a;
        if (n < 3 || h[n - 1] != ']' || n - 2 >= sizeof tmp) return -1;
        memcpy(tmp, h + 1, n - 2);
        tmp[n - 2] = '\0';
        if (inet_pton(AF_INET6, tmp, &a) != 1 || !inet_ntop(AF_INET6, &a, buf, sizeof buf))
            return -1;
        snprintf(out, WH_HOST_MAX + 3, "[%s]", buf);
        return 6;
    }
    if (n && h[n - 1] == '.') n--;
    if (n == 0 || n > WH_HOST_MAX) return -1;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (c == '.') {
            if (!label) return -1;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || is_digit(c) || c == '-' || c == '_') {
            label++;
        } else if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
            label++;
        } else {
            return -1;
        }
        out[i] = c;
    }
    out[n] = '\0';
    if (!label) return -1;
    if (ends_in_number(out, n)) {
        struct in_addr a;
        char buf[INET_ADDRSTRLEN];
        /* only the four-part dotted decimal form, written canonically */
        if (inet_pton(AF_INET, out, &a) != 1 || !inet_ntop(AF_INET, &a, buf, sizeof buf) ||
            strcmp(buf, out) != 0)
            return -1;
        return 4;
    }
    return 0;
}

int wh_target_parse(wh_target *t, int https, const char *a, size_t n)
{
    if (wh_target_parse_scheme(t, https ? "https" : "http", https ? 443 : 80, a, n) < 0) return -1;
    t->https = https;
    return 0;
}

int wh_target_label(const wh_target *t, char *buf, size_t cap)
{
    int n = t->port == t->dport ? snprintf(buf, cap, "%s", t->host)
                                : snprintf(buf, cap, "%s:%u", t->host, (unsigned)t->port);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int wh_target_parse_scheme(wh_target *t, const char *scheme, uint16_t dport, const char *a,
                           size_t n)
{
    memset(t, 0, sizeof *t);
    if (strlen(scheme) >= sizeof t->scheme) return -1;
    strcpy(t->scheme, scheme);
    t->dport = dport;
    if (memchr(a, '@', n)) return -1; /* userinfo */
    size_t hlen = n;
    const char *port = NULL;
    if (n && a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (!close) return -1;
        hlen = (size_t)(close - a) + 1;
        if (hlen < n) {
            if (a[hlen] != ':') return -1;
            port = a + hlen + 1;
        }
    } else {
        const char *colon = memchr(a, ':', n);
        if (colon) {
            hlen = (size_t)(colon - a);
            port = colon + 1;
        }
    }
    if (port) {
        long p = parse_port(port, (size_t)(a + n - port));
        if (p < 0) return -1;
        t->port = (uint16_t)p;
    } else {
        t->port = dport;
    }
    int kind = norm_host(a, hlen, t->host);
    if (kind < 0) return -1;
    t->ip = kind;
    return 0;
}

/* 1 if the port part of a grant p[0..n) (n 0: none: the default port of t's scheme,
 * which the grant names or matches with "*") allows t's port. */
static int port_allows(const char *p, size_t n, const wh_target *t)
{
    if (n == 0) return t->port == t->dport;
    if (n == 1 && p[0] == '*') return 1;
    const char *dots = NULL;
    for (size_t i = 0; i + 1 < n; i++)
        if (p[i] == '.' && p[i + 1] == '.') {
            dots = p + i;
            break;
        }
    if (!dots) return parse_port(p, n) == t->port;
    long lo = parse_port(p, (size_t)(dots - p)),
         hi = parse_port(dots + 2, (size_t)(p + n - dots - 2));
    return lo > 0 && hi > 0 && t->port >= lo && t->port <= hi;
}

/* 1 if the host part of a grant h[0..n) allows t's host. */
static int host_allows(const char *h, size_t n, const wh_target *t)
{
    if (n == 1 && h[0] == '*') return 1;
    if (n > 2 && h[0] == '*' && h[1] == '.') {
        if (t->ip) return 0;
        char suffix[WH_HOST_MAX + 3];
        if (norm_host(h + 2, n - 2, suffix) != 0) return 0;
        size_t sl = strlen(suffix), tl = strlen(t->host);
        return tl > sl + 1 && t->host[tl - sl - 1] == '.' && strcmp(t->host + tl - sl, suffix) == 0;
    }
    char want[WH_HOST_MAX + 3];
    int kind = norm_host(h, n, want);
    return kind >= 0 && kind == t->ip && strcmp(want, t->host) == 0;
}

/* 1 if one grant g allows t. */
static int grant_allows(const char *g, const wh_target *t)
{
    if (strstr(g, "{{")) return 0; /* an unresolved template (kiln up resolves them) */
    const char *sep = strstr(g, "://");
    if (!sep) return 0;
    size_t sl = (size_t)(sep - g);
    if (!(sl == 1 && g[0] == '*') &&
        !(sl == strlen(t->scheme) && strncasecmp(g, t->scheme, sl) == 0))
        return 0; /* another scheme (an http grant never allows https, nor redis http) */
    const char *rest = sep + 3;
    size_t n = strlen(rest);
    if (n && rest[n - 1] == '/') n--;
    size_t hlen = n;
    const char *port = NULL;
    if (n && rest[0] == '[') {
        const char *close = memchr(rest, ']', n);
        if (!close) return 0;
        hlen = (size_t)(close - rest) + 1;
        if (hlen < n && rest[hlen] != ':') return 0;
        if (hlen < n) port = rest + hlen + 1;
    } else {
        const char *colon = memchr(rest, ':', n);
        if (colon) {
            hlen = (size_t)(colon - rest);
            port = colon + 1;
        }
    }
    size_t plen = port ? (size_t)(rest + n - port) : 0;
    if (port && plen == 0) return 0;
    return host_allows(rest, hlen, t) && port_allows(port, plen, t);
}

int wh_allow_host(const char *const *grants, size_t n, const wh_target *t)
{
    for (size_t i = 0; i < n; i++) {
        const char *g = grants[i], *sep = strstr(g, "://");
        if (strstr(g, "{{") || !sep) continue;
        const char *rest = sep + 3;
        size_t len = strlen(rest), hlen;
        if (len && rest[len - 1] == '/') len--;
        if (len && rest[0] == '[') {
            const char *close = memchr(rest, ']', len);
            if (!close) continue;
            hlen = (size_t)(close - rest) + 1;
        } else {
            const char *colon = memchr(rest, ':', len);
            hlen = colon ? (size_t)(colon - rest) : len;
        }
        if (host_allows(rest, hlen, t) && !wh_chain_target(t, &len)) return 1;
    }
    return 0;
}

int wh_chain_target(const wh_target *t, size_t *name_len)
{
    static const char sfx[] = ".spin.internal";
    size_t n = strlen(t->host), k = sizeof sfx - 1;
    if (t->ip) return 0;
    if (strcmp(t->host, "self") == 0 || strcmp(t->host, "self.alt") == 0) return 2;
    if (strcmp(t->host, sfx + 1) == 0) {
        *name_len = 0;
        return 1;
    }
    if (n <= k || strcmp(t->host + n - k, sfx) != 0) return 0;
    *name_len = n - k;
    return 1;
}

int wh_allow_chained(const char *const *grants, size_t n, const wh_target *t)
{
    for (size_t i = 0; i < n; i++)
        if (grants[i] && grant_allows(grants[i], t)) return 1;
    return 0;
}

int wh_allow_self(const char *const *grants, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *g = grants[i], *sep = g ? strstr(g, "://") : NULL;
        if (!sep) continue;
        size_t sl = (size_t)(sep - g);
        int scheme = (sl == 1 && g[0] == '*') || (sl == 4 && strncasecmp(g, "http", 4) == 0) ||
                     (sl == 5 && strncasecmp(g, "https", 5) == 0);
        const char *h = sep + 3;
        size_t hl = strcspn(h, ":/");
        int host = (hl == 1 && h[0] == '*') || (hl == 4 && strncasecmp(h, "self", 4) == 0) ||
                   (hl == 8 && strncasecmp(h, "self.alt", 8) == 0);
        if (scheme && host) return 1;
    }
    return 0;
}

int wh_allow(const char *const *grants, size_t n, const wh_target *t)
{
    size_t k;
    if (wh_chain_target(t, &k)) return 0; /* in process only, never a connection */
    return wh_allow_chained(grants, n, t);
}
