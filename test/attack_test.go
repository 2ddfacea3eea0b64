package e2e_test

// Attack tests: what an attacker tries against the account surfaces —
// account enumeration, registration races, forged and misused credentials,
// oversized input, mass assignment, Unicode look-alikes, open redirects,
// cross-site requests, stolen refresh tokens and brute force — each driven
// against the built server over HTTP.

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fieldProblem is a problem body with its field errors.
type fieldProblem struct {
	Code   string       `json:"code"`
	Status int          `json:"status"`
	Errors []fieldError `json:"errors"`
}

// fieldError is one entry of a problem's errors.
type fieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// TestLoginDoesNotRevealAccountsByBody: a failed login for an address that
// has no account and one for an address that has one, with a wrong
// password, must be indistinguishable in status, body and headers on every
// surface.
func TestLoginDoesNotRevealAccountsByBody(t *testing.T) {
	t.Parallel()
	s := startLocal(t)
	known := newAccount("known")
	register(t, s, "localhost", known)

	jsonBody := func(email, pw string) reqOption { return withJSON(map[string]any{"email": email, "password": pw}) }
	formBody := func(email, pw string) reqOption { return withForm(url.Values{"email": {email}, "password": {pw}}) }
	tests := []struct {
		name   string
		path   string
		body   func(email, pw string) reqOption
		status int
		// check looks at the failure body.
		check func(t *testing.T, r reply)
	}{
		{"canonical", "/auth/v1/login", jsonBody, http.StatusUnauthorized, func(t *testing.T, r reply) {
			wantProblem(t, r, http.StatusUnauthorized, "invalid_credentials")
		}},
		{"seed 000 JSON", "/users/login/", jsonBody, http.StatusBadRequest, func(t *testing.T, r reply) {
			if got := decodeJSON[map[string]any](t, r); !slices.Equal(slices.Sorted(maps.Keys(got)), []string{"non_field_errors"}) {
				t.Errorf("seed 000 failure body %s, want only non_field_errors", r.Body)
			}
		}},
		{"seed 000 form", "/users/login/", formBody, http.StatusBadRequest, func(t *testing.T, r reply) {
			if got := decodeJSON[map[string]any](t, r); got["non_field_errors"] == nil {
				t.Errorf("seed 000 failure body %s, want non_field_errors", r.Body)
			}
		}},
		{"seed 001", "/api/user/login/", jsonBody, http.StatusBadRequest, func(t *testing.T, r reply) {
			if got := decodeJSON[map[string]any](t, r); got["code"] != "LoginSerializerErrors" || got["status"] != "400" {
				t.Errorf("seed 001 failure body %s, want code LoginSerializerErrors, status \"400\"", r.Body)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pw := strongPassword()
			attempts := []struct {
				what string
				r    reply
			}{
				{"wrong password for a known address", s.do(t, http.MethodPost, tc.path, withHost("localhost"), tc.body(known.Email, pw))},
				{"unknown address", s.do(t, http.MethodPost, tc.path, withHost("localhost"), tc.body(uniqueEmail("stranger"), pw))},
				{"known address in upper case, wrong password", s.do(t, http.MethodPost, tc.path, withHost("localhost"), tc.body(strings.ToUpper(known.Email), pw))},
			}
			base := attempts[0].r
			if base.Status != tc.status {
				t.Fatalf("%s: status %d, want %d; body %s", attempts[0].what, base.Status, tc.status, base.Body)
			}
			tc.check(t, base)
			for _, a := range attempts[1:] {
				if a.r.Status != base.Status {
					t.Errorf("%s: status %d, but %d for a %s", a.what, a.r.Status, base.Status, attempts[0].what)
				}
				if got, want := withoutRequestID(a.r), withoutRequestID(base); !bytes.Equal(got, want) {
					t.Errorf("%s: body\n%s\nbut for a %s\n%s", a.what, got, attempts[0].what, want)
				}
				if diff := headerDiff(base.Header, a.r.Header, "Date", "X-Request-Id"); diff != "" {
					t.Errorf("%s: headers differ from those for a %s:\n%s", a.what, attempts[0].what, diff)
				}
			}
		})
	}
}

// withoutRequestID is the body with the reply's request id blanked out.
func withoutRequestID(r reply) []byte {
	if r.RequestID == "" {
		return r.Body
	}
	return bytes.ReplaceAll(r.Body, []byte(r.RequestID), []byte("<request-id>"))
}

// headerDiff describes how b's headers differ from a's, ignoring skip.
func headerDiff(a, b http.Header, skip ...string) string {
	var out []string
	keys := slices.Sorted(maps.Keys(a))
	for k := range b {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if slices.ContainsFunc(skip, func(s string) bool { return http.CanonicalHeaderKey(s) == k }) {
			continue
		}
		if !slices.Equal(a[k], b[k]) {
			out = append(out, fmt.Sprintf("  %s: %q vs %q", k, a[k], b[k]))
		}
	}
	return strings.Join(out, "\n")
}

// BenchmarkLoginEnumerationTiming measures how long failed logins take for
// an unknown address and for a known one with a wrong password. It reports
// the medians and their ratio and asserts nothing: timing on a shared
// machine is a number to watch, not to gate on.
func BenchmarkLoginEnumerationTiming(b *testing.B) {
	dir := b.TempDir()
	spec := tenantSpec{ID: "local", Domains: []string{"localhost"}}
	if err := os.WriteFile(filepath.Join(dir, "local.yaml"), []byte(spec.yaml()), 0o644); err != nil {
		b.Fatal(err)
	}
	s := start(b, options{Env: map[string]string{"PORTCULLIS_TENANTS_DIR": dir}})
	known := newAccount("timed")
	r, err := s.send(http.MethodPost, "/auth/v1/register", withHost("localhost"), withJSON(registerBody(known)))
	if err != nil || r.Status != http.StatusAccepted {
		b.Fatalf("register: %v, status %d, body %s", err, r.Status, r.Body)
	}
	var unknown, wrong []time.Duration
	for b.Loop() {
		u, w := loginTimings(b, s, "localhost", known, 50)
		unknown, wrong = append(unknown, u...), append(wrong, w...)
	}
	mu, mw := median(unknown), median(wrong)
	b.ReportMetric(float64(mu.Microseconds())/1000, "unknown-median-ms")
	b.ReportMetric(float64(mw.Microseconds())/1000, "wrong-median-ms")
	b.ReportMetric(float64(mu)/float64(mw), "unknown/wrong-ratio")
}

// TestLoginTimingIsReported is the benchmark's measurement, smaller, in the
// regular run: it only logs the medians.
func TestLoginTimingIsReported(t *testing.T) {
	t.Parallel()
	s := startLocal(t)
	known := newAccount("timed")
	register(t, s, "localhost", known)
	const n = 20
	unknown, wrong := loginTimings(t, s, "localhost", known, n)
	mu, mw := median(unknown), median(wrong)
	t.Logf("failed logins, median of %d each: unknown address %s, wrong password %s, unknown/wrong ratio %.3f",
		n, mu.Round(10*time.Microsecond), mw.Round(10*time.Microsecond), float64(mu)/float64(mw))
}

// TestParallelDuplicateRegistration: registrations of one address released
// together, each with its own password, create exactly one account; every
// caller gets the same answer and the owner is told of each other attempt.
func TestParallelDuplicateRegistration(t *testing.T) {
	t.Parallel()
	s := startLocal(t)
	const n = 20
	email := uniqueEmail("race")
	passwords := make([]string, n)
	raws := make([]string, n)
	for i := range n {
		passwords[i] = strongPassword()
		body, _ := json.Marshal(registerBody(account{Email: email, Password: passwords[i]}))
		raws[i] = rawJSONRequest(http.MethodPost, "/auth/v1/register", "localhost", string(body))
	}
	replies := s.sendEachTogether(t, raws)
	for i, r := range replies {
		if r.Status != http.StatusAccepted {
			t.Errorf("registration %d: status %d, want 202; body %s", i, r.Status, r.Body)
		}
		if !bytes.Equal(r.Body, replies[0].Body) {
			t.Errorf("registration %d answered\n%s\nbut registration 0\n%s", i, r.Body, replies[0].Body)
		}
	}

	var winners []int
	for i, pw := range passwords {
		switch r := tryLogin(t, s, "localhost", email, pw); r.Status {
		case http.StatusOK:
			winners = append(winners, i)
		case http.StatusUnauthorized:
		default:
			t.Errorf("login with password %d: status %d; body %s", i, r.Status, r.Body)
		}
	}
	if len(winners) != 1 {
		t.Errorf("%d of the %d passwords log in (%v), want exactly 1: one account", len(winners), n, winners)
	}
	if got := signUpAttemptsAfter(t, s, "localhost", email, n-1); got != n-1 {
		t.Errorf("dev outbox holds %d \"Sign-up attempt\" mails to %s, want %d", got, email, n-1)
	}
}

// TestForgedAccessTokensAreRejected: tokens built from a real one with the
// classic JWT attacks are all refused with invalid_token.
func TestForgedAccessTokensAreRejected(t *testing.T) {
	t.Parallel()
	s := startLocal(t)
	a := newAccount("forger")
	register(t, s, "localhost", a)
	valid := login(t, s, "localhost", a, "").AccessToken
	key, _ := jwksKey(t, s, withHost("localhost"))
	pub, err := base64.RawURLEncoding.DecodeString(key.X)
	if err != nil {
		t.Fatal(err)
	}

	parts := strings.Split(valid, ".")
	if len(parts) != 3 {
		t.Fatalf("access token %q is not a JWS in compact form", valid)
	}
	var header, claims map[string]any
	for i, dst := range []*map[string]any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("token segment %d: %v", i, err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(dst); err != nil {
			t.Fatalf("token segment %d: %v", i, err)
		}
	}
	if header["kid"] != key.Kid {
		t.Fatalf("token kid %v is not the JWKS kid %s", header["kid"], key.Kid)
	}
	attackerPub, attackerKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	seg := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	with := func(m map[string]any, kv ...any) map[string]any {
		out := maps.Clone(m)
		for i := 0; i < len(kv); i += 2 {
			out[kv[i].(string)] = kv[i+1]
		}
		return out
	}
	hs256 := func(secret []byte) func(string) string {
		return func(input string) string {
			m := hmac.New(sha256.New, secret)
			m.Write([]byte(input))
			return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
		}
	}
	eddsa := func(input string) string {
		return base64.RawURLEncoding.EncodeToString(ed25519.Sign(attackerKey, []byte(input)))
	}
	none := func(string) string { return "" }
	original := func(string) string { return parts[2] }
	build := func(h, c map[string]any, sign func(string) string) string {
		input := seg(h) + "." + seg(c)
		return input + "." + sign(input)
	}
	past := time.Now().Add(-2 * time.Hour).Unix()
	expired := with(claims, "iat", past-3600, "exp", past)
	altered := []byte(parts[2])
	if altered[10] == 'A' {
		altered[10] = 'B'
	} else {
		altered[10] = 'A'
	}

	tests := []struct {
		name  string
		token string
	}{
		{"alg none, empty signature", build(map[string]any{"alg": "none"}, claims, none)},
		{"alg none with the real kid", build(with(header, "alg", "none"), claims, none)},
		{"alg None", build(map[string]any{"alg": "None", "typ": "JWT"}, claims, none)},
		{"alg none, original signature kept", build(with(header, "alg", "none"), claims, original)},
		{"HS256 keyed with the public key bytes", build(with(header, "alg", "HS256"), claims, hs256(pub))},
		{"HS256 keyed with the public key's base64url x", build(with(header, "alg", "HS256"), claims, hs256([]byte(key.X)))},
		{"HS256 without kid keyed with the public key bytes", build(map[string]any{"alg": "HS256", "typ": "JWT"}, claims, hs256(pub))},
		{"unknown kid, signed by another key", build(with(header, "kid", "no-such-key"), claims, eddsa)},
		{"real kid, signed by another key", build(header, claims, eddsa)},
		{"kid path traversal, HS256 with an empty key", build(with(header, "alg", "HS256", "kid", "../../../dev/null"), claims, hs256(nil))},
		{"kid path traversal, signed by another key", build(with(header, "kid", "../../../dev/null"), claims, eddsa)},
		{"kid SQL injection, HS256 with an empty key", build(with(header, "alg", "HS256", "kid", "' OR 1=1 --"), claims, hs256(nil))},
		{"kid SQL injection, signed by another key", build(with(header, "kid", "' OR 1=1 --"), claims, eddsa)},
		{"embedded jwk of the attacker's key", build(with(header, "jwk", map[string]any{"kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(attackerPub)}), claims, eddsa)},
		{"role admin with the original signature", build(header, with(claims, "role", "admin"), original)},
		{"role admin signed by another key", build(header, with(claims, "role", "admin"), eddsa)},
		{"expired, original signature", build(header, expired, original)},
		{"expired, signed by another key", build(header, expired, eddsa)},
		{"signature stripped", parts[0] + "." + parts[1] + "."},
		{"signature altered", parts[0] + "." + parts[1] + "." + string(altered)},
		{"two segments", parts[0] + "." + parts[1]},
		{"padded base64", parts[0] + "=." + parts[1] + "." + parts[2]},
	}
	t.Run("valid token", func(t *testing.T) {
		if r := me(t, s, "localhost", withBearer(valid)); r.Status != http.StatusOK {
			t.Fatalf("the real token: status %d, want 200; body %s", r.Status, r.Body)
		}
	})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantProblem(t, me(t, s, "localhost", withBearer(tc.token)), http.StatusUnauthorized, "invalid_token")
		})
	}
}

// TestTokenOfOneTenantIsRejectedByAnother: credentials are only good with
// the tenant that issued them.
func TestTokenOfOneTenantIsRejectedByAnother(t *testing.T) {
	t.Parallel()
	s := startTenants(t,
		tenantSpec{ID: "alpha", Domains: []string{"alpha.localhost"}},
		tenantSpec{ID: "beta", Domains: []string{"beta.localhost"}})
	a := newAccount("both")
	register(t, s, "alpha.localhost", a)
	register(t, s, "beta.localhost", a) // the same address exists at beta too
	bearer := login(t, s, "alpha.localhost", a, "").AccessToken
	app := login(t, s, "alpha.localhost", a, "app").AppToken
	cookie := login(t, s, "alpha.localhost", a, "cookie").Cookie
	if cookie == "" {
		t.Fatal("cookie login set no session cookie")
	}
	creds := []struct {
		name string
		opt  reqOption
	}{
		{"access token", withBearer(bearer)},
		{"app token", withAppToken(app)},
		{"session cookie", withSessionCookie(cookie)},
	}
	for _, c := range creds {
		t.Run(c.name, func(t *testing.T) {
			if r := me(t, s, "alpha.localhost", c.opt); r.Status != http.StatusOK {
				t.Fatalf("with the issuing tenant: status %d, want 200; body %s", r.Status, r.Body)
			}
			wantProblem(t, me(t, s, "beta.localhost", c.opt), http.StatusUnauthorized, "invalid_token")
			wantProblem(t, s.get(t, "/auth/v1/me", withTenant("beta"), c.opt), http.StatusUnauthorized, "invalid_token")
		})
	}
}

// TestRefreshTokenIsNotAnAccessToken: a refresh token opens nothing but the
// refresh endpoint, and an access token does not refresh.
func TestRefreshTokenIsNotAnAccessToken(t *testing.T) {
	t.Parallel()
	s := startLocal(t)
	a := newAccount("refresher")
	register(t, s, "localhost", a)
	sess := login(t, s, "localhost", a, "")
	app := login(t, s, "localhost", a, "app").AppToken
	t.Run("refresh token as Bearer", func(t *testing.T) {
		wantProblem(t, me(t, s, "localhost", withBearer(sess.RefreshToken)), http.StatusUnauthorized, "invalid_token")
	})
	t.Run("refresh token as Token", func(t *testing.T) {
		wantProblem(t, me(t, s, "localhost", withAppToken(sess.RefreshToken)), http.StatusUnauthorized, "invalid_token")
	})
	t.Run("refresh token as session cookie", func(t *testing.T) {
		wantProblem(t, me(t, s, "localhost", withSessionCookie(sess.RefreshToken)), http.StatusUnauthorized, "invalid_token")
	})
	for name, tok := range map[string]string{"access token": sess.AccessToken, "app token": app} {
		t.Run(name+" as refresh token", func(t *testing.T) {
			r := s.do(t, http.MethodPost, "/auth/v1/token/refresh", withHost("localhost"), withJSON(map[string]any{"refresh_token": tok}))
			wantProblem(t, r, http.StatusUnauthorized, "invalid_token")
		})
	}
	t.Run("the refresh token still refreshes", func(t *testing.T) {
		r := s.do(t, http.MethodPost, "/auth/v1/token/refresh", withHost("localhost"), withJSON(map[string]any{"refresh_token": sess.RefreshToken}))
		if r.Status != http.StatusOK {
			t.Fatalf("refresh: status %d, want 200; body %s", r.Status, r.Body)
		}
	})
}

// TestHugeAuthorizationHeader: a megabyte of header is refused before it
// costs anything, and the server keeps serving without holding on to it.
func TestHugeAuthorizationHeader(t *testing.T) {
	t.Parallel()
	s := startLocal(t)
	raw := "GET /auth/v1/me HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + strings.Repeat(".", 1<<20) + "\r\n\r\n"
	healthy := func() {
		t.Helper()
		if r := s.get(t, "/healthz"); r.Status != http.StatusOK {
			t.Fatalf("GET /healthz after the huge header: status %d; body %s", r.Status, r.Body)
		}
	}
	t.Logf("first huge request: %s", sendHuge(t, s, raw))
	healthy()

	before := vmRSS(t, s.cmd.Process.Pid)
	outcomes := map[string]int{}
	for range 20 {
		outcomes[sendHuge(t, s, raw)]++
	}
	after := vmRSS(t, s.cmd.Process.Pid)
	healthy()
	t.Logf("20 more: %v; server VmRSS %d KiB before, %d KiB after (%+d KiB)", outcomes, before, after, after-before)
	if after-before > 64<<10 {
		t.Errorf("server VmRSS grew by %d KiB over 20 huge requests, want under 64 MiB", after-before)
	}
}

// sendHuge sends raw on a fresh connection and describes the outcome: the
// status of a 4xx answer or "closed" when the server closed the
// connection. Anything else (a 2xx or 5xx, no answer in time) fails the
// test.
func sendHuge(t *testing.T, s *server, raw string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	written := make(chan error, 1)
	go func() {
		_, err := c.Write([]byte(raw))
		written <- err
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	c.Close() // unblocks the writer if the server stopped reading
	<-written
	var ne net.Error
	switch {
	case err != nil && errors.As(err, &ne) && ne.Timeout():
		t.Fatalf("no answer within 20s to a request with a 1 MiB header: %v", err)
	case err != nil:
		return "closed"
	}
	resp.Body.Close()
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Fatalf("request with a 1 MiB Authorization header answered %s, want a 4xx or a closed connection", resp.Status)
	}
	return resp.Status
}

// vmRSS reads a process's resident set size in KiB from /proc.
func vmRSS(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("cannot read the server's memory use: %v", err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatalf("VmRSS line %q: %v", line, err)
			}
			return n
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// TestRegisterIgnoresMassAssignment: fields a client must not set at sign-up
// are ignored on both surfaces that register.
func TestRegisterIgnoresMassAssignment(t *testing.T) {
	t.Parallel()
	s := startTenants(t,
		tenantSpec{ID: "local", Domains: []string{"localhost"}},
		tenantSpec{ID: "other", Domains: []string{"other.localhost"}})
	privileged := map[string]any{
		"role": "admin", "is_staff": true, "is_superuser": true, "tenant_id": "other", "tenant": "other",
		"email_verified": true, "is_email_verified": true, "id": "x", "user_id": "x", "is_active": false,
		"created_at": "2000-01-01T00:00:00Z", "password_hash": "$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
		"user": map[string]any{"role": "admin"},
	}
	checkUser := func(t *testing.T, a account) {
		t.Helper()
		sess := login(t, s, "localhost", a, "")
		u := decodeJSON[struct {
			User map[string]any `json:"user"`
		}](t, me(t, s, "localhost", withBearer(sess.AccessToken))).User
		if u["role"] != "user" || u["email_verified"] != false || u["id"] == "x" || u["id"] == "" || strings.HasPrefix(fmt.Sprint(u["created_at"]), "2000") {
			t.Errorf("/auth/v1/me user = %v, want role user, email_verified false, a server-chosen id and creation time", u)
		}
		if r := tryLogin(t, s, "other.localhost", a.Email, a.Password); r.Status != http.StatusUnauthorized {
			t.Errorf("login at the tenant named in tenant_id: status %d, want 401; body %s", r.Status, r.Body)
		}
	}
	t.Run("canonical", func(t *testing.T) {
		a := newAccount("massive")
		body := registerBody(a)
		maps.Copy(body, privileged)
		r := s.do(t, http.MethodPost, "/auth/v1/register", withHost("localhost"), withJSON(body))
		if r.Status != http.StatusAccepted {
			t.Fatalf("register: status %d, want 202; body %s", r.Status, r.Body)
		}
		checkUser(t, a)
	})
	t.Run("seed 001", func(t *testing.T) {
		a := newAccount("massive001")
		body := registerBody(a)
		maps.Copy(body, privileged)
		r := s.do(t, http.MethodPost, "/api/user/register/", withHost("localhost"), withHeader("X-Auth-Mode", "app-token"), withJSON(body))
		if r.Status != http.StatusOK {
			t.Fatalf("register: status %d, want 200; body %s", r.Status, r.Body)
		}
		u := decodeJSON[struct {
			User map[string]any `json:"user"`
		}](t, r).User
		if u["is_active"] != true || u["is_email_verified"] != false || u["id"] == "x" {
			t.Errorf("seed 001 register answered user %v, want is_active true, is_email_verified false, a server-chosen id", u)
		}
		checkUser(t, a)
	})
}

// TestPasswordLengthIsCountedInCodePoints: the policy's 128 is characters,
// not bytes, and passwords are compared in NFKC form.
func TestPasswordLengthIsCountedInCodePoints(t *testing.T) {
	t.Parallel()
	s := startLocal(t)
	refused := []struct{ name, password string }{
		{"129 ASCII characters", strings.Repeat("aB3-", 32) + "x"},
		{"129 three-byte characters", strings.Repeat("日", 129)},
	}
	for _, tc := range refused {
		t.Run(tc.name+" is refused", func(t *testing.T) {
			a := account{Email: uniqueEmail("long"), Password: tc.password}
			r := s.do(t, http.MethodPost, "/auth/v1/register", withHost("localhost"), withJSON(registerBody(a)))
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400; body %s", r.Status, r.Body)
			}
			p := decodeJSON[fieldProblem](t, r)
			if !slices.ContainsFunc(p.Errors, func(e fieldError) bool { return e.Field == "password" }) {
				t.Errorf("problem %s names no password field error", r.Body)
			}
			if tr := tryLogin(t, s, "localhost", a.Email, a.Password); tr.Status != http.StatusUnauthorized {
				t.Errorf("login after the refused registration: status %d, want 401", tr.Status)
			}
		})
	}
	accepted := []struct{ name, register, login string }{
		{"100 two-byte characters", strings.Repeat("é", 100), strings.Repeat("é", 100)},
		{"128 three-byte characters", strings.Repeat("日", 128), strings.Repeat("日", 128)},
		{"NFC registered, NFD typed", "Cr\u00e8me br\u00fbl\u00e9e 42!", "Cre\u0300me bru\u0302le\u0301e 42!"},
		{"NFD registered, NFC typed", "Cre\u0300me bru\u0302le\u0301e 43!", "Cr\u00e8me br\u00fbl\u00e9e 43!"},
		{"fullwidth registered, ASCII typed", "\uff34\uff52\uff4f\uff55\uff54-\uff17\uff19-\uff4b\uff4b", "Trout-79-kk"},
	}
	for _, tc := range accepted {
		t.Run(tc.name+" is accepted", func(t *testing.T) {
			a := account{Email: uniqueEmail("unicode"), Password: tc.register}
			register(t, s, "localhost", a)
			if r := tryLogin(t, s, "localhost", a.Email, tc.login); r.Status != http.StatusOK {
				t.Errorf("login with %q: status %d, want 200; body %s", tc.login, r.Status, r.Body)
			}
		})
	}
	t.Run("accents are not stripped", func(t *testing.T) {
		a := account{Email: uniqueEmail("accent"), Password: strings.Repeat("é", 20)}
		register(t, s, "localhost", a)
		if r := tryLogin(t, s, "localhost", a.Email, strings.Repeat("e", 20)); r.Status != http.StatusUnauthorized {
			t.Errorf("login with the unaccented password: status %d, want 401", r.Status)
		}
	})
}

// TestEmailDifferingByCaseOrUnicodeFormIsADuplicate: one mailbox, one
// account, whatever spelling a later sign-up uses.
func TestEmailDifferingByCaseOrUnicodeFormIsADuplicate(t *testing.T) {
	t.Parallel()
	s := startLocal(t)
	n := addressSeq.Add(1)
	first := account{Email: fmt.Sprintf("Ann.X%d@Example.com", n), Password: strongPassword()}
	lower := account{Email: strings.ToLower(first.Email), Password: strongPassword()}
	// Fullwidth letters and digits; NFKC folds them to ASCII.
	fullwidth := account{Email: toFullwidth(fmt.Sprintf("ann.x%d", n)) + "@example.com", Password: strongPassword()}
	register(t, s, "localhost", first)
	for _, dup := range []account{lower, fullwidth} {
		r := s.do(t, http.MethodPost, "/auth/v1/register", withHost("localhost"), withJSON(registerBody(dup)))
		if r.Status != http.StatusAccepted {
			t.Errorf("register %s: status %d, want 202; body %s", dup.Email, r.Status, r.Body)
		}
	}
	msgs := settledOutbox(t, s, "localhost")
	if got := signUpAttempts(msgs, lower.Email); got != 2 {
		t.Errorf("dev outbox holds %d \"Sign-up attempt\" mails for %s, want 2 (one per duplicate): %+v", got, first.Email, msgs)
	}
	for _, spelling := range []string{first.Email, lower.Email, fullwidth.Email} {
		if r := tryLogin(t, s, "localhost", spelling, first.Password); r.Status != http.StatusOK {
			t.Errorf("login as %s with the first password: status %d, want 200; body %s", spelling, r.Status, r.Body)
		}
		for _, other := range []account{lower, fullwidth} {
			if r := tryLogin(t, s, "localhost", spelling, other.Password); r.Status != http.StatusUnauthorized {
				t.Errorf("login as %s with the password of the %s sign-up: status %d, want 401", spelling, other.Email, r.Status)
			}
		}
	}
}

// toFullwidth maps ASCII letters, digits and "." to their fullwidth forms.
func toFullwidth(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '!' && r <= '~' {
			return r - '!' + '\uff01'
		}
		return r
	}, s)
}

