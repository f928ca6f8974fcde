/* cli.h — the kiln command's subcommands. Each takes argv with argv[0] = its name and
 * returns the process exit status. */
#ifndef KILN_CLI_CLI_H
#define KILN_CLI_CLI_H

int kiln_cmd_run(int argc, char **argv);
int kiln_cmd_compile(int argc, char **argv);
int kiln_cmd_check(int argc, char **argv);
int kiln_cmd_up(int argc, char **argv);

/* Parses "128M", "10k", "1G", "4096" into bytes. Returns 0 or -1. */
int kiln_parse_size(const char *s, unsigned long long *out);

#endif
