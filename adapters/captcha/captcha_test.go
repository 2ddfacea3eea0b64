package captcha_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/adapters/captcha"
	"github.com/portcullis/portcullis/adapters/credential"
	port "github.com/portcullis/portcullis/application/captcha"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/tenant"
)

const (
	secret  = "s3cret-0x4AAAAAAA-never-shown"
	siteKey = "site-key-1"
	token   = "tok-P1_eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9-solved"
)

var clientIP = netip.MustParseAddr("::ffff:203.0.113.7") // sent as 203.0.113.7

// provider is one siteverify shape: how its verifier is built and what
// its success answer looks like.
type provider struct {
	kind    tenant.CaptchaProvider
	build   func(captcha.Options) (port.Verifier, error)
	success string
}

var providers = []provider{
	{tenant.CaptchaRecaptchaV2, func(o captcha.Options) (port.Verifier, error) { return captcha.NewRecaptchaV2(o) },
		`{"success": true, "challenge_ts": "2026-01-02T03:04:05Z", "hostname": "shop.example"}`},
	{tenant.CaptchaRecaptchaV3, func(o captcha.Options) (port.Verifier, error) { return captcha.NewRecaptchaV3(o) },
		`{"success": true, "challenge_ts": "2026-01-02T03:04:05Z", "hostname": "shop.example", "score": 0.9, "action": "login"}`},
	{tenant.CaptchaHCaptcha, func(o captcha.Options) (port.Verifier, error) { return captcha.NewHCaptcha(o) },
		`{"success": true, "challenge_ts": "2026-01-02T03:04:05Z", "hostname": "shop.example", "credit": false}`},
	{tenant.CaptchaTurnstile, func(o captcha.Options) (port.Verifier, error) { return captcha.NewTurnstile(o) },
		`{"success": true, "challenge_ts": "2026-01-02T03:04:05.678Z", "hostname": "shop.example", "error-codes": [], "action": "login", "cdata": ""}`},
}

// siteverify is a local server speaking a provider's siteverify: it
// records every request's form and answers with status and body.
type siteverify struct {
	*httptest.Server
	mu     sync.Mutex
	forms  []url.Values
	status int
	body   string
	delay  time.Duration
}

func newSiteverify(t *testing.T, status int, body string) *siteverify {
	t.Helper()
	s := &siteverify{status: status, body: body}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			http.Error(w, "want a form POST", http.StatusMethodNotAllowed)
			return
		}
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.forms = append(s.forms, r.PostForm)
		s.mu.Unlock()
		if s.delay > 0 {
			select {
			case <-time.After(s.delay):
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(s.status)
		_, _ = io.WriteString(w, s.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *siteverify) requests() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]url.Values(nil), s.forms...)
}

func options(url string) captcha.Options {
	return captcha.Options{SiteKey: siteKey, Secret: credential.New(secret), MinScore: 0.5, Action: "login", Timeout: 2 * time.Second,
		VerifyURL: url + "/siteverify"}
}

// outcome is what a call must end in: a Result (want nil), or an error
// matching want, and for ErrCaptchaUnavailable whether the cause is a
// misconfiguration.
func checkOutcome(t *testing.T, res port.Result, err, want error, misconfigured bool) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("refused: %v", err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("error %v, want %v", err, want)
	case want != nil && errors.Is(err, port.ErrMisconfigured) != misconfigured:
		t.Fatalf("error %v: misconfigured %v, want %v", err, errors.Is(err, port.ErrMisconfigured), misconfigured)
	case want != nil && res != (port.Result{}):
		t.Fatalf("a refusal with a result %+v", res)
	}
	if err != nil {
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), token) {
			t.Fatalf("the error carries the secret or the token: %v", err)
		}
		wantKind := map[error]errs.Kind{port.ErrCaptchaRequired: errs.Invalid, port.ErrCaptchaInvalid: errs.Invalid, port.ErrCaptchaUnavailable: errs.Unavailable}[want]
		if k := errs.KindOf(err); k != wantKind {
			t.Fatalf("kind %s, want %s", k, wantKind)
		}
	}
}

