package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The e-mail flows of the canonical API (issue 9): address verification,
// password reset, e-mail code and magic-link sign-in, and their attack
// cases. Each test starts a server whose tenant has email_link and a
// base URL of its own, so that every mailed link can be checked against
// it; mail is read from the dev outbox.

// emailTenant is a tenant with e-mail sign-in on these domains; its mailed
// links start with emailBase(id).
func emailTenant(id string, domains ...string) tenantSpec {
	return tenantSpec{ID: id, Domains: domains, EmailLink: true, BaseURL: emailBase(id)}
}

// emailBase is the mail.base_url of emailTenant(id): a host the test
// server is not, so that a link built on the request's Host would show.
func emailBase(id string) string { return "https://login." + id + ".example" }

// Subjects of the built-in templates, for a tenant whose display name is
// its id.
func verificationSubject(id string) string    { return "Confirm your e-mail address for " + id }
func resetSubject(id string) string           { return "Reset your " + id + " password" }
func passwordChangedSubject(id string) string { return "Your " + id + " password was changed" }
func emailCodeSubject(id string) string       { return "Your " + id + " sign-in code" }
func magicLinkSubject(id string) string       { return "Sign in to " + id }

// mailsTo returns the mails to the address (compared without regard to
// case) whose subject is subject; every mail to it when subject is "".
func mailsTo(t *testing.T, s *server, host, to, subject string) []outboxMessage {
	t.Helper()
	var out []outboxMessage
	for _, m := range outbox(t, s, host) {
		if m.Kind == "mail" && strings.EqualFold(m.To, to) && (subject == "" || m.Subject == subject) {
			out = append(out, m)
		}
	}
	return out
}

// waitMail waits for mail number after+1 to the address with this subject
// and returns it.
func waitMail(t *testing.T, s *server, host, to, subject string, after int) outboxMessage {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if m := mailsTo(t, s, host, to, subject); len(m) > after {
			return m[after]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no mail %d %q to %s in the outbox of %s after 5s", after+1, subject, to, host)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// settle gives the courier time to deliver what it was handed, before a
// test checks that something was not sent.
func settle() { time.Sleep(300 * time.Millisecond) }

var mailedLink = regexp.MustCompile(`https?://[^\s"<>]+\?token=[^\s"<>]+`)

// linkIn returns the one link of a mail's text, which must start with
// base + path + "?token=".
func linkIn(t *testing.T, m outboxMessage, base, path string) string {
	t.Helper()
	links := mailedLink.FindAllString(m.Text, -1)
	if len(links) != 1 {
		t.Fatalf("mail %q has %d links, want 1:\n%s", m.Subject, len(links), m.Text)
	}
	if want := base + path + "?token="; !strings.HasPrefix(links[0], want) {
		t.Fatalf("mailed link %s does not start with %s", links[0], want)
	}
	return links[0]
}

// tokenOf is the token of a mailed link.
func tokenOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || u.Query().Get("token") == "" {
		t.Fatalf("no token in %s", link)
	}
	return u.Query().Get("token")
}

// onServer is the mailed link as a request to the test server: its path
// and query, the base URL left out.
func onServer(link, base string) string { return strings.TrimPrefix(link, base) }

// postJSON posts body to the tenant at host.
func postJSON(t *testing.T, s *server, host, path string, body any, opts ...reqOption) reply {
	t.Helper()
	return s.do(t, http.MethodPost, path, append([]reqOption{withHost(host), withJSON(body)}, opts...)...)
}

// wantNoStore checks the Cache-Control of an answer of the e-mail routes.
func wantNoStore(t *testing.T, r reply) {
	t.Helper()
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("%d answer has Cache-Control %q, want no-store", r.Status, cc)
	}
}

