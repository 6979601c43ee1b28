// Package netqueue is the Go binding of libnetqueue, the C library of the
// net-queue protocol: put/get message queues between a server and its
// clients over TCP or TLS, wire-compatible with the Python package
// net-queue.
//
// It is hand-written cgo over the public C ABI (abi/netqueue/*.h). No C
// thread ever calls into Go: put completions, and the completions of
// receives a context can cancel, travel through two nq_cq completion
// queues that goroutines of each communicator drain.
package netqueue

/*
#cgo pkg-config: netqueue
#include <stdlib.h>
#include <netqueue/netqueue.h>
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// call runs f on one locked OS thread and turns a failed status into an
// *Error carrying nq_last_error(), which is thread-local in C: without the
// lock the goroutine could move to another thread between the two calls
// and read someone else's detail.
func call(op string, f func() C.nq_status) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	st := f()
	if st == C.NQ_OK {
		return nil
	}
	return &Error{Op: op, Status: Status(st), Detail: C.GoString(C.nq_last_error())}
}

// bytesPtr is the address of b's first byte, or nil for an empty slice.
// The C calls it is passed to copy the bytes before returning and keep no
// pointer, as cgo's pointer rules require.
func bytesPtr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

// peerArray lays ids out back to back, as the C calls take them.
func peerArray(ids []ID) (*C.uint8_t, C.size_t) {
	if len(ids) == 0 {
		return nil, 0
	}
	buf := make([]byte, 0, len(ids)*IDSize)
	for _, id := range ids {
		buf = append(buf, id[:]...)
	}
	return (*C.uint8_t)(unsafe.Pointer(&buf[0])), C.size_t(len(ids))
}

// Version is the version string of the loaded libnetqueue ("1.3.0").
func Version() string { return C.GoString(C.nq_version_string()) }

// ABIVersion is the loaded library's ABI number, 0xMMmmpp.
func ABIVersion() uint32 { return uint32(C.nq_abi_version()) }
