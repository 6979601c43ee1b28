// The server role: accepts connections, takes each one's first frame as
// the client's ini, answers with its own, routes puts to sessions and
// waits on close for every connected client's fin (docs/protocol.md §3–§6).
package nq

import (
	"crypto/tls"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"time"
)

// Server is a listening communicator.
type Server struct {
	cfg  Config
	ln   net.Listener
	Recv RecvQueue

	mu       sync.Mutex
	sessions map[ID]*session
	linger   map[*session]*time.Timer
	pending  map[net.Conn]struct{} // accepted, no ini yet
	closing  bool                  // close called: no new connections
	cutting  bool                  // close is cutting everything
	closed   bool
	changed  signal
}

// Listen starts a server on cfg.Addr.
func Listen(cfg Config) (*Server, error) {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, ln: ln, sessions: map[ID]*session{},
		linger: map[*session]*time.Timer{}, pending: map[net.Conn]struct{}{}}
	go s.acceptLoop()
	return s, nil
}

// Port is the port the server listens on.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *Server) logf(format string, args ...any) { s.cfg.logf(format, args...) }

func (s *Server) acceptLoop() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if closing {
				return
			}
			s.logf("accept: %v", err)
			time.Sleep(50 * time.Millisecond) // e.g. out of descriptors
			continue
		}
		go s.serveConn(c)
	}
}

// serveConn waits for a connection's ini (nothing is sent before it),
// then attaches it to the client's session.
func (s *Server) serveConn(c net.Conn) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		c.Close()
		return
	}
	s.pending[c] = struct{}{}
	s.mu.Unlock()

	if s.cfg.TLS != nil {
		tc := tls.Server(c, s.cfg.TLS)
		// A silent TLS client holds only this goroutine; close cuts it.
		tc.SetDeadline(time.Now().Add(handshakeTimeout))
		err := tc.Handshake()
		tc.SetDeadline(time.Time{})
		if err != nil {
			s.dropPending(c)
			s.logf("connection %s: TLS handshake failed: %v", c.RemoteAddr(), err)
			return
		}
		c2 := net.Conn(tc)
		s.mu.Lock()
		delete(s.pending, c)
		if s.closing {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.pending[c2] = struct{}{}
		s.mu.Unlock()
		c = c2
	}
	fr := NewFrameReader(c, s.cfg.limit())
	p, err := fr.Next()
	if err == nil && !IsIni(p) {
		err = fmt.Errorf("bad first frame: %d bytes, an ini has 16", len(p))
	}
	if err != nil {
		s.mu.Lock()
		closing := s.closing
		s.mu.Unlock()
		s.dropPending(c)
		if !closing { // else close cut it
			s.logf("connection %s: %v", c.RemoteAddr(), err)
		}
		return
	}
	id := ID(p)
	l := s.attach(c, fr, id)
	if l == nil {
		return
	}
	s.cfg.peerEvent("ini", id)
	l.run()
}

func (s *Server) dropPending(c net.Conn) {
	s.mu.Lock()
	delete(s.pending, c)
	s.mu.Unlock()
	c.Close()
}

// attach makes c carry id's session (a new one, or the one kept for it:
// a live connection of the same id is cut and replaced), with our ini in
// front of whatever is queued for it.
func (s *Server) attach(c net.Conn, fr *FrameReader, id ID) *link {
	s.mu.Lock()
	for {
		if s.closing {
			delete(s.pending, c)
			s.mu.Unlock()
			c.Close()
			return nil
		}
		sess := s.sessions[id]
		if sess == nil || sess.ended {
			if sess != nil && sess.link != nil {
				old := sess.link // ending: wait until it is gone
				s.mu.Unlock()
				<-old.goneDone
				s.mu.Lock()
				continue
			}
			sess = &session{peer: id}
			s.sessions[id] = sess
		}
		if old := sess.link; old != nil {
			s.logf("peer %s reconnected: its old connection is closed", id.Hex())
			old.replaced = true
			s.mu.Unlock()
			old.cut()
			<-old.goneDone
			s.mu.Lock()
			continue
		}
		if t := s.linger[sess]; t != nil {
			t.Stop()
			delete(s.linger, sess)
		}
		delete(s.pending, c)
		l := newLink(c, fr, &s.mu, sess, s)
		l.iniRecv = true
		sess.link = l
		sess.pushFront(&outFrame{data: AppendFrame(nil, s.cfg.ID[:])})
		s.mu.Unlock()
		return l
	}
}

// frame implements linkOwner.
func (s *Server) frame(l *link, p []byte) {
	s.mu.Lock()
	sess := l.sess
	data, end := received(&s.cfg, sess, p)
	if !data {
		l.poke()
	}
	s.mu.Unlock()
	if data {
		// Data after the peer's fin is still delivered (§3.6).
		s.Recv.Push(&Message{Peer: sess.peer, Data: p})
	}
	if end {
		l.cut()
	}
}

