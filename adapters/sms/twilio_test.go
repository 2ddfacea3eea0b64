package sms_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/adapters/sms"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/message"
)

const (
	accountSID = "AC00000000000000000000000000000001"
	authToken  = "tok-5ecret-d0-not-print"
	fromNumber = "+15005550006"
	code       = "Your code is 913572"
)

// request is what the fake provider received.
type request struct {
	method, path, user, pass, contentType string
	form                                  url.Values
}

// provider is a local server of the Twilio Messages API shape whose
// answers are scripted per request; past the script it accepts.
type provider struct {
	*httptest.Server
	mu     sync.Mutex
	got    []request
	script []func(w http.ResponseWriter, r *http.Request)
}

func newProvider(t *testing.T, script ...func(w http.ResponseWriter, r *http.Request)) *provider {
	t.Helper()
	p := &provider{script: script}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		_ = r.ParseForm()
		p.mu.Lock()
		n := len(p.got)
		p.got = append(p.got, request{method: r.Method, path: r.URL.Path, user: user, pass: pass, contentType: r.Header.Get("Content-Type"), form: r.PostForm})
		p.mu.Unlock()
		if n < len(p.script) {
			p.script[n](w, r)
			return
		}
		accepted(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *provider) requests() []request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]request(nil), p.got...)
}

func accepted(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = fmt.Fprintf(w, `{"sid":"SM1","status":"queued","to":%q}`, r.PostForm.Get("To"))
}

func providerError(status, code int, msg string, header ...string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg, "more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code), "status": status})
	}
}

