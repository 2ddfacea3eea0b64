package e2e_test

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// End-to-end tests of seed 001's account routes under its prefix (/api
// here): verification, password reset, magic links, profile changes and
// the user's sessions, with the links they mail pointing at the
// original's front-end pages under the tenant's base URL.

// Seed 001's front-end paths of mailed links.
const (
	seedVerifyPath = "/auth/verify-email/process/"
	seedResetPath  = "/auth/forgot-password/process/"
	seedMagicPath  = "/auth/magic-link/process/"
)

// seedMobile selects the profile's app-token mode as its clients do.
var seedMobile = withHeader("X-Requested-By", "mobile_app")

// seedDo sends a JSON body (none when body is nil) to the tenant at
// localhost.
func seedDo(t *testing.T, s *server, method, path string, body any, opts ...reqOption) reply {
	t.Helper()
	all := []reqOption{withHost("localhost")}
	if body != nil {
		all = append(all, withJSON(body))
	}
	return s.do(t, method, path, append(all, opts...)...)
}

// wantSeedStatus checks an answer's status (and Cache-Control: no-store;
// no body with a 204).
func wantSeedStatus(t *testing.T, r reply, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body %s", r.Status, status, r.Body)
	}
	if status == http.StatusNoContent && len(r.Body) != 0 {
		t.Errorf("204 with a body: %s", r.Body)
	}
	wantNoStore(t, r)
}

// seedSignIn answers a login-shaped body (login, register, magic link) in
// app-token mode and returns the app token's key.
func seedSignIn(t *testing.T, r reply) (map[string]any, string) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("sign-in: status %d, want 200; body %s", r.Status, r.Body)
	}
	m := decodeJSON[map[string]any](t, r)
	want := []string{"last_session", "last_token_session", "session", "user"}
	if got := slices.Sorted(maps.Keys(m)); !slices.Equal(got, want) {
		t.Fatalf("answer keys %v, want %v: %s", got, want, r.Body)
	}
	sess, _ := m["session"].(map[string]any)
	key, _ := sess["key"].(string)
	if key == "" {
		t.Fatalf("no session key in %s", r.Body)
	}
	return m, key
}

// seedRegister registers a on the profile in app-token mode and returns
// the key.
func seedRegister(t *testing.T, s *server, a account) string {
	t.Helper()
	_, key := seedSignIn(t, seedDo(t, s, http.MethodPost, "/api/user/register/", registerBody(a), seedMobile))
	return key
}

// seedLogin signs a in on the profile in app-token mode.
func seedLogin(t *testing.T, s *server, a account) (map[string]any, string) {
	t.Helper()
	return seedSignIn(t, seedDo(t, s, http.MethodPost, "/api/user/login/", map[string]any{"email": a.Email, "password": a.Password}, seedMobile))
}

// seedUserFields are the original's UserSerializer fields.
var seedUserFields = []string{"created_at", "email", "first_name", "id", "is_active", "is_email_verified", "last_name", "timezone", "updated_at"}

// wantSeedUser checks that v is a user with exactly the original's fields
// and returns it.
func wantSeedUser(t *testing.T, v any) map[string]any {
	t.Helper()
	u, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("user %v is not an object", v)
	}
	if got := slices.Sorted(maps.Keys(u)); !slices.Equal(got, seedUserFields) {
		t.Errorf("user keys %v, want %v", got, seedUserFields)
	}
	if u["timezone"] != "UTC" {
		t.Errorf("timezone %v, want UTC", u["timezone"])
	}
	return u
}

// seedMe is GET me/ with an app token: the bare user.
func seedMe(t *testing.T, s *server, key string) map[string]any {
	t.Helper()
	r := s.get(t, "/api/user/me/", withHost("localhost"), withAppToken(key))
	if r.Status != http.StatusOK {
		t.Fatalf("me: status %d; body %s", r.Status, r.Body)
	}
	return wantSeedUser(t, decodeJSON[map[string]any](t, r))
}

// wantInvalidToken checks the original's InvalidToken answer, word for
// word.
func wantInvalidToken(t *testing.T, r reply) {
	t.Helper()
	wantSeed001(t, r, http.StatusBadRequest, "InvalidToken", "", "")
	e := decodeJSON[seed001Error](t, r)
	if e.Title != "Invalid token" || e.Detail != "Token is invalid or expired." {
		t.Errorf("InvalidToken title %q detail %q, want %q and %q", e.Title, e.Detail, "Invalid token", "Token is invalid or expired.")
	}
}

