/* Topic names and hex ids: the reference names each client's topics by its
 * id as 32 lowercase hex digits (Python's uuid.hex). */
#include <string.h>

#include "mqtt/mqtt_internal.h"

int mqtt_is_hex_id(const char *s, size_t len)
{
    if (len != MQTT_HEX_LEN)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        /* lowercase only: topics are case-sensitive and the reference only
         * ever makes lowercase ones, so anything else is not a peer of ours */
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
            return 0;
    }
    return 1;
}

const char *mqtt_topic_id(const char *topic, const char *prefix)
{
    size_t p = strlen(prefix);
    if (strncmp(topic, prefix, p) != 0)
        return NULL;
    const char *id = topic + p;
    return mqtt_is_hex_id(id, strlen(id)) ? id : NULL;
}

void mqtt_hex(const uint8_t *id, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < NQ_ID_SIZE; i++) {
        out[2 * i] = digits[id[i] >> 4];
        out[2 * i + 1] = digits[id[i] & 15];
    }
    out[2 * NQ_ID_SIZE] = 0;
}
