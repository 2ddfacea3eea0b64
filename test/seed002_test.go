package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongooptions "go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Issue 11, the seed 002 part: the admin login with e-mail code
// activation (POST /v1/accounts/login/admin/, otp/user/,
// resend/otp/user/) and the token it issues, used as Authorization:
// Token <token> at our GET me/ and POST logout/.
//
// A role is set in the store (there is no route that makes an admin of a
// registered account), so the server runs on a store of the test's own,
// as the seed 000 link tests do; a registered account's address is not
// verified, which makes a new admin one pending activation.

// seed002Host is the tenant that serves the profile; plainHost one that
// does not.
const (
	seed002Host = "localhost"
	plainHost   = "plain.localhost"
)

// seed002Post posts body to the profile's path under /v1/accounts.
func seed002Post(t *testing.T, s *server, path string, body any, opts ...reqOption) reply {
	t.Helper()
	return s.do(t, http.MethodPost, "/v1/accounts"+path, append([]reqOption{withHost(seed002Host), withJSON(body)}, opts...)...)
}

// wantSeed002 checks a reply's status and exact body.
func wantSeed002(t *testing.T, what string, r reply, status int, body string) {
	t.Helper()
	if r.Status != status || string(r.Body) != body {
		t.Errorf("%s: %d %s, want %d %s", what, r.Status, r.Body, status, body)
	}
}

// seed002Admin registers an account and makes it an admin in the store,
// its address verified (an active admin) or not (pending activation).
func seed002Admin(t *testing.T, s *server, rs *roleStore, verified bool) account {
	t.Helper()
	a := newAccount("admin")
	register(t, s, seed002Host, a)
	rs.set(t, "admins", a.Email, "role", "admin")
	if verified {
		rs.set(t, "admins", a.Email, "email_verified", true)
	}
	return a
}

// activationCodes are the six-digit codes mailed to address so far.
func activationCodes(t *testing.T, s *server, address string) []string {
	t.Helper()
	var out []string
	for _, m := range settledOutbox(t, s, seed002Host) {
		if m.Kind != "mail" || !strings.EqualFold(m.To, address) || !strings.HasPrefix(m.Subject, "Activate your") {
			continue
		}
		c := activationCode.FindStringSubmatch(m.Text)
		if c == nil {
			t.Fatalf("an activation mail without a six-digit code:\n%s", m.Text)
		}
		out = append(out, c[1])
	}
	return out
}

var activationCode = regexp.MustCompile(`(?m)^ {4}(\d{6})$`)

func seed002Login(t *testing.T, s *server, a account) reply {
	t.Helper()
	return seed002Post(t, s, "/login/admin/", map[string]any{"email": a.Email, "password": a.Password})
}

// seed002Token signs the admin in and returns the access token.
func seed002Token(t *testing.T, s *server, a account) string {
	t.Helper()
	r := seed002Login(t, s, a)
	if r.Status != http.StatusOK {
		t.Fatalf("login of %s: %d %s", a.Email, r.Status, r.Body)
	}
	return decodeJSON[struct {
		AccessToken string `json:"access_token"`
	}](t, r).AccessToken
}

func seed002Me(t *testing.T, s *server, opts ...reqOption) reply {
	t.Helper()
	return s.get(t, "/v1/accounts/me/", append([]reqOption{withHost(seed002Host)}, opts...)...)
}

