/* Internal: the MQTT transport on paho.mqtt.c's asynchronous client.
 *
 * Threads: paho runs its callbacks on its own threads; they only copy what
 * happened into lock-free queues (events, inbox) and wake the loop thread
 * with an ev_async. Every piece of core state is touched on the loop thread
 * only. The one place a paho thread waits is mqtt_on_message, when the
 * inbox holds more than its byte budget: that stops paho reading from the
 * broker socket (TCP back-pressure) instead of growing memory. Paho holds
 * its global mutex while it waits there, so the loop thread (which drains
 * the inbox) never calls paho: our worker thread does (mqtt_worker.c).
 *
 * Connections per communicator: the main one (client id = our hex id,
 * subscribed); with QoS 0 the waker (mqtt_waker.c) and, for servers and
 * clients without broker credentials, a publishing one (mqtt_writer.c). */
#ifndef NQ_MQTT_INTERNAL_H
#define NQ_MQTT_INTERNAL_H

#include <MQTTAsync.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/uio.h>

#include "core/comm_internal.h"
#include "core/mpsc.h"

#define MQTT_HEX_LEN 32
#define MQTT_TOPIC_MAX 40 /* "c2s/" + 32 hex + NUL */
#define MQTT_PUB_MAX (UINT64_C(512) << 10) /* bytes per publish at most (mqtt_state_start) */
#define MQTT_WAKE_NS 1000000LL /* a wake at most every 1 ms while publishes are pending (mqtt_waker.c) */
#define MQTT_INI_WAIT 2.0  /* s: a client's ini after a lost broker session unanswered: send it again */
#define MQTT_INI_WAIT_MAX 16.0

enum mqtt_ev_kind {
    MQTT_EV_CONNECTED,
    MQTT_EV_CONNECT_FAILED,
    MQTT_EV_LOST,
    MQTT_EV_SUBSCRIBED,
    MQTT_EV_SUBSCRIBE_FAILED,
    MQTT_EV_PUB_DONE, /* a struct mqtt_pub: its QoS 0 publish completed or failed */
    MQTT_EV_DISCONNECTED,
    /* the publishing connection (mqtt_writer.c) */
    MQTT_EV_W_CONNECTED,
    MQTT_EV_W_CONNECT_FAILED,
    MQTT_EV_W_LOST,
};

/* The publishing connection, as the loop thread sees it (mqtt_writer.c) */
enum mqtt_w_state {
    MQTT_W_OFF,        /* none: publishes go on the main connection */
    MQTT_W_DOWN,       /* to be (re)connected once the main one is up */
    MQTT_W_CONNECTING,
    MQTT_W_READY,
};

/* Something a paho thread tells the loop thread. */
struct mqtt_ev {
    struct nq_mpsc_node node; /* first */
    enum mqtt_ev_kind kind;
    int rc;
    int token;
    char why[160];
};

/* A message from the broker, waiting in the inbox. */
struct mqtt_in {
    struct nq_mpsc_node node; /* first */
    MQTTAsync_message *msg;
    size_t size;
    char topic[MQTT_TOPIC_MAX + 8]; /* longer topics are cut (and then rejected) */
    int topic_cut;
    unsigned gen;             /* the broker connection it came on (mqtt_dup.c) */
};

struct mqtt_link;

/* One publish handed to paho, until its completion callback. */
struct mqtt_pub {
    struct mqtt_ev ev;        /* first: pushed to the events queue when done */
    struct mqtt_state *t;
    struct mqtt_link *l;      /* NULL once the link is gone */
    uint64_t size;
    int done;
    int failed;               /* paho gave up on it (discarded at a disconnect) */
    struct mqtt_pub *next;    /* the link's unacknowledged publishes (QoS > 0) */
    struct mqtt_pub *all_next, *all_prev;
    struct mqtt_pub *tok_next; /* worker: sent later with the same paho token */
};

/* One peer's byte-stream pair: the client's link to the server, or the
 * server's link to one client topic. */
