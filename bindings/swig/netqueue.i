/*
 * netqueue — the one SWIG interface for every SWIG language (Python, Java).
 *
 * It wraps the C ABI (abi/netqueue/*.h) as a thin, low-level layer; each
 * language's package puts its idiomatic API on top (bindings/python,
 * bindings/java). Rules kept here:
 *
 *  - Handles are classes: Options (nq_options), Comm (nq_comm), Message
 *    (nq_msg), CompletionQueue (nq_cq). Their destructors free the handle.
 *  - A failed nq_status becomes the language's exception, carrying the code
 *    and nq_last_error() (read on the failing thread, right after the call).
 *  - No C thread ever calls into the language runtime: puts complete into a
 *    completion queue (nq_comm_put_cq) that the language package drains on
 *    a thread it owns. No language object is handed to C (tags are plain
 *    integers), so nothing can be collected while C holds it.
 *  - Buffers in are borrowed for the call only (the library copies put
 *    data before returning): Python takes any buffer-protocol object
 *    without copying; Java pins a byte[] (GetPrimitiveArrayCritical) for the
 *    copy. Peers are bytes of 16*n (ids back to back); ids are 16 bytes.
 *  - Python: generated with -threads, so blocking calls (get, close, cq
 *    next) release the GIL.
 */
%module nqswig

%{
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netqueue/netqueue.h>

/* Status of the wrapped call on this thread, checked by %exception below. */
static __thread nq_status nq_swig_status;
static __thread char nq_swig_detail[512];

/* Record a status (and its detail, read now, on the failing thread). */
static int nq_swig_check(nq_status st)
{
    nq_swig_status = st;
    if (st != NQ_OK)
        snprintf(nq_swig_detail, sizeof nq_swig_detail, "%s", nq_last_error());
    return st != NQ_OK;
}

static void nq_swig_fail(nq_status st, const char *detail)
{
    nq_swig_status = st;
    snprintf(nq_swig_detail, sizeof nq_swig_detail, "%s", detail);
}

/* A 16-byte id returned by value; the out typemap makes bytes / byte[]. */
typedef struct nq_swig_id { uint8_t b[NQ_ID_SIZE]; } nq_swig_id;

/* Borrowed bytes returned to the language (copied into bytes / byte[]). */
typedef struct nq_swig_bytes { const void *p; size_t n; } nq_swig_bytes;
/* Bytes allocated for the caller: copied out, then release(p) runs. */
typedef struct nq_swig_owned { void *p; size_t n; void (*release)(void *); } nq_swig_owned;

/* Most completions one drain call (cq_drain_msgs) returns. */
#define NQ_SWIG_DRAIN_MAX 1024

/* One put completion: tag as given to put, status as nq_status number;
 * status -1 means the queue was shut down and drained. */
typedef struct nq_swig_completion { long long tag; int status; } nq_swig_completion;

/* SWIG names %extend helpers <struct>_<method>, which would collide with
 * the ABI's own nq_options_set_id...: the classes are declared to SWIG
 * under these aliases, which the preprocessor maps back to the ABI types. */
#define nqs_options nq_options
#define nqs_comm nq_comm
#define nqs_msg nq_msg
#define nqs_cq nq_cq

%}

%include <stdint.i>

/* ----- exceptions ----------------------------------------------------------- */

#if defined(SWIGPYTHON)
%{
/* Build the exception from netqueue.errors so Python code sees one
 * hierarchy (subclasses of the matching built-in errors). */
static void nq_swig_raise(void)
{
    const char *name = nq_strerror(nq_swig_status);
    PyObject *mod = PyImport_ImportModule("netqueue.errors");
    PyObject *exc = NULL;
    if (mod) {
        exc = PyObject_CallMethod(mod, "from_status", "iss", (int)nq_swig_status,
                                  name, nq_swig_detail);
        Py_DECREF(mod);
    }
    if (exc) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    } else if (!PyErr_Occurred()) {
        PyErr_Format(PyExc_RuntimeError, "netqueue: %s: %s", name, nq_swig_detail);
    }
}
%}
%exception {
    nq_swig_status = NQ_OK;
    $action
    if (nq_swig_status != NQ_OK) { nq_swig_raise(); SWIG_fail; }
}
#elif defined(SWIGJAVA)
%{
/* Throw org.netqueue.NetqueueException(int status, String detail). */
static void nq_swig_throw(JNIEnv *jenv)
{
    jclass cls = (*jenv)->FindClass(jenv, "org/netqueue/NetqueueException");
    if (!cls) return; /* NoClassDefFoundError is pending */
    jmethodID ctor = (*jenv)->GetMethodID(jenv, cls, "<init>", "(ILjava/lang/String;)V");
    jstring msg = (*jenv)->NewStringUTF(jenv, nq_swig_detail);
    if (ctor && msg) {
        jobject exc = (*jenv)->NewObject(jenv, cls, ctor, (jint)nq_swig_status, msg);
        if (exc) (*jenv)->Throw(jenv, (jthrowable)exc);
    }
}
%}
%exception {
    nq_swig_status = NQ_OK;
    $action
    if (nq_swig_status != NQ_OK) { nq_swig_throw(jenv); return $null; }
}
#endif

