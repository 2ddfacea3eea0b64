package main

import (
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// percentile returns the nearest-rank p-th percentile (0 < p ≤ 100) of
// sorted: the smallest value at or below which at least p% of the values
// lie. It returns 0 for no values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// latencies merges the workers' latency slices into one sorted slice.
func latencies(perWorker [][]time.Duration) []time.Duration {
	n := 0
	for _, l := range perWorker {
		n += len(l)
	}
	all := make([]time.Duration, 0, n)
	for _, l := range perWorker {
		all = append(all, l...)
	}
	slices.Sort(all)
	return all
}

// Error classes besides plain status codes.
const (
	class503RetryAfter = "503+Retry-After"
	classTimeout       = "transport:timeout"
	classClosed        = "transport:closed"
	classRefused       = "transport:refused"
	classTransport     = "transport:other"
)

// statusClass names the outcome of a request that got an answer: "" for a
// 2xx, else its status code, with 503 split by whether Retry-After came
// with it (the hash pool's answer when it stays full).
func statusClass(status int, retryAfter bool) string {
	switch {
	case status >= 200 && status < 300:
		return ""
	case status == fasthttp.StatusServiceUnavailable && retryAfter:
		return class503RetryAfter
	}
	return strconv.Itoa(status)
}

// errorClass names a transport error.
func errorClass(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return classTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return classRefused
	case errors.Is(err, fasthttp.ErrConnectionClosed), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return classClosed
	}
	return classTransport
}

// errorCounts counts failed requests by class.
type errorCounts map[string]int

// Total returns the number of failed requests.
func (e errorCounts) Total() int {
	n := 0
	for _, c := range e {
		n += c
	}
	return n
}

// Except returns the number of failures of classes other than allowed.
func (e errorCounts) Except(allowed ...string) int {
	n := 0
	for k, c := range e {
		if !slices.Contains(allowed, k) {
			n += c
		}
	}
	return n
}

// String lists the classes, largest first: "503+Retry-After 12, 500 1".
func (e errorCounts) String() string {
	keys := make([]string, 0, len(e))
	for k := range e {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if e[a] != e[b] {
			return e[b] - e[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, e[k])
	}
	return strings.Join(parts, ", ")
}

// merge adds other's counts to e.
func (e errorCounts) merge(other errorCounts) {
	for k, c := range other {
		e[k] += c
	}
}

// cpuShare is the CPU time used as a fraction of all cores over wall.
func cpuShare(used, wall time.Duration, cores int) float64 {
	if wall <= 0 || cores <= 0 {
		return 0
	}
	return used.Seconds() / (wall.Seconds() * float64(cores))
}

// perSecond is n events over wall, per second.
func perSecond(n int, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return float64(n) / wall.Seconds()
}

// ms converts a duration to fractional milliseconds, for reports.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
