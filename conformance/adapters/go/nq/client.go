// The client role: connects (again after a loss, until its fin is out),
// sends its ini then its queued frames without waiting for the server's
// ini, and on close sends fin and waits for the server's (docs/protocol.md
// §3, §5.1, §6.1).
package nq

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Client is a connecting communicator.
type Client struct {
	cfg  Config
	Recv RecvQueue

	mu      sync.Mutex
	sess    session
	closing bool
	cutting bool
	lostErr error // the connection was lost after our fin went out
	stop    chan struct{}
	changed signal
	loopEnd chan struct{}
}

// Dial makes a client; it connects in the background.
func Dial(cfg Config) *Client {
	c := &Client{cfg: cfg, stop: make(chan struct{}), loopEnd: make(chan struct{})}
	go c.connectLoop()
	return c
}

func (c *Client) logf(format string, args ...any) { c.cfg.logf(format, args...) }

// connectLoop connects, serves the link until it is gone, and connects
// again while the session has not ended and our fin was not sent: first
// at once, then backing off from 50 ms to 2 s between failures.
func (c *Client) connectLoop() {
	defer close(c.loopEnd)
	delay := time.Duration(0)
	for {
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-c.stop:
				return
			}
		}
		conn, err := c.connect()
		if err != nil {
			select {
			case <-c.stop:
				return
			default:
			}
			c.logf("connect to %s: %v", c.cfg.Addr, err)
			delay = backoff(delay)
			continue
		}
		l := c.attach(conn)
		if l == nil {
			return
		}
		l.run()
		c.mu.Lock()
		again := !c.cutting && !c.sess.ended && !c.sess.finSent
		established := l.iniRecv
		c.mu.Unlock()
		if !again {
			return
		}
		if established {
			delay = 0
		} else {
			delay = backoff(delay)
		}
	}
}

func backoff(d time.Duration) time.Duration {
	switch {
	case d == 0:
		return 50 * time.Millisecond
	case d >= time.Second:
		return 2 * time.Second
	}
	return 2 * d
}

func (c *Client) connect() (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout+handshakeTimeout)
	defer cancel()
	go func() {
		select {
		case <-c.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.DialContext(ctx, "tcp", c.cfg.Addr)
	if err != nil || c.cfg.TLS == nil {
		return conn, err
	}
	tc := tls.Client(conn, c.cfg.TLS)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return tc, nil
}

// attach starts a link on conn with our ini in front of the queue.
func (c *Client) attach(conn net.Conn) *link {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cutting {
		conn.Close()
		return nil
	}
	l := newLink(conn, NewFrameReader(conn, c.cfg.limit()), &c.mu, &c.sess, c)
	c.sess.link = l
	c.sess.pushFront(&outFrame{data: AppendFrame(nil, c.cfg.ID[:])})
	return l
}

// frame implements linkOwner: the first frame of a connection must be the
// server's 16-byte ini, or the connection is closed (§3.5).
func (c *Client) frame(l *link, p []byte) {
	if !l.iniRecv {
		if !IsIni(p) {
			c.logf("server %s: bad first frame: %d bytes, an ini has 16", l.conn.RemoteAddr(), len(p))
			l.cut()
			return
		}
		l.iniRecv = true
		c.mu.Lock()
		c.sess.peer = ID(p)
		c.mu.Unlock()
		c.cfg.peerEvent("ini", ID(p))
		return
	}
	c.mu.Lock()
	data, end := received(&c.cfg, &c.sess, p)
	peer := c.sess.peer
	if !data {
		l.poke()
	}
	c.mu.Unlock()
	if data {
		c.Recv.Push(&Message{Peer: peer, Data: p})
	}
	if end {
		l.cut()
	}
}

// gone implements linkOwner.
func (c *Client) gone(l *link) {
	c.mu.Lock()
	if c.sess.link == l {
		c.sess.link = nil
	}
	ended := c.sess.ended
	if !ended && c.sess.finSent && !c.cutting {
		c.lostErr = errors.New("connection lost after our fin, before the server's")
	}
	peer, cutting := c.sess.peer, c.cutting
	c.mu.Unlock()
	if ended {
		c.cfg.peerEvent("fin", peer)
	} else if !cutting {
		c.logf("server %s: connection lost", l.conn.RemoteAddr())
	}
	c.changed.notify()
}

// Put queues data for the server. A client names no peers except, at
// most, the server itself.
func (c *Client) Put(data []byte, peers []ID, done PutFunc) {
	c.mu.Lock()
	for _, p := range peers {
		if p != c.sess.peer {
			c.mu.Unlock()
			done(fmt.Errorf("%w: %s (a client sends only to its server)", ErrNoPeer, p.Hex()))
			return
		}
	}
	if c.closing || c.sess.finQueued || c.sess.ended {
		c.mu.Unlock()
		done(ErrRefused)
		return
	}
	frame := AppendFrame(make([]byte, 0, HeaderSize+len(data)), data)
	c.sess.push(&outFrame{data: frame, put: &putOp{remaining: 1, done: done}})
	if c.sess.link != nil {
		c.sess.link.poke()
	}
	c.mu.Unlock()
}

// Close refuses new puts, queues fin after what is pending, and waits up
// to timeout until fin went both ways (or the connection was lost after
// our fin); then cuts the connection. Puts not yet sent complete with
// ErrCanceled; gets end with ErrClosed once the queue is empty.
func (c *Client) Close(timeout time.Duration) error {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return fmt.Errorf("already closed")
	}
	c.closing = true
	if !c.sess.finQueued && !c.sess.ended {
		c.sess.queueFin(c.cfg.Dialect, c.cfg.ID)
		if c.sess.link != nil {
			c.sess.link.poke()
		}
	}
	c.mu.Unlock()

	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	var err error
wait:
	for {
		ch := c.changed.wait()
		c.mu.Lock()
		ended, lost := c.sess.ended && c.sess.link == nil, c.lostErr
		c.mu.Unlock()
		switch {
		case ended:
			break wait
		case lost != nil:
			err = lost
			break wait
		}
		select {
		case <-ch:
		case <-deadline.C:
			err = errors.New("timed out waiting for the server's fin")
			break wait
		}
	}

	c.mu.Lock()
	c.cutting = true
	l := c.sess.link
	c.mu.Unlock()
	close(c.stop)
	if l != nil {
		l.cut()
		<-l.goneDone
	}
	<-c.loopEnd
	c.mu.Lock()
	calls := c.sess.failAll(ErrCanceled)
	c.mu.Unlock()
	runAll(calls)
	c.Recv.Close()
	return err
}

// Queue is the client's receive queue.
func (c *Client) Queue() *RecvQueue { return &c.Recv }