// TestUnsafeNextIsIgnored: seed 000's login "next" and logout redirect only
// go where the tenant allows.
func TestUnsafeNextIsIgnored(t *testing.T) {
	t.Parallel()
	const home = "/home/" // redirects.default; distinct from "/", where account-page referrers go
	s := startTenants(t, tenantSpec{ID: "local", Domains: []string{"localhost"}, RedirectDefault: home})
	a := newAccount("redirected")
	register(t, s, "localhost", a)
	seedLogin := func(t *testing.T, next string) (key string, nextGot any) {
		t.Helper()
		path := "/users/login/"
		if next != "" {
			path += "?next=" + url.QueryEscape(next)
		}
		r := s.do(t, http.MethodPost, path, withHost("localhost"), withForm(url.Values{"email": {a.Email}, "password": {a.Password}}))
		if r.Status != http.StatusOK {
			t.Fatalf("seed 000 login: status %d, want 200; body %s", r.Status, r.Body)
		}
		m := decodeJSON[map[string]any](t, r)
		if _, ok := m["next"]; !ok {
			t.Errorf("login answer %s has no next", r.Body)
		}
		k, _ := m["key"].(string)
		return k, m["next"]
	}
	unsafe := []string{
		"//evil.example", `/\evil.example`, "https:evil.example", "https://trusted@evil.example", "javascript:alert(1)",
		"https://evil.example/", "/\t/evil.example", "http://localhost:3000@evil.example", "JavaScript:alert(1)", " //evil.example",
	}
	safe := map[string]string{"/dashboard/": "/dashboard/", "http://localhost:3000/after": "http://localhost:3000/after"}

	for _, v := range unsafe {
		t.Run("login next "+strconv.Quote(v), func(t *testing.T) {
			if _, got := seedLogin(t, v); got != nil {
				t.Errorf("next %q answered next %v, want null", v, got)
			}
		})
	}
	for v, want := range safe {
		t.Run("login next "+strconv.Quote(v), func(t *testing.T) {
			if _, got := seedLogin(t, v); got != want {
				t.Errorf("next %q answered next %v, want %q", v, got, want)
			}
		})
	}

	logout := func(t *testing.T, fields url.Values, referer, want string) {
		t.Helper()
		key, _ := seedLogin(t, "")
		opts := []reqOption{withHost("localhost"), withAppToken(key), withForm(fields)}
		if referer != "" {
			opts = append(opts, withHeader("Referer", referer))
		}
		r := s.do(t, http.MethodPost, "/users/logout/", opts...)
		if r.Status != http.StatusFound {
			t.Fatalf("logout: status %d, want 302; body %s", r.Status, r.Body)
		}
		if got := r.Header.Get("Location"); got != want {
			t.Errorf("logout redirected to %q, want %q", got, want)
		}
		if r := me(t, s, "localhost", withAppToken(key)); r.Status != http.StatusUnauthorized {
			t.Errorf("the key after logout: status %d, want 401", r.Status)
		}
	}
	for _, v := range unsafe {
		t.Run("logout next "+strconv.Quote(v), func(t *testing.T) {
			logout(t, url.Values{"next": {v}}, "", home)
		})
	}
	t.Run("logout next /basket/", func(t *testing.T) { logout(t, url.Values{"next": {"/basket/"}}, "", "/basket/") })
	t.Run("logout from an account page", func(t *testing.T) { logout(t, nil, "http://localhost/users/profile/", "/") })
	t.Run("logout from another page", func(t *testing.T) { logout(t, nil, "http://localhost/shop/", home) })
	t.Run("logout with an unsafe next from an account page", func(t *testing.T) {
		logout(t, url.Values{"next": {"//evil.example"}}, "http://localhost/users/profile/", home)
	})
}

