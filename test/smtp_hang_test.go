package e2e_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

// smtpMode is how an smtpFront treats a new connection.
type smtpMode int

const (
	// smtpReal hands it to a real SMTP server, which delivers.
	smtpReal smtpMode = iota
	// smtpSilent accepts it and never sends a byte, not even the
	// greeting.
	smtpSilent
	// smtpStallMail greets, answers EHLO, and never answers MAIL FROM.
	smtpStallMail
	// smtpStallData takes the whole transaction up to the message's
	// final dot, and never answers that.
	smtpStallData
)

func (m smtpMode) String() string {
	switch m {
	case smtpReal:
		return "real"
	case smtpSilent:
		return "silent"
	case smtpStallMail:
		return "stall-after-MAIL"
	case smtpStallData:
		return "stall-after-DATA"
	}
	return "unknown"
}

// smtpFront is a tenant's mail server that a test switches between a real
// SMTP server (github.com/emersion/go-smtp, recording into a mailServer)
// and ways of hanging. It keeps one listener for the whole test, so that
// the address never changes hands. Switching back to real is a restart:
// the hanging connections are cut. It counts the hanging connections and
// how long each was kept open before the client gave up on it.
type smtpFront struct {
	ln   net.Listener
	port int
	mail *mailServer // what the real server delivered
	real *chanListener
	srv  *gosmtp.Server
	wg   sync.WaitGroup

	mu             sync.Mutex
	mode           smtpMode
	held           map[net.Conn]bool // hanging connections still open
	accepted       int               // hanging connections accepted
	closedByClient int               // hanging connections the client closed
	longest        time.Duration     // the longest a client kept one
}

// newSMTPFront listens on a loopback port in real mode. Close, also run at
// cleanup, ends every connection and goroutine.
func newSMTPFront(t *testing.T) *smtpFront {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &smtpFront{ln: ln, port: ln.Addr().(*net.TCPAddr).Port, mail: &mailServer{}, held: map[net.Conn]bool{},
		real: &chanListener{addr: ln.Addr(), conns: make(chan net.Conn), done: make(chan struct{})}}
	f.srv = gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) { return &mailSession{srv: f.mail}, nil }))
	f.srv.Domain = "localhost"
	f.srv.ReadTimeout, f.srv.WriteTimeout = 10*time.Second, 10*time.Second
	f.wg.Add(2)
	go func() { defer f.wg.Done(); _ = f.srv.Serve(f.real) }()
	go f.accept()
	t.Cleanup(f.Close)
	return f
}

func (f *smtpFront) accept() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return // closed
		}
		f.mu.Lock()
		mode := f.mode
		if mode != smtpReal {
			f.held[c] = true
			f.accepted++
		}
		f.mu.Unlock()
		if mode == smtpReal {
			select {
			case f.real.conns <- c:
			case <-f.real.done:
				_ = c.Close()
			}
			continue
		}
		f.wg.Add(1)
		go f.hang(c, mode)
	}
}

// hang plays a server that hangs in mode until the connection ends.
func (f *smtpFront) hang(c net.Conn, mode smtpMode) {
	defer f.wg.Done()
	begun := time.Now()
	say := func(s string) { _, _ = io.WriteString(c, s+"\r\n") }
	stalled, inData := mode == smtpSilent, false
	if !stalled {
		say("220 localhost ESMTP")
	}
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			break // the client gave up, or the test cut it
		}
		line = strings.TrimRight(line, "\r\n")
		cmd := strings.ToUpper(line)
		switch {
		case stalled:
		case inData:
			stalled = line == "." // the whole message is in; no answer comes
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250 localhost")
		case strings.HasPrefix(cmd, "MAIL FROM:"):
			if mode == smtpStallMail {
				stalled = true
			} else {
				say("250 2.1.0 OK")
			}
		case strings.HasPrefix(cmd, "RCPT TO:"):
			say("250 2.1.5 OK")
		case cmd == "DATA":
			say("354 End data with <CR><LF>.<CR><LF>")
			inData = true
		default:
			say("502 5.5.1 Not implemented")
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held[c] { // not cut by the test: the client closed it
		delete(f.held, c)
		f.closedByClient++
		f.longest = max(f.longest, time.Since(begun))
	}
	_ = c.Close()
}

// setMode switches how new connections are treated; back to real, it
// cuts the hanging ones, as a restarted server would.
func (f *smtpFront) setMode(m smtpMode) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mode = m
	if m == smtpReal {
		for c := range f.held {
			delete(f.held, c)
			_ = c.Close()
		}
	}
}