// wantValid checks that a GET of a mailed link confirmed its token.
func wantValid(t *testing.T, r reply) {
	t.Helper()
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"valid":true`) {
		t.Fatalf("GET of the link: %d %s, want 200 with valid true", r.Status, r.Body)
	}
	wantNoStore(t, r)
}

// fieldErrors returns the fields a 400 problem names.
func fieldErrors(t *testing.T, r reply) []string {
	t.Helper()
	var p struct {
		Errors []struct{ Field string } `json:"errors"`
	}
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("not a problem: %s", r.Body)
	}
	var fields []string
	for _, e := range p.Errors {
		fields = append(fields, e.Field)
	}
	return fields
}

// forgot asks for a reset link for the address and wants the 202.
func forgot(t *testing.T, s *server, host, email string, opts ...reqOption) reply {
	t.Helper()
	r := postJSON(t, s, host, "/auth/v1/password/forgot", map[string]any{"email": email}, opts...)
	if r.Status != http.StatusAccepted {
		t.Fatalf("forgot %s: %d %s, want 202", email, r.Status, r.Body)
	}
	wantNoStore(t, r)
	return r
}

// resetToken asks for a reset link for a and returns its token.
func resetToken(t *testing.T, s *server, host, id string, a account) string {
	t.Helper()
	forgot(t, s, host, a.Email)
	return tokenOf(t, linkIn(t, waitMail(t, s, host, a.Email, resetSubject(id), 0), emailBase(id), "/auth/v1/password/reset"))
}

// magicLink asks for a magic link for the address (with next, unless "")
// and returns the answer and the link's token.
func magicLink(t *testing.T, s *server, host, id, email, next string, opts ...reqOption) (reply, string) {
	t.Helper()
	body := map[string]any{"email": email}
	if next != "" {
		body["next"] = next
	}
	r := postJSON(t, s, host, "/auth/v1/magic-link/send", body, opts...)
	if r.Status != http.StatusAccepted {
		t.Fatalf("magic-link send: %d %s, want 202", r.Status, r.Body)
	}
	wantNoStore(t, r)
	link := linkIn(t, waitMail(t, s, host, email, magicLinkSubject(id), 0), emailBase(id), "/auth/v1/magic-link")
	return r, tokenOf(t, link)
}

// TestEmailVerificationLinkFromRegistration: registration mails a link
// under the tenant's base URL; fetching it only confirms it; POSTing its
// token verifies the address, once.
func TestEmailVerificationLinkFromRegistration(t *testing.T) {
	t.Parallel()
	s := startTenants(t, emailTenant("local", "localhost"))
	a := newAccount("verify")
	register(t, s, "localhost", a)
	link := linkIn(t, waitMail(t, s, "localhost", a.Email, verificationSubject("local"), 0), emailBase("local"), "/auth/v1/email/verify")
	token := tokenOf(t, link)

	// As a mail scanner would: GET twice and HEAD, without cookies.
	wantValid(t, s.get(t, onServer(link, emailBase("local")), withHost("localhost")))
	wantValid(t, s.get(t, onServer(link, emailBase("local")), withHost("localhost")))
	if r := s.do(t, http.MethodHead, onServer(link, emailBase("local")), withHost("localhost")); r.Status != http.StatusOK {
		t.Fatalf("HEAD of the link: %d", r.Status)
	}
	sess := login(t, s, "localhost", a, "")
	if sess.User.EmailVerified {
		t.Fatal("the address is verified before the link was used")
	}

	r := postJSON(t, s, "localhost", "/auth/v1/email/verify", map[string]any{"token": token})
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"email_verified":true`) {
		t.Fatalf("verify: %d %s, want 200 with the verified user", r.Status, r.Body)
	}
	wantNoStore(t, r)
	m := me(t, s, "localhost", withBearer(sess.AccessToken))
	if m.Status != http.StatusOK || !strings.Contains(string(m.Body), `"email_verified":true`) {
		t.Fatalf("me after verify: %d %s, want email_verified true", m.Status, m.Body)
	}

	wantProblem(t, postJSON(t, s, "localhost", "/auth/v1/email/verify", map[string]any{"token": token}), http.StatusBadRequest, "invalid_token")
	used := s.get(t, onServer(link, emailBase("local")), withHost("localhost"))
	wantProblem(t, used, http.StatusBadRequest, "invalid_token")
	wantNoStore(t, used)
	wantProblem(t, postJSON(t, s, "localhost", "/auth/v1/email/verify", map[string]any{"token": ""}), http.StatusBadRequest, "token_required")
}

