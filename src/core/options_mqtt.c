/* Setters of the MQTT options (abi/netqueue/mqtt.h). Built whether or not the
 * MQTT transport is, so the exported symbols never depend on the build. */
#include <string.h>

#include <netqueue/mqtt.h>

#include "core/options_internal.h"
#include "core/status.h"

nq_status nq_options_set_mqtt_qos(nq_options *o, int qos)
{
    if (!o)
        return nq_fail(NQ_EINVAL, "options: handle is NULL");
    if (qos < 0 || qos > 2)
        return nq_fail(NQ_EINVAL, "options: MQTT QoS %d: expected 0, 1 or 2", qos);
    o->mqtt_qos = qos;
    return NQ_OK;
}

static nq_status set_text(char *dst, size_t cap, const char *src, const char *what)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= cap)
        return nq_fail(NQ_EINVAL, "options: MQTT %s longer than %zu bytes", what, cap - 1);
    memcpy(dst, src ? src : "", n);
    dst[n] = 0;
    return NQ_OK;
}

nq_status nq_options_set_mqtt_username(nq_options *o, const char *username)
{
    if (!o)
        return nq_fail(NQ_EINVAL, "options: handle is NULL");
    return set_text(o->mqtt_username, sizeof o->mqtt_username, username, "user name");
}

nq_status nq_options_set_mqtt_password(nq_options *o, const char *password)
{
    if (!o)
        return nq_fail(NQ_EINVAL, "options: handle is NULL");
    return set_text(o->mqtt_password, sizeof o->mqtt_password, password, "password");
}