struct mqtt_link {
    struct nq_link link;      /* first: the core sees this */
    struct mqtt_state *t;
    char hex[MQTT_HEX_LEN + 1];
    char out_topic[MQTT_TOPIC_MAX];
    struct mqtt_pub *unacked_head, *unacked_tail;
    uint64_t unacked;         /* bytes published, not yet consumed (QoS > 0) */
    int rewinding;            /* a publish failed: send nothing until all are settled */
    int finish_pending;       /* kick found the session finished: close on the next turn */
    int ini_out;              /* client after a lost broker session: its ini went, the rest waits */
    /* server: the first frame (8-byte header + 16-byte id) is held back
     * until it is whole, so that an ini whose id is not the topic's never
     * reaches the core (it would take over that id's session) */
    int check_ini;
    size_t ini_len;
    uint8_t ini_head[8 + NQ_ID_SIZE];
    /* frame headers seen ahead of the core's framer, so that one over the
     * message limit is refused here with a rate-limited warning */
    uint64_t scan_left;       /* payload bytes left of the current frame */
    unsigned scan_have;       /* header bytes seen of the next frame */
    uint8_t scan_hdr[8];
    struct mqtt_link *next, *prev;
};

/* A paho client's disconnect, waited for at destroy (the last publishes,
 * our fin, go out first). It lives as long as the paho client: paho may
 * call back after the wait gave up, until MQTTAsync_destroy. */
struct mqtt_disc {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
};
void mqtt_disc_init(struct mqtt_disc *d);
void mqtt_disc_destroy(struct mqtt_disc *d);
/* Disconnect h (2 s for queued publishes) and wait up to 3 s for paho to
 * say it is done. Caller's thread. */
void mqtt_disconnect_wait(MQTTAsync h, struct mqtt_disc *d);

struct mqtt_state {
    struct nq_comm *c;
    MQTTAsync h;
    char uri[NQ_HOST_MAX + 32];
    char own_hex[MQTT_HEX_LEN + 1];
    char sub_topic[MQTT_TOPIC_MAX];
    int qos;                  /* the option: subscription, session kind, put completion */
    uint64_t piece;           /* bytes per publish: the transport size */
    uint64_t slack;           /* a publish may take this much more rather than leave a tail */
    uint64_t window;          /* bytes in paho's hands at most */
    uint64_t inflight;        /* bytes in paho's hands now */

    ev_async async;
    struct nq_mpsc events, inbox;
    pthread_mutex_t inbox_mu;
    pthread_cond_t inbox_cv;
    size_t inbox_bytes, inbox_max;
    int stopping;             /* under inbox_mu: paho threads give up waiting */

    /* paho threads: OpenSSL's reason for the last failed TLS connection
     * (paho itself only says "TCP/TLS connect failure"); under inbox_mu */
    char tls_why[104];
    int connected, connecting, subscribed;
    int downgrade_told;       /* the broker granted less than our QoS: said once */
    int ever_connected;
    /* client, after the broker lost our session: the server's subscription
     * may be gone too, and an ini published before it is back is lost; so
     * an ini unanswered after ini_wait seconds starts the stream over */
    int ini_retry;
    double ini_wait;
    ev_timer ini_timer;
    /* the broker came back without our session on connection lost_gen:
     * the streams start over once the messages of earlier connections
     * still in the inbox went to the old links (nothing is sent meanwhile) */
    int lost_pending;
    unsigned lost_gen;
    ev_timer retry;
    double backoff;
    unsigned failures;        /* connection attempts failed in a row */
    /* warnings any broker client can trigger at will (bad topics, garbage,
     * bad frames): at most one line a second (nq_log_limited) */
    struct nq_ratelimit warn_rl;

    struct mqtt_disc disc; /* destroy waits here for the disconnect */

    struct mqtt_link *links;
    struct mqtt_pub *all;     /* every publish paho has not completed */

    /* worker (mqtt_worker.c): jobs for the thread that calls paho */
    pthread_t w_thread;
    pthread_mutex_t w_mu;
    pthread_cond_t w_cv;
    struct mqtt_job *w_head, *w_tail;
    int w_init, w_running, w_stop, w_stopped;
    int w_poked;              /* mqtt_worker_poke: tick again */
    struct mqtt_pub **tokens; /* worker thread: QoS 1/2 publishes by paho token (lists) */

    struct mqtt_seen *seen;   /* QoS 2 deliveries, MQTT_SEEN of them (mqtt_dup.c) */
    size_t seen_next;
    unsigned seen_done_gen;   /* connection whose resends are over */
    atomic_uint conn_gen;     /* paho threads: +1 at each connection */
    atomic_uint fresh_gen;    /* the last connection the broker had no session for */

    /* mqtt_waker.c: wakes paho's receive thread while publishes are pending */
    struct mqtt_waker *waker; /* NULL when it could not be made */