/* ----- buffers in: (const void *data, size_t size) ---------------------------- */

#if defined(SWIGPYTHON)
/* Any buffer-protocol object (bytes, bytearray, memoryview, numpy...):
 * borrowed for the call, no copy. The view pins the object while the GIL
 * is released. */
%typemap(in) (const void *data, size_t size) (Py_buffer view, int got = 0) {
    if (PyObject_GetBuffer($input, &view, PyBUF_SIMPLE) != 0) SWIG_fail;
    got = 1;
    $1 = view.buf;
    $2 = (size_t)view.len;
}
%typemap(freearg) (const void *data, size_t size) { if (got$argnum) PyBuffer_Release(&view$argnum); }
%{
#define NQ_SWIG_PIN(data) ((void)0)
#define NQ_SWIG_UNPIN(data) ((void)0)
%}

/* Peers: None or a bytes-like of 16*n bytes. */
%typemap(in) (const uint8_t *peers, size_t npeers) (Py_buffer pview, int pgot = 0) {
    if ($input == Py_None) { $1 = NULL; $2 = 0; }
    else {
        if (PyObject_GetBuffer($input, &pview, PyBUF_SIMPLE) != 0) SWIG_fail;
        pgot = 1;
        if (pview.len % NQ_ID_SIZE) {
            PyErr_SetString(PyExc_ValueError, "peers must be 16*n bytes (ids back to back)");
            SWIG_fail;
        }
        $1 = (uint8_t *)pview.buf;
        $2 = (size_t)pview.len / NQ_ID_SIZE;
    }
}
%typemap(freearg) (const uint8_t *peers, size_t npeers) { if (pgot$argnum) PyBuffer_Release(&pview$argnum); }
%typemap(typecheck) (const uint8_t *peers, size_t npeers) { $1 = 1; }

/* A 16-byte id in. */
%typemap(in) (const uint8_t *id16) (Py_buffer iview, int igot = 0) {
    if (PyObject_GetBuffer($input, &iview, PyBUF_SIMPLE) != 0) SWIG_fail;
    igot = 1;
    if (iview.len != NQ_ID_SIZE) { PyErr_SetString(PyExc_ValueError, "an id is 16 bytes"); SWIG_fail; }
    $1 = (uint8_t *)iview.buf;
}
%typemap(freearg) (const uint8_t *id16) { if (igot$argnum) PyBuffer_Release(&iview$argnum); }

%typemap(out) nq_swig_id { $result = PyBytes_FromStringAndSize((const char *)$1.b, NQ_ID_SIZE); }
%typemap(out) nq_swig_owned {
    $result = PyBytes_FromStringAndSize($1.p ? (const char *)$1.p : "", (Py_ssize_t)$1.n);
    if ($1.release) $1.release($1.p);
}
%typemap(out) nq_swig_bytes {
    $result = $1.p ? PyBytes_FromStringAndSize((const char *)$1.p, (Py_ssize_t)$1.n) : PyBytes_FromStringAndSize("", 0);
}

#elif defined(SWIGJAVA)
/* byte[] pinned (GetPrimitiveArrayCritical) around the one library call
 * that copies it, inside the wrapped function (NQ_SWIG_PIN): no other JNI
 * call and no exception may happen while it is pinned, so the typemap only
 * passes the array through. put never blocks here (the Java package sets no
 * send limit), so the pin lasts one memcpy. */
%typemap(jni) (const void *data, size_t size) "jbyteArray"
%typemap(jtype) (const void *data, size_t size) "byte[]"
%typemap(jstype) (const void *data, size_t size) "byte[]"
%typemap(javain) (const void *data, size_t size) "$javainput"
%typemap(in) (const void *data, size_t size) {
    if (!$input) { SWIG_JavaThrowException(jenv, SWIG_JavaNullPointerException, "data is null"); return $null; }
    nq_swig_jenv = jenv;
    $1 = (void *)$input;
    $2 = (size_t)(*jenv)->GetArrayLength(jenv, $input);
}
%{
static __thread JNIEnv *nq_swig_jenv;
#define NQ_SWIG_PIN(data) \
    jbyteArray nq_swig_arr_ = (jbyteArray)(data); \
    data = (*nq_swig_jenv)->GetPrimitiveArrayCritical(nq_swig_jenv, nq_swig_arr_, NULL)
#define NQ_SWIG_UNPIN(data) \
    if (data) (*nq_swig_jenv)->ReleasePrimitiveArrayCritical(nq_swig_jenv, nq_swig_arr_, (void *)(data), JNI_ABORT)
%}

