/* How a client keeps trying to reach its server, the same for every
 * transport: exponential backoff with jitter that starts over only once a
 * session is established, rate-limited warnings that name the cause, and
 * the connect timeout that fails puts nobody can deliver. */
#include <stdio.h>

#include "core/comm_internal.h"
#include "core/timeutil.h"

#define BACKOFF_FIRST_S 0.05
#define BACKOFF_MAX_S 2.0
#define JITTER 0.25 /* each delay grows by up to this fraction, at random */

/* xorshift64*: jitter needs no quality, only no shared state */
static double unit_random(struct nq_retry *r)
{
    if (!r->rng)
        r->rng = (uint64_t)nq_now_ns() | 1;
    r->rng ^= r->rng >> 12;
    r->rng ^= r->rng << 25;
    r->rng ^= r->rng >> 27;
    return (double)((r->rng * UINT64_C(2685821657736338717)) >> 11) / (double)(UINT64_C(1) << 53);
}

static void not_reached(struct nq_comm *c, const char *why, int warn)
{
    struct nq_retry *r = &c->retry;
    struct nq_session *s = c->sessions;
    int64_t now = nq_now_ms();
    if (!r->first_fail_ms)
        r->first_fail_ms = now;
    if (why != r->why) /* the tick passes the last cause back in */
        snprintf(r->why, sizeof r->why, "%s", why);
    int64_t waited = now - r->first_fail_ms;
    if (c->o.connect_timeout_ms >= 0 && waited > c->o.connect_timeout_ms &&
        (s->head || s->sent_head)) {
        char tries[32] = "";
        if (r->attempts) /* transports that connect on their own count none */
            snprintf(tries, sizeof tries, "%lu attempts, ", r->attempts);
        nq_log(c, NQ_LOG_WARN, "%s:%d not reached for %lld ms (%slast: %s): failing pending puts",
               c->o.host, c->o.port, (long long)waited, tries, why);
        nq_session_fail_all(c, s, NQ_EADDR);
        r->first_fail_ms = now;
    } else if (warn && !c->close_phase) {
        if (r->attempts)
            nq_log_limited(c, &r->rl, NQ_LOG_WARN, "%s:%d: %s (attempt %lu); retrying",
                           c->o.host, c->o.port, why, r->attempts);
        else
            nq_log_limited(c, &r->rl, NQ_LOG_WARN, "%s:%d: %s; retrying", c->o.host, c->o.port,
                           why);
    }
}

void nq_core_client_unreachable(struct nq_comm *c, const char *why)
{
    not_reached(c, why, 1);
}

void nq_core_client_waiting(struct nq_comm *c, const char *why)
{
    not_reached(c, why, 0);
}

double nq_core_client_retry(struct nq_comm *c, const char *why)
{
    struct nq_retry *r = &c->retry;
    r->attempts++;
    if (r->after_session)
        r->after_session = 0;
    else
        c->ctr.connect_failures++;
    nq_core_client_unreachable(c, why);
    r->backoff = r->backoff > 0 ? r->backoff * 2 : BACKOFF_FIRST_S;
    if (r->backoff > BACKOFF_MAX_S)
        r->backoff = BACKOFF_MAX_S;
    return r->backoff * (1.0 + JITTER * unit_random(r));
}

void nq_core_client_tick(struct nq_comm *c)
{
    struct nq_retry *r = &c->retry;
    struct nq_session *s = c->sessions;
    if (c->close_done || c->o.connect_timeout_ms < 0)
        return;
    if ((s->link && s->link->peer_ini) || (!s->head && !s->sent_head))
        return; /* in session, or nothing waits for one */
    int64_t now = nq_now_ms();
    if (!r->first_fail_ms) {
        r->first_fail_ms = now; /* connected (or connecting) without an answer: count */
        return;
    }
    if (now - r->first_fail_ms > c->o.connect_timeout_ms)
        not_reached(c,
                    s->link ? "connected, but the server never answered (its ini did not come)"
                    : r->why[0] ? r->why
                                : "not connected",
                    1);
}

double nq_core_client_lost(struct nq_comm *c, const char *why)
{
    struct nq_session *s = c->sessions;
    if (c->close_done)
        return -1;
    if (c->close_phase && s->fin_sent) {
        /* the server went away during our close: nothing more can be said */
        nq_session_fail_all(c, s, NQ_ERESET);
        nq_core_close_done(c, NQ_ERESET);
        return -1;
    }
    if (s->fin_sent && s->fin_received) {
        /* the server ended the session (both fins): there is nothing to
         * reconnect to; a later close returns at once */
        nq_log(c, NQ_LOG_INFO, "%s:%d ended the session", c->o.host, c->o.port);
        return -1;
    }
    return nq_core_client_retry(c, why);
}

void nq_core_client_established(struct nq_comm *c)
{
    struct nq_retry *r = &c->retry;
    if (r->attempts)
        nq_log(c, NQ_LOG_INFO, "%s:%d: session established after %lu failed attempt(s)",
               c->o.host, c->o.port, r->attempts);
    r->backoff = 0;
    r->after_session = 0;
    r->first_fail_ms = 0;
    r->attempts = 0;
    r->why[0] = 0;
}

void nq_core_close_why(struct nq_comm *c, char *out, size_t cap)
{
    out[0] = 0;
    if (c->purpose == NQ_CLIENT) {
        struct nq_session *s = c->sessions;
        if (!s->link || !s->link->peer_ini) {
            if (c->retry.attempts)
                snprintf(out, cap, "the server at %s:%d was not reached: %s (%lu attempts)",
                         c->o.host, c->o.port, c->retry.why, c->retry.attempts);
            else
                snprintf(out, cap, "no session with the server at %s:%d yet (connecting)",
                         c->o.host, c->o.port);
        } else {
            snprintf(out, cap, "timed out while connected to %s:%d: the server did not finish "
                     "the session (its fin never came)", c->o.host, c->o.port);
        }
        return;
    }
    size_t n = 0, len = 0;
    for (struct nq_session *s = c->sessions; s; s = s->next)
        if (s->link)
            n++;
    len = (size_t)snprintf(out, cap, "%zu peer(s) did not finish in time and were cut", n);
    size_t shown = 0;
    for (struct nq_session *s = c->sessions; s && len < cap; s = s->next) {
        if (!s->link)
            continue;
        if (shown == 8) {
            snprintf(out + len, cap - len, ", ...");
            break;
        }
        char hex[33];
        nq_id_format(s->peer, hex);
        len += (size_t)snprintf(out + len, cap - len, "%s%s (%s)", shown ? ", " : ": ",
                                hex, s->link->name);
        shown++;
    }
}
