package netqueue

import "context"

// Future is the completion of one put.
type Future struct {
	done chan struct{}
	err  error // set before done is closed
}

func newFuture() *Future { return &Future{done: make(chan struct{})} }

func (f *Future) complete(err error) {
	f.err = err
	close(f.done)
}

// Done is closed when the put has completed; Err then tells how.
func (f *Future) Done() <-chan struct{} { return f.done }

// Err is the put's outcome once Done is closed (nil: sent), else nil.
func (f *Future) Err() error {
	select {
	case <-f.done:
		return f.err
	default:
		return nil
	}
}

// Wait waits for the put to complete and returns its outcome, or ctx.Err()
// if ctx ends first (the put goes on).
func (f *Future) Wait(ctx context.Context) error {
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return ctx.Err()
	}
}
