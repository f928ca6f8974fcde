/* kiln_http_errors.h — the cases of wasi:http/types `error-code`, in the WIT's order: a
 * case's position is the variant's discriminant (0.2.x and 0.3 have the same 39 cases).
 * One list for the C SDK (kiln_host.c) and for Kiln's host (src/host/wasihttp/types.c
 * includes it from sdk/c/, so the two cannot drift apart). */
#ifndef KILN_HTTP_ERRORS_H
#define KILN_HTTP_ERRORS_H

/* The names, as C string literals separated by commas: {KILN_HTTP_ERROR_NAMES}. */
#define KILN_HTTP_ERROR_NAMES                                                                      \
    "DNS-timeout", "DNS-error", "destination-not-found", "destination-unavailable",                \
        "destination-IP-prohibited", "destination-IP-unroutable", "connection-refused",            \
        "connection-terminated", "connection-timeout", "connection-read-timeout",                  \
        "connection-write-timeout", "connection-limit-reached", "TLS-protocol-error",              \
        "TLS-certificate-error", "TLS-alert-received", "HTTP-request-denied",                      \
        "HTTP-request-length-required", "HTTP-request-body-size", "HTTP-request-method-invalid",   \
        "HTTP-request-URI-invalid", "HTTP-request-URI-too-long",                                   \
        "HTTP-request-header-section-size", "HTTP-request-header-size",                            \
        "HTTP-request-trailer-section-size", "HTTP-request-trailer-size",                          \
        "HTTP-response-incomplete", "HTTP-response-header-section-size",                           \
        "HTTP-response-header-size", "HTTP-response-body-size",                                    \
        "HTTP-response-trailer-section-size", "HTTP-response-trailer-size",                        \
        "HTTP-response-transfer-coding", "HTTP-response-content-coding", "HTTP-response-timeout",  \
        "HTTP-upgrade-failed", "HTTP-protocol-error", "loop-detected", "configuration-error",      \
        "internal-error",

#endif