// TestSeed001VerifyEmail: registration on the profile mails a link to the
// original's verification page; verify_email/ with its token verifies
// the address, once; resend answers the original's codes.
func TestSeed001VerifyEmail(t *testing.T) {
	t.Parallel()
	s := startTenants(t, emailTenant("local", "localhost"))
	a := newAccount("seedverify")
	key := seedRegister(t, s, a)
	token := tokenOf(t, linkIn(t, waitMail(t, s, "localhost", a.Email, verificationSubject("local"), 0), emailBase("local"), seedVerifyPath))
	if seedMe(t, s, key)["is_email_verified"] != false {
		t.Fatal("the address is verified before the link was used")
	}

	r := seedDo(t, s, http.MethodPost, "/api/user/verify_email/resend/", nil, withAppToken(key))
	wantSeed001(t, r, http.StatusBadRequest, "EmailVerificationLinkSentRecently", "", "")
	if r.Header.Get("Retry-After") == "" {
		t.Error("EmailVerificationLinkSentRecently without Retry-After")
	}
	wantSeed001(t, seedDo(t, s, http.MethodPost, "/api/user/verify_email/resend/", nil), http.StatusUnauthorized, "NotAuthenticated", "", "")

	wantSeedStatus(t, seedDo(t, s, http.MethodPost, "/api/user/verify_email/", map[string]any{"token": token}), http.StatusNoContent)
	if seedMe(t, s, key)["is_email_verified"] != true {
		t.Fatal("the address is not verified after verify_email/")
	}
	wantInvalidToken(t, seedDo(t, s, http.MethodPost, "/api/user/verify_email", map[string]any{"token": token}))
	wantSeed001(t, seedDo(t, s, http.MethodPost, "/api/user/verify_email", map[string]any{"token": ""}), http.StatusBadRequest, "TokenRequired", "token", "required")
	wantSeed001(t, seedDo(t, s, http.MethodPost, "/api/user/verify_email/resend", nil, withAppToken(key)), http.StatusBadRequest, "EmailVerified", "", "")
}

// TestSeed001ForgotPassword: request (204 for every address, and again
// within the cooldown), a link to the original's reset page, validate,
// reset; the new password works and the token is used up.
func TestSeed001ForgotPassword(t *testing.T) {
	t.Parallel()
	s := startTenants(t, emailTenant("local", "localhost"))
	a := newAccount("seedforgot")
	seedRegister(t, s, a)
	for _, email := range []string{a.Email, uniqueEmail("nobody"), a.Email} {
		wantSeedStatus(t, seedDo(t, s, http.MethodPost, "/api/user/forgot_password/request/", map[string]any{"email": email}), http.StatusNoContent)
	}
	token := tokenOf(t, linkIn(t, waitMail(t, s, "localhost", a.Email, resetSubject("local"), 0), emailBase("local"), seedResetPath))
	settle()
	if n := len(mailsTo(t, s, "localhost", a.Email, resetSubject("local"))); n != 1 {
		t.Errorf("%d reset mails, want 1 (the second request was within the cooldown)", n)
	}

	wantSeedStatus(t, seedDo(t, s, http.MethodPost, "/api/user/forgot_password/validate", map[string]any{"token": token}), http.StatusNoContent)
	wantInvalidToken(t, seedDo(t, s, http.MethodPost, "/api/user/forgot_password/validate/", map[string]any{"token": token + "x"}))
	wantSeed001(t, seedDo(t, s, http.MethodPost, "/api/user/forgot_password/reset/", map[string]any{"token": token, "password": "short"}),
		http.StatusBadRequest, "InvalidNewPassword", "password", "")

	a.Password = strongPassword()
	wantSeedStatus(t, seedDo(t, s, http.MethodPost, "/api/user/forgot_password/reset/", map[string]any{"token": token, "password": a.Password}), http.StatusNoContent)
	seedLogin(t, s, a)
	wantInvalidToken(t, seedDo(t, s, http.MethodPost, "/api/user/forgot_password/reset", map[string]any{"token": token, "password": strongPassword()}))
}

