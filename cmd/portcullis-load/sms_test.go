package main

import (
	"testing"
	"time"

	"github.com/portcullis/portcullis/domain/identity"
)

func TestSMSNumbersAreDistinctAcceptedE164(t *testing.T) {
	t.Parallel()
	nums := smsNumbers(maxSMSNumbers)
	seen := map[string]bool{}
	for i, n := range nums {
		if seen[n] {
			t.Fatalf("number %d (%s) repeats", i, n)
		}
		seen[n] = true
		if i%997 != 0 && i != len(nums)-1 {
			continue // the parser is slow: a sample across every area code
		}
		got, err := identity.NormalizePhone(n, "US", nil)
		if err != nil || got != n {
			t.Fatalf("%s: normalised to %q, %v; want itself (the outbox matches it exactly)", n, got, err)
		}
	}
}

func TestSMSCode(t *testing.T) {
	t.Parallel()
	body := []byte(`{"messages":[{"kind":"sms","text":"111111 is your Load harness sign-in code."},` +
		`{"kind":"mail","text":"999999"},{"kind":"sms","text":"042917 is your Load harness sign-in code. It expires in 5 minutes."}]}`)
	if got := smsCode(body); got != "042917" {
		t.Fatalf("smsCode = %q, want the newest SMS's code 042917", got)
	}
	for _, b := range []string{`{"messages":[]}`, `{"messages":[{"kind":"mail","text":"123456"}]}`, `not json`} {
		if got := smsCode([]byte(b)); got != "" {
			t.Fatalf("smsCode(%s) = %q, want none", b, got)
		}
	}
}

func TestSMSBudget(t *testing.T) {
	t.Parallel()
	// 40/s over 20 s and a 1 s warm-up, ×1.25, plus one in flight per worker.
	if got := smsBudget(40, 21*time.Second, 64); got != 1050+64 {
		t.Fatalf("smsBudget = %d, want %d", got, 1050+64)
	}
}

func TestSMSFiguresAndTarget(t *testing.T) {
	t.Parallel()
	from := time.Unix(1000, 0)
	s := sample{OK: 90, ServerKnown: true, ServerCPUWindow: 150 * time.Millisecond, From: from, End: from.Add(5 * time.Second)}
	var f PhaseFigures
	f.setSMS(s, 100, 120, 390, 150, false)
	if f.ServerCPUPerLoginMS == nil || *f.ServerCPUPerLoginMS != 1.5 || f.SMSWindowRate != 20 || *f.RequestsPerLogin != 3.25 || *f.OutboxReadsPerLogin != 1.25 {
		t.Fatalf("figures: %+v", f)
	}
	f.judgeSMS()
	if f.Verdict != "pass" {
		t.Fatalf("1.5 ms per login, no errors: %s %v", f.Verdict, f.Misses)
	}
	g := PhaseFigures{ErrorsTotal: 1}
	g.setSMS(sample{ServerKnown: true, ServerCPUWindow: time.Second, From: from, End: from.Add(time.Second)}, 100, 100, 300, 100, true)
	g.judgeSMS()
	if g.Verdict != "miss" || len(g.Misses) != 2 || !g.SMSNumbersRanOut {
		t.Fatalf("10 ms per login and an error: %s %v", g.Verdict, g.Misses)
	}
}
