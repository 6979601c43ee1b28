/*
 * netqueue._fastput, receive side: what `async for msg in comm`, aget and
 * get do per message, in C (compiled into the _fastput extension; comm.py
 * and aio.py hold the rest, including every wait of asyncio).
 *
 * Why: in Python, each message of an `async for` cost about 1.1 us of the
 * interpreter's own work -- a step of an async generator, the frozen
 * dataclass Message's __init__ (two object.__setattr__ calls), a tuple per
 * message from the batch take, the peer's UUID looked up by a bytes key,
 * a few method calls -- twice what the C library needs to receive it; a
 * blocking get also made a SWIG proxy per message. Here, while messages
 * are queued and no aget waits, a message costs its share of a batch of
 * nq_comm_get (timeout 0), its bytes, the Message object written directly
 * into its two slots and, in `async for`, a pass through the awaitable
 * below; no Python frame runs.
 *
 *  - Inbox: takes what the library has queued, a batch at a time (at most
 *    max_msgs, max_bytes of payload), onto the deque `held` that aio.py and
 *    every get serve first, so the order is the library's whatever mix of
 *    gets is used. With raw bytes (load None) a data message becomes its
 *    comm.Message at once; otherwise, and for events, the item is the tuple
 *    (kind, peer id, data, detail) that comm._convert knows, and the load
 *    runs when the message is handed out (so its error reaches the one who
 *    takes that message, once). The peer's UUID comes from the
 *    communicator's cache (a dict of id bytes), with the last peer kept
 *    here so that a run of one peer's messages needs no lookup.
 *    wait_get is the blocking get's wait (GIL released). Order between it
 *    and the batches: a get that finds held empty and then waits in the
 *    library gets a message newer than any a batch took before; had a
 *    batch been taken onto held while it waited, its next get would be
 *    served older ones from held. So while one waits (direct) takes go to
 *    the library one at a time, and a wait starts only if held gained no
 *    batch since the get looked at it (gen) and none is being taken
 *    (filling; a batch may let other threads run while it makes a peer's
 *    UUID).
 *  - AsyncIter: what Communicator.__aiter__ returns; its __anext__ gives an
 *    ANext, reused while nobody else holds it.
 *  - ANext: the awaitable of one step. Awaited, it takes the next message
 *    WHEN awaited (not when made: an __anext__() nobody awaits takes
 *    nothing), from held or a new batch, and returns it at once (am_send's
 *    PYGEN_RETURN: no exception, no coroutine). When nothing is queued, or
 *    an aget waits (first come, first served), it runs the communicator's
 *    Python slow path instead (a coroutine waiting through aio.Receiver)
 *    and passes send/throw/close through to it, so cancellation is that
 *    coroutine's (nothing lost or duplicated, see aio.py).
 *
 * The communicator may be freed by another thread (close): Inbox.close()
 * runs first, with the GIL, and every nq_comm_get that keeps the GIL is
 * preceded by a check of that flag with no Python code in between -- the
 * same rule as the put path (Putter.close). wait_get releases the GIL: its
 * caller counts the call (comm.py's _Calls), as for every blocking call.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <netqueue/netqueue.h>

/* Most messages one batch may take (max_msgs is capped to it). */
#define FILL_CAP 1024
/* inbox_fill: closed and drained (no exception set) */
#define FILL_CLOSED (-2)

/* ---- Inbox ----------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    nq_comm *comm;
    int closed;
    PyObject *held;         /* collections.deque, shared with aio.Receiver and get */
    PyObject *waiters;      /* aio.Receiver's waiting agets (a deque) */
    PyObject *popleft;      /* held.popleft */
    PyObject *extend;       /* held.extend */
    PyTypeObject *message;  /* comm.Message (a slots dataclass) */
    Py_ssize_t off_peer, off_data; /* its slots */
    PyObject *load;         /* the serializer's load; None: raw bytes */
    PyObject *peer_ids;     /* dict: id bytes -> uuid.UUID (the communicator's) */
    PyObject *peer_id;      /* id bytes -> UUID, made and cached (a miss) */
    PyObject *raise_status; /* (status, detail) -> raises the netqueue error */
    int max_msgs;
    long long max_bytes;
    /* Blocking gets (wait_get) waiting in the library, GIL released. While
     * any does, nothing is taken onto held: what it gets would be newer
     * than what held gained meanwhile, and its next get would then be
     * served an older message from held. Takes go to the library one at a
     * time instead. */
    int direct;
    /* a fill is under way (it may let other threads run, e.g. to make a
     * peer's UUID): a wait_get must not start meanwhile, for the same
     * reason */
    int filling;
    /* held has gained a batch (so a get that looked at held before must
     * look again) */
    unsigned long long gen;
    uint8_t last_id[NQ_ID_SIZE];
    PyObject *last_peer;    /* the UUID of last_id, or NULL */
} Inbox;

