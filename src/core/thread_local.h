/* Internal: thread-local variables read on every message.
 *
 * A shared library's __thread variables are global-dynamic by default:
 * each read is a call to __tls_get_addr (~45 of ~950 instructions per 64 B
 * message on each side, callgrind). initial-exec makes it one load off %fs,
 * but takes the space from glibc's static TLS, of which a library loaded
 * with dlopen (the Python, Java and Go bindings do) gets only the surplus
 * glibc keeps for that (512 bytes by default, shared by every such
 * library). So only pointer-sized variables get it: NQ_TLS_SMALL. Bigger
 * per-thread state is allocated and reached through one of them. */
#ifndef NQ_CORE_THREAD_LOCAL_H
#define NQ_CORE_THREAD_LOCAL_H

#define NQ_TLS_SMALL __thread __attribute__((tls_model("initial-exec")))

#endif
