// A link is one live connection carrying a session: a reader goroutine
// that feeds received frames to the communicator, and a writer goroutine
// that sends the session's queued frames in order.
package nq

import (
	"errors"
	"io"
	"net"
	"sync"
)

// linkOwner is the communicator a link reports to.
type linkOwner interface {
	// frame handles a received frame; called on the reader goroutine,
	// without the lock.
	frame(l *link, payload []byte)
	// gone runs once both goroutines ended and the connection is closed.
	gone(l *link)
	logf(format string, args ...any)
}

// Write batches: up to this many bytes or frames per write call.
const (
	batchBytes  = 4 << 20
	batchFrames = 1024
)

type link struct {
	conn  net.Conn
	fr    *FrameReader
	mu    *sync.Mutex // the owner's lock, guards sess and eof
	sess  *session
	owner linkOwner

	iniRecv  bool // the peer's ini arrived (reader goroutine only)
	eof      bool // the peer ended its stream: send what is owed, then cut
	replaced bool // a new connection of the same peer took the session over

	wake     chan struct{}
	done     chan struct{} // closed by cut
	cutOnce  sync.Once
	wDone    chan struct{}
	goneDone chan struct{} // closed after owner.gone
}

func newLink(conn net.Conn, fr *FrameReader, mu *sync.Mutex, sess *session, owner linkOwner) *link {
	return &link{conn: conn, fr: fr, mu: mu, sess: sess, owner: owner,
		wake: make(chan struct{}, 1), done: make(chan struct{}),
		wDone: make(chan struct{}), goneDone: make(chan struct{})}
}

// poke wakes the writer; never blocks.
func (l *link) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// cut closes the connection at once; both goroutines then end.
func (l *link) cut() {
	l.cutOnce.Do(func() {
		close(l.done)
		l.conn.Close()
	})
}

// run serves the link on the calling goroutine until it is gone.
func (l *link) run() {
	go l.writeLoop()
	l.readLoop()
	<-l.wDone
	l.cut()
	l.owner.gone(l)
	close(l.goneDone)
}

func (l *link) readLoop() {
	for {
		p, err := l.fr.Next()
		if err != nil {
			select {
			case <-l.done: // we cut it
				return
			default:
			}
			if errors.Is(err, io.EOF) {
				// A half-close: the peer still gets what it is owed.
				l.mu.Lock()
				l.eof = true
				l.mu.Unlock()
				l.poke()
				return
			}
			l.owner.logf("connection %s: %v", l.conn.RemoteAddr(), err)
			l.cut()
			return
		}
		l.owner.frame(l, p)
	}
}

func (l *link) writeLoop() {
	defer close(l.wDone)
	for {
		batch, size, ok := l.nextBatch()
		if !ok {
			return
		}
		n, err := l.write(batch, size)
		calls, end := l.sent(batch, n)
		runAll(calls)
		if err != nil {
			select {
			case <-l.done:
			default:
				l.owner.logf("connection %s: write: %v", l.conn.RemoteAddr(), err)
			}
			l.cut()
			return
		}
		if end {
			l.cut()
			return
		}
	}
}

// nextBatch waits for frames to send; !ok when the link is done.
func (l *link) nextBatch() (batch []*outFrame, size int, ok bool) {
	for {
		l.mu.Lock()
		q := l.sess.queue
		for _, f := range q {
			if len(batch) > 0 && (size+len(f.data) > batchBytes || len(batch) >= batchFrames) {
				break
			}
			batch = append(batch, f)
			size += len(f.data)
		}
		eof := l.eof
		l.mu.Unlock()
		if len(batch) > 0 {
			return batch, size, true
		}
		if eof {
			return nil, 0, false
		}
		select {
		case <-l.wake:
		case <-l.done:
			return nil, 0, false
		}
	}
}

// write sends the batch; small batches are copied into one buffer so that
// a TLS connection makes one record of them, not one per frame.
func (l *link) write(batch []*outFrame, size int) (int64, error) {
	if size <= 256<<10 {
		buf := make([]byte, 0, size)
		for _, f := range batch {
			buf = append(buf, f.data...)
		}
		n, err := l.conn.Write(buf)
		return int64(n), err
	}
	bufs := make(net.Buffers, len(batch))
	for i, f := range batch {
		bufs[i] = f.data
	}
	return bufs.WriteTo(l.conn)
}

// sent takes the fully written frames (n bytes) off the queue: their puts
// count this target done. A frame cut short stays queued whole.
func (l *link) sent(batch []*outFrame, n int64) (calls []func(), end bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := 0
	for _, f := range batch {
		if n < int64(len(f.data)) {
			break
		}
		n -= int64(len(f.data))
		k++
		if f.fin {
			l.sess.finSent = true
		}
		if f.put != nil {
			if c := f.put.settle(nil); c != nil {
				calls = append(calls, c)
			}
		}
	}
	l.sess.queue = l.sess.queue[k:]
	return calls, l.sess.checkEnd()
}