// TestCrossSiteLogoutWithoutCSRFIsRefused: a cookie session is only ended by
// a same-origin request carrying its CSRF token, on every surface that has
// a logout.
func TestCrossSiteLogoutWithoutCSRFIsRefused(t *testing.T) {
	t.Parallel()
	s := startLocal(t)
	surfaces := []struct {
		name       string
		path       string
		csrfHeader string
		refused    func(t *testing.T, r reply)
		done       int
	}{
		{"canonical", "/auth/v1/logout", "X-CSRF-Token", func(t *testing.T, r reply) {
			t.Helper()
			wantProblem(t, r, http.StatusForbidden, "csrf_failed")
		}, http.StatusNoContent},
		{"seed 000", "/users/logout/", "X-CSRFToken", func(t *testing.T, r reply) {
			t.Helper()
			if r.Status != http.StatusForbidden {
				t.Errorf("status %d, want 403; body %s", r.Status, r.Body)
			} else if d, _ := decodeJSON[map[string]any](t, r)["detail"].(string); !strings.Contains(d, "CSRF") {
				t.Errorf("body %s, want a CSRF detail", r.Body)
			}
		}, http.StatusFound},
		{"seed 001", "/api/user/logout/", "X-CSRF-Token", func(t *testing.T, r reply) {
			t.Helper()
			if r.Status != http.StatusForbidden {
				t.Errorf("status %d, want 403; body %s", r.Status, r.Body)
			} else if m := decodeJSON[map[string]any](t, r); m["code"] != "CSRFFailed" || m["status"] != "403" {
				t.Errorf("body %s, want code CSRFFailed, status \"403\"", r.Body)
			}
		}, http.StatusNoContent},
	}
	for _, sf := range surfaces {
		t.Run(sf.name, func(t *testing.T) {
			a := newAccount("csrf")
			register(t, s, "localhost", a)
			sess := login(t, s, "localhost", a, "cookie")
			other := login(t, s, "localhost", a, "cookie")
			if sess.Cookie == "" || sess.CSRFToken == "" {
				t.Fatalf("cookie login gave cookie %q and csrf_token %q", sess.Cookie, sess.CSRFToken)
			}
			attempts := []struct {
				name string
				opts []reqOption
			}{
				{"cross-site Origin, no token", []reqOption{withHeader("Origin", "https://evil.example")}},
				{"same Origin, no token", []reqOption{withHeader("Origin", "http://localhost")}},
				{"no Origin, no token", nil},
				{"cross-site Origin with the token", []reqOption{withHeader("Origin", "https://evil.example"), withHeader(sf.csrfHeader, sess.CSRFToken)}},
				{"Origin null with the token", []reqOption{withHeader("Origin", "null"), withHeader(sf.csrfHeader, sess.CSRFToken)}},
				{"Sec-Fetch-Site cross-site with the token", []reqOption{withHeader("Sec-Fetch-Site", "cross-site"), withHeader(sf.csrfHeader, sess.CSRFToken)}},
				{"Sec-Fetch-Site same-site with the token", []reqOption{withHeader("Sec-Fetch-Site", "same-site"), withHeader(sf.csrfHeader, sess.CSRFToken)}},
				{"same Origin, another session's token", []reqOption{withHeader("Origin", "http://localhost"), withHeader(sf.csrfHeader, other.CSRFToken)}},
				{"same Origin, the cookie as token", []reqOption{withHeader("Origin", "http://localhost"), withHeader(sf.csrfHeader, sess.Cookie)}},
			}
			for _, at := range attempts {
				opts := append([]reqOption{withHost("localhost"), withSessionCookie(sess.Cookie)}, at.opts...)
				r := s.do(t, http.MethodPost, sf.path, opts...)
				t.Run(at.name, func(t *testing.T) { sf.refused(t, r) })
			}
			if r := me(t, s, "localhost", withSessionCookie(sess.Cookie)); r.Status != http.StatusOK {
				t.Fatalf("the session after the refused logouts: status %d, want 200; body %s", r.Status, r.Body)
			}
			r := s.do(t, http.MethodPost, sf.path, withHost("localhost"), withSessionCookie(sess.Cookie),
				withHeader("Origin", "http://localhost"), withHeader(sf.csrfHeader, sess.CSRFToken))
			if r.Status != sf.done {
				t.Fatalf("same-origin logout with the token: status %d, want %d; body %s", r.Status, sf.done, r.Body)
			}
			if c := sessionCookie(r); c == nil || c.Value != "" {
				t.Errorf("logout did not clear the session cookie: Set-Cookie %q", r.Header.Values("Set-Cookie"))
			}
			wantProblem(t, me(t, s, "localhost", withSessionCookie(sess.Cookie)), http.StatusUnauthorized, "invalid_token")
			if r := me(t, s, "localhost", withSessionCookie(other.Cookie)); r.Status != http.StatusOK {
				t.Errorf("the user's other session after logout: status %d, want 200", r.Status)
			}
		})
	}
}