// hang answers only when the client gives up or the test ends.
func hang(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

func newSender(t *testing.T, p *provider, edit func(*sms.Options)) *sms.Twilio {
	t.Helper()
	o := sms.Options{
		BaseURL: p.URL, AccountSID: accountSID, AuthToken: sms.NewSecret(authToken), From: fromNumber,
		AttemptTimeout: 2 * time.Second, MaxElapsed: 5 * time.Second, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
	}
	if edit != nil {
		edit(&o)
	}
	s, err := sms.NewTwilio(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func send(s *sms.Twilio, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.SendSMS(ctx, message.SMS{To: "+15551234567", Text: code})
}

func checkRequest(t *testing.T, r request) {
	t.Helper()
	if r.method != http.MethodPost || r.path != "/2010-04-01/Accounts/"+accountSID+"/Messages.json" {
		t.Errorf("request %s %s", r.method, r.path)
	}
	if r.user != accountSID || r.pass != authToken {
		t.Errorf("basic auth %q:%q", r.user, r.pass)
	}
	if r.contentType != "application/x-www-form-urlencoded" {
		t.Errorf("content type %q", r.contentType)
	}
	if r.form.Get("To") != "+15551234567" || r.form.Get("Body") != code {
		t.Errorf("form %v", r.form)
	}
}

func checkNoSecrets(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range []string{authToken, "913572"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains %q", err, s)
		}
	}
}

func TestSendSuccess(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	if err := send(newSender(t, p, nil), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	got := p.requests()
	if len(got) != 1 {
		t.Fatalf("%d requests", len(got))
	}
	checkRequest(t, got[0])
	if got[0].form.Get("From") != fromNumber || got[0].form.Has("MessagingServiceSid") {
		t.Fatalf("sender fields %v", got[0].form)
	}
}

func TestMessagingServiceInsteadOfFrom(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	s := newSender(t, p, func(o *sms.Options) { o.From, o.MessagingServiceSID = "", "MG00000000000000000000000000000002" })
	if err := send(s, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	got := p.requests()
	checkRequest(t, got[0])
	if got[0].form.Get("MessagingServiceSid") != "MG00000000000000000000000000000002" || got[0].form.Has("From") {
		t.Fatalf("sender fields %v", got[0].form)
	}
}

func TestRetriesServerErrorThenDeliversOnce(t *testing.T) {
	t.Parallel()
	p := newProvider(t, providerError(500, 20500, "Internal Server Error"))
	if err := send(newSender(t, p, nil), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	got := p.requests()
	if len(got) != 2 {
		t.Fatalf("want 2 requests (500, then success), got %d", len(got))
	}
	for _, r := range got {
		checkRequest(t, r)
	}
}

func TestHonoursRetryAfterOn429(t *testing.T) {
	t.Parallel()
	p := newProvider(t, providerError(429, 20429, "Too Many Requests", "Retry-After", "1"))
	start := time.Now()
	if err := send(newSender(t, p, nil), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < time.Second {
		t.Fatalf("retried after %s, before the provider's Retry-After of 1s", d)
	}
	if n := len(p.requests()); n != 2 {
		t.Fatalf("%d requests", n)
	}
}

func TestRetryAfterBeyondBudgetGivesUpAtOnce(t *testing.T) {
	t.Parallel()
	p := newProvider(t, providerError(429, 20429, "Too Many Requests", "Retry-After", "30"))
	start := time.Now()
	err := send(newSender(t, p, nil), 5*time.Second)
	e := errs.As(err)
	if !errors.Is(err, errs.ErrUnavailable) || e.RetryAfter != 30 {
		t.Fatalf("want unavailable with Retry-After 30, got %v (retry after %d)", err, e.RetryAfter)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("waited %s for a retry that could not happen in time", d)
	}
	if n := len(p.requests()); n != 1 {
		t.Fatalf("%d requests", n)
	}
}

func TestInvalidNumberIsAFieldError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		code   int
		reason string
	}{
		{21211, "is not a valid phone number"},
		{21614, "is not a mobile number"},
		{21408, "region"},
		{21610, "opted out"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			t.Parallel()
			// An API that echoes the request must not leak the code through us.
			p := newProvider(t, providerError(400, tc.code, "The 'To' number +15551234567 is not valid for: "+code))
			err := send(newSender(t, p, nil), 5*time.Second)
			e := errs.As(err)
			if e.Kind != errs.Invalid || len(e.Fields) != 1 || e.Fields[0].Field != "phone" || !strings.Contains(e.Fields[0].Reason, tc.reason) {
				t.Fatalf("want invalid field phone (%s), got %v", tc.reason, err)
			}
			if n := len(p.requests()); n != 1 {
				t.Fatalf("an invalid number must not be retried: %d requests", n)
			}
			checkNoSecrets(t, err)
		})
	}
}

func TestHangPastAttemptTimeoutIsBounded(t *testing.T) {
	t.Parallel()
	p := newProvider(t, hang, hang, hang, hang, hang, hang, hang, hang, hang, hang)
	s := newSender(t, p, func(o *sms.Options) { o.AttemptTimeout = 100 * time.Millisecond })
	start := time.Now()
	err := send(s, 600*time.Millisecond)
	elapsed := time.Since(start)
	if !errors.Is(err, errs.ErrUnavailable) || errs.RetryAfter(errs.As(err)) <= 0 {
		t.Fatalf("want unavailable with a Retry-After, got %v", err)
	}
	if elapsed > 800*time.Millisecond {
		t.Fatalf("answered after %s, past the context's 600ms", elapsed)
	}
	if n := len(p.requests()); n < 2 {
		t.Fatalf("a hung attempt must be abandoned and retried: %d requests", n)
	}
	checkNoSecrets(t, err)
}

func TestMaxElapsedBoundsRetries(t *testing.T) {
	t.Parallel()
	fail := providerError(503, 20503, "Service Unavailable")
	p := newProvider(t, fail, fail, fail, fail, fail, fail, fail, fail, fail, fail, fail, fail, fail, fail, fail, fail, fail, fail, fail, fail)
	s := newSender(t, p, func(o *sms.Options) { o.MaxElapsed = 200 * time.Millisecond })
	start := time.Now()
	err := send(s, 10*time.Second)
	if !errors.Is(err, errs.ErrUnavailable) {
		t.Fatalf("want unavailable, got %v", err)
	}
	if d := time.Since(start); d > 400*time.Millisecond {
		t.Fatalf("retried for %s, past MaxElapsed", d)
	}
	if n := len(p.requests()); n < 2 {
		t.Fatalf("%d requests", n)
	}
}

func TestAuthFailureIsUnavailableAndLoggedWithoutSecrets(t *testing.T) {
	t.Parallel()
	p := newProvider(t, providerError(401, 20003, "Authenticate"))
	var logs bytes.Buffer
	s := newSender(t, p, func(o *sms.Options) { o.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	err := send(s, 5*time.Second)
	if !errors.Is(err, errs.ErrUnavailable) || errs.As(err).RetryAfter <= 0 {
		t.Fatalf("want unavailable with Retry-After, got %v", err)
	}
	if n := len(p.requests()); n != 1 {
		t.Fatalf("rejected credentials must not be retried: %d requests", n)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "sms.provider") {
		t.Fatalf("misconfiguration not logged as an error naming the setting: %s", logs.String())
	}
	checkNoSecrets(t, err)
	for _, s := range []string{authToken, "913572"} {
		if strings.Contains(logs.String(), s) {
			t.Fatalf("log contains %q: %s", s, logs.String())
		}
	}
}

func TestTokenNeverPrinted(t *testing.T) {
	t.Parallel()
	o := sms.Options{BaseURL: "https://sms.example", AccountSID: accountSID, AuthToken: sms.NewSecret(authToken), From: fromNumber}
	s, err := sms.NewTwilio(o)
	if err != nil {
		t.Fatal(err)
	}
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("options", "options", o, "sender", s, "token", o.AuthToken)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("options", "options", o, "sender", s, "token", o.AuthToken)
	marshalled, _ := json.Marshal(o)
	printed := []string{
		text.String(), js.String(), string(marshalled),
		fmt.Sprintf("%v %+v %#v %s %d %x %q", o, o, o, o.AuthToken, o.AuthToken, o.AuthToken, o.AuthToken),
		fmt.Sprintf("%v %+v %#v %s", s, s, s, s),
	}
	for _, out := range printed {
		if strings.Contains(out, authToken) {
			t.Fatalf("token printed: %s", out)
		}
	}
	if !strings.Contains(text.String(), "***") || !strings.Contains(js.String(), `"auth_token":"***"`) {
		t.Fatalf("token not masked as ***: %s %s", text.String(), js.String())
	}
	if o.AuthToken.Reveal() != authToken {
		t.Fatal("Reveal must return the token")
	}
}

func TestOptionsAreChecked(t *testing.T) {
	t.Parallel()
	base := sms.Options{AccountSID: accountSID, AuthToken: sms.NewSecret(authToken), From: fromNumber}
	cases := []struct {
		name string
		edit func(*sms.Options)
	}{
		{"no account", func(o *sms.Options) { o.AccountSID = "" }},
		{"account with slash", func(o *sms.Options) { o.AccountSID = "AC1/../x" }},
		{"no token", func(o *sms.Options) { o.AuthToken = sms.Secret{} }},
		{"neither sender", func(o *sms.Options) { o.From = "" }},
		{"both senders", func(o *sms.Options) { o.MessagingServiceSID = "MG1" }},
		{"base url with credentials", func(o *sms.Options) { o.BaseURL = "https://u:p@sms.example" }},
		{"base url not http", func(o *sms.Options) { o.BaseURL = "ftp://sms.example" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := base
			tc.edit(&o)
			s, err := sms.NewTwilio(o)
			if err == nil {
				t.Fatalf("accepted %+v", o)
			}
			if strings.Contains(err.Error(), authToken) || s != nil {
				t.Fatalf("error %v, sender %v", err, s)
			}
		})
	}
	if _, err := sms.NewTwilio(base); err != nil {
		t.Fatalf("default base URL: %v", err)
	}
}
