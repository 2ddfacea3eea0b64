package e2e_test

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Address verification by code (email.verification_code): the mail of a
// tenant with the setting carries a code besides the link, typed back
// with the address to POST /auth/v1/email/verify.

// verificationCodeIn is the code a verification mail's text shows on a
// line of its own; "" when it shows none.
var verificationCodeIn = regexp.MustCompile(`(?m)^ {4}(\d+)$`)

func codeOfMail(m outboxMessage) string {
	if c := verificationCodeIn.FindStringSubmatch(m.Text); c != nil {
		return c[1]
	}
	return ""
}

// verifyByCode posts an address and a code to the canonical form.
func verifyByCode(t *testing.T, s *server, host, email, code string) reply {
	t.Helper()
	r := postJSON(t, s, host, "/auth/v1/email/verify", map[string]any{"email": email, "code": code})
	wantNoStore(t, r)
	return r
}

// TestEmailVerificationByCode: registration on a tenant with codes mails a
// link and a code; the code, typed back with the address, verifies it
// once; wrong codes kill it; a sign-in code is no verification code, nor
// the other way round; a tenant without codes mails the link alone and
// refuses a code.
func TestEmailVerificationByCode(t *testing.T) {
	t.Parallel()
	on := emailTenant("codes", "codes.localhost")
	on.VerificationCode = true
	s := startTenants(t, on, emailTenant("links", "links.localhost"))
	const host = "codes.localhost"

	// The right code verifies the address, once.
	a := newAccount("vcode")
	register(t, s, host, a)
	m := waitMail(t, s, host, a.Email, verificationSubject("codes"), 0)
	linkIn(t, m, emailBase("codes"), "/auth/v1/email/verify")
	code := codeOfMail(m)
	if len(code) != 6 {
		t.Fatalf("no 6-digit code in the verification mail:\n%s", m.Text)
	}
	sess := login(t, s, host, a, "")
	if sess.User.EmailVerified {
		t.Fatal("the address is verified before the code was used")
	}
	r := verifyByCode(t, s, host, strings.ToUpper(a.Email), code)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"email_verified":true`) || !strings.Contains(string(r.Body), a.Email) {
		t.Fatalf("verify by code: %d %s, want 200 with the verified user", r.Status, r.Body)
	}
	if me := me(t, s, host, withBearer(sess.AccessToken)); me.Status != http.StatusOK || !strings.Contains(string(me.Body), `"email_verified":true`) {
		t.Fatalf("me after verify: %d %s, want email_verified true", me.Status, me.Body)
	}
	if !login(t, s, host, a, "").User.EmailVerified {
		t.Fatal("a login after the code does not show the address verified")
	}
	wantProblem(t, verifyByCode(t, s, host, a.Email, code), http.StatusUnauthorized, "otp_expired")

	// Five wrong codes, then the right one: refused, and nothing verified.
	b := newAccount("vcode-wrong")
	register(t, s, host, b)
	right := codeOfMail(waitMail(t, s, host, b.Email, verificationSubject("codes"), 0))
	if right == "" {
		t.Fatal("no code in the verification mail")
	}
	for range 5 {
		wantProblem(t, verifyByCode(t, s, host, b.Email, otherCode(right)), http.StatusUnauthorized, "otp_invalid")
	}
	wantProblem(t, verifyByCode(t, s, host, b.Email, right), http.StatusUnauthorized, "otp_attempts_exceeded")
	if login(t, s, host, b, "").User.EmailVerified {
		t.Fatal("the address was verified by a dead code")
	}

	// A sign-in code and a verification code of one address are not each
	// other, and a failed try spends neither.
	c := newAccount("vcode-signin")
	register(t, s, host, c)
	vc := codeOfMail(waitMail(t, s, host, c.Email, verificationSubject("codes"), 0))
	if r := postJSON(t, s, host, "/auth/v1/email/code/send", map[string]any{"email": c.Email}); r.Status != http.StatusAccepted {
		t.Fatalf("code send: %d %s", r.Status, r.Body)
	}
	sc := smsCode.FindStringSubmatch(waitMail(t, s, host, c.Email, emailCodeSubject("codes"), 0).Text)
	if vc == "" || sc == nil {
		t.Fatal("no verification or sign-in code mailed")
	}
	if sc[1] != vc {
		wantProblem(t, postJSON(t, s, host, "/auth/v1/email/code/verify", map[string]any{"email": c.Email, "code": vc}), http.StatusUnauthorized, "otp_invalid")
		wantProblem(t, verifyByCode(t, s, host, c.Email, sc[1]), http.StatusUnauthorized, "otp_invalid")
	}
	if r := postJSON(t, s, host, "/auth/v1/email/code/verify", map[string]any{"email": c.Email, "code": sc[1]}); r.Status != http.StatusOK {
		t.Fatalf("the sign-in code after its try as a verification code: %d %s", r.Status, r.Body)
	}
	if r := verifyByCode(t, s, host, c.Email, vc); r.Status != http.StatusOK {
		t.Fatalf("the verification code after its try as a sign-in code: %d %s", r.Status, r.Body)
	}

	// The form takes a token, or an address and a code.
	for _, tc := range []struct {
		body   map[string]any
		code   string
		fields []string
	}{
		{map[string]any{}, "token_required", []string{"token", "email", "code"}},
		{map[string]any{"token": "x", "email": a.Email, "code": "123456"}, "invalid_request", []string{"token", "email", "code"}},
		{map[string]any{"email": a.Email}, "invalid_request", []string{"code"}},
	} {
		r := postJSON(t, s, host, "/auth/v1/email/verify", tc.body)
		wantProblem(t, r, http.StatusBadRequest, tc.code)
		if got := fieldErrors(t, r); !slices.Equal(got, tc.fields) {
			t.Errorf("%v: fields %v, want %v", tc.body, got, tc.fields)
		}
	}

	// A tenant without the setting mails the link alone and refuses a code.
	d := newAccount("linkonly")
	register(t, s, "links.localhost", d)
	m = waitMail(t, s, "links.localhost", d.Email, verificationSubject("links"), 0)
	linkIn(t, m, emailBase("links"), "/auth/v1/email/verify")
	if c := codeOfMail(m); c != "" || strings.Contains(m.Text, "code where you were asked") {
		t.Fatalf("the mail of a tenant without codes speaks of a code:\n%s", m.Text)
	}
	wantProblem(t, verifyByCode(t, s, "links.localhost", d.Email, code), http.StatusForbidden, "verification_code_disabled")
	wantProblem(t, postJSON(t, s, "links.localhost", "/auth/v1/email/verify", map[string]any{}), http.StatusBadRequest, "token_required")
}
