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

/* Mutual TLS: ask every client for a certificate, naming the CAs of path as
 * acceptable issuers, and fail the handshake without one that verifies. */
static nq_status require_client_certs(SSL_CTX *ctx, const char *path)
{
    if (SSL_CTX_load_verify_locations(ctx, path, NULL) != 1)
        return nq_fail(NQ_ETLS, "tls: cannot load client CA %s: %s", path, err_text());
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(path);
    if (!names)
        return nq_fail(NQ_ETLS, "tls: client CA %s holds no certificate: %s", path, err_text());
    SSL_CTX_set_client_CA_list(ctx, names); /* takes names */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    /* a session resumed from a ticket skips the client's certificate: tie
     * tickets to this context (and OpenSSL refuses resumption without it) */
    static const unsigned char sid_ctx[] = "netqueue mutual TLS";
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
    ERR_clear_error();
    return NQ_OK;
}

/* The certificate a client presents when a server asks for one: both files
 * or neither, and the key must be the certificate's. */
static nq_status use_client_cert(SSL_CTX *ctx, const struct nq_options *o)
{
    if (!o->tls_cert || !o->tls_key)
        return nq_fail(NQ_ETLS, "tls: a client certificate needs both a certificate chain and "
                                "its key (only the %s is set)", o->tls_cert ? "certificate" : "key");
    if (SSL_CTX_use_certificate_chain_file(ctx, o->tls_cert) != 1)
        return nq_fail(NQ_ETLS, "tls: cannot load client certificate chain %s: %s", o->tls_cert,
                       err_text());
    if (SSL_CTX_use_PrivateKey_file(ctx, o->tls_key, SSL_FILETYPE_PEM) != 1)
        return nq_fail(NQ_ETLS, "tls: cannot load client private key %s: %s", o->tls_key,
                       err_text());
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        return nq_fail(NQ_ETLS, "tls: client key %s does not match certificate %s", o->tls_key,
                       o->tls_cert);
    }
    return NQ_OK;
}

