package e2e_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Helpers for the account attack tests: tenant files with the settings a
// test needs, request options for bodies and credentials, and the sign-up
// and sign-in steps most tests begin with.

// generousLimit is a throttling limit no test reaches by accident.
const generousLimit = "{limit: 10000, window: 1h}"

// tenantSpec is a tenant file: the shipped demo tenant's settings, with what
// a test needs changed. Empty fields keep the demo's value.
type tenantSpec struct {
	ID      string
	Domains []string
	// NoSeed000 and NoSeed001 switch a compatibility profile off.
	NoSeed000, NoSeed001 bool
	// RedirectDefault is redirects.default; "/" when empty.
	RedirectDefault string
	// RequireVerifiedEmail is require_verified_email.
	RequireVerifiedEmail bool
	// RegistrationClosed sets registration.enabled: false.
	RegistrationClosed bool
	// Throttling limits as YAML flow mappings ("{limit: 3, window: 3s}");
	// generousLimit when empty, so that a test only meets the limit it is
	// about; useDefault leaves the setting out of the file.
	LoginPerAccount, LoginPerIP, LoginPerDevice, RegisterPerIP, SignupNoticePerRecipient string
	// SMS, when set, enables sms_otp and is the body of the sms block, each
	// line indented two spaces ("  default_region: TR\n  code_ttl: 30s\n");
	// the SMS throttling limits are then written as the others are.
	SMS                                       string
	SMSPerIP, SMSPerCallingCode, SMSPerTenant string
	// The mail-flood guards, per client IP: password reset, verification
	// mail, e-mail sign-in codes and magic links.
	PasswordResetPerIP, VerificationMailPerIP, EmailLoginPerIP string
	// EmailLink enables email_link (sign-in by mailed code or magic link).
	EmailLink bool
	// TOTP enables totp (the second factor); MFA, when set, is the body of
	// the mfa block, each line indented two spaces.
	TOTP bool
	MFA  string
	// SameDevice is email.same_device: a magic link signs in only in the
	// browser that asked for it.
	SameDevice bool
	// NewSigninNotice is email.new_signin_notice.
	NewSigninNotice bool
	// VerificationCode is email.verification_code: verification mails
	// carry a code besides the link.
	VerificationCode bool
	// EmailResendCooldown is email.resend_cooldown ("1s"); empty leaves
	// it out.
	EmailResendCooldown string
	// BaseURL is mail.base_url; empty leaves it out (dev mode's default).
	BaseURL string
	// SMTPPort, when set, sends the tenant's mail to an SMTP server on
	// 127.0.0.1 at that port, without TLS, instead of the dev outbox.
	SMTPPort int
	// AdminLink and TokenLogin enable seed 000's admin-issued login links
	// (admin_link) and its token login (token_login); TokenLoginPerIP is
	// throttling.token_login_per_ip.
	AdminLink, TokenLogin bool
	TokenLoginPerIP       string
	// LoginLinkMaxAge is profiles.seed000.passwordless_login_max_age
	// ("30s"); empty leaves it out.
	LoginLinkMaxAge string
	// AuditRetention is audit.retention ("720h"); empty leaves it out.
	AuditRetention string
	// Seed002 serves seed 002's admin login (profiles.seed002 and the
	// login method admin_otp).
	Seed002 bool
	// Captcha, when set, is the body of the captcha block, each line
	// indented two spaces ("  provider: turnstile\n  site_key: ...\n").
	Captcha string
	// Seed003, when set, is profiles.seed003 as a YAML flow mapping
	// ("{enabled: true, resend_count: 3}"), and the tenant is a
	// storefront (storefront.enabled), as the profile needs.
	Seed003 string
	// Allow are more redirects.allow entries (origins such as
	// "http://127.0.0.1:4321"), after the demo's.
	Allow []string
	// Pages, when set, is the body of the pages block, each line indented
	// two spaces ("  default_language: de\n").
	Pages string
}

// allowYAML is more entries of a YAML flow sequence, each after a comma.
func allowYAML(allow []string) string {
	var b strings.Builder
	for _, a := range allow {
		fmt.Fprintf(&b, ", %q", a)
	}
	return b.String()
}

// useDefault as a throttling limit of a tenantSpec leaves the setting out,
// so that the server's default applies.
const useDefault = "default"

