package nq

import (
	"crypto/tls"
	"fmt"
	"os"
	"time"
)

// Config describes one communicator.
type Config struct {
	ID      ID
	Dialect Dialect
	Addr    string      // host:port to listen on (server) or dial (client)
	TLS     *tls.Config // nil: plain TCP

	// MessageLimit is the largest payload accepted (0: DefaultMessageLimit).
	MessageLimit uint64
	// OnPeer, if set, is told when a peer's session starts ("ini") or
	// ends with fin both ways ("fin"); it runs on I/O goroutines.
	OnPeer func(event string, peer ID)
	// Log receives warnings (default: stderr).
	Log func(msg string)
}

// Timeouts of connection set-up; every wait has a deadline.
const (
	dialTimeout      = 5 * time.Second
	handshakeTimeout = 10 * time.Second
	// lingerTime keeps a session lost without fin for its peer's return
	// (docs/protocol.md §6.3).
	lingerTime = 60 * time.Second
)

func (c *Config) limit() uint64 {
	if c.MessageLimit == 0 {
		return DefaultMessageLimit
	}
	return c.MessageLimit
}

func (c *Config) logf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if c.Log != nil {
		c.Log(msg)
		return
	}
	fmt.Fprintln(os.Stderr, msg)
}

func (c *Config) peerEvent(event string, peer ID) {
	if c.OnPeer != nil {
		c.OnPeer(event, peer)
	}
}

// received classifies a frame that came after the peer's ini on a link of
// sess (under the lock): data to deliver, or fin, which queues our own
// fin if not yet queued. end: the session just ended, cut the link.
func received(cfg *Config, sess *session, p []byte) (data bool, end bool) {
	if Classify(cfg.Dialect, sess.peer, p) == Data {
		return true, false
	}
	if !sess.finRecv {
		sess.finRecv = true
		if !sess.finQueued {
			sess.queueFin(cfg.Dialect, cfg.ID)
		}
	}
	return false, sess.checkEnd()
}
