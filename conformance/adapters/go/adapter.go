// The adapter protocol: one JSON command per line on stdin, one JSON
// event per line on stdout (docs/conformance.md, "Writing an adapter").
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"netqueue.invalid/conformance/adapters/go/nq"
)

// comm is what the adapter drives: a server or a client.
type comm interface {
	Put(data []byte, peers []nq.ID, done nq.PutFunc)
	Close(timeout time.Duration) error
	Queue() *nq.RecvQueue
}

// defaultCloseTimeout applies to a close without a timeout (or a
// negative one): every wait has a deadline.
const defaultCloseTimeout = 30 * time.Second

type command struct {
	Cmd     string          `json:"cmd"`
	Tag     json.RawMessage `json:"tag"`
	Data    *string         `json:"data"`
	Peers   []string        `json:"peers"`
	Timeout *float64        `json:"timeout"`
}

// emitter writes events, one JSON object per line, flushed at once; safe
// from any goroutine.
type emitter struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func newEmitter(w io.Writer) *emitter { return &emitter{w: bufio.NewWriter(w)} }

func (e *emitter) emit(ev map[string]any) {
	b, err := json.Marshal(ev)
	if err != nil {
		b = []byte(fmt.Sprintf(`{"event":"error","error":%q}`, err.Error()))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.w.Write(b)
	e.w.WriteByte('\n')
	e.w.Flush()
}

// serve runs commands until stdin ends. Commands are taken in order;
// get and close answer later, so other commands run meanwhile.
func serve(stdin io.Reader, out *emitter, c comm, id nq.ID) {
	r := bufio.NewReaderSize(stdin, 1<<20)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			handle(line, out, c, id)
		}
		if err != nil {
			return // end of stdin: the case is over
		}
	}
}

func handle(line []byte, out *emitter, c comm, id nq.ID) {
	var cmd command
	if err := json.Unmarshal(line, &cmd); err != nil {
		if len(trimSpace(line)) == 0 {
			return
		}
		out.emit(map[string]any{"event": "error", "error": "bad command line: " + err.Error()})
		return
	}
	tag := cmd.Tag
	if tag == nil {
		tag = json.RawMessage("null")
	}
	switch cmd.Cmd {
	case "put":
		doPut(cmd, tag, out, c)
	case "get":
		peers, err := parsePeers(cmd.Peers)
		if err != nil {
			out.emit(map[string]any{"event": "error", "cmd": "get", "tag": tag, "kind": "bad-command", "error": err.Error()})
			return
		}
		timeout := time.Duration(-1) // none given: wait for a message or close
		if cmd.Timeout != nil && *cmd.Timeout >= 0 {
			timeout = seconds(*cmd.Timeout)
		}
		c.Queue().Get(peers, timeout, func(m *nq.Message, err error) {
			if err != nil {
				kind := "closed"
				if errors.Is(err, nq.ErrTimeout) {
					kind = "timeout"
				}
				out.emit(map[string]any{"event": "error", "cmd": "get", "tag": tag, "kind": kind})
				return
			}
			out.emit(map[string]any{"event": "message", "tag": tag, "peer": m.Peer.Hex(),
				"size": len(m.Data), "data": base64.StdEncoding.EncodeToString(m.Data)})
		})
	case "close":
		timeout := defaultCloseTimeout
		if cmd.Timeout != nil && *cmd.Timeout >= 0 {
			timeout = seconds(*cmd.Timeout)
		}
		go func() {
			if err := c.Close(timeout); err != nil {
				out.emit(map[string]any{"event": "closed", "ok": false, "error": err.Error()})
				return
			}
			out.emit(map[string]any{"event": "closed", "ok": true})
		}()
	case "id":
		out.emit(map[string]any{"event": "id", "id": id.Hex()})
	default:
		out.emit(map[string]any{"event": "error", "cmd": cmd.Cmd, "tag": tag,
			"error": fmt.Sprintf("unknown command %q", cmd.Cmd)})
	}
}

func doPut(cmd command, tag json.RawMessage, out *emitter, c comm) {
	done := func(err error) {
		if err != nil {
			out.emit(map[string]any{"event": "put-done", "tag": tag, "ok": false, "error": err.Error()})
			return
		}
		out.emit(map[string]any{"event": "put-done", "tag": tag, "ok": true})
	}
	if cmd.Data == nil {
		done(errors.New("put without data"))
		return
	}
	data, err := base64.StdEncoding.DecodeString(*cmd.Data)
	if err != nil {
		done(fmt.Errorf("bad base64 data: %v", err))
		return
	}
	peers, err := parsePeers(cmd.Peers)
	if err != nil {
		done(err)
		return
	}
	c.Put(data, peers, done)
}

func parsePeers(hexes []string) ([]nq.ID, error) {
	var ids []nq.ID
	for _, h := range hexes {
		id, err := nq.ParseID(h)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func seconds(s float64) time.Duration {
	const max = float64(1<<63-1) / float64(time.Second)
	if s > max {
		s = max
	}
	return time.Duration(s * float64(time.Second))
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	return b
}