    /* mqtt_writer.c: QoS 0 publishes go on a connection of their own, so
     * that the main one is never stuck in a write while input waits */
    struct mqtt_writer *writer; /* NULL: one connection (w_state OFF) */
    enum mqtt_w_state w_state;  /* loop thread */
    int w_ever;                 /* loop thread: it was connected once */
    atomic_uint_fast64_t paho_bytes; /* a copy of inflight for the worker */
    /* the publishing connection is connecting: paho writes its CONNECT
     * only in a receive cycle that input starts (its poll waits up to 1 s
     * for input only), so the waker wakes paho meanwhile too */
    atomic_int wake_connecting;
    int64_t wake_ns;          /* wakes this far apart at most */

    /* mqtt_store.c: QoS 1/2 handles persist the MQTT session here, so a
     * handle that paho broke can be replaced (mqtt_handle_replace) */
    struct mqtt_store *store;      /* NULL for QoS 0 */
    struct mqtt_store_view *view;  /* the current handle's */
    atomic_int paho_broken;        /* paho threads: the current handle freed a publish it keeps */
    unsigned handles_left;         /* worker: handles left aside so far */

    /* mqtt_drops.c: the connection that carries our publishes (the
     * publishing one when split, else the main one), loop thread */
    double carry_last_sent;        /* when a publish was last handed to paho */
    unsigned carry_done;           /* publishes completed since it came up (QoS 1/2) */
    unsigned carry_drops;          /* losses right after publishing, in a row */
    uint64_t carry_max;            /* the largest publish over that run */
};

/* mqtt_topic.c */
int mqtt_is_hex_id(const char *s, size_t len);
/* "c2s/<hex>" -> pointer to hex in topic, or NULL when prefix/length differ */
const char *mqtt_topic_id(const char *topic, const char *prefix);
void mqtt_hex(const uint8_t *id, char *out);

/* mqtt_dup.c: 1 when in is a QoS 2 message delivered before (drop it) */
#define MQTT_SEEN 8192
int mqtt_dup_check(struct mqtt_state *t, struct mqtt_in *in);

/* mqtt_store.c: an in-memory paho persistence, one view per paho handle */
struct mqtt_store *mqtt_store_new(void);
void mqtt_store_free(struct mqtt_store *s);
struct mqtt_store_view *mqtt_store_view_new(struct mqtt_store *s);
/* what MQTTAsync_create takes (paho keeps the pointer: the view lives as long) */
MQTTClient_persistence *mqtt_store_view_persistence(struct mqtt_store_view *v);
/* its handle was left aside: the view no longer reaches the store; never freed */
void mqtt_store_view_detach(struct mqtt_store_view *v);
size_t mqtt_store_count(struct mqtt_store *s);
/* 1 when paho keeps the publish with this id in flight (sent or released) */
int mqtt_store_in_flight(struct mqtt_store *s, int msgid);

/* mqtt_broker.c: the broker connection (both purposes) */
/* any thread: hand an event to the loop thread */
void mqtt_post(struct mqtt_state *t, enum mqtt_ev_kind kind, int rc, const char *why);
/* loop thread: connected, subscribed and, when split, publishing connection up */
int mqtt_can_send(const struct mqtt_state *t);
nq_status mqtt_state_start(struct nq_comm *c, struct mqtt_state **out);
void mqtt_state_destroy(struct mqtt_state *t);
void mqtt_connect_soon(struct mqtt_state *t, double delay);
/* worker thread, disconnected: leave a broken handle aside and go on with a
 * new one restored from the store. 0, or paho's error */
int mqtt_handle_replace(struct mqtt_state *t);
/* the receive queue drained: feed the inbox again */
void mqtt_resume(struct mqtt_state *t);
/* callbacks for the worker's paho calls */
void mqtt_connect_callbacks(MQTTAsync_connectOptions *co, struct mqtt_state *t);
/* Connect options every connection of c shares: MQTT 3.1.1, keep-alive,
 * timeout, broker credentials and TLS (ssl is filled and pointed to). */
void mqtt_connect_options(struct nq_comm *c, MQTTAsync_connectOptions *co,
                          MQTTAsync_SSLOptions *ssl);
void mqtt_subscribe_callbacks(MQTTAsync_responseOptions *ro, struct mqtt_state *t);
/* TLS: have OpenSSL's errors on t's connections recorded for the log */
void mqtt_tls_errors(MQTTAsync_SSLOptions *ssl, struct mqtt_state *t);
/* onSuccess/onFailure of a QoS 0 publish: hand p back to the loop thread */
void mqtt_pub_callbacks(MQTTAsync_responseOptions *ro, struct mqtt_pub *p);
/* QoS 1/2: the completion comes back by token, through the worker */
void mqtt_token_callbacks(MQTTAsync_responseOptions *ro, struct mqtt_state *t);

