/* The nq command-line tool: shared declarations of its small modules. */
#ifndef NQ_CLI_H
#define NQ_CLI_H

#include <stdio.h>
#include <netqueue/netqueue.h>

/* Exit codes, as documented by `nq --help`. */
enum {
    CLI_OK = 0,      /* done */
    CLI_ERROR = 1,   /* runtime or network error */
    CLI_USAGE = 2,   /* bad command line */
    CLI_TIMEOUT = 3  /* a --timeout elapsed */
};

/* Default bounds on close: a server must stop soon after SIGINT whatever
 * its peers do; a client gives its server time to answer its fin. */
#define CLI_SERVER_CLOSE_MS 1000
#define CLI_CLIENT_CLOSE_MS 5000

/* One --put (text) or --put-file (path), kept in command-line order. */
struct cli_put {
    const char *arg;
    int is_file;
};

struct cli_args {
    const char *cmd;            /* "server" or "client" */
    nq_protocol protocol;       /* NQ_TCP unless --protocol */
    int qos;                    /* mqtt: --qos */
    const char *username, *password; /* mqtt: broker credentials */
    const char *host;           /* NULL: library default */
    int port;                   /* -1: library default */
    int tls, verify;
    const char *key, *cert, *ca, *server_name;
    const char *client_ca;      /* server: --client-ca (mutual TLS) */
    nq_codec codec;
    int legacy;
    int has_id;
    uint8_t id[NQ_ID_SIZE];
    int quiet;
    int64_t timeout_ms;         /* NQ_FOREVER unless --timeout */
    int64_t close_timeout_ms;   /* --close-timeout, else --timeout, else the default */
    int64_t connect_timeout_ms; /* with has_connect_timeout */
    int64_t keepalive_ms;       /* with has_keepalive */
    int has_connect_timeout, has_keepalive;
    long stats_s;               /* --stats N: every N s on stderr (0: none) */
    long workers;               /* --workers N (0: not given) */
    /* server */
    int echo;
    const char *reply;
    long count, clients;        /* 0: unlimited */
    /* client */
    struct cli_put *puts;
    size_t nputs;
    long get;
};

/* args.c: parse argv[0..argc) of a subcommand (argv[0] is its name).
 * Returns -1 to go on, else the exit code to leave with (help: 0). */
int cli_parse(struct cli_args *a, int argc, char **argv);
void cli_args_free(struct cli_args *a);
void cli_usage(FILE *f);

/* errors.c */
int cli_exit_code(nq_status st);
int cli_fail(const char *what, nq_status st);
/* For statuses that come from a completion, where nq_last_error() does not
 * describe them. */
int cli_fail_status(const char *what, nq_status st);
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* comm.c: a communicator configured from the command line. */
int cli_comm_new(const struct cli_args *a, nq_purpose purpose, nq_comm **out);
/* Payload for text (a str under pickle) or file bytes (bytes under pickle).
 * *out is malloc'd; free() it. */
int cli_encode(nq_codec codec, const void *data, size_t size, int is_text,
               void **out, size_t *out_size);
int cli_read_file(const char *path, void **out, size_t *size);

/* print.c: `<peer-hex> <len> <text-or-repr>` for a received message. */
int cli_print_msg(FILE *f, const nq_msg *msg, nq_codec codec);
/* repr.c: Python-like repr of a decoded value. */
void cli_repr(FILE *f, const nq_value *v);

/* report.c: `--stats N` lines and, on a terminal, the progress of long
 * puts, from a thread of their own (none when there is nothing to show).
 * stop prints the final stats line (with --stats) and frees. */
struct cli_report;
int cli_report_start(struct cli_report **out, nq_comm *c, long stats_s, int progress);
/* A put of payload_size bytes named name begins (NULL: it ended). */
void cli_report_put(struct cli_report *r, const char *name, uint64_t payload_size);
void cli_report_stop(struct cli_report *r);

int cli_server(const struct cli_args *a);
int cli_client(const struct cli_args *a);
/* adapter.c: `nq adapter`, the conformance suite's adapter (argv[0] is its name). */
int cli_adapter(int argc, char **argv);

#endif
