/* TLS for the gRPC transport, with gRPC's own SSL credentials built from
 * the communicator's TLS options. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <grpc/grpc_security.h>

#include "core/status.h"
#include "grpc/grpc_internal.h"

/* gRPC's own default roots are its bundled list; "system roots" means the
 * distribution's store, as for TCP. */
static const char *const system_roots[] = {
    "/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem", NULL};

nq_status nq_gq_server_creds(struct nq_comm *c, grpc_server_credentials **out)
{
    *out = NULL;
    if (!c->o.tls) {
        *out = grpc_insecure_server_credentials_create();
        return NQ_OK;
    }
    if (!c->o.tls_key || !c->o.tls_cert)
        return nq_fail(NQ_EINVAL, "grpc: a TLS server needs a key and a certificate chain");
    char *key = NULL, *cert = NULL;
    nq_status st = nq_gq_read_file("private key", c->o.tls_key, &key);
    if (st == NQ_OK)
        st = nq_gq_read_file("certificate chain", c->o.tls_cert, &cert);
    /* gRPC only finds out when it binds, and then just fails the port:
     * say which file is wrong while we can */
    if (st == NQ_OK && !strstr(key, "PRIVATE KEY-----"))
        st = nq_fail(NQ_ETLS, "grpc: %s is not a PEM private key", c->o.tls_key);
    if (st == NQ_OK && !strstr(cert, "-----BEGIN CERTIFICATE-----"))
        st = nq_fail(NQ_ETLS, "grpc: %s is not a PEM certificate chain", c->o.tls_cert);
    /* mutual TLS: clients must present a certificate from these CAs */
    char *client_ca = NULL;
    if (st == NQ_OK && c->o.tls_client_ca) {
        st = nq_gq_read_file("client CA", c->o.tls_client_ca, &client_ca);
        if (st == NQ_OK && !strstr(client_ca, "-----BEGIN CERTIFICATE-----"))
            st = nq_fail(NQ_ETLS, "grpc: client CA %s holds no PEM certificate",
                         c->o.tls_client_ca);
    }
    if (st == NQ_OK) {
        grpc_ssl_pem_key_cert_pair pair = {key, cert};
        *out = grpc_ssl_server_credentials_create_ex(
            client_ca, &pair, 1,
            client_ca ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                      : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
            NULL);
        if (!*out)
            st = nq_fail(NQ_ETLS, "grpc: cannot use key %s with certificate %s", c->o.tls_key,
                         c->o.tls_cert);
    }
    free(key);
    free(cert);
    free(client_ca);
    return st;
}

/* A client certificate (mutual TLS): both files or neither, PEM. */
static nq_status client_pair(struct nq_comm *c, char **key, char **cert)
{
    *key = *cert = NULL;
    if (!c->o.tls_key && !c->o.tls_cert)
        return NQ_OK;
    if (!c->o.tls_key || !c->o.tls_cert)
        return nq_fail(NQ_ETLS, "grpc: a client certificate needs both a certificate chain and "
                                "its key (only the %s is set)", c->o.tls_cert ? "certificate" : "key");
    nq_status st = nq_gq_read_file("client private key", c->o.tls_key, key);
    if (st == NQ_OK)
        st = nq_gq_read_file("client certificate chain", c->o.tls_cert, cert);
    if (st == NQ_OK && !strstr(*key, "PRIVATE KEY-----"))
        st = nq_fail(NQ_ETLS, "grpc: %s is not a PEM private key", c->o.tls_key);
    if (st == NQ_OK && !strstr(*cert, "-----BEGIN CERTIFICATE-----"))
        st = nq_fail(NQ_ETLS, "grpc: %s is not a PEM certificate chain", c->o.tls_cert);
    if (st != NQ_OK) {
        free(*key);
        free(*cert);
        *key = *cert = NULL;
    }
    return st;
}

nq_status nq_gq_channel_creds(struct nq_comm *c, grpc_channel_credentials **out)
{
    *out = NULL;
    if (!c->o.tls) {
        *out = grpc_insecure_credentials_create();
        return NQ_OK;
    }
    if (!c->o.tls_verify)
        return nq_fail(NQ_EUNSUPPORTED,
                       "grpc: TLS without server verification is not supported by gRPC's SSL "
                       "credentials; give a CA file instead");
    char *roots = NULL;
    nq_status st = NQ_OK;
    if (c->o.tls_ca) {
        st = nq_gq_read_file("CA file", c->o.tls_ca, &roots);
    } else {
        for (int i = 0; system_roots[i] && !roots; i++)
            if (access(system_roots[i], R_OK) == 0 &&
                nq_gq_read_file("system roots", system_roots[i], &roots) != NQ_OK)
                roots = NULL;
        /* none found: gRPC falls back to its own roots */
    }
    char *key = NULL, *cert = NULL;
    if (st == NQ_OK)
        st = client_pair(c, &key, &cert);
    if (st != NQ_OK) {
        free(roots);
        return st;
    }
    grpc_ssl_pem_key_cert_pair pair = {key, cert};
    *out = grpc_ssl_credentials_create(roots, key ? &pair : NULL, NULL, NULL);
    free(roots);
    free(key);
    free(cert);
    if (!*out)
        return nq_fail(NQ_ETLS, "grpc: cannot create SSL credentials");
    return NQ_OK;
}