/* The offset of a plain object slot of a slots class (its member
 * descriptor), or -1 with an exception set. */
static Py_ssize_t slot_offset(PyTypeObject *type, const char *name)
{
    PyObject *d = PyDict_GetItemString(type->tp_dict, name); /* borrowed */
    if (!d || !Py_IS_TYPE(d, &PyMemberDescr_Type)) {
        PyErr_Format(PyExc_TypeError, "Inbox: %s.%s is not a slot", type->tp_name, name);
        return -1;
    }
    PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
    if (m->type != T_OBJECT_EX || m->offset <= 0 ||
        (size_t)m->offset + sizeof(PyObject *) > (size_t)type->tp_basicsize) {
        PyErr_Format(PyExc_TypeError, "Inbox: %s.%s is not an object slot", type->tp_name, name);
        return -1;
    }
    return m->offset;
}

static int inbox_init(Inbox *self, PyObject *args, PyObject *kw)
{
    unsigned long long comm;
    PyObject *held, *waiters, *message, *load, *peer_ids, *peer_id, *raise_status;
    int max_msgs;
    long long max_bytes;
    static char *names[] = { "comm", "held", "waiters", "message", "load", "peer_ids", "peer_id",
                             "raise_status", "max_msgs", "max_bytes", NULL };
    if (!PyArg_ParseTupleAndKeywords(args, kw, "KOOO!OO!OOiL", names, &comm, &held, &waiters,
                                     &PyType_Type, &message, &load, &PyDict_Type, &peer_ids, &peer_id,
                                     &raise_status, &max_msgs, &max_bytes))
        return -1;
    if (self->comm) {
        PyErr_SetString(PyExc_RuntimeError, "Inbox: already initialised");
        return -1;
    }
    if (!comm) {
        PyErr_SetString(PyExc_ValueError, "Inbox: NULL communicator");
        return -1;
    }
    if (max_msgs < 1 || max_bytes < 1) {
        PyErr_SetString(PyExc_ValueError, "Inbox: a batch must take at least one message");
        return -1;
    }
    PyTypeObject *mt = (PyTypeObject *)message;
    /* written slot by slot, without __init__: only a class whose instances
     * are exactly their slots (a slots dataclass, frozen or not) */
    if (mt->tp_dictoffset != 0 || mt->tp_itemsize != 0 || !PyType_IS_GC(mt)) {
        PyErr_SetString(PyExc_TypeError, "Inbox: message must be a slots class");
        return -1;
    }
    Py_ssize_t off_peer = slot_offset(mt, "peer"), off_data = slot_offset(mt, "data");
    if (off_peer < 0 || off_data < 0)
        return -1;
    PyObject *popleft = PyObject_GetAttrString(held, "popleft");
    PyObject *extend = popleft ? PyObject_GetAttrString(held, "extend") : NULL;
    if (!extend) {
        Py_XDECREF(popleft);
        return -1;
    }
    self->comm = (nq_comm *)(uintptr_t)comm;
    self->held = Py_NewRef(held);
    self->waiters = Py_NewRef(waiters);
    self->popleft = popleft;
    self->extend = extend;
    self->message = (PyTypeObject *)Py_NewRef(message);
    self->off_peer = off_peer;
    self->off_data = off_data;
    self->load = Py_NewRef(load);
    self->peer_ids = Py_NewRef(peer_ids);
    self->peer_id = Py_NewRef(peer_id);
    self->raise_status = Py_NewRef(raise_status);
    self->max_msgs = max_msgs < FILL_CAP ? max_msgs : FILL_CAP;
    self->max_bytes = max_bytes;
    return 0;
}

static int inbox_traverse(Inbox *self, visitproc visit, void *arg)
{
    Py_VISIT(self->held);
    Py_VISIT(self->waiters);
    Py_VISIT(self->popleft);
    Py_VISIT(self->extend);
    Py_VISIT(self->message);
    Py_VISIT(self->load);
    Py_VISIT(self->peer_ids);
    Py_VISIT(self->peer_id);
    Py_VISIT(self->raise_status);
    Py_VISIT(self->last_peer);
    return 0;
}

