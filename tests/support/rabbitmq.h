/*
 * Test helper: a private RabbitMQ (Debian's rabbitmq-server with its MQTT
 * plugin) on free loopback ports, its node, Mnesia database, logs and
 * Erlang cookie in a temporary folder, with an epmd of its own on a free
 * port (ERL_EPMD_PORT), so that nothing of the machine's is used or left
 * behind. Started as a child of the test (no daemon), stopped by it.
 */
#ifndef NQT_RABBITMQ_H
#define NQT_RABBITMQ_H

#include <stdint.h>
#include <sys/types.h>

typedef struct nqt_rabbit {
    pid_t pid;         /* the rabbitmq-server script, leader of its process group */
    pid_t epmd_pid;
    int mqtt_port, amqp_port, dist_port, epmd_port;
    char dir[128];
    char node[64];
    int64_t start_ms;  /* how long the last start took, to the MQTT listener */
    const char *extra; /* more rabbitmq.conf lines (kept by the caller until start) */
} nqt_rabbit;

/* 1 when rabbitmq-server and its MQTT plugin are installed. */
int nqt_rabbit_installed(void);
/* Start (fails the test, naming the package, when it is not installed)
 * and wait for the MQTT listener, 60 s at most. r->extra may be set. */
void nqt_rabbit_start(nqt_rabbit *r);
/* SIGTERM (a clean stop: durable queues and persistent messages saved). */
void nqt_rabbit_stop(nqt_rabbit *r);
/* SIGKILL to the whole process group (the Erlang VM included). */
void nqt_rabbit_kill(nqt_rabbit *r);
/* Start again on the same ports, node and database. */
void nqt_rabbit_restart(nqt_rabbit *r);
/* Stop if running, stop its epmd, remove the folder. */
void nqt_rabbit_destroy(nqt_rabbit *r);

#endif