// TestLogoutRevokesEveryCredentialAtOnce: after logout the credential is
// dead on the very next request.
func TestLogoutRevokesEveryCredentialAtOnce(t *testing.T) {
	t.Parallel()
	s := startLocal(t)
	a := newAccount("leaver")
	register(t, s, "localhost", a)
	kinds := []struct {
		name string
		kind string
		cred func(loginAnswer) []reqOption
	}{
		{"bearer", "", func(l loginAnswer) []reqOption { return []reqOption{withBearer(l.AccessToken)} }},
		{"app token", "app", func(l loginAnswer) []reqOption { return []reqOption{withAppToken(l.AppToken)} }},
		{"cookie", "cookie", func(l loginAnswer) []reqOption { return []reqOption{withSessionCookie(l.Cookie)} }},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			l := login(t, s, "localhost", a, k.kind)
			cred := k.cred(l)
			if r := me(t, s, "localhost", cred...); r.Status != http.StatusOK {
				t.Fatalf("before logout: status %d, want 200; body %s", r.Status, r.Body)
			}
			opts := append([]reqOption{withHost("localhost")}, cred...)
			if k.kind == "cookie" {
				opts = append(opts, withHeader("X-CSRF-Token", l.CSRFToken), withHeader("Origin", "http://localhost"))
			}
			if r := s.do(t, http.MethodPost, "/auth/v1/logout", opts...); r.Status != http.StatusNoContent {
				t.Fatalf("logout: status %d, want 204; body %s", r.Status, r.Body)
			}
			wantProblem(t, me(t, s, "localhost", cred...), http.StatusUnauthorized, "invalid_token")
			if k.kind == "" {
				r := s.do(t, http.MethodPost, "/auth/v1/token/refresh", withHost("localhost"), withJSON(map[string]any{"refresh_token": l.RefreshToken}))
				wantProblem(t, r, http.StatusUnauthorized, "invalid_token")
			}
			if r := s.do(t, http.MethodPost, "/auth/v1/logout", opts...); r.Status != http.StatusUnauthorized {
				t.Errorf("second logout with the same credential: status %d, want 401", r.Status)
			}
		})
	}
}