static int inbox_clear(Inbox *self)
{
    Py_CLEAR(self->held);
    Py_CLEAR(self->waiters);
    Py_CLEAR(self->popleft);
    Py_CLEAR(self->extend);
    Py_CLEAR(self->message);
    Py_CLEAR(self->load);
    Py_CLEAR(self->peer_ids);
    Py_CLEAR(self->peer_id);
    Py_CLEAR(self->raise_status);
    Py_CLEAR(self->last_peer);
    return 0;
}

static void inbox_dealloc(Inbox *self)
{
    PyObject_GC_UnTrack(self);
    inbox_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* A Message of (peer, data), both references stolen: allocated and its
 * slots written, as the dataclass's __init__ would (it only assigns them). */
static PyObject *make_message(Inbox *ib, PyObject *peer, PyObject *data)
{
    PyObject *m = ib->message->tp_alloc(ib->message, 0);
    if (!m) {
        Py_DECREF(peer);
        Py_DECREF(data);
        return NULL;
    }
    *(PyObject **)((char *)m + ib->off_peer) = peer;
    *(PyObject **)((char *)m + ib->off_data) = data;
    return m;
}

/* The UUID of a 16-byte id (a new reference), or NULL with an exception.
 * key: the id as bytes if the caller has it, else NULL. */
static PyObject *peer_of(Inbox *ib, const uint8_t *id, PyObject *key)
{
    if (ib->last_peer && memcmp(id, ib->last_id, NQ_ID_SIZE) == 0)
        return Py_NewRef(ib->last_peer);
    PyObject *k = key ? Py_NewRef(key) : PyBytes_FromStringAndSize((const char *)id, NQ_ID_SIZE);
    if (!k)
        return NULL;
    PyObject *peer = PyDict_GetItemWithError(ib->peer_ids, k);
    if (peer)
        Py_INCREF(peer);
    else if (!PyErr_Occurred())
        peer = PyObject_CallOneArg(ib->peer_id, k);
    Py_DECREF(k);
    if (peer) {
        memcpy(ib->last_id, id, NQ_ID_SIZE);
        Py_XSETREF(ib->last_peer, Py_NewRef(peer));
    }
    return peer;
}

/* One taken message as an item of held (a new reference; m is freed). */
static PyObject *item_of(Inbox *ib, nq_msg *m)
{
    uint8_t id[NQ_ID_SIZE];
    nq_msg_peer(m, id);
    int kind = (int)nq_msg_kind_of(m);
    const char *p = nq_msg_data(m);
    Py_ssize_t n = (Py_ssize_t)nq_msg_size(m);
    PyObject *item = NULL;
    if (kind == NQ_MSG_DATA && ib->load == Py_None) {
        PyObject *peer = peer_of(ib, id, NULL);
        PyObject *data = peer ? PyBytes_FromStringAndSize(n ? p : NULL, n) : NULL;
        if (data) {
            item = make_message(ib, peer, data);
            /* a UUID and bytes: no cycle can go through it, so the cycle
             * collector need not walk it */
            if (item)
                PyObject_GC_UnTrack(item);
        } else {
            Py_XDECREF(peer);
        }
    } else {
        const char *d = nq_msg_event_detail(m);
        PyObject *k = PyLong_FromLong(kind);
        PyObject *pid = PyBytes_FromStringAndSize((const char *)id, NQ_ID_SIZE);
        PyObject *data = PyBytes_FromStringAndSize(n ? p : NULL, n);
        PyObject *det = PyUnicode_DecodeUTF8(d, (Py_ssize_t)strlen(d), "replace");
        if (k && pid && data && det)
            item = PyTuple_Pack(4, k, pid, data, det);
        Py_XDECREF(k);
        Py_XDECREF(pid);
        Py_XDECREF(data);
        Py_XDECREF(det);
    }
    nq_msg_free(m);
    return item;
}

/* Raise the netqueue error of st (NULL, always). */
static PyObject *raise_st(Inbox *ib, nq_status st, const char *detail)
{
    PyObject *r = PyObject_CallFunction(ib->raise_status, "is", (int)st, detail);
    Py_XDECREF(r);
    if (!PyErr_Occurred())
        PyErr_Format(PyExc_RuntimeError, "netqueue: %s: %s", nq_strerror(st), detail);
    return NULL;
}

static PyObject *raise_closed(Inbox *ib)
{
    return raise_st(ib, NQ_ECLOSED, "communicator is closed");
}

/* Take one message from the library into *item (not onto held): 1; 0 if
 * none came within timeout_ms (0: only one already queued); FILL_CLOSED
 * once closed and drained (no exception); -1 with an exception. A wait
 * releases the GIL and counts as direct: the caller keeps the
 * communicator from being freed meanwhile (comm.py counts the call). */
static int get_one(Inbox *ib, const uint8_t *peers, size_t npeers, int64_t timeout_ms, PyObject **item)
{
    *item = NULL;
    if (ib->closed)
        return FILL_CLOSED;
    nq_msg *m = NULL;
    nq_status st;
    char detail[256] = "";
    if (timeout_ms != 0) {
        ib->direct++;
        Py_BEGIN_ALLOW_THREADS
        st = nq_comm_get(ib->comm, peers, npeers, timeout_ms, &m);
        if (st != NQ_OK && st != NQ_ETIMEDOUT)
            snprintf(detail, sizeof detail, "%s", nq_last_error());
        Py_END_ALLOW_THREADS
        ib->direct--;
    } else {
        st = nq_comm_get(ib->comm, peers, npeers, 0, &m);
        if (st != NQ_OK && st != NQ_ETIMEDOUT)
            snprintf(detail, sizeof detail, "%s", nq_last_error());
    }
    if (st == NQ_ETIMEDOUT)
        return 0;
    if (st == NQ_ECLOSED)
        return FILL_CLOSED;
    if (st != NQ_OK) {
        raise_st(ib, st, detail);
        return -1;
    }
    *item = item_of(ib, m);
    return *item ? 1 : -1;
}

/* Move what the library has queued (a batch) onto held: the number taken;
 * FILL_CLOSED once closed and drained (nothing taken, no exception); -1 with
 * an exception (an error of the library when nothing was taken, or memory:
 * what was taken before is on held, the message being converted is lost). */
static Py_ssize_t inbox_fill(Inbox *ib)
{
    PyObject *batch[FILL_CAP];
    Py_ssize_t n = 0;
    long long bytes = 0;
    nq_status st = NQ_ETIMEDOUT;
    char detail[256] = "";
    int failed = 0;
    ib->filling = 1;
    while (n < ib->max_msgs && bytes < ib->max_bytes) {
        if (ib->closed) { /* freed, or about to be: never touch it again */
            st = NQ_ECLOSED;
            break;
        }
        nq_msg *m = NULL;
        st = nq_comm_get(ib->comm, NULL, 0, 0, &m);
        if (st != NQ_OK) {
            if (st != NQ_ETIMEDOUT && st != NQ_ECLOSED)
                snprintf(detail, sizeof detail, "%s", nq_last_error());
            break;
        }
        bytes += (long long)nq_msg_size(m);
        PyObject *item = item_of(ib, m);
        if (!item) {
            failed = 1;
            break;
        }
        batch[n++] = item;
    }
    Py_ssize_t ret = n;
    if (n) {
        PyObject *list = PyList_New(n);
        if (!list) {
            for (Py_ssize_t i = 0; i < n; i++)
                Py_DECREF(batch[i]);
            ret = -1;
            goto out;
        }
        for (Py_ssize_t i = 0; i < n; i++)
            PyList_SET_ITEM(list, i, batch[i]);
        PyObject *et = NULL, *ev = NULL, *tb = NULL;
        if (failed) /* keep the exception; still put the taken ones first */
            PyErr_Fetch(&et, &ev, &tb);
        PyObject *r = PyObject_CallOneArg(ib->extend, list);
        Py_DECREF(list);
        ib->gen++;
        if (!r) {
            Py_XDECREF(et);
            Py_XDECREF(ev);
            Py_XDECREF(tb);
            ret = -1;
            goto out;
        }
        Py_DECREF(r);
        if (failed) {
            PyErr_Restore(et, ev, tb);
            ret = -1;
        }
        goto out;
    }
    if (failed)
        ret = -1;
    else if (st == NQ_ETIMEDOUT || st == NQ_OK)
        ret = 0;
    else if (st == NQ_ECLOSED)
        ret = FILL_CLOSED;
    else {
        raise_st(ib, st, detail);
        ret = -1;
    }
out:
    ib->filling = 0;
    return ret;
}

/* The next held item without waiting, into *raw: 1; 0 if none is queued;
 * FILL_CLOSED once closed and drained; -1 with an exception. From held,
 * else a new batch onto held, else (a blocking get waits in the library)
 * one message straight from the library. */
static int inbox_take(Inbox *ib, PyObject **raw)
{
    *raw = NULL;
    for (;;) {
        Py_ssize_t h = PyObject_Length(ib->held);
        if (h < 0)
            return -1;
        if (h > 0) {
            *raw = PyObject_CallNoArgs(ib->popleft);
            if (*raw)
                return 1;
            /* held is shared with other threads' gets, but nothing ran
             * between its length and this pop; to be sure */
            if (!PyErr_ExceptionMatches(PyExc_IndexError))
                return -1;
            PyErr_Clear();
            continue;
        }
        if (ib->direct > 0)
            return get_one(ib, NULL, 0, 0, raw);
        Py_ssize_t n = inbox_fill(ib);
        if (n <= 0)
            return (int)n; /* 0, FILL_CLOSED or -1 */
    }
}

/* take() -> the next held item without waiting, or None if none is
 * queued; ClosedError once closed and drained. */
static PyObject *inbox_take_py(Inbox *self, PyObject *unused)
{
    (void)unused;
    if (!self->comm) {
        PyErr_SetString(PyExc_RuntimeError, "Inbox: not initialised");
        return NULL;
    }
    PyObject *raw;
    int r = inbox_take(self, &raw);
    if (r == 1)
        return raw;
    if (r == 0)
        Py_RETURN_NONE;
    return r == FILL_CLOSED ? raise_closed(self) : NULL;
}

/* wait_get(peers, timeout_ms, gen) -> a message straight from the library
 * (peers: None or ids back to back), waiting up to timeout_ms with the GIL
 * released (-1: forever); None if none came; Ellipsis if held gained a
 * batch since gen was read, or one is being taken (look at held again
 * first). ClosedError once closed and drained. The blocking get. */
static PyObject *inbox_wait_get(Inbox *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "wait_get(peers, timeout_ms, gen)");
        return NULL;
    }
    if (!self->comm) {
        PyErr_SetString(PyExc_RuntimeError, "Inbox: not initialised");
        return NULL;
    }
    long long timeout = PyLong_AsLongLong(args[1]);
    unsigned long long gen = PyLong_AsUnsignedLongLong(args[2]);
    if (PyErr_Occurred())
        return NULL;
    if (self->filling || gen != self->gen)
        return Py_NewRef(Py_Ellipsis);
    Py_buffer view;
    const uint8_t *peers = NULL;
    size_t npeers = 0;
    int got_view = 0;
    if (args[0] != Py_None) {
        if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) != 0)
            return NULL;
        got_view = 1;
        if (view.len % NQ_ID_SIZE) {
            PyBuffer_Release(&view);
            PyErr_SetString(PyExc_ValueError, "peers must be 16*n bytes (ids back to back)");
            return NULL;
        }
        peers = view.buf;
        npeers = (size_t)view.len / NQ_ID_SIZE;
    }
    PyObject *item;
    int r = get_one(self, peers, npeers, timeout < 0 ? NQ_FOREVER : (int64_t)timeout, &item);
    if (got_view)
        PyBuffer_Release(&view);
    if (r == 1)
        return item;
    if (r == 0)
        Py_RETURN_NONE;
    return r == FILL_CLOSED ? raise_closed(self) : NULL;
}

