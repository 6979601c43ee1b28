/* An in-memory session store for paho (QoS 1/2 communicators), through
 * paho's user persistence interface.
 *
 * Why it exists: paho 1.3.12 frees the topic and payload of a QoS 1/2
 * publish whose first write fails with a socket error (the broker has just
 * gone) but keeps the message in its in-flight list. After the reconnection
 * it sends that freed memory to the broker (garbage, on whatever topic the
 * memory now holds) and frees it a second time when the flow completes.
 * ASan shows it in test_qos2_broker_restart: strlen of the freed topic in
 * paho's retry; paho issue 1592 reports the corrupt payloads. The failure
 * is visible: that publish's onFailure comes with code -1 and token 0.
 *
 * Such a handle is never connected or destroyed again (both would touch the
 * freed memory): it is left aside, and a new handle takes over the MQTT
 * session by restoring it from this store, as paho does after a process
 * restart. Paho writes into the store every QoS 1/2 publish before its
 * first write (so the copy here is intact), each PUBREL it sends, the QoS 2
 * messages it received and has not released, and the messages it received
 * and has not handed to us yet. The left-aside handle keeps a detached view
 * that no longer reaches the store, so it can outlive the communicator.
 *
 * Paho calls these functions from its own threads and from our worker,
 * under its global mutex; one static mutex guards every store anyway,
 * because a detached view must be checked and the store used atomically. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt/mqtt_internal.h"

#define STORE_BUCKETS 1024

struct store_entry {
    struct store_entry *next;
    char *key;
    char *data;
    int len;
};

struct mqtt_store {
    struct store_entry *buckets[STORE_BUCKETS];
    size_t count;
};

struct mqtt_store_view {
    MQTTClient_persistence pers; /* paho keeps a pointer to it */
    struct mqtt_store *s;        /* NULL once detached */
};

static pthread_mutex_t store_mu = PTHREAD_MUTEX_INITIALIZER;

static unsigned bucket_of(const char *key)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *key; key++)
        h = (h ^ (uint8_t)*key) * 16777619u;
    return h % STORE_BUCKETS;
}

static struct store_entry **find(struct mqtt_store *s, const char *key)
{
    struct store_entry **pp = &s->buckets[bucket_of(key)];
    while (*pp && strcmp((*pp)->key, key) != 0)
        pp = &(*pp)->next;
    return pp;
}

/* the view's store with store_mu held, or NULL (unlocked) when detached */
static struct mqtt_store *lock_view(void *handle)
{
    struct mqtt_store_view *v = handle;
    pthread_mutex_lock(&store_mu);
    if (!v->s)
        pthread_mutex_unlock(&store_mu);
    return v->s;
}

static int p_open(void **handle, const char *client_id, const char *uri, void *context)
{
    (void)client_id;
    (void)uri;
    *handle = context;
    return 0;
}

static int p_close(void *handle)
{
    (void)handle;
    return 0;
}

/* Queued commands ("c-" keys) are refused. Paho 1.3.12 frees a persisted
 * command's payload, reads it back when it sends it and never frees that
 * copy: 1 MiB lost per 1 MiB publish (LeakSanitizer, test_qos1_two_way_bulk).
 * Refused, the command keeps its payload in memory as without a store. So a
 * new handle restores what was in flight, not what was queued:
 * mqtt_handle_replace settles those publishes as failed and they are sent
 * again. */
static int refused(const char *key)
{
    return strncmp(key, "c-", 2) == 0 || strncmp(key, "c5-", 3) == 0;
}

static int p_put(void *handle, char *key, int bufcount, char *buffers[], int buflens[])
{
    if (refused(key))
        return MQTTCLIENT_PERSISTENCE_ERROR;
    size_t len = 0;
    for (int i = 0; i < bufcount; i++)
        len += buflens[i] > 0 ? (size_t)buflens[i] : 0;
    if (len > INT32_MAX)
        return MQTTCLIENT_PERSISTENCE_ERROR;
    char *data = malloc(len ? len : 1);
    if (!data)
        return MQTTCLIENT_PERSISTENCE_ERROR;
    size_t off = 0;
    for (int i = 0; i < bufcount; i++) {
        if (buflens[i] > 0) {
            memcpy(data + off, buffers[i], (size_t)buflens[i]);
            off += (size_t)buflens[i];
        }
    }
    struct mqtt_store *s = lock_view(handle);
    if (!s) {
        free(data);
        return MQTTCLIENT_PERSISTENCE_ERROR;
    }
    struct store_entry **pp = find(s, key), *e = *pp;
    if (e) {
        free(e->data);
    } else {
        e = calloc(1, sizeof *e);
        char *k = strdup(key);
        if (!e || !k) {
            pthread_mutex_unlock(&store_mu);
            free(e);
            free(k);
            free(data);
            return MQTTCLIENT_PERSISTENCE_ERROR;
        }
        e->key = k;
        *pp = e;
        s->count++;
    }
    e->data = data;
    e->len = (int)len;
    pthread_mutex_unlock(&store_mu);
    return 0;
}

