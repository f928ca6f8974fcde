/* units.h — parsing of human sizes and durations (command-line options, manifests). */
#ifndef KILN_UTIL_UNITS_H
#define KILN_UTIL_UNITS_H

/* Parses "128M", "10k", "1G", "4096" (also "64MiB", "64MB") into bytes. Returns 0 or -1. */
int kiln_parse_size(const char *s, unsigned long long *out);

/* Parses "30s", "500ms", "2m", "1h", "1.5" (seconds) into milliseconds. Returns 0 or -1. */
int kiln_parse_duration_ms(const char *s, unsigned long long *out_ms);

#endif
