// Package platformtest provides what the use cases' and ports' tests share:
// a settable clock, times rounded as a store keeps them, goroutines
// released together, and a log buffer safe for concurrent writes.
package platformtest

import (
	"bytes"
	"sync"
	"time"
)

// Clock is a platform.Clock that moves only when told.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock standing at now.
func NewClock(now time.Time) *Clock { return &Clock{now: now} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// MS keeps a time as a store keeps it: UTC, to the millisecond (the
// precision of a BSON date).
func MS(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// Race runs f(i) for i in [0, n) in goroutines released together and
// waits for all of them.
func Race(n int, f func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			f(i)
		}()
	}
	close(start)
	wg.Wait()
}

// Racers is how many goroutines the contract suites' concurrency cases
// release together.
const Racers = 20

// T0 is the contract suites' clock; every time is whole milliseconds, as
// stored.
var T0 = time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)

// At is T0 + d.
func At(d time.Duration) time.Time { return T0.Add(d) }

// LogBuffer is a log destination (an io.Writer for slog's handlers) that
// the goroutines a test starts may write to while the test reads it.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
