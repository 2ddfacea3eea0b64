package e2e_test

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Bounds of a hanging SMS provider, per code request whose SMS waits: the
// send goroutine, and the HTTP request to the provider with its
// connection (the transport's read and write loops, one socket, its
// buffers). As for the mail server (see hangGoroutinesPerRequest), the
// bounds allow somewhat more than that, and nothing per request may be
// left once the provider answers again.
const (
	smsHangGoroutinesPerRequest = 4
	smsHangFDsPerRequest        = 2
	smsHangHeapMiBPerRequest    = 0.25
)

// TestSMSProviderHangingHoldsNoMemory (issue 14, fault suite): the SMS
// provider accepts requests and never answers. 100 canonical code
// requests, to 100 numbers with accounts, answer 202 at once (the send
// does not wait for the provider); while every SMS waits, at its first
// attempt and at its second, the server holds a bounded number of
// goroutines, sockets and heap for each; when the provider answers again
// each number gets its SMS exactly once (or its send, which retries for
// 15 s, has given up), and what the server holds goes back to what it
// held before.
func TestSMSProviderHangingHoldsNoMemory(t *testing.T) {
	t.Parallel()
	fake := newFakeTwilio(t)
	var (
		hang     atomic.Bool
		mu       sync.Mutex
		answered = map[string]int{} // number → SMS the provider took
	)
	fake.setAnswer(func(_ int, w http.ResponseWriter, r *http.Request) {
		if hang.Load() {
			<-r.Context().Done() // until the server gives up on the request
			return
		}
		mu.Lock()
		answered[r.PostForm.Get("To")]++
		mu.Unlock()
		twilioCreated(w)
	})
	env, pprofAddr := pprofEnv(t)
	s := startSMS(t, env, smsTenant("5m", fake.URL))
	const host, n = "localhost", 100
	phones := make([]string, n+1)
	for i := range phones {
		phones[i] = trPhone(2000 + i)
	}
	registerPhones(t, s, host, phones)
	// One code with the provider answering first, so that the baseline is
	// of a server that has sent an SMS (and started what it starts for
	// that).
	if r := smsSendAt(t, s, host, phones[n]); r.Status != http.StatusAccepted {
		t.Fatalf("send with the provider answering: %d %s", r.Status, r.Body)
	}
	fake.waitRequests(t, 1, 10*time.Second)
	phones = phones[:n]
	base := holdOf(t, s, pprofAddr)

	hang.Store(true)
	checkEach(t, phones, func(phone string) error {
		begun := time.Now()
		r, err := s.send(http.MethodPost, "/auth/v1/sms/send", withHost(host), withJSON(map[string]any{"phone": phone}))
		if err != nil || r.Status != http.StatusAccepted {
			return fmt.Errorf("send to %s with the provider hanging: %d %s %v, want 202", phone, r.Status, r.Body, err)
		}
		if took := time.Since(begun); took > outageAnswerBound {
			return fmt.Errorf("send to %s with the provider hanging answered after %s, want within %s", phone, took.Round(time.Millisecond), outageAnswerBound)
		}
		return nil
	})
	if t.Failed() {
		t.FailNow()
	}
	// Every SMS has reached the provider, and waits for it; then every
	// first attempt is given up (after 5 s) and a second one waits: what
	// the first held is let go.
	fake.waitRequests(t, 1+n, 30*time.Second)
	first := holdOf(t, s, pprofAddr)
	wantHeldWithin(t, "while every SMS's first attempt hangs", first, base, n, smsHangGoroutinesPerRequest, smsHangFDsPerRequest, smsHangHeapMiBPerRequest)
	fake.waitRequests(t, 1+2*n, 30*time.Second)
	second := holdOf(t, s, pprofAddr)
	wantHeldWithin(t, "while every SMS's second attempt hangs", second, base, n, smsHangGoroutinesPerRequest, smsHangFDsPerRequest, smsHangHeapMiBPerRequest)
	t.Logf("%d SMS waiting for a hanging provider: baseline %s; while the first attempts hang %s; while the second attempts hang %s", n, base, first, second)

	// The provider answers again: each waiting SMS goes, once, at its
	// next attempt, unless its send has given up meanwhile (a send
	// retries for 15 s; on a slow machine the last of the 100 may hold the
	// provider's recovery back that long), withdrawing its code.
	hang.Store(false)
	givenUp := func() int {
		return s.count(func(e logEntry) bool { return e.Msg() == "sms provider unavailable, giving up" })
	}
	delivered := func() (once, more int) {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range phones {
			switch {
			case answered[p] == 1:
				once++
			case answered[p] > 1:
				more++
			}
		}
		return once, more
	}
	deadline := time.Now().Add(30 * time.Second)
	for once, more := delivered(); once+more+givenUp() < n; once, more = delivered() {
		if time.Now().After(deadline) {
			t.Fatalf("30s after the provider came back %d numbers got their SMS and %d sends gave up, want %d together", once+more, givenUp(), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // a duplicate would come now
	once, more := delivered()
	t.Logf("after the provider came back: %d numbers got their SMS, %d sends had given up", once, givenUp())
	if more > 0 || once+givenUp() != n {
		t.Errorf("%d numbers got their SMS once, %d more than once, and %d sends gave up; want each of the %d once or given up", once, more, givenUp(), n)
	}
	after := waitBackToBaseline(t, s, pprofAddr, "after the provider is back", base)
	t.Logf("after the provider is back: %s", after)
}