// TestReusedRefreshTokenRevokesTheFamily: presenting a used refresh token
// (a stolen copy) ends the whole session, the thief's and the owner's
// tokens alike.
func TestReusedRefreshTokenRevokesTheFamily(t *testing.T) {
	t.Parallel()
	s := startLocal(t)
	a := newAccount("family")
	register(t, s, "localhost", a)
	first := login(t, s, "localhost", a, "")
	refresh := func(token string) reply {
		return s.do(t, http.MethodPost, "/auth/v1/token/refresh", withHost("localhost"), withJSON(map[string]any{"refresh_token": token}))
	}
	r := refresh(first.RefreshToken)
	if r.Status != http.StatusOK {
		t.Fatalf("first refresh: status %d, want 200; body %s", r.Status, r.Body)
	}
	second := decodeJSON[loginAnswer](t, r)
	if second.AccessToken == "" || second.RefreshToken == "" || second.RefreshToken == first.RefreshToken {
		t.Fatalf("refresh answered %s, want a new access and refresh token", r.Body)
	}
	if r := me(t, s, "localhost", withBearer(second.AccessToken)); r.Status != http.StatusOK {
		t.Fatalf("A2 before the reuse: status %d, want 200", r.Status)
	}
	other := login(t, s, "localhost", a, "") // another session of the same user

	wantProblem(t, refresh(first.RefreshToken), http.StatusUnauthorized, "refresh_token_reused")
	wantProblem(t, me(t, s, "localhost", withBearer(second.AccessToken)), http.StatusUnauthorized, "invalid_token")
	wantProblem(t, me(t, s, "localhost", withBearer(first.AccessToken)), http.StatusUnauthorized, "invalid_token")
	wantProblem(t, refresh(second.RefreshToken), http.StatusUnauthorized, "invalid_token")
	if r := me(t, s, "localhost", withBearer(other.AccessToken)); r.Status != http.StatusOK {
		t.Errorf("the user's other session after the reuse: status %d, want 200", r.Status)
	}
}