/* mqtt_drops.c, loop thread: the connection carrying our publishes came
 * up, carried one of size bytes, completed one (QoS 1/2), was lost */
void mqtt_drops_up(struct mqtt_state *t);
void mqtt_drops_sent(struct mqtt_state *t, uint64_t size);
void mqtt_drops_done(struct mqtt_state *t);
void mqtt_drops_lost(struct mqtt_state *t);

/* mqtt_worker.c */
int mqtt_worker_start(struct mqtt_state *t);
void mqtt_worker_stop(struct mqtt_state *t);  /* runs what is queued first */
void mqtt_worker_free(struct mqtt_state *t);
void mqtt_worker_connect(struct mqtt_state *t);
void mqtt_worker_subscribe(struct mqtt_state *t);
void mqtt_worker_forget(struct mqtt_state *t);
void mqtt_worker_writer_connect(struct mqtt_state *t);
/* worker thread, a new paho client restored from the store: settle as
 * failed the publishes it did not restore (queued, never written) */
void mqtt_worker_settle_unrestored(struct mqtt_state *t);
/* copies the len bytes of iov; p comes back as MQTT_EV_PUB_DONE. -1: out of memory */
int mqtt_worker_send(struct mqtt_state *t, struct mqtt_pub *p, const char *topic,
                     const struct iovec *iov, int n, size_t len);
void mqtt_worker_token(struct mqtt_state *t, int token, int rc); /* paho threads */
void mqtt_worker_poke(struct mqtt_state *t); /* any thread: run the waker's tick */
/* mqtt_waker.c */
int mqtt_waker_create(struct mqtt_state *t);  /* caller's thread; -1: none */
/* TCP_NODELAY on this process's TCP sockets connected to host:port (paho's
 * broker connections, mqtt_nodelay.c); how many were set. Any thread. */
int mqtt_nodelay(const char *host, int port);
void mqtt_waker_destroy(struct mqtt_state *t); /* after mqtt_worker_stop */
/* mqtt_writer.c */
int mqtt_writer_create(struct mqtt_state *t);   /* caller's thread; -1: none */
void mqtt_writer_destroy(struct mqtt_state *t); /* after mqtt_worker_stop */
void mqtt_writer_connect(struct mqtt_state *t); /* worker thread */
MQTTAsync mqtt_writer_handle(struct mqtt_state *t);
/* worker thread: connect or send a wake when due; ns until the next tick, -1: none due */
int64_t mqtt_waker_tick(struct mqtt_state *t);
/* purpose hooks, loop thread */
void mqtt_client_ready(struct mqtt_state *t);  /* connected and subscribed */
void mqtt_server_ready(struct mqtt_state *t);
void mqtt_client_message(struct mqtt_state *t, struct mqtt_in *in);
void mqtt_server_message(struct mqtt_state *t, struct mqtt_in *in);
void mqtt_client_unreachable(struct mqtt_state *t, const char *why);
/* the broker came back without our session: every stream starts over */
void mqtt_client_session_lost(struct mqtt_state *t);
void mqtt_server_session_lost(struct mqtt_state *t);

/* mqtt_link.c, loop thread */
struct mqtt_link *mqtt_link_new(struct mqtt_state *t, const char *hex, const char *out_prefix);
void mqtt_link_close(struct mqtt_link *l, const char *why);
void mqtt_link_kick(struct mqtt_link *l);
void mqtt_kick_all(struct mqtt_state *t);
void mqtt_close_finished(struct mqtt_state *t);
void mqtt_pub_done(struct mqtt_state *t, struct mqtt_pub *p);
struct mqtt_link *mqtt_link_find(struct mqtt_state *t, const char *hex);
/* Feed a message's bytes into l; closes l on a protocol error (returns -1). */
int mqtt_link_feed(struct mqtt_link *l, struct mqtt_in *in);

/* A side paho client of this communicator's (the waker, the publishing
 * connection): client id prefix + our hex id into id, no persistence, ctx
 * handed to its callbacks. 0, or -1 (nothing made). Caller's thread. */
int mqtt_side_client(struct mqtt_state *t, const char *prefix, char *id, size_t idcap,
                     void *ctx, MQTTAsync_connectionLost *lost,
                     MQTTAsync_messageArrived *arrived, MQTTAsync *h);

#endif
