/* TLS set-up. Verification is on by default and checks the host name or IP
 * address the client dialled, as a browser would. */
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

#include "tls/tls.h"

static const char *err_text(void)
{
    static _Thread_local char buf[256];
    unsigned long e = ERR_get_error();
    if (!e)
        return "unknown reason";
    ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return buf;
}

nq_status nq_tls_context(SSL_CTX **out, const struct nq_options *o, int server)
{
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!ctx)
        return nq_fail(NQ_ETLS, "tls: cannot create a context: %s", err_text());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (server) {
        if (!o->tls_key || !o->tls_cert) {
            SSL_CTX_free(ctx);
            return nq_fail(NQ_ETLS, "tls: a server needs both a key and a certificate chain");
        }
        if (SSL_CTX_use_certificate_chain_file(ctx, o->tls_cert) != 1) {
            const char *why = err_text();
            SSL_CTX_free(ctx);
            return nq_fail(NQ_ETLS, "tls: cannot load certificate chain %s: %s", o->tls_cert, why);
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, o->tls_key, SSL_FILETYPE_PEM) != 1) {
            const char *why = err_text();
            SSL_CTX_free(ctx);
            return nq_fail(NQ_ETLS, "tls: cannot load private key %s: %s", o->tls_key, why);
        }
        if (SSL_CTX_check_private_key(ctx) != 1) {
            SSL_CTX_free(ctx);
            return nq_fail(NQ_ETLS, "tls: key %s does not match certificate %s", o->tls_key,
                           o->tls_cert);
        }
    } else {
        if (o->tls_verify) {
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
            int ok = o->tls_ca ? SSL_CTX_load_verify_locations(ctx, o->tls_ca, NULL)
                               : SSL_CTX_set_default_verify_paths(ctx);
            if (ok != 1) {
                const char *why = err_text();
                SSL_CTX_free(ctx);
                return nq_fail(NQ_ETLS, "tls: cannot load CA %s: %s",
                               o->tls_ca ? o->tls_ca : "(system store)", why);
            }
        } else {
            SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        }
        if (o->tls_cert && o->tls_key) { /* optional client certificate */
            if (SSL_CTX_use_certificate_chain_file(ctx, o->tls_cert) != 1 ||
                SSL_CTX_use_PrivateKey_file(ctx, o->tls_key, SSL_FILETYPE_PEM) != 1) {
                const char *why = err_text();
                SSL_CTX_free(ctx);
                return nq_fail(NQ_ETLS, "tls: cannot load client certificate: %s", why);
            }
        }
    }
    *out = ctx;
    return NQ_OK;
}

static int is_ip(const char *host)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

SSL *nq_tls_new(SSL_CTX *ctx, int fd, const struct nq_options *o, int server)
{
    SSL *ssl = SSL_new(ctx);
    if (!ssl)
        return NULL;
    if (SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        return NULL;
    }
    if (server) {
        SSL_set_accept_state(ssl);
        return ssl;
    }
    SSL_set_connect_state(ssl);
    const char *name = o->tls_server_name ? o->tls_server_name : o->host;
    if (!is_ip(name))
        SSL_set_tlsext_host_name(ssl, name);
    if (o->tls_verify) {
        X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
        int ok = is_ip(name) ? X509_VERIFY_PARAM_set1_ip_asc(param, name)
                             : X509_VERIFY_PARAM_set1_host(param, name, 0);
        if (ok != 1) {
            SSL_free(ssl);
            return NULL;
        }
    }
    return ssl;
}

const char *nq_tls_reason(SSL *ssl)
{
    static _Thread_local char buf[320];
    long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    const char *e = err_text();
    if (v != X509_V_OK)
        snprintf(buf, sizeof buf, "certificate verify failed: %s", X509_verify_cert_error_string(v));
    else
        snprintf(buf, sizeof buf, "%s", e);
    return buf;
}
