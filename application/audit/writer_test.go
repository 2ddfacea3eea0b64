package audit_test

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/audit/audittest"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/application/platform/platformtest"
)

// stalledLog is a store that hangs: Append blocks until released (or its
// context ends), then stores into the memory log.
type stalledLog struct {
	*audittest.MemoryLog
	entered chan struct{} // one send per Append that starts
	release chan struct{}
}

func newStalledLog() *stalledLog {
	return &stalledLog{MemoryLog: audittest.NewMemoryLog(), entered: make(chan struct{}, 1000), release: make(chan struct{})}
}

func (s *stalledLog) Append(ctx context.Context, es ...audit.Event) error {
	s.entered <- struct{}{}
	select {
	case <-s.release:
		return s.MemoryLog.Append(ctx, es...)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// failingLog refuses the first fails Appends, then stores.
type failingLog struct {
	*audittest.MemoryLog
	fails atomic.Int64
	calls atomic.Int64
}

func (f *failingLog) Append(ctx context.Context, es ...audit.Event) error {
	f.calls.Add(1)
	if f.fails.Add(-1) >= 0 {
		return errors.New("store away")
	}
	return f.MemoryLog.Append(ctx, es...)
}

func newLogger() (*slog.Logger, *platformtest.LogBuffer) {
	buf := &platformtest.LogBuffer{}
	return slog.New(slog.NewTextHandler(buf, nil)), buf
}

var t0 = platformtest.T0

// request is a request's context as the server makes it.
func request() context.Context {
	ctx := platform.WithRequestID(context.Background(), "req-7")
	ctx = platform.WithClientIP(ctx, netip.MustParseAddr("203.0.113.5"))
	return platform.WithUserAgent(ctx, "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0")
}

func closeWithin(t *testing.T, w *audit.Writer, d time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return w.Close(ctx)
}

// TestRecordNeverBlocks: with the store hanging and the buffer full, a
// request's Record returns at once; every event over the buffer is
// dropped and counted, exactly, and logged without its fields; what the
// buffer holds is written once the store answers, and flushed at Close.
func TestRecordNeverBlocks(t *testing.T) {
	t.Parallel()
	const capacity, over = 100, 1000
	store := newStalledLog()
	logger, logs := newLogger()
	w := audit.NewWriter(store, audit.WriterOptions{Capacity: capacity, Logger: logger})
	rec := audit.NewTenantRecorder("shop", 24*time.Hour, w, platformtest.NewClock(t0))
	ctx := request()

	// The first event is taken by the writer, which then hangs in Append.
	rec.Record(ctx, audit.Event{Type: audit.LoginFailed, TargetID: "victim", Reason: "invalid_credentials"})
	<-store.entered
	start := time.Now()
	for range capacity + over {
		rec.Record(ctx, audit.Event{Type: audit.LoginFailed, TargetID: "victim", Reason: "invalid_credentials"})
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("%d records with the store hanging took %s", capacity+over, took)
	}
	if s := w.Stats(); s.Dropped != over || s.Queued != capacity || s.Written != 0 {
		t.Fatalf("stats with the store hanging: %+v, want %d dropped and %d queued", s, over, capacity)
	}
	if n := strings.Count(logs.String(), "audit event dropped"); n != 1 {
		t.Fatalf("%d drop warnings for %d drops, want one (rate-limited):\n%s", n, over, logs)
	}
	if strings.Contains(logs.String(), "victim") || strings.Contains(logs.String(), "Firefox") || strings.Contains(logs.String(), "203.0.113.5") {
		t.Fatalf("a drop logged the event's fields:\n%s", logs)
	}

	close(store.release)
	if err := closeWithin(t, w, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if s := w.Stats(); s.Written != 1+capacity || s.Dropped != over || s.Lost != 0 || s.Queued != 0 {
		t.Fatalf("stats after close: %+v, want %d written, %d dropped", s, 1+capacity, over)
	}
	if n := len(store.All()); n != 1+capacity {
		t.Fatalf("%d events stored, want %d", n, 1+capacity)
	}
	rec.Record(ctx, audit.Event{Type: audit.Logout})
	if s := w.Stats(); s.Dropped != over+1 {
		t.Fatalf("a record after close: %+v, want it dropped and counted", s)
	}
}

// TestCloseFlushesWhatWaits: events queued when the server stops are
// written before Close returns, in batches.
func TestCloseFlushesWhatWaits(t *testing.T) {
	t.Parallel()
	store := newStalledLog()
	w := audit.NewWriter(store, audit.WriterOptions{Capacity: 1000, Batch: 50})
	rec := audit.NewTenantRecorder("shop", 24*time.Hour, w, platformtest.NewClock(t0))
	rec.Record(request(), audit.Event{Type: audit.Logout})
	<-store.entered
	for range 500 {
		rec.Record(request(), audit.Event{Type: audit.Logout})
	}
	close(store.release)
	if err := closeWithin(t, w, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if s := w.Stats(); s.Written != 501 || s.Lost != 0 || s.Dropped != 0 {
		t.Fatalf("stats after close: %+v, want 501 written", s)
	}
	if n := len(store.entered); n < 500/50 {
		t.Fatalf("%d more appends for 500 events, want batches of 50", n)
	}
}

// TestCloseIsBounded: a store that hangs at shutdown holds Close no
// longer than its bound, and the events it could not write are counted
// lost.
func TestCloseIsBounded(t *testing.T) {
	t.Parallel()
	store := newStalledLog()
	w := audit.NewWriter(store, audit.WriterOptions{Capacity: 100, Timeout: time.Hour, Retries: []time.Duration{}})
	rec := audit.NewTenantRecorder("shop", 24*time.Hour, w, platformtest.NewClock(t0))
	rec.Record(request(), audit.Event{Type: audit.Logout})
	<-store.entered
	for range 49 {
		rec.Record(request(), audit.Event{Type: audit.Logout})
	}
	start := time.Now()
	if err := closeWithin(t, w, 200*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("close with the store hanging: %v, want the bound's error", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("close took %s with a bound of 200ms", took)
	}
	// The store answers at last: the batch it held is written, the
	// writer stops, and what waited past the bound is counted lost.
	close(store.release)
	if err := closeWithin(t, w, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if s := w.Stats(); s.Written != 1 || s.Lost != 49 {
		t.Fatalf("stats: %+v, want 1 written and 49 lost", s)
	}
}

// TestRefusedBatchesAreRetriedThenCountedLost: a store that refuses a
// batch gets it again; one that keeps refusing loses it, counted and
// logged.
func TestRefusedBatchesAreRetriedThenCountedLost(t *testing.T) {
	t.Parallel()
	retries := []time.Duration{time.Millisecond, time.Millisecond}

	flaky := &failingLog{MemoryLog: audittest.NewMemoryLog()}
	flaky.fails.Store(2)
	w := audit.NewWriter(flaky, audit.WriterOptions{Retries: retries})
	audit.NewTenantRecorder("shop", time.Hour, w, platformtest.NewClock(t0)).Record(request(), audit.Event{Type: audit.Logout})
	if err := closeWithin(t, w, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if s := w.Stats(); s.Written != 1 || s.Lost != 0 || flaky.calls.Load() != 3 {
		t.Fatalf("after two refusals: %+v in %d calls, want written on the third", s, flaky.calls.Load())
	}

	down := &failingLog{MemoryLog: audittest.NewMemoryLog()}
	down.fails.Store(1 << 30)
	logger, logs := newLogger()
	w = audit.NewWriter(down, audit.WriterOptions{Retries: retries, Logger: logger})
	audit.NewTenantRecorder("shop", time.Hour, w, platformtest.NewClock(t0)).Record(request(), audit.Event{Type: audit.Logout})
	if err := closeWithin(t, w, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if s := w.Stats(); s.Written != 0 || s.Lost != 1 || down.calls.Load() != 3 {
		t.Fatalf("with the store away: %+v in %d calls, want lost after 3", s, down.calls.Load())
	}
	if !strings.Contains(logs.String(), "audit events lost") {
		t.Fatalf("the loss is not logged:\n%s", logs)
	}
}

// TestAMalformedEventIsDroppedAndLogged: an event of an unknown type (a
// bug) is dropped at once, logged as an error, and never reaches the
// store, where it would fail its whole batch.
func TestAMalformedEventIsDroppedAndLogged(t *testing.T) {
	t.Parallel()
	store := audittest.NewMemoryLog()
	logger, logs := newLogger()
	w := audit.NewWriter(store, audit.WriterOptions{Logger: logger})
	rec := audit.NewTenantRecorder("shop", time.Hour, w, platformtest.NewClock(t0))
	rec.Record(request(), audit.Event{Type: "login.maybe"})
	rec.Record(request(), audit.Event{Type: audit.Logout})
	if err := closeWithin(t, w, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if s := w.Stats(); s.Dropped != 1 || s.Written != 1 || len(store.All()) != 1 {
		t.Fatalf("stats %+v, %d stored; want the malformed one dropped and the other written", s, len(store.All()))
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "malformed") {
		t.Fatalf("the malformed event is not logged as an error:\n%s", logs)
	}
}