// yaml renders the tenant file.
func (ts tenantSpec) yaml() string {
	or := func(v, def string) string {
		if v == "" {
			return def
		}
		return v
	}
	var b strings.Builder
	fmt.Fprintf(&b, "id: %s\ndisplay_name: %s\ndomains:\n", ts.ID, ts.ID)
	for _, d := range ts.Domains {
		fmt.Fprintf(&b, "  - %s\n", d)
	}
	limits := [][2]string{
		{"login_per_account", ts.LoginPerAccount}, {"login_per_ip", ts.LoginPerIP}, {"login_per_device", ts.LoginPerDevice},
		{"register_per_ip", ts.RegisterPerIP}, {"signup_notice_per_recipient", ts.SignupNoticePerRecipient},
		{"password_reset_per_ip", ts.PasswordResetPerIP}, {"verification_mail_per_ip", ts.VerificationMailPerIP},
		{"email_login_per_ip", ts.EmailLoginPerIP}, {"token_login_per_ip", ts.TokenLoginPerIP},
	}
	methods := []string{"password"}
	if ts.SMS != "" {
		methods = append(methods, "sms_otp")
		limits = append(limits, [][2]string{{"sms_per_ip", ts.SMSPerIP}, {"sms_per_calling_code", ts.SMSPerCallingCode},
			{"sms_per_tenant", ts.SMSPerTenant}}...)
		fmt.Fprintf(&b, "sms:\n%s", ts.SMS)
	}
	if ts.EmailLink {
		methods = append(methods, "email_link")
	}
	if ts.TOTP {
		methods = append(methods, "totp")
	}
	if ts.AdminLink {
		methods = append(methods, "admin_link")
	}
	if ts.TokenLogin {
		methods = append(methods, "token_login")
	}
	if ts.Seed002 {
		methods = append(methods, "admin_otp")
	}
	if ts.MFA != "" {
		fmt.Fprintf(&b, "mfa:\n%s", ts.MFA)
	}
	if ts.Captcha != "" {
		fmt.Fprintf(&b, "captcha:\n%s", ts.Captcha)
	}
	if ts.Pages != "" {
		fmt.Fprintf(&b, "pages:\n%s", ts.Pages)
	}
	if ts.BaseURL != "" || ts.SMTPPort != 0 {
		b.WriteString("mail:\n")
		if ts.BaseURL != "" {
			fmt.Fprintf(&b, "  base_url: %s\n", ts.BaseURL)
		}
		if ts.SMTPPort != 0 {
			fmt.Fprintf(&b, "  from: \"%s <no-reply@%s.example>\"\n  smtp: {host: 127.0.0.1, port: %d, tls: none, timeout: 5s}\n", ts.ID, ts.ID, ts.SMTPPort)
		}
	}
	var email []string
	if ts.SameDevice {
		email = append(email, "same_device: true")
	}
	if ts.NewSigninNotice {
		email = append(email, "new_signin_notice: true")
	}
	if ts.VerificationCode {
		email = append(email, "verification_code: true")
	}
	if ts.EmailResendCooldown != "" {
		email = append(email, "resend_cooldown: "+ts.EmailResendCooldown)
	}
	if len(email) > 0 {
		fmt.Fprintf(&b, "email:\n  %s\n", strings.Join(email, "\n  "))
	}
	if ts.RegistrationClosed {
		b.WriteString("registration: {enabled: false}\n")
	}
	if ts.AuditRetention != "" {
		fmt.Fprintf(&b, "audit: {retention: %s}\n", ts.AuditRetention)
	}
	seed003 := ""
	if ts.Seed003 != "" {
		seed003 = "  seed003: " + ts.Seed003 + "\nstorefront: {enabled: true}\n"
	}
	fmt.Fprintf(&b, `login_methods: [%s]
password_policy:
  min_length: 8
  max_length: 128
  reject_common: true
  hash: {memory_kib: 19456, iterations: 2, parallelism: 1}
tokens: {access_ttl: 15m, refresh_ttl: 720h, app_token_ttl: 0s}
sessions: {idle_timeout: 168h, absolute_timeout: 720h}
redirects:
  allow: [/, "http://localhost:3000"%s]
  default: %s
profiles:
  seed000: {enabled: %t, passwordless_login_max_age: %s}
  seed001: {enabled: %t, prefix: /api}
  seed002: {enabled: %t}
%srequire_verified_email: %t
throttling:
`, strings.Join(methods, ", "), allowYAML(ts.Allow), or(ts.RedirectDefault, "/"), !ts.NoSeed000, or(ts.LoginLinkMaxAge, "300s"), !ts.NoSeed001, ts.Seed002,
		seed003, ts.RequireVerifiedEmail)
	for _, l := range limits {
		if l[1] != useDefault {
			fmt.Fprintf(&b, "  %s: %s\n", l[0], or(l[1], generousLimit))
		}
	}
	return b.String()
}

// startTenants starts a server serving exactly these tenants. Its client
// does not follow redirects: the tests look at them.
func startTenants(t *testing.T, specs ...tenantSpec) *server {
	t.Helper()
	return startTenantsEnv(t, nil, specs...)
}

