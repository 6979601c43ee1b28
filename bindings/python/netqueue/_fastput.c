/*
 * netqueue._fastput: the per-put path of the Python binding, hand-written
 * (the SWIG layer stays for everything else); its receive side, the
 * per-message path of `async for`, is _fastrecv.c (same extension).
 *
 * Why: through SWIG a 64 B put cost ~20 us of Python (proxy layers, a
 * concurrent.futures.Future with its Condition, a lock round per call, a
 * GIL release and the drain thread fighting for it, a SWIG object per
 * completion). Here a put is one C call, and a completion nobody waits for
 * needs no Python at all:
 *
 *  - FutureCore is the C base of comm.PutFuture (class PutFuture(FutureCore,
 *    concurrent.futures.Future)): it keeps the future's state in an atomic
 *    word (_state, _nq_slow) and _result / _exception in C fields, and
 *    answers done(), result(), exception()... in C when the state alone
 *    answers; Future's lock and lists (_condition, _waiters,
 *    _done_callbacks) are made on first use, which sets _nq_slow. Future's
 *    own Python code sees the same attributes.
 *  - Putter.put(data, *peers) checks the communicator is open, makes the
 *    future (state RUNNING), takes a reference to it that the tag carries
 *    (the tag IS the future's address) and calls nq_comm_put_cq -- all with
 *    the GIL held, which is what makes the open check and the call atomic
 *    against close (nq_comm_put never blocks unless a send limit is set;
 *    with one, release_gil is set and comm.py counts the call instead).
 *  - Putter.drain() is the drain thread's body and runs WITHOUT the GIL:
 *    it takes completions in batches (nq_cq_next_batch) and completes each
 *    future nobody has looked at by one compare-and-swap of its state
 *    (RUNNING -> FINISHED). The tag's reference is then dropped later by
 *    whoever holds the GIL: the next put (once 256 are waiting), or the
 *    drain thread when the queue goes idle. Only a future somebody looked
 *    at (its _nq_slow bit is set: it has a lock, waiters or callbacks) or a
 *    failed put needs the GIL on the drain thread: its _nq_finish(status)
 *    runs there, and so does every later completion of the same batch, so
 *    that futures still complete in put order.
 *  - The drain thread thus never makes the putting thread wait for the GIL
 *    (it used to take it once per batch: a forced switch every 5 ms and the
 *    putter stopped while a batch was completed).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <stdint.h>
#include <stdio.h>

#include <netqueue/netqueue.h>

#define DRAIN_BATCH 1024
/* A put drops the references of completed futures once this many wait. */
#define RELEASE_AT 256
/* The drain thread drops them itself after this long without completions. */
#define IDLE_MS 10

/* ---- FutureCore ---------------------------------------------------------- */

/* concurrent.futures' states, in the low bits of the state word */
enum { ST_PENDING, ST_RUNNING, ST_CANCELLED, ST_CANCELLED_NOTIFIED, ST_FINISHED, ST_COUNT };
#define ST_MASK 7
/* somebody made its lock, lists or exception: completion goes through
 * _nq_finish with the GIL */
#define ST_SLOW 8
/* a thread waits for it in result()/exception() on the state word (a
 * futex): completion swaps the state and wakes it, still without the GIL */
#define ST_WAIT 16
/* a waiter on the state word wakes this often to run signal handlers */
#define WAIT_SLICE_MS 50

