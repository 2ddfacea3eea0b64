package e2e_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The second factor on every surface: no first-factor route of any API
// signs in a user with TOTP on, and each completes with its own second
// step; seed 001's TOTP routes.

// everyFactorTenant is a tenant with every first factor (password, SMS
// code, e-mail code and magic link), TOTP, and both compatibility
// profiles; resend cooldowns short, so that one number and one address
// can be sent codes and links by each surface in turn; a per-user budget
// of wrong second-factor codes no test reaches.
func everyFactorTenant(id string, domains ...string) tenantSpec {
	return tenantSpec{ID: id, Domains: domains, TOTP: true, EmailLink: true, BaseURL: emailBase(id),
		SMS: "  default_region: TR\n  resend_cooldown: 0s\n", EmailResendCooldown: "1s",
		MFA: "  per_user: {limit: 100, window: 1h}\n"}
}

// seed001TOTPRequired and seed001TOTPIncorrect are the document's error
// bodies, word for word.
var (
	seed001TOTPRequired = map[string]any{"detail": "TOTP token is required.", "status": "401",
		"title": "2FA code is required", "code": "TOTPRequired"}
	seed001TOTPIncorrect = map[string]any{"detail": "Provided TOTP code or backup code is incorrect. Please try again.", "status": "401",
		"title": "2FA code is incorrect", "code": "TOTPIncorrect"}
)

// wantSeedBody checks that r has this status and exactly this JSON body,
// and sets no session cookie.
func wantSeedBody(t *testing.T, what string, r reply, status int, want map[string]any) {
	t.Helper()
	if r.Status != status {
		t.Errorf("%s: status %d, want %d; body %s", what, r.Status, status, r.Body)
		return
	}
	var got map[string]any
	if err := json.Unmarshal(r.Body, &got); err != nil || !maps.Equal(got, want) {
		t.Errorf("%s: body %s, want exactly %v", what, r.Body, want)
	}
	if c := sessionCookie(r); c != nil {
		t.Errorf("%s: a session cookie is set: %v", what, c)
	}
}

// wantSeed000Challenge checks seed 000's answer to a first factor of a
// user with TOTP: 401 mfa_required with the challenge, and no key.
func wantSeed000Challenge(t *testing.T, what string, r reply) mfaChallenge {
	t.Helper()
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("%s: status %d, want 401; body %s", what, r.Status, r.Body)
	}
	var body map[string]any
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("%s: not JSON: %s", what, r.Body)
	}
	if _, ok := body["key"]; ok || body["detail"] == "" || sessionCookie(r) != nil {
		t.Fatalf("%s: %s, want DRF's detail and no key or cookie", what, r.Body)
	}
	ch := decodeJSON[mfaChallenge](t, r)
	if ch.Code != "mfa_required" || ch.MFAToken == "" || ch.ExpiresAt == "" || !slices.Equal(ch.Methods, []string{"totp", "backup_code"}) {
		t.Fatalf("%s: %s, want code mfa_required with mfa_token, mfa_expires_at and methods", what, r.Body)
	}
	return ch
}

// credentialOf is the credential of a canonical login answer as a request
// option: the access token, the app token or the session cookie.
func credentialOf(t *testing.T, r reply) reqOption {
	t.Helper()
	ans := decodeJSON[loginAnswer](t, r)
	switch {
	case ans.AccessToken != "":
		return withBearer(ans.AccessToken)
	case ans.AppToken != "":
		return withAppToken(ans.AppToken)
	}
	if c := sessionCookie(r); c != nil {
		return withSessionCookie(c.Value)
	}
	t.Fatalf("no credential in %s", r.Body)
	return nil
}

// seedKey is the app token of a seed 001 sign-in answer in app-token mode.
func seedKey(t *testing.T, what string, r reply) string {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("%s: status %d, want 200; body %s", what, r.Status, r.Body)
	}
	_, key := seedSignIn(t, r)
	return key
}