/* Peers: null or byte[16*n], copied (small) since get may block. */
%typemap(jni) (const uint8_t *peers, size_t npeers) "jbyteArray"
%typemap(jtype) (const uint8_t *peers, size_t npeers) "byte[]"
%typemap(jstype) (const uint8_t *peers, size_t npeers) "byte[]"
%typemap(javain) (const uint8_t *peers, size_t npeers) "$javainput"
%typemap(in) (const uint8_t *peers, size_t npeers) {
    $1 = NULL; $2 = 0;
    if ($input) {
        jsize n = (*jenv)->GetArrayLength(jenv, $input);
        if (n % NQ_ID_SIZE) {
            SWIG_JavaThrowException(jenv, SWIG_JavaIllegalArgumentException, "peers must be 16*n bytes");
            return $null;
        }
        if (n) {
            $1 = malloc((size_t)n);
            if (!$1) { SWIG_JavaThrowException(jenv, SWIG_JavaOutOfMemoryError, "peers"); return $null; }
            (*jenv)->GetByteArrayRegion(jenv, $input, 0, n, (jbyte *)$1);
            $2 = (size_t)n / NQ_ID_SIZE;
        }
    }
}
%typemap(freearg) (const uint8_t *peers, size_t npeers) { free((void *)$1); }

%typemap(jni) (const uint8_t *id16) "jbyteArray"
%typemap(jtype) (const uint8_t *id16) "byte[]"
%typemap(jstype) (const uint8_t *id16) "byte[]"
%typemap(javain) (const uint8_t *id16) "$javainput"
%typemap(in) (const uint8_t *id16) (uint8_t buf[NQ_ID_SIZE]) {
    if (!$input || (*jenv)->GetArrayLength(jenv, $input) != NQ_ID_SIZE) {
        SWIG_JavaThrowException(jenv, SWIG_JavaIllegalArgumentException, "an id is 16 bytes");
        return $null;
    }
    (*jenv)->GetByteArrayRegion(jenv, $input, 0, NQ_ID_SIZE, (jbyte *)buf);
    $1 = buf;
}

%typemap(jni) nq_swig_id, nq_swig_bytes, nq_swig_owned "jbyteArray"
%typemap(jtype) nq_swig_id, nq_swig_bytes, nq_swig_owned "byte[]"
%typemap(jstype) nq_swig_id, nq_swig_bytes, nq_swig_owned "byte[]"
%typemap(javaout) nq_swig_id, nq_swig_bytes, nq_swig_owned { return $jnicall; }
%typemap(out) nq_swig_owned {
    $result = (*jenv)->NewByteArray(jenv, (jsize)$1.n);
    if ($result && $1.n) (*jenv)->SetByteArrayRegion(jenv, $result, 0, (jsize)$1.n, (const jbyte *)$1.p);
    if ($1.release) $1.release($1.p);
}
%typemap(out) nq_swig_id {
    $result = (*jenv)->NewByteArray(jenv, NQ_ID_SIZE);
    if ($result) (*jenv)->SetByteArrayRegion(jenv, $result, 0, NQ_ID_SIZE, (const jbyte *)$1.b);
}
%typemap(out) nq_swig_bytes {
    $result = (*jenv)->NewByteArray(jenv, (jsize)$1.n);
    if ($result && $1.n) (*jenv)->SetByteArrayRegion(jenv, $result, 0, (jsize)$1.n, (const jbyte *)$1.p);
}
/* Handles are owned by the language packages, which free them in the
 * right order (communicator before its completion queue): no finalizers. */
%typemap(javafinalize) SWIGTYPE ""
#endif

/* ----- enums and version -------------------------------------------------------- */

