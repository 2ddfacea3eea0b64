package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// profiler fetches the server's profiles from its pprof listener
// (pprof_listen) while a phase runs: a CPU profile of the recorded part and
// a goroutine dump half-way through, which shows what the requests in
// flight wait for.
type profiler struct {
	Addr string // the server's pprof listener, 127.0.0.1:PORT
	Dir  string // where <phase>.cpu.pprof and <phase>.goroutines.txt go
	// CPUOnly skips the goroutine dump, which stops the server's world
	// for a moment, when only the CPU profile is wanted.
	CPUOnly bool
}

// start begins profiling phase for d and returns a function that waits for
// the files and reports what failed.
func (p *profiler) start(ctx context.Context, phase string, d time.Duration) func() error {
	if p == nil {
		return func() error { return nil }
	}
	seconds := max(int(math.Round(d.Seconds())), 1)
	cpu := make(chan error, 1)
	goroutines := make(chan error, 1)
	go func() {
		cpu <- p.fetch(ctx, fmt.Sprintf("/debug/pprof/profile?seconds=%d", seconds), phase+".cpu.pprof", d+30*time.Second)
	}()
	go func() {
		if p.CPUOnly {
			goroutines <- nil
			return
		}
		select {
		case <-time.After(d / 2):
			goroutines <- p.fetch(ctx, "/debug/pprof/goroutine?debug=1", phase+".goroutines.txt", 30*time.Second)
		case <-ctx.Done():
			goroutines <- ctx.Err()
		}
	}()
	return func() error {
		if err := <-cpu; err != nil {
			return err
		}
		return <-goroutines
	}
}

// heap writes the server's heap profile as <name>.heap.pprof (nothing
// without a profiler).
func (p *profiler) heap(ctx context.Context, name string) error {
	if p == nil {
		return nil
	}
	return p.fetch(ctx, "/debug/pprof/heap", name+".heap.pprof", 30*time.Second)
}

func (p *profiler) fetch(ctx context.Context, path, file string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.Addr+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profile %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("profile %s: status %d: %s", path, resp.StatusCode, b)
	}
	f, err := os.Create(filepath.Join(p.Dir, file))
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("profile %s: %w", path, err)
	}
	return f.Close()
}
