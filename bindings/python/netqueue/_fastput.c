/*
 * netqueue._fastput: the per-put path of the Python binding, hand-written
 * (the SWIG layer stays for everything else).
 *
 * Why: through SWIG a 64 B put cost ~20 us of Python (proxy layers, a
 * concurrent.futures.Future with its Condition, a lock round per call, a
 * GIL release and the drain thread fighting for it, a SWIG object per
 * completion). Here a put is one C call and a completion a few dict and
 * attribute operations in C:
 *
 *  - Putter.put(data, *peers) checks the communicator is open, makes the
 *    future (an instance of comm.PutFuture, a concurrent.futures.Future
 *    whose lock and lists are made only when used), files it in a slot of
 *    the pending array (the slot number is the tag) and calls
 *    nq_comm_put_cq -- all with the GIL
 *    held, which is what makes the open check and the call atomic against
 *    close (nq_comm_put never blocks unless a send limit is set; with one,
 *    release_gil is set and comm.py counts the call instead).
 *  - Putter.drain() is the drain thread's body: without the GIL it waits
 *    for a completion and takes every other one already queued (up to
 *    DRAIN_BATCH), then completes them in one GIL hold. A future nobody has looked at
 *    yet (its _nq_slow is False) is completed by setting _state; otherwise
 *    its _nq_finish(status) runs (Python: lock, waiters, done-callbacks).
 *  - The library only ever holds integer tags, never Python objects: the
 *    pending array keeps each future alive until its completion is taken.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdio.h>

#include <netqueue/netqueue.h>

#define DRAIN_BATCH 4096

typedef struct {
    PyObject_HEAD
    nq_comm *comm;
    nq_cq *cq;
    PyObject **slots;      /* pending futures by tag (strong refs; NULL: free) */
    uint64_t *free_tags;   /* free slots (room for cap) */
    size_t nslots, cap, nfree;
    PyTypeObject *future;  /* comm.PutFuture */
    PyObject *dump;        /* serializer's dump, or None for raw bytes */
    PyObject *peer_bytes;  /* peers tuple -> bytes of 16*n */
    PyObject *raise_status; /* (status, detail) -> raises the netqueue error */
    int release_gil;       /* a send limit is set: nq_comm_put may wait */
    int closed;
} Putter;

static PyObject *str_state, *str_nq_slow, *str_nq_finish, *str_finished, *empty_tuple;

static int putter_init(Putter *self, PyObject *args, PyObject *kw)
{
    unsigned long long comm, cq;
    PyObject *future, *dump, *peer_bytes, *raise_status;
    int release_gil = 0;
    static char *names[] = { "comm", "cq", "future", "dump", "peer_bytes", "raise_status", "release_gil", NULL };
    if (!PyArg_ParseTupleAndKeywords(args, kw, "KKO!OOO|p", names, &comm, &cq, &PyType_Type, &future, &dump,
                                     &peer_bytes, &raise_status, &release_gil))
        return -1;
    if (self->slots) {
        PyErr_SetString(PyExc_RuntimeError, "Putter: already initialised");
        return -1;
    }
    self->release_gil = release_gil;
    if (!comm || !cq) {
        PyErr_SetString(PyExc_ValueError, "Putter: NULL communicator or queue");
        return -1;
    }
    self->comm = (nq_comm *)(uintptr_t)comm;
    self->cq = (nq_cq *)(uintptr_t)cq;
    Py_INCREF(future);
    Py_XSETREF(self->future, (PyTypeObject *)future);
    Py_INCREF(dump);
    Py_XSETREF(self->dump, dump);
    Py_INCREF(peer_bytes);
    Py_XSETREF(self->peer_bytes, peer_bytes);
    Py_INCREF(raise_status);
    Py_XSETREF(self->raise_status, raise_status);
    return 0;
}