// TestPasswordResetEndsEverySession: forgot, validate, reset; the new
// password works and the old does not, every credential from before is
// refused at once, the owner is told, and the token is single use.
func TestPasswordResetEndsEverySession(t *testing.T) {
	t.Parallel()
	s := startTenants(t, emailTenant("local", "localhost"))
	a := newAccount("reset")
	register(t, s, "localhost", a)
	bearer, app, cookie := login(t, s, "localhost", a, ""), login(t, s, "localhost", a, "app"), login(t, s, "localhost", a, "cookie")

	forgot(t, s, "localhost", a.Email)
	link := linkIn(t, waitMail(t, s, "localhost", a.Email, resetSubject("local"), 0), emailBase("local"), "/auth/v1/password/reset")
	token := tokenOf(t, link)
	validate := func() reply {
		return postJSON(t, s, "localhost", "/auth/v1/password/reset/validate", map[string]any{"token": token})
	}
	if r := validate(); r.Status != http.StatusNoContent {
		t.Fatalf("validate: %d %s, want 204", r.Status, r.Body)
	}
	wantValid(t, s.get(t, onServer(link, emailBase("local")), withHost("localhost")))

	// A password the policy refuses names the field and leaves the token working.
	weak := postJSON(t, s, "localhost", "/auth/v1/password/reset", map[string]any{"token": token, "password": "short"})
	wantProblem(t, weak, http.StatusBadRequest, "weak_password")
	if f := fieldErrors(t, weak); len(f) != 1 || f[0] != "password" {
		t.Errorf("weak password: fields %v, want [password]", f)
	}
	if r := validate(); r.Status != http.StatusNoContent {
		t.Fatalf("validate after a refused password: %d %s, want 204", r.Status, r.Body)
	}

	newPassword := strongPassword()
	r := postJSON(t, s, "localhost", "/auth/v1/password/reset", map[string]any{"token": token, "password": newPassword})
	if r.Status != http.StatusNoContent {
		t.Fatalf("reset: %d %s, want 204", r.Status, r.Body)
	}
	wantNoStore(t, r)

	// Every credential from before the reset is refused at once.
	wantProblem(t, me(t, s, "localhost", withBearer(bearer.AccessToken)), http.StatusUnauthorized, "invalid_token")
	wantProblem(t, me(t, s, "localhost", withAppToken(app.AppToken)), http.StatusUnauthorized, "invalid_token")
	wantProblem(t, me(t, s, "localhost", withSessionCookie(cookie.Cookie)), http.StatusUnauthorized, "invalid_token")
	wantProblem(t, postJSON(t, s, "localhost", "/auth/v1/token/refresh", map[string]any{"refresh_token": bearer.RefreshToken}),
		http.StatusUnauthorized, "invalid_token")

	wantProblem(t, tryLogin(t, s, "localhost", a.Email, a.Password), http.StatusUnauthorized, "invalid_credentials")
	after := login(t, s, "localhost", account{Email: a.Email, Password: newPassword}, "")
	if !after.User.EmailVerified {
		t.Error("the reset did not mark the address verified")
	}
	waitMail(t, s, "localhost", a.Email, passwordChangedSubject("local"), 0)

	again := postJSON(t, s, "localhost", "/auth/v1/password/reset", map[string]any{"token": token, "password": strongPassword()})
	wantProblem(t, again, http.StatusBadRequest, "invalid_token")
	wantProblem(t, validate(), http.StatusBadRequest, "invalid_token")
	wantProblem(t, s.get(t, onServer(link, emailBase("local")), withHost("localhost")), http.StatusBadRequest, "invalid_token")
}

// TestForgotForAnUnknownAddressAnswersAlike: the answer for an address
// without an account is the known one's, byte for byte, and no mail goes
// out for it.
func TestForgotForAnUnknownAddressAnswersAlike(t *testing.T) {
	t.Parallel()
	s := startTenants(t, emailTenant("local", "localhost"))
	a := newAccount("known")
	register(t, s, "localhost", a)
	stranger := uniqueEmail("stranger")
	k, u := forgot(t, s, "localhost", a.Email), forgot(t, s, "localhost", stranger)
	if !bytes.Equal(withoutRequestID(k), withoutRequestID(u)) {
		t.Errorf("bodies differ: known %s, unknown %s", k.Body, u.Body)
	}
	if diff := headerDiff(k.Header, u.Header, "Date", "X-Request-Id"); diff != "" {
		t.Errorf("headers differ:\n%s", diff)
	}
	waitMail(t, s, "localhost", a.Email, resetSubject("local"), 0)
	settle()
	if m := mailsTo(t, s, "localhost", stranger, ""); len(m) != 0 {
		t.Fatalf("%d mails went to an address without an account: %+v", len(m), m)
	}
	// Asked again at once: alike too, and nothing new is sent.
	k, u = forgot(t, s, "localhost", a.Email), forgot(t, s, "localhost", stranger)
	if !bytes.Equal(withoutRequestID(k), withoutRequestID(u)) {
		t.Errorf("second bodies differ: known %s, unknown %s", k.Body, u.Body)
	}
	settle()
	if n := len(mailsTo(t, s, "localhost", a.Email, resetSubject("local"))); n != 1 {
		t.Errorf("%d reset mails within the cooldown, want 1", n)
	}
}