// startTenantsEnv is startTenants with more PORTCULLIS_* variables.
func startTenantsEnv(t testing.TB, env map[string]string, specs ...tenantSpec) *server {
	t.Helper()
	files := make(map[string]string, len(specs))
	for _, ts := range specs {
		files[ts.ID+".yaml"] = ts.yaml()
	}
	all := map[string]string{"PORTCULLIS_TENANTS_DIR": writeTenants(t, files)}
	maps.Copy(all, env)
	s := start(t, options{Env: all})
	noRedirects(s)
	return s
}

// startLocal starts a server with one tenant, "local", on the demo's domains
// (localhost, demo.localhost) with the demo's settings but generous
// throttling limits.
func startLocal(t *testing.T) *server {
	t.Helper()
	return startTenants(t, tenantSpec{ID: "local", Domains: []string{"localhost", "demo.localhost"}})
}

func noRedirects(s *server) {
	s.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
}

// withBody sends body with the given Content-Type.
func withBody(contentType, body string) reqOption {
	return func(r *http.Request) {
		r.Body = io.NopCloser(strings.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Type", contentType)
	}
}

// withJSON sends v as a JSON body.
func withJSON(v any) reqOption {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return withBody("application/json", string(b))
}

// withForm sends the fields URL-encoded, as an HTML form does.
func withForm(fields url.Values) reqOption {
	return withBody("application/x-www-form-urlencoded", fields.Encode())
}

// withBearer authenticates with an access token.
func withBearer(token string) reqOption { return withHeader("Authorization", "Bearer "+token) }

// withAppToken authenticates with an app token (seed 000's key).
func withAppToken(key string) reqOption { return withHeader("Authorization", "Token "+key) }

// withSessionCookie sends the dev-mode session cookie.
func withSessionCookie(value string) reqOption {
	return withHeader("Cookie", "portcullis_session="+value)
}

// account is an e-mail address and password.
type account struct {
	Email    string
	Password string
}

var addressSeq atomic.Int64

// uniqueEmail returns an address no other test uses.
func uniqueEmail(tag string) string {
	return fmt.Sprintf("%s.%d@example.com", tag, addressSeq.Add(1))
}

// strongPassword returns a random password the policy accepts.
func strongPassword() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "Qv7-" + hex.EncodeToString(b) + "-zX"
}

// newAccount returns an unregistered account with a unique address.
func newAccount(tag string) account {
	return account{Email: uniqueEmail(tag), Password: strongPassword()}
}

// registerBody is a canonical registration request.
func registerBody(a account) map[string]any {
	return map[string]any{"email": a.Email, "password": a.Password, "first_name": "Ann", "last_name": "Example"}
}

// register registers a on the canonical API of the tenant at host and
// fails the test unless it is accepted.
func register(t *testing.T, s *server, host string, a account) {
	t.Helper()
	r := s.do(t, http.MethodPost, "/auth/v1/register", withHost(host), withJSON(registerBody(a)))
	if r.Status != http.StatusAccepted {
		t.Fatalf("register %s: status %d, want 202; body %s", a.Email, r.Status, r.Body)
	}
}

// loginAnswer is the canonical login (and refresh) answer.
type loginAnswer struct {
	User struct {
		ID            string `json:"id"`
		Email         string `json:"email"`
		Role          string `json:"role"`
		EmailVerified bool   `json:"email_verified"`
	} `json:"user"`
	Session struct {
		ID   string `json:"id"`
		Kind string `json:"kind"`
	} `json:"session"`
	TokenType    string `json:"token_type"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	AppToken     string `json:"app_token"`
	CSRFToken    string `json:"csrf_token"`
	// Cookie is the session cookie's value from Set-Cookie.
	Cookie string `json:"-"`
}

// login signs a in on the canonical API with the session kind ("" for the
// default bearer session, "cookie", "app") and fails the test unless it
// succeeds.
func login(t *testing.T, s *server, host string, a account, kind string) loginAnswer {
	t.Helper()
	body := map[string]any{"email": a.Email, "password": a.Password}
	if kind != "" {
		body["session"] = kind
	}
	r := s.do(t, http.MethodPost, "/auth/v1/login", withHost(host), withJSON(body))
	if r.Status != http.StatusOK {
		t.Fatalf("login %s (session %q): status %d, want 200; body %s", a.Email, kind, r.Status, r.Body)
	}
	var ans loginAnswer
	if err := json.Unmarshal(r.Body, &ans); err != nil {
		t.Fatalf("login answer is not JSON (%v): %s", err, r.Body)
	}
	if c := sessionCookie(r); c != nil {
		ans.Cookie = c.Value
	}
	return ans
}

// tryLogin posts a canonical bearer login and returns the reply whatever it
// is.
func tryLogin(t *testing.T, s *server, host, email, password string) reply {
	t.Helper()
	return s.do(t, http.MethodPost, "/auth/v1/login", withHost(host), withJSON(map[string]any{"email": email, "password": password}))
}

// sessionCookie returns the session cookie a reply sets, or nil.
func sessionCookie(r reply) *http.Cookie {
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "portcullis_session" {
			return c
		}
	}
	return nil
}

// me is GET /auth/v1/me.
func me(t *testing.T, s *server, host string, opts ...reqOption) reply {
	t.Helper()
	return s.get(t, "/auth/v1/me", append([]reqOption{withHost(host)}, opts...)...)
}

// wantProblem checks that r is a problem+json answer with this status and
// code, and returns it.
func wantProblem(t *testing.T, r reply, status int, code string) problem {
	t.Helper()
	if r.Status != status {
		t.Errorf("status %d, want %d (%s); body %s", r.Status, status, code, r.Body)
		return problem{}
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	var p problem
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Errorf("body is not a problem (%v): %s", err, r.Body)
		return p
	}
	if p.Code != code || p.Status != status {
		t.Errorf("problem code %q status %d, want %q %d: %s", p.Code, p.Status, code, status, r.Body)
	}
	return p
}

// outboxMessage is one message of the dev outbox.
type outboxMessage struct {
	Kind    string `json:"kind"`
	To      string `json:"to"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
}