// gone implements linkOwner.
func (s *Server) gone(l *link) {
	var calls []func()
	s.mu.Lock()
	sess := l.sess
	if sess.link == l {
		sess.link = nil
	}
	finished := false
	switch {
	case sess.ended:
		if s.sessions[sess.peer] == sess {
			delete(s.sessions, sess.peer)
		}
		finished = true
		calls = sess.failAll(ErrReset)
	case s.cutting, l.replaced:
	default:
		// Lost without fin: kept for the peer's return (§6.3).
		s.logf("peer %s: connection lost without fin; session kept %v", sess.peer.Hex(), lingerTime)
		s.linger[sess] = time.AfterFunc(lingerTime, func() { s.expire(sess) })
	}
	s.mu.Unlock()
	s.changed.notify()
	runAll(calls)
	if finished {
		s.cfg.peerEvent("fin", sess.peer)
	}
}

func (s *Server) expire(sess *session) {
	s.mu.Lock()
	var calls []func()
	if sess.link == nil && s.linger[sess] != nil {
		delete(s.linger, sess)
		if s.sessions[sess.peer] == sess {
			delete(s.sessions, sess.peer)
		}
		calls = sess.failAll(ErrReset)
	}
	s.mu.Unlock()
	runAll(calls)
}

// Put sends data to the named peers, or with none to every client with a
// live connection whose session is not closing. Every named peer must
// have a session, or the put fails at once and nothing is sent (§4.3).
func (s *Server) Put(data []byte, peers []ID, done PutFunc) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		done(ErrRefused)
		return
	}
	var targets []*session
	if len(peers) > 0 {
		seen := map[ID]bool{}
		for _, p := range peers {
			sess := s.sessions[p]
			if sess == nil || sess.finQueued || sess.ended {
				s.mu.Unlock()
				done(fmt.Errorf("%w: %s", ErrNoPeer, p.Hex()))
				return
			}
			if !seen[p] {
				seen[p] = true
				targets = append(targets, sess)
			}
		}
	} else {
		for _, sess := range s.sessions {
			if sess.link != nil && !sess.finQueued && !sess.ended {
				targets = append(targets, sess)
			}
		}
	}
	if len(targets) == 0 {
		s.mu.Unlock()
		done(nil) // a broadcast with no client
		return
	}
	frame := AppendFrame(make([]byte, 0, HeaderSize+len(data)), data)
	op := &putOp{remaining: len(targets), done: done}
	for _, sess := range targets {
		sess.push(&outFrame{data: frame, put: op})
		if sess.link != nil {
			sess.link.poke()
		}
	}
	s.mu.Unlock()
}

// Close stops listening, closes connections that sent no ini, and waits
// up to timeout for every connected client to finish its fin exchange;
// then cuts what is left. Puts not yet sent complete with ErrCanceled,
// gets end with ErrClosed once the queue is empty.
func (s *Server) Close(timeout time.Duration) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return fmt.Errorf("already closed")
	}
	s.closing = true
	s.ln.Close()
	for c := range s.pending {
		c.Close()
	}
	s.mu.Unlock()

	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
wait:
	for {
		ch := s.changed.wait()
		s.mu.Lock()
		live := len(s.liveLocked())
		s.mu.Unlock()
		if live == 0 {
			break
		}
		select {
		case <-ch:
		case <-deadline.C:
			break wait
		}
	}

	s.mu.Lock()
	s.cutting = true
	live := s.liveLocked()
	var links []*link
	for _, sess := range s.sessions {
		if sess.link != nil {
			links = append(links, sess.link)
		}
	}
	s.mu.Unlock()
	for _, l := range links {
		l.cut()
		<-l.goneDone
	}
	var calls []func()
	s.mu.Lock()
	for _, sess := range s.sessions {
		calls = append(calls, sess.failAll(ErrCanceled)...)
	}
	for sess, t := range s.linger {
		t.Stop()
		delete(s.linger, sess)
	}
	s.sessions = map[ID]*session{}
	s.closed = true
	s.mu.Unlock()
	runAll(calls)
	s.Recv.Close()
	if len(live) > 0 {
		return fmt.Errorf("timed out waiting for the fin of %s", strings.Join(live, ", "))
	}
	return nil
}

// liveLocked lists the peers with a connection still up, sorted.
func (s *Server) liveLocked() []string {
	var live []string
	for id, sess := range s.sessions {
		if sess.link != nil {
			live = append(live, id.Hex())
		}
	}
	sort.Strings(live)
	return live
}

// Queue is the server's receive queue.
func (s *Server) Queue() *RecvQueue { return &s.Recv }