// TestMailedLinksIgnoreAForgedHost: whatever Host or X-Forwarded-Host a
// request carries, the links it mails start with the tenant's base URL:
// the verification link of a registration, a reset link and a magic link.
func TestMailedLinksIgnoreAForgedHost(t *testing.T) {
	t.Parallel()
	// No trusted proxies: the peer's X-Forwarded-Host is not believed.
	s := startTenants(t, emailTenant("local", "localhost"))
	base := emailBase("local")
	forgeries := []struct {
		name string
		opts []reqOption
	}{
		{"Host evil.example with X-Tenant-ID", []reqOption{withHost("evil.example"), withTenant("local")}},
		{"X-Forwarded-Host evil.example from an untrusted peer", []reqOption{withHost("localhost"), withHeader("X-Forwarded-Host", "evil.example")}},
	}
	for _, f := range forgeries {
		t.Run(f.name, func(t *testing.T) {
			reg := newAccount("reg")
			r := s.do(t, http.MethodPost, "/auth/v1/register", append(f.opts, withJSON(registerBody(reg)))...)
			if r.Status != http.StatusAccepted {
				t.Fatalf("register: %d %s", r.Status, r.Body)
			}
			linkIn(t, waitMail(t, s, "localhost", reg.Email, verificationSubject("local"), 0), base, "/auth/v1/email/verify")

			a := newAccount("poison")
			register(t, s, "localhost", a)
			if r := s.do(t, http.MethodPost, "/auth/v1/password/forgot", append(f.opts, withJSON(map[string]any{"email": a.Email}))...); r.Status != http.StatusAccepted {
				t.Fatalf("forgot: %d %s", r.Status, r.Body)
			}
			linkIn(t, waitMail(t, s, "localhost", a.Email, resetSubject("local"), 0), base, "/auth/v1/password/reset")

			if r := s.do(t, http.MethodPost, "/auth/v1/magic-link/send", append(f.opts, withJSON(map[string]any{"email": a.Email}))...); r.Status != http.StatusAccepted {
				t.Fatalf("magic-link send: %d %s", r.Status, r.Body)
			}
			linkIn(t, waitMail(t, s, "localhost", a.Email, magicLinkSubject("local"), 0), base, "/auth/v1/magic-link")
		})
	}
	for _, m := range outbox(t, s, "localhost") {
		if strings.Contains(m.Text, "evil.example") {
			t.Errorf("mail %q to %s names the forged host:\n%s", m.Subject, m.To, m.Text)
		}
	}
}

// TestParallelResetsWithOneTokenSucceedOnce: twenty resets with one token
// released together: exactly one sets the password.
func TestParallelResetsWithOneTokenSucceedOnce(t *testing.T) {
	t.Parallel()
	s := startTenants(t, emailTenant("local", "localhost"))
	a := newAccount("racer")
	register(t, s, "localhost", a)
	token := resetToken(t, s, "localhost", "local", a)
	const n = 20
	raws := make([]string, n)
	passwords := make([]string, n)
	for i := range raws {
		passwords[i] = strongPassword()
		body, _ := json.Marshal(map[string]any{"token": token, "password": passwords[i]})
		raws[i] = rawJSONRequest(http.MethodPost, "/auth/v1/password/reset", "localhost", string(body))
	}
	winner, refused, busy := -1, 0, 0
	for i, r := range s.sendEachTogether(t, raws) {
		switch {
		case r.Status == http.StatusNoContent:
			if winner >= 0 {
				t.Errorf("resets %d and %d both succeeded", winner, i)
			}
			winner = i
		case r.Status == http.StatusBadRequest && decodeJSON[problem](t, r).Code == "invalid_token":
			refused++
		case r.Status == http.StatusServiceUnavailable && decodeJSON[problem](t, r).Code == "busy":
			busy++ // hashing saturated before the token was used
		default:
			t.Errorf("reset %d: %d %s", i, r.Status, r.Body)
		}
	}
	t.Logf("%d resets with one token sent together: 1 succeeded, %d invalid_token, %d busy", n, refused, busy)
	if winner < 0 {
		t.Fatalf("no reset of %d succeeded", n)
	}
	login(t, s, "localhost", account{Email: a.Email, Password: passwords[winner]}, "")
	wantProblem(t, postJSON(t, s, "localhost", "/auth/v1/password/reset/validate", map[string]any{"token": token}), http.StatusBadRequest, "invalid_token")
}

