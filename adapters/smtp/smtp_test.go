package smtp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/portcullis/portcullis/adapters/credential"
	"github.com/portcullis/portcullis/adapters/smtp"
	"github.com/portcullis/portcullis/application/platform/platformtest"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/message"
	"github.com/portcullis/portcullis/domain/tenant"
)

const (
	password  = "s3cret-pa55"
	recipient = "alice@example.net"
)

// options for a server on 127.0.0.1:port; retries wait a few milliseconds.
func options(port int, mode tenant.SMTPTLS) smtp.Options {
	return smtp.Options{Host: "127.0.0.1", Port: port, TLS: mode, From: "Shop <no-reply@shop.example>", ReplyTo: "Help <help@shop.example>",
		Timeout: 5 * time.Second, MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond, Tenant: "shop"}
}

func newMailer(t *testing.T, o smtp.Options) *smtp.Mailer {
	t.Helper()
	m, err := smtp.NewMailer(o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// testContext bounds a test's sends, so that a mistake fails instead of
// hanging.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mailTo(to string) message.Mail {
	return message.Mail{To: to, Subject: "Réinitialisez votre mot de passe", Text: "Open this link:\nhttps://shop.example/reset?token=abc\n",
		HTML: `<p>Open <a href="https://shop.example/reset?token=abc">this link</a>.</p>`}
}

func TestPlainDeliveryToLoopback(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	m := newMailer(t, options(srv.port, tenant.SMTPNoTLS))
	in := mailTo(recipient)
	if err := m.SendMail(testContext(t), in); err != nil {
		t.Fatal(err)
	}
	_, _, got := srv.snapshot()
	if len(got) != 1 {
		t.Fatalf("delivered %d, want 1", len(got))
	}
	d := got[0]
	if d.From != "no-reply@shop.example" || len(d.To) != 1 || d.To[0] != recipient || d.TLS {
		t.Fatalf("envelope %+v", d)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(d.Data))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Header
	checkAddress(t, h, "From", "Shop", "no-reply@shop.example")
	checkAddress(t, h, "To", "", recipient)
	checkAddress(t, h, "Reply-To", "Help", "help@shop.example")
	subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if err != nil || subject != in.Subject {
		t.Errorf("Subject %q (%v), want %q", subject, err, in.Subject)
	}
	if id := h.Get("Message-Id"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@shop.example>") || len(id) < 30 {
		t.Errorf("Message-Id %q", id)
	}
	if date, err := h.Date(); err != nil || time.Since(date) > time.Hour || time.Until(date) > time.Hour {
		t.Errorf("Date %q: %v", h.Get("Date"), err)
	}
	if ua := h.Get("User-Agent") + h.Get("X-Mailer"); ua != "" {
		t.Errorf("the mailer announces itself: %q", ua)
	}
	parts := alternatives(t, h.Get("Content-Type"), msg.Body)
	if parts["text/plain"] != in.Text || parts["text/html"] != in.HTML {
		t.Fatalf("bodies %q", parts)
	}
}

func TestTextOnlyMailIsNotMultipart(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	m := newMailer(t, options(srv.port, tenant.SMTPNoTLS))
	if err := m.SendMail(testContext(t), message.Mail{To: recipient, Subject: "Hello", Text: "Just text.\n"}); err != nil {
		t.Fatal(err)
	}
	_, _, got := srv.snapshot()
	msg, err := mail.ReadMessage(bytes.NewReader(got[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	if mt, _, _ := mime.ParseMediaType(msg.Header.Get("Content-Type")); mt != "text/plain" {
		t.Fatalf("Content-Type %q", msg.Header.Get("Content-Type"))
	}
	if body := decodeBody(t, msg.Header.Get("Content-Transfer-Encoding"), msg.Body); body != "Just text.\n" {
		t.Fatalf("body %q", body)
	}
}

func TestSTARTTLS(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	t.Run("trusted certificate", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, serverOptions{TLS: ca.Server})
		m := newMailer(t, smtp.WithRootCAs(options(srv.port, tenant.SMTPStartTLS), ca.Pool))
		if err := m.SendMail(testContext(t), mailTo(recipient)); err != nil {
			t.Fatal(err)
		}
		if _, _, got := srv.snapshot(); len(got) != 1 || !got[0].TLS {
			t.Fatalf("delivered %+v, want one message over TLS", got)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, serverOptions{TLS: ca.Server})
		other := newTestCA(t)
		m := newMailer(t, smtp.WithRootCAs(options(srv.port, tenant.SMTPStartTLS), other.Pool))
		err := m.SendMail(testContext(t), mailTo(recipient))
		checkPermanent(t, err, 0)
		if datas, _, got := srv.snapshot(); datas != 0 || len(got) != 0 || srv.conns.Load() != 1 {
			t.Fatalf("server saw %d DATA, %d delivered over %d connections; want nothing over one", datas, len(got), srv.conns.Load())
		}
	})
	t.Run("system roots do not know a test certificate", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, serverOptions{TLS: ca.Server})
		m := newMailer(t, options(srv.port, tenant.SMTPStartTLS))
		checkPermanent(t, m.SendMail(testContext(t), mailTo(recipient)), 0)
		if _, _, got := srv.snapshot(); len(got) != 0 {
			t.Fatal("delivered without a verified certificate")
		}
	})
	t.Run("a server without STARTTLS gets nothing", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, serverOptions{})
		m := newMailer(t, smtp.WithRootCAs(options(srv.port, tenant.SMTPStartTLS), ca.Pool))
		checkPermanent(t, m.SendMail(testContext(t), mailTo(recipient)), 0)
		if datas, _, _ := srv.snapshot(); datas != 0 || srv.conns.Load() != 1 {
			t.Fatalf("%d DATA over %d connections", datas, srv.conns.Load())
		}
	})
}

