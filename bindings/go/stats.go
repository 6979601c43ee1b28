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
//
// "recv_queue_msgs" and "recv_queue_bytes" count the messages not yet got:
// those queued in the library and those the binding holds (read ahead by
// Get, kept after a cancelled Get or stream).
func (m *Comm) Stats() (map[string]uint64, error) {
	m.recv.mu.Lock() // before m.mu, as Get; and no batch moves meanwhile
	defer m.recv.mu.Unlock()
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.c == nil {
		return nil, &Error{Op: "stats", Status: StatusClosed}
	}
	var s *C.nq_stats
	if err := call("stats", func() C.nq_status { return C.nq_comm_stats(m.c, &s) }); err != nil {
		return nil, err
	}
	out := statsMap(s)
	out["recv_queue_msgs"] += uint64(m.recv.len())
	out["recv_queue_bytes"] += m.recv.bytes
	return out, nil
}

// PeerStats is a snapshot of one peer's statistics (ErrNoPeer: no session
// with it; a server keeps lingering sessions).
func (m *Comm) PeerStats(peer ID) (map[string]uint64, error) {
	m.recv.mu.Lock()
	defer m.recv.mu.Unlock()
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
	out := statsMap(s)
	for _, msg := range m.recv.q[m.recv.h:] {
		if msg.Peer == peer {
			out["recv_queue_msgs"]++
			out["recv_queue_bytes"] += uint64(len(msg.Data))
		}
	}
	return out, nil
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