// outbox returns the dev outbox of the tenant at host.
func outbox(t *testing.T, s *server, host string) []outboxMessage {
	t.Helper()
	r := s.get(t, "/dev/outbox", withHost(host))
	if r.Status != http.StatusOK {
		t.Fatalf("GET /dev/outbox: status %d; body %s", r.Status, r.Body)
	}
	return decodeJSON[struct {
		Messages []outboxMessage `json:"messages"`
	}](t, r).Messages
}

// settledOutbox is the dev outbox of the tenant at host once mail the
// server delivers in the background has landed: read until two reads
// 150 ms apart agree (at most 10 s).
func settledOutbox(t *testing.T, s *server, host string) []outboxMessage {
	t.Helper()
	msgs := outbox(t, s, host)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		time.Sleep(150 * time.Millisecond)
		again := outbox(t, s, host)
		if len(again) == len(msgs) {
			return again
		}
		msgs = again
	}
	return msgs
}

// signUpAttemptsAfter counts the "Sign-up attempt" mails to address once
// at least want have come (or 10 s have passed) and a further 300 ms has
// brought no more: the courier delivers in the background, and on a busy
// machine more than settledOutbox's 150 ms may pass between two mails.
// More than want still shows in the count.
func signUpAttemptsAfter(t *testing.T, s *server, host, address string, want int) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for signUpAttempts(outbox(t, s, host), address) < want && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	return signUpAttempts(outbox(t, s, host), address)
}

// signUpAttempts counts the "Sign-up attempt" mails to address (compared
// without regard to case).
func signUpAttempts(msgs []outboxMessage, address string) int {
	n := 0
	for _, m := range msgs {
		if m.Kind == "mail" && strings.HasPrefix(m.Subject, "Sign-up attempt") && strings.EqualFold(m.To, address) {
			n++
		}
	}
	return n
}

// rawJSONRequest is an HTTP/1.1 request with a JSON body, closing the
// connection after the answer.
func rawJSONRequest(method, path, host, body string) string {
	return fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		method, path, host, len(body), body)
}

// median returns the median of ds (the mean of the middle two for an even
// count).
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// loginTimings times n logins of an unknown address and n of known with a
// wrong password, interleaved so that load on the machine affects both
// alike. It uses only send, so that a benchmark can call it too.
func loginTimings(tb testing.TB, s *server, host string, known account, n int) (unknown, wrong []time.Duration) {
	tb.Helper()
	try := func(email, password string) time.Duration {
		tb.Helper()
		begun := time.Now()
		r, err := s.send(http.MethodPost, "/auth/v1/login", withHost(host), withJSON(map[string]any{"email": email, "password": password}))
		took := time.Since(begun)
		if err != nil {
			tb.Fatal(err)
		}
		if r.Status != http.StatusUnauthorized {
			tb.Fatalf("login of %s: status %d, want 401; body %s", email, r.Status, r.Body)
		}
		return took
	}
	// Warm up: the first unknown-account login computes the dummy hash, and
	// the first connection is dialled.
	try(uniqueEmail("warmup"), strongPassword())
	try(known.Email, strongPassword())
	for i := range n {
		stranger, pw := uniqueEmail("nobody"), strongPassword()
		if i%2 == 0 {
			unknown = append(unknown, try(stranger, pw))
			wrong = append(wrong, try(known.Email, pw))
		} else {
			wrong = append(wrong, try(known.Email, pw))
			unknown = append(unknown, try(stranger, pw))
		}
	}
	return unknown, wrong
}
