/* kube_yaml.h — a YAML document built as a tree and written in block style, for the
 * Kubernetes manifests of `kiln kube scaffold` (cli/kube.c).
 *
 * Nodes are maps (keys in insertion order), sequences, strings, integers and booleans.
 * Building never fails loudly: a function that runs out of memory returns NULL and marks
 * the parent broken (adding NULL to a map or a sequence marks it too), so a builder can
 * chain calls and ask once, at kiln_yaml_emit, which returns -1 for a broken tree.
 *
 * Output is safe for any input string: every string value is written double-quoted with
 * YAML's escapes (\" \\ \n \t \xNN \uNNNN for other control and non-UTF-8-safe bytes are
 * passed as is), so a value can never become a number, a boolean, null, a comment, an
 * anchor or a new key; keys are written plain only when they consist of
 * [A-Za-z0-9_./-] and start with a letter or '_', else double-quoted the same way.
 * Empty maps and sequences are written {} and []. */
#ifndef KILN_CLI_KUBE_YAML_H
#define KILN_CLI_KUBE_YAML_H

#include "util/buf.h"

typedef struct kiln_yaml kiln_yaml;

kiln_yaml *kiln_yaml_map(void);
kiln_yaml *kiln_yaml_seq(void);
kiln_yaml *kiln_yaml_str(const char *s); /* NULL s: NULL */
kiln_yaml *kiln_yaml_int(long long v);
kiln_yaml *kiln_yaml_bool(int v);

/* Sets map[key] = val (key copied) and returns val, or NULL (map marked broken, val
 * freed) when map is NULL or not a map, val is NULL, or memory runs out. */
kiln_yaml *kiln_yaml_set(kiln_yaml *map, const char *key, kiln_yaml *val);
/* Appends val to seq; returns val or NULL as above. */
kiln_yaml *kiln_yaml_push(kiln_yaml *seq, kiln_yaml *val);

/* Shorthands: set/push a new map, sequence, string or integer. */
kiln_yaml *kiln_yaml_set_map(kiln_yaml *map, const char *key);
kiln_yaml *kiln_yaml_set_seq(kiln_yaml *map, const char *key);
kiln_yaml *kiln_yaml_set_str(kiln_yaml *map, const char *key, const char *s);
kiln_yaml *kiln_yaml_set_int(kiln_yaml *map, const char *key, long long v);
kiln_yaml *kiln_yaml_push_map(kiln_yaml *seq);

/* Appends the document to out (no "---" line). 0, or -1 when the tree is broken or
 * memory runs out. */
int kiln_yaml_emit(const kiln_yaml *root, kiln_buf *out);
void kiln_yaml_free(kiln_yaml *n);

#endif