func TestImplicitTLS(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	srv := startServer(t, serverOptions{TLS: ca.Server, Implicit: true})
	m := newMailer(t, smtp.WithRootCAs(options(srv.port, tenant.SMTPImplicitTLS), ca.Pool))
	if err := m.SendMail(testContext(t), mailTo(recipient)); err != nil {
		t.Fatal(err)
	}
	if _, _, got := srv.snapshot(); len(got) != 1 || !got[0].TLS {
		t.Fatalf("delivered %+v, want one message over TLS", got)
	}

	other := newTestCA(t)
	untrusted := newMailer(t, smtp.WithRootCAs(options(srv.port, tenant.SMTPImplicitTLS), other.Pool))
	checkPermanent(t, untrusted.SendMail(testContext(t), mailTo(recipient)), 0)
	if _, _, got := srv.snapshot(); len(got) != 1 {
		t.Fatalf("%d delivered, want still 1", len(got))
	}
}

func TestAuthPlain(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	withAuth := func(port int, pw string) smtp.Options {
		o := smtp.WithRootCAs(options(port, tenant.SMTPStartTLS), ca.Pool)
		o.Username, o.Password = "shop", credential.New(pw)
		return o
	}
	t.Run("right password", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, serverOptions{TLS: ca.Server, Users: map[string]string{"shop": password}})
		m := newMailer(t, withAuth(srv.port, password))
		if err := m.SendMail(testContext(t), mailTo(recipient)); err != nil {
			t.Fatal(err)
		}
		if _, auths, got := srv.snapshot(); auths != 1 || len(got) != 1 || got[0].User != "shop" {
			t.Fatalf("%d auths, delivered %+v", auths, got)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, serverOptions{TLS: ca.Server, Users: map[string]string{"shop": password}})
		var logs platformtest.LogBuffer
		o := withAuth(srv.port, "wrong-"+password)
		o.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
		m := newMailer(t, o)
		err := m.SendMail(testContext(t), mailTo(recipient))
		de := checkPermanent(t, err, 535)
		if de.Attempts != 1 {
			t.Fatalf("attempts %d, want 1", de.Attempts)
		}
		if datas, auths, got := srv.snapshot(); auths != 1 || datas != 0 || len(got) != 0 || srv.conns.Load() != 1 {
			t.Fatalf("%d auths, %d DATA, %d delivered over %d connections; want one auth over one", auths, datas, len(got), srv.conns.Load())
		}
		checkNoSecrets(t, err.Error()+logs.String(), "wrong-"+password)
		if !strings.Contains(logs.String(), `"smtp_code":535`) || !strings.Contains(logs.String(), `"rcpt_domain":"example.net"`) {
			t.Fatalf("log %s", logs.String())
		}
	})
}