// TestLoginThrottling: guessing is slowed per account and per client, and
// sign-ups per client.
func TestLoginThrottling(t *testing.T) {
	t.Parallel()
	s := startTenants(t,
		tenantSpec{ID: "per-account", Domains: []string{"account.localhost"}, LoginPerAccount: "{limit: 3, window: 3s}", LoginPerIP: "{limit: 1000, window: 1h}"},
		tenantSpec{ID: "per-ip", Domains: []string{"ip.localhost"}, LoginPerIP: "{limit: 2, window: 1h}"},
		tenantSpec{ID: "register", Domains: []string{"register.localhost"}, RegisterPerIP: "{limit: 2, window: 1h}"})

	wantThrottled := func(t *testing.T, r reply) {
		t.Helper()
		wantProblem(t, r, http.StatusTooManyRequests, "throttled")
		ra := r.Header.Get("Retry-After")
		if n, err := strconv.Atoi(ra); err != nil || n < 1 {
			t.Errorf("Retry-After %q, want whole seconds, at least 1", ra)
		}
	}

	t.Run("per account", func(t *testing.T) {
		t.Parallel()
		const host = "account.localhost"
		a := newAccount("guessed")
		register(t, s, host, a)
		for i := range 3 {
			if r := tryLogin(t, s, host, a.Email, strongPassword()); r.Status != http.StatusUnauthorized {
				t.Fatalf("wrong password %d: status %d, want 401; body %s", i+1, r.Status, r.Body)
			}
		}
		// Another spelling of the address is the same account.
		local, domain, _ := strings.Cut(a.Email, "@")
		for _, spelling := range []string{strings.ToUpper(a.Email), toFullwidth(local) + "@" + domain} {
			wantThrottled(t, tryLogin(t, s, host, spelling, strongPassword()))
		}
		wantThrottled(t, tryLogin(t, s, host, a.Email, a.Password))
		begun := time.Now()
		for {
			r := tryLogin(t, s, host, a.Email, a.Password)
			if r.Status == http.StatusOK {
				t.Logf("the right password logged in again %s after the refusal", time.Since(begun).Round(time.Millisecond))
				break
			}
			if r.Status != http.StatusTooManyRequests {
				t.Fatalf("waiting out the limit: status %d, want 429 or 200; body %s", r.Status, r.Body)
			}
			if time.Since(begun) > 10*time.Second {
				t.Fatalf("still throttled 10s after the refusal (window 3s)")
			}
			time.Sleep(250 * time.Millisecond)
		}
	})
	t.Run("per IP", func(t *testing.T) {
		t.Parallel()
		const host = "ip.localhost"
		a := newAccount("bystander")
		register(t, s, host, a)
		for i := range 2 {
			if r := tryLogin(t, s, host, uniqueEmail("sprayed"), strongPassword()); r.Status != http.StatusUnauthorized {
				t.Fatalf("failed login %d: status %d, want 401; body %s", i+1, r.Status, r.Body)
			}
		}
		wantThrottled(t, tryLogin(t, s, host, uniqueEmail("sprayed"), strongPassword()))
		wantThrottled(t, tryLogin(t, s, host, a.Email, a.Password))
		// The server trusts no proxy, so a forwarded-for header is no way
		// out of the limit.
		for _, h := range []string{"X-Forwarded-For", "X-Real-IP", "Forwarded"} {
			v := "203.0.113.7"
			if h == "Forwarded" {
				v = "for=203.0.113.7"
			}
			r := s.do(t, http.MethodPost, "/auth/v1/login", withHost(host), withHeader(h, v),
				withJSON(map[string]any{"email": a.Email, "password": a.Password}))
			t.Run("spoofed "+h, func(t *testing.T) { wantThrottled(t, r) })
		}
	})
	t.Run("registration per IP", func(t *testing.T) {
		t.Parallel()
		const host = "register.localhost"
		for range 2 {
			register(t, s, host, newAccount("signup"))
		}
		a := newAccount("signup")
		wantThrottled(t, s.do(t, http.MethodPost, "/auth/v1/register", withHost(host), withJSON(registerBody(a))))
		if r := tryLogin(t, s, host, a.Email, a.Password); r.Status != http.StatusUnauthorized {
			t.Errorf("login of the refused registration: status %d, want 401", r.Status)
		}
	})
}

