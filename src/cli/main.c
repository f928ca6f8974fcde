/* main.c — the kiln command: dispatches to one file per subcommand. */
#include "cli/cli.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#ifndef KILN_VERSION
#define KILN_VERSION "0.1.0"
#endif

typedef struct command {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} command;

static const command commands[] = {
    {"run", kiln_cmd_run, "run a WASI command module (like `wasmtime run`)"},
    {"up", kiln_cmd_up, "serve an application (kiln.toml or spin.toml) over HTTP"},
    {"check", kiln_cmd_check, "validate a manifest and show what each component is granted"},
    {"compile", kiln_cmd_compile, "translate and compile a module into the cache"},
    {"new", kiln_cmd_new, "create a project from a template (kiln new http-c NAME)"},
    {"build", kiln_cmd_build, "run each component's build command"},
    {"watch", kiln_cmd_watch, "rebuild and reload the application when its files change"},
    {"templates", kiln_cmd_templates, "list the templates of `kiln new`"},
    {"inspect", kiln_cmd_inspect, "show a module's or component's imports, exports and types"},
    {"registry", kiln_cmd_registry, "push, pull and log in to OCI registries (Spin's layout)"},
    {"bench", kiln_cmd_bench, "measure an app against a process and a container per request"},
    {"image", kiln_cmd_image, "build an OCI container image of kiln serving an app"},
    {"kube", kiln_cmd_kube, "write Kubernetes (and SpinKube) manifests for an app"},
};

static void usage(FILE *f)
{
    fprintf(f,
            "kiln %s — a WebAssembly serverless platform\n\nusage: kiln COMMAND [OPTIONS]\n\n"
            "commands:\n",
            KILN_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "  %-10s %s\n\nRun `kiln COMMAND --help` for a command's options.\n", "version",
            "print the version");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    /* A closed pipe or socket is an error to report where it happens, not a reason to die. */
    signal(SIGPIPE, SIG_IGN);
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("kiln %s\n", KILN_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(cmd, commands[i].name) == 0) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "kiln: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