// hangStats is what the front saw of hanging connections.
type hangStats struct {
	accepted, open, closedByClient int
	longest                        time.Duration
}

func (f *smtpFront) stats() hangStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return hangStats{accepted: f.accepted, open: len(f.held), closedByClient: f.closedByClient, longest: f.longest}
}

// Close stops listening, cuts every connection and waits for every
// goroutine.
func (f *smtpFront) Close() {
	_ = f.ln.Close()
	f.setMode(smtpReal)
	_ = f.srv.Close()
	_ = f.real.Close()
	f.wg.Wait()
}

// chanListener is a net.Listener whose connections come from a channel:
// the ones smtpFront hands to the real server.
type chanListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }

// held is what a server process holds, read from its metrics: goroutines,
// heap in use right after a garbage collection (so, live memory, not
// garbage waiting for the next cycle), and open file descriptors
// (sockets among them).
type held struct {
	goroutines, heapMiB, fds float64
}

func (h held) String() string {
	return fmt.Sprintf("%.0f goroutines, %.1f MiB heap in use, %.0f open fds", h.goroutines, h.heapMiB, h.fds)
}

// reservePort returns a loopback address nothing listens on, for a
// listener of the server whose address must be known before it starts.
func reservePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// pprofEnv serves the server's profiles on a loopback address of its own,
// which holdOf uses to collect garbage before reading the heap.
func pprofEnv(t *testing.T) (env map[string]string, addr string) {
	t.Helper()
	addr = reservePort(t)
	return map[string]string{"PORTCULLIS_PPROF_LISTEN": addr}, addr
}

