/* The transports this library knows, by protocol: nq_comm_new looks them
 * up here. A transport that is not built in keeps its row with no ops, so
 * that asking for it says "not built in" rather than "unknown". Adding a
 * transport is one row (docs/design.md). */
#include <stddef.h>

#include "core/comm_internal.h"

static const struct nq_transport table[] = {
    {NQ_TCP, "TCP", &nq_tcp_server_ops, &nq_tcp_client_ops},
#ifdef NQ_HAVE_MQTT
    {NQ_MQTT, "MQTT", &nq_mqtt_server_ops, &nq_mqtt_client_ops},
#else
    {NQ_MQTT, "MQTT", NULL, NULL},
#endif
#ifdef NQ_HAVE_GRPC
    {NQ_GRPC, "gRPC", &nq_grpc_server_ops, &nq_grpc_client_ops},
#else
    {NQ_GRPC, "gRPC", NULL, NULL},
#endif
    {NQ_INPROC, "inproc", &nq_inproc_server_ops, &nq_inproc_client_ops},
};

const struct nq_transport *nq_transport_find(nq_protocol protocol)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].protocol == protocol)
            return &table[i];
    return NULL;
}
