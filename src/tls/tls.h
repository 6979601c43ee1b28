/* Internal: OpenSSL contexts and per-connection set-up for TLS over TCP. */
#ifndef NQ_TLS_TLS_H
#define NQ_TLS_TLS_H

#include <openssl/ssl.h>

#include "core/transport.h"

/* Bytes one read from the socket may bring in under TLS (read-ahead):
 * about four full records. OpenSSL 3.0 moves whatever is left in its read
 * buffer to the front before each record it takes out, so a 256 KiB
 * buffer moved several times the bytes it received (memmove: 32 % of a
 * 2 MiB TLS receiver's samples; 7 % with 34 KiB; receiver CPU per GiB
 * 1.39 s -> 1.25 s with 34 or 66 KiB, medians of 3). */
#define NQ_TLS_READ_AHEAD (66u * 1024u)
/* Encrypted bytes gathered before they are written to the socket. */
#define NQ_TLS_WRITE_BUFFER (256u * 1024u)

/* Build the context for a server (key + chain) or a client (CA or system
 * store, verification per options). NQ_ETLS with the reason on failure. */
nq_status nq_tls_context(SSL_CTX **out, const struct nq_options *o, int server);
/* New SSL for a connected socket: client side also sets SNI and the name
 * or IP address to verify. NULL on failure. */
SSL *nq_tls_new(SSL_CTX *ctx, int fd, const struct nq_options *o, int server);
/* Why the last TLS call failed, for log lines (static buffer, I/O thread). */
const char *nq_tls_reason(SSL *ssl);
/* Why an SSL_read/SSL_write on an established connection failed: the
 * socket's errno (saved right after the call) when OpenSSL queued no error
 * of its own, as after a reset (SSL_ERROR_SYSCALL), else nq_tls_reason. */
const char *nq_tls_io_reason(SSL *ssl, int saved_errno);
/* The same; *cert_alert (if not NULL) is set when the reason is the peer's
 * alert about our certificate (a server refusing our client certificate,
 * or a client refusing ours): the reason then says it all. */
const char *nq_tls_reason_ex(SSL *ssl, int *cert_alert);

/* Write out what the write buffer holds: 0 done, 1 would block (call
 * again when writable), -1 error. */
int nq_tls_flush(SSL *ssl);
/* 1 if the write buffer still holds bytes for the socket. */
int nq_tls_unflushed(SSL *ssl);

#endif