// holdOf reads what s holds. It first asks the server's profiler
// (pprofAddr, see pprofEnv) for a heap profile with gc=1, which runs a
// full collection, so that the heap in use is what is reachable.
func holdOf(t *testing.T, s *server, pprofAddr string) held {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + pprofAddr + "/debug/pprof/heap?gc=1")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if time.Now().After(deadline) { // its listener starts in the background
			t.Fatalf("the server's profiler at %s: %v", pprofAddr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	text := scrape(t, s)
	var h held
	for name, v := range map[string]*float64{"go_goroutines": &h.goroutines, "go_memstats_heap_inuse_bytes": &h.heapMiB, "process_open_fds": &h.fds} {
		got, ok := sample(text, name)
		if !ok {
			t.Fatalf("no %s in the metrics", name)
		}
		*v = got
	}
	h.heapMiB /= 1 << 20
	return h
}

// Bounds of a hang: what the server may hold for each request whose mail
// waits. The courier keeps each undelivered mail in a goroutine of its
// own until it is delivered or its link expires (that is its design: the
// answer never waits on the mail server), with at most one connection
// open per mail at a time, and the composed mail (text and HTML, some
// KiB) with the connection's buffers. So a hang costs about one
// goroutine, one socket and a few tens of KiB per waiting mail (measured:
// one goroutine and one socket each, 3-4 MiB for 102 mails). The bounds
// allow twice the goroutines and sockets and 256 KiB each: a goroutine or
// connection per attempt that is not released with the attempt passes
// them at the second attempt. Once the mail server is back nothing per
// mail may be left beyond the slack below: not a goroutine or socket, nor
// more than about 160 KiB of heap each (16 MiB over 102 mails).
const (
	hangGoroutinesPerRequest = 2
	hangFDsPerRequest        = 2
	hangHeapMiBPerRequest    = 0.25
)

// What a server may hold more than at a baseline taken while idle,
// whatever waits: idle keep-alive connections and the goroutines serving
// them, background sweeps, caches that filled. Measured: within 10
// goroutines and 8 descriptors, and 2 MiB of heap.
const (
	holdGoroutineSlack = 20
	holdFDSlack        = 20
	holdHeapMiBSlack   = 16
)

// wantHeldWithin checks h against base plus perRequest for each of n
// waiting requests plus the slack.
func wantHeldWithin(t *testing.T, what string, h, base held, n int, goroutinesPer, fdsPer, heapMiBPer float64) {
	t.Helper()
	if limit := base.goroutines + goroutinesPer*float64(n) + holdGoroutineSlack; h.goroutines > limit {
		t.Errorf("%s: %.0f goroutines, want at most %.0f (baseline %.0f, %d requests waiting)", what, h.goroutines, limit, base.goroutines, n)
	}
	if limit := base.fds + fdsPer*float64(n) + holdFDSlack; h.fds > limit {
		t.Errorf("%s: %.0f open fds, want at most %.0f (baseline %.0f, %d requests waiting)", what, h.fds, limit, base.fds, n)
	}
	if limit := base.heapMiB + heapMiBPer*float64(n) + holdHeapMiBSlack; h.heapMiB > limit {
		t.Errorf("%s: %.1f MiB heap in use, want at most %.1f (baseline %.1f, %d requests waiting)", what, h.heapMiB, limit, base.heapMiB, n)
	}
}

// waitBackToBaseline waits until s holds no more than base plus the slack
// (within 30 s), and fails the test otherwise.
func waitBackToBaseline(t *testing.T, s *server, pprofAddr, what string, base held) held {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		h := holdOf(t, s, pprofAddr)
		if h.goroutines <= base.goroutines+holdGoroutineSlack && h.fds <= base.fds+holdFDSlack && h.heapMiB <= base.heapMiB+holdHeapMiBSlack {
			return h
		}
		if time.Now().After(deadline) {
			wantHeldWithin(t, what, h, base, 0, 0, 0, 0)
			return h
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// Mail flows of the hang test: each mails an account's address after a
// 202 that does not wait for the mail.
var hangFlows = []struct{ path, subject string }{
	{"/auth/v1/password/forgot", resetSubject("local")},
	{"/auth/v1/email/code/send", emailCodeSubject("local")},
	{"/auth/v1/magic-link/send", magicLinkSubject("local")},
}

// smtpAttemptBound is how long one delivery attempt may keep a
// connection to a mail server that does not answer: the tenant's SMTP
// timeout is 5 s, which bounds the greeting and EHLO together, then the
// transaction; twice that and room for a busy machine.
const smtpAttemptBound = 15 * time.Second

// TestSMTPHanging (issue 14, fault suite): the tenant's mail server
// accepts connections and then hangs — silent from the start, after
// MAIL FROM, or after the message's final dot. Password resets, e-mail
// codes and magic links to 34 accounts (102 mails each time) answer 202,
// byte for byte as for an address without an account (as when the mail
// server is down), and at once. Every connection to the hanging server is
// given up by the server within its SMTP timeout (the attempt is bounded
// after the greeting too), and while the mails wait the server holds no
// more than about one goroutine, one socket and a little memory for each.
// When the mail server is back every mail is delivered exactly once, and
// what the server holds goes back to what it held before.
func TestSMTPHanging(t *testing.T) {
	t.Parallel()
	front := newSMTPFront(t)
	env, pprofAddr := pprofEnv(t)
	s := startTenantsEnv(t, env, tenantSpec{ID: "local", Domains: []string{"localhost"}, SMTPPort: front.port, EmailLink: true, EmailResendCooldown: "1s"})
	const host = "localhost"

	accounts := make([]account, 34)
	for i := range accounts {
		accounts[i] = newAccount("smtphang")
	}
	checkEach(t, accounts, func(a account) error {
		if r, err := s.send(http.MethodPost, "/auth/v1/register", withHost(host), withJSON(registerBody(a))); err != nil || r.Status != http.StatusAccepted {
			return fmt.Errorf("register %s: %d %s %v", a.Email, r.Status, r.Body, err)
		}
		return nil
	})
	if t.Failed() {
		t.FailNow()
	}
	delivered := func(a account, subject string) int {
		n := 0
		for _, m := range front.mail.to(a.Email) {
			if strings.Contains(m.Data, "\nSubject: "+subject+"\r\n") {
				n++
			}
		}
		return n
	}
	// waitDelivered waits until every account has want mails of each
	// subject, then a moment more, and checks that none has more.
	waitDelivered := func(t *testing.T, want int, subjects ...string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for _, a := range accounts {
			for _, subject := range subjects {
				for delivered(a, subject) < want {
					if time.Now().After(deadline) {
						t.Fatalf("%d mails %q to %s delivered after 60s, want %d", delivered(a, subject), subject, a.Email, want)
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
		}
		time.Sleep(500 * time.Millisecond) // a duplicate would come now
		for _, a := range accounts {
			for _, subject := range subjects {
				if got := delivered(a, subject); got != want {
					t.Errorf("%d mails %q delivered to %s, want %d", got, subject, a.Email, want)
				}
			}
		}
	}
	// round asks for every flow's mail to every account, each answer
	// alike to the answer for an address without an account, and in time.
	subjects := make([]string, len(hangFlows))
	for i, f := range hangFlows {
		subjects[i] = f.subject
	}
	round := func(t *testing.T, why string) {
		t.Helper()
		reference := map[string]reply{}
		for _, f := range hangFlows {
			r := s.do(t, http.MethodPost, f.path, withHost(host), withJSON(map[string]any{"email": newAccount("smtphang-nobody").Email}))
			if r.Status != http.StatusAccepted {
				t.Fatalf("%s for an unknown address %s: %d %s, want 202", f.path, why, r.Status, r.Body)
			}
			reference[f.path] = r
		}
		checkEach(t, accounts, func(a account) error {
			for _, f := range hangFlows {
				begun := time.Now()
				r, err := s.send(http.MethodPost, f.path, withHost(host), withJSON(map[string]any{"email": a.Email}))
				took := time.Since(begun)
				if err != nil {
					return err
				}
				ref := reference[f.path]
				if r.Status != ref.Status || !bytes.Equal(withoutRequestID(r), withoutRequestID(ref)) {
					return fmt.Errorf("%s for %s %s: %d %s, want as for an unknown address: %d %s", f.path, a.Email, why, r.Status, r.Body, ref.Status, ref.Body)
				}
				if took > outageAnswerBound {
					return fmt.Errorf("%s for %s %s answered after %s, want within %s", f.path, a.Email, why, took.Round(time.Millisecond), outageAnswerBound)
				}
			}
			return nil
		})
		if t.Failed() {
			t.FailNow()
		}
	}
	// A round with the mail server answering first, so that the baseline
	// is of a server that has served these flows (and started what it
	// starts for them).
	waitDelivered(t, 1, verificationSubject("local"))
	round(t, "with the mail server up")
	waitDelivered(t, 1, subjects...)
	n := len(accounts) * len(hangFlows)

	for i, mode := range []smtpMode{smtpSilent, smtpStallMail, smtpStallData} {
		// A failed phase leaves mails and connections behind that the
		// next would count: stop at the first.
		ok := t.Run(mode.String(), func(t *testing.T) {
			time.Sleep(1100 * time.Millisecond) // email.resend_cooldown since the last mails
			base := holdOf(t, s, pprofAddr)
			front.setMode(mode)
			before := front.stats()
			round(t, "with the mail server hanging ("+mode.String()+")")

			// Every mail's first attempt reaches the hanging server...
			waitStats := func(what string, done func(hangStats) bool) hangStats {
				t.Helper()
				deadline := time.Now().Add(30 * time.Second)
				for {
					st := front.stats()
					st.accepted -= before.accepted
					st.closedByClient -= before.closedByClient
					if done(st) {
						return st
					}
					if time.Now().After(deadline) {
						t.Fatalf("after 30s %s: the hanging server accepted %d connections, the server gave up %d (longest kept %s), %d are open; %d mails wait",
							what, st.accepted, st.closedByClient, st.longest.Round(time.Millisecond), st.open, n)
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
			st := waitStats("waiting for every mail's first attempt", func(st hangStats) bool { return st.accepted >= n })
			first := holdOf(t, s, pprofAddr)
			if st = front.stats(); st.open > n {
				t.Errorf("%d connections to the hanging mail server are open for %d mails", st.open, n)
			}
			wantHeldWithin(t, "while every mail's first attempt hangs", first, base, n, hangGoroutinesPerRequest, hangFDsPerRequest, hangHeapMiBPerRequest)

			// ...the server gives each up by itself, in time, and tries
			// again: what the first attempts held is let go.
			st = waitStats("waiting for the server to give up every first attempt and try again", func(st hangStats) bool {
				return st.closedByClient >= n && st.accepted >= 2*n
			})
			if st.longest > smtpAttemptBound {
				t.Errorf("the server kept a connection to the hanging mail server %s, want at most %s", st.longest.Round(time.Millisecond), smtpAttemptBound)
			}
			second := holdOf(t, s, pprofAddr)
			if st = front.stats(); st.open > n {
				t.Errorf("%d connections to the hanging mail server are open for %d mails at their second attempt", st.open, n)
			}
			wantHeldWithin(t, "while every mail's second attempt hangs", second, base, n, hangGoroutinesPerRequest, hangFDsPerRequest, hangHeapMiBPerRequest)
			t.Logf("%s: %d mails; baseline %s; while the first attempts hang %s; while the second attempts hang %s (longest kept %s)",
				mode, n, base, first, second, st.longest.Round(time.Millisecond))

			// The mail server is back: each mail arrives, once, and what
			// the waiting mails held is let go.
			front.setMode(smtpReal)
			waitDelivered(t, i+2, subjects...)
			if st := front.stats(); st.open != 0 {
				t.Errorf("%d connections to the hanging mail server still open", st.open)
			}
			after := waitBackToBaseline(t, s, pprofAddr, "after the mail server is back", base)
			t.Logf("%s: after the mail server is back: %s", mode, after)
		})
		if !ok {
			return
		}
	}
}
