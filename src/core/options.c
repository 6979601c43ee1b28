/* Options builder: validation happens in the setters so that a bad value is
 * reported where it was given, not later at nq_comm_new(). */
#include <stdlib.h>
#include <string.h>

#include "core/options_internal.h"
#include <netqueue/receive.h>
#include "core/status.h"

#define KIB (UINT64_C(1) << 10)
#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)
#define LIMIT_MAX (UINT64_C(1) << 62)

nq_status nq_options_defaults(struct nq_options *o)
{
    memset(o, 0, sizeof *o);
    nq_status st = nq_id_random(o->id);
    if (st != NQ_OK)
        return st;
    strcpy(o->host, "127.0.0.1");
    o->port = 51966;
    o->workers = 1;
    o->transport_size = 16 * MIB;
    o->merge = 1;
    o->message_limit = 1 * GIB;
    o->queue_limit = 32 * MIB; /* backpressure, not dropping, past it: a small bound costs no messages */
    o->queue_policy = NQ_QUEUE_BLOCK;
    o->dialect = NQ_DIALECT_CURRENT;
    o->codec = NQ_CODEC_RAW;
    o->tls_verify = 1;
    o->connect_timeout_ms = NQ_DEFAULT_CONNECT_TIMEOUT_MS;
    o->keepalive_ms = NQ_DEFAULT_KEEPALIVE_MS;
    o->peer_limit = NQ_DEFAULT_PEER_LIMIT;
    o->partial_limit = NQ_DEFAULT_PARTIAL_LIMIT;
    o->linger_ms = 60000;
    o->linger_max = 65536;
    o->log_level = NQ_LOG_WARN;
    return NQ_OK;
}

nq_status nq_options_new(nq_options **out)
{
    if (!out)
        return nq_fail(NQ_EINVAL, "options: out is NULL");
    struct nq_options *o = malloc(sizeof *o);
    if (!o)
        return nq_fail(NQ_ENOMEM, "options: out of memory");
    nq_status st = nq_options_defaults(o);
    if (st != NQ_OK) {
        free(o);
        return st;
    }
    *out = o;
    return NQ_OK;
}

void nq_options_clear(struct nq_options *o)
{
    free(o->tls_key);
    free(o->tls_cert);
    free(o->tls_ca);
    free(o->tls_server_name);
    free(o->tls_client_ca);
    o->tls_key = o->tls_cert = o->tls_ca = o->tls_server_name = o->tls_client_ca = NULL;
}

void nq_options_free(nq_options *opts)
{
    if (!opts)
        return;
    nq_options_clear(opts);
    free(opts);
}

static int dup_opt(char **dst, const char *src)
{
    *dst = NULL;
    if (!src)
        return 0;
    *dst = strdup(src);
    return *dst ? 0 : -1;
}

nq_status nq_options_clone_into(struct nq_options *dst, const struct nq_options *src)
{
    *dst = *src;
    /* none shared with src, so that a failed copy frees only its own */
    dst->tls_key = dst->tls_cert = dst->tls_ca = dst->tls_server_name = dst->tls_client_ca = NULL;
    if (dup_opt(&dst->tls_key, src->tls_key) || dup_opt(&dst->tls_cert, src->tls_cert) ||
        dup_opt(&dst->tls_ca, src->tls_ca) ||
        dup_opt(&dst->tls_server_name, src->tls_server_name) ||
        dup_opt(&dst->tls_client_ca, src->tls_client_ca)) {
        nq_options_clear(dst);
        return nq_fail(NQ_ENOMEM, "options: out of memory");
    }
    return NQ_OK;
}

nq_status nq_options_copy(nq_options **out, const nq_options *opts)
{
    if (!out || !opts)
        return nq_fail(NQ_EINVAL, "options: NULL argument");
    struct nq_options *o = malloc(sizeof *o);
    if (!o)
        return nq_fail(NQ_ENOMEM, "options: out of memory");
    nq_status st = nq_options_clone_into(o, opts);
    if (st != NQ_OK) {
        free(o);
        return st;
    }
    *out = o;
    return NQ_OK;
}

