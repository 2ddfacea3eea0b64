package e2e_test

import (
	"net/http"
	"regexp"
	"testing"
	"time"
)

// smsTexts waits for message number after+1 sent to the number through
// the dev outbox of the tenant at host and returns every text sent to it.
func smsTexts(t *testing.T, s *server, host, to string, after int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var got []string
		for _, m := range outbox(t, s, host) {
			if m.Kind == "sms" && m.To == to {
				got = append(got, m.Text)
			}
		}
		if len(got) > after {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("no SMS %d for %s in the outbox of %s after 5s", after+1, to, host)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSMSPolicyIsTheTenants: a tenant's code_length, max_attempts,
// resend_cooldown, daily_cap and message reach the codes and texts it
// sends.
func TestSMSPolicyIsTheTenants(t *testing.T) {
	t.Parallel()
	s := startSMS(t, nil, tenantSpec{ID: "local", Domains: []string{"localhost"},
		SMS: "  default_region: TR\n  code_length: 8\n  max_attempts: 2\n  resend_cooldown: 0s\n  daily_cap: 3\n" +
			"  message: '{{.Tenant}} code {{.Code}}, valid {{.Expires}}'\n"})
	phone := trPhone(7)
	registerPhoneAt(t, s, "localhost", phone)
	text := regexp.MustCompile(`^local code (\d{8}), valid 5 minutes$`)
	code := func(n int) string {
		t.Helper()
		texts := smsTexts(t, s, "localhost", phone, n)
		m := text.FindStringSubmatch(texts[n])
		if m == nil {
			t.Fatalf("SMS %d is %q, want the tenant's message with an 8-digit code", n+1, texts[n])
		}
		return m[1]
	}

	// No cooldown: two codes at once; the newer one counts.
	for i := range 2 {
		if r := smsSendAt(t, s, "localhost", phone); r.Status != http.StatusAccepted {
			t.Fatalf("send %d at once: %d %s", i+1, r.Status, r.Body)
		}
		code(i)
	}
	c := code(1)
	wantProblem(t, smsVerifyAt(t, s, "localhost", phone, c[:6]), http.StatusUnauthorized, "otp_invalid")
	wantSignedIn(t, s, "localhost", smsVerifyAt(t, s, "localhost", phone, c))

	// Two wrong codes kill the next challenge.
	if r := smsSendAt(t, s, "localhost", phone); r.Status != http.StatusAccepted {
		t.Fatalf("send 3: %d %s", r.Status, r.Body)
	}
	c = code(2)
	wrong := "00000000"
	if c == wrong {
		wrong = "00000001"
	}
	for range 2 {
		wantProblem(t, smsVerifyAt(t, s, "localhost", phone, wrong), http.StatusUnauthorized, "otp_invalid")
	}
	wantProblem(t, smsVerifyAt(t, s, "localhost", phone, c), http.StatusUnauthorized, "otp_attempts_exceeded")

	// The fourth code of the day is refused.
	r := smsSendAt(t, s, "localhost", phone)
	wantProblem(t, r, http.StatusTooManyRequests, "otp_daily_cap")
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}