// TestEveryProviderShape runs the outcomes every provider shares against
// a local server speaking its siteverify.
func TestEveryProviderShape(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name          string
		status        int
		body          string // "" is the provider's success answer
		edit          func(*captcha.Options)
		delay         time.Duration
		want          error
		misconfigured bool
	}{
		{name: "success", status: 200},
		{name: "success on an allowed host name", status: 200, edit: func(o *captcha.Options) { o.Hostnames = []string{"www.shop.example", "Shop.Example."} }},
		{name: "failure with error codes", status: 200, body: `{"success": false, "error-codes": ["invalid-input-response"]}`, want: port.ErrCaptchaInvalid},
		{name: "expired or duplicate", status: 200, body: `{"success": false, "error-codes": ["timeout-or-duplicate"]}`, want: port.ErrCaptchaInvalid},
		{name: "failure without codes", status: 200, body: `{"success": false}`, want: port.ErrCaptchaInvalid},
		{name: "an internal error of the provider is an answer", status: 200, body: `{"success": false, "error-codes": ["internal-error"]}`, want: port.ErrCaptchaInvalid},
		{name: "wrong secret", status: 200, body: `{"success": false, "error-codes": ["invalid-input-secret"]}`, want: port.ErrCaptchaUnavailable, misconfigured: true},
		{name: "site key of another secret", status: 200, body: `{"success": false, "error-codes": ["sitekey-secret-mismatch"]}`, want: port.ErrCaptchaUnavailable, misconfigured: true},
		{name: "wrong host name", status: 200, edit: func(o *captcha.Options) { o.Hostnames = []string{"other.example"} }, want: port.ErrCaptchaInvalid},
		{name: "no host name when host names are set", status: 200, body: `{"success": true, "score": 0.9, "action": "login"}`,
			edit: func(o *captcha.Options) { o.Hostnames = []string{"shop.example"} }, want: port.ErrCaptchaInvalid},
		{name: "slow: no answer within the timeout", status: 200, delay: 3 * time.Second, edit: func(o *captcha.Options) { o.Timeout = 150 * time.Millisecond },
			want: port.ErrCaptchaUnavailable},
		{name: "500", status: 500, body: `{"success": false}`, want: port.ErrCaptchaUnavailable},
		{name: "503 without body", status: 503, body: " ", want: port.ErrCaptchaUnavailable},
		{name: "429", status: 429, body: "slow down", want: port.ErrCaptchaUnavailable},
		{name: "garbage", status: 200, body: "<html>gateway</html>", want: port.ErrCaptchaUnavailable},
		{name: "JSON that is no answer", status: 200, body: `{"ok": true}`, want: port.ErrCaptchaUnavailable},
		{name: "answer over 64 KiB", status: 200, body: `{"success": true, "hostname": "` + strings.Repeat("a", 65<<10) + `"}`, want: port.ErrCaptchaUnavailable},
		{name: "400 with an answer", status: 400, body: `{"success": false, "error-codes": ["bad-request"]}`, want: port.ErrCaptchaInvalid},
		{name: "413 without an answer", status: 413, body: "too large", want: port.ErrCaptchaInvalid},
		{name: "404: a wrong verify URL", status: 404, body: "not found", want: port.ErrCaptchaUnavailable, misconfigured: true},
	}
	for _, p := range providers {
		for _, tc := range cases {
			t.Run(string(p.kind)+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				body := tc.body
				if body == "" {
					body = p.success
				}
				srv := newSiteverify(t, tc.status, body)
				srv.delay = tc.delay
				o := options(srv.URL)
				if tc.edit != nil {
					tc.edit(&o)
				}
				v, err := p.build(o)
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				res, err := v.Verify(context.Background(), port.Token{Response: token, RemoteIP: clientIP})
				checkOutcome(t, res, err, tc.want, tc.misconfigured)
				if tc.delay > 0 && time.Since(start) > time.Second {
					t.Fatalf("gave up after %s, timeout 150ms", time.Since(start))
				}
				if tc.want == nil {
					want := port.Result{Hostname: "shop.example", ChallengeTS: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
					switch p.kind {
					case tenant.CaptchaRecaptchaV3:
						want.Score, want.Action = 0.9, "login"
					case tenant.CaptchaTurnstile:
						want.Action, want.ChallengeTS = "login", want.ChallengeTS.Add(678*time.Millisecond)
					}
					if !res.ChallengeTS.Equal(want.ChallengeTS) || res.Hostname != want.Hostname || res.Score != want.Score || res.Action != want.Action {
						t.Fatalf("result %+v, want %+v", res, want)
					}
				}
				// Every request sent the secret, the token and the client's
				// address, once: no retry.
				reqs := srv.requests()
				if len(reqs) != 1 {
					t.Fatalf("%d requests, want 1", len(reqs))
				}
				f := reqs[0]
				if f.Get("secret") != secret || f.Get("response") != token || f.Get("remoteip") != "203.0.113.7" {
					t.Fatalf("form %v", f)
				}
				if got, want := f.Get("sitekey"), map[bool]string{true: siteKey}[p.kind == tenant.CaptchaHCaptcha]; got != want {
					t.Fatalf("sitekey %q, want %q (hCaptcha only)", got, want)
				}
			})
		}
	}
}

