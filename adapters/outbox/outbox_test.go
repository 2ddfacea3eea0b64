package outbox_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/adapters/outbox"
	"github.com/portcullis/portcullis/domain/message"
)

func TestRecordsPerTenantAndLogsWithoutContent(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	box := outbox.New(slog.New(slog.NewTextHandler(&logs, nil)), 3)
	ctx := context.Background()
	_ = box.Mailer("a").SendMail(ctx, message.Mail{To: "x@a.example", Subject: "Your code", Text: "123456"})
	_ = box.SMS("a").SendSMS(ctx, message.SMS{To: "+15550100", Text: "654321"})
	_ = box.Mailer("b").SendMail(ctx, message.Mail{To: "y@b.example", Text: "other tenant"})

	got := box.Messages("a", "")
	if len(got) != 2 || got[0].Kind != outbox.KindMail || got[1].Kind != outbox.KindSMS || got[0].TenantID != "a" {
		t.Fatalf("tenant a: %+v", got)
	}
	if only := box.Messages("a", "+15550100"); len(only) != 1 || only[0].Text != "654321" {
		t.Fatalf("filter by recipient: %+v", only)
	}
	if len(box.Messages("b", "")) != 1 {
		t.Fatal("tenant b's message missing")
	}
	if n := strings.Count(logs.String(), "dev outbox: message recorded"); n != 3 {
		t.Fatalf("the log notes %d messages, want 3: %s", n, logs.String())
	}
	for range 5 {
		_ = box.SMS("a").SendSMS(ctx, message.SMS{To: "+1", Text: "n"})
	}
	for _, secret := range []string{"123456", "654321", "Your code", "x@a.example"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log holds %q: %s", secret, logs.String())
		}
	}
	if n := len(box.Messages("a", "")); n != 3 {
		t.Fatalf("capacity not enforced: %d", n)
	}
	box.Clear("a")
	if len(box.Messages("a", "")) != 0 {
		t.Fatal("clear")
	}
}