static int putter_traverse(Putter *self, visitproc visit, void *arg)
{
    for (size_t i = 0; i < self->nslots; i++)
        Py_VISIT(self->slots[i]);
    Py_VISIT(self->future);
    Py_VISIT(self->dump);
    Py_VISIT(self->peer_bytes);
    Py_VISIT(self->raise_status);
    return 0;
}

static int putter_clear(Putter *self)
{
    for (size_t i = 0; i < self->nslots; i++)
        Py_CLEAR(self->slots[i]);
    Py_CLEAR(self->future);
    Py_CLEAR(self->dump);
    Py_CLEAR(self->peer_bytes);
    Py_CLEAR(self->raise_status);
    return 0;
}

static void putter_dealloc(Putter *self)
{
    PyObject_GC_UnTrack(self);
    putter_clear(self);
    PyMem_Free(self->slots);
    PyMem_Free(self->free_tags);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* File fut under a new tag (GIL held). -1 with MemoryError. */
static int slot_add(Putter *self, PyObject *fut, uint64_t *tag)
{
    if (self->nfree) {
        *tag = self->free_tags[--self->nfree];
    } else {
        if (self->nslots == self->cap) {
            size_t cap = self->cap ? 2 * self->cap : 1024;
            PyObject **slots = PyMem_Realloc(self->slots, cap * sizeof *slots);
            if (!slots)
                goto nomem;
            self->slots = slots;
            uint64_t *free_tags = PyMem_Realloc(self->free_tags, cap * sizeof *free_tags);
            if (!free_tags)
                goto nomem;
            self->free_tags = free_tags;
            self->cap = cap;
        }
        *tag = self->nslots;
        self->slots[self->nslots++] = NULL;
    }
    self->slots[*tag] = Py_NewRef(fut);
    return 0;
nomem:
    PyErr_NoMemory();
    return -1;
}

/* Take the future of tag out (a new reference), or NULL if none (GIL held). */
static PyObject *slot_take(Putter *self, uint64_t tag)
{
    if (tag >= self->nslots || !self->slots[tag])
        return NULL;
    PyObject *fut = self->slots[tag];
    self->slots[tag] = NULL;
    self->free_tags[self->nfree++] = tag; /* nfree <= nslots <= cap */
    return fut;
}

/* Raise the netqueue error for st with detail (NULL on return, always). */
static PyObject *fail(Putter *self, nq_status st, const char *detail)
{
    PyObject *r = PyObject_CallFunction(self->raise_status, "is", (int)st, detail);
    Py_XDECREF(r);
    if (!PyErr_Occurred())
        PyErr_Format(PyExc_RuntimeError, "netqueue: %s: %s", nq_strerror(st), detail);
    return NULL;
}

/* put(data, *peers) -> PutFuture */
static PyObject *putter_put(Putter *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError, "put() needs the data");
        return NULL;
    }
    if (self->closed)
        return fail(self, NQ_ECLOSED, "communicator is closed");
    PyObject *buf, *peers = NULL, *fut = NULL, *ret = NULL;
    if (self->dump == Py_None) {
        /* raw (BufferSerializer): str as UTF-8, any buffer as it is */
        buf = PyUnicode_Check(args[0]) ? PyUnicode_AsUTF8String(args[0]) : Py_NewRef(args[0]);
    } else {
        buf = PyObject_CallOneArg(self->dump, args[0]);
    }
    if (!buf)
        return NULL;
    Py_buffer view, pview;
    int pgot = 0;
    if (PyObject_GetBuffer(buf, &view, PyBUF_SIMPLE) != 0)
        goto out_buf;
    const uint8_t *pp = NULL;
    size_t np = 0;
    if (nargs > 1) {
        PyObject *tuple = PyTuple_New(nargs - 1);
        if (!tuple)
            goto out_view;
        for (Py_ssize_t i = 1; i < nargs; i++)
            PyTuple_SET_ITEM(tuple, i - 1, Py_NewRef(args[i]));
        peers = PyObject_CallOneArg(self->peer_bytes, tuple);
        Py_DECREF(tuple);
        if (!peers || PyObject_GetBuffer(peers, &pview, PyBUF_SIMPLE) != 0)
            goto out_view;
        pgot = 1;
        if (pview.len % NQ_ID_SIZE) {
            PyErr_SetString(PyExc_ValueError, "peers must be 16*n bytes (ids back to back)");
            goto out_view;
        }
        pp = pview.buf;
        np = (size_t)pview.len / NQ_ID_SIZE;
    }
    /* object.__new__(PutFuture): its class attributes are its initial state */
    fut = self->future->tp_new(self->future, empty_tuple, NULL);
    if (!fut)
        goto out_view;
    /* Not tracked by the cycle collector until it could be part of a
     * cycle: only its lock, lists and exception can lead back to it, and
     * making any of them tracks it again (track() below, from PutFuture).
     * Otherwise every put's future is traversed by each collection while
     * it lives (a fifth of a 64 B put's time when many are kept). */
    PyObject_GC_UnTrack(fut);
    uint64_t tag;
    if (slot_add(self, fut, &tag) != 0) /* before the put: it may complete at once */
        goto out_view;
    nq_status st;
    char detail[256];
    if (self->release_gil) {
        /* may wait for the send limit: the caller holds the communicator
         * open (comm.py counts the call) while the GIL is released */
        Py_BEGIN_ALLOW_THREADS
        st = nq_comm_put_cq(self->comm, view.buf, (size_t)view.len, pp, np, self->cq, tag);
        if (st != NQ_OK)
            snprintf(detail, sizeof detail, "%s", nq_last_error());
        Py_END_ALLOW_THREADS
    } else {
        st = nq_comm_put_cq(self->comm, view.buf, (size_t)view.len, pp, np, self->cq, tag);
        if (st != NQ_OK)
            snprintf(detail, sizeof detail, "%s", nq_last_error());
    }
    if (st != NQ_OK) {
        Py_XDECREF(slot_take(self, tag));
        fail(self, st, detail);
        goto out_view;
    }
    ret = Py_NewRef(fut);
