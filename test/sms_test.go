package e2e_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// SMS code login (issue 8) on the demo tenant: dev mode, codes in the dev
// outbox, region TR.

var smsCode = regexp.MustCompile(`\b(\d{6})\b`)

// smsCodeFor waits for a code sent to the number and returns the newest.
func smsCodeFor(t *testing.T, s *server, to string, after int) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var got []string
		for _, m := range outbox(t, s, "localhost") {
			if m.Kind == "sms" && m.To == to {
				if c := smsCode.FindStringSubmatch(m.Text); c != nil {
					got = append(got, c[1])
				}
			}
		}
		if len(got) > after {
			return got[len(got)-1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no SMS code %d for %s in the outbox after 5s", after+1, to)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func smsCount(t *testing.T, s *server, to string) int {
	t.Helper()
	n := 0
	for _, m := range outbox(t, s, "localhost") {
		if m.Kind == "sms" && m.To == to {
			n++
		}
	}
	return n
}

func registerWithPhone(t *testing.T, s *server, a account, phone string) {
	t.Helper()
	body := registerBody(a)
	body["phone"] = phone
	if r := s.do(t, http.MethodPost, "/auth/v1/register", withHost("localhost"), withJSON(body)); r.Status != http.StatusAccepted {
		t.Fatalf("register with phone %s: %d %s", phone, r.Status, r.Body)
	}
}

func TestSMSLoginOnTheCanonicalAPI(t *testing.T) {
	t.Parallel()
	s := start(t, options{})
	a := newAccount("sms")
	registerWithPhone(t, s, a, "0535 555 55 55") // national form, region TR
	post := func(path string, body any) reply {
		return s.do(t, http.MethodPost, path, withHost("localhost"), withJSON(body))
	}

	known := post("/auth/v1/sms/send", map[string]any{"phone": "+90 535 555 55 55"})
	unknown := post("/auth/v1/sms/send", map[string]any{"phone": "+90 535 000 00 01"})
	if known.Status != http.StatusAccepted || unknown.Status != http.StatusAccepted || string(known.Body) != string(unknown.Body) {
		t.Fatalf("send answers differ: known %d %s, unknown %d %s", known.Status, known.Body, unknown.Status, unknown.Body)
	}
	code := smsCodeFor(t, s, "+905355555555", 0)
	time.Sleep(200 * time.Millisecond)
	if n := smsCount(t, s, "+905350000001"); n != 0 {
		t.Fatalf("%d SMS went to a number without an account", n)
	}

	r := post("/auth/v1/sms/verify", map[string]any{"phone": "5355555555", "code": code, "session": "app"})
	if r.Status != http.StatusOK {
		t.Fatalf("verify: %d %s", r.Status, r.Body)
	}
	var ans loginAnswer
	if err := json.Unmarshal(r.Body, &ans); err != nil || ans.AppToken == "" || ans.User.Email != a.Email {
		t.Fatalf("verify answer: %s", r.Body)
	}
	if !strings.Contains(string(r.Body), `"amr":["sms"]`) || !strings.Contains(string(r.Body), `"phone_verified":true`) {
		t.Errorf("session amr is not [\"sms\"] or the number is not verified: %s", r.Body)
	}
	if r := me(t, s, "localhost", withAppToken(ans.AppToken)); r.Status != http.StatusOK {
		t.Fatalf("me with the SMS login's token: %d %s", r.Status, r.Body)
	}
	wantProblem(t, post("/auth/v1/sms/verify", map[string]any{"phone": "+905355555555", "code": code}), http.StatusUnauthorized, "otp_expired")

	// A second code at once is refused with Retry-After, for every number alike.
	for _, phone := range []string{"+905355555555", "+905350000001"} {
		r := post("/auth/v1/sms/send", map[string]any{"phone": phone})
		wantProblem(t, r, http.StatusTooManyRequests, "otp_cooldown")
		if r.Header.Get("Retry-After") == "" {
			t.Errorf("%s: 429 without Retry-After", phone)
		}
	}
	// Bad input names the field.
	for _, body := range []map[string]any{{"phone": ""}, {"phone": "12"}, {"phone": "+90 212 555 55 55"}} {
		r := post("/auth/v1/sms/send", body)
		wantProblem(t, r, http.StatusBadRequest, "invalid_request")
		var p struct {
			Errors []struct{ Field string } `json:"errors"`
		}
		if err := json.Unmarshal(r.Body, &p); err != nil || len(p.Errors) == 0 || p.Errors[0].Field != "phone" {
			t.Errorf("send %v: %s, want an error on the phone field", body, r.Body)
		}
	}
}

func TestSMSCodeBruteForceStopsAtTheLimit(t *testing.T) {
	t.Parallel()
	s := start(t, options{})
	registerWithPhone(t, s, newAccount("brute"), "+905356666666")
	post := func(path string, body any) reply {
		return s.do(t, http.MethodPost, path, withHost("localhost"), withJSON(body))
	}
	if r := post("/auth/v1/sms/send", map[string]any{"phone": "+905356666666"}); r.Status != http.StatusAccepted {
		t.Fatalf("send: %d %s", r.Status, r.Body)
	}
	code := smsCodeFor(t, s, "+905356666666", 0)
	wrong := "000000"
	if code == wrong {
		wrong = "000001"
	}
	for range 5 {
		wantProblem(t, post("/auth/v1/sms/verify", map[string]any{"phone": "+905356666666", "code": wrong}), http.StatusUnauthorized, "otp_invalid")
	}
	wantProblem(t, post("/auth/v1/sms/verify", map[string]any{"phone": "+905356666666", "code": code}), http.StatusUnauthorized, "otp_attempts_exceeded")
}

func TestSeed000SMSLogin(t *testing.T) {
	t.Parallel()
	s := start(t, options{})
	registerWithPhone(t, s, newAccount("seed000sms"), "+905357777777")
	post := func(body map[string]any) reply {
		return s.do(t, http.MethodPost, "/users/login/sms/", withHost("localhost"), withJSON(body))
	}
	r := post(map[string]any{"phone": "05357777777"})
	if r.Status != http.StatusOK || len(r.Body) != 0 {
		t.Fatalf("step 1: %d %q, want 200 with an empty body", r.Status, r.Body)
	}
	code := smsCodeFor(t, s, "+905357777777", 0)

	for _, tc := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"no active user with this phone", map[string]any{"phone": "05350000002"}, "phone"},
		{"invalid format", map[string]any{"phone": "not a number"}, "phone"},
		{"code shorter than 4 characters", map[string]any{"phone": "05357777777", "code": "12"}, "code"},
		{"incorrect code", map[string]any{"phone": "05357777777", "code": "000000"}, "code"},
	} {
		if tc.name == "incorrect code" && code == "000000" {
			tc.body["code"] = "000001"
		}
		r := post(tc.body)
		m := map[string]any{}
		_ = json.Unmarshal(r.Body, &m)
		if r.Status != http.StatusBadRequest || m[tc.field] == nil {
			t.Errorf("%s: %d %s, want 400 with %q", tc.name, r.Status, r.Body, tc.field)
		}
	}
	// A form body works as well as JSON, and next is kept when allowed.
	form := s.do(t, http.MethodPost, "/users/login/sms/?next=/dashboard/", withHost("localhost"),
		bodyOf("application/x-www-form-urlencoded", "phone=%2B905357777777&code="+code))
	if form.Status != http.StatusOK {
		t.Fatalf("step 2: %d %s", form.Status, form.Body)
	}
	var ans struct {
		Key  string `json:"key"`
		Next any    `json:"next"`
	}
	if err := json.Unmarshal(form.Body, &ans); err != nil || len(ans.Key) != 40 || ans.Next != "/dashboard/" {
		t.Fatalf("step 2 answer: %s", form.Body)
	}
	if r := me(t, s, "localhost", withAppToken(ans.Key)); r.Status != http.StatusOK {
		t.Fatalf("me with the key: %d %s", r.Status, r.Body)
	}
	// The code was used: a second login with it is "expired".
	r = post(map[string]any{"phone": "05357777777", "code": code})
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "expired") {
		t.Fatalf("the used code: %d %s", r.Status, r.Body)
	}
}