// TestSeed001Surface: the seed 001 profile's fields, credentials, error
// shape, limits and routes.
func TestSeed001Surface(t *testing.T) {
	t.Parallel()
	s := startTenants(t,
		tenantSpec{ID: "local", Domains: []string{"localhost"}},
		tenantSpec{ID: "plain", Domains: []string{"plain.localhost"}, NoSeed000: true, NoSeed001: true})
	post := func(t *testing.T, path string, body any, opts ...reqOption) reply {
		t.Helper()
		return s.do(t, http.MethodPost, path, append([]reqOption{withHost("localhost"), withJSON(body)}, opts...)...)
	}
	appMode := withHeader("X-Auth-Mode", "app-token")
	wantShape := func(t *testing.T, r reply, withSession bool) map[string]any {
		t.Helper()
		if r.Status != http.StatusOK {
			t.Fatalf("status %d, want 200; body %s", r.Status, r.Body)
		}
		m := decodeJSON[map[string]any](t, r)
		want := []string{"last_session", "last_token_session", "user"}
		if withSession {
			want = append(want, "session")
		}
		slices.Sort(want)
		if got := slices.Sorted(maps.Keys(m)); !slices.Equal(got, want) {
			t.Errorf("answer keys %v, want %v: %s", got, want, r.Body)
		}
		return m
	}
	wantError := func(t *testing.T, r reply, status int, code string, extra ...string) {
		t.Helper()
		if r.Status != status {
			t.Fatalf("status %d, want %d; body %s", r.Status, status, r.Body)
		}
		m := decodeJSON[map[string]any](t, r)
		keys := slices.DeleteFunc(slices.Sorted(maps.Keys(m)), func(k string) bool { return slices.Contains(extra, k) })
		if want := []string{"code", "detail", "status", "title"}; !slices.Equal(keys, want) {
			t.Errorf("error keys %v, want %v: %s", keys, want, r.Body)
		}
		if m["status"] != strconv.Itoa(status) || m["code"] != code {
			t.Errorf("error %s, want status %q and code %q", r.Body, strconv.Itoa(status), code)
		}
		for _, k := range []string{"detail", "title"} {
			if v, _ := m[k].(string); v == "" {
				t.Errorf("error %s has no %s string", r.Body, k)
			}
		}
	}
	key := func(t *testing.T, m map[string]any) string {
		t.Helper()
		sess, _ := m["session"].(map[string]any)
		k, _ := sess["key"].(string)
		if id, _ := sess["id"].(string); id == "" || k == "" {
			t.Fatalf("session %v, want an id and a key", m["session"])
		}
		return k
	}

	a := newAccount("axor")
	t.Run("register with an app token", func(t *testing.T) {
		m := wantShape(t, post(t, "/api/user/register/", registerBody(a), appMode), true)
		if m["last_session"] != nil || m["last_token_session"] != nil {
			t.Errorf("register answered last_session %v, last_token_session %v, want null", m["last_session"], m["last_token_session"])
		}
		k := key(t, m)
		if r := s.get(t, "/api/user/me/", withHost("localhost"), withAppToken(k)); r.Status != http.StatusOK {
			t.Errorf("me with the key: status %d; body %s", r.Status, r.Body)
		}
	})
	t.Run("login with an app token", func(t *testing.T) {
		for _, path := range []string{"/api/user/login/", "/api/user/login"} {
			m := wantShape(t, post(t, path, map[string]any{"email": a.Email, "password": a.Password}, appMode), true)
			if m["last_token_session"] == nil {
				t.Errorf("%s: last_token_session null after an earlier app-token session", path)
			}
			k := key(t, m)
			for _, me := range []string{"/api/user/me/", "/api/user/me", "/auth/v1/me"} {
				r := s.get(t, me, withHost("localhost"), withAppToken(k))
				if r.Status != http.StatusOK || !bytes.Contains(r.Body, []byte(a.Email)) {
					t.Errorf("GET %s with the key: status %d, body %s", me, r.Status, r.Body)
				}
			}
		}
	})
	t.Run("the original's client-mode header selects the mode", func(t *testing.T) {
		creds := map[string]any{"email": a.Email, "password": a.Password}
		for _, v := range []string{"mobile_app", "ios"} {
			key(t, wantShape(t, post(t, "/api/user/login/", creds, withHeader("X-Requested-By", v)), true))
		}
		r := post(t, "/api/user/login/", creds, withHeader("X-Requested-By", "web"))
		wantShape(t, r, false)
		if sessionCookie(r) == nil {
			t.Error("X-Requested-By: web did not set the session cookie")
		}
	})
	t.Run("login with a session cookie", func(t *testing.T) {
		var cookie string
		for i := range 2 {
			r := post(t, "/api/user/login/", map[string]any{"email": a.Email, "password": a.Password})
			m := wantShape(t, r, false)
			c := sessionCookie(r)
			if c == nil || c.Value == "" || !c.HttpOnly {
				t.Fatalf("cookie login set no HttpOnly session cookie: %q", r.Header.Values("Set-Cookie"))
			}
			if r.Header.Get("X-CSRF-Token") == "" {
				t.Errorf("cookie login sent no X-CSRF-Token header")
			}
			if i == 1 && m["last_session"] == nil {
				t.Errorf("second cookie login: last_session null after an earlier cookie session")
			}
			cookie = c.Value
		}
		if r := s.get(t, "/api/user/me/", withHost("localhost"), withSessionCookie(cookie)); r.Status != http.StatusOK {
			t.Errorf("me with the cookie: status %d; body %s", r.Status, r.Body)
		}
	})
	t.Run("register without trailing slash", func(t *testing.T) {
		wantShape(t, post(t, "/api/user/register", registerBody(newAccount("noslash")), appMode), true)
	})
	t.Run("wrong password", func(t *testing.T) {
		wantError(t, post(t, "/api/user/login/", map[string]any{"email": a.Email, "password": strongPassword()}), http.StatusBadRequest, "LoginSerializerErrors")
	})
	t.Run("no credential", func(t *testing.T) {
		wantError(t, s.get(t, "/api/user/me/", withHost("localhost")), http.StatusUnauthorized, "NotAuthenticated")
	})
	t.Run("bad key", func(t *testing.T) {
		wantError(t, s.get(t, "/api/user/me/", withHost("localhost"), withAppToken(strings.Repeat("0", 40))), http.StatusUnauthorized, "InvalidToken")
	})
	// 151 characters with a local part and labels inside RFC 5321's limits.
	long := strings.Repeat("a", 50) + "@" + strings.Repeat("b", 60) + "." + strings.Repeat("c", 35) + ".com"
	if len(long) != 151 {
		t.Fatalf("test address has %d characters", len(long))
	}
	// A field error may carry the field-level "errors" list besides the
	// document's four keys (the profile's package documents that).
	t.Run("151-character e-mail at login", func(t *testing.T) {
		wantError(t, post(t, "/api/user/login/", map[string]any{"email": long, "password": a.Password}), http.StatusBadRequest, "ValidationError", "errors")
	})
	t.Run("151-character e-mail at register", func(t *testing.T) {
		wantError(t, post(t, "/api/user/register/", registerBody(account{Email: long, Password: strongPassword()})), http.StatusBadRequest, "InvalidRegistrationInfo", "errors")
	})
	t.Run("150-character e-mail registers", func(t *testing.T) {
		wantShape(t, post(t, "/api/user/register/", registerBody(account{Email: long[1:], Password: strongPassword()}), appMode), true)
	})
	// Every input the original's register view refuses is its
	// InvalidRegistrationInfo, 400, with its title; here the refused field
	// is named as the profile names field errors.
	wantRegistrationInfo := func(t *testing.T, r reply, field, reason string) {
		t.Helper()
		wantError(t, r, http.StatusBadRequest, "InvalidRegistrationInfo", "errors")
		wantSeed001(t, r, http.StatusBadRequest, "InvalidRegistrationInfo", field, reason)
		if e := decodeJSON[seed001Error](t, r); e.Title != "Invalid information provided." || !strings.Contains(e.Detail, field+": ") {
			t.Errorf("title %q, detail %q; want the original's title and a detail naming %s", e.Title, e.Detail, field)
		}
	}
	t.Run("register with a malformed e-mail address", func(t *testing.T) {
		b := newAccount("malformed")
		body := registerBody(b)
		body["email"] = "not-an-address"
		wantRegistrationInfo(t, post(t, "/api/user/register/", body, appMode), "email", "must be a plain e-mail address")
	})
	t.Run("register with a weak password", func(t *testing.T) {
		b := account{Email: uniqueEmail("weak"), Password: "short"}
		wantRegistrationInfo(t, post(t, "/api/user/register/", registerBody(b), appMode), "password", "must be at least 8 characters")
		if r := tryLogin(t, s, "localhost", b.Email, b.Password); r.Status != http.StatusUnauthorized {
			t.Errorf("the refused registration created the account: login status %d, want 401", r.Status)
		}
	})
	t.Run("register with a taken address", func(t *testing.T) {
		// a registered above; its password does not change.
		taken := registerBody(account{Email: a.Email, Password: strongPassword()})
		wantRegistrationInfo(t, post(t, "/api/user/register/", taken, appMode), "email", "already exists")
		wantShape(t, post(t, "/api/user/login/", map[string]any{"email": a.Email, "password": a.Password}, appMode), true)
	})
	t.Run("logout with the key", func(t *testing.T) {
		k := key(t, wantShape(t, post(t, "/api/user/login/", map[string]any{"email": a.Email, "password": a.Password}, appMode), true))
		if r := s.do(t, http.MethodPost, "/api/user/logout/", withHost("localhost"), withAppToken(k)); r.Status != http.StatusNoContent {
			t.Fatalf("logout: status %d, want 204; body %s", r.Status, r.Body)
		}
		wantError(t, s.get(t, "/api/user/me/", withHost("localhost"), withAppToken(k)), http.StatusUnauthorized, "InvalidToken")
	})
	t.Run("tenant without the profile", func(t *testing.T) {
		for _, path := range []string{"/api/user/login/", "/api/user/login", "/api/user/register/", "/api/user/me/", "/users/login/"} {
			method := http.MethodPost
			if strings.Contains(path, "/me") {
				method = http.MethodGet
			}
			r := s.do(t, method, path, withHost("plain.localhost"), withJSON(map[string]any{"email": a.Email, "password": a.Password}))
			if r.Status != http.StatusNotFound {
				t.Errorf("%s %s on a tenant without the profile: status %d, want 404; body %s", method, path, r.Status, r.Body)
			}
		}
	})
}