%constant int ID_SIZE = NQ_ID_SIZE;
%constant int FOREVER = NQ_FOREVER;
/* The library's defaults of nq_options_set_connect_timeout / _keepalive (ms). */
%constant int DEFAULT_CONNECT_TIMEOUT_MS = NQ_DEFAULT_CONNECT_TIMEOUT_MS;
%constant int DEFAULT_KEEPALIVE_MS = NQ_DEFAULT_KEEPALIVE_MS;
/* Status numbers (nq_status): OK, EINVAL, ... */
%rename("%(strip:[NQ_])s", %$isenumitem) "";
%rename("$ignore", %$isfunction) "";
%include "netqueue/common.h"
%rename("%s", %$isfunction) "";
%constant int TCP = NQ_TCP;
%constant int MQTT = NQ_MQTT;
%constant int GRPC = NQ_GRPC;
%constant int CLIENT = NQ_CLIENT;
%constant int SERVER = NQ_SERVER;
%constant int DIALECT_CURRENT = NQ_DIALECT_CURRENT;
%constant int DIALECT_LEGACY = NQ_DIALECT_LEGACY;
%constant int QUEUE_BLOCK = NQ_QUEUE_BLOCK;
%constant int QUEUE_DROP_OLDEST = NQ_QUEUE_DROP_OLDEST;
%constant int QUEUE_DROP_NEWEST = NQ_QUEUE_DROP_NEWEST;

%inline %{
const char *strerror_(int status) { return nq_strerror((nq_status)status); }
unsigned int abi_version(void) { return nq_abi_version(); }
const char *version_string(void) { return nq_version_string(); }

/* The library's safe pickle codec for str, for languages without a pickle
 * of their own (Java): UTF-8 in, pickle protocol 5 out, and back. */
nq_swig_owned pickle_dumps_str(const void *data, size_t size) {
    nq_swig_owned r = { NULL, 0, nq_buffer_free };
    nq_value *v = NULL;
    nq_status st;
    NQ_SWIG_PIN(data);
    st = data ? nq_value_new_str(&v, (const char *)data, size) : NQ_ENOMEM;
    NQ_SWIG_UNPIN(data);
    if (nq_swig_check(st)) return r;
    nq_swig_check(nq_pickle_dump(v, &r.p, &r.n));
    nq_value_free(v);
    return r;
}
nq_swig_owned pickle_loads_str(const void *data, size_t size) {
    nq_swig_owned r = { NULL, 0, free };
    nq_value *v = NULL;
    const void *p; size_t n;
    nq_status st;
    NQ_SWIG_PIN(data);
    st = data ? nq_pickle_load(data, size, &v) : NQ_ENOMEM;
    NQ_SWIG_UNPIN(data);
    if (nq_swig_check(st)) return r;
    if (nq_value_type_of(v) != NQ_VALUE_STR) {
        nq_swig_fail(NQ_ECODEC, "pickle: the value is not a str");
    } else if (!nq_swig_check(nq_value_get_bytes(v, &p, &n))) {
        r.p = malloc(n ? n : 1);
        if (!r.p) nq_swig_fail(NQ_ENOMEM, "pickle: out of memory");
        else { memcpy(r.p, p, n); r.n = n; }
    }
    nq_value_free(v);
    return r;
}
%}

/* ----- classes ------------------------------------------------------------------- */

%rename(Completion) nq_swig_completion;
typedef struct nq_swig_completion { long long tag; int status; } nq_swig_completion;

%rename(Options) nqs_options;
struct nqs_options {};
%rename(Comm) nqs_comm;
struct nqs_comm {};
%nodefaultctor nqs_msg;
#if defined(SWIGPYTHON)
%nothread nqs_msg::view; /* builds a Python object: needs the GIL */
#endif
%rename(Message) nqs_msg;
struct nqs_msg {};
%rename(CompletionQueue) nqs_cq;
struct nqs_cq {};