func TestTemporaryFailureThenSuccessDeliversOnce(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{DataErr: func(n int) error {
		if n == 1 {
			return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
		}
		return nil
	}})
	var logs platformtest.LogBuffer
	o := options(srv.port, tenant.SMTPNoTLS)
	o.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	m := newMailer(t, o)
	if err := m.SendMail(testContext(t), mailTo(recipient)); err != nil {
		t.Fatal(err)
	}
	datas, _, got := srv.snapshot()
	if datas != 2 || len(got) != 1 || srv.conns.Load() != 2 {
		t.Fatalf("%d DATA, %d delivered over %d connections; want 2, 1 and 2", datas, len(got), srv.conns.Load())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(strings.SplitN(logs.String(), "\n", 2)[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["tenant"] != "shop" || rec["rcpt_domain"] != "example.net" || rec["smtp_code"] != float64(451) || rec["attempt"] != float64(1) {
		t.Fatalf("log record %v", rec)
	}
	checkNoSecrets(t, logs.String(), "")
}

func TestPermanentFailureIsNotRetried(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{RcptErr: &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1},
		Message: "No such user " + recipient}})
	m := newMailer(t, options(srv.port, tenant.SMTPNoTLS))
	err := m.SendMail(testContext(t), mailTo(recipient))
	de := checkPermanent(t, err, 550)
	if de.EnhancedCode != "5.1.1" || de.Attempts != 1 || srv.conns.Load() != 1 {
		t.Fatalf("%+v over %d connections", de, srv.conns.Load())
	}
	if errs.KindOf(err) != errs.Invalid {
		t.Fatalf("kind %s, want invalid", errs.KindOf(err))
	}
	if strings.Contains(err.Error(), "alice@") || !strings.Contains(err.Error(), "***@example.net") {
		t.Fatalf("the error must mask the recipient's local part: %v", err)
	}
}

func TestHangingServerEndsWithTheContext(t *testing.T) {
	t.Parallel()
	port, conns := hangingServer(t)
	t.Run("each attempt times out", func(t *testing.T) {
		o := options(port, tenant.SMTPNoTLS)
		o.Timeout = 50 * time.Millisecond
		m := newMailer(t, o)
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		err := m.SendMail(ctx, mailTo(recipient))
		var de *smtp.DeliveryError
		if !errors.As(err, &de) || de.Permanent || de.Attempts < 1 || !errors.Is(err, smtp.ErrUnavailable) || errs.KindOf(err) != errs.Unavailable {
			t.Fatalf("want a temporary DeliveryError, got %v", err)
		}
	})
	t.Run("the context ends an attempt", func(t *testing.T) {
		o := options(port, tenant.SMTPNoTLS)
		o.Timeout = time.Hour // only the context can end it
		m := newMailer(t, o)
		ctx, cancel := context.WithCancel(context.Background())
		before := conns.Load()
		done := make(chan error, 1)
		go func() { done <- m.SendMail(ctx, mailTo(recipient)) }()
		for conns.Load() == before {
			time.Sleep(time.Millisecond)
		}
		cancel()
		if err := <-done; !errors.Is(err, smtp.ErrUnavailable) {
			t.Fatalf("want ErrUnavailable, got %v", err)
		}
	})
}

func TestHeaderInjectionIsRefusedBeforeConnecting(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	m := newMailer(t, options(srv.port, tenant.SMTPNoTLS))
	cases := []struct {
		name  string
		mail  message.Mail
		field string
	}{
		{"CRLF in subject", message.Mail{To: recipient, Subject: "Hi\r\nBcc: x@evil.example", Text: "x"}, "subject"},
		{"LF in subject", message.Mail{To: recipient, Subject: "Hi\nBcc: x@evil.example", Text: "x"}, "subject"},
		{"NUL in subject", message.Mail{To: recipient, Subject: "Hi\x00", Text: "x"}, "subject"},
		{"CRLF in address", message.Mail{To: recipient + "\r\nBcc: x@evil.example", Subject: "Hi", Text: "x"}, "to"},
		{"LF in display name", message.Mail{To: "Alice\n <" + recipient + ">", Subject: "Hi", Text: "x"}, "to"},
		{"encoded CRLF in display name", message.Mail{To: "=?utf-8?q?Alice=0D=0ABcc=3A_x?= <" + recipient + ">", Subject: "Hi", Text: "x"}, "to"},
		{"two recipients", message.Mail{To: recipient + ", x@evil.example", Subject: "Hi", Text: "x"}, "to"},
		{"not an address", message.Mail{To: "alice", Subject: "Hi", Text: "x"}, "to"},
		{"no text body", message.Mail{To: recipient, Subject: "Hi", HTML: "<p>x</p>"}, "text"},
	}
	for _, tc := range cases {
		err := m.SendMail(testContext(t), tc.mail)
		e := errs.As(err)
		if e == nil || e.Kind != errs.Invalid || len(e.Fields) != 1 || e.Fields[0].Field != tc.field {
			t.Errorf("%s: want Invalid on field %s, got %v", tc.name, tc.field, err)
		}
	}
	if n := srv.conns.Load(); n != 0 {
		t.Fatalf("the server saw %d connections, want none", n)
	}
}