static PyObject *inbox_get_gen(Inbox *self, void *closure)
{
    (void)closure;
    return PyLong_FromUnsignedLongLong(self->gen);
}

/* A held item as what a get returns (a new reference; None: an event
 * only a handler wanted). A data tuple is loaded here, anything else goes
 * through convert (comm._convert). */
static PyObject *convert_item(Inbox *ib, PyObject *convert, PyObject *raw)
{
    if (PyTuple_CheckExact(raw) && PyTuple_GET_SIZE(raw) == 4 && ib->load != Py_None) {
        PyObject *k = PyTuple_GET_ITEM(raw, 0), *pid = PyTuple_GET_ITEM(raw, 1);
        if (PyLong_CheckExact(k) && PyLong_AsLong(k) == NQ_MSG_DATA && PyBytes_CheckExact(pid) &&
            PyBytes_GET_SIZE(pid) == NQ_ID_SIZE) {
            PyObject *peer = peer_of(ib, (const uint8_t *)PyBytes_AS_STRING(pid), pid);
            if (!peer)
                return NULL;
            PyObject *data = PyObject_CallOneArg(ib->load, PyTuple_GET_ITEM(raw, 2));
            if (!data) {
                Py_DECREF(peer);
                return NULL;
            }
            return make_message(ib, peer, data);
        }
    }
    return PyObject_CallOneArg(convert, raw);
}