static void state_wake(_Atomic int *word)
{
    syscall(SYS_futex, (int *)word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* RUNNING -> FINISHED if nobody made the lock (waking waiters on the word);
 * 1 if done, 0 if the completion needs the slow path. Any thread. */
static int finish_fast(_Atomic int *state)
{
    int old = ST_RUNNING;
    if (atomic_compare_exchange_strong(state, &old, ST_FINISHED))
        return 1;
    if (old == (ST_RUNNING | ST_WAIT) && atomic_compare_exchange_strong(state, &old, ST_FINISHED)) {
        state_wake(state);
        return 1;
    }
    return 0;
}

typedef struct {
    PyObject_HEAD
    _Atomic int state;
    PyObject *result;
    PyObject *exception;
    PyObject *lazy; /* [_condition, _waiters, _done_callbacks], made on first use */
} FutureCore;

enum { LAZY_CONDITION, LAZY_WAITERS, LAZY_CALLBACKS, LAZY_COUNT };

static PyObject *state_names[ST_COUNT]; /* concurrent.futures._base.PENDING... */
static PyObject *py_condition;          /* threading.Condition */
static PyObject *py_future_result, *py_future_exception, *py_future_cancel; /* Future's own */

static PyObject *core_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    (void)args;
    (void)kw;
    FutureCore *f = (FutureCore *)type->tp_alloc(type, 0);
    if (f)
        atomic_init(&f->state, ST_RUNNING); /* a put's future runs from the start */
    return (PyObject *)f;
}

static int core_traverse(FutureCore *f, visitproc visit, void *arg)
{
    Py_VISIT(f->result);
    Py_VISIT(f->exception);
    Py_VISIT(f->lazy);
    return 0;
}

static int core_clear(FutureCore *f)
{
    Py_CLEAR(f->result);
    Py_CLEAR(f->exception);
    Py_CLEAR(f->lazy);
    return 0;
}

static void core_dealloc(FutureCore *f)
{
    PyObject_GC_UnTrack(f);
    core_clear(f);
    Py_TYPE(f)->tp_free((PyObject *)f);
}

static int state_of(FutureCore *f)
{
    return atomic_load(&f->state) & ST_MASK;
}

static PyObject *core_get_state(FutureCore *f, void *closure)
{
    (void)closure;
    return Py_NewRef(state_names[state_of(f)]);
}

static int core_set_state(FutureCore *f, PyObject *v, void *closure)
{
    (void)closure;
    if (!v) {
        PyErr_SetString(PyExc_AttributeError, "_state cannot be deleted");
        return -1;
    }
    for (int s = 0; s < ST_COUNT; s++) {
        int eq = PyObject_RichCompareBool(v, state_names[s], Py_EQ);
        if (eq < 0)
            return -1;
        if (eq) {
            int old = atomic_load(&f->state);
            while (!atomic_compare_exchange_weak(&f->state, &old, (old & ST_SLOW) | s))
                ;
            if (old & ST_WAIT)
                state_wake(&f->state);
            return 0;
        }
    }
    PyErr_Format(PyExc_ValueError, "not a future state: %R", v);
    return -1;
}

static PyObject *core_get_slow(FutureCore *f, void *closure)
{
    (void)closure;
    return PyBool_FromLong(atomic_load(&f->state) & ST_SLOW);
}

static int core_set_slow(FutureCore *f, PyObject *v, void *closure)
{
    (void)closure;
    int on = v ? PyObject_IsTrue(v) : 0;
    if (on < 0)
        return -1;
    if (on)
        atomic_fetch_or(&f->state, ST_SLOW);
    else
        atomic_fetch_and(&f->state, ~ST_SLOW);
    return 0;
}

/* The lock and lists Future.__init__ would make, made on first use.
 * First the slow bit (from now on completion takes the GIL and the lock),
 * then the cycle collector sees the future again (what is made now may
 * lead back to it). Data descriptors rather than __getattr__: a type
 * with __getattr__ makes every method call allocate a bound method. */
static int make_lazy(FutureCore *f)
{
    atomic_fetch_or(&f->state, ST_SLOW);
    if (!PyObject_GC_IsTracked((PyObject *)f))
        PyObject_GC_Track(f);
    PyObject *lazy = PyList_New(LAZY_COUNT);
    if (!lazy)
        return -1;
    PyObject *cond = PyObject_CallNoArgs(py_condition);
    PyObject *waiters = PyList_New(0), *callbacks = PyList_New(0);
    if (!cond || !waiters || !callbacks) {
        Py_XDECREF(cond);
        Py_XDECREF(waiters);
        Py_XDECREF(callbacks);
        Py_DECREF(lazy);
        return -1;
    }
    PyList_SET_ITEM(lazy, LAZY_CONDITION, cond);
    PyList_SET_ITEM(lazy, LAZY_WAITERS, waiters);
    PyList_SET_ITEM(lazy, LAZY_CALLBACKS, callbacks);
    if (f->lazy) /* made meanwhile by code the calls above ran */
        Py_DECREF(lazy);
    else
        f->lazy = lazy;
    return 0;
}

static PyObject *core_get_lazy(FutureCore *f, void *closure)
{
    if (!f->lazy && make_lazy(f) != 0)
        return NULL;
    return Py_NewRef(PyList_GET_ITEM(f->lazy, (Py_ssize_t)(intptr_t)closure));
}

static int core_set_lazy(FutureCore *f, PyObject *v, void *closure)
{
    if (!v) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete a future's lock or lists");
        return -1;
    }
    if (!f->lazy && make_lazy(f) != 0)
        return -1;
    return PyList_SetItem(f->lazy, (Py_ssize_t)(intptr_t)closure, Py_NewRef(v));
}

