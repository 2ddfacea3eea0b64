package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMUnderLoad (issue 14, fault suite): SIGTERM while logins pour
// in from many clients. Every request the server began (its access log has
// it) got its whole answer, the server exits 0, and requests after the
// listener closed are refused, not left hanging.
func TestSIGTERMUnderLoad(t *testing.T) {
	t.Parallel()
	s := startLocal(t)
	a := newAccount("sigterm")
	register(t, s, "localhost", a)
	body, _ := json.Marshal(map[string]any{"email": a.Email, "password": a.Password})

	const workers = 24
	var (
		mu        sync.Mutex
		answered  = map[string]int{} // request id → status
		failures  []string
		stop      atomic.Bool
		wg        sync.WaitGroup
		sentTotal atomic.Int64
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A connection per request: a request is never written on a
			// kept-alive connection the server is closing as idle.
			client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			for n := 0; !stop.Load(); n++ {
				id := fmt.Sprintf("sigterm-%d-%d", w, n)
				req, _ := http.NewRequest(http.MethodPost, s.URL+"/auth/v1/login", bytes.NewReader(body))
				req.Host = "localhost"
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Request-ID", id)
				sentTotal.Add(1)
				resp, err := client.Do(req)
				mu.Lock()
				if err != nil {
					failures = append(failures, id+": "+err.Error())
				} else {
					answered[id] = resp.StatusCode
					resp.Body.Close()
				}
				mu.Unlock()
				if err != nil {
					return // the listener is gone
				}
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	s.signal(t, syscall.SIGTERM)
	if code := s.waitExit(t, 30*time.Second); code != 0 {
		t.Errorf("the server exited with %d under load, want 0", code)
	}
	stop.Store(true)
	wg.Wait()

	began := 0
	for _, e := range s.entries() {
		if e.Msg() != "request" || e.Str("path") != "/auth/v1/login" {
			continue
		}
		id := e.Str("request_id")
		if len(id) < 8 || id[:8] != "sigterm-" {
			continue
		}
		began++
		status, ok := answered[id]
		if !ok {
			t.Errorf("request %s was answered %v by the server but its client got no answer", id, e.Fields["status"])
		} else if float64(status) != e.Fields["status"] {
			t.Errorf("request %s: the client got %d, the server logged %v", id, status, e.Fields["status"])
		}
	}
	t.Logf("%d requests sent, %d begun by the server and answered; %d ended without an answer (after the listener closed)", sentTotal.Load(), began, len(failures))
	if began < workers {
		t.Fatalf("only %d requests reached the server before the SIGTERM: the load did not start", began)
	}
}
