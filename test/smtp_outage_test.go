package e2e_test

import (
	"bytes"
	"io"
	"mime/quotedprintable"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

// mailServer is a real SMTP server (github.com/emersion/go-smtp) in the
// test process, on a loopback port chosen before it listens, so that a
// tenant can be pointed at it while it is still down.
type mailServer struct {
	port int

	mu       sync.Mutex
	messages []mailMessage
	srv      *gosmtp.Server
}

// mailMessage is one delivered message, its body decoded from
// quoted-printable.
type mailMessage struct {
	To   []string
	Data string
}

// newMailServer reserves a loopback port; nothing listens on it until up.
func newMailServer(t *testing.T) *mailServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return &mailServer{port: port}
}

// up starts serving on the reserved port.
func (m *mailServer) up(t *testing.T) {
	t.Helper()
	s := gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) { return &mailSession{srv: m}, nil }))
	s.Domain = "localhost"
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	s.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(m.port)))
	if err != nil {
		t.Fatalf("the mail server's port was taken meanwhile: %v", err)
	}
	m.srv = s
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close() })
}

// to returns the messages delivered to address so far.
func (m *mailServer) to(address string) []mailMessage {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []mailMessage
	for _, msg := range m.messages {
		for _, r := range msg.To {
			if strings.EqualFold(r, address) {
				out = append(out, msg)
			}
		}
	}
	return out
}

type mailSession struct {
	srv *mailServer
	to  []string
}

func (s *mailSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (s *mailSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *mailSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	decoded, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(raw)))
	if err != nil {
		decoded = raw
	}
	s.srv.mu.Lock()
	s.srv.messages = append(s.srv.messages, mailMessage{To: s.to, Data: string(decoded)})
	s.srv.mu.Unlock()
	return nil
}
func (s *mailSession) Reset()        { s.to = nil }
func (s *mailSession) Logout() error { return nil }

var resetLink = regexp.MustCompile(`/auth/v1/password/reset\?token=([A-Za-z0-9_-]+)`)

// TestSMTPDownAnswersAlikeAndDeliversWhenBack: with the tenant's mail
// server down, a password reset answers exactly as it does for an address
// without an account; the mail is retried in the background and delivered
// once the server is back, within the link's lifetime, exactly once, and
// its link works.
func TestSMTPDownAnswersAlikeAndDeliversWhenBack(t *testing.T) {
	t.Parallel()
	mail := newMailServer(t)
	s := startTenants(t, tenantSpec{ID: "local", Domains: []string{"localhost"}, SMTPPort: mail.port})
	const host = "localhost"
	a := newAccount("smtpdown")
	register(t, s, host, a) // its verification mail waits for the server too

	forgot := func(email string) reply {
		t.Helper()
		return s.do(t, http.MethodPost, "/auth/v1/password/forgot", withHost(host), withJSON(map[string]any{"email": email}))
	}
	known, unknown := forgot(a.Email), forgot(newAccount("nobody").Email)
	if known.Status != http.StatusAccepted || unknown.Status != known.Status || !bytes.Equal(known.Body, unknown.Body) {
		t.Fatalf("with the mail server down: known %d %s, unknown %d %s; want the same 202", known.Status, known.Body, unknown.Status, unknown.Body)
	}

	time.Sleep(500 * time.Millisecond) // the first attempts meet a closed port
	mail.up(t)
	var token string
	for deadline := time.Now().Add(60 * time.Second); token == "" && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for _, m := range mail.to(a.Email) {
			if got := resetLink.FindStringSubmatch(m.Data); got != nil {
				token = got[1]
			}
		}
	}
	if token == "" {
		t.Fatalf("no reset mail delivered after the server came back; delivered to %s: %d messages", a.Email, len(mail.to(a.Email)))
	}
	time.Sleep(500 * time.Millisecond)
	resets := 0
	for _, m := range mail.to(a.Email) {
		if resetLink.MatchString(m.Data) {
			resets++
		}
	}
	if resets != 1 {
		t.Fatalf("%d reset mails delivered, want exactly 1", resets)
	}
	r := s.do(t, http.MethodPost, "/auth/v1/password/reset/validate", withHost(host), withJSON(map[string]any{"token": token}))
	if r.Status != http.StatusNoContent {
		t.Fatalf("the delivered link's token: %d %s, want 204", r.Status, r.Body)
	}
}