static PyObject *core_done(FutureCore *f, PyObject *unused)
{
    (void)unused;
    int s = state_of(f);
    return PyBool_FromLong(s == ST_FINISHED || s == ST_CANCELLED || s == ST_CANCELLED_NOTIFIED);
}

static PyObject *core_running(FutureCore *f, PyObject *unused)
{
    (void)unused;
    return PyBool_FromLong(state_of(f) == ST_RUNNING);
}

static PyObject *core_cancelled(FutureCore *f, PyObject *unused)
{
    (void)unused;
    int s = state_of(f);
    return PyBool_FromLong(s == ST_CANCELLED || s == ST_CANCELLED_NOTIFIED);
}

/* Call Future's own method (the slow path: waiting, cancelled...). */
static PyObject *call_base(PyObject *method, FutureCore *f, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames)
{
    PyObject *stack[3];
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs + nkw > 2) {
        PyErr_SetString(PyExc_TypeError, "too many arguments");
        return NULL;
    }
    stack[0] = (PyObject *)f;
    for (Py_ssize_t i = 0; i < nargs + nkw; i++)
        stack[1 + i] = args[i];
    return PyObject_Vectorcall(method, stack, 1 + nargs, kwnames);
}

static PyObject *core_cancel(FutureCore *f, PyObject *unused)
{
    (void)unused;
    int s = state_of(f);
    if (s == ST_RUNNING || s == ST_FINISHED) /* a put cannot be taken back */
        Py_RETURN_FALSE;
    return call_base(py_future_cancel, f, NULL, 0, NULL);
}

/* timeout=None / a number of seconds, as result() and exception() take
 * it: < 0 for none; 1 if it cannot be read here (Future's own method then
 * reports it). */
static int parse_timeout(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, double *timeout)
{
    PyObject *t = Py_None;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs + nkw > 1)
        return 1;
    if (nargs == 1)
        t = args[0];
    else if (nkw == 1) {
        if (PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0), "timeout") != 0)
            return 1;
        t = args[0];
    }
    if (t == Py_None) {
        *timeout = -1;
        return 0;
    }
    double v = PyFloat_AsDouble(t);
    if (v == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return 1;
    }
    *timeout = v < 0 ? 0 : v;
    return 0;
}

/* Wait for a running future on its state word, GIL released, as long as
 * nobody made its lock (Future's own wait then takes over): no Condition,
 * and the drain thread completes it without the GIL. 0 when it is no
 * longer running or the wait must go the slow way (*left: seconds of the
 * timeout left, < 0 for none), -1 with an exception (a signal handler
 * raised). */
static int wait_on_state(FutureCore *f, double timeout, double *left)
{
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    *left = timeout;
    for (;;) {
        int s = atomic_load(&f->state);
        if ((s & ST_MASK) != ST_RUNNING || (s & ST_SLOW))
            return 0;
        if (!(s & ST_WAIT)) {
            if (!atomic_compare_exchange_strong(&f->state, &s, s | ST_WAIT))
                continue;
            s |= ST_WAIT;
        }
        struct timespec slice = { 0, WAIT_SLICE_MS * 1000000L };
        if (timeout >= 0) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            *left = timeout - ((double)(now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) * 1e-9);
            if (*left <= 0) {
                *left = 0;
                return 0;
            }
            if (*left < WAIT_SLICE_MS * 1e-3)
                slice.tv_nsec = (long)(*left * 1e9);
        }
        Py_BEGIN_ALLOW_THREADS
        syscall(SYS_futex, (int *)&f->state, FUTEX_WAIT_PRIVATE, s, &slice, NULL, 0);
        Py_END_ALLOW_THREADS
        if (PyErr_CheckSignals() < 0)
            return -1;
    }
}

