package netqueue

import (
	"context"
	"sync"
	"sync/atomic"
)

// Future is the completion of one put.
//
// It is cheap on purpose (the per-put cost of a binding is what its
// benchmark measures): one small allocation, no lock to complete it, and
// the channel of Done is only made if someone asks for it before the put
// completes.
type Future struct {
	state   atomic.Uint32 // 0 pending, 1 complete (err set before)
	hasChan atomic.Uint32 // 1 once Done made the channel (under mu)
	mu      sync.Mutex    // guards done
	err     error
	done    chan struct{}
}

// closedChan is what Done returns for a future already complete.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// complete runs once, on the drain goroutine. Go's atomics are
// sequentially consistent: either complete sees hasChan and closes the
// channel, or Done (which sets hasChan, then looks at state) sees the
// state and returns closedChan; both may happen, and that is fine.
func (f *Future) complete(err error) {
	f.err = err
	f.state.Store(1)
	if f.hasChan.Load() == 1 {
		f.mu.Lock()
		close(f.done)
		f.mu.Unlock()
	}
}

// Done is closed when the put has completed; Err then tells how.
func (f *Future) Done() <-chan struct{} {
	if f.state.Load() == 1 {
		return closedChan
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done == nil {
		f.done = make(chan struct{})
		f.hasChan.Store(1)
	}
	if f.state.Load() == 1 {
		return closedChan
	}
	return f.done
}

// Err is the put's outcome once Done is closed (nil: sent), else nil.
func (f *Future) Err() error {
	if f.state.Load() == 1 {
		return f.err
	}
	return nil
}

// Wait waits for the put to complete and returns its outcome, or ctx.Err()
// if ctx ends first (the put goes on).
func (f *Future) Wait(ctx context.Context) error {
	if f.state.Load() == 1 {
		return f.err
	}
	select {
	case <-f.Done():
		return f.err
	case <-ctx.Done():
		return ctx.Err()
	}
}