func TestNewMailerRefuses(t *testing.T) {
	t.Parallel()
	cases := map[string]func(*smtp.Options){
		"no host":                      func(o *smtp.Options) { o.Host = "" },
		"host with CRLF":               func(o *smtp.Options) { o.Host = "smtp.example\r\n" },
		"clear text to a remote host":  func(o *smtp.Options) { o.Host, o.TLS = "smtp.example", tenant.SMTPNoTLS },
		"skip verify on a remote host": func(o *smtp.Options) { o.Host, o.InsecureSkipVerify = "smtp.example", true },
		"unknown mode":                 func(o *smtp.Options) { o.TLS = "ssl" },
		"no from":                      func(o *smtp.Options) { o.From = "" },
		"CRLF in from":                 func(o *smtp.Options) { o.From = "Shop <no-reply@shop.example>\r\nBcc: x@evil.example" },
		"encoded LF in from":           func(o *smtp.Options) { o.From = "=?utf-8?q?Shop=0ABcc=3A_x?= <no-reply@shop.example>" },
		"CRLF in reply-to":             func(o *smtp.Options) { o.ReplyTo = "help@shop.example\r\n" },
		"username without password":    func(o *smtp.Options) { o.Username = "shop" },
		"password without username":    func(o *smtp.Options) { o.Password = credential.New(password) },
		"bad port":                     func(o *smtp.Options) { o.Port = 70000 },
	}
	for name, edit := range cases {
		o := options(2525, tenant.SMTPStartTLS)
		edit(&o)
		if m, err := smtp.NewMailer(o); err == nil {
			t.Errorf("%s: accepted: %v", name, m)
		}
	}
	for _, host := range []string{"127.0.0.1", "localhost", "::1"} {
		o := options(2525, tenant.SMTPNoTLS)
		o.Host, o.InsecureSkipVerify = host, true
		if _, err := smtp.NewMailer(o); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
}

func TestPasswordNeverPrints(t *testing.T) {
	t.Parallel()
	o := options(2525, tenant.SMTPStartTLS)
	o.Username, o.Password = "shop", credential.New(password)
	m := newMailer(t, o)
	var out platformtest.LogBuffer
	fmt.Fprintf(&out, "%v %+v %#v %s\n", o, o, o, m)
	fmt.Fprintf(&out, "%v %+v %#v\n", m, m, *m)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("x", "options", o, "mailer", m)
	js, _ := json.Marshal(o)
	out.Write(js)
	checkNoSecrets(t, out.String(), password)
}

func checkPermanent(t *testing.T, err error, code int) *smtp.DeliveryError {
	t.Helper()
	var de *smtp.DeliveryError
	if !errors.As(err, &de) || !de.Permanent || de.Code != code || !errors.Is(err, smtp.ErrRejected) {
		t.Fatalf("want a permanent DeliveryError with code %d, got %v", code, err)
	}
	return de
}

func checkNoSecrets(t *testing.T, s, pw string) {
	t.Helper()
	for _, secret := range []string{password, pw, "alice@", "Réinitialisez", "token=abc"} {
		if secret != "" && strings.Contains(s, secret) {
			t.Fatalf("%q leaked into %s", secret, s)
		}
	}
}

func checkAddress(t *testing.T, h mail.Header, key, name, addr string) {
	t.Helper()
	a, err := mail.ParseAddress(h.Get(key))
	if err != nil || a.Name != name || a.Address != addr {
		t.Errorf("%s: %q parses as %+v (%v), want %q <%s>", key, h.Get(key), a, err, name, addr)
	}
}

// alternatives reads a multipart/alternative body into its parts by type.
func alternatives(t *testing.T, contentType string, body io.Reader) map[string]string {
	t.Helper()
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q (%v), want multipart/alternative", contentType, err)
	}
	out := map[string]string{}
	r := multipart.NewReader(body, params["boundary"])
	for {
		p, err := r.NextRawPart()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		out[pt] = decodeBody(t, p.Header.Get("Content-Transfer-Encoding"), p)
	}
}

func decodeBody(t *testing.T, encoding string, r io.Reader) string {
	t.Helper()
	if strings.EqualFold(encoding, "quoted-printable") {
		r = quotedprintable.NewReader(r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), "\r\n", "\n")
}
