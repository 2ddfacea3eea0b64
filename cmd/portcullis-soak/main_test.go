package main

import (
	"testing"
	"time"
)

func TestP99(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 200; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	if got := p99(ds); got != 198 {
		t.Errorf("p99 of 1..200 ms = %v, want 198 (nearest rank)", got)
	}
	if got := p99(nil); got != 0 {
		t.Errorf("p99 of nothing = %v", got)
	}
}

// fill puts each operation in the interval it began in, leaves out those
// begun after the last, and judges errors and RSS growth.
func TestFill(t *testing.T) {
	begin := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return begin.Add(time.Duration(s * float64(time.Second))) }
	samples := []sample{
		{at: at(1), took: 10 * time.Millisecond},
		{at: at(2), took: 30 * time.Millisecond},
		{at: at(11), took: 20 * time.Millisecond},
		{at: at(12), took: time.Second, failure: "POST /auth/v1/login: 503 busy"},
		{at: at(25), took: time.Millisecond}, // after the last interval
	}
	var r report
	r.fill(samples, []uint64{100 << 20, 105 << 20}, begin, 10*time.Second)
	if r.Operations != 4 || r.Errors != 1 || r.Intervals[0].Operations != 2 || r.Intervals[1].Errors != 1 {
		t.Fatalf("counted %+v", r)
	}
	if r.Intervals[0].P99MS != 30 || r.Intervals[1].P99MS != 20 || r.P99Drift != 20.0/30 {
		t.Errorf("p99 %v, %v, drift %v", r.Intervals[0].P99MS, r.Intervals[1].P99MS, r.P99Drift)
	}
	if r.RSSGrowth < 0.0499 || r.RSSGrowth > 0.0501 || r.Pass {
		t.Errorf("RSS growth %v, pass %t: want 5%% and a miss for the error", r.RSSGrowth, r.Pass)
	}
	if r.ErrorKinds["POST /auth/v1/login: 503"] != 1 {
		t.Errorf("error kinds %v", r.ErrorKinds)
	}
	r = report{}
	r.fill(samples[:3], []uint64{100 << 20, 111 << 20}, begin, 10*time.Second)
	if r.Pass {
		t.Error("11% RSS growth passes")
	}
}

// With six intervals or more, drift compares the medians of the first and
// the last three: one interval's peak (a garbage collection not yet run)
// does not decide it.
func TestDriftUsesMedians(t *testing.T) {
	begin := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var samples []sample
	for i := range 6 {
		samples = append(samples, sample{at: begin.Add(time.Duration(i)*time.Second + time.Millisecond), took: time.Duration(10*(i+1)) * time.Millisecond})
	}
	rss := []uint64{100 << 20, 150 << 20, 102 << 20, 104 << 20, 160 << 20, 105 << 20}
	var r report
	r.fill(samples, rss, begin, time.Second)
	// medians: RSS 102 → 105 (+2.9%); p99 20 → 50 ms.
	if r.RSSGrowth < 0.029 || r.RSSGrowth > 0.030 || !r.Pass {
		t.Errorf("RSS growth %v, pass %t; want the medians' +2.9%% and a pass", r.RSSGrowth, r.Pass)
	}
	if r.P99Drift != 2.5 {
		t.Errorf("p99 drift %v, want 50/20", r.P99Drift)
	}
}
