package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/pprof/profile"
)

// cpuClass is where a CPU profile sample of the server of mode A is spent.
// On its embedded defaults the server process also runs the stand-ins of
// MongoDB (FerretDB on SQLite) and Redis (miniredis), which a deployment
// runs as separate servers; the classes tell their CPU from Portcullis'
// own.
type cpuClass int

const (
	classStore      cpuClass = iota // a frame of FerretDB or SQLite
	classRedis                      // a frame of miniredis or its Lua
	classRuntime                    // no frame outside the Go runtime: GC workers, sweeping, scavenging, the scheduler
	classPortcullis                 // everything else: request handling, the database clients, background loops
	numCPUClasses
)

// String names the class as the report does.
func (c cpuClass) String() string {
	return [...]string{
		classStore:      "store stand-in (FerretDB/SQLite)",
		classRedis:      "redis stand-in (miniredis)",
		classRuntime:    "GC and runtime background",
		classPortcullis: "Portcullis",
	}[c]
}

// Frames of these packages put a sample in the class. A FerretDB or
// miniredis frame anywhere in a stack makes the sample theirs: the driver
// and client code of Portcullis runs on Portcullis' goroutines and the
// stand-ins serve their connections on their own, so a stack holds one or
// the other.
var (
	storePrefixes = []string{"github.com/FerretDB/", "modernc.org/sqlite"}
	redisPrefixes = []string{"github.com/alicebob/miniredis", "github.com/yuin/gopher-lua"}
)

// cpuSplit is the CPU of a profile by class.
type cpuSplit struct {
	CPU      [numCPUClasses]time.Duration
	Samples  int           // samples with CPU time
	Duration time.Duration // the profile's length
}

// add adds o's samples to s, as one profile of both.
func (s *cpuSplit) add(o cpuSplit) {
	for c := range s.CPU {
		s.CPU[c] += o.CPU[c]
	}
	s.Samples += o.Samples
	s.Duration += o.Duration
}

// Total is the profile's CPU time.
func (s cpuSplit) Total() time.Duration {
	var t time.Duration
	for _, c := range s.CPU {
		t += c
	}
	return t
}

// Share is class c's share of the profile's CPU time.
func (s cpuSplit) Share(c cpuClass) float64 {
	t := s.Total()
	if t == 0 {
		return 0
	}
	return float64(s.CPU[c]) / float64(t)
}

// readCPUSplit reads a CPU profile file and splits it by class.
func readCPUSplit(path string) (cpuSplit, error) {
	f, err := os.Open(path)
	if err != nil {
		return cpuSplit{}, err
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return cpuSplit{}, fmt.Errorf("%s: %w", path, err)
	}
	s, err := splitCPU(p)
	if err != nil {
		return cpuSplit{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// splitCPU sums the CPU time of p's samples (the sample type cpu in
// nanoseconds) by class.
func splitCPU(p *profile.Profile) (cpuSplit, error) {
	idx := -1
	for i, st := range p.SampleType {
		if st.Type == "cpu" && st.Unit == "nanoseconds" {
			idx = i
		}
	}
	if idx < 0 {
		return cpuSplit{}, fmt.Errorf("not a CPU profile: no sample type cpu/nanoseconds")
	}
	s := cpuSplit{Duration: time.Duration(p.DurationNanos)}
	for _, smp := range p.Sample {
		if idx >= len(smp.Value) || smp.Value[idx] == 0 {
			continue
		}
		s.CPU[classify(smp)] += time.Duration(smp.Value[idx])
		s.Samples++
	}
	return s, nil
}

// classify returns the class of a sample from its stack's function names.
func classify(smp *profile.Sample) cpuClass {
	onlyRuntime := true
	redis := false
	for _, loc := range smp.Location {
		if len(loc.Line) == 0 {
			onlyRuntime = false // an unsymbolised frame is not known to be the runtime's
		}
		for _, ln := range loc.Line {
			name := ""
			if ln.Function != nil {
				name = ln.Function.Name
			}
			switch {
			case hasAnyPrefix(name, storePrefixes):
				return classStore
			case hasAnyPrefix(name, redisPrefixes):
				redis = true // a store frame further up would still win
			case !runtimeFunc(name):
				onlyRuntime = false
			}
		}
	}
	switch {
	case redis:
		return classRedis
	case onlyRuntime:
		return classRuntime
	}
	return classPortcullis
}

// runtimeFunc reports whether name is a function of the Go runtime: its
// background goroutines (runtime.gcBgMarkWorker, runtime.bgsweep,
// runtime.bgscavenge), the scheduler, and the profiler's stand-in frames
// for samples without a stack (runtime._GC, runtime._System).
func runtimeFunc(name string) bool {
	return strings.HasPrefix(name, "runtime.") || strings.HasPrefix(name, "internal/runtime/") ||
		strings.HasPrefix(name, "runtime/internal/")
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