func TestRecaptchaV3ScoreAndAction(t *testing.T) {
	t.Parallel()
	answer := func(score, action string) string {
		return `{"success": true, "challenge_ts": "2026-01-02T03:04:05Z", "hostname": "shop.example", "score": ` + score + `, "action": "` + action + `"}`
	}
	cases := []struct {
		name          string
		body          string
		minScore      float64
		tokenAction   string
		want          error
		misconfigured bool
	}{
		{"score above the threshold", answer("0.7", "login"), 0.5, "", nil, false},
		{"score at the threshold", answer("0.5", "login"), 0.5, "", nil, false},
		{"low score", answer("0.3", "login"), 0.5, "", port.ErrCaptchaInvalid, false},
		{"a tenant's own threshold", answer("0.7", "login"), 0.8, "", port.ErrCaptchaInvalid, false},
		{"threshold 0 takes every score", answer("0.0", "login"), 0, "", nil, false},
		{"wrong action", answer("0.9", "register"), 0.5, "", port.ErrCaptchaInvalid, false},
		{"action of the token", answer("0.9", "register"), 0.5, "register", nil, false},
		{"action of the token, wrong", answer("0.9", "login"), 0.5, "register", port.ErrCaptchaInvalid, false},
		{"no score: v2 keys", `{"success": true, "hostname": "shop.example"}`, 0.5, "", port.ErrCaptchaUnavailable, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newSiteverify(t, 200, tc.body)
			o := options(srv.URL)
			o.MinScore = tc.minScore
			v, err := captcha.NewRecaptchaV3(o)
			if err != nil {
				t.Fatal(err)
			}
			res, err := v.Verify(context.Background(), port.Token{Response: token, Action: tc.tokenAction})
			checkOutcome(t, res, err, tc.want, tc.misconfigured)
		})
	}
	if _, err := captcha.NewRecaptchaV3(captcha.Options{Secret: credential.New(secret), MinScore: 1.5}); err == nil {
		t.Fatal("a threshold above 1 was accepted")
	}
}

