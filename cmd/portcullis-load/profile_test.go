package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestProfilerWritesTheServersProfiles(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.URL.RequestURI())
		mu.Unlock()
		_, _ = w.Write([]byte("profile of " + r.URL.Path))
	}))
	defer srv.Close()
	p := &profiler{Addr: strings.TrimPrefix(srv.URL, "http://"), Dir: t.TempDir()}
	if err := p.start(t.Context(), "login_64", 1400*time.Millisecond)(); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		"login_64.cpu.pprof":      "profile of /debug/pprof/profile",
		"login_64.goroutines.txt": "profile of /debug/pprof/goroutine",
	} {
		b, err := os.ReadFile(filepath.Join(p.Dir, file))
		if err != nil || string(b) != want {
			t.Errorf("%s: %q, %v; want %q", file, b, err, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(strings.Join(asked, " "), "/debug/pprof/profile?seconds=1") {
		t.Errorf("asked for %v, want a CPU profile of the phase's 1 s", asked)
	}

	var none *profiler
	if err := none.start(t.Context(), "x", time.Second)(); err != nil {
		t.Errorf("no profiler: %v", err)
	}
}

func TestProfileNeedsModeA(t *testing.T) {
	t.Parallel()
	var stderr strings.Builder
	if _, err := parseFlags([]string{"-url", "http://127.0.0.1:8080", "-profile", t.TempDir()}, &stderr); err == nil {
		t.Error("-profile with -url: no error")
	}
	o, err := parseFlags([]string{"-profile", "bin/profiles"}, &stderr)
	if err != nil || o.ProfileDir != "bin/profiles" {
		t.Errorf("-profile bin/profiles: %+v, %v", o.ProfileDir, err)
	}
}
