/* Internal: OpenSSL contexts and per-connection set-up for TLS over TCP. */
#ifndef NQ_TLS_TLS_H
#define NQ_TLS_TLS_H

#include <openssl/ssl.h>

#include "core/transport.h"

/* Build the context for a server (key + chain) or a client (CA or system
 * store, verification per options). NQ_ETLS with the reason on failure. */
nq_status nq_tls_context(SSL_CTX **out, const struct nq_options *o, int server);
/* New SSL for a connected socket: client side also sets SNI and the name
 * or IP address to verify. NULL on failure. */
SSL *nq_tls_new(SSL_CTX *ctx, int fd, const struct nq_options *o, int server);
/* Why the last TLS call failed, for log lines (static buffer, I/O thread). */
const char *nq_tls_reason(SSL *ssl);
/* The same; *cert_alert (if not NULL) is set when the reason is the peer's
 * alert about our certificate (a server refusing our client certificate,
 * or a client refusing ours): the reason then says it all. */
const char *nq_tls_reason_ex(SSL *ssl, int *cert_alert);

#endif
