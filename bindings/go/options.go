package netqueue

/*
#include <stdlib.h>
#include <netqueue/netqueue.h>
*/
import "C"

import (
	"fmt"
	"time"
	"unsafe"
)

// Protocol is the transport of a communicator.
type Protocol int

// Transports. Only TCP (plain or TLS) is built in this release; the others
// fail New with ErrUnsupported.
const (
	TCP  Protocol = C.NQ_TCP
	MQTT Protocol = C.NQ_MQTT
	GRPC Protocol = C.NQ_GRPC
)

// Purpose says whether a communicator listens or connects.
type Purpose int

// Purposes, as the reference's Purpose.CLIENT / Purpose.SERVER.
const (
	Client Purpose = C.NQ_CLIENT
	Server Purpose = C.NQ_SERVER
)

// Codec is the payload encoding of PutValue and Message.Value.
type Codec int

// Codecs: raw bytes (default), or the safe pickle subset that Python
// net-queue peers use by default.
const (
	CodecRaw    Codec = C.NQ_CODEC_RAW
	CodecPickle Codec = C.NQ_CODEC_PICKLE
)

// QueuePolicy is what a full receive queue does.
type QueuePolicy int

// Receive queue policies.
const (
	QueueBlock      QueuePolicy = C.NQ_QUEUE_BLOCK
	QueueDropOldest QueuePolicy = C.NQ_QUEUE_DROP_OLDEST
	QueueDropNewest QueuePolicy = C.NQ_QUEUE_DROP_NEWEST
)

// Dialect selects the session's fin (see docs/protocol.md).
type Dialect int

// Dialects: net-queue 1.x/2.x (default) or 0.1.x.
const (
	DialectCurrent Dialect = C.NQ_DIALECT_CURRENT
	DialectLegacy  Dialect = C.NQ_DIALECT_LEGACY
)

// builder is the nq_options handle that Option functions set, plus the
// codec, which the Go side needs to decode messages, and the detail of a
// value refused on the Go side (then the Option returns NQ_EINVAL).
type builder struct {
	o      *C.nq_options
	codec  Codec
	events bool // WithEvents: keep an events-only receive pending
	detail string
}

// refuse records why an Option's value is invalid.
func (b *builder) refuse(format string, args ...any) C.nq_status {
	b.detail = fmt.Sprintf(format, args...)
	return C.NQ_EINVAL
}

// Option sets one communicator option. A bad value makes New fail with an
// *Error of StatusInvalid whose Detail says which.
type Option func(*builder) C.nq_status

// WithID sets the communicator's own id (default: random).
func WithID(id ID) Option {
	return func(b *builder) C.nq_status {
		return C.nq_options_set_id(b.o, (*C.uint8_t)(unsafe.Pointer(&id[0])))
	}
}

// WithHost sets the host to bind (server) or connect to (client); default
// 127.0.0.1.
func WithHost(host string) Option {
	return func(b *builder) C.nq_status {
		cs := C.CString(host)
		defer C.free(unsafe.Pointer(cs))
		return C.nq_options_set_host(b.o, cs)
	}
}

// WithPort sets the TCP port (default 51966); a server given 0 binds a
// free one, read back with Comm.Port.
func WithPort(port int) Option {
	return func(b *builder) C.nq_status { return C.nq_options_set_port(b.o, C.int(port)) }
}

// WithWorkers sets a server's I/O thread count (1..64).
func WithWorkers(n int) Option {
	return func(b *builder) C.nq_status { return C.nq_options_set_workers(b.o, C.int(n)) }
}

// WithTransportSize sets the largest single transport write.
func WithTransportSize(bytes uint64) Option {
	return func(b *builder) C.nq_status { return C.nq_options_set_transport_size(b.o, C.uint64_t(bytes)) }
}

// WithMerge turns merging of small frames into one write on or off.
func WithMerge(on bool) Option {
	return func(b *builder) C.nq_status { return C.nq_options_set_merge(b.o, cbool(on)) }
}

// WithMessageLimit sets the largest message accepted or put.
func WithMessageLimit(bytes uint64) Option {
	return func(b *builder) C.nq_status { return C.nq_options_set_message_limit(b.o, C.uint64_t(bytes)) }
}

// WithQueueLimit sets the receive queue's bound in bytes and its policy.
func WithQueueLimit(bytes uint64, policy QueuePolicy) Option {
	return func(b *builder) C.nq_status {
		if st := C.nq_options_set_queue_limit(b.o, C.uint64_t(bytes)); st != C.NQ_OK {
			return st
		}
		return C.nq_options_set_queue_policy(b.o, C.nq_queue_policy(policy))
	}
}