// TestSeed000LoginKeyFormat: seed 000's key is what its clients expect and
// opens the canonical API too.
func TestSeed000LoginKeyFormat(t *testing.T) {
	t.Parallel()
	s := startLocal(t)
	a := newAccount("keyed")
	register(t, s, "localhost", a)
	hex40 := regexp.MustCompile(`^[0-9a-f]{40}$`)
	bodies := map[string]reqOption{
		"JSON": withJSON(map[string]any{"email": a.Email, "password": a.Password}),
		"form": withForm(url.Values{"email": {a.Email}, "password": {a.Password}}),
	}
	for _, path := range []string{"/users/login/", "/users/login"} {
		for name, body := range bodies {
			t.Run(path+" "+name, func(t *testing.T) {
				r := s.do(t, http.MethodPost, path, withHost("localhost"), body)
				if r.Status != http.StatusOK {
					t.Fatalf("status %d, want 200; body %s", r.Status, r.Body)
				}
				m := decodeJSON[map[string]any](t, r)
				if got := slices.Sorted(maps.Keys(m)); !slices.Equal(got, []string{"key", "next"}) || m["next"] != nil {
					t.Errorf("answer %s, want exactly key and a null next", r.Body)
				}
				key, _ := m["key"].(string)
				if !hex40.MatchString(key) {
					t.Fatalf("key %q is not 40 lower-case hex characters", key)
				}
				mr := me(t, s, "localhost", withAppToken(key))
				if mr.Status != http.StatusOK || !bytes.Contains(mr.Body, []byte(a.Email)) {
					t.Errorf("/auth/v1/me with the key: status %d; body %s", mr.Status, mr.Body)
				}
			})
		}
	}
}

// TestConcurrentGuessesAreThrottled: the per-account limit counts guesses,
// not rounds of them: guesses sent together must not get more answers than
// the limit allows one after the other.
func TestConcurrentGuessesAreThrottled(t *testing.T) {
	t.Parallel()
	const limit, n = 3, 20
	s := startTenants(t, tenantSpec{ID: "local", Domains: []string{"localhost"}, LoginPerAccount: fmt.Sprintf("{limit: %d, window: 1h}", limit)})
	a := newAccount("besieged")
	register(t, s, "localhost", a)
	raws := make([]string, n)
	for i := range raws {
		body, _ := json.Marshal(map[string]any{"email": a.Email, "password": strongPassword()})
		raws[i] = rawJSONRequest(http.MethodPost, "/auth/v1/login", "localhost", string(body))
	}
	statuses := map[int]int{}
	for _, r := range s.sendEachTogether(t, raws) {
		statuses[r.Status]++
	}
	t.Logf("%d wrong passwords sent together against a limit of %d: statuses %v", n, limit, statuses)
	if statuses[http.StatusUnauthorized]+statuses[http.StatusTooManyRequests] != n {
		t.Errorf("statuses %v, want only 401 and 429", statuses)
	}
	if got := statuses[http.StatusUnauthorized]; got > limit {
		t.Errorf("%d of %d guesses sent together were checked (401), want at most the limit %d; the rest 429", got, n, limit)
	}
}

// TestSignUpNoticeGoesToTheAccountOwner: the "Sign-up attempt" notice is
// for the owner of the existing account (the account service says it
// "tells the owner"), so it goes to the address on the account, not to the
// spelling the new registrant typed: addresses that share an account key
// can be different mailboxes ("straße" and "strasse" fold alike), and the
// notice tells its reader that the address has an account.
func TestSignUpNoticeGoesToTheAccountOwner(t *testing.T) {
	t.Parallel()
	s := startLocal(t)
	n := addressSeq.Add(1)
	owner := account{Email: fmt.Sprintf("strasse.%d@example.com", n), Password: strongPassword()}
	register(t, s, "localhost", owner)
	for _, typed := range []string{fmt.Sprintf("STRASSE.%d@example.com", n), fmt.Sprintf("straße.%d@example.com", n)} {
		t.Run(typed, func(t *testing.T) {
			if del := s.do(t, http.MethodDelete, "/dev/outbox", withHost("localhost")); del.Status != http.StatusNoContent {
				t.Fatalf("clearing the dev outbox: status %d", del.Status)
			}
			r := s.do(t, http.MethodPost, "/auth/v1/register", withHost("localhost"), withJSON(registerBody(account{Email: typed, Password: strongPassword()})))
			if r.Status != http.StatusAccepted {
				t.Fatalf("register %s: status %d, want 202; body %s", typed, r.Status, r.Body)
			}
			var to []string
			for _, m := range settledOutbox(t, s, "localhost") {
				if strings.HasPrefix(m.Subject, "Sign-up attempt") {
					to = append(to, m.To)
				}
			}
			if !slices.Equal(to, []string{owner.Email}) {
				t.Errorf("sign-up attempt notices went to %q, want exactly one, to the account's address %q", to, owner.Email)
			}
		})
	}
}

// TestParallelRefreshIsSingleUse: one refresh token presented many times at
// once rotates at most once, and the reuse ends the session.
func TestParallelRefreshIsSingleUse(t *testing.T) {
	t.Parallel()
	s := startLocal(t)
	a := newAccount("racer")
	register(t, s, "localhost", a)
	sess := login(t, s, "localhost", a, "")
	const n = 10
	body, _ := json.Marshal(map[string]any{"refresh_token": sess.RefreshToken})
	replies := s.sendTogether(t, n, rawJSONRequest(http.MethodPost, "/auth/v1/token/refresh", "localhost", string(body)))
	var winners []loginAnswer
	for _, r := range replies {
		switch r.Status {
		case http.StatusOK:
			winners = append(winners, decodeJSON[loginAnswer](t, r))
		case http.StatusUnauthorized:
			if p := decodeJSON[problem](t, r); p.Code != "refresh_token_reused" && p.Code != "invalid_token" {
				t.Errorf("a losing refresh answered code %q, want refresh_token_reused or invalid_token", p.Code)
			}
		default:
			t.Errorf("refresh: status %d; body %s", r.Status, r.Body)
		}
	}
	t.Logf("%d refreshes of one token sent together: %d succeeded", n, len(winners))
	if len(winners) > 1 {
		t.Fatalf("%d of %d refreshes of one token sent together succeeded, want at most 1", len(winners), n)
	}
	if len(winners) == 1 {
		// The others were reuses: the family is revoked.
		wantProblem(t, me(t, s, "localhost", withBearer(winners[0].AccessToken)), http.StatusUnauthorized, "invalid_token")
		r := s.do(t, http.MethodPost, "/auth/v1/token/refresh", withHost("localhost"), withJSON(map[string]any{"refresh_token": winners[0].RefreshToken}))
		wantProblem(t, r, http.StatusUnauthorized, "invalid_token")
	}
	wantProblem(t, me(t, s, "localhost", withBearer(sess.AccessToken)), http.StatusUnauthorized, "invalid_token")
}

// TestSessionOfAnotherUserCannotBeRevoked: session ids are not capabilities:
// knowing another user's session id lets one neither end nor see it.
func TestSessionOfAnotherUserCannotBeRevoked(t *testing.T) {
	t.Parallel()
	s := startLocal(t)
	victim, attacker := newAccount("victim"), newAccount("attacker")
	register(t, s, "localhost", victim)
	register(t, s, "localhost", attacker)
	v := login(t, s, "localhost", victim, "")
	x := login(t, s, "localhost", attacker, "")
	r := s.do(t, http.MethodDelete, "/auth/v1/sessions/"+url.PathEscape(v.Session.ID), withHost("localhost"), withBearer(x.AccessToken))
	wantProblem(t, r, http.StatusNotFound, "session_not_found")
	if r := s.do(t, http.MethodPost, "/auth/v1/sessions/revoke-others", withHost("localhost"), withBearer(x.AccessToken)); r.Status != http.StatusOK {
		t.Errorf("revoke-others: status %d; body %s", r.Status, r.Body)
	}
	list := s.get(t, "/auth/v1/sessions", withHost("localhost"), withBearer(x.AccessToken))
	if bytes.Contains(list.Body, []byte(v.Session.ID)) {
		t.Errorf("the attacker's session list shows the victim's session: %s", list.Body)
	}
	if r := me(t, s, "localhost", withBearer(v.AccessToken)); r.Status != http.StatusOK {
		t.Errorf("the victim's session after the attempts: status %d, want 200", r.Status)
	}
}