// TestSeed002AdminLogin drives the profile as its clients do; the audit
// log the server wrote is checked once it has stopped: the sign-ins, the
// refusals with their real reasons, the codes sent, confirmed and
// refused are there, and no password, code, token or e-mail address.
func TestSeed002AdminLogin(t *testing.T) {
	t.Parallel()
	s, rs := startWithStore(t, tenantSpec{ID: "admins", Domains: []string{seed002Host}, Seed002: true, NoSeed001: true},
		tenantSpec{ID: "plain", Domains: []string{plainHost}, NoSeed001: true})
	var secrets []string
	keep := func(ss ...string) { secrets = append(secrets, ss...) }

	t.Run("an active admin signs in with the seed's answer and uses the token", func(t *testing.T) {
		a := seed002Admin(t, s, rs, true)
		keep(a.Password, a.Email)
		rs.set(t, "admins", a.Email, "profile_photo", "https://cdn.example.com/p/ann.jpg")
		rs.set(t, "admins", a.Email, "preferred_language", "AZERBAIJANI")
		r := seed002Login(t, s, a)
		shape := regexp.MustCompile(`^\{"access_token":"([0-9a-f]{40})","user":(\{"id":"[A-Za-z0-9_-]+","first_name":"Ann","last_name":"Example",` +
			`"email":"` + regexp.QuoteMeta(a.Email) + `","phone":"","profile_photo":"https://cdn.example.com/p/ann.jpg",` +
			`"preferred_language":"AZERBAIJANI","role":"2","created":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"\})\}$`)
		m := shape.FindSubmatch(r.Body)
		if r.Status != http.StatusOK || m == nil || r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("login: %d %s (Cache-Control %q)", r.Status, r.Body, r.Header.Get("Cache-Control"))
		}
		token, user := string(m[1]), m[2]
		keep(token)
		got := seed002Me(t, s, withAppToken(token))
		if got.Status != http.StatusOK || !bytes.Equal(got.Body, user) {
			t.Fatalf("me: %d %s, want the login's user %s", got.Status, got.Body, user)
		}
		wantSeed002(t, "me without a header", seed002Me(t, s), 401, `{"error":"Missing token on header!"}`)
		wantSeed002(t, "me with a bearer header", seed002Me(t, s, withBearer(token)), 401, `{"error":"Missing token on header!"}`)
		wantSeed002(t, "me with a bare token", seed002Me(t, s, withHeader("Authorization", token)), 401, `{"error":"Missing token on header!"}`)
		wantSeed002(t, "me with a garbled header", seed002Me(t, s, withHeader("Authorization", "Token")), 401, `{"error":"Missing token on header!"}`)
		wantSeed002(t, "me with an unknown token", seed002Me(t, s, withAppToken(strings.Repeat("ab", 20))), 401, `{"error":"token is not active!"}`)
		// Without the trailing slash too.
		if r := s.get(t, "/v1/accounts/me", withHost(seed002Host), withAppToken(token)); r.Status != http.StatusOK {
			t.Fatalf("me without the slash: %d %s", r.Status, r.Body)
		}
		wantSeed002(t, "logout", seed002Post(t, s, "/logout/", map[string]any{}, withAppToken(token)), 200, `{"message":"Logged out successfully"}`)
		wantSeed002(t, "me after logout", seed002Me(t, s, withAppToken(token)), 401, `{"error":"token is not active!"}`)
		wantSeed002(t, "logout again", seed002Post(t, s, "/logout/", map[string]any{}, withAppToken(token)), 401, `{"error":"token is not active!"}`)
	})

	t.Run("anyone but an active admin is answered like a wrong password", func(t *testing.T) {
		user, staff := newAccount("user"), newAccount("staff")
		register(t, s, seed002Host, user)
		register(t, s, seed002Host, staff)
		rs.set(t, "admins", staff.Email, "role", "staff")
		rs.set(t, "admins", staff.Email, "email_verified", true)
		disabled := seed002Admin(t, s, rs, true)
		rs.set(t, "admins", disabled.Email, "active", false)
		disabledPending := seed002Admin(t, s, rs, false)
		rs.set(t, "admins", disabledPending.Email, "active", false)
		keep(user.Password, staff.Password, disabled.Password, disabledPending.Password, user.Email, staff.Email, disabled.Email, disabledPending.Email)
		wrong := seed002Post(t, s, "/login/admin/", map[string]any{"email": user.Email, "password": strongPassword()})
		wantSeed002(t, "a wrong password", wrong, 401, `{"error":"Invalid credentials"}`)
		for what, a := range map[string]account{"a user": user, "staff": staff, "a disabled admin": disabled,
			"a disabled admin pending activation": disabledPending, "an unknown address": newAccount("nobody")} {
			r := seed002Login(t, s, a)
			if r.Status != wrong.Status || !bytes.Equal(r.Body, wrong.Body) {
				t.Errorf("%s with the right password: %d %s; want what a wrong one gets, %d %s", what, r.Status, r.Body, wrong.Status, wrong.Body)
			}
		}
		// The disabled admin pending activation is never mailed a code,
		// neither by the sign-in nor by a resend.
		wantSeed002(t, "resend for a disabled admin", seed002Post(t, s, "/resend/otp/user/", map[string]any{"email": disabledPending.Email}),
			200, `{"message":"Verification code sent to email"}`)
		if codes := activationCodes(t, s, disabledPending.Email); len(codes) != 0 {
			t.Fatalf("a disabled admin was mailed %v", codes)
		}
		wantSeed002(t, "a code for a disabled admin", seed002Post(t, s, "/otp/user/", map[string]any{"email": disabledPending.Email, "otp": "123456"}),
			404, `{"error":"User OTP Is Not Correct"}`)
	})

	t.Run("a pending admin is mailed a code, once a minute, and the code activates", func(t *testing.T) {
		a := seed002Admin(t, s, rs, false)
		keep(a.Password, a.Email)
		wantSeed002(t, "a pending admin", seed002Login(t, s, a), 403, `{"error":"If an account exists and requires activation, an OTP has been sent."}`)
		codes := activationCodes(t, s, a.Email)
		if len(codes) != 1 {
			t.Fatalf("codes mailed %v, want one", codes)
		}
		code := codes[0]
		keep(code)
		again := seed002Login(t, s, a)
		wantSeed002(t, "a second sign-in within 60 s", again, 429, `{"error":"Please wait before requesting another OTP"}`)
		if ra, err := strconv.Atoi(again.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
			t.Errorf("Retry-After %q, want 1 to 60 seconds", again.Header.Get("Retry-After"))
		}
		if n := len(activationCodes(t, s, a.Email)); n != 1 {
			t.Fatalf("%d codes after the second sign-in, want still one", n)
		}
		wantSeed002(t, "a wrong code", seed002Post(t, s, "/otp/user/", map[string]any{"email": a.Email, "otp": otherCode(code)}),
			404, `{"error":"User OTP Is Not Correct"}`)
		wantSeed002(t, "an unknown address", seed002Post(t, s, "/otp/user/", map[string]any{"email": uniqueEmail("nobody"), "otp": code}),
			404, `{"error":"User Not Found"}`)
		wantSeed002(t, "the right code", seed002Post(t, s, "/otp/user/", map[string]any{"email": a.Email, "otp": code}),
			200, `{"message":"OTP confirmed successfully"}`)
		wantSeed002(t, "the code again", seed002Post(t, s, "/otp/user/", map[string]any{"email": a.Email, "otp": code}),
			404, `{"error":"User OTP Is Not Correct"}`)
		keep(seed002Token(t, s, a))
	})

	t.Run("guessing stops at the attempt limit, the right code too", func(t *testing.T) {
		a := seed002Admin(t, s, rs, false)
		keep(a.Password, a.Email)
		wantSeed002(t, "a pending admin", seed002Login(t, s, a), 403, `{"error":"If an account exists and requires activation, an OTP has been sent."}`)
		code := activationCodes(t, s, a.Email)[0]
		keep(code)
		for i := range 5 { // email.max_attempts, the default
			wantSeed002(t, fmt.Sprintf("wrong code %d", i+1), seed002Post(t, s, "/otp/user/", map[string]any{"email": a.Email, "otp": otherCode(code)}),
				404, `{"error":"User OTP Is Not Correct"}`)
		}
		wantSeed002(t, "the right code after 5 wrong ones", seed002Post(t, s, "/otp/user/", map[string]any{"email": a.Email, "otp": code}),
			404, `{"error":"User OTP Is Not Correct"}`)
		// Still pending: the next sign-in is about a code again (within
		// the minute, the wait).
		wantSeed002(t, "a sign-in after the dead code", seed002Login(t, s, a), 429, `{"error":"Please wait before requesting another OTP"}`)
	})

	t.Run("resend answers alike for every address, once a minute, and mails only a pending admin", func(t *testing.T) {
		a := seed002Admin(t, s, rs, false)
		active := seed002Admin(t, s, rs, true)
		nobody := uniqueEmail("nobody")
		keep(a.Password, active.Password, a.Email, active.Email, nobody)
		for _, email := range []string{a.Email, active.Email, nobody} {
			wantSeed002(t, "resend for "+email, seed002Post(t, s, "/resend/otp/user/", map[string]any{"email": email}),
				200, `{"message":"Verification code sent to email"}`)
		}
		codes := activationCodes(t, s, a.Email)
		if len(codes) != 1 || len(activationCodes(t, s, active.Email)) != 0 || len(activationCodes(t, s, nobody)) != 0 {
			t.Fatalf("mailed %v to the pending admin, and to others: want one code to the pending admin only", codes)
		}
		keep(codes...)
		for _, email := range []string{a.Email, active.Email, nobody} {
			wantSeed002(t, "resend again for "+email, seed002Post(t, s, "/resend/otp/user/", map[string]any{"email": email}),
				429, `{"error":"Please wait before requesting another OTP"}`)
		}
		wantSeed002(t, "a sign-in within the minute of a resend", seed002Login(t, s, a), 429, `{"error":"Please wait before requesting another OTP"}`)
		wantSeed002(t, "the resent code", seed002Post(t, s, "/otp/user/", map[string]any{"email": a.Email, "otp": codes[0]}),
			200, `{"message":"OTP confirmed successfully"}`)
		keep(seed002Token(t, s, a))
	})

	t.Run("bad input names the field", func(t *testing.T) {
		wantSeed002(t, "login without fields", seed002Post(t, s, "/login/admin/", map[string]any{}),
			400, `{"error":"email: is required; password: is required"}`)
		wantSeed002(t, "login with a malformed address", seed002Post(t, s, "/login/admin/", map[string]any{"email": "admin", "password": "x"}),
			400, `{"error":"email: must be a plain e-mail address such as name@example.com"}`)
		wantSeed002(t, "otp/user without the code", seed002Post(t, s, "/otp/user/", map[string]any{"email": "a@example.com"}),
			400, `{"error":"otp: is required"}`)
		wantSeed002(t, "resend without the address", seed002Post(t, s, "/resend/otp/user/", map[string]any{}),
			400, `{"error":"email: is required"}`)
		wantSeed002(t, "a code that is a number", seed002Post(t, s, "/otp/user/", map[string]any{"email": "a@example.com", "otp": 123456}),
			400, `{"error":"otp: must be a string, got number"}`)
		r := s.do(t, http.MethodPost, "/v1/accounts/login/admin/", withHost(seed002Host), withBody("application/json", `{"email":`))
		wantSeed002(t, "a broken body", r, 400, `{"error":"body: is not valid JSON"}`)
		if r := s.do(t, http.MethodPost, "/v1/accounts/login/admin/", withHost(seed002Host), withForm(map[string][]string{"email": {"a@example.com"}})); r.Status != http.StatusUnsupportedMediaType ||
			!strings.HasPrefix(string(r.Body), `{"error":"The request body must be application/json`) {
			t.Errorf("a form: %d %s", r.Status, r.Body)
		}
	})

	t.Run("a live token of anyone but an active admin", func(t *testing.T) {
		user := newAccount("user")
		register(t, s, seed002Host, user)
		r := s.do(t, http.MethodPost, "/users/login/", withHost(seed002Host), withJSON(map[string]any{"email": user.Email, "password": user.Password}))
		if r.Status != http.StatusOK {
			t.Fatalf("seed 000 login: %d %s", r.Status, r.Body)
		}
		key := decodeJSON[struct {
			Key string `json:"key"`
		}](t, r).Key
		keep(user.Password, key)
		wantSeed002(t, "a user's token of seed 000", seed002Me(t, s, withAppToken(key)), 403, `{"error":"Access denied!"}`)

		// An admin's role changed in the store (without ending its
		// sessions, which the admin API and CLI do: then the token is
		// not active): denied once the server's cache has it.
		demoted := seed002Admin(t, s, rs, true)
		token := seed002Token(t, s, demoted)
		keep(demoted.Password, token)
		rs.set(t, "admins", demoted.Email, "role", "user")
		eventually(t, "a demoted admin's token", func() reply { return seed002Me(t, s, withAppToken(token)) }, 403, `{"error":"Access denied!"}`)

		disabled := seed002Admin(t, s, rs, true)
		token = seed002Token(t, s, disabled)
		keep(disabled.Password, token)
		rs.set(t, "admins", disabled.Email, "active", false)
		eventually(t, "a disabled admin's token", func() reply { return seed002Me(t, s, withAppToken(token)) }, 401, `{"error":"token is not active!"}`)
	})

	t.Run("a tenant without the profile does not serve it", func(t *testing.T) {
		r := s.do(t, http.MethodPost, "/v1/accounts/login/admin/", withHost(plainHost), withJSON(map[string]any{"email": "a@example.com", "password": "x"}))
		wantProblem(t, r, http.StatusNotFound, "not_found")
	})

	// The audit log: what happened is there, and no password, code or
	// token is, in any document.
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cur, err := rs.db.Collection("audit_events").Find(ctx, bson.D{{Key: "tenant_id", Value: "admins"}}, mongooptions.Find())
	if err != nil {
		t.Fatal(err)
	}
	var docs []bson.M
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, d := range docs {
		typ, _ := d["type"].(string)
		reason, _ := d["reason"].(string)
		method, _ := d["method"].(string)
		seen[typ] = true
		seen[typ+"/"+reason] = true
		seen[typ+"@"+method] = true
		raw, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range secrets {
			if secret != "" && strings.Contains(string(raw), secret) {
				t.Errorf("an audit event holds a secret %q: %s", secret, raw)
			}
		}
	}
	for _, want := range []string{"login.succeeded@admin_otp", "login.failed/not_admin", "login.failed/account_disabled", "login.failed/invalid_credentials",
		"activation.pending", "activation.code_sent/login", "activation.code_sent/resend", "activation.confirmed",
		"activation.failed/otp_invalid", "activation.failed/otp_attempts_exceeded", "activation.failed/user_not_found", "logout"} {
		if !seen[want] {
			t.Errorf("no audit event %s among %d", want, len(docs))
		}
	}
}

// eventually asks until the reply is status and body (the server's user
// cache keeps an account for a few seconds), at most 15 s.
func eventually(t *testing.T, what string, ask func() reply, status int, body string) {
	t.Helper()
	var r reply
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if r = ask(); r.Status == status && string(r.Body) == body {
			return
		}
	}
	t.Errorf("%s: %d %s, want %d %s", what, r.Status, r.Body, status, body)
}
