package courier_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/courier"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/domain/message"
)

// composer writes a mail holding the link, as a template would.
type composer struct{ calls int }

func (c *composer) Compose(kind message.MailKind, to string, d message.MailData) (message.Mail, error) {
	c.calls++
	if d.Link == "" {
		return message.Mail{}, errors.New("the kind needs a link")
	}
	return message.Mail{To: to, Subject: string(kind), Text: "open " + d.Link}, nil
}

// mailer records what it is handed and fails while fail is set.
type mailer struct {
	mu       sync.Mutex
	fail     error
	sent     []message.Mail
	deadline time.Time
}

func (m *mailer) SendMail(ctx context.Context, mail message.Mail) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.deadline, _ = ctx.Deadline()
	if m.fail != nil {
		return m.fail
	}
	m.sent = append(m.sent, mail)
	return nil
}

func TestSendDeliversInTheBackgroundUntilTheDeadline(t *testing.T) {
	t.Parallel()
	comp, mail := &composer{}, &mailer{}
	c := courier.New("shop", comp, mail, nil)
	ctx, cancel := context.WithCancel(context.Background())
	deadline := time.Now().Add(30 * time.Minute)
	if err := c.Send(ctx, message.MailPasswordReset, "ann@example.com", message.MailData{Link: "https://shop.example/r?token=t"}, deadline); err != nil {
		t.Fatal(err)
	}
	cancel() // the request has been answered: delivery goes on
	if err := c.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(mail.sent) != 1 || mail.sent[0].To != "ann@example.com" || !strings.Contains(mail.sent[0].Text, "token=t") {
		t.Fatalf("sent %+v", mail.sent)
	}
	if !mail.deadline.Equal(deadline) {
		t.Fatalf("the mailer's deadline is %v, want the secret's %v", mail.deadline, deadline)
	}
}

func TestAMailThatCannotBeComposedIsNotSent(t *testing.T) {
	t.Parallel()
	mail := &mailer{}
	c := courier.New("shop", &composer{}, mail, nil)
	if err := c.Send(context.Background(), message.MailMagicLink, "ann@example.com", message.MailData{}, time.Now().Add(time.Hour)); err == nil {
		t.Fatal("a mail without its link was accepted")
	}
	_ = c.Wait(context.Background())
	if len(mail.sent) != 0 {
		t.Fatalf("sent %+v", mail.sent)
	}
}

func TestAnUndeliveredMailIsLoggedUnderTheRequestWithoutItsContent(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	mail := &mailer{fail: errors.New("smtp: 554 rejected")}
	c := courier.New("shop", &composer{}, mail, slog.New(slog.NewTextHandler(&logs, nil)))
	ctx := platform.WithRequestID(context.Background(), "req-42")
	if err := c.Send(ctx, message.MailPasswordReset, "ann@example.com", message.MailData{Link: "https://shop.example/r?token=secret-token"}, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	_ = c.Wait(context.Background())
	out := logs.String()
	for _, want := range []string{"mail not delivered", "request_id=req-42", "tenant=shop", "kind=password_reset", "to_domain=example.com", "554"} {
		if !strings.Contains(out, want) {
			t.Errorf("log %q lacks %q", out, want)
		}
	}
	for _, secret := range []string{"secret-token", "ann@"} {
		if strings.Contains(out, secret) {
			t.Errorf("log %q holds %q", out, secret)
		}
	}
}

func TestLaterRunsAfterTheRequestAndLogsItsError(t *testing.T) {
	t.Parallel()
	comp, mail := &composer{}, &mailer{}
	var log bytes.Buffer
	c := courier.New("shop", comp, mail, slog.New(slog.NewTextHandler(&log, nil)))
	ctx, cancel := context.WithCancel(platform.WithRequestID(context.Background(), "req-7"))
	release := make(chan struct{})
	deadline := time.Now().Add(time.Minute)
	var sawDeadline time.Time
	c.Later(ctx, deadline, "password reset", func(ctx context.Context) error {
		<-release
		sawDeadline, _ = ctx.Deadline()
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := c.Send(ctx, message.MailPasswordReset, "ann@example.com", message.MailData{Link: "https://shop.example/r?token=t"}, deadline); err != nil {
			return err
		}
		return errors.New("store: unavailable")
	})
	cancel() // the request has been answered before f ran
	close(release)
	if err := c.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !sawDeadline.Equal(deadline) {
		t.Errorf("f ran with deadline %v, want %v", sawDeadline, deadline)
	}
	if len(mail.sent) != 1 {
		t.Fatalf("%d mails sent from within Later, want 1 (Wait must cover them)", len(mail.sent))
	}
	out := log.String()
	for _, want := range []string{"mail request failed", "flow=\"password reset\"", "request_id=req-7", "store: unavailable", "tenant=shop"} {
		if !strings.Contains(out, want) {
			t.Errorf("log %q lacks %q", out, want)
		}
	}
}