nq_status nq_tls_context(SSL_CTX **out, const struct nq_options *o, int server)
{
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!ctx)
        return nq_fail(NQ_ETLS, "tls: cannot create a context: %s", err_text());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    /* read many records per recv: without it every 16 KiB record costs
     * two reads (header, body) */
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_default_read_buffer_len(ctx, NQ_TLS_READ_AHEAD);
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
        if (o->tls_client_ca) {
            nq_status st = require_client_certs(ctx, o->tls_client_ca);
            if (st != NQ_OK) {
                SSL_CTX_free(ctx);
                return st;
            }
        }
    } else {
        if (o->tls_client_ca) { /* nq_comm_new checks this first; kept for other callers */
            SSL_CTX_free(ctx);
            return nq_fail(NQ_EINVAL, "tls: a client CA (mutual TLS) is a server option; "
                                      "a client verifies its server with the TLS CA option");
        }
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
        if (o->tls_cert || o->tls_key) { /* a client certificate, for mutual TLS */
            nq_status st = use_client_cert(ctx, o);
            if (st != NQ_OK) {
                SSL_CTX_free(ctx);
                return st;
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
    /* Records are written into a buffer BIO in front of the socket and
     * reach the kernel in one write per NQ_TLS_WRITE_BUFFER bytes (or at a
     * flush: nq_tls_flush), not one write per 16 KiB record. */
    BIO *sock = BIO_new_socket(fd, BIO_NOCLOSE);
    BIO *buf = BIO_new(BIO_f_buffer());
    if (!sock || !buf || BIO_set_write_buffer_size(buf, NQ_TLS_WRITE_BUFFER) != 1 ||
        !BIO_up_ref(sock)) {
        BIO_free(sock);
        BIO_free(buf);
        SSL_free(ssl);
        return NULL;
    }
    BIO_push(buf, sock);
    SSL_set_bio(ssl, sock, buf); /* the SSL owns both: sock's two references */
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

/* An alert the peer sent about certificates (ours, as it saw them): its
 * description, else NULL. Alert reasons are SSL_AD_REASON_OFFSET + code. */
static const char *cert_alert_text(int reason)
{
    switch (reason - SSL_AD_REASON_OFFSET) {
    case SSL_AD_BAD_CERTIFICATE: return "bad certificate";
    case SSL_AD_UNSUPPORTED_CERTIFICATE: return "unsupported certificate";
    case SSL_AD_CERTIFICATE_REVOKED: return "certificate revoked";
    case SSL_AD_CERTIFICATE_EXPIRED: return "certificate expired";
    case SSL_AD_CERTIFICATE_UNKNOWN: return "certificate unknown";
    case SSL_AD_UNKNOWN_CA: return "unknown CA";
    case SSL_AD_ACCESS_DENIED: return "access denied";
    case SSL_AD_CERTIFICATE_REQUIRED: return "certificate required";
    default: return NULL;
    }
}

const char *nq_tls_reason(SSL *ssl)
{
    return nq_tls_reason_ex(ssl, NULL);
}

const char *nq_tls_io_reason(SSL *ssl, int saved_errno)
{
    static _Thread_local char buf[160];
    if (ERR_peek_error() != 0 || !saved_errno)
        return nq_tls_reason(ssl);
    snprintf(buf, sizeof buf, "%s", strerror(saved_errno));
    return buf;
}

const char *nq_tls_reason_ex(SSL *ssl, int *cert_alert)
{
    static _Thread_local char buf[512];
    int server = ssl && SSL_is_server(ssl);
    long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    unsigned long first = ERR_peek_error();
    int reason = ERR_GET_LIB(first) == ERR_LIB_SSL ? ERR_GET_REASON(first) : 0;
    const char *alert = cert_alert_text(reason);
    /* TLS 1.2 servers answer a missing client certificate with a bare
     * handshake failure: it is about certificates if the server asked for
     * one (it sent acceptable CA names) and we had none */
    if (!alert && ssl && !server && reason == SSL_AD_REASON_OFFSET + SSL_AD_HANDSHAKE_FAILURE &&
        !SSL_get_certificate(ssl) && sk_X509_NAME_num(SSL_get_client_CA_list(ssl)) > 0)
        alert = "handshake failure";
    const char *e = err_text();
    if (cert_alert)
        *cert_alert = alert != NULL;
    if (server && reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
        snprintf(buf, sizeof buf, "client presented no certificate (this server requires one)");
    else if (server && v != X509_V_OK)
        snprintf(buf, sizeof buf, "client certificate verification failed: %s",
                 X509_verify_cert_error_string(v));
    else if (v != X509_V_OK)
        snprintf(buf, sizeof buf, "certificate verify failed: %s", X509_verify_cert_error_string(v));
    else if (alert && server)
        snprintf(buf, sizeof buf, "the client rejected our certificate (TLS alert \"%s\")", alert);
    else if (alert && ssl && !SSL_get_certificate(ssl))
        snprintf(buf, sizeof buf,
                 "the server requires a client certificate and we presented none (TLS alert \"%s\")",
                 alert);
    else if (alert)
        snprintf(buf, sizeof buf, "the server rejected our client certificate (TLS alert \"%s\")",
                 alert);
    else
        snprintf(buf, sizeof buf, "%s", e);
    return buf;
}

int nq_tls_flush(SSL *ssl)
{
    BIO *w = SSL_get_wbio(ssl);
    if (!w || BIO_wpending(w) == 0)
        return 0;
    if (BIO_flush(w) > 0)
        return 0;
    return BIO_should_retry(w) ? 1 : -1;
}

int nq_tls_unflushed(SSL *ssl)
{
    BIO *w = SSL_get_wbio(ssl);
    return w && BIO_wpending(w) > 0;
}