func TestTurnstileChecksTheActionWhenAsked(t *testing.T) {
	t.Parallel()
	srv := newSiteverify(t, 200, providers[3].success) // action "login"
	v, err := captcha.NewTurnstile(options(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	for action, want := range map[string]error{"": nil, "login": nil, "register": port.ErrCaptchaInvalid} {
		res, err := v.Verify(context.Background(), port.Token{Response: token, Action: action})
		checkOutcome(t, res, err, want, false)
	}
}

func TestNoTokenIsRequiredWithoutAskingTheProvider(t *testing.T) {
	t.Parallel()
	for _, p := range providers {
		srv := newSiteverify(t, 200, p.success)
		v, err := p.build(options(srv.URL))
		if err != nil {
			t.Fatal(err)
		}
		for _, resp := range []string{"", "  "} {
			res, err := v.Verify(context.Background(), port.Token{Response: resp})
			checkOutcome(t, res, err, port.ErrCaptchaRequired, false)
		}
		res, err := v.Verify(context.Background(), port.Token{Response: strings.Repeat("x", port.MaxResponseLength+1)})
		checkOutcome(t, res, err, port.ErrCaptchaInvalid, false)
		if n := len(srv.requests()); n != 0 {
			t.Fatalf("%s: %d requests for a missing or oversized token", p.kind, n)
		}
	}
}

func TestAnUnreachableProviderIsUnavailable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close() // nothing listens there any more
	v, err := captcha.NewTurnstile(options(addr))
	if err != nil {
		t.Fatal(err)
	}
	res, err := v.Verify(context.Background(), port.Token{Response: token})
	checkOutcome(t, res, err, port.ErrCaptchaUnavailable, false)
}

func TestTheSharedClientFollowsNoRedirect(t *testing.T) {
	t.Parallel()
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		elsewhere.Add(1)
		_, _ = io.WriteString(w, `{"success": true}`)
	}))
	defer other.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL, http.StatusTemporaryRedirect) // 307 would re-send the form, secret and all
	}))
	defer redirect.Close()
	o := options(redirect.URL)
	o.Client = nil
	v, err := captcha.NewHCaptcha(o)
	if err != nil {
		t.Fatal(err)
	}
	res, err := v.Verify(context.Background(), port.Token{Response: token})
	checkOutcome(t, res, err, port.ErrCaptchaUnavailable, true)
	if elsewhere.Load() != 0 {
		t.Fatal("the redirect was followed: the secret went to another server")
	}
}

func TestTheSecretNeverPrints(t *testing.T) {
	t.Parallel()
	for _, p := range providers {
		v, err := p.build(options("https://siteverify.example"))
		if err != nil {
			t.Fatal(err)
		}
		var logs strings.Builder
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			fmt.Fprintf(&logs, verb+"\n", v)
		}
		slog.New(slog.NewTextHandler(&logs, nil)).Info("built", "verifier", v)
		slog.New(slog.NewJSONHandler(&logs, nil)).Info("built", "verifier", v)
		if out := logs.String(); strings.Contains(out, secret) || !strings.Contains(out, "***") {
			t.Fatalf("%s printed its secret, or no mask:\n%s", p.kind, out)
		}
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	srv := newSiteverify(t, 200, providers[1].success)
	base := tenant.DefaultCaptcha()
	base.SiteKey, base.SecretEnv, base.VerifyURL = siteKey, "X", srv.URL+"/siteverify"
	types := map[tenant.CaptchaProvider]string{tenant.CaptchaRecaptchaV2: "*captcha.RecaptchaV2", tenant.CaptchaRecaptchaV3: "*captcha.RecaptchaV3",
		tenant.CaptchaHCaptcha: "*captcha.HCaptcha", tenant.CaptchaTurnstile: "*captcha.Turnstile"}
	for _, p := range tenant.CaptchaProviders {
		c := base
		c.Provider = p
		v, err := captcha.New(c, secret, srv.Client())
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if got := fmt.Sprintf("%T", v); got != types[p] {
			t.Errorf("%s: built a %s, want a %s", p, got, types[p])
		}
		// The v3 answer (score 0.9, action login) is a success for all.
		if _, err := v.Verify(context.Background(), port.Token{Response: token}); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if n := len(srv.requests()); n != len(tenant.CaptchaProviders) {
		t.Fatalf("%d requests to verify_url, want %d", n, len(tenant.CaptchaProviders))
	}

	off, err := captcha.New(tenant.DefaultCaptcha(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := off.Verify(context.Background(), port.Token{Response: token}); !errors.Is(err, port.ErrCaptchaUnavailable) || !errors.Is(err, port.ErrMisconfigured) {
		t.Fatalf("a tenant without a provider: %v", err)
	}
	noSecret := base
	noSecret.Provider = tenant.CaptchaTurnstile
	if v, err := captcha.New(noSecret, "", nil); err == nil || v != nil {
		t.Fatalf("an empty secret: %v, %v", v, err)
	}
	unknown := base
	unknown.Provider = "friendlycaptcha"
	if _, err := captcha.New(unknown, secret, nil); err == nil {
		t.Fatal("an unknown provider was accepted")
	}
}
