#include "cli/cli.h"
int kiln_cmd_kube(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return 2;
}