%extend nqs_options {
    nqs_options() { nq_options *o = NULL; nq_swig_check(nq_options_new(&o)); return o; }
    ~nqs_options() { nq_options_free($self); }
    void set_id(const uint8_t *id16) { nq_swig_check(nq_options_set_id($self, id16)); }
    void set_host(const char *host) { nq_swig_check(nq_options_set_host($self, host)); }
    void set_port(int port) { nq_swig_check(nq_options_set_port($self, port)); }
    void set_workers(int n) { nq_swig_check(nq_options_set_workers($self, n)); }
    void set_transport_size(long long b) {
        if (b < 0) nq_swig_fail(NQ_EINVAL, "options: transport size is negative");
        else nq_swig_check(nq_options_set_transport_size($self, (uint64_t)b));
    }
    void set_merge(int on) { nq_swig_check(nq_options_set_merge($self, on)); }
    void set_message_limit(long long b) {
        if (b < 0) nq_swig_fail(NQ_EINVAL, "options: message limit is negative");
        else nq_swig_check(nq_options_set_message_limit($self, (uint64_t)b));
    }
    void set_queue_limit(long long b) {
        if (b < 0) nq_swig_fail(NQ_EINVAL, "options: queue limit is negative");
        else nq_swig_check(nq_options_set_queue_limit($self, (uint64_t)b));
    }
    void set_queue_policy(int p) { nq_swig_check(nq_options_set_queue_policy($self, (nq_queue_policy)p)); }
    void set_send_limit(long long b) {
        if (b < 0) nq_swig_fail(NQ_EINVAL, "options: send limit is negative");
        else nq_swig_check(nq_options_set_send_limit($self, (uint64_t)b));
    }
    void set_dialect(int d) { nq_swig_check(nq_options_set_dialect($self, (nq_dialect)d)); }
    void set_tls(int on) { nq_swig_check(nq_options_set_tls($self, on)); }
    void set_tls_key(const char *p) { nq_swig_check(nq_options_set_tls_key($self, p)); }
    void set_tls_cert(const char *p) { nq_swig_check(nq_options_set_tls_cert($self, p)); }
    void set_tls_ca(const char *p) { nq_swig_check(nq_options_set_tls_ca($self, p)); }
    void set_tls_server_name(const char *n) { nq_swig_check(nq_options_set_tls_server_name($self, n)); }
    void set_tls_verify(int on) { nq_swig_check(nq_options_set_tls_verify($self, on)); }
    void set_connect_timeout(long long ms) { nq_swig_check(nq_options_set_connect_timeout($self, ms)); }
    void set_keepalive(long long ms) { nq_swig_check(nq_options_set_keepalive($self, ms)); }
}

%newobject nqs_comm::get;
%extend nqs_comm {
    /* protocol/purpose are the nq_protocol / nq_purpose numbers. */
    nqs_comm(int protocol, int purpose, const struct nqs_options *opts) {
        nq_comm *c = NULL;
        nq_swig_check(nq_comm_new(&c, (nq_protocol)protocol, (nq_purpose)purpose, opts));
        return c;
    }
    ~nqs_comm() { nq_comm_free($self); }
    nq_swig_id id() {
        nq_swig_id r; memset(&r, 0, sizeof r);
        nq_swig_check(nq_comm_id($self, r.b));
        return r;
    }
    int port() { int p = 0; nq_swig_check(nq_comm_port($self, &p)); return p; }
    /* Connected peers' ids, 16 bytes each, back to back. */
    nq_swig_bytes peers() {
        static __thread uint8_t buf[NQ_ID_SIZE * 256];
        nq_swig_bytes r = { buf, 0 };
        size_t count = 0;
        if (nq_swig_check(nq_comm_peers($self, buf, 256, &count))) return r;
        r.n = (count > 256 ? 256 : count) * NQ_ID_SIZE;
        return r;
    }
    /* Put; (tag, status) goes to cq when complete. */
    void put(const void *data, size_t size, const uint8_t *peers, size_t npeers,
             struct nqs_cq *cq, long long tag) {
        nq_status st;
        NQ_SWIG_PIN(data);
        st = data ? nq_comm_put_cq($self, data, size, peers, npeers, cq, (uint64_t)tag) : NQ_ENOMEM;
        NQ_SWIG_UNPIN(data);
        nq_swig_check(st);
    }
    /* Next message (a new Message), waiting up to timeout_ms (-1 forever). */
    struct nqs_msg *get(const uint8_t *peers, size_t npeers, long long timeout_ms) {
        nq_msg *m = NULL;
        nq_swig_check(nq_comm_get($self, peers, npeers, timeout_ms, &m));
        return m;
    }
    void close(long long timeout_ms) { nq_swig_check(nq_comm_close($self, timeout_ms)); }
}

%extend nqs_msg {
    ~nqs_msg() { nq_msg_free($self); }
    nq_swig_id peer() {
        nq_swig_id r; memset(&r, 0, sizeof r);
        nq_swig_check(nq_msg_peer($self, r.b));
        return r;
    }
    /* The payload, copied into bytes / byte[]. */
    nq_swig_bytes data() { nq_swig_bytes r = { nq_msg_data($self), nq_msg_size($self) }; return r; }
    long long size() { return (long long)nq_msg_size($self); }
#if defined(SWIGPYTHON)
    /* A read-only memoryview of the payload, no copy. Valid only while this
     * Message lives: the Python package releases it before freeing. */
    PyObject *view() {
        return PyMemoryView_FromMemory((char *)nq_msg_data($self), (Py_ssize_t)nq_msg_size($self), PyBUF_READ);
    }
#endif
}