// TestSeed001MagicLink: request (204 for every address, and again within
// the cooldown), a link to the original's magic-link page, consume: the
// profile's login answer, the address verified, the link used up.
func TestSeed001MagicLink(t *testing.T) {
	t.Parallel()
	s := startTenants(t, emailTenant("local", "localhost"))
	a := newAccount("seedmagic")
	register(t, s, "localhost", a)
	for _, email := range []string{a.Email, uniqueEmail("nobody"), a.Email} {
		wantSeedStatus(t, seedDo(t, s, http.MethodPost, "/api/user/magic_link/request/", map[string]any{"email": email}), http.StatusNoContent)
	}
	token := tokenOf(t, linkIn(t, waitMail(t, s, "localhost", a.Email, magicLinkSubject("local"), 0), emailBase("local"), seedMagicPath))
	settle()
	if n := len(mailsTo(t, s, "localhost", a.Email, magicLinkSubject("local"))); n != 1 {
		t.Errorf("%d magic-link mails, want 1 (the second request was within the cooldown)", n)
	}

	// code is the original's TOTP code, ignored for a user without TOTP.
	r := seedDo(t, s, http.MethodPost, "/api/user/magic_link/consume", map[string]any{"token": token, "code": "123456"}, seedMobile)
	m, key := seedSignIn(t, r)
	wantNoStore(t, r)
	if u := wantSeedUser(t, m["user"]); u["email"] != a.Email || u["is_email_verified"] != true {
		t.Errorf("consume answered user %v, want %s, verified", u, a.Email)
	}
	if seedMe(t, s, key)["is_email_verified"] != true {
		t.Error("the address is not verified after the magic link")
	}
	wantInvalidToken(t, seedDo(t, s, http.MethodPost, "/api/user/magic_link/consume/", map[string]any{"token": token}, seedMobile))
	wantSeed001(t, seedDo(t, s, http.MethodPost, "/api/user/magic_link/consume/", map[string]any{"token": ""}, seedMobile), http.StatusBadRequest, "TokenRequired", "", "")
}

// TestSeed001ProfileChanges: change_password/, change_name/ and
// change_email/ with the original's methods, answers and error codes.
func TestSeed001ProfileChanges(t *testing.T) {
	t.Parallel()
	s := startTenants(t, emailTenant("local", "localhost"))
	a, other := newAccount("seedprofile"), newAccount("seedother")
	key := seedRegister(t, s, a)
	seedRegister(t, s, other)
	put := func(t *testing.T, path string, body any) reply {
		t.Helper()
		return seedDo(t, s, http.MethodPut, path, body, withAppToken(key))
	}

	t.Run("change_password", func(t *testing.T) {
		wantSeed001(t, put(t, "/api/user/change_password/", map[string]any{"old_password": a.Password}), http.StatusBadRequest, "OldNewPasswordRequired", "new_password", "")
		wantSeed001(t, put(t, "/api/user/change_password/", map[string]any{"old_password": strongPassword(), "new_password": strongPassword()}),
			http.StatusBadRequest, "InvalidOldPassword", "old_password", "")
		wantSeed001(t, put(t, "/api/user/change_password/", map[string]any{"old_password": a.Password, "new_password": "short"}),
			http.StatusBadRequest, "InvalidNewPassword", "new_password", "")
		if r := seedDo(t, s, http.MethodPost, "/api/user/change_password/", map[string]any{}, withAppToken(key)); r.Status != http.StatusMethodNotAllowed {
			t.Errorf("POST change_password/: status %d, want 405", r.Status)
		}
		next := strongPassword()
		wantSeedStatus(t, put(t, "/api/user/change_password", map[string]any{"old_password": a.Password, "new_password": next}), http.StatusNoContent)
		a.Password = next
		seedLogin(t, s, a)
	})
	t.Run("change_name", func(t *testing.T) {
		r := put(t, "/api/user/change_name", map[string]any{"first_name": "Bea", "last_name": "Other"})
		wantSeedStatus(t, r, http.StatusOK)
		if u := wantSeedUser(t, decodeJSON[map[string]any](t, r)); u["first_name"] != "Bea" || u["last_name"] != "Other" {
			t.Errorf("change_name answered %v", u)
		}
		if u := seedMe(t, s, key); u["first_name"] != "Bea" {
			t.Errorf("me after change_name: %v", u)
		}
	})
	t.Run("change_email", func(t *testing.T) {
		moved := uniqueEmail("seedmoved")
		wantSeed001(t, put(t, "/api/user/change_email/", map[string]any{"email": moved, "password": strongPassword()}), http.StatusBadRequest, "InvalidOldPassword", "password", "")
		wantSeed001(t, put(t, "/api/user/change_email/", map[string]any{"email": other.Email, "password": a.Password}), http.StatusBadRequest, "EmailInUse", "", "")
		r := put(t, "/api/user/change_email/", map[string]any{"email": moved, "password": a.Password})
		wantSeedStatus(t, r, http.StatusOK)
		if u := wantSeedUser(t, decodeJSON[map[string]any](t, r)); u["email"] != moved || u["is_email_verified"] != false {
			t.Errorf("change_email answered %v, want %s unverified", u, moved)
		}
		linkIn(t, waitMail(t, s, "localhost", moved, verificationSubject("local"), 0), emailBase("local"), seedVerifyPath)
	})
}