// TestASecondFactorCannotBeSkipped: a user with TOTP gets no session from
// any first-factor route of any surface, and the sign-in completes with
// each surface's second step.
func TestASecondFactorCannotBeSkipped(t *testing.T) {
	t.Parallel()
	const host, id, phone = "localhost", "every", "+905355550101"
	s := startTenants(t, everyFactorTenant(id, host))
	a := newAccount("everyway")
	registerWithPhone(t, s, a, phone)
	e := enrolTOTP(t, s, host, a)

	// nothing checks that no credential came with a refusal: /auth/v1/me
	// with what the client holds (nothing) is 401.
	nothing := func(what string) {
		t.Helper()
		if r := me(t, s, host); r.Status != http.StatusUnauthorized {
			t.Fatalf("%s: me without a credential: %d %s", what, r.Status, r.Body)
		}
	}
	// challenges are the canonical second steps waiting, by route.
	type pending struct{ what, token string }
	var challenges []pending
	challenge := func(what string, ch mfaChallenge) {
		nothing(what)
		challenges = append(challenges, pending{what, ch.MFAToken})
	}

	// The canonical API: password for each session kind, SMS code, e-mail
	// code, magic link.
	for _, kind := range []string{"", "cookie", "app"} {
		body := map[string]any{"email": a.Email, "password": a.Password}
		if kind != "" {
			body["session"] = kind
		}
		what := "canonical password (session " + kind + ")"
		challenge(what, wantChallenge(t, what, postJSON(t, s, host, "/auth/v1/login", body)))
	}
	sent := 0
	smsCodeNow := func() string {
		t.Helper()
		sent++
		return outboxCode(t, s, host, phone, sent-1)
	}
	if r := smsSendAt(t, s, host, phone); r.Status != http.StatusAccepted {
		t.Fatalf("sms send: %d %s", r.Status, r.Body)
	}
	challenge("canonical SMS", wantChallenge(t, "canonical SMS", smsVerifyAt(t, s, host, phone, smsCodeNow())))

	if r := postJSON(t, s, host, "/auth/v1/email/code/send", map[string]any{"email": a.Email}); r.Status != http.StatusAccepted {
		t.Fatalf("e-mail code send: %d %s", r.Status, r.Body)
	}
	m := waitMail(t, s, host, a.Email, emailCodeSubject(id), 0)
	code := smsCode.FindStringSubmatch(m.Text)
	if code == nil {
		t.Fatalf("no code in the mail:\n%s", m.Text)
	}
	challenge("canonical e-mail code", wantChallenge(t, "canonical e-mail code",
		postJSON(t, s, host, "/auth/v1/email/code/verify", map[string]any{"email": a.Email, "code": code[1]})))

	_, token := magicLink(t, s, host, id, a.Email, "")
	challenge("canonical magic link", wantChallenge(t, "canonical magic link",
		postJSON(t, s, host, "/auth/v1/magic-link/consume", map[string]any{"token": token})))

	// Seed 000: password and SMS, in its own shape, with the challenge.
	ch := wantSeed000Challenge(t, "seed 000 password",
		postJSON(t, s, host, "/users/login/?next=/dashboard/", map[string]any{"email": a.Email, "password": a.Password}))
	challenge("seed 000 password", ch)
	if r := seed000SMS(t, s, map[string]any{"phone": "05355550101"}); r.Status != http.StatusOK {
		t.Fatalf("seed 000 SMS send: %d %s", r.Status, r.Body)
	}
	challenge("seed 000 SMS", wantSeed000Challenge(t, "seed 000 SMS", seed000SMS(t, s, map[string]any{"phone": "05355550101", "code": smsCodeNow()})))

	// Seed 001: login in both modes and a magic link, the document's
	// TOTPRequired; no challenge shown.
	seedLoginBody := map[string]any{"email": a.Email, "password": a.Password}
	for _, mode := range []reqOption{withHeader("X-Requested-By", "web"), seedMobile} {
		r := seedDo(t, s, http.MethodPost, "/api/user/login/", seedLoginBody, mode)
		wantSeedBody(t, "seed 001 login", r, http.StatusUnauthorized, seed001TOTPRequired)
		if r.Header.Get("X-CSRF-Token") != "" {
			t.Errorf("seed 001 login: a CSRF token without a session")
		}
		nothing("seed 001 login")
	}
	seedMagic := func() string {
		t.Helper()
		before := len(mailsTo(t, s, host, a.Email, magicLinkSubject(id)))
		wantSeedStatus(t, seedDo(t, s, http.MethodPost, "/api/user/magic_link/request/", map[string]any{"email": a.Email}), http.StatusNoContent)
		return tokenOf(t, linkIn(t, waitMail(t, s, host, a.Email, magicLinkSubject(id), before), emailBase(id), seedMagicPath))
	}
	time.Sleep(1100 * time.Millisecond) // the address's magic-link cooldown since the canonical link
	magic := seedMagic()
	wantSeedBody(t, "seed 001 magic link", seedDo(t, s, http.MethodPost, "/api/user/magic_link/consume/",
		map[string]any{"token": magic}, seedMobile), http.StatusUnauthorized, seed001TOTPRequired)
	nothing("seed 001 magic link")

	// Every canonical challenge (seed 000's too) completes at
	// /auth/v1/mfa/verify: backup codes for most, TOTP codes for the rest.
	codes := slices.Clone(e.BackupCodes)
	next := func() string {
		t.Helper()
		if len(codes) > 3 { // three backup codes kept for seed 001
			c := codes[0]
			codes = codes[1:]
			return c
		}
		return e.code(t)
	}
	for _, p := range challenges {
		r := mfaVerify(t, s, host, p.token, next())
		if r.Status != http.StatusOK {
			t.Fatalf("%s, second step: %d %s", p.what, r.Status, r.Body)
		}
		if got := me(t, s, host, credentialOf(t, r)); got.Status != http.StatusOK {
			t.Fatalf("%s: me with the second step's credential: %d %s", p.what, got.Status, got.Body)
		}
	}
	// Seed 001 completes with code: login in web mode (the cookie), in
	// app-token mode, and a new magic link.
	seedLoginBody["code"] = codes[0]
	r := seedDo(t, s, http.MethodPost, "/api/user/login/", seedLoginBody)
	if c := sessionCookie(r); r.Status != http.StatusOK || c == nil {
		t.Fatalf("seed 001 web login with a backup code: %d %s", r.Status, r.Body)
	} else if got := s.get(t, "/api/user/me/", withHost(host), withSessionCookie(c.Value)); got.Status != http.StatusOK {
		t.Fatalf("seed 001 me with the cookie: %d %s", got.Status, got.Body)
	}
	seedLoginBody["code"] = codes[1]
	seedMe(t, s, seedKey(t, "seed 001 app login with a backup code", seedDo(t, s, http.MethodPost, "/api/user/login/", seedLoginBody, seedMobile)))
	// As in the original, the magic link refused for its code is sent
	// again with it (its page asks for the code and resubmits the token):
	// a wrong code keeps it too; a right one signs in, once.
	consume := func(code string) reply {
		t.Helper()
		return seedDo(t, s, http.MethodPost, "/api/user/magic_link/consume/", map[string]any{"token": magic, "code": code}, seedMobile)
	}
	wantSeedBody(t, "seed 001 magic link with a wrong code", consume("zzzzzzzz"), http.StatusUnauthorized, seed001TOTPIncorrect)
	seedMe(t, s, seedKey(t, "seed 001 magic link again with a backup code", consume(codes[2])))
	wantInvalidToken(t, consume(e.BackupCodes[0]))
}

