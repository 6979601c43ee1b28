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

/* What nqt_broker_start_cfg sets up besides a plain listener. */
typedef struct nqt_broker_cfg {
    int port;             /* the plain listener's port; 0: a free one */
    int tls;              /* a TLS listener too, with the certificates of NQ_TEST_CERTS */
    int require_cert;     /* that listener refuses clients without a certificate signed by ca.pem */
    int auth;             /* user/password written into b; anonymous refused */
    int no_persistence;   /* a restart forgets every session and subscription */
    const char *users;    /* more accounts, "user:password" lines; anonymous refused */
    const char *acl;      /* the acl_file's text (mosquitto's ACL syntax) */
    const char *extra;    /* more global mosquitto.conf lines */
    const char *bridges;  /* written last, after the listeners: bridge sections
                           * (each `connection` takes the lines after it) */
} nqt_broker_cfg;

typedef struct nqt_broker {
    pid_t pid;
    int port;     /* plain listener */
    int tls_port; /* TLS listener (0 without) */
    char dir[128];
    char user[32], password[32]; /* when made with auth: anonymous refused */
    nqt_broker_cfg cfg;
} nqt_broker;

/* Start mosquitto (fails the test when it is not installed). tls: also a
 * TLS listener with the certificates of NQ_TEST_CERTS. auth: require the
 * user/password written into b. Asserts it accepts connections. */
void nqt_broker_start(nqt_broker *b, int tls, int auth);
void nqt_broker_start_cfg(nqt_broker *b, const nqt_broker_cfg *cfg);
/* Replace the accounts ("user:password" lines, plus b->user's when made
 * with auth); a running broker reloads them (SIGHUP) and keeps its
 * sessions. */
void nqt_broker_set_users(nqt_broker *b, const char *users);
/* The broker's log so far (malloc'd, NUL-terminated; NULL if unreadable). */
char *nqt_broker_log(nqt_broker *b);
/* SIGTERM (mosquitto saves its persistence file) and wait. */
void nqt_broker_stop(nqt_broker *b);
/* SIGKILL and wait: no chance to save its persistence file (what it
 * saved before, by autosave, is what a restart finds). */
void nqt_broker_kill(nqt_broker *b);
/* Start again on the same ports and files, after nqt_broker_stop or _kill. */
void nqt_broker_restart(nqt_broker *b);
/* Stop if running and remove the folder. */
void nqt_broker_destroy(nqt_broker *b);

/* Publish len bytes on topic through a throw-away MQTT client (QoS 1).
 * Returns 0 on success. */
int nqt_mqtt_publish_raw(int port, const char *topic, const void *data, size_t len, int retained);

/* A raw MQTT 3.1.1 client (paho, clean session) for playing a rogue
 * broker client: NULL when the broker refused the connection. user and
 * password may be NULL. */
typedef struct nqt_mqtt nqt_mqtt;
nqt_mqtt *nqt_mqtt_connect(int port, const char *client_id, const char *user, const char *password);
/* Publish; with wait, until it completed (QoS 1/2) or was written (QoS 0).
 * 0 on success. */
int nqt_mqtt_send(nqt_mqtt *m, const char *topic, const void *data, size_t len, int qos, int wait);
/* Subscribe: the QoS the broker granted, 0x80 when it refused, -1 on error. */
int nqt_mqtt_subscribe(nqt_mqtt *m, const char *topic, int qos);
/* Messages that arrived on its subscriptions so far. */
int nqt_mqtt_received(nqt_mqtt *m);
/* 1 while connected (the broker may drop a client that breaks its ACL). */
int nqt_mqtt_connected(nqt_mqtt *m);
void nqt_mqtt_close(nqt_mqtt *m);

#endif