// TestTokensOfAnotherFlowOrTenantAreRefused: a verification token is no
// reset token; a reset or magic-link token of one tenant does nothing on
// another, where the same address has an account too, and still works
// where it was mailed.
func TestTokensOfAnotherFlowOrTenantAreRefused(t *testing.T) {
	t.Parallel()
	s := startTenants(t, emailTenant("local", "localhost"), emailTenant("other", "other.localhost"))
	a := newAccount("cross")
	register(t, s, "localhost", a)
	register(t, s, "other.localhost", a)
	verifyToken := tokenOf(t, linkIn(t, waitMail(t, s, "localhost", a.Email, verificationSubject("local"), 0), emailBase("local"), "/auth/v1/email/verify"))

	wantProblem(t, postJSON(t, s, "localhost", "/auth/v1/password/reset/validate", map[string]any{"token": verifyToken}), http.StatusBadRequest, "invalid_token")
	wantProblem(t, postJSON(t, s, "localhost", "/auth/v1/password/reset", map[string]any{"token": verifyToken, "password": strongPassword()}),
		http.StatusBadRequest, "invalid_token")
	wantProblem(t, s.get(t, "/auth/v1/password/reset?token="+url.QueryEscape(verifyToken), withHost("localhost")), http.StatusBadRequest, "invalid_token")
	login(t, s, "localhost", a, "") // the password is unchanged

	reset := resetToken(t, s, "localhost", "local", a)
	wantProblem(t, postJSON(t, s, "other.localhost", "/auth/v1/password/reset/validate", map[string]any{"token": reset}), http.StatusBadRequest, "invalid_token")
	wantProblem(t, postJSON(t, s, "other.localhost", "/auth/v1/password/reset", map[string]any{"token": reset, "password": strongPassword()}),
		http.StatusBadRequest, "invalid_token")
	wantProblem(t, postJSON(t, s, "localhost", "/auth/v1/email/verify", map[string]any{"token": reset}), http.StatusBadRequest, "invalid_token")
	login(t, s, "other.localhost", a, "")
	if r := postJSON(t, s, "localhost", "/auth/v1/password/reset/validate", map[string]any{"token": reset}); r.Status != http.StatusNoContent {
		t.Fatalf("the reset token on its own tenant: %d %s, want 204", r.Status, r.Body)
	}

	_, magic := magicLink(t, s, "localhost", "local", a.Email, "")
	wantProblem(t, s.get(t, "/auth/v1/magic-link?token="+url.QueryEscape(magic), withHost("other.localhost")), http.StatusUnauthorized, "otp_expired")
	wantProblem(t, postJSON(t, s, "other.localhost", "/auth/v1/magic-link/consume", map[string]any{"token": magic}), http.StatusUnauthorized, "otp_expired")
	wantProblem(t, postJSON(t, s, "localhost", "/auth/v1/password/reset/validate", map[string]any{"token": magic}), http.StatusBadRequest, "invalid_token")
	wantValid(t, s.get(t, "/auth/v1/magic-link?token="+url.QueryEscape(magic), withHost("localhost")))
}

// TestEmailCodeLogin: a code by e-mail signs in with amr ["otp"] and
// proves the address; an address without an account gets the same answer
// and no mail.
func TestEmailCodeLogin(t *testing.T) {
	t.Parallel()
	s := startTenants(t, emailTenant("local", "localhost"))
	a := newAccount("code")
	register(t, s, "localhost", a)
	stranger := uniqueEmail("nobody")
	send := func(email string) reply {
		r := postJSON(t, s, "localhost", "/auth/v1/email/code/send", map[string]any{"email": email})
		if r.Status != http.StatusAccepted {
			t.Fatalf("code send to %s: %d %s, want 202", email, r.Status, r.Body)
		}
		wantNoStore(t, r)
		return r
	}
	k, u := send(a.Email), send(stranger)
	if !bytes.Equal(withoutRequestID(k), withoutRequestID(u)) {
		t.Errorf("bodies differ: known %s, unknown %s", k.Body, u.Body)
	}
	m := waitMail(t, s, "localhost", a.Email, emailCodeSubject("local"), 0)
	code := smsCode.FindStringSubmatch(m.Text)
	if code == nil {
		t.Fatalf("no 6-digit code in the mail:\n%s", m.Text)
	}
	settle()
	if n := len(mailsTo(t, s, "localhost", stranger, "")); n != 0 {
		t.Fatalf("%d mails went to an address without an account", n)
	}

	verify := func(c string) reply {
		return postJSON(t, s, "localhost", "/auth/v1/email/code/verify", map[string]any{"email": strings.ToUpper(a.Email), "code": c})
	}
	wantProblem(t, verify(otherCode(code[1])), http.StatusUnauthorized, "otp_invalid")
	r := verify(code[1])
	if r.Status != http.StatusOK {
		t.Fatalf("verify: %d %s, want 200", r.Status, r.Body)
	}
	wantNoStore(t, r)
	ans := decodeJSON[loginAnswer](t, r)
	if ans.TokenType != "Bearer" || ans.AccessToken == "" || ans.RefreshToken == "" || ans.User.Email != a.Email || !ans.User.EmailVerified {
		t.Fatalf("verify answer: %s", r.Body)
	}
	if !strings.Contains(string(r.Body), `"amr":["otp"]`) {
		t.Errorf("session amr is not [\"otp\"]: %s", r.Body)
	}
	if m := me(t, s, "localhost", withBearer(ans.AccessToken)); m.Status != http.StatusOK {
		t.Fatalf("me with the code login's token: %d %s", m.Status, m.Body)
	}
	wantProblem(t, verify(code[1]), http.StatusUnauthorized, "otp_expired")
	wantProblem(t, postJSON(t, s, "localhost", "/auth/v1/email/code/verify", map[string]any{"email": stranger, "code": code[1]}),
		http.StatusUnauthorized, "otp_invalid")
}

