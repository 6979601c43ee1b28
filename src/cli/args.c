/* Command-line parsing for `nq server` and `nq client`. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
    OPT_PROTOCOL = 256, OPT_HOST, OPT_PORT, OPT_TLS, OPT_KEY, OPT_CERT, OPT_CA,
    OPT_SERVER_NAME, OPT_NO_VERIFY, OPT_CODEC, OPT_LEGACY, OPT_ID, OPT_QUIET,
    OPT_TIMEOUT, OPT_ECHO, OPT_REPLY, OPT_COUNT, OPT_CLIENTS, OPT_PUT,
    OPT_PUT_FILE, OPT_GET, OPT_HELP, OPT_QOS, OPT_USERNAME, OPT_PASSWORD,
    OPT_CLOSE_TIMEOUT, OPT_CONNECT_TIMEOUT, OPT_KEEPALIVE, OPT_CLIENT_CA, OPT_STATS,
    OPT_WORKERS
};

static const struct option options[] = {
    {"protocol", required_argument, NULL, OPT_PROTOCOL},
    {"host", required_argument, NULL, OPT_HOST},
    {"port", required_argument, NULL, OPT_PORT},
    {"tls", no_argument, NULL, OPT_TLS},
    {"key", required_argument, NULL, OPT_KEY},
    {"cert", required_argument, NULL, OPT_CERT},
    {"ca", required_argument, NULL, OPT_CA},
    {"client-ca", required_argument, NULL, OPT_CLIENT_CA},
    {"server-name", required_argument, NULL, OPT_SERVER_NAME},
    {"no-verify", no_argument, NULL, OPT_NO_VERIFY},
    {"codec", required_argument, NULL, OPT_CODEC},
    {"legacy", no_argument, NULL, OPT_LEGACY},
    {"id", required_argument, NULL, OPT_ID},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"echo", no_argument, NULL, OPT_ECHO},
    {"reply", required_argument, NULL, OPT_REPLY},
    {"count", required_argument, NULL, OPT_COUNT},
    {"clients", required_argument, NULL, OPT_CLIENTS},
    {"put", required_argument, NULL, OPT_PUT},
    {"put-file", required_argument, NULL, OPT_PUT_FILE},
    {"get", required_argument, NULL, OPT_GET},
    {"help", no_argument, NULL, OPT_HELP},
    {"qos", required_argument, NULL, OPT_QOS},
    {"username", required_argument, NULL, OPT_USERNAME},
    {"password", required_argument, NULL, OPT_PASSWORD},
    {"close-timeout", required_argument, NULL, OPT_CLOSE_TIMEOUT},
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"keepalive", required_argument, NULL, OPT_KEEPALIVE},
    {"stats", required_argument, NULL, OPT_STATS},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {NULL, 0, NULL, 0}
};

void cli_usage(FILE *f)
{
    fputs(
"usage: nq server [options] [--echo] [--reply TEXT] [--count N] [--clients N]\n"
"       nq client [options] [--put TEXT]... [--put-file F]... [--get N]\n"
"       nq --help | --version | <command> --help\n"
"\n"
"server: listen; print each message received as a line\n"
"  <peer-hex> <len> <text-or-repr>\n"
"  (raw codec: the bytes as text when printable UTF-8, else 0x and hex;\n"
"   pickle codec: the decoded value as Python prints its repr).\n"
"  On stderr it says `nq: listening on HOST:PORT` once it accepts clients.\n"
"  --echo          put each message back to its sender\n"
"  --reply TEXT    answer each message with TEXT\n"
"  --count N       after N messages, close (waiting for clients) and exit\n"
"  --clients N     once N clients have been seen and all have left, exit\n"
"  --timeout MS    exit 3 when no message comes for MS ms\n"
"  Without --count/--clients it runs until SIGINT or SIGTERM; it then closes,\n"
"  waiting up to --close-timeout (default 1000 ms) for clients to finish, and\n"
"  cuts (and names) those that did not. A second SIGINT or SIGTERM exits at once.\n"
"\n"
"client: put the messages in order, waiting for each to be sent, then get\n"
"N messages and print them as the server does, then close.\n"
"  --put TEXT      send TEXT (pickle codec: as a Python str); repeatable\n"
"  --put-file F    send the bytes of file F (pickle codec: as Python bytes)\n"
"  --get N         receive and print N messages (default 0)\n"
"  On a terminal, a put that takes a while shows its progress on stderr\n"
"  (bytes sent of the total, and the rate), cleared once it is sent.\n"
"  --timeout MS    bound each wait for a put or a get; default forever (a put\n"
"                  still fails once --connect-timeout passes without a server)\n"
"\n"
"common options:\n"
"  --protocol P    tcp (default), mqtt or grpc (if built in)\n"
"  --qos N         mqtt: QoS 0 (default), 1 or 2; host/port are the broker's\n"
"  --username U, --password P   mqtt: broker credentials\n"
"  --host H        address to bind or connect to (default 127.0.0.1)\n"
"  --port N        TCP port (default 51966; server: 0 picks a free one)\n"
"  --tls           use TLS\n"
"  --key F         server: private key (PEM); client: the key of --cert\n"
"  --cert F        server: certificate chain (PEM); client: certificate to\n"
"                  present to a server that requires one (with --key)\n"
"  --client-ca F   server: require client certificates verified against\n"
"                  the CA file F (mutual TLS; tcp and grpc)\n"
"  --ca F          client: CA file to verify the server (default: system)\n"
"  --server-name S client: name to verify instead of --host\n"
"  --no-verify     client: skip server verification (testing only)\n"
"  --codec C       raw (default) or pickle (Python peers' default)\n"
"  --legacy        net-queue 0.1.x dialect (empty frame as fin)\n"
"  --id HEX        own id, 32 hex digits (default random)\n"
"  --close-timeout MS  bound on close (default: server 1000, client 5000;\n"
"                  --timeout, when given, bounds it too)\n"
"  --connect-timeout MS  client: fail pending puts after MS ms without\n"
"                  reaching the server (default 30000; -1 never)\n"
"  --keepalive MS  cut a peer silent for about MS ms (default 30000; 0 off)\n"
"  --workers N     server, tcp/tls: run the sessions on N I/O threads (1-64;\n"
"                  default 1)\n"
"  --stats N       every N seconds, and once at exit, print the communicator's\n"
"                  statistics on stderr as one line of key=value (rates per\n"
"                  second for messages and bytes in and out)\n"
"  --quiet         print no messages and no status lines, only errors\n"
"\n"
"exit codes: 0 ok, 1 runtime or network error, 2 usage error, 3 timeout\n"
"errors: `nq: <what>: <status> (<detail>)` on stderr\n", f);
}

static int parse_long(const char *opt, const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return cli_usage_error("%s: '%s' is not a number in %ld..%ld", opt, s, min, max);
    *out = v;
    return -1;
}

static const char *opt_name(int opt)
{
    for (const struct option *o = options; o->name; o++)
        if (o->val == opt)
            return o->name;
    return "?";
}

/* Options that only one command takes; the other rejects them. */
static int command_only(const struct cli_args *a, int opt)
{
    int server = strcmp(a->cmd, "server") == 0;
    switch (opt) {
    case OPT_ECHO: case OPT_REPLY: case OPT_COUNT: case OPT_CLIENTS: case OPT_CLIENT_CA:
        return server ? 0 : -1;
    case OPT_PUT: case OPT_PUT_FILE: case OPT_GET:
        return server ? -1 : 0;
    default:
        return 0;
    }
}