%extend nqs_cq {
    nqs_cq() { nq_cq *q = NULL; nq_swig_check(nq_cq_new(&q)); return q; }
    ~nqs_cq() { nq_cq_free($self); }
    /* Next completion, waiting up to timeout_ms. status -1: shut down and
     * drained. Raises on timeout (ETIMEDOUT). */
    nq_swig_completion next(long long timeout_ms) {
        nq_swig_completion r = { 0, -1 };
        uint64_t tag = 0;
        nq_status result = NQ_OK;
        nq_status st = nq_cq_next($self, timeout_ms, &tag, &result);
        if (st == NQ_ECLOSED) return r;
        if (nq_swig_check(st)) return r;
        r.tag = (long long)tag;
        r.status = (int)result;
        return r;
    }
    void shutdown() { nq_cq_shutdown($self); }
}

/* ----- 1.2 and 1.3: Java ----------------------------------------------------------
 * Receive as a completion (nq_comm_get_kinds_cq since 1.3: data and events
 * apart), cancel, peer events and statistics, for the Java package.
 * Receives complete into the same cq as puts, drained by the package's
 * one thread with nq_cq_next_msg (never nq_cq_next_batch, which would
 * free a receive's message). A message
 * crosses JNI as a raw pointer (a long) handed to msg_take, which copies
 * it out and frees it: no Java object is ever given to C. */
#if defined(SWIGJAVA)
%{
/* A received message to copy out and free (msg_take). */
typedef struct nq_swig_msgout { nq_msg *m; } nq_swig_msgout;
%}
/* Completions out, for CompletionQueue.drain_msgs: (tag, status, msg
 * pointer, kind) quads in a long[] of 4*n slots. */
%typemap(jni) (long long *quads, int cap) "jlongArray"
%typemap(jtype) (long long *quads, int cap) "long[]"
%typemap(jstype) (long long *quads, int cap) "long[]"
%typemap(javain) (long long *quads, int cap) "$javainput"
%typemap(in) (long long *quads, int cap) (jlongArray qarr) {
    static __thread long long nq_swig_quads[4 * NQ_SWIG_DRAIN_MAX];
    if (!$input) { SWIG_JavaThrowException(jenv, SWIG_JavaNullPointerException, "quads is null"); return $null; }
    qarr = $input;
    $1 = nq_swig_quads;
    $2 = (int)((*jenv)->GetArrayLength(jenv, $input) / 4);
    if ($2 > NQ_SWIG_DRAIN_MAX) $2 = NQ_SWIG_DRAIN_MAX;
}
%typemap(argout) (long long *quads, int cap) {
    if (result > 0) (*jenv)->SetLongArrayRegion(jenv, qarr$argnum, 0, 4 * result, (const jlong *)$1);
}
/* A message out as byte[]: the 16-byte peer id, then the payload (for an
 * event, its detail in UTF-8); the message is freed. */
%typemap(jni) nq_swig_msgout "jbyteArray"
%typemap(jtype) nq_swig_msgout "byte[]"
%typemap(jstype) nq_swig_msgout "byte[]"
%typemap(javaout) nq_swig_msgout { return $jnicall; }
%typemap(out) nq_swig_msgout {
    $result = NULL;
    if ($1.m) {
        uint8_t id[NQ_ID_SIZE];
        const void *p;
        size_t n;
        memset(id, 0, sizeof id);
        nq_msg_peer($1.m, id);
        if (nq_msg_kind_of($1.m) == NQ_MSG_DATA) {
            p = nq_msg_data($1.m);
            n = nq_msg_size($1.m);
        } else {
            p = nq_msg_event_detail($1.m);
            n = strlen((const char *)p);
        }
        $result = (*jenv)->NewByteArray(jenv, (jsize)(NQ_ID_SIZE + n));
        if ($result) {
            (*jenv)->SetByteArrayRegion(jenv, $result, 0, NQ_ID_SIZE, (const jbyte *)id);
            if (n) (*jenv)->SetByteArrayRegion(jenv, $result, NQ_ID_SIZE, (jsize)n, (const jbyte *)p);
        }
        nq_msg_free($1.m);
    }
}

%constant int EVENTS_ALL = NQ_EVENTS_ALL;

%inline %{
/* Copy out and free a message a drain_msgs quad pointed to (once). */
nq_swig_msgout msg_take(long long ptr) {
    nq_swig_msgout r = { (nq_msg *)(intptr_t)ptr };
    return r;
}
/* Free a message without copying it (a completion nobody wants). */
void msg_discard(long long ptr) { nq_msg_free((nq_msg *)(intptr_t)ptr); }
%}