/* result() / exception(): wait on the state word first when that can do.
 * Returns the method's result, or NULL with *done 0 to go on with the
 * same arguments, or with *done 1 and an exception set. */
static PyObject *wait_then(FutureCore *f, PyObject *method, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames, int *done)
{
    double timeout, left;
    *done = 0;
    if (state_of(f) != ST_RUNNING || parse_timeout(args, nargs, kwnames, &timeout) != 0 || timeout == 0)
        return NULL;
    if (wait_on_state(f, timeout, &left) < 0) {
        *done = 1;
        return NULL;
    }
    if (state_of(f) != ST_RUNNING || timeout < 0)
        return NULL; /* answered by the state now, or waits without limit */
    /* Future's own, for the time left (0: it raises TimeoutError) */
    PyObject *t = PyFloat_FromDouble(left);
    if (!t) {
        *done = 1;
        return NULL;
    }
    PyObject *r = call_base(method, f, &t, 1, NULL);
    Py_DECREF(t);
    *done = 1;
    return r;
}

/* result(timeout=None): the result, or raises the exception */
static PyObject *core_result(FutureCore *f, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    int done;
    PyObject *r = wait_then(f, py_future_result, args, nargs, kwnames, &done);
    if (done)
        return r;
    if (state_of(f) == ST_FINISHED) {
        if (f->exception && f->exception != Py_None) {
            PyErr_SetObject((PyObject *)Py_TYPE(f->exception), f->exception);
            return NULL;
        }
        return Py_NewRef(f->result ? f->result : Py_None);
    }
    return call_base(py_future_result, f, args, nargs, kwnames);
}

/* exception(timeout=None) */
static PyObject *core_exception(FutureCore *f, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    int done;
    PyObject *r = wait_then(f, py_future_exception, args, nargs, kwnames, &done);
    if (done)
        return r;
    if (state_of(f) == ST_FINISHED)
        return Py_NewRef(f->exception ? f->exception : Py_None);
    return call_base(py_future_exception, f, args, nargs, kwnames);
}

static PyGetSetDef core_getset[] = {
    { "_state", (getter)core_get_state, (setter)core_set_state, "concurrent.futures state", NULL },
    { "_nq_slow", (getter)core_get_slow, (setter)core_set_slow,
      "completion must take the GIL and run _nq_finish (set before the future's lock is made)", NULL },
    { "_condition", (getter)core_get_lazy, (setter)core_set_lazy, "Future's lock, made on first use",
      (void *)(intptr_t)LAZY_CONDITION },
    { "_waiters", (getter)core_get_lazy, (setter)core_set_lazy, "Future's waiters, made on first use",
      (void *)(intptr_t)LAZY_WAITERS },
    { "_done_callbacks", (getter)core_get_lazy, (setter)core_set_lazy,
      "Future's done-callbacks, made on first use", (void *)(intptr_t)LAZY_CALLBACKS },
    { NULL, NULL, NULL, NULL, NULL },
};

static PyMemberDef core_members[] = {
    { "_result", T_OBJECT, offsetof(FutureCore, result), 0, NULL },
    { "_exception", T_OBJECT, offsetof(FutureCore, exception), 0, NULL },
    { NULL, 0, 0, 0, NULL },
};

static PyMethodDef core_methods[] = {
    { "done", (PyCFunction)core_done, METH_NOARGS, "True once completed" },
    { "running", (PyCFunction)core_running, METH_NOARGS, "True while the put is pending" },
    { "cancelled", (PyCFunction)core_cancelled, METH_NOARGS, "Never true for a put" },
    { "cancel", (PyCFunction)core_cancel, METH_NOARGS, "A put cannot be taken back: False" },
    { "result", (PyCFunction)(void (*)(void))core_result, METH_FASTCALL | METH_KEYWORDS,
      "result(timeout=None)" },
    { "exception", (PyCFunction)(void (*)(void))core_exception, METH_FASTCALL | METH_KEYWORDS,
      "exception(timeout=None)" },
    { NULL, NULL, 0, NULL },
};