// TestMagicLinkSurvivesAScannerAndSignsInOnce: GETs and a HEAD of the link
// without cookies, as a mail scanner makes them, leave it working; the
// POST signs in and hands back next; the link is then dead.
func TestMagicLinkSurvivesAScannerAndSignsInOnce(t *testing.T) {
	t.Parallel()
	s := startTenants(t, emailTenant("local", "localhost"))
	a := newAccount("magic")
	register(t, s, "localhost", a)
	send, token := magicLink(t, s, "localhost", "local", a.Email, "/dashboard")
	if c := send.Header.Values("Set-Cookie"); len(c) != 0 {
		t.Errorf("send without same_device set cookies: %v", c)
	}
	check := "/auth/v1/magic-link?token=" + url.QueryEscape(token)
	for range 2 {
		r := s.get(t, check, withHost("localhost"))
		wantValid(t, r)
		info := decodeJSON[struct {
			Email     string `json:"email"`
			Next      string `json:"next"`
			ExpiresAt string `json:"expires_at"`
		}](t, r)
		if info.Email != "m***@example.com" || info.Next != "/dashboard" || info.ExpiresAt == "" {
			t.Errorf("GET of the link: %s", r.Body)
		}
	}
	if r := s.do(t, http.MethodHead, check, withHost("localhost")); r.Status != http.StatusOK || len(r.Body) != 0 {
		t.Fatalf("HEAD of the link: %d %q", r.Status, r.Body)
	}

	consume := func() reply {
		return postJSON(t, s, "localhost", "/auth/v1/magic-link/consume", map[string]any{"token": token, "session": "app"})
	}
	r := consume()
	if r.Status != http.StatusOK {
		t.Fatalf("consume after the scanner: %d %s, want 200", r.Status, r.Body)
	}
	wantNoStore(t, r)
	ans := decodeJSON[struct {
		loginAnswer
		Next string `json:"next"`
	}](t, r)
	if ans.AppToken == "" || ans.Next != "/dashboard" || !ans.User.EmailVerified || !strings.Contains(string(r.Body), `"amr":["otp"]`) {
		t.Fatalf("consume answer: %s", r.Body)
	}
	if m := me(t, s, "localhost", withAppToken(ans.AppToken)); m.Status != http.StatusOK {
		t.Fatalf("me with the magic link's token: %d %s", m.Status, m.Body)
	}
	wantProblem(t, consume(), http.StatusUnauthorized, "otp_expired")
	wantProblem(t, s.get(t, check, withHost("localhost")), http.StatusUnauthorized, "otp_expired")
}

// TestParallelMagicLinkConsumesSignInOnce: twenty consumes of one link
// released together make exactly one session.
func TestParallelMagicLinkConsumesSignInOnce(t *testing.T) {
	t.Parallel()
	s := startTenants(t, emailTenant("local", "localhost"))
	a := newAccount("magicrace")
	register(t, s, "localhost", a)
	_, token := magicLink(t, s, "localhost", "local", a.Email, "")
	const n = 20
	body, _ := json.Marshal(map[string]any{"token": token})
	won, refused := 0, 0
	for i, r := range s.sendTogether(t, n, rawJSONRequest(http.MethodPost, "/auth/v1/magic-link/consume", "localhost", string(body))) {
		switch {
		case r.Status == http.StatusOK:
			won++
		case r.Status == http.StatusUnauthorized && decodeJSON[problem](t, r).Code == "otp_expired":
			refused++
		default:
			t.Errorf("consume %d: %d %s", i, r.Status, r.Body)
		}
	}
	t.Logf("%d consumes of one link sent together: %d signed in, %d otp_expired", n, won, refused)
	if won != 1 {
		t.Fatalf("%d of %d consumes of one link signed in, want exactly 1", won, n)
	}
}

