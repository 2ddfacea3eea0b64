package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/portcullis/portcullis/cmd/internal/proc"
)

// newClient returns a fasthttp client of at most conns connections to addr
// (127.0.0.1:PORT). It never retries: a failed request is counted, not
// hidden.
func newClient(addr string, conns int, timeout time.Duration) *fasthttp.HostClient {
	return &fasthttp.HostClient{
		Addr:                      addr,
		Name:                      "portcullis-load",
		MaxConns:                  conns,
		MaxConnWaitTimeout:        timeout,
		MaxIdemponentCallAttempts: 1,
		RetryIf:                   func(*fasthttp.Request) bool { return false },
		ReadTimeout:               timeout,
		WriteTimeout:              timeout,
		MaxIdleConnDuration:       time.Minute,
	}
}

// phase is one closed-loop measurement: Concurrency workers, each with its
// own connection, send requests back to back for Warmup (not recorded) and
// then Duration (recorded).
type phase struct {
	Name        string
	Concurrency int
	Warmup      time.Duration
	Duration    time.Duration
	// Fill writes the iter-th request of worker into req (reset before).
	Fill func(req *fasthttp.Request, worker, iter int)
	// Do, if set instead of Fill, is one transaction of several requests
	// (an SMS login): it returns "" when it succeeded, else the error
	// class, and done when there is nothing left to do (the worker stops
	// without recording it). Its latency is the whole transaction's.
	Do func(hc *fasthttp.HostClient, worker, iter int) (class string, done bool)
	// SampleRSS samples the server's resident memory every 10 ms.
	SampleRSS bool
	// Profile, if set, is called when recording starts and returns a
	// function that waits for what it started.
	Profile func() (wait func() error)
}

// sample is what one phase measured.
type sample struct {
	Wall     time.Duration   // from the end of the warm-up to the last answer
	Requests int             // recorded requests, answered or not
	OK       int             // of them, answered 2xx
	Sorted   []time.Duration // every recorded request's latency, sorted
	Errors   errorCounts
	GenCPU   time.Duration // this process's CPU time during Wall
	// ServerCPU is the server's CPU time during Wall; ServerKnown is false
	// when there is no server process to read it from.
	ServerCPU   time.Duration
	ServerKnown bool
	// From and End bound the recording, and ServerCPUWindow is the
	// server's CPU time between them (ServerKnown), without the answers
	// that come after End: with transactions long against the phase, work
	// per transaction is that CPU over the transactions completed within.
	From, End       time.Time
	ServerCPUWindow time.Duration
	PeakRSS         uint64 // bytes; only with SampleRSS and a known process
	ProfileErr      error  // what went wrong with Profile
}

// runner runs phases against one address.
type runner struct {
	Addr    string
	Timeout time.Duration // of one request
	// MaxRequests bounds the requests recorded in one phase (memory).
	MaxRequests int
	// ServerPid is the process whose CPU and memory are read, 0 if none.
	ServerPid int
}

// run executes p and returns what it measured. Workers stop starting
// requests at the end of the phase (or when ctx ends) and finish the one in
// flight, which is bounded by the request timeout.
func (r runner) run(ctx context.Context, p phase) sample {
	hc := newClient(r.Addr, p.Concurrency, r.Timeout)
	defer hc.CloseIdleConnections()

	var stopped atomic.Bool
	ctxDone := context.AfterFunc(ctx, func() { stopped.Store(true) })
	defer ctxDone()

	measureFrom := time.Now().Add(p.Warmup)
	end := measureFrom.Add(p.Duration)
	perWorkerCap := max(r.MaxRequests/p.Concurrency, 1)

	lat := make([][]time.Duration, p.Concurrency)
	oks := make([]int, p.Concurrency)
	errs := make([]errorCounts, p.Concurrency)
	var wg sync.WaitGroup
	for w := range p.Concurrency {
		wg.Go(func() {
			lat[w], oks[w], errs[w] = r.worker(hc, p, w, measureFrom, end, perWorkerCap, &stopped)
		})
	}

	time.Sleep(time.Until(measureFrom))
	profiled := func() error { return nil }
	if p.Profile != nil {
		profiled = p.Profile()
	}
	genBefore := selfCPU()
	srvBefore, srvErr := r.serverCPU()
	var peak atomic.Uint64
	sampling := make(chan struct{})
	var samplerDone sync.WaitGroup
	if p.SampleRSS && r.ServerPid > 0 {
		samplerDone.Go(func() { r.sampleRSS(sampling, &peak) })
	}
	select {
	case <-time.After(time.Until(end)):
	case <-ctx.Done():
	}
	srvEnd, srvErr3 := r.serverCPU()
	wg.Wait()
	wall := time.Since(measureFrom)
	close(sampling)
	samplerDone.Wait()
	srvAfter, srvErr2 := r.serverCPU()
	s := sample{
		Wall:        wall,
		GenCPU:      selfCPU() - genBefore,
		Errors:      errorCounts{},
		ServerKnown: srvErr == nil && srvErr2 == nil && srvErr3 == nil,
		PeakRSS:     peak.Load(),
		From:        measureFrom,
		End:         end,
	}
	if s.ServerKnown {
		s.ServerCPU = srvAfter - srvBefore
		s.ServerCPUWindow = srvEnd - srvBefore
	}
	s.ProfileErr = profiled()
	for w := range p.Concurrency {
		s.OK += oks[w]
		s.Errors.merge(errs[w])
	}
	s.Sorted = latencies(lat)
	s.Requests = len(s.Sorted)
	return s
}

// worker is one closed loop: it sends a request, waits for the answer and
// records its latency and outcome, until end.
func (r runner) worker(hc *fasthttp.HostClient, p phase, w int, from, end time.Time, limit int, stopped *atomic.Bool) ([]time.Duration, int, errorCounts) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	lat := make([]time.Duration, 0, 4096)
	errs := errorCounts{}
	ok := 0
	for i := 0; len(lat) < limit && !stopped.Load(); i++ {
		start := time.Now()
		if !start.Before(end) {
			break
		}
		if p.Do != nil {
			class, done := p.Do(hc, w, i)
			if done {
				break
			}
			if d := time.Since(start); !start.Before(from) {
				lat = append(lat, d)
				if class != "" {
					errs[class]++
				} else {
					ok++
				}
			}
			continue
		}
		req.Reset()
		p.Fill(req, w, i)
		err := hc.DoTimeout(req, resp, r.Timeout)
		d := time.Since(start)
		if start.Before(from) {
			continue
		}
		lat = append(lat, d)
		switch {
		case err != nil:
			errs[errorClass(err)]++
			// A refused or broken connection fails at once: pause, so a
			// dead server does not turn the loop into a spin.
			time.Sleep(time.Millisecond)
		default:
			if c := statusClass(resp.StatusCode(), len(resp.Header.Peek(fasthttp.HeaderRetryAfter)) > 0); c != "" {
				errs[c]++
			} else {
				ok++
			}
		}
	}
	return lat, ok, errs
}

func (r runner) serverCPU() (time.Duration, error) {
	if r.ServerPid <= 0 {
		return 0, errNoServerProcess
	}
	return procCPU(r.ServerPid)
}

// sampleRSS records the server's peak resident memory every 10 ms until
// stop is closed.
func (r runner) sampleRSS(stop <-chan struct{}, peak *atomic.Uint64) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if rss, err := proc.RSS(r.ServerPid); err == nil && rss > peak.Load() {
			peak.Store(rss)
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}