// TestSeed001ActiveSessions: the user's web sessions and tokens with the
// original's fields; closing one, and all but the current one.
func TestSeed001ActiveSessions(t *testing.T) {
	t.Parallel()
	s := startTenants(t, emailTenant("local", "localhost"))
	a := newAccount("seedsessions")
	key := seedRegister(t, s, a)
	_, key2 := seedLogin(t, s, a)
	web := seedDo(t, s, http.MethodPost, "/api/user/login/", map[string]any{"email": a.Email, "password": a.Password})
	cookie := sessionCookie(web)
	if web.Status != http.StatusOK || cookie == nil {
		t.Fatalf("cookie login: %d %s", web.Status, web.Body)
	}
	// In cookie mode me/ wraps the user, as the original does.
	if r := s.get(t, "/api/user/me", withHost("localhost"), withSessionCookie(cookie.Value)); r.Status != http.StatusOK {
		t.Fatalf("me with the cookie: %d %s", r.Status, r.Body)
	} else {
		wantSeedUser(t, decodeJSON[map[string]any](t, r)["user"])
	}

	type list struct {
		Sessions []map[string]any `json:"sessions"`
		Tokens   []map[string]any `json:"tokens"`
	}
	active := func(t *testing.T, path, key string) list {
		t.Helper()
		r := s.get(t, path, withHost("localhost"), withAppToken(key))
		wantSeedStatus(t, r, http.StatusOK)
		if got := slices.Sorted(maps.Keys(decodeJSON[map[string]any](t, r))); !slices.Equal(got, []string{"sessions", "tokens"}) {
			t.Fatalf("active_sessions keys %v: %s", got, r.Body)
		}
		return decodeJSON[list](t, r)
	}
	l := active(t, "/api/user/active_sessions/", key)
	if len(l.Sessions) != 1 || len(l.Tokens) != 2 {
		t.Fatalf("active_sessions: %d sessions, %d tokens, want 1 and 2", len(l.Sessions), len(l.Tokens))
	}
	for _, sess := range l.Sessions {
		if got, want := slices.Sorted(maps.Keys(sess)), []string{"created_at", "id", "ip", "is_valid", "ua", "updated_at"}; !slices.Equal(got, want) || sess["is_valid"] != true {
			t.Errorf("session %v, want keys %v and is_valid true", sess, want)
		}
	}
	for _, tok := range l.Tokens {
		if got, want := slices.Sorted(maps.Keys(tok)), []string{"created_at", "id", "ip", "is_valid", "ua"}; !slices.Equal(got, want) || tok["is_valid"] != true {
			t.Errorf("token %v, want keys %v and is_valid true", tok, want)
		}
	}

	wantSeedStatus(t, seedDo(t, s, http.MethodPost, "/api/user/active_sessions/close/", map[string]any{"id": l.Sessions[0]["id"]}, withAppToken(key)), http.StatusNoContent)
	if r := s.get(t, "/api/user/me/", withHost("localhost"), withSessionCookie(cookie.Value)); r.Status != http.StatusUnauthorized {
		t.Errorf("me with the closed session's cookie: %d, want 401", r.Status)
	}
	wantSeed001(t, seedDo(t, s, http.MethodPost, "/api/user/active_sessions/close", map[string]any{"id": "nosuchsession"}, withAppToken(key)),
		http.StatusBadRequest, "NoActiveSessionOrToken", "", "")

	wantSeedStatus(t, seedDo(t, s, http.MethodPost, "/api/user/active_sessions/close_except_current", nil, withAppToken(key)), http.StatusNoContent)
	if r := s.get(t, "/api/user/me/", withHost("localhost"), withAppToken(key2)); r.Status != http.StatusUnauthorized {
		t.Errorf("me with the other token after close_except_current: %d, want 401", r.Status)
	}
	if l := active(t, "/api/user/active_sessions", key); len(l.Sessions) != 0 || len(l.Tokens) != 1 {
		t.Errorf("after close_except_current: %d sessions, %d tokens, want 0 and 1", len(l.Sessions), len(l.Tokens))
	}
	if !strings.Contains(string(s.get(t, "/api/user/me/", withHost("localhost"), withAppToken(key)).Body), a.Email) {
		t.Error("the current token stopped working")
	}
}
