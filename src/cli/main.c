/* nq: a command-line peer for the net-queue protocol. */
#include <signal.h>
#include <string.h>

#include "cli.h"

int main(int argc, char **argv)
{
    /* OpenSSL writes to sockets with plain write(): a peer that goes away
     * must give an error, not kill the process. */
    signal(SIGPIPE, SIG_IGN);

    if (argc < 2) {
        cli_usage(stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        cli_usage(stdout);
        return CLI_OK;
    }
    if (strcmp(cmd, "--version") == 0) {
        uint32_t abi = nq_abi_version();
        printf("nq %s (libnetqueue ABI %u.%u.%u)\n", nq_version_string(),
               abi >> 16, (abi >> 8) & 0xff, abi & 0xff);
        return CLI_OK;
    }
    if (strcmp(cmd, "adapter") == 0) /* conformance adapter, docs/spec/adapter.md */
        return cli_adapter(argc - 1, argv + 1);
    if (strcmp(cmd, "server") != 0 && strcmp(cmd, "client") != 0)
        return cli_usage_error("%s: unknown command (server, client; see nq --help)", cmd);

    struct cli_args a;
    int rc = cli_parse(&a, argc - 1, argv + 1);
    if (rc < 0)
        rc = strcmp(cmd, "server") == 0 ? cli_server(&a) : cli_client(&a);
    cli_args_free(&a);
    return rc;
}