static int add_put(struct cli_args *a, const char *arg, int is_file)
{
    struct cli_put *p = realloc(a->puts, (a->nputs + 1) * sizeof *p);
    if (!p) {
        fprintf(stderr, "nq: out of memory\n");
        return CLI_ERROR;
    }
    a->puts = p;
    p[a->nputs].arg = arg;
    p[a->nputs].is_file = is_file;
    a->nputs++;
    return -1;
}

static int apply(struct cli_args *a, int opt, const char *arg)
{
    long v;
    int rc = -1;
    switch (opt) {
    case OPT_PROTOCOL:
        /* a protocol this build lacks fails in nq_comm_new with NQ_EUNSUPPORTED */
        if (strcmp(arg, "tcp") == 0)
            a->protocol = NQ_TCP;
        else if (strcmp(arg, "mqtt") == 0)
            a->protocol = NQ_MQTT;
        else if (strcmp(arg, "grpc") == 0)
            a->protocol = NQ_GRPC;
        else
            return cli_usage_error("--protocol %s: unknown protocol (tcp, mqtt, grpc)", arg);
        break;
    case OPT_HOST: a->host = arg; break;
    case OPT_PORT:
        rc = parse_long("--port", arg, 0, 65535, &v);
        a->port = (int)v;
        break;
    case OPT_TLS: a->tls = 1; break;
    case OPT_KEY: a->key = arg; break;
    case OPT_CERT: a->cert = arg; break;
    case OPT_CA: a->ca = arg; break;
    case OPT_CLIENT_CA: a->client_ca = arg; break;
    case OPT_SERVER_NAME: a->server_name = arg; break;
    case OPT_NO_VERIFY: a->verify = 0; break;
    case OPT_CODEC:
        if (strcmp(arg, "raw") == 0)
            a->codec = NQ_CODEC_RAW;
        else if (strcmp(arg, "pickle") == 0)
            a->codec = NQ_CODEC_PICKLE;
        else
            return cli_usage_error("--codec %s: expected raw or pickle", arg);
        break;
    case OPT_LEGACY: a->legacy = 1; break;
    case OPT_ID:
        if (nq_id_parse(arg, a->id) != NQ_OK)
            return cli_usage_error("--id %s: expected 32 hex digits", arg);
        a->has_id = 1;
        break;
    case OPT_QUIET: a->quiet = 1; break;
    case OPT_TIMEOUT:
        rc = parse_long("--timeout", arg, 0, LONG_MAX, &v);
        a->timeout_ms = v;
        break;
    case OPT_ECHO: a->echo = 1; break;
    case OPT_REPLY: a->reply = arg; break;
    case OPT_COUNT: rc = parse_long("--count", arg, 1, LONG_MAX, &a->count); break;
    case OPT_CLIENTS: rc = parse_long("--clients", arg, 1, LONG_MAX, &a->clients); break;
    case OPT_PUT: rc = add_put(a, arg, 0); break;
    case OPT_PUT_FILE: rc = add_put(a, arg, 1); break;
    case OPT_GET: rc = parse_long("--get", arg, 0, LONG_MAX, &a->get); break;
    case OPT_QOS:
        rc = parse_long("--qos", arg, 0, 2, &v);
        a->qos = (int)v;
        break;
    case OPT_USERNAME: a->username = arg; break;
    case OPT_PASSWORD: a->password = arg; break;
    case OPT_CLOSE_TIMEOUT:
        rc = parse_long("--close-timeout", arg, 0, LONG_MAX, &v);
        a->close_timeout_ms = v;
        break;
    case OPT_CONNECT_TIMEOUT:
        rc = parse_long("--connect-timeout", arg, -1, LONG_MAX, &v);
        a->connect_timeout_ms = v;
        a->has_connect_timeout = 1;
        break;
    case OPT_STATS: rc = parse_long("--stats", arg, 1, 86400, &a->stats_s); break;
    case OPT_WORKERS: rc = parse_long("--workers", arg, 1, 64, &a->workers); break;
    case OPT_KEEPALIVE:
        rc = parse_long("--keepalive", arg, 0, 86400000, &v);
        a->keepalive_ms = v;
        a->has_keepalive = 1;
        break;
    }
    return rc;
}

