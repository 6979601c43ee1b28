/* Internal: the options record copied into every communicator. */
#ifndef NQ_CORE_OPTIONS_INTERNAL_H
#define NQ_CORE_OPTIONS_INTERNAL_H

#include <netqueue/comm.h>

#define NQ_HOST_MAX 255

struct nq_options {
    uint8_t id[NQ_ID_SIZE];
    char host[NQ_HOST_MAX + 1];
    int port;
    int workers;
    uint64_t transport_size;
    int merge;
    uint64_t message_limit;
    uint64_t queue_limit;
    uint64_t send_limit; /* 0: puts never wait */
    uint64_t peer_limit; /* server: bytes held for one peer before it is cut; 0 none */
    uint64_t partial_limit; /* frames being received, all links; 0 none */
    nq_queue_policy queue_policy;
    nq_dialect dialect;
    nq_codec codec;
    int tls;
    int tls_verify;
    char *tls_key;
    char *tls_cert;
    char *tls_ca;
    char *tls_server_name;
    char *tls_client_ca; /* server: require client certificates verified against it */
    int64_t connect_timeout_ms;
    int64_t keepalive_ms; /* dead-peer detection; 0 off */
    int64_t linger_ms;    /* server: a lost session is kept this long (internal: tests shorten it) */
    size_t linger_max;    /* server: at most this many lost sessions kept (the oldest goes) */
    nq_log_fn log_fn;
    void *log_user;
    nq_log_level log_level;
    unsigned events; /* peer events queued for receivers: NQ_EVENT_BIT mask */
    /* MQTT (abi/netqueue/mqtt.h, src/mqtt/mqtt_options.c): inline arrays,
     * so the plain struct copy in nq_options_clone_into covers them */
    int mqtt_qos;
    char mqtt_username[256];
    char mqtt_password[256];
};

/* Deep copy into dst (strings duplicated); dst must be zeroed or cleared. */
nq_status nq_options_clone_into(struct nq_options *dst, const struct nq_options *src);
/* Free the strings a copy owns. */
void nq_options_clear(struct nq_options *o);
/* Defaults, with a fresh random id. */
nq_status nq_options_defaults(struct nq_options *o);

#endif
