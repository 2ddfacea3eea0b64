package e2e_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// CAPTCHA (issue 12) end to end: a tenant's captcha.policy enforced by the
// login pipeline on every surface, against a siteverify server in the test
// process that the tenants' captcha.verify_url points at.

// captchaSecret is the tenants' CAPTCHA secret (E2E_CAPTCHA_SECRET).
var captchaSecret = "e2e-captcha-secret-" + randomHex(8)

// siteverify is a provider's siteverify endpoint: /recaptcha answers as
// reCAPTCHA v3 does (with a score and an action), /turnstile as Turnstile
// does. The answer is chosen by the token's prefix:
//
//	ok.…            success, score 0.9, action login, host shop.example
//	low-score.…     success with score 0.1
//	other-action.…  success for the action signup
//	other-host.…    success on the host evil.example
//	anything else   refused (invalid-input-response)
type siteverify struct {
	srv *httptest.Server

	mu      sync.Mutex
	secrets []string
	tokens  []string
	ips     []string
}

func newSiteverify(t *testing.T) *siteverify {
	t.Helper()
	sv := &siteverify{}
	sv.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		tok := r.PostForm.Get("response")
		sv.mu.Lock()
		sv.secrets = append(sv.secrets, r.PostForm.Get("secret"))
		sv.tokens = append(sv.tokens, tok)
		sv.ips = append(sv.ips, r.PostForm.Get("remoteip"))
		sv.mu.Unlock()
		a := map[string]any{"success": true, "hostname": "shop.example", "challenge_ts": time.Now().UTC().Format(time.RFC3339)}
		if r.URL.Path == "/recaptcha" {
			a["score"], a["action"] = 0.9, "login"
		}
		switch {
		case strings.HasPrefix(tok, "ok."):
		case strings.HasPrefix(tok, "low-score."):
			a["score"] = 0.1
		case strings.HasPrefix(tok, "other-action."):
			a["action"] = "signup"
		case strings.HasPrefix(tok, "other-host."):
			a["hostname"] = "evil.example"
		default:
			a = map[string]any{"success": false, "error-codes": []string{"invalid-input-response"}}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(a)
	}))
	t.Cleanup(sv.srv.Close)
	return sv
}

// asked returns how often the provider was asked for tok.
func (sv *siteverify) asked(tok string) int {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	n := 0
	for _, x := range sv.tokens {
		if x == tok {
			n++
		}
	}
	return n
}

func (sv *siteverify) calls() (secrets, tokens, ips []string) {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	return append([]string(nil), sv.secrets...), append([]string(nil), sv.tokens...), append([]string(nil), sv.ips...)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// captchaToken is a token the siteverify server answers by its kind
// ("ok", "low-score", "other-action", "other-host", "bad").
func captchaToken(kind string) string { return kind + "." + randomHex(12) }

// captchaBlock is a tenant's captcha section: provider with the site key
// "site-"+provider, its secret from E2E_CAPTCHA_SECRET, tokens solved on
// shop.example only, verified at verifyURL; extra lines follow as given.
func captchaBlock(provider, verifyURL string, extra ...string) string {
	b := fmt.Sprintf("  provider: %s\n  site_key: site-%s\n  secret_env: E2E_CAPTCHA_SECRET\n  hostnames: [shop.example]\n  timeout: 2s\n  verify_url: %s\n",
		provider, provider, verifyURL)
	for _, l := range extra {
		b += "  " + l + "\n"
	}
	return b
}

// captchaProblem is a canonical problem with the CAPTCHA widget.
type captchaProblem struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Captcha *struct {
		Provider string `json:"provider"`
		SiteKey  string `json:"site_key"`
	} `json:"captcha"`
}

// wantCaptchaProblem checks a canonical 400 with code and the widget of
// provider.
func wantCaptchaProblem(t *testing.T, what string, r reply, code, provider string) {
	t.Helper()
	wantProblem(t, r, http.StatusBadRequest, code)
	p := decodeJSON[captchaProblem](t, r)
	if p.Captcha == nil || p.Captcha.Provider != provider || p.Captcha.SiteKey != "site-"+provider {
		t.Errorf("%s: %s carries no widget of %s: %s", what, code, provider, r.Body)
	}
}