/* Statistics as text, one snapshot: "key value\n" lines. */
%{
static nq_swig_owned nq_swig_stats_text(nq_stats *s)
{
    nq_swig_owned r = { NULL, 0, free };
    size_t cnt = nq_stats_count(s), cap = 64 + cnt * 64, len = 0;
    char *buf = malloc(cap);
    if (!buf) { nq_stats_free(s); nq_swig_fail(NQ_ENOMEM, "stats: out of memory"); return r; }
    for (size_t i = 0; i < cnt; i++) {
        const char *k = nq_stats_key(s, i);
        int w = snprintf(buf + len, cap - len, "%s %llu\n", k ? k : "?",
                         (unsigned long long)nq_stats_value(s, i));
        if (w < 0 || (size_t)w >= cap - len) break; /* keys are short: cannot happen */
        len += (size_t)w;
    }
    nq_stats_free(s);
    r.p = buf;
    r.n = len;
    return r;
}
%}

/* (functions, not %extend methods: those are emitted before the helper) */
%inline %{
nq_swig_owned comm_stats_text(struct nqs_comm *c) {
    nq_stats *s = NULL;
    nq_swig_owned r = { NULL, 0, free };
    if (nq_swig_check(nq_comm_stats(c, &s))) return r;
    return nq_swig_stats_text(s);
}
nq_swig_owned comm_peer_stats_text(struct nqs_comm *c, const uint8_t *id16) {
    nq_stats *s = NULL;
    nq_swig_owned r = { NULL, 0, free };
    if (nq_swig_check(nq_comm_peer_stats(c, id16, &s))) return r;
    return nq_swig_stats_text(s);
}
%}

%extend nqs_msg {
    /* nq_msg_kind: 0 data, 1..5 events. */
    int kind() { return (int)nq_msg_kind_of($self); }
    /* An event's detail text as UTF-8 bytes ("" for data). */
    nq_swig_bytes detail() {
        const char *d = nq_msg_event_detail($self);
        nq_swig_bytes r = { d, strlen(d) };
        return r;
    }
}

%extend nqs_options {
    void set_events(int mask) { nq_swig_check(nq_options_set_events($self, (unsigned)mask)); }
}

/* 1.3: receives filtered by kind (nq_comm_get_kinds*), so that data gets
 * (KINDS_DATA) never take an event and the package's one events receive
 * (KINDS_EVENTS) never takes data. */
%constant int KINDS_DATA = NQ_KINDS_DATA;
%constant int KINDS_EVENTS = (int)NQ_KINDS_EVENTS;

%newobject nqs_comm::get_kinds;
%extend nqs_comm {
    /* Receive into cq with tag (a completion with a message), accepting
     * only the kinds in the mask kinds (KINDS_DATA, KINDS_EVENTS); returns
     * the operation id for get_cancel. */
    long long get_kinds_cq(int kinds, const uint8_t *peers, size_t npeers, long long timeout_ms,
                           struct nqs_cq *cq, long long tag) {
        uint64_t op = 0;
        nq_swig_check(nq_comm_get_kinds_cq($self, (unsigned)kinds, peers, npeers, timeout_ms, cq,
                                           (uint64_t)tag, &op));
        return (long long)op;
    }
    /* As get, accepting only the kinds in kinds (nq_comm_get_kinds). */
    struct nqs_msg *get_kinds(int kinds, const uint8_t *peers, size_t npeers, long long timeout_ms) {
        nq_msg *m = NULL;
        nq_swig_check(nq_comm_get_kinds($self, (unsigned)kinds, peers, npeers, timeout_ms, &m));
        return m;
    }
    /* 1: cancelled (an NQ_ECANCELED completion is posted before this
     * returns); 0: too late (the completion delivers the message). */
    int get_cancel(long long op) {
        nq_status st = nq_comm_get_cancel($self, (uint64_t)op);
        if (st == NQ_ESTATE) return 0;
        nq_swig_check(st);
        return 1;
    }
}

/* A function, not an %extend method, so that the quads typemap above applies
 * (methods are wrapped where the class was declared). */
%inline %{
/* Wait up to timeout_ms for a completion, then take those already
 * queued too (at most quads.length / 4, and 1024), each with
 * nq_cq_next_msg: (tag, status, message pointer or 0, kind) into
 * quads. Returns n; -1 once shut down and drained. Each non-zero
 * pointer must go to msg_take or msg_discard exactly once. */
int cq_drain_msgs(struct nqs_cq *q, long long *quads, int cap, long long timeout_ms) {
    int n = 0;
    if (cap < 1) { nq_swig_fail(NQ_EINVAL, "cq drain: room for no completion"); return 0; }
    while (n < cap) {
        uint64_t tag = 0;
        nq_status result = NQ_OK;
        nq_msg *m = NULL;
        nq_status st = nq_cq_next_msg(q, n ? 0 : timeout_ms, &tag, &result, &m);
        if (st == NQ_ECLOSED) return n ? n : -1;
        if (st == NQ_ETIMEDOUT && n) break;
        if (nq_swig_check(st)) return 0;
        quads[4 * n] = (long long)tag;
        quads[4 * n + 1] = (long long)result;
        quads[4 * n + 2] = (long long)(intptr_t)m;
        quads[4 * n + 3] = m ? (long long)nq_msg_kind_of(m) : 0;
        n++;
    }
    return n;
}
%}
#endif /* 1.2: Java */

