package netqueue

/*
#include <netqueue/netqueue.h>
*/
import "C"

import "fmt"

// Status is a libnetqueue status code (nq_status); the numbers are stable.
type Status int

// The status codes of the C ABI.
const (
	StatusOK          Status = C.NQ_OK
	StatusInvalid     Status = C.NQ_EINVAL
	StatusNoMemory    Status = C.NQ_ENOMEM
	StatusClosed      Status = C.NQ_ECLOSED
	StatusCanceled    Status = C.NQ_ECANCELED
	StatusTimedOut    Status = C.NQ_ETIMEDOUT
	StatusNoPeer      Status = C.NQ_ENOPEER
	StatusReset       Status = C.NQ_ERESET
	StatusProtocol    Status = C.NQ_EPROTO
	StatusTooBig      Status = C.NQ_ETOOBIG
	StatusIO          Status = C.NQ_EIO
	StatusTLS         Status = C.NQ_ETLS
	StatusUnsupported Status = C.NQ_EUNSUPPORTED
	StatusAgain       Status = C.NQ_EAGAIN
	StatusCodec       Status = C.NQ_ECODEC
	StatusAddress     Status = C.NQ_EADDR
	StatusState       Status = C.NQ_ESTATE
)

// String is the library's short name of the status (nq_strerror).
func (s Status) String() string { return C.GoString(C.nq_strerror(C.nq_status(s))) }

// Error is a failed libnetqueue call: which operation, its status, and the
// library's detail message when it gave one.
type Error struct {
	Op     string // "new", "put", "get", "close", "options", ...
	Status Status
	Detail string // nq_last_error() of the failing call; may be empty
}

func (e *Error) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("netqueue: %s: %s (%s)", e.Op, e.Status, e.Detail)
	}
	return fmt.Sprintf("netqueue: %s: %s", e.Op, e.Status)
}

// Is makes errors.Is(err, ErrClosed) and friends match on the status alone.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Op == "" && t.Detail == "" && t.Status == e.Status
}

// Sentinels for errors.Is; they match any *Error with the same status.
var (
	ErrInvalid     = &Error{Status: StatusInvalid}
	ErrClosed      = &Error{Status: StatusClosed}
	ErrCanceled    = &Error{Status: StatusCanceled}
	ErrTimedOut    = &Error{Status: StatusTimedOut}
	ErrNoPeer      = &Error{Status: StatusNoPeer}
	ErrReset       = &Error{Status: StatusReset}
	ErrTooBig      = &Error{Status: StatusTooBig}
	ErrCodec       = &Error{Status: StatusCodec}
	ErrAddress     = &Error{Status: StatusAddress}
	ErrUnsupported = &Error{Status: StatusUnsupported}
)

// putFailed says why a put failed, by completion status: the library gives
// a completion no detail (nq_last_error belongs to the thread of a failed
// call). The same words in every binding.
var putFailed = map[Status]string{
	StatusCanceled: "the communicator was closed before the message was written",
	StatusReset:    "the connection to the peer was lost before the message was written",
	StatusAddress:  "the server was not reached within the connect timeout (the library's log says why)",
}

// statusErr is the error of a completion status (nil for NQ_OK).
func statusErr(op string, st C.nq_status) error {
	if st == C.NQ_OK {
		return nil
	}
	return &Error{Op: op, Status: Status(st), Detail: putFailed[Status(st)]}
}