// loginWith posts a canonical bearer login with a CAPTCHA response ("" for
// none).
func loginWith(t *testing.T, s *server, host string, a account, captcha string, opts ...reqOption) reply {
	t.Helper()
	body := map[string]any{"email": a.Email, "password": a.Password}
	if captcha != "" {
		body["captcha"] = captcha
	}
	return s.do(t, http.MethodPost, "/auth/v1/login", append([]reqOption{withHost(host), withJSON(body)}, opts...)...)
}

// TestCaptcha drives the CAPTCHA of five tenants of one server: always
// (reCAPTCHA v3 on login, register, forgot and sms_send), escalate
// (login after_failures: 3 from an address, 5 on an account), closed and
// open (a provider that cannot be reached, failing closed and open) and
// turnstile (Turnstile, login always).
func TestCaptcha(t *testing.T) {
	t.Parallel()
	sv := newSiteverify(t)
	down := httptest.NewServer(http.NotFoundHandler())
	deadURL := down.URL + "/siteverify"
	down.Close() // connections to it are refused: the provider is away
	v3 := sv.srv.URL + "/recaptcha"
	always := tenantSpec{ID: "always", Domains: []string{"always.localhost"}, LoginPerAccount: "{limit: 2, window: 1h}",
		SMS: smsBlock("5m", ""),
		Captcha: captchaBlock("recaptcha_v3", v3, "min_score: 0.5", "action: login",
			"policy: {login: always, register: always, forgot: always, sms_send: always}")}
	escalate := tenantSpec{ID: "escalate", Domains: []string{"escalate.localhost"},
		Captcha: captchaBlock("recaptcha_v3", v3, "policy: {login: after_failures}", "after_failures: {per_ip: 3, per_account: 5, window: 15m}")}
	closed := tenantSpec{ID: "closed", Domains: []string{"closed.localhost"},
		Captcha: captchaBlock("recaptcha_v3", deadURL, "policy: {login: always}")}
	open := tenantSpec{ID: "open", Domains: []string{"open.localhost"},
		Captcha: captchaBlock("recaptcha_v3", deadURL, "policy: {login: always}", "on_unavailable: open")}
	turnstile := tenantSpec{ID: "turnstile", Domains: []string{"turnstile.localhost"},
		Captcha: captchaBlock("turnstile", sv.srv.URL+"/turnstile", "policy: {login: always}")}
	env := map[string]string{"E2E_CAPTCHA_SECRET": captchaSecret, "PORTCULLIS_TRUSTED_PROXIES": "127.0.0.1/32"}
	s := startTenantsEnv(t, env, always, escalate, closed, open, turnstile)

	// used collects every token sent, to look for them in the logs.
	var used []string
	tok := func(kind string) string {
		x := captchaToken(kind)
		used = append(used, x)
		return x
	}

	t.Run("GET /auth/v1/captcha names the widget and the modes", func(t *testing.T) {
		r := s.get(t, "/auth/v1/captcha", withHost("always.localhost"))
		got := decodeJSON[map[string]any](t, r)
		want := map[string]any{"provider": "recaptcha_v3", "site_key": "site-recaptcha_v3", "required": map[string]any{
			"login": "always", "register": "always", "forgot": "always", "sms_send": "always", "email_send": "off"}}
		if r.Status != http.StatusOK || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%d %s, want %v", r.Status, r.Body, want)
		}
		// A tenant without a CAPTCHA.
		plain := decodeJSON[map[string]any](t, s.get(t, "/auth/v1/captcha", withHost("escalate.localhost")))
		if plain["provider"] != "recaptcha_v3" || plain["required"].(map[string]any)["login"] != "after_failures" {
			t.Fatalf("escalate: %v", plain)
		}
	})

	// An account of the always tenant: registering asks too.
	a := newAccount("captcha")
	wantCaptchaProblem(t, "register without a CAPTCHA",
		s.do(t, http.MethodPost, "/auth/v1/register", withHost("always.localhost"), withJSON(registerBody(a))), "captcha_required", "recaptcha_v3")
	body := registerBody(a)
	body["captcha"] = tok("ok")
	body["phone"] = "+905321112233"
	if r := s.do(t, http.MethodPost, "/auth/v1/register", withHost("always.localhost"), withJSON(body)); r.Status != http.StatusAccepted {
		t.Fatalf("register with a CAPTCHA: %d %s", r.Status, r.Body)
	}

	t.Run("always: a login without a token is refused before any password work", func(t *testing.T) {
		// More captcha-less attempts with a wrong password than the
		// account's budget (2): none is judged, none counts.
		wrong := account{Email: a.Email, Password: strongPassword()}
		for i := range 4 {
			wantCaptchaProblem(t, fmt.Sprintf("attempt %d", i+1), loginWith(t, s, "always.localhost", wrong, ""), "captcha_required", "recaptcha_v3")
		}
		// The widget's own field name is read too, and a token the
		// provider refuses is captcha_invalid.
		r := s.do(t, http.MethodPost, "/auth/v1/login", withHost("always.localhost"),
			withJSON(map[string]any{"email": a.Email, "password": a.Password, "g-recaptcha-response": tok("bad")}))
		wantCaptchaProblem(t, "a refused token", r, "captcha_invalid", "recaptcha_v3")
		// The right password with a solved CAPTCHA: the budget is intact.
		if r := loginWith(t, s, "always.localhost", a, tok("ok")); r.Status != http.StatusOK {
			t.Fatalf("the right password with a solved CAPTCHA after 4 refused attempts: %d %s (the attempts must not count)", r.Status, r.Body)
		}
	})

	t.Run("always: a token is single use", func(t *testing.T) {
		x := tok("ok")
		if r := loginWith(t, s, "always.localhost", a, x); r.Status != http.StatusOK {
			t.Fatalf("first use: %d %s", r.Status, r.Body)
		}
		wantCaptchaProblem(t, "replay", loginWith(t, s, "always.localhost", a, x), "captcha_invalid", "recaptcha_v3")
		if n := sv.asked(x); n != 1 {
			t.Fatalf("the provider was asked %d times for the token, want 1: the replay is refused before it", n)
		}
	})

	t.Run("always: a v3 token of another action or host, or a low score, is invalid", func(t *testing.T) {
		for _, kind := range []string{"other-action", "other-host", "low-score"} {
			wantCaptchaProblem(t, kind, loginWith(t, s, "always.localhost", a, tok(kind)), "captcha_invalid", "recaptcha_v3")
		}
	})

	t.Run("always: the other routes and surfaces", func(t *testing.T) {
		// forgot: nothing is mailed without a CAPTCHA.
		r := s.do(t, http.MethodPost, "/auth/v1/password/forgot", withHost("always.localhost"), withJSON(map[string]any{"email": a.Email}))
		wantCaptchaProblem(t, "forgot", r, "captcha_required", "recaptcha_v3")
		r = s.do(t, http.MethodPost, "/auth/v1/password/forgot", withHost("always.localhost"),
			withJSON(map[string]any{"email": a.Email, "captcha": tok("ok")}))
		if r.Status != http.StatusAccepted {
			t.Fatalf("forgot with a CAPTCHA: %d %s", r.Status, r.Body)
		}
		// sms_send: no message without a CAPTCHA.
		r = s.do(t, http.MethodPost, "/auth/v1/sms/send", withHost("always.localhost"), withJSON(map[string]any{"phone": "+905321112233"}))
		wantCaptchaProblem(t, "sms send", r, "captcha_required", "recaptcha_v3")
		if n := countSMS(t, s, "always.localhost", "+905321112233"); n != 0 {
			t.Fatalf("%d SMS sent for a request refused for its CAPTCHA", n)
		}
		r = s.do(t, http.MethodPost, "/auth/v1/sms/send", withHost("always.localhost"),
			withJSON(map[string]any{"phone": "+905321112233", "captcha": tok("ok")}))
		if r.Status != http.StatusAccepted {
			t.Fatalf("sms send with a CAPTCHA: %d %s", r.Status, r.Body)
		}
		// Seed 000: DRF's field error; a form posts the widget's field.
		r = s.do(t, http.MethodPost, "/users/login/", withHost("always.localhost"),
			withForm(url.Values{"email": {a.Email}, "password": {a.Password}}))
		if r.Status != http.StatusBadRequest || !strings.HasPrefix(string(r.Body), `{"captcha":["`) {
			t.Fatalf("seed 000 without a CAPTCHA: %d %s, want 400 {\"captcha\": [...]}", r.Status, r.Body)
		}
		r = s.do(t, http.MethodPost, "/users/login/", withHost("always.localhost"),
			withForm(url.Values{"email": {a.Email}, "password": {a.Password}, "g-recaptcha-response": {tok("ok")}}))
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"key"`) {
			t.Fatalf("seed 000 with the widget's field: %d %s", r.Status, r.Body)
		}
		// Seed 001: its error body.
		r = s.do(t, http.MethodPost, "/api/user/login/", withHost("always.localhost"), withHeader("X-Requested-By", "mobile_app"),
			withJSON(map[string]any{"email": a.Email, "password": a.Password, "captcha": tok("bad")}))
		if got := decodeJSON[map[string]any](t, r); r.Status != http.StatusBadRequest || got["code"] != "InvalidCaptcha" || got["status"] != "400" {
			t.Fatalf("seed 001 with a refused CAPTCHA: %d %s", r.Status, r.Body)
		}
		r = s.do(t, http.MethodPost, "/api/user/login/", withHost("always.localhost"), withHeader("X-Requested-By", "mobile_app"),
			withJSON(map[string]any{"email": a.Email, "password": a.Password, "captcha": tok("ok")}))
		if r.Status != http.StatusOK {
			t.Fatalf("seed 001 with a CAPTCHA: %d %s", r.Status, r.Body)
		}
	})

	t.Run("after_failures: not before N failed logins from an address, then asked", func(t *testing.T) {
		b := newAccount("escalate")
		register(t, s, "escalate.localhost", b)
		wrong := account{Email: b.Email, Password: strongPassword()}
		const ip = "203.0.113.50"
		for i := range 3 {
			other := account{Email: uniqueEmail("guess"), Password: wrong.Password}
			if r := loginWith(t, s, "escalate.localhost", other, "", from(ip)); r.Status != http.StatusUnauthorized {
				t.Fatalf("failed login %d of 3 from %s: %d %s, want 401 without a CAPTCHA", i+1, ip, r.Status, r.Body)
			}
		}
		wantCaptchaProblem(t, "after 3 failed logins from the address", loginWith(t, s, "escalate.localhost", b, "", from(ip)),
			"captcha_required", "recaptcha_v3")
		if r := loginWith(t, s, "escalate.localhost", b, "", from("198.51.100.7")); r.Status != http.StatusOK {
			t.Fatalf("another address is not asked: %d %s", r.Status, r.Body)
		}
		if r := loginWith(t, s, "escalate.localhost", b, tok("ok"), from(ip)); r.Status != http.StatusOK {
			t.Fatalf("the address with a solved CAPTCHA: %d %s", r.Status, r.Body)
		}
	})

	t.Run("after_failures: N failed logins on an account from anywhere", func(t *testing.T) {
		c := newAccount("target")
		register(t, s, "escalate.localhost", c)
		wrong := account{Email: c.Email, Password: strongPassword()}
		for i := range 5 {
			if r := loginWith(t, s, "escalate.localhost", wrong, "", from(fmt.Sprintf("192.0.2.%d", i+1))); r.Status != http.StatusUnauthorized {
				t.Fatalf("failed login %d of 5 on the account: %d %s, want 401 without a CAPTCHA", i+1, r.Status, r.Body)
			}
		}
		wantCaptchaProblem(t, "after 5 failed logins on the account", loginWith(t, s, "escalate.localhost", c, "", from("192.0.2.99")),
			"captcha_required", "recaptcha_v3")
		// A success (with the CAPTCHA) forgets the account's count.
		if r := loginWith(t, s, "escalate.localhost", c, tok("ok"), from("192.0.2.99")); r.Status != http.StatusOK {
			t.Fatalf("with a solved CAPTCHA: %d %s", r.Status, r.Body)
		}
		if r := loginWith(t, s, "escalate.localhost", c, "", from("192.0.2.100")); r.Status != http.StatusOK {
			t.Fatalf("after a success the account is not asked: %d %s", r.Status, r.Body)
		}
	})

	t.Run("provider down: 503 when failing closed, the login goes on when open", func(t *testing.T) {
		for _, host := range []string{"closed.localhost", "open.localhost"} {
			register(t, s, host, a)
		}
		r := loginWith(t, s, "closed.localhost", a, tok("ok"))
		wantProblem(t, r, http.StatusServiceUnavailable, "captcha_unavailable")
		if r.Header.Get("Retry-After") == "" {
			t.Errorf("503 captcha_unavailable without Retry-After")
		}
		if r := loginWith(t, s, "open.localhost", a, tok("ok")); r.Status != http.StatusOK {
			t.Fatalf("open: %d %s, want the login to go on", r.Status, r.Body)
		}
		// Failing open is no reason to skip the token: none is still required.
		wantCaptchaProblem(t, "open without a token", loginWith(t, s, "open.localhost", a, ""), "captcha_required", "recaptcha_v3")
		for _, want := range []struct{ tenant, fallback string }{{"closed", "closed"}, {"open", "open"}} {
			s.waitLog(t, "of the provider away for "+want.tenant, func(e logEntry) bool {
				return e.Str("tenant") == want.tenant && e.Str("route") == "login" && e.Str("provider") == "recaptcha_v3" &&
					strings.Contains(e.Msg(), "on_unavailable: "+want.fallback)
			})
		}
	})

	t.Run("turnstile: the widget's field, the host name, the widget in the error", func(t *testing.T) {
		d := newAccount("turnstile")
		register(t, s, "turnstile.localhost", d)
		r := s.do(t, http.MethodPost, "/users/login/", withHost("turnstile.localhost"),
			withForm(url.Values{"email": {d.Email}, "password": {d.Password}, "cf-turnstile-response": {tok("ok")}}))
		if r.Status != http.StatusOK {
			t.Fatalf("seed 000 with cf-turnstile-response: %d %s", r.Status, r.Body)
		}
		wantCaptchaProblem(t, "turnstile, another host", loginWith(t, s, "turnstile.localhost", d, tok("other-host")), "captcha_invalid", "turnstile")
		wantCaptchaProblem(t, "turnstile, none", loginWith(t, s, "turnstile.localhost", d, ""), "captcha_required", "turnstile")
	})

	// The provider got the tenants' secret and the client's address with
	// every token; neither the secret nor a token is in the server's logs.
	secrets, tokens, ips := sv.calls()
	if len(tokens) == 0 {
		t.Fatal("the siteverify server was never asked")
	}
	for i := range secrets {
		if secrets[i] != captchaSecret || ips[i] == "" {
			t.Fatalf("call %d: secret %q, remoteip %q; want the tenant's secret and the client's address", i, secrets[i], ips[i])
		}
	}
	for _, e := range s.entries() {
		if strings.Contains(e.Raw, captchaSecret) {
			t.Fatalf("the CAPTCHA secret is in the log: %s", e.Raw)
		}
		for _, x := range used {
			if strings.Contains(e.Raw, x) {
				t.Fatalf("a CAPTCHA token is in the log: %s", e.Raw)
			}
		}
	}
}

// countSMS counts the SMS the dev outbox of the tenant at host holds for
// the number.
func countSMS(t *testing.T, s *server, host, to string) int {
	t.Helper()
	n := 0
	for _, m := range outbox(t, s, host) {
		if m.Kind == "sms" && m.To == to {
			n++
		}
	}
	return n
}