/* The next item for `async for` or aget, if it can be had without
 * waiting: a new reference. NULL without an exception: go the slow way
 * (nothing queued, or an aget waits and comes first); NULL with
 * StopAsyncIteration (stop) or ClosedError once closed and drained; NULL
 * with another exception on error. */
static PyObject *inbox_next(Inbox *ib, PyObject *convert, int stop)
{
    for (;;) {
        Py_ssize_t w = PyObject_Length(ib->waiters);
        if (w != 0)
            return NULL; /* w < 0: its exception is set */
        PyObject *raw;
        int r = inbox_take(ib, &raw);
        if (r == 0 || r == -1)
            return NULL;
        if (r == FILL_CLOSED) {
            if (!stop)
                return raise_closed(ib);
            PyErr_SetNone(PyExc_StopAsyncIteration);
            return NULL;
        }
        if (Py_IS_TYPE(raw, ib->message))
            return raw;
        PyObject *item = convert_item(ib, convert, raw);
        Py_DECREF(raw);
        if (item != Py_None)
            return item;
        Py_DECREF(item); /* an event only an ini/fin handler wanted */
    }
}

/* next(convert) -> the next item (Message, or what convert made), or
 * None when one must wait (nothing queued, or an aget waits); ClosedError
 * once closed and drained. aget's fast path. */