// TestMagicLinkBoundToTheBrowser: with email.same_device the send sets a
// binding cookie, alike for every address; the link confirms anywhere but
// signs in only with that cookie, and a refused try does not use it up.
func TestMagicLinkBoundToTheBrowser(t *testing.T) {
	t.Parallel()
	spec := emailTenant("local", "localhost")
	spec.SameDevice = true
	s := startTenants(t, spec)
	a := newAccount("bound")
	register(t, s, "localhost", a)
	send, token := magicLink(t, s, "localhost", "local", a.Email, "")
	var bound *http.Cookie
	for _, c := range (&http.Response{Header: send.Header}).Cookies() {
		if c.Name == "portcullis_ml" {
			bound = c
		}
	}
	if bound == nil || bound.Value == "" || !bound.HttpOnly || bound.SameSite != http.SameSiteLaxMode || bound.MaxAge != 3600 || bound.Path != "/" {
		t.Fatalf("send: binding cookie %+v (Set-Cookie %v), want portcullis_ml, HttpOnly, SameSite=Lax, Max-Age=3600, Path=/",
			bound, send.Header.Values("Set-Cookie"))
	}
	unknown := postJSON(t, s, "localhost", "/auth/v1/magic-link/send", map[string]any{"email": uniqueEmail("nobody")})
	if unknown.Status != http.StatusAccepted || !strings.Contains(unknown.Header.Get("Set-Cookie"), "portcullis_ml=") {
		t.Errorf("send to an address without an account: %d, Set-Cookie %q; want 202 with the binding cookie", unknown.Status, unknown.Header.Get("Set-Cookie"))
	}

	wantValid(t, s.get(t, "/auth/v1/magic-link?token="+url.QueryEscape(token), withHost("localhost")))
	consume := func(opts ...reqOption) reply {
		return postJSON(t, s, "localhost", "/auth/v1/magic-link/consume", map[string]any{"token": token}, opts...)
	}
	wantProblem(t, consume(), http.StatusForbidden, "magic_link_other_device")
	wantProblem(t, consume(withHeader("Cookie", "portcullis_ml="+unknownValue(bound.Value))), http.StatusForbidden, "magic_link_other_device")
	r := consume(withHeader("Cookie", "portcullis_ml="+bound.Value))
	if r.Status != http.StatusOK || decodeJSON[loginAnswer](t, r).AccessToken == "" {
		t.Fatalf("consume with the binding cookie: %d %s, want 200", r.Status, r.Body)
	}
}

// unknownValue is a binding value of the same form that is not v.
func unknownValue(v string) string {
	if strings.HasPrefix(v, "A") {
		return "B" + v[1:]
	}
	return "A" + v[1:]
}

// TestLineBreakInAnAddressIsRefusedAndMailsNothing: an address with CR LF
// and a header after it is a 400 naming the field on every route that
// mails, and nothing is sent to anyone.
func TestLineBreakInAnAddressIsRefusedAndMailsNothing(t *testing.T) {
	t.Parallel()
	s := startTenants(t, emailTenant("local", "localhost"))
	a := account{Email: uniqueEmail("ann"), Password: strongPassword()}
	register(t, s, "localhost", a)
	waitMail(t, s, "localhost", a.Email, verificationSubject("local"), 0)
	injected := a.Email + "\r\nBcc: x@evil.example"
	for _, path := range []string{"/auth/v1/password/forgot", "/auth/v1/magic-link/send", "/auth/v1/email/verification", "/auth/v1/email/code/send"} {
		r := postJSON(t, s, "localhost", path, map[string]any{"email": injected})
		wantProblem(t, r, http.StatusBadRequest, "invalid_request")
		wantNoStore(t, r)
		if f := fieldErrors(t, r); len(f) != 1 || f[0] != "email" {
			t.Errorf("%s: fields %v, want [email]", path, f)
		}
	}
	settle()
	msgs := outbox(t, s, "localhost")
	if len(msgs) != 1 {
		t.Errorf("%d mails in the outbox, want only the registration's verification link: %+v", len(msgs), msgs)
	}
	for _, m := range msgs {
		if strings.Contains(m.To, "evil") || strings.Contains(m.Text, "evil.example") {
			t.Errorf("a mail reached the injected address: %+v", m)
		}
	}
}

// mailRequest is one of the requests that mail an address a secret when
// it has an account, and must answer alike, in time as in body, when it
// has none.
type mailRequest struct {
	name string
	path string
}

// The timed requests: the password reset, the magic link and the
// e-mail sign-in code of the canonical API (each answers 202).
var (
	forgotRequest    = mailRequest{"reset requests", "/auth/v1/password/forgot"}
	magicLinkRequest = mailRequest{"magic-link requests", "/auth/v1/magic-link/send"}
	emailCodeRequest = mailRequest{"e-mail code requests", "/auth/v1/email/code/send"}
)

// settleBetweenTimings is the pause before each timed mail request.
const settleBetweenTimings = 20 * time.Millisecond

