package netqueue

/*
#include <netqueue/netqueue.h>
*/
import "C"

import "unsafe"

// Stats is a snapshot of the communicator's statistics: counts, bytes and
// milliseconds by key ("msgs_in", "recv_queue_bytes", ...; docs/abi.md,
// "Statistics"). Every counter is exact and they agree with one another.
// Later releases may add keys; look values up by name.
func (m *Comm) Stats() (map[string]uint64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.c == nil {
		return nil, &Error{Op: "stats", Status: StatusClosed}
	}
	var s *C.nq_stats
	if err := call("stats", func() C.nq_status { return C.nq_comm_stats(m.c, &s) }); err != nil {
		return nil, err
	}
	return statsMap(s), nil
}

// PeerStats is a snapshot of one peer's statistics (ErrNoPeer: no session
// with it; a server keeps lingering sessions).
func (m *Comm) PeerStats(peer ID) (map[string]uint64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.c == nil {
		return nil, &Error{Op: "peer stats", Status: StatusClosed}
	}
	var s *C.nq_stats
	err := call("peer stats", func() C.nq_status {
		return C.nq_comm_peer_stats(m.c, (*C.uint8_t)(unsafe.Pointer(&peer[0])), &s)
	})
	if err != nil {
		return nil, err
	}
	return statsMap(s), nil
}

// statsMap copies a snapshot into a map and frees it.
func statsMap(s *C.nq_stats) map[string]uint64 {
	defer C.nq_stats_free(s)
	n := int(C.nq_stats_count(s))
	out := make(map[string]uint64, n)
	for i := 0; i < n; i++ {
		out[C.GoString(C.nq_stats_key(s, C.size_t(i)))] = uint64(C.nq_stats_value(s, C.size_t(i)))
	}
	return out
}