#define CHECK_OPTS(o) \
    do { \
        if (!(o)) \
            return nq_fail(NQ_EINVAL, "options: handle is NULL"); \
    } while (0)

nq_status nq_options_set_id(nq_options *o, const uint8_t *id)
{
    CHECK_OPTS(o);
    if (!id)
        return nq_fail(NQ_EINVAL, "options: id is NULL");
    memcpy(o->id, id, NQ_ID_SIZE);
    return NQ_OK;
}

nq_status nq_options_set_host(nq_options *o, const char *host)
{
    CHECK_OPTS(o);
    if (!host || !*host || strlen(host) > NQ_HOST_MAX)
        return nq_fail(NQ_EINVAL, "options: host must be 1..%d bytes", NQ_HOST_MAX);
    strcpy(o->host, host);
    return NQ_OK;
}

nq_status nq_options_set_port(nq_options *o, int port)
{
    CHECK_OPTS(o);
    if (port < 0 || port > 65535)
        return nq_fail(NQ_EINVAL, "options: port %d is not in 0..65535", port);
    o->port = port;
    return NQ_OK;
}

nq_status nq_options_set_workers(nq_options *o, int workers)
{
    CHECK_OPTS(o);
    if (workers < 1 || workers > 64)
        return nq_fail(NQ_EINVAL, "options: workers %d is not in 1..64", workers);
    o->workers = workers;
    return NQ_OK;
}

nq_status nq_options_set_transport_size(nq_options *o, uint64_t bytes)
{
    CHECK_OPTS(o);
    if (bytes < 4 * KIB || bytes > GIB)
        return nq_fail(NQ_EINVAL, "options: transport size %llu is not in 4 KiB..1 GiB",
                       (unsigned long long)bytes);
    o->transport_size = bytes;
    return NQ_OK;
}

nq_status nq_options_set_merge(nq_options *o, int enabled)
{
    CHECK_OPTS(o);
    o->merge = enabled != 0;
    return NQ_OK;
}

nq_status nq_options_set_message_limit(nq_options *o, uint64_t bytes)
{
    CHECK_OPTS(o);
    if (bytes > LIMIT_MAX)
        return nq_fail(NQ_EINVAL, "options: message limit %llu is above 2^62",
                       (unsigned long long)bytes);
    o->message_limit = bytes;
    return NQ_OK;
}

nq_status nq_options_set_queue_limit(nq_options *o, uint64_t bytes)
{
    CHECK_OPTS(o);
    if (bytes < KIB || bytes > LIMIT_MAX)
        return nq_fail(NQ_EINVAL, "options: queue limit %llu is not in 1 KiB..2^62",
                       (unsigned long long)bytes);
    o->queue_limit = bytes;
    return NQ_OK;
}

nq_status nq_options_set_events(nq_options *o, unsigned mask)
{
    CHECK_OPTS(o);
    if (mask & ~(unsigned)NQ_EVENTS_ALL)
        return nq_fail(NQ_EINVAL, "options: event mask 0x%x has bits that are no event kind",
                       mask);
    o->events = mask;
    return NQ_OK;
}

nq_status nq_options_set_queue_policy(nq_options *o, nq_queue_policy policy)
{
    CHECK_OPTS(o);
    if (policy != NQ_QUEUE_BLOCK && policy != NQ_QUEUE_DROP_OLDEST && policy != NQ_QUEUE_DROP_NEWEST)
        return nq_fail(NQ_EINVAL, "options: unknown queue policy %d", (int)policy);
    o->queue_policy = policy;
    return NQ_OK;
}

nq_status nq_options_set_dialect(nq_options *o, nq_dialect dialect)
{
    CHECK_OPTS(o);
    if (dialect != NQ_DIALECT_CURRENT && dialect != NQ_DIALECT_LEGACY)
        return nq_fail(NQ_EINVAL, "options: unknown dialect %d", (int)dialect);
    o->dialect = dialect;
    return NQ_OK;
}

nq_status nq_options_set_codec(nq_options *o, nq_codec codec)
{
    CHECK_OPTS(o);
    if (codec != NQ_CODEC_RAW && codec != NQ_CODEC_PICKLE)
        return nq_fail(NQ_EINVAL, "options: unknown codec %d", (int)codec);
    o->codec = codec;
    return NQ_OK;
}

