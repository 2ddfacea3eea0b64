package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/portcullis/portcullis/domain/tenant"
)

func durations(vs ...int) []time.Duration {
	out := make([]time.Duration, len(vs))
	for i, v := range vs {
		out[i] = time.Duration(v)
	}
	return out
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i + 1)
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value", durations(7), 99, 7},
		{"p50 of 1..100", hundred, 50, 50},
		{"p99 of 1..100", hundred, 99, 99},
		{"p100 of 1..100", hundred, 100, 100},
		{"p1 of 1..100", hundred, 1, 1},
		{"p50 of an even count is the lower middle", durations(1, 2, 3, 4), 50, 2},
		{"p50 of an odd count is the middle", durations(1, 2, 3, 4, 5), 50, 3},
		{"p99 of 10 values is the largest", durations(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10},
		{"p90 of 10 values", durations(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9},
		{"tiny p is the smallest", durations(5, 6), 0.001, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tt.sorted, tt.p, got, tt.want)
			}
		})
	}
}

func TestLatenciesMergesAndSorts(t *testing.T) {
	t.Parallel()
	got := latencies([][]time.Duration{durations(5, 1), nil, durations(3), durations(4, 2)})
	want := durations(1, 2, 3, 4, 5)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("latencies = %v, want %v", got, want)
	}
}

func TestMedian(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		sorted []time.Duration
		want   time.Duration
	}{
		{"empty", nil, 0},
		{"odd", durations(1, 5, 9), 5},
		{"even: mean of the middle two", durations(1, 4, 6, 100), 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := median(tt.sorted); got != tt.want {
				t.Errorf("median(%v) = %v, want %v", tt.sorted, got, tt.want)
			}
		})
	}
}

func TestSingleHashLimit(t *testing.T) {
	t.Parallel()
	if got := singleHashLimit(2, 40*time.Millisecond); got != 50 {
		t.Errorf("singleHashLimit(2, 40ms) = %v, want 50", got)
	}
	if got := singleHashLimit(2, 0); got != 0 {
		t.Errorf("singleHashLimit(2, 0) = %v, want 0", got)
	}
}

// The hash measurements count what they did; their times are the
// machine's, so only their presence is asserted.
func TestMeasureHashes(t *testing.T) {
	t.Parallel()
	params := tenant.HashParams{MemoryKiB: 64, Iterations: 1, Parallelism: 1}
	one, err := measureHash(t.Context(), params, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(one.Samples) != 3 || one.Median <= 0 || one.Min > one.Median || one.Median > one.Max || one.Params != params {
		t.Errorf("alone: %+v", one)
	}
	par, err := measureHashRate(t.Context(), params, 3, 4)
	if err != nil {
		t.Fatal(err)
	}
	if par.Workers != 3 || par.Hashes != 12 || par.PerSecond <= 0 || par.Median <= 0 {
		t.Errorf("at once: %+v", par)
	}
	if _, err := measureHashRate(t.Context(), tenant.HashParams{}, 2, 1); err == nil {
		t.Error("invalid parameters: no error")
	}
}

func TestHashFigures(t *testing.T) {
	t.Parallel()
	params := tenant.HashParams{MemoryKiB: 19456, Iterations: 2, Parallelism: 1}
	one := hashTiming{Params: params, Samples: durations(1, 2, 3), Median: 40 * time.Millisecond,
		Min: 30 * time.Millisecond, Max: 90 * time.Millisecond, CPU: 38 * time.Millisecond}
	par := hashRate{Workers: 2, Hashes: 40, PerSecond: 40, Median: 50 * time.Millisecond, CPU: 45 * time.Millisecond}
	f := hashFigures(2, one, par)
	want := HashFigures{Algorithm: "argon2id", MemoryKiB: 19456, Iterations: 2, Parallelism: 1, UsableCores: 2,
		Samples: 3, MedianMS: 40, MinMS: 30, MaxMS: 90, CPUMS: 38, SingleLimitPerSecond: 50,
		ParallelWorkers: 2, ParallelHashes: 40, ParallelMedianMS: 50, ParallelCPUMS: 45,
		LimitPerSecond: 40, ParallelScaling: 0.8}
	if f != want {
		t.Errorf("hashFigures:\n got %+v\nwant %+v", f, want)
	}
	if z := hashFigures(2, hashTiming{Samples: durations(1)}, hashRate{}); z.ParallelScaling != 0 || z.SingleLimitPerSecond != 0 {
		t.Errorf("no hash time: %+v", z)
	}
}

func TestStatusClass(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status     int
		retryAfter bool
		want       string
	}{
		{200, false, ""},
		{202, false, ""},
		{204, true, ""},
		{401, false, "401"},
		{429, true, "429"},
		{503, true, class503RetryAfter},
		{503, false, "503"},
		{500, false, "500"},
		{302, false, "302"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d/%t", tt.status, tt.retryAfter), func(t *testing.T) {
			t.Parallel()
			if got := statusClass(tt.status, tt.retryAfter); got != tt.want {
				t.Errorf("statusClass(%d, %t) = %q, want %q", tt.status, tt.retryAfter, got, tt.want)
			}
		})
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

var _ net.Error = timeoutErr{}

func TestErrorClass(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"fasthttp timeout", fasthttp.ErrTimeout, classTimeout},
		{"deadline", fmt.Errorf("read: %w", os.ErrDeadlineExceeded), classTimeout},
		{"net timeout", &net.OpError{Op: "read", Err: timeoutErr{}}, classTimeout},
		{"refused", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, classRefused},
		{"closed", fasthttp.ErrConnectionClosed, classClosed},
		{"reset", &net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, classClosed},
		{"other", errors.New("something odd"), classTransport},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := errorClass(tt.err); got != tt.want {
				t.Errorf("errorClass(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

func TestErrorCounts(t *testing.T) {
	t.Parallel()
	e := errorCounts{"500": 1, class503RetryAfter: 12}
	e.merge(errorCounts{"500": 2, classTimeout: 2})
	if got, want := e.Total(), 17; got != want {
		t.Errorf("Total = %d, want %d", got, want)
	}
	if got, want := e.Except(class503RetryAfter), 5; got != want {
		t.Errorf("Except(503+Retry-After) = %d, want %d", got, want)
	}
	if got, want := e.String(), "503+Retry-After 12, 500 3, transport:timeout 2"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if got := (errorCounts{}).String(); got != "" {
		t.Errorf("empty String = %q, want \"\"", got)
	}
}

func TestCPUShareAndRate(t *testing.T) {
	t.Parallel()
	if got := cpuShare(3*time.Second, 2*time.Second, 2); got != 0.75 {
		t.Errorf("cpuShare(3s over 2s on 2 cores) = %v, want 0.75", got)
	}
	if got := cpuShare(time.Second, 0, 2); got != 0 {
		t.Errorf("cpuShare over no time = %v, want 0", got)
	}
	if got := perSecond(300, 1500*time.Millisecond); got != 200 {
		t.Errorf("perSecond(300, 1.5s) = %v, want 200", got)
	}
}
