/* Communicator ids: random UUIDs and their hex form (MQTT client ids). */
#include <string.h>
#include <sys/random.h>

#include <netqueue/common.h>
#include "core/status.h"

nq_status nq_id_random(uint8_t *out)
{
    if (!out)
        return nq_fail(NQ_EINVAL, "id: out is NULL");
    size_t got = 0;
    while (got < NQ_ID_SIZE) {
        ssize_t n = getrandom(out + got, NQ_ID_SIZE - got, 0);
        if (n < 0)
            return nq_fail(NQ_EIO, "id: getrandom failed");
        got += (size_t)n;
    }
    out[6] = (uint8_t)((out[6] & 0x0f) | 0x40); /* version 4 */
    out[8] = (uint8_t)((out[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    return NQ_OK;
}

nq_status nq_id_format(const uint8_t *id, char *out)
{
    static const char hex[] = "0123456789abcdef";
    if (!id || !out)
        return nq_fail(NQ_EINVAL, "id: NULL argument");
    for (int i = 0; i < NQ_ID_SIZE; i++) {
        out[2 * i] = hex[id[i] >> 4];
        out[2 * i + 1] = hex[id[i] & 15];
    }
    out[2 * NQ_ID_SIZE] = '\0';
    return NQ_OK;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

nq_status nq_id_parse(const char *text, uint8_t *out)
{
    if (!text || !out)
        return nq_fail(NQ_EINVAL, "id: NULL argument");
    uint8_t id[NQ_ID_SIZE];
    int n = 0;
    for (const char *p = text; *p; p++) {
        if (*p == '-')
            continue;
        int v = hexval(*p);
        if (v < 0 || n >= 2 * NQ_ID_SIZE)
            return nq_fail(NQ_EINVAL, "id: '%s' is not 32 hex digits", text);
        if (n % 2 == 0)
            id[n / 2] = (uint8_t)(v << 4);
        else
            id[n / 2] |= (uint8_t)v;
        n++;
    }
    if (n != 2 * NQ_ID_SIZE)
        return nq_fail(NQ_EINVAL, "id: '%s' is not 32 hex digits", text);
    memcpy(out, id, NQ_ID_SIZE);
    return NQ_OK;
}