static PyTypeObject FutureCoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "netqueue._fastput.FutureCore",
    .tp_basicsize = sizeof(FutureCore),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "C base of comm.PutFuture: state word, result, exception, the fast methods",
    .tp_new = core_new,
    .tp_dealloc = (destructor)core_dealloc,
    .tp_traverse = (traverseproc)core_traverse,
    .tp_clear = (inquiry)core_clear,
    .tp_getset = core_getset,
    .tp_members = core_members,
    .tp_methods = core_methods,
};

/* ---- Putter -------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    nq_comm *comm;
    nq_cq *cq;
    PyTypeObject *future;  /* comm.PutFuture (a FutureCore) */
    PyObject *dump;        /* serializer's dump, or None for raw bytes */
    PyObject *peer_bytes;  /* peers tuple -> bytes of 16*n */
    PyObject *raise_status; /* (status, detail) -> raises the netqueue error */
    int release_gil;       /* a send limit is set: nq_comm_put may wait */
    int closed;
    /* Futures completed without the GIL whose tag reference is still to
     * be dropped (with the GIL). rel/nrel/caprel under rel_mu; spare (the
     * other buffer) only with the GIL. */
    pthread_mutex_t rel_mu;
    PyObject **rel;
    size_t nrel, caprel;
    atomic_size_t nrel_hint; /* nrel, read without the lock */
    PyObject **spare;
    size_t capspare;
    int rel_init;
} Putter;

static PyObject *str_nq_finish, *empty_tuple;

static int putter_init(Putter *self, PyObject *args, PyObject *kw)
{
    unsigned long long comm, cq;
    PyObject *future, *dump, *peer_bytes, *raise_status;
    int release_gil = 0;
    static char *names[] = { "comm", "cq", "future", "dump", "peer_bytes", "raise_status", "release_gil", NULL };
    if (!PyArg_ParseTupleAndKeywords(args, kw, "KKO!OOO|p", names, &comm, &cq, &PyType_Type, &future, &dump,
                                     &peer_bytes, &raise_status, &release_gil))
        return -1;
    if (self->rel_init) {
        PyErr_SetString(PyExc_RuntimeError, "Putter: already initialised");
        return -1;
    }
    if (!PyType_IsSubtype((PyTypeObject *)future, &FutureCoreType)) {
        PyErr_SetString(PyExc_TypeError, "Putter: future must be a FutureCore subclass");
        return -1;
    }
    if (!comm || !cq) {
        PyErr_SetString(PyExc_ValueError, "Putter: NULL communicator or queue");
        return -1;
    }
    self->release_gil = release_gil;
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
    pthread_mutex_init(&self->rel_mu, NULL);
    self->rel_init = 1;
    return 0;
}

/* Drop the tag references of futures completed without the GIL (GIL
 * held). Re-entrant: a reference dropped may run Python code (a weakref
 * callback) that puts again. */
static void flush_released(Putter *self)
{
    if (!self->rel_init)
        return;
    PyObject **spare = self->spare;
    size_t capspare = self->capspare;
    self->spare = NULL;
    self->capspare = 0;
    pthread_mutex_lock(&self->rel_mu);
    PyObject **list = self->rel;
    size_t n = self->nrel, cap = self->caprel;
    self->rel = spare;
    self->caprel = capspare;
    self->nrel = 0;
    atomic_store_explicit(&self->nrel_hint, 0, memory_order_relaxed);
    pthread_mutex_unlock(&self->rel_mu);
    for (size_t i = 0; i < n; i++)
        Py_DECREF(list[i]);
    if (self->spare) /* a nested flush left its buffer here */
        PyMem_RawFree(list);
    else {
        self->spare = list;
        self->capspare = cap;
    }
}