nq_status nq_options_set_tls(nq_options *o, int enabled)
{
    CHECK_OPTS(o);
    o->tls = enabled != 0;
    return NQ_OK;
}

static nq_status set_path(char **dst, const char *path, const char *what)
{
    if (path && !*path)
        return nq_fail(NQ_EINVAL, "options: %s is an empty string", what);
    char *copy = NULL;
    if (path && !(copy = strdup(path)))
        return nq_fail(NQ_ENOMEM, "options: out of memory");
    free(*dst);
    *dst = copy;
    return NQ_OK;
}

nq_status nq_options_set_tls_key(nq_options *o, const char *path)
{
    CHECK_OPTS(o);
    return set_path(&o->tls_key, path, "TLS key path");
}

nq_status nq_options_set_tls_cert(nq_options *o, const char *path)
{
    CHECK_OPTS(o);
    return set_path(&o->tls_cert, path, "TLS certificate path");
}

nq_status nq_options_set_tls_ca(nq_options *o, const char *path)
{
    CHECK_OPTS(o);
    return set_path(&o->tls_ca, path, "TLS CA path");
}

nq_status nq_options_set_tls_server_name(nq_options *o, const char *name)
{
    CHECK_OPTS(o);
    return set_path(&o->tls_server_name, name, "TLS server name");
}

nq_status nq_options_set_tls_verify(nq_options *o, int enabled)
{
    CHECK_OPTS(o);
    o->tls_verify = enabled != 0;
    return NQ_OK;
}

nq_status nq_options_set_tls_client_ca(nq_options *o, const char *path)
{
    CHECK_OPTS(o);
    return set_path(&o->tls_client_ca, path, "TLS client CA path");
}

nq_status nq_options_set_connect_timeout(nq_options *o, int64_t timeout_ms)
{
    CHECK_OPTS(o);
    if (timeout_ms < -1)
        return nq_fail(NQ_EINVAL, "options: connect timeout %lld is below -1", (long long)timeout_ms);
    o->connect_timeout_ms = timeout_ms;
    return NQ_OK;
}

nq_status nq_options_set_keepalive(nq_options *o, int64_t timeout_ms)
{
    CHECK_OPTS(o);
    if (timeout_ms != 0 && (timeout_ms < 1000 || timeout_ms > 86400000))
        return nq_fail(NQ_EINVAL, "options: keepalive %lld ms is not 0 or 1000..86400000",
                       (long long)timeout_ms);
    o->keepalive_ms = timeout_ms;
    return NQ_OK;
}

/* The byte limits that take 0 for "none" or 1 KiB .. 2^62. */
static nq_status set_limit_or_none(uint64_t *dst, uint64_t bytes, const char *what)
{
    if (bytes != 0 && (bytes < KIB || bytes > LIMIT_MAX))
        return nq_fail(NQ_EINVAL, "options: %s %llu is not 0 or 1 KiB..2^62", what,
                       (unsigned long long)bytes);
    *dst = bytes;
    return NQ_OK;
}

nq_status nq_options_set_peer_limit(nq_options *o, uint64_t bytes)
{
    CHECK_OPTS(o);
    return set_limit_or_none(&o->peer_limit, bytes, "peer limit");
}

nq_status nq_options_set_partial_limit(nq_options *o, uint64_t bytes)
{
    CHECK_OPTS(o);
    return set_limit_or_none(&o->partial_limit, bytes, "partial limit");
}

nq_status nq_options_set_log(nq_options *o, nq_log_fn fn, void *user, nq_log_level level)
{
    CHECK_OPTS(o);
    if (level < NQ_LOG_ERROR || level > NQ_LOG_DEBUG)
        return nq_fail(NQ_EINVAL, "options: unknown log level %d", (int)level);
    o->log_fn = fn;
    o->log_user = user;
    o->log_level = level;
    return NQ_OK;
}

nq_status nq_options_set_send_limit(nq_options *o, uint64_t bytes)
{
    CHECK_OPTS(o);
    return set_limit_or_none(&o->send_limit, bytes, "send limit");
}