static int p_get(void *handle, char *key, char **buffer, int *buflen)
{
    struct mqtt_store *s = lock_view(handle);
    if (!s)
        return MQTTCLIENT_PERSISTENCE_ERROR;
    struct store_entry *e = *find(s, key);
    int rc = MQTTCLIENT_PERSISTENCE_ERROR;
    if (e) {
        char *copy = malloc(e->len ? (size_t)e->len : 1); /* paho frees it */
        if (copy) {
            memcpy(copy, e->data, (size_t)e->len);
            *buffer = copy;
            *buflen = e->len;
            rc = 0;
        }
    }
    pthread_mutex_unlock(&store_mu);
    return rc;
}

static void entry_free(struct store_entry *e)
{
    free(e->key);
    free(e->data);
    free(e);
}

static int p_remove(void *handle, char *key)
{
    struct mqtt_store *s = lock_view(handle);
    if (!s)
        return MQTTCLIENT_PERSISTENCE_ERROR;
    struct store_entry **pp = find(s, key), *e = *pp;
    if (e) {
        *pp = e->next;
        s->count--;
        entry_free(e);
    }
    pthread_mutex_unlock(&store_mu);
    return 0;
}

static int p_keys(void *handle, char ***keys, int *nkeys)
{
    *keys = NULL;
    *nkeys = 0;
    struct mqtt_store *s = lock_view(handle);
    if (!s)
        return MQTTCLIENT_PERSISTENCE_ERROR;
    int rc = 0;
    if (s->count) {
        char **out = calloc(s->count, sizeof *out); /* paho frees array and keys */
        size_t n = 0;
        for (unsigned b = 0; out && b < STORE_BUCKETS; b++) {
            for (struct store_entry *e = s->buckets[b]; e; e = e->next) {
                if (!(out[n] = strdup(e->key)))
                    goto oom;
                n++;
            }
        }
        if (!out)
            goto oom;
        *keys = out;
        *nkeys = (int)n;
        goto done;
    oom:
        if (out)
            for (size_t i = 0; i < n; i++)
                free(out[i]);
        free(out);
        rc = MQTTCLIENT_PERSISTENCE_ERROR;
    }
done:
    pthread_mutex_unlock(&store_mu);
    return rc;
}

static void clear(struct mqtt_store *s)
{
    for (unsigned b = 0; b < STORE_BUCKETS; b++) {
        while (s->buckets[b]) {
            struct store_entry *e = s->buckets[b];
            s->buckets[b] = e->next;
            entry_free(e);
        }
    }
    s->count = 0;
}

static int p_clear(void *handle)
{
    struct mqtt_store *s = lock_view(handle);
    if (!s)
        return MQTTCLIENT_PERSISTENCE_ERROR;
    clear(s);
    pthread_mutex_unlock(&store_mu);
    return 0;
}

static int p_containskey(void *handle, char *key)
{
    struct mqtt_store *s = lock_view(handle);
    if (!s)
        return MQTTCLIENT_PERSISTENCE_ERROR;
    int found = *find(s, key) != NULL;
    pthread_mutex_unlock(&store_mu);
    return found ? 0 : MQTTCLIENT_PERSISTENCE_ERROR;
}

struct mqtt_store *mqtt_store_new(void)
{
    return calloc(1, sizeof(struct mqtt_store));
}

void mqtt_store_free(struct mqtt_store *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&store_mu);
    clear(s);
    pthread_mutex_unlock(&store_mu);
    free(s);
}

struct mqtt_store_view *mqtt_store_view_new(struct mqtt_store *s)
{
    struct mqtt_store_view *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->s = s;
    v->pers.context = v;
    v->pers.popen = p_open;
    v->pers.pclose = p_close;
    v->pers.pput = p_put;
    v->pers.pget = p_get;
    v->pers.premove = p_remove;
    v->pers.pkeys = p_keys;
    v->pers.pclear = p_clear;
    v->pers.pcontainskey = p_containskey;
    return v;
}

MQTTClient_persistence *mqtt_store_view_persistence(struct mqtt_store_view *v)
{
    return &v->pers;
}

void mqtt_store_view_detach(struct mqtt_store_view *v)
{
    pthread_mutex_lock(&store_mu);
    v->s = NULL;
    pthread_mutex_unlock(&store_mu);
}

int mqtt_store_in_flight(struct mqtt_store *s, int msgid)
{
    char sent[32], released[32];
    snprintf(sent, sizeof sent, "s-%d", msgid);
    snprintf(released, sizeof released, "sc-%d", msgid);
    pthread_mutex_lock(&store_mu);
    int found = *find(s, sent) || *find(s, released);
    pthread_mutex_unlock(&store_mu);
    return found;
}

size_t mqtt_store_count(struct mqtt_store *s)
{
    pthread_mutex_lock(&store_mu);
    size_t n = s->count;
    pthread_mutex_unlock(&store_mu);
    return n;
}
