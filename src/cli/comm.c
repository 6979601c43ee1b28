/* Turning the command line into a communicator, and payloads into bytes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Option setters fail only on values the user gave: a usage error. */
#define SET(call, what) do { \
        nq_status st_ = (call); \
        if (st_ != NQ_OK) { \
            cli_fail(what, st_); \
            nq_options_free(o); \
            return st_ == NQ_EINVAL ? CLI_USAGE : CLI_ERROR; \
        } \
    } while (0)

int cli_comm_new(const struct cli_args *a, nq_purpose purpose, nq_comm **out)
{
    nq_options *o = NULL;
    nq_status st = nq_options_new(&o);
    if (st != NQ_OK)
        return cli_fail("options", st);
    if (a->host)
        SET(nq_options_set_host(o, a->host), "--host");
    if (a->port >= 0)
        SET(nq_options_set_port(o, a->port), "--port");
    if (a->has_id)
        SET(nq_options_set_id(o, a->id), "--id");
    SET(nq_options_set_codec(o, a->codec), "--codec");
    if (a->legacy)
        SET(nq_options_set_dialect(o, NQ_DIALECT_LEGACY), "--legacy");
    if (a->tls) {
        SET(nq_options_set_tls(o, 1), "--tls");
        if (a->key)
            SET(nq_options_set_tls_key(o, a->key), "--key");
        if (a->cert)
            SET(nq_options_set_tls_cert(o, a->cert), "--cert");
        if (a->ca)
            SET(nq_options_set_tls_ca(o, a->ca), "--ca");
        if (a->client_ca)
            SET(nq_options_set_tls_client_ca(o, a->client_ca), "--client-ca");
        if (a->server_name)
            SET(nq_options_set_tls_server_name(o, a->server_name), "--server-name");
        if (!a->verify)
            SET(nq_options_set_tls_verify(o, 0), "--no-verify");
    }
    if (a->has_connect_timeout)
        SET(nq_options_set_connect_timeout(o, a->connect_timeout_ms), "--connect-timeout");
    if (a->has_keepalive)
        SET(nq_options_set_keepalive(o, a->keepalive_ms), "--keepalive");
    if (a->workers)
        SET(nq_options_set_workers(o, (int)a->workers), "--workers");
    if (a->qos)
        SET(nq_options_set_mqtt_qos(o, a->qos), "--qos");
    if (a->username)
        SET(nq_options_set_mqtt_username(o, a->username), "--username");
    if (a->password)
        SET(nq_options_set_mqtt_password(o, a->password), "--password");
    st = nq_comm_new(out, a->protocol, purpose, o);
    nq_options_free(o);
    if (st != NQ_OK)
        return cli_fail(purpose == NQ_SERVER ? "server" : "client", st);
    return CLI_OK;
}

int cli_encode(nq_codec codec, const void *data, size_t size, int is_text,
               void **out, size_t *out_size)
{
    if (codec == NQ_CODEC_RAW) {
        /* malloc(0) may return NULL: keep one byte so NULL means failure. */
        *out = malloc(size ? size : 1);
        if (!*out)
            return cli_fail("encode", NQ_ENOMEM);
        if (size)
            memcpy(*out, data, size);
        *out_size = size;
        return CLI_OK;
    }
    nq_value *v = NULL;
    nq_status st = is_text ? nq_value_new_str(&v, data, size)
                           : nq_value_new_bytes(&v, data, size);
    if (st != NQ_OK)
        return st == NQ_EINVAL ? (cli_fail("--put: not UTF-8 text", st), CLI_USAGE)
                               : cli_fail("encode", st);
    void *buf = NULL;
    st = nq_pickle_dump(v, &buf, out_size);
    nq_value_free(v);
    if (st != NQ_OK)
        return cli_fail("pickle", st);
    /* Copy so callers free() every payload alike. */
    *out = malloc(*out_size ? *out_size : 1);
    if (*out)
        memcpy(*out, buf, *out_size);
    nq_buffer_free(buf);
    return *out ? CLI_OK : cli_fail("encode", NQ_ENOMEM);
}

int cli_read_file(const char *path, void **out, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "nq: --put-file %s: %s\n", path, strerror(errno));
        return CLI_USAGE;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap)
            break;
        char *more = realloc(buf, cap * 2);
        if (!more) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = more;
        cap *= 2;
    }
    int err = ferror(f);
    fclose(f);
    if (!buf)
        return cli_fail("--put-file", NQ_ENOMEM);
    if (err) {
        fprintf(stderr, "nq: --put-file %s: read error\n", path);
        free(buf);
        return CLI_ERROR;
    }
    *out = buf;
    *size = len;
    return CLI_OK;
}
