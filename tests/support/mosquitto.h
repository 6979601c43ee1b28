/*
 * Test helper: a private mosquitto broker on free loopback ports, with a
 * generated config in a temporary folder (persistence on, so that a
 * restart keeps persistent sessions), stopped by the test; and a raw MQTT
 * publisher for sending what no netqueue peer would.
 */
#ifndef NQT_MOSQUITTO_H
#define NQT_MOSQUITTO_H

#include <stddef.h>
#include <sys/types.h>

typedef struct nqt_broker {
    pid_t pid;
    int port;     /* plain listener */
    int tls_port; /* TLS listener (0 without) */
    char dir[128];
    char user[32], password[32]; /* when made with auth: anonymous refused */
} nqt_broker;

/* Start mosquitto (skips the test when it is not installed). tls: also a
 * TLS listener with the certificates of NQ_TEST_CERTS. auth: require the
 * user/password written into b. Asserts it accepts connections. */
void nqt_broker_start(nqt_broker *b, int tls, int auth);
/* SIGTERM (mosquitto saves its persistence file) and wait. */
void nqt_broker_stop(nqt_broker *b);
/* Start again on the same ports and files, after nqt_broker_stop. */
void nqt_broker_restart(nqt_broker *b);
/* Stop if running and remove the folder. */
void nqt_broker_destroy(nqt_broker *b);

/* Publish len bytes on topic through a throw-away MQTT client (QoS 1).
 * Returns 0 on success. */
int nqt_mqtt_publish_raw(int port, const char *topic, const void *data, size_t len, int retained);

#endif