/* Queue n futures' tag references for dropping (no GIL needed). 0, or -1
 * when out of memory (nothing queued). */
static int release_later(Putter *self, const uint64_t *tags, size_t n)
{
    pthread_mutex_lock(&self->rel_mu);
    if (self->nrel + n > self->caprel) {
        size_t cap = self->caprel ? 2 * self->caprel : 1024;
        while (cap < self->nrel + n)
            cap *= 2;
        PyObject **rel = PyMem_RawRealloc(self->rel, cap * sizeof *rel);
        if (!rel) {
            pthread_mutex_unlock(&self->rel_mu);
            return -1;
        }
        self->rel = rel;
        self->caprel = cap;
    }
    for (size_t i = 0; i < n; i++)
        self->rel[self->nrel + i] = (PyObject *)(uintptr_t)tags[i];
    self->nrel += n;
    atomic_store_explicit(&self->nrel_hint, self->nrel, memory_order_relaxed);
    pthread_mutex_unlock(&self->rel_mu);
    return 0;
}

static int putter_traverse(Putter *self, visitproc visit, void *arg)
{
    Py_VISIT(self->future);
    Py_VISIT(self->dump);
    Py_VISIT(self->peer_bytes);
    Py_VISIT(self->raise_status);
    return 0;
}

static int putter_clear(Putter *self)
{
    Py_CLEAR(self->future);
    Py_CLEAR(self->dump);
    Py_CLEAR(self->peer_bytes);
    Py_CLEAR(self->raise_status);
    return 0;
}