out_view:
    if (pgot)
        PyBuffer_Release(&pview);
    PyBuffer_Release(&view);
out_buf:
    Py_XDECREF(peers);
    Py_XDECREF(fut);
    Py_DECREF(buf);
    return ret;
}

/* Complete the future of tag (GIL held). 0, or -1 with an exception set. */
static int complete(Putter *self, uint64_t tag, nq_status result)
{
    PyObject *fut = slot_take(self, tag);
    if (!fut)
        return 0; /* not ours (cannot happen) */
    int rc = 0;
    if (result == NQ_OK) {
        /* fast: nobody made its lock or lists, so nobody can be waiting on
         * it; setting _state is the whole completion (the GIL is held from
         * the check to the store, and a waiter sets _nq_slow before it
         * checks _state under the lock it then makes). */
        PyObject *slow = PyObject_GetAttr(fut, str_nq_slow);
        if (!slow) {
            rc = -1;
        } else if (slow == Py_False) {
            rc = PyObject_SetAttr(fut, str_state, str_finished);
            Py_DECREF(slow);
            Py_DECREF(fut);
            return rc;
        }
        Py_XDECREF(slow);
    }
    if (rc == 0) {
        if (!PyObject_GC_IsTracked(fut)) /* the exception may lead back to it */
            PyObject_GC_Track(fut);
        PyObject *status = PyLong_FromLong((long)result);
        PyObject *r = status ? PyObject_CallMethodObjArgs(fut, str_nq_finish, status, NULL) : NULL;
        rc = r ? 0 : -1;
        Py_XDECREF(r);
        Py_XDECREF(status);
    }
    Py_DECREF(fut);
    return rc;
}