/* ===== 1.2: Python ==============================================================
 * What the Python package's asyncio layer, peer events and statistics use
 * (ABI 1.2: receive.h, stats.h). Python-only for now, so that the Java
 * binding's own 1.2 block cannot clash with it; nothing here is specific to
 * Python but the guard.
 *  - Comm.fd(): the readiness descriptor (nq_comm_fd), for loop.add_reader.
 *  - Comm.try_get(peers): a get with timeout 0 that returns None (no
 *    exception) when nothing is queued: the asyncio drain calls it for an
 *    aget with a peer filter and for events(), and raising TimeoutError
 *    each time it finds nothing would cost more than the get itself.
 *    (Unfiltered takes come in batches from the package's own C
 *    extension, _fastput.Inbox, which makes each message's Python object
 *    directly.)
 *  - Message.kind() / event_detail(): nq_msg_kind_of / nq_msg_event_detail.
 *  - Options.set_events(mask), EVENT_* numbers, EVENTS_ALL.
 *  - Comm.stats_of(None | id): a snapshot as a list of (key, value) pairs,
 *    copied out and freed in the call (no handle to manage). */
#if defined(SWIGPYTHON)
%constant int MSG_DATA = NQ_MSG_DATA;
%constant int EVENT_CONNECTED = NQ_EVENT_CONNECTED;
%constant int EVENT_FINISHED = NQ_EVENT_FINISHED;
%constant int EVENT_LOST = NQ_EVENT_LOST;
%constant int EVENT_EXPIRED = NQ_EVENT_EXPIRED;
%constant int EVENT_REFUSED = NQ_EVENT_REFUSED;
%constant int EVENTS_ALL = NQ_EVENTS_ALL;


%nothread nqs_comm::stats_of;
%nothread nqs_comm::try_get;
%nothread nqs_comm::fd;
%nothread nqs_msg::kind;
%nothread nqs_msg::event_detail;
%newobject nqs_comm::try_get;
%extend nqs_options {
    void set_events(unsigned int mask) { nq_swig_check(nq_options_set_events($self, mask)); }
}
%extend nqs_comm {
    int fd() { int fd = -1; nq_swig_check(nq_comm_fd($self, &fd)); return fd; }
    /* The next queued message (a new Message), or None if none is queued:
     * never waits, so the GIL is kept (%nothread). */
    struct nqs_msg *try_get(const uint8_t *peers, size_t npeers) {
        nq_msg *m = NULL;
        nq_status st = nq_comm_get($self, peers, npeers, 0, &m);
        if (st != NQ_ETIMEDOUT) nq_swig_check(st);
        return m;
    }
    /* Statistics as a list of (key, value): the communicator's (peers
     * None) or one peer's (peers: its 16-byte id). The snapshot is copied
     * out and freed here (the GIL is held: %nothread). One method rather
     * than two sharing a helper: SWIG emits this %extend with the class,
     * above any helper this block could define. */
    PyObject *stats_of(const uint8_t *peers, size_t npeers) {
        nq_stats *s = NULL;
        PyObject *list;
        size_t n;
        if (npeers > 1) { nq_swig_fail(NQ_EINVAL, "stats: one peer at most"); return NULL; }
        if (nq_swig_check(npeers ? nq_comm_peer_stats($self, peers, &s) : nq_comm_stats($self, &s)))
            return NULL;
        n = nq_stats_count(s);
        list = PyList_New((Py_ssize_t)n);
        for (size_t i = 0; list && i < n; i++) {
            PyObject *pair = Py_BuildValue("(sK)", nq_stats_key(s, i),
                                           (unsigned long long)nq_stats_value(s, i));
            if (!pair) { Py_CLEAR(list); break; }
            PyList_SET_ITEM(list, (Py_ssize_t)i, pair);
        }
        nq_stats_free(s);
        return list;
    }
}
%extend nqs_msg {
    int kind() { return (int)nq_msg_kind_of($self); }
    const char *event_detail() { return nq_msg_event_detail($self); }
}
#endif
/* ===== end 1.2: Python ========================================================== */