static void putter_dealloc(Putter *self)
{
    PyObject_GC_UnTrack(self);
    flush_released(self); /* none left once the drain ended; to be sure */
    putter_clear(self);
    if (self->rel_init) {
        PyMem_RawFree(self->rel);
        PyMem_RawFree(self->spare);
        pthread_mutex_destroy(&self->rel_mu);
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
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
    if (atomic_load_explicit(&self->nrel_hint, memory_order_relaxed) >= RELEASE_AT)
        flush_released(self);
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
    /* PutFuture without __init__: running, nothing else made yet */
    fut = core_new(self->future, empty_tuple, NULL);
    if (!fut)
        goto out_view;
    /* Not tracked by the cycle collector until it could be part of a
     * cycle: only its lock, lists and exception can lead back to it, and
     * making any of them tracks it again (make_lazy, complete_with_gil).
     * Otherwise every put's future is traversed by each collection while
     * it lives (a fifth of a 64 B put's time when many are kept). */
    PyObject_GC_UnTrack(fut);
    /* the tag is the future's address and holds a reference, dropped
     * once the completion has been taken */
    uint64_t tag = (uint64_t)(uintptr_t)Py_NewRef(fut);
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
        Py_DECREF(fut); /* the tag's */
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

/* Complete a future with the GIL held: fast if nobody looked at it, else
 * through PutFuture._nq_finish (lock, waiters, done-callbacks). 0, or -1
 * with an exception set. */
static int complete_with_gil(PyObject *fut, nq_status result)
{
    FutureCore *f = (FutureCore *)fut;
    if (result == NQ_OK && finish_fast(&f->state))
        return 0;
    if (!PyObject_GC_IsTracked(fut)) /* the exception may lead back to it */
        PyObject_GC_Track(fut);
    PyObject *status = PyLong_FromLong((long)result);
    PyObject *r = status ? PyObject_CallMethodObjArgs(fut, str_nq_finish, status, NULL) : NULL;
    Py_XDECREF(status);
    if (!r)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* drain(): complete futures until the queue is shut down and drained. */
static PyObject *putter_drain(Putter *self, PyObject *unused)
{
    (void)unused;
    uint64_t *tags = PyMem_Malloc(DRAIN_BATCH * sizeof *tags);
    nq_status *results = PyMem_Malloc(DRAIN_BATCH * sizeof *results);
    if (!tags || !results) {
        PyMem_Free(tags);
        PyMem_Free(results);
        return PyErr_NoMemory();
    }
    PyObject *ret = NULL;
    nq_status st;
    char detail[256] = "";
    PyThreadState *ts = PyEval_SaveThread();
    for (;;) {
        size_t n = 0;
        int64_t timeout = atomic_load_explicit(&self->nrel_hint, memory_order_relaxed) ? IDLE_MS : NQ_FOREVER;
        st = nq_cq_next_batch(self->cq, timeout, tags, results, DRAIN_BATCH, &n);
        if (st == NQ_ETIMEDOUT) { /* idle: drop what the puts have not */
            PyEval_RestoreThread(ts);
            flush_released(self);
            ts = PyEval_SaveThread();
            continue;
        }
        if (st != NQ_OK) {
            if (st != NQ_ECLOSED)
                snprintf(detail, sizeof detail, "%s", nq_last_error());
            break;
        }
        /* Without the GIL: complete the leading futures nobody looked at.
         * The first that needs the GIL (slow, or failed), and every one
         * after it in this batch, is completed with the GIL, in order. */
        size_t i = 0;
        for (; i < n; i++) {
            FutureCore *f = (FutureCore *)(uintptr_t)tags[i];
            if (results[i] != NQ_OK || !finish_fast(&f->state))
                break;
        }
        size_t from = i;
        if (i && release_later(self, tags, i) != 0)
            from = 0; /* out of memory: drop them with the GIL below */
        if (from < n) {
            PyEval_RestoreThread(ts);
            for (size_t j = from; j < n; j++) {
                PyObject *fut = (PyObject *)(uintptr_t)tags[j];
                /* a done-callback's error is caught by Future; this is
                 * memory or a broken future: report it, go on draining */
                if (j >= i && complete_with_gil(fut, results[j]) != 0)
                    PyErr_WriteUnraisable((PyObject *)self);
                Py_DECREF(fut);
            }
            flush_released(self);
            ts = PyEval_SaveThread();
        }
    }
    PyEval_RestoreThread(ts);
    flush_released(self);
    if (st == NQ_ECLOSED)
        ret = Py_NewRef(Py_None);
    else
        fail(self, st, detail);
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

/* concurrent.futures' state names and Future's own slow-path methods */
static int import_futures(void)
{
    static const char *names[ST_COUNT] = { "PENDING", "RUNNING", "CANCELLED", "CANCELLED_AND_NOTIFIED",
                                           "FINISHED" };
    PyObject *threading = PyImport_ImportModule("threading");
    if (!threading)
        return -1;
    py_condition = PyObject_GetAttrString(threading, "Condition");
    Py_DECREF(threading);
    if (!py_condition)
        return -1;
    PyObject *base = PyImport_ImportModule("concurrent.futures._base");
    if (!base)
        return -1;
    int rc = -1;
    for (int s = 0; s < ST_COUNT; s++)
        if (!(state_names[s] = PyObject_GetAttrString(base, names[s])))
            goto out;
    PyObject *future = PyObject_GetAttrString(base, "Future");
    if (!future)
        goto out;
    py_future_result = PyObject_GetAttrString(future, "result");
    py_future_exception = PyObject_GetAttrString(future, "exception");
    py_future_cancel = PyObject_GetAttrString(future, "cancel");
    Py_DECREF(future);
    if (py_future_result && py_future_exception && py_future_cancel)
        rc = 0;
out:
    Py_DECREF(base);
    return rc;
}

/* _fastrecv.c: the receive side of `async for` (Inbox, AsyncIter, ANext) */
int nq_fastrecv_add_types(PyObject *module);

PyMODINIT_FUNC PyInit__fastput(void)
{
    if (PyType_Ready(&FutureCoreType) < 0 || PyType_Ready(&PutterType) < 0)
        return NULL;
    if (import_futures() != 0)
        return NULL;
    str_nq_finish = PyUnicode_InternFromString("_nq_finish");
    empty_tuple = PyTuple_New(0);
    if (!str_nq_finish || !empty_tuple)
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
    Py_INCREF(&FutureCoreType);
    if (PyModule_AddObject(m, "FutureCore", (PyObject *)&FutureCoreType) < 0) {
        Py_DECREF(&FutureCoreType);
        Py_DECREF(m);
        return NULL;
    }
    if (nq_fastrecv_add_types(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