static PyObject *inbox_next_py(Inbox *self, PyObject *convert)
{
    if (!self->comm) {
        PyErr_SetString(PyExc_RuntimeError, "Inbox: not initialised");
        return NULL;
    }
    PyObject *item = inbox_next(self, convert, 0);
    if (!item && !PyErr_Occurred())
        Py_RETURN_NONE;
    return item;
}

/* message(peer, data) -> Message, without the dataclass's __init__. */
static PyObject *inbox_message(Inbox *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "message() takes peer and data");
        return NULL;
    }
    if (!self->message) {
        PyErr_SetString(PyExc_RuntimeError, "Inbox: not initialised");
        return NULL;
    }
    return make_message(self, Py_NewRef(args[0]), Py_NewRef(args[1]));
}

/* close(): never call the library again (before the communicator is freed). */
static PyObject *inbox_close(Inbox *self, PyObject *unused)
{
    (void)unused;
    self->closed = 1;
    Py_RETURN_NONE;
}

static PyMethodDef inbox_methods[] = {
    { "take", (PyCFunction)inbox_take_py, METH_NOARGS,
      "take(): the next held item without waiting (a batch is taken onto held first), or None; "
      "ClosedError once closed and drained" },
    { "wait_get", (PyCFunction)(void (*)(void))inbox_wait_get, METH_FASTCALL,
      "wait_get(peers, timeout_ms, gen): a message from the library, waiting without the GIL; None if none "
      "came; Ellipsis if held changed since gen" },
    { "next", (PyCFunction)inbox_next_py, METH_O,
      "next(convert): the next item without waiting, or None (wait: nothing queued, or an aget waits)" },
    { "message", (PyCFunction)(void (*)(void))inbox_message, METH_FASTCALL,
      "message(peer, data) -> Message, made without __init__" },
    { "close", (PyCFunction)inbox_close, METH_NOARGS, "Never call the library again" },
    { NULL, NULL, 0, NULL },
};

static PyGetSetDef inbox_getset[] = {
    { "gen", (getter)inbox_get_gen, NULL, "how many batches held has gained (read before looking at held)", NULL },
    { NULL, NULL, NULL, NULL, NULL },
};

static PyTypeObject InboxType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "netqueue._fastput.Inbox",
    .tp_basicsize = sizeof(Inbox),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Inbox(comm, held, waiters, message, load, peer_ids, peer_id, raise_status, "
              "max_msgs, max_bytes): batches of queued messages onto held",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)inbox_init,
    .tp_dealloc = (destructor)inbox_dealloc,
    .tp_traverse = (traverseproc)inbox_traverse,
    .tp_clear = (inquiry)inbox_clear,
    .tp_methods = inbox_methods,
    .tp_getset = inbox_getset,
};

/* ---- AsyncIter and ANext ----------------------------------------------------- */

typedef struct ANext ANext;

typedef struct {
    PyObject_HEAD
    Inbox *inbox;
    PyObject *convert; /* comm._convert: an item -> Message | Event | None */
    PyObject *slow;    /* () -> a coroutine giving the next item, or raising StopAsyncIteration */
    ANext *spare;    /* the last ANext, reused once nobody else holds it */
} AsyncIter;

enum { AN_FRESH, AN_INNER, AN_DONE };

/* It refers to what its AsyncIter does, not to the AsyncIter: no cycle,
 * so an `async for` that ends frees both at once (convert and slow are
 * bound methods of the communicator, which must not outlive its last
 * reference; the Inbox, which the communicator keeps, refers to none). */
struct ANext {
    PyObject_HEAD
    Inbox *inbox;
    PyObject *convert;
    PyObject *slow;
    PyObject *inner; /* the slow path's coroutine while it runs */
    int state;
};

static PyTypeObject ANextType;