// TestSeed001TOTPRoutes: seed 001's totp/ routes (init, enable, disable,
// new backup codes) with the original's answers and error codes, the
// login's code, and the backup-code lockout.
func TestSeed001TOTPRoutes(t *testing.T) {
	t.Parallel()
	spec := tenantSpec{ID: "totp001", Domains: []string{"localhost"}, TOTP: true, MFA: "  per_user: {limit: 100, window: 1h}\n"}
	s := startTenants(t, spec)
	a := newAccount("seedtotp")
	key := seedRegister(t, s, a) // a new user has no TOTP: register signs in
	signedIn := withAppToken(key)
	post := func(path string, body any) reply {
		t.Helper()
		return seedDo(t, s, http.MethodPost, path, body, signedIn)
	}
	disable := func(body any) reply {
		t.Helper()
		return seedDo(t, s, http.MethodPut, "/api/user/totp/disable/", body, signedIn)
	}
	wantSeedError := func(what string, r reply, status int, code, title, detail string) {
		t.Helper()
		wantSeed001(t, r, status, code, "", "")
		if e := decodeJSON[seed001Error](t, r); e.Title != title || (detail != "" && e.Detail != detail) {
			t.Errorf("%s: title %q detail %q, want %q %q", what, e.Title, e.Detail, title, detail)
		}
		wantNoStore(t, r)
	}
	const notSetUp = "You will need to start the TOTP setup process first."

	// Signed in only.
	for _, path := range []string{"/api/user/totp/init/", "/api/user/totp/enable", "/api/user/totp/new-backup-codes/"} {
		wantSeed001(t, seedDo(t, s, http.MethodPost, path, map[string]any{"code": "123456"}), http.StatusUnauthorized, "NotAuthenticated", "", "")
	}
	// Nothing to enable, disable or replace before init.
	wantSeedError("enable before init", post("/api/user/totp/enable/", map[string]any{"code": "123456"}), http.StatusBadRequest, "TOTPNotSetup", "TOTP not set", notSetUp)
	wantSeedError("disable before init", disable(map[string]any{"code": "123456"}), http.StatusBadRequest, "TOTPNotSetup", "TOTP not set", notSetUp)
	wantSeedError("new codes before init", post("/api/user/totp/new-backup-codes", map[string]any{"code": "123456"}), http.StatusBadRequest, "TOTPNotSetup", "TOTP not set", notSetUp)

	if r := seedDo(t, s, http.MethodGet, "/api/user/totp/init/", nil, signedIn); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("GET totp/init/: %d, want 405", r.Status)
	}
	r := post("/api/user/totp/init", nil)
	wantSeedStatus(t, r, http.StatusCreated)
	initBody := decodeJSON[map[string]any](t, r)
	if got := slices.Sorted(maps.Keys(initBody)); !slices.Equal(got, []string{"backup_codes", "key", "provision"}) {
		t.Fatalf("init answer keys %v: %s", got, r.Body)
	}
	var enrolled struct {
		Key         string   `json:"key"`
		BackupCodes []string `json:"backup_codes"`
		Provision   string   `json:"provision"`
	}
	enrolled.Key, enrolled.Provision = initBody["key"].(string), initBody["provision"].(string)
	for _, c := range initBody["backup_codes"].([]any) {
		enrolled.BackupCodes = append(enrolled.BackupCodes, c.(string))
	}
	if !strings.HasPrefix(enrolled.Provision, "otpauth://totp/totp001:") || !strings.Contains(enrolled.Provision, "secret="+enrolled.Key) ||
		len(enrolled.BackupCodes) != 8 || len(enrolled.BackupCodes[0]) != 8 {
		t.Fatalf("init answer %s, want the key in an otpauth URI and 8 backup codes of 8 characters", r.Body)
	}
	e := &enrolment{Secret: enrolled.Key, BackupCodes: enrolled.BackupCodes}

	// enable: 6 digits only; the code of the new secret.
	wantSeedError("enable with a backup code", post("/api/user/totp/enable/", map[string]any{"code": e.BackupCodes[0]}), http.StatusBadRequest,
		"InvalidTOTPTokenTooLong", "Invalid TOTP Token", "Please use a 6-digit TOTP token to enable TOTP. Backup codes cannot be used.")
	wantSeedError("enable with an old code", post("/api/user/totp/enable/", map[string]any{"code": oathtool(t, e.Secret, time.Now().Add(-90*time.Second))}),
		http.StatusBadRequest, "InvalidTOTPToken", "Invalid TOTP Token", "The provided TOTP token is invalid. Please try again.")
	wantSeedError("enable without a code", post("/api/user/totp/enable/", map[string]any{}),
		http.StatusBadRequest, "InvalidTOTPToken", "Invalid TOTP Token", "")
	r = post("/api/user/totp/enable", map[string]any{"code": e.code(t)})
	wantSeedStatus(t, r, http.StatusOK)
	if len(r.Body) != 0 {
		t.Errorf("enable: body %s, want none", r.Body)
	}
	wantSeedError("init again", post("/api/user/totp/init/", nil), http.StatusBadRequest,
		"TOTPAlreadyEnabledOnInit", "TOTP is already enabled", "You are attempting to setup TOTP but it is already enabled.")

	// login: code required; a wrong TOTP or backup code is incorrect; a
	// right one of either signs in.
	seedLoginA := func(code string, opts ...reqOption) reply {
		t.Helper()
		body := map[string]any{"email": a.Email, "password": a.Password}
		if code != "" {
			body["code"] = code
		}
		return seedDo(t, s, http.MethodPost, "/api/user/login/", body, append([]reqOption{seedMobile}, opts...)...)
	}
	wantSeedBody(t, "login without a code", seedLoginA(""), http.StatusUnauthorized, seed001TOTPRequired)
	wantSeedBody(t, "login with a blank code", seedLoginA("   "), http.StatusUnauthorized, seed001TOTPRequired)
	wantSeedBody(t, "login with an old TOTP code", seedLoginA(oathtool(t, e.Secret, time.Now().Add(-90*time.Second))), http.StatusUnauthorized, seed001TOTPIncorrect)
	wantSeed001(t, seedDo(t, s, http.MethodPost, "/api/user/login/", map[string]any{"email": a.Email, "password": "not it", "code": "123456"}, seedMobile),
		http.StatusBadRequest, "LoginSerializerErrors", "", "")
	seedMe(t, s, seedKey(t, "login with a TOTP code", seedLoginA(e.code(t))))
	seedMe(t, s, seedKey(t, "login with a backup code", seedLoginA(e.BackupCodes[0])))
	wantSeedBody(t, "login with a used backup code", seedLoginA(e.BackupCodes[0]), http.StatusUnauthorized, seed001TOTPIncorrect)

	// new-backup-codes: with a TOTP code, in cookie mode too (with the
	// CSRF token); the old codes stop working.
	wantSeedError("new codes with a backup code", post("/api/user/totp/new-backup-codes/", map[string]any{"code": e.BackupCodes[1]}),
		http.StatusBadRequest, "InvalidTOTPToken", "Invalid TOTP Token", "The provided TOTP token or backup code is invalid. Please try again.")
	web := seedLoginA(e.BackupCodes[2], withHeader("X-Requested-By", "web"))
	cookie := sessionCookie(web)
	if web.Status != http.StatusOK || cookie == nil || web.Header.Get("X-CSRF-Token") == "" {
		t.Fatalf("web login with a backup code: %d %s", web.Status, web.Body)
	}
	renew := func(code string, opts ...reqOption) reply {
		t.Helper()
		return seedDo(t, s, http.MethodPost, "/api/user/totp/new-backup-codes/", map[string]any{"code": code},
			append([]reqOption{withSessionCookie(cookie.Value)}, opts...)...)
	}
	wantSeed001(t, renew("123456"), http.StatusForbidden, "CSRFFailed", "", "")
	r = renew(e.code(t), withHeader("X-CSRF-Token", web.Header.Get("X-CSRF-Token")))
	wantSeedStatus(t, r, http.StatusOK)
	fresh := decodeJSON[struct {
		BackupCodes []string `json:"backup_codes"`
	}](t, r).BackupCodes
	if len(fresh) != 8 || slices.Contains(fresh, e.BackupCodes[3]) {
		t.Fatalf("new backup codes %v", fresh)
	}
	wantSeedBody(t, "login with a replaced backup code", seedLoginA(e.BackupCodes[3]), http.StatusUnauthorized, seed001TOTPIncorrect)

	// disable: with a TOTP or backup code (used up), PUT only.
	if r := post("/api/user/totp/disable/", map[string]any{"code": fresh[0]}); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("POST totp/disable/: %d, want 405", r.Status)
	}
	const invalid = "The provided TOTP token or backup code is invalid. Please try again."
	wantSeedError("disable without a code", disable(map[string]any{}), http.StatusBadRequest, "InvalidTOTPToken", "Invalid TOTP Token", invalid)
	wantSeedError("disable with a wrong code", disable(map[string]any{"code": oathtool(t, e.Secret, time.Now().Add(-90*time.Second))}),
		http.StatusBadRequest, "InvalidTOTPToken", "Invalid TOTP Token", invalid)
	r = seedDo(t, s, http.MethodPut, "/api/user/totp/disable", map[string]any{"code": fresh[0]}, signedIn)
	wantSeedStatus(t, r, http.StatusOK)
	seedKey(t, "login after disable, without a code", seedLoginA(""))
	wantSeedError("disable again", disable(map[string]any{"code": fresh[1]}), http.StatusBadRequest, "TOTPNotSetup", "TOTP not set", notSetUp)

	// The backup-code lockout: after 3 wrong backup codes a right one is
	// refused for 30 minutes; TOTP codes still work.
	b := newAccount("seedlocked")
	bkey := seedRegister(t, s, b)
	r = seedDo(t, s, http.MethodPost, "/api/user/totp/init/", nil, withAppToken(bkey))
	wantSeedStatus(t, r, http.StatusCreated)
	eb := &enrolment{}
	if err := json.Unmarshal(r.Body, &struct {
		Key         *string   `json:"key"`
		BackupCodes *[]string `json:"backup_codes"`
	}{&eb.Secret, &eb.BackupCodes}); err != nil {
		t.Fatal(err)
	}
	wantSeedStatus(t, seedDo(t, s, http.MethodPost, "/api/user/totp/enable/", map[string]any{"code": eb.code(t)}, withAppToken(bkey)), http.StatusOK)
	loginB := func(code string) reply {
		t.Helper()
		return seedDo(t, s, http.MethodPost, "/api/user/login/", map[string]any{"email": b.Email, "password": b.Password, "code": code}, seedMobile)
	}
	for _, wrong := range []string{"zzzzzzzz", "yyyyyyyy", "xxxxxxxx"} {
		wantSeedBody(t, "login with a wrong backup code", loginB(wrong), http.StatusUnauthorized, seed001TOTPIncorrect)
	}
	r = loginB(eb.BackupCodes[0])
	wantSeedBody(t, "a right backup code after 3 wrong ones", r, http.StatusUnauthorized, seed001TOTPIncorrect)
	if after, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || after < 29*60 || after > 30*60 {
		t.Errorf("Retry-After %q, want about 30 minutes", r.Header.Get("Retry-After"))
	}
	wantSeedError("disable with a backup code while locked", seedDo(t, s, http.MethodPut, "/api/user/totp/disable/",
		map[string]any{"code": eb.BackupCodes[1]}, withAppToken(bkey)), http.StatusBadRequest, "InvalidTOTPToken", "Invalid TOTP Token", invalid)
	seedMe(t, s, seedKey(t, "a TOTP code while backup codes are locked", loginB(eb.code(t))))
}