int cli_parse(struct cli_args *a, int argc, char **argv)
{
    memset(a, 0, sizeof *a);
    a->cmd = argv[0];
    a->port = -1;
    a->verify = 1;
    a->codec = NQ_CODEC_RAW;
    a->timeout_ms = NQ_FOREVER;
    a->close_timeout_ms = -1;

    opterr = 0; /* our own messages, in our error format */
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt == OPT_HELP) {
            cli_usage(stdout);
            return CLI_OK;
        }
        if (opt == '?' || opt == ':') {
            const char *bad = argv[optind - 1];
            if (optopt)
                return cli_usage_error("%s: missing or unexpected argument", bad);
            return cli_usage_error("%s: unknown option (see nq --help)", bad);
        }
        if (command_only(a, opt))
            return cli_usage_error("--%s: not an option of nq %s", opt_name(opt), a->cmd);
        int rc = apply(a, opt, optarg);
        if (rc >= 0)
            return rc;
    }
    if (optind < argc)
        return cli_usage_error("%s: unexpected argument (see nq --help)", argv[optind]);
    if (a->tls && strcmp(a->cmd, "server") == 0 && (!a->key || !a->cert))
        return cli_usage_error("--tls: a server needs --key and --cert");
    if (a->close_timeout_ms < 0)
        a->close_timeout_ms = a->timeout_ms >= 0 ? a->timeout_ms
                              : strcmp(a->cmd, "server") == 0 ? CLI_SERVER_CLOSE_MS
                                                              : CLI_CLIENT_CLOSE_MS;
    if (!a->tls && (a->key || a->cert || a->ca || a->server_name || !a->verify || a->client_ca))
        return cli_usage_error("--key/--cert/--ca/--client-ca/--server-name/--no-verify need --tls");
    if (!a->key != !a->cert) /* client: a certificate to present, with its key */
        return cli_usage_error("--key and --cert: a client certificate needs both");
    return -1;
}

void cli_args_free(struct cli_args *a)
{
    free(a->puts);
    a->puts = NULL;
    a->nputs = 0;
}