static int aiter_init(AsyncIter *self, PyObject *args, PyObject *kw)
{
    PyObject *inbox, *convert, *slow;
    static char *names[] = { "inbox", "convert", "slow", NULL };
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!OO", names, &InboxType, &inbox, &convert, &slow))
        return -1;
    if (!((Inbox *)inbox)->comm) {
        PyErr_SetString(PyExc_ValueError, "AsyncIter: the inbox is not initialised");
        return -1;
    }
    Py_XSETREF(self->inbox, (Inbox *)Py_NewRef(inbox));
    Py_XSETREF(self->convert, Py_NewRef(convert));
    Py_XSETREF(self->slow, Py_NewRef(slow));
    return 0;
}

static int aiter_traverse(AsyncIter *self, visitproc visit, void *arg)
{
    Py_VISIT(self->inbox);
    Py_VISIT(self->convert);
    Py_VISIT(self->slow);
    Py_VISIT(self->spare);
    return 0;
}

static int aiter_clear(AsyncIter *self)
{
    Py_CLEAR(self->inbox);
    Py_CLEAR(self->convert);
    Py_CLEAR(self->slow);
    Py_CLEAR(self->spare);
    return 0;
}

static void aiter_dealloc(AsyncIter *self)
{
    PyObject_GC_UnTrack(self);
    aiter_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *aiter_aiter(PyObject *self)
{
    return Py_NewRef(self);
}

static PyObject *aiter_anext(AsyncIter *self)
{
    if (!self->inbox) {
        PyErr_SetString(PyExc_RuntimeError, "AsyncIter: not initialised");
        return NULL;
    }
    ANext *a = self->spare;
    /* the spare is ours alone once its last await ended: reuse it */
    if (a && Py_REFCNT(a) == 1 && a->state == AN_DONE && !a->inner) {
        a->state = AN_FRESH;
        return Py_NewRef((PyObject *)a);
    }
    a = PyObject_GC_New(ANext, &ANextType);
    if (!a)
        return NULL;
    a->inbox = (Inbox *)Py_NewRef((PyObject *)self->inbox);
    a->convert = Py_NewRef(self->convert);
    a->slow = Py_NewRef(self->slow);
    a->inner = NULL;
    a->state = AN_FRESH;
    PyObject_GC_Track(a);
    Py_XSETREF(self->spare, (ANext *)Py_NewRef((PyObject *)a));
    return (PyObject *)a;
}

static int anext_traverse(ANext *self, visitproc visit, void *arg)
{
    Py_VISIT(self->inbox);
    Py_VISIT(self->convert);
    Py_VISIT(self->slow);
    Py_VISIT(self->inner);
    return 0;
}

static int anext_clear(ANext *self)
{
    Py_CLEAR(self->inbox);
    Py_CLEAR(self->convert);
    Py_CLEAR(self->slow);
    Py_CLEAR(self->inner);
    return 0;
}

static void anext_dealloc(ANext *self)
{
    PyObject_GC_UnTrack(self);
    anext_clear(self);
    PyObject_GC_Del(self);
}

/* A result of the inner coroutine: it is over unless it yielded. */
static PySendResult inner_result(ANext *a, PySendResult r)
{
    if (r != PYGEN_NEXT) {
        Py_CLEAR(a->inner);
        a->state = AN_DONE;
    }
    return r;
}

static PySendResult anext_send(ANext *a, PyObject *arg, PyObject **result)
{
    *result = NULL;
    if (a->inner)
        return inner_result(a, PyIter_Send(a->inner, arg, result));
    if (a->state != AN_FRESH) {
        PyErr_SetString(PyExc_RuntimeError, "cannot reuse already awaited __anext__()");
        return PYGEN_ERROR;
    }
    PyObject *item = inbox_next(a->inbox, a->convert, 1);
    if (item) {
        a->state = AN_DONE;
        *result = item;
        return PYGEN_RETURN;
    }
    if (PyErr_Occurred()) {
        a->state = AN_DONE;
        return PYGEN_ERROR;
    }
    /* nothing to take now, or an older aget comes first: wait the slow way */
    a->inner = PyObject_CallNoArgs(a->slow);
    if (!a->inner) {
        a->state = AN_DONE;
        return PYGEN_ERROR;
    }
    a->state = AN_INNER;
    return inner_result(a, PyIter_Send(a->inner, Py_None, result));
}

static PyObject *anext_await(PyObject *self)
{
    return Py_NewRef(self);
}

/* send(value): as a coroutine's (the value of the await ends it with
 * StopIteration(value)) */
static PyObject *anext_send_py(ANext *a, PyObject *arg)
{
    PyObject *result;
    PySendResult r = anext_send(a, arg, &result);
    if (r == PYGEN_NEXT)
        return result;
    if (r == PYGEN_RETURN) {
        /* StopIteration(result), made explicitly (a tuple would otherwise
         * become its arguments) */
        PyObject *e = PyObject_CallOneArg(PyExc_StopIteration, result);
        Py_DECREF(result);
        if (e) {
            PyErr_SetObject(PyExc_StopIteration, e);
            Py_DECREF(e);
        }
    }
    return NULL;
}

/* __next__: send(None), for whoever iterates without am_send */
static PyObject *anext_iternext(ANext *a)
{
    return anext_send_py(a, Py_None);
}

/* throw(exc) / throw(type[, value[, tb]]): into the slow path's coroutine
 * (a cancelled task's CancelledError); before it runs, raised here. */
static PyObject *anext_throw(ANext *a, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "throw() takes 1 to 3 arguments");
        return NULL;
    }
    if (a->inner) {
        PyObject *meth = PyObject_GetAttrString(a->inner, "throw");
        PyObject *r = meth ? PyObject_Vectorcall(meth, args, (size_t)nargs, NULL) : NULL;
        Py_XDECREF(meth);
        if (!r) { /* the coroutine ended: with its exception, or StopIteration(value) */
            Py_CLEAR(a->inner);
            a->state = AN_DONE;
        }
        return r;
    }
    a->state = AN_DONE;
    PyObject *typ = args[0];
    if (PyExceptionInstance_Check(typ))
        PyErr_SetObject((PyObject *)Py_TYPE(typ), typ);
    else if (PyExceptionClass_Check(typ))
        PyErr_SetObject(typ, nargs > 1 && args[1] != Py_None ? args[1] : NULL);
    else
        PyErr_SetString(PyExc_TypeError, "exceptions must be classes or instances deriving from BaseException");
    return NULL;
}

