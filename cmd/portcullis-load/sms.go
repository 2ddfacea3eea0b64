package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/sync/errgroup"
)

// Paths of the SMS login and the dev outbox.
const (
	pathSMSSend   = "/auth/v1/sms/send"
	pathSMSVerify = "/auth/v1/sms/verify"
	pathOutbox    = "/dev/outbox"
)

// smsAreaCodes are the US area codes of the SMS phase's numbers, which are
// all NPA-555-XXXX: the 555 exchange is where fiction puts its numbers, and
// the numbering plan cannot tell mobile from fixed there
// (FIXED_LINE_OR_MOBILE), which the server accepts. Ten area codes give
// 100 000 numbers. The bench tenant has no SMS provider, so the codes go to
// the dev outbox and nothing leaves the machine.
var smsAreaCodes = []string{"201", "202", "212", "213", "303", "312", "415", "512", "617", "718"}

// smsNumbers returns n distinct E.164 numbers, the form the outbox records
// them in.
func smsNumbers(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("+1%s555%04d", smsAreaCodes[(i/10000)%len(smsAreaCodes)], i%10000)
	}
	return out
}

// maxSMSNumbers is how many numbers smsNumbers can make.
var maxSMSNumbers = 10000 * len(smsAreaCodes)

// registerPhones registers an account for each number, several at once
// (each registration hashes a password).
func registerPhones(ctx context.Context, c client, numbers []string, concurrency int) error {
	users := newUsers(len(numbers))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for i, u := range users {
		g.Go(func() error {
			a, err := c.doRetrying(ctx, "POST", pathRegister, mustJSON(map[string]string{
				"email": "sms-" + u.Email, "password": u.Password, "first_name": "Load", "last_name": "Harness", "phone": numbers[i],
			}))
			if err != nil {
				return err
			}
			if a.Status != fasthttp.StatusAccepted {
				return fmt.Errorf("register %s: status %d, want 202: %s", numbers[i], a.Status, a.Body)
			}
			return nil
		})
	}
	return g.Wait()
}

// smsLogins makes complete SMS logins, each with the next unused number of
// its pool: POST /auth/v1/sms/send, GET /dev/outbox?to=<number> until the
// code is there, POST /auth/v1/sms/verify with session "app". The engine
// allows one code per number per 60 s and ten a day, so a number serves one
// login of a phase.
type smsLogins struct {
	host    string
	timeout time.Duration // of each request, and of waiting for the code
	numbers []string
	next    atomic.Int64
	// Counts over all logins, warm-up included.
	started  atomic.Int64 // logins begun
	requests atomic.Int64 // HTTP requests sent
	polls    atomic.Int64 // of them, outbox reads

	mu   sync.Mutex
	okAt []time.Time // when each successful login got its answer
}

// completedWithin counts the successful logins answered in [from, end].
func (s *smsLogins) completedWithin(from, end time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.okAt {
		if !t.Before(from) && !t.After(end) {
			n++
		}
	}
	return n
}

// reset forgets the counts (after the setup check).
func (s *smsLogins) reset() {
	s.started.Store(0)
	s.requests.Store(0)
	s.polls.Store(0)
	s.mu.Lock()
	s.okAt = nil
	s.mu.Unlock()
}

// take returns the next unused number, or false when none is left.
func (s *smsLogins) take() (string, bool) {
	i := s.next.Add(1) - 1
	if i >= int64(len(s.numbers)) {
		return "", false
	}
	return s.numbers[i], true
}

// left is how many numbers are unused.
func (s *smsLogins) left() int { return max(len(s.numbers)-int(s.next.Load()), 0) }

// do is a phase's Do: one complete login, "" when it got an app token,
// else the failed step and its class ("send 429", "outbox no code",
// "verify 401", "verify transport:timeout").
func (s *smsLogins) do(hc *fasthttp.HostClient, _, _ int) (string, bool) {
	number, ok := s.take()
	if !ok {
		return "", true
	}
	s.started.Add(1)
	c := s.login(hc, number)
	if c == "" {
		now := time.Now()
		s.mu.Lock()
		s.okAt = append(s.okAt, now)
		s.mu.Unlock()
	}
	return c, false
}

func (s *smsLogins) login(hc *fasthttp.HostClient, number string) string {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	call := func(step, method, uri string, body []byte, want int) string {
		req.Reset()
		req.Header.SetMethod(method)
		req.Header.SetHost(s.host)
		req.SetRequestURI(uri)
		if body != nil {
			req.Header.SetContentType("application/json")
			req.SetBodyRaw(body)
		}
		s.requests.Add(1)
		if err := hc.DoTimeout(req, resp, s.timeout); err != nil {
			time.Sleep(time.Millisecond) // a dead server must not turn the loop into a spin
			return step + " " + errorClass(err)
		}
		if resp.StatusCode() != want {
			if c := statusClass(resp.StatusCode(), len(resp.Header.Peek(fasthttp.HeaderRetryAfter)) > 0); c != "" {
				return step + " " + c
			}
			return step + " " + strconv.Itoa(resp.StatusCode())
		}
		return ""
	}
	if c := call("send", fasthttp.MethodPost, pathSMSSend, mustJSON(map[string]string{"phone": number}), fasthttp.StatusAccepted); c != "" {
		return c
	}
	// The code is delivered in the background, usually before the 202 is
	// written: the first read mostly finds it. Later reads back off from
	// 1 ms to 16 ms.
	outbox := pathOutbox + "?to=" + url.QueryEscape(number)
	deadline := time.Now().Add(s.timeout)
	code := ""
	for wait := time.Duration(0); ; wait = min(max(2*wait, time.Millisecond), 16*time.Millisecond) {
		time.Sleep(wait)
		s.polls.Add(1)
		if c := call("outbox", fasthttp.MethodGet, outbox, nil, fasthttp.StatusOK); c != "" {
			return c
		}
		if code = smsCode(resp.Body()); code != "" {
			break
		}
		if time.Now().After(deadline) {
			return "outbox no code"
		}
	}
	if c := call("verify", fasthttp.MethodPost, pathSMSVerify, mustJSON(map[string]string{"phone": number, "code": code, "session": "app"}), fasthttp.StatusOK); c != "" {
		return c
	}
	if !strings.Contains(string(resp.Body()), `"app_token"`) {
		return "verify no app_token"
	}
	return ""
}

// smsCode returns the code of the newest SMS of a GET /dev/outbox answer:
// the digits its text begins with ("123456 is your … sign-in code"), or ""
// when there is none.
func smsCode(body []byte) string {
	var out struct {
		Messages []struct {
			Kind string `json:"kind"`
			Text string `json:"text"`
		} `json:"messages"`
	}
	if json.Unmarshal(body, &out) != nil {
		return ""
	}
	for i := len(out.Messages) - 1; i >= 0; i-- {
		m := out.Messages[i]
		if m.Kind != "sms" {
			continue
		}
		n := 0
		for n < len(m.Text) && m.Text[n] >= '0' && m.Text[n] <= '9' {
			n++
		}
		if n >= 4 {
			return m.Text[:n]
		}
	}
	return ""
}