/* drain(): complete futures until the queue is shut down and drained. */
static PyObject *putter_drain(Putter *self, PyObject *unused)
{
    (void)unused;
    /* Completions are gathered without the GIL, then completed in one GIL
     * hold: the GIL-held part, which the putting thread waits out, is only
     * the Python-object work. */
    uint64_t *tags = PyMem_Malloc(DRAIN_BATCH * sizeof *tags);
    nq_status *results = PyMem_Malloc(DRAIN_BATCH * sizeof *results);
    PyObject *ret = NULL;
    if (!tags || !results) {
        PyErr_NoMemory();
        goto out;
    }
    for (;;) {
        int n = 0;
        nq_status st;
        char detail[256] = "";
        Py_BEGIN_ALLOW_THREADS
        st = nq_cq_next(self->cq, NQ_FOREVER, &tags[0], &results[0]);
        if (st == NQ_OK) {
            for (n = 1; n < DRAIN_BATCH; n++)
                if (nq_cq_next(self->cq, 0, &tags[n], &results[n]) != NQ_OK)
                    break;
        } else if (st != NQ_ECLOSED) {
            snprintf(detail, sizeof detail, "%s", nq_last_error());
        }
        Py_END_ALLOW_THREADS
        if (st == NQ_ECLOSED) {
            ret = Py_NewRef(Py_None);
            goto out;
        }
        if (st != NQ_OK) {
            fail(self, st, detail);
            goto out;
        }
        for (int i = 0; i < n; i++) {
            if (complete(self, tags[i], results[i]) != 0) {
                /* a done-callback's error is caught by Future; this is
                 * memory or a broken future: report it, go on draining */
                PyErr_WriteUnraisable((PyObject *)self);
            }
        }
    }
out:
    PyMem_Free(tags);
    PyMem_Free(results);
    return ret;
}

/* close(): refuse later puts (called before the communicator is freed). */
static PyObject *putter_close(Putter *self, PyObject *unused)
{
    (void)unused;
    self->closed = 1;
    Py_RETURN_NONE;
}

/* track(future): let the cycle collector see a future again (PutFuture
 * calls it before making what could refer back to the future). */
static PyObject *track(PyObject *module, PyObject *obj)
{
    (void)module;
    if (PyObject_IS_GC(obj) && !PyObject_GC_IsTracked(obj))
        PyObject_GC_Track(obj);
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    { "track", track, METH_O, "track(obj): make the cycle collector see obj again" },
    { NULL, NULL, 0, NULL },
};

static PyMethodDef putter_methods[] = {
    { "put", (PyCFunction)(void (*)(void))putter_put, METH_FASTCALL,
      "put(data, *peers) -> PutFuture: dump, put through the completion queue" },
    { "drain", (PyCFunction)putter_drain, METH_NOARGS,
      "Complete put futures until the completion queue is shut down and drained" },
    { "close", (PyCFunction)putter_close, METH_NOARGS, "Refuse later puts" },
    { NULL, NULL, 0, NULL },
};

static PyTypeObject PutterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "netqueue._fastput.Putter",
    .tp_basicsize = sizeof(Putter),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Putter(comm, cq, future, dump, peer_bytes, raise_status, release_gil=False): the put path",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)putter_init,
    .tp_dealloc = (destructor)putter_dealloc,
    .tp_traverse = (traverseproc)putter_traverse,
    .tp_clear = (inquiry)putter_clear,
    .tp_methods = putter_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "netqueue._fastput",
    .m_doc = "The Python binding's per-put path (see comm.py).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__fastput(void)
{
    if (PyType_Ready(&PutterType) < 0)
        return NULL;
    str_state = PyUnicode_InternFromString("_state");
    str_nq_slow = PyUnicode_InternFromString("_nq_slow");
    str_nq_finish = PyUnicode_InternFromString("_nq_finish");
    str_finished = PyUnicode_InternFromString("FINISHED");
    empty_tuple = PyTuple_New(0);
    if (!str_state || !str_nq_slow || !str_nq_finish || !str_finished || !empty_tuple)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
    Py_INCREF(&PutterType);
    if (PyModule_AddObject(m, "Putter", (PyObject *)&PutterType) < 0) {
        Py_DECREF(&PutterType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