static PyObject *anext_close(ANext *a, PyObject *unused)
{
    (void)unused;
    a->state = AN_DONE;
    if (!a->inner)
        Py_RETURN_NONE;
    PyObject *inner = a->inner;
    a->inner = NULL;
    PyObject *r = PyObject_CallMethod(inner, "close", NULL);
    Py_DECREF(inner);
    return r;
}

static PyMethodDef anext_methods[] = {
    { "send", (PyCFunction)anext_send_py, METH_O, "send(value): as a coroutine's" },
    { "throw", (PyCFunction)(void (*)(void))anext_throw, METH_FASTCALL, "throw(exc): as a coroutine's" },
    { "close", (PyCFunction)anext_close, METH_NOARGS, "close(): as a coroutine's" },
    { NULL, NULL, 0, NULL },
};

static PyAsyncMethods anext_async = {
    .am_await = anext_await,
    .am_send = (sendfunc)anext_send,
};

static PyTypeObject ANextType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "netqueue._fastput.ANext",
    .tp_basicsize = sizeof(ANext),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The awaitable of one `async for` step (AsyncIter.__anext__)",
    .tp_as_async = &anext_async,
    .tp_dealloc = (destructor)anext_dealloc,
    .tp_traverse = (traverseproc)anext_traverse,
    .tp_clear = (inquiry)anext_clear,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)anext_iternext,
    .tp_methods = anext_methods,
};

static PyAsyncMethods aiter_async = {
    .am_aiter = aiter_aiter,
    .am_anext = (unaryfunc)aiter_anext,
};

static PyTypeObject AsyncIterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "netqueue._fastput.AsyncIter",
    .tp_basicsize = sizeof(AsyncIter),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "AsyncIter(inbox, convert, slow): `async for` over a communicator",
    .tp_as_async = &aiter_async,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)aiter_init,
    .tp_dealloc = (destructor)aiter_dealloc,
    .tp_traverse = (traverseproc)aiter_traverse,
    .tp_clear = (inquiry)aiter_clear,
};

/* Called by the module's init (_fastput.c): add Inbox and AsyncIter. */
int nq_fastrecv_add_types(PyObject *module)
{
    if (PyType_Ready(&InboxType) < 0 || PyType_Ready(&ANextType) < 0 || PyType_Ready(&AsyncIterType) < 0)
        return -1;
    if (PyModule_AddObjectRef(module, "Inbox", (PyObject *)&InboxType) < 0 ||
        PyModule_AddObjectRef(module, "AsyncIter", (PyObject *)&AsyncIterType) < 0 ||
        PyModule_AddObjectRef(module, "ANext", (PyObject *)&ANextType) < 0)
        return -1;
    return 0;
}
