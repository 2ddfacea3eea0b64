package audit

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the WriterOptions fields left zero.
const (
	// DefaultCapacity bounds the events waiting for the store: about
	// 4 MB of memory at most for the whole process, and a store outage
	// of some seconds at a busy server's rate of sign-ins.
	DefaultCapacity = 10000
	// DefaultBatch is the most events one Append writes.
	DefaultBatch = 200
	// DefaultTimeout bounds one Append.
	DefaultTimeout = 10 * time.Second
)

// DefaultRetries are the waits before the second and third attempt to
// write a batch the store refused. Append is idempotent (see Log), so a
// retry never stores an event twice.
var DefaultRetries = []time.Duration{200 * time.Millisecond, time.Second}

// dropLogEvery is how often, at most, a drop is logged: a full buffer
// drops thousands of events a second, and the log must not flood too.
const dropLogEvery = 10 * time.Second

// WriterOptions configure a Writer; zero fields take the defaults.
type WriterOptions struct {
	Capacity int
	Batch    int
	Timeout  time.Duration
	// Retries are the waits between attempts to write a batch; nil takes
	// DefaultRetries, an empty slice makes one attempt only.
	Retries []time.Duration
	// Logger receives drops and write failures (counts, tenant, type and
	// error: never an event's fields).
	Logger *slog.Logger
}

// Stats are a Writer's counters since it started.
type Stats struct {
	// Written counts the events the store took.
	Written int64
	// Dropped counts the events refused at Add: the buffer was full, the
	// writer was closed, or the event was malformed (a bug, logged as an
	// error).
	Dropped int64
	// Lost counts the events taken from the buffer that never reached the
	// store: it refused them at every attempt, or the shutdown's bound
	// passed first.
	Lost int64
	// Queued is how many events wait now.
	Queued int
}

// Writer is the platform's audit writer: one bounded buffer for every
// tenant, drained by one background goroutine that appends the events to
// the Log in batches. Add never blocks: when the buffer is full the event
// is dropped and counted. Close flushes what waits, within a bound.
type Writer struct {
	log    Log
	opts   WriterOptions
	logger *slog.Logger
	queue  chan Event

	closed   atomic.Bool
	stopOnce sync.Once
	stop     chan struct{}
	// flush bounds the final flush; set before stop is closed, read by
	// the goroutine after it sees stop closed.
	flush context.Context
	done  chan struct{}

	written, dropped, lost atomic.Int64
	lastDropLog            atomic.Int64 // Unix nanoseconds
}

// NewWriter returns a writer into l and starts its goroutine; Close stops
// it.
func NewWriter(l Log, o WriterOptions) *Writer {
	if o.Capacity <= 0 {
		o.Capacity = DefaultCapacity
	}
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Retries == nil {
		o.Retries = DefaultRetries
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	w := &Writer{log: l, opts: o, logger: logger, queue: make(chan Event, o.Capacity),
		stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

// Add queues e for the store and returns at once. When the buffer is
// full, or the writer is closed, e is dropped and counted; a malformed e
// (see Event.Check) is dropped and logged as the bug it is.
func (w *Writer) Add(e Event) {
	if err := e.Check(); err != nil {
		w.dropped.Add(1)
		w.logger.Error("audit event refused: malformed", "tenant", e.TenantID, "type", string(e.Type), "error", err)
		return
	}
	if w.closed.Load() {
		w.drop(e, "the audit writer is closed")
		return
	}
	select {
	case w.queue <- e:
	default:
		w.drop(e, "the buffer is full")
	}
}

// drop counts a dropped event and logs it, at most once per dropLogEvery.
func (w *Writer) drop(e Event, why string) {
	n := w.dropped.Add(1)
	now := time.Now().UnixNano()
	last := w.lastDropLog.Load()
	if now-last >= int64(dropLogEvery) && w.lastDropLog.CompareAndSwap(last, now) {
		w.logger.Warn("audit event dropped: "+why, "tenant", e.TenantID, "type", string(e.Type), "dropped_total", n)
	}
}

// Stats returns the writer's counters.
func (w *Writer) Stats() Stats {
	return Stats{Written: w.written.Load(), Dropped: w.dropped.Load(), Lost: w.lost.Load(), Queued: len(w.queue)}
}

// Close stops taking events and writes those waiting until they are all
// stored or ctx ends; what is left then is lost (counted). It returns
// ctx's error when ctx ended before the writer stopped. An Add racing
// Close may be dropped without being counted.
func (w *Writer) Close(ctx context.Context) error {
	w.stopOnce.Do(func() {
		w.closed.Store(true)
		w.flush = ctx
		close(w.stop)
	})
	select {
	case <-w.done:
		s := w.Stats()
		w.logger.Info("audit writer stopped", "written", s.Written, "dropped", s.Dropped, "lost", s.Lost)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *Writer) run() {
	defer close(w.done)
	batch := make([]Event, 0, w.opts.Batch)
	for {
		// Once stopping, what waits is written under the shutdown's
		// bound, however much waits.
		select {
		case <-w.stop:
			w.drain(w.flush, batch)
			return
		default:
		}
		select {
		case e := <-w.queue:
			batch = w.take(append(batch[:0], e))
			w.write(context.Background(), batch)
		case <-w.stop:
			w.drain(w.flush, batch)
			return
		}
	}
}

// drain writes what waits, batch by batch, until nothing does or ctx
// ends; the rest is lost.
func (w *Writer) drain(ctx context.Context, batch []Event) {
	for ctx.Err() == nil {
		batch = w.take(batch[:0])
		if len(batch) == 0 {
			return
		}
		w.write(ctx, batch)
	}
	if n := len(w.queue); n > 0 {
		w.lost.Add(int64(n))
		w.logger.Warn("audit events lost: the shutdown's bound passed before they were written", "count", n)
	}
}

// take fills batch from the queue without waiting, up to a whole batch.
func (w *Writer) take(batch []Event) []Event {
	for len(batch) < w.opts.Batch {
		select {
		case e := <-w.queue:
			batch = append(batch, e)
		default:
			return batch
		}
	}
	return batch
}

// write appends batch, retrying a refusal, within parent.
func (w *Writer) write(parent context.Context, batch []Event) {
	var err error
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(parent, w.opts.Timeout)
		err = w.log.Append(ctx, batch...)
		cancel()
		if err == nil {
			w.written.Add(int64(len(batch)))
			return
		}
		if attempt == len(w.opts.Retries) || parent.Err() != nil {
			break
		}
		t := time.NewTimer(w.opts.Retries[attempt])
		select {
		case <-t.C:
		case <-parent.Done():
			t.Stop()
		}
	}
	w.lost.Add(int64(len(batch)))
	w.logger.Warn("audit events lost: the store refused them", "count", len(batch), "error", err)
}