// WithSendLimit bounds the bytes put and not yet written (0: no bound).
func WithSendLimit(bytes uint64) Option {
	return func(b *builder) C.nq_status { return C.nq_options_set_send_limit(b.o, C.uint64_t(bytes)) }
}

// WithDialect selects the protocol dialect.
func WithDialect(d Dialect) Option {
	return func(b *builder) C.nq_status { return C.nq_options_set_dialect(b.o, C.nq_dialect(d)) }
}

// WithCodec selects the codec of PutValue and Message.Value.
func WithCodec(c Codec) Option {
	return func(b *builder) C.nq_status {
		st := C.nq_options_set_codec(b.o, C.nq_codec(c))
		if st == C.NQ_OK {
			b.codec = c
		}
		return st
	}
}

// TLS configures TLS for WithTLS. A server needs Key and Cert; a client
// verifies the server against CA (default: the system store) unless
// NoVerify (testing only), checking ServerName if set, else the host.
type TLS struct {
	Key, Cert, CA, ServerName string
	NoVerify                  bool
}

// WithTLS turns TLS on.
func WithTLS(t TLS) Option {
	return func(b *builder) C.nq_status {
		if st := C.nq_options_set_tls(b.o, 1); st != C.NQ_OK {
			return st
		}
		paths := []struct {
			v   string
			set func(*C.nq_options, *C.char) C.nq_status
		}{
			{t.Key, func(o *C.nq_options, s *C.char) C.nq_status { return C.nq_options_set_tls_key(o, s) }},
			{t.Cert, func(o *C.nq_options, s *C.char) C.nq_status { return C.nq_options_set_tls_cert(o, s) }},
			{t.CA, func(o *C.nq_options, s *C.char) C.nq_status { return C.nq_options_set_tls_ca(o, s) }},
			{t.ServerName, func(o *C.nq_options, s *C.char) C.nq_status { return C.nq_options_set_tls_server_name(o, s) }},
		}
		for _, p := range paths {
			if p.v == "" {
				continue
			}
			cs := C.CString(p.v)
			st := p.set(b.o, cs)
			C.free(unsafe.Pointer(cs))
			if st != C.NQ_OK {
				return st
			}
		}
		return C.nq_options_set_tls_verify(b.o, cbool(!t.NoVerify))
	}
}

// Defaults of WithConnectTimeout and WithKeepalive (the library's).
const (
	DefaultConnectTimeout = C.NQ_DEFAULT_CONNECT_TIMEOUT_MS * time.Millisecond
	DefaultKeepalive      = C.NQ_DEFAULT_KEEPALIVE_MS * time.Millisecond
)

// NoTimeout given to WithConnectTimeout keeps pending puts waiting for the
// server until Close.
const NoTimeout time.Duration = -1

// WithConnectTimeout makes a client's puts still pending after d without
// reaching the server fail with ErrAddress (default DefaultConnectTimeout,
// 30 s). NoTimeout keeps them waiting until Close; other negative values
// are invalid.
func WithConnectTimeout(d time.Duration) Option {
	return func(b *builder) C.nq_status {
		ms := int64(C.NQ_FOREVER)
		if d != NoTimeout {
			if d < 0 {
				return b.refuse("options: connect timeout %v is negative (NoTimeout: wait until close)", d)
			}
			ms = ceilMillis(d)
		}
		return C.nq_options_set_connect_timeout(b.o, C.int64_t(ms))
	}
}

// WithKeepalive sets dead-peer detection: a connection whose peer stays
// unreachable for about d is cut (default DefaultKeepalive, 30 s; 1 s ..
// 24 h). 0 turns it off.
func WithKeepalive(d time.Duration) Option {
	return func(b *builder) C.nq_status {
		if d < 0 {
			return b.refuse("options: keepalive %v is negative (0: off)", d)
		}
		return C.nq_options_set_keepalive(b.o, C.int64_t(ceilMillis(d)))
	}
}

// ceilMillis is d in whole milliseconds, rounded up (a positive d never
// becomes 0, which means something else to the library).
func ceilMillis(d time.Duration) int64 {
	ms := d.Milliseconds()
	if d%time.Millisecond != 0 {
		ms++
	}
	return ms
}

func cbool(v bool) C.int {
	if v {
		return 1
	}
	return 0
}