// mailTimings times the request for the known addresses (each with an
// account, each asked once) and as many for addresses without one,
// interleaved so that load on the machine affects both alike. Each request
// comes from its own client address (the server trusts the harness as a
// proxy), so that the per-IP budget of the flow is never what answers. It
// uses only send, so that a benchmark can call it too.
func mailTimings(tb testing.TB, s *server, req mailRequest, known []string, client *int) (k, u []time.Duration) {
	tb.Helper()
	try := func(email string) time.Duration {
		tb.Helper()
		// The work a request leaves to the background (the lookup, the
		// mail of a known address) is over before the next one is timed:
		// each time is the answer's own, not its share of the machine with
		// the previous requests' mail.
		time.Sleep(settleBetweenTimings)
		*client++
		ip := fmt.Sprintf("10.%d.%d.%d", *client>>16&255, *client>>8&255, *client&255)
		begun := time.Now()
		r, err := s.send(http.MethodPost, req.path, withHost("localhost"), withHeader("X-Forwarded-For", ip),
			withJSON(map[string]any{"email": email}))
		took := time.Since(begun)
		if err != nil {
			tb.Fatal(err)
		}
		if r.Status != http.StatusAccepted {
			tb.Fatalf("%s %s: status %d, want 202; body %s", req.path, email, r.Status, r.Body)
		}
		return took
	}
	for i, email := range known {
		stranger := uniqueEmail("nobody")
		if i%2 == 0 {
			u = append(u, try(stranger))
			k = append(k, try(email))
		} else {
			k = append(k, try(email))
			u = append(u, try(stranger))
		}
	}
	return k, u
}

// registerAll registers an account for each address.
func registerAll(tb testing.TB, s *server, emails []string) {
	tb.Helper()
	for _, e := range emails {
		r, err := s.send(http.MethodPost, "/auth/v1/register", withHost("localhost"), withJSON(registerBody(account{Email: e, Password: strongPassword()})))
		if err != nil || r.Status != http.StatusAccepted {
			tb.Fatalf("register %s: %v, status %d, body %s", e, err, r.Status, r.Body)
		}
	}
}

func uniqueEmails(tag string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = uniqueEmail(tag)
	}
	return out
}

// benchmarkMailTiming measures how long req takes for an address with an
// account and one without (distinct addresses each time, so that no
// cooldown answers). It reports the medians and their ratio and asserts
// nothing: timing on a shared machine is a number to watch, not to gate
// on.
func benchmarkMailTiming(b *testing.B, req mailRequest) {
	s := startTenantsEnv(b, behindProxy, emailTenant("local", "localhost"))
	client := 0
	warm := uniqueEmails("timed", 1)
	registerAll(b, s, warm)
	mailTimings(b, s, req, warm, &client) // warm up
	const n = 25
	var known, unknown []time.Duration
	for b.Loop() {
		b.StopTimer()
		emails := uniqueEmails("timed", n)
		registerAll(b, s, emails)
		b.StartTimer()
		k, u := mailTimings(b, s, req, emails, &client)
		known, unknown = append(known, k...), append(unknown, u...)
	}
	mk, mu := median(known), median(unknown)
	b.ReportMetric(float64(mu.Microseconds())/1000, "unknown-median-ms")
	b.ReportMetric(float64(mk.Microseconds())/1000, "known-median-ms")
	b.ReportMetric(float64(mu)/float64(mk), "unknown/known-ratio")
}

func BenchmarkForgotEnumerationTiming(b *testing.B)    { benchmarkMailTiming(b, forgotRequest) }
func BenchmarkMagicLinkEnumerationTiming(b *testing.B) { benchmarkMailTiming(b, magicLinkRequest) }
func BenchmarkEmailCodeEnumerationTiming(b *testing.B) { benchmarkMailTiming(b, emailCodeRequest) }

// TestMailRequestTimingIsReported is the benchmarks' measurement, smaller,
// in the regular run: it only logs the medians.
func TestMailRequestTimingIsReported(t *testing.T) {
	t.Parallel()
	s := startTenantsEnv(t, behindProxy, emailTenant("local", "localhost"))
	const n = 20
	reqs := []mailRequest{forgotRequest, magicLinkRequest, emailCodeRequest}
	emails := uniqueEmails("timed", len(reqs)*n+1)
	registerAll(t, s, emails)
	client := 0
	for _, req := range reqs {
		mailTimings(t, s, req, emails[:1], &client) // warm up
	}
	for i, req := range reqs {
		known, unknown := mailTimings(t, s, req, emails[1+i*n:1+(i+1)*n], &client)
		mk, mu := median(known), median(unknown)
		t.Logf("%s, median of %d each: address with an account %s, without %s, unknown/known ratio %.3f",
			req.name, n, mk.Round(10*time.Microsecond), mu.Round(10*time.Microsecond), float64(mu)/float64(mk))
	}
}
