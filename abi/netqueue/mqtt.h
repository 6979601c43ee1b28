/**
 * @file
 * netqueue — MQTT transport options (nq_comm_new with NQ_MQTT).
 *
 * Over MQTT both the server and the clients are clients of an external
 * MQTT 3.1.1 broker; the options' host and port are the broker's address
 * (the port defaults to 51966 like every transport: pass 1883, the usual
 * broker port, or whatever your broker listens on). TLS to the broker uses
 * the ordinary TLS options (nq_options_set_tls, _tls_ca, _tls_cert,
 * _tls_key, _tls_verify). See docs/mqtt.md.
 *
 * Thread rules: like every options setter, use one handle from one thread
 * at a time. Errors: NQ_EINVAL (NULL handle or a bad value), with a
 * message in nq_last_error(); the handle is then unchanged.
 */
#ifndef NETQUEUE_MQTT_H
#define NETQUEUE_MQTT_H

#include "common.h"
#include "options.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * MQTT quality of service of every publish and subscription: 0 (default,
 * as the reference: at most once), 1 (at least once) or 2 (exactly once).
 * With 1 or 2 the communicator asks the broker for a persistent session
 * (clean session off) so a reconnection resumes where it stopped.
 * Errors: NQ_EINVAL for a value other than 0, 1, 2.
 */
NQ_API nq_status nq_options_set_mqtt_qos(nq_options *opts, int qos);

/**
 * Broker user name (the MQTT CONNECT field); copied, at most 255 bytes;
 * NULL or "" unsets. Use TLS to keep it and the password off the wire in
 * clear. Errors: NQ_EINVAL (NULL handle, longer than 255 bytes).
 */
NQ_API nq_status nq_options_set_mqtt_username(nq_options *opts, const char *username);

/**
 * Broker password; copied, at most 255 bytes; NULL or "" unsets. It is sent
 * only with a user name, as MQTT 3.1.1 requires.
 * Errors: NQ_EINVAL (NULL handle, longer than 255 bytes).
 */
NQ_API nq_status nq_options_set_mqtt_password(nq_options *opts, const char *password);

#ifdef __cplusplus
}
#endif

#endif
