package e2e_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

// mfaTenant is a tenant with the second factor and every first factor of
// the canonical API: password, SMS code, e-mail code and magic link. It
// serves no seed 001 profile, whose backup codes are of another form.
func mfaTenant(id string, domains ...string) tenantSpec {
	return tenantSpec{ID: id, Domains: domains, TOTP: true, EmailLink: true, BaseURL: emailBase(id),
		SMS: "  default_region: TR\n", NoSeed001: true}
}

// totpCode is the TOTP code of secret (base32) at t: what an
// authenticator app shows. TestTOTPCodesMatchOathtool checks these codes
// against the oathtool command, an independent implementation.
func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// oathtool is the TOTP code of secret at t as the oathtool command
// computes it. CI installs the command (.ci/run) and a run there without
// it fails; elsewhere the check is skipped with a word on how to run it.
func oathtool(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	if _, err := exec.LookPath("oathtool"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("oathtool is not installed; .ci/run installs it (apt-get install oathtool)")
		}
		t.Skip("the oathtool cross-check needs the oathtool command (apt-get install oathtool); CI runs it")
	}
	out, err := exec.Command("oathtool", "--totp", "-b", "--now", at.UTC().Format("2006-01-02 15:04:05 UTC"), secret).CombinedOutput()
	if err != nil {
		t.Fatalf("oathtool: %v: %s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// enrolment is what setting up TOTP gave a test.
type enrolment struct {
	Secret      string   `json:"secret"`
	URI         string   `json:"otpauth_uri"`
	QRCode      string   `json:"qr_code"`
	BackupCodes []string `json:"backup_codes"`
	// used is the last step whose code the test spent.
	used time.Time
}

// code is an unspent TOTP code: the next step's (within the skew) after
// the last one the test used, or now's.
func (e *enrolment) code(t *testing.T) string {
	t.Helper()
	at := time.Now()
	if !e.used.IsZero() && at.Unix()/30 <= e.used.Unix()/30 {
		at = e.used.Add(30 * time.Second)
	}
	if at.Unix()/30 > time.Now().Unix()/30+1 {
		// Both steps of the skew are spent: wait for the next one.
		time.Sleep(time.Until(time.Unix((at.Unix()/30-1)*30, 0)) + 100*time.Millisecond)
	}
	e.used = at
	return totpCode(t, e.Secret, at)
}

// enrolTOTP sets up and confirms TOTP for a (registered) on the tenant at
// host.
func enrolTOTP(t *testing.T, s *server, host string, a account) *enrolment {
	t.Helper()
	tok := login(t, s, host, a, "").AccessToken
	r := s.do(t, http.MethodPost, "/auth/v1/mfa/totp/setup", withHost(host), withBearer(tok))
	if r.Status != http.StatusCreated {
		t.Fatalf("setup: %d %s", r.Status, r.Body)
	}
	e := decodeJSON[enrolment](t, r)
	r = s.do(t, http.MethodPost, "/auth/v1/mfa/totp/confirm", withHost(host), withBearer(tok), withJSON(map[string]any{"code": e.code(t)}))
	if r.Status != http.StatusOK {
		t.Fatalf("confirm: %d %s", r.Status, r.Body)
	}
	return &e
}

// mfaChallenge is the problem a first factor of a user with TOTP answers.
type mfaChallenge struct {
	Code      string   `json:"code"`
	MFAToken  string   `json:"mfa_token"`
	ExpiresAt string   `json:"mfa_expires_at"`
	Methods   []string `json:"methods"`
}

// wantChallenge checks that r is 401 mfa_required with a challenge, and
// that it carries no credential.
func wantChallenge(t *testing.T, what string, r reply) mfaChallenge {
	t.Helper()
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("%s: status %d, want 401 mfa_required; body %s", what, r.Status, r.Body)
	}
	ch := decodeJSON[mfaChallenge](t, r)
	if ch.Code != "mfa_required" || ch.MFAToken == "" || !slices.Equal(ch.Methods, []string{"totp", "backup_code"}) {
		t.Fatalf("%s: %s, want mfa_required with mfa_token and methods", what, r.Body)
	}
	if sessionCookie(r) != nil || strings.Contains(string(r.Body), "access_token") || strings.Contains(string(r.Body), "app_token") {
		t.Fatalf("%s: a credential in a challenge: %s", what, r.Body)
	}
	return ch
}

func mfaVerify(t *testing.T, s *server, host, token, code string) reply {
	t.Helper()
	return s.do(t, http.MethodPost, "/auth/v1/mfa/verify", withHost(host), withJSON(map[string]any{"mfa_token": token, "code": code}))
}

// TestTOTPOnTheCanonicalAPI: setting up an authenticator app, signing in with it and with a backup code, replacing the
// backup codes and turning it off.
func TestTOTPOnTheCanonicalAPI(t *testing.T) {
	t.Parallel()
	s := startTenants(t, mfaTenant("mfa", "localhost"))
	a := newAccount("totp")
	register(t, s, "localhost", a)
	tok := login(t, s, "localhost", a, "").AccessToken
	status := func(tok string) map[string]any {
		r := s.get(t, "/auth/v1/mfa", withHost("localhost"), withBearer(tok))
		if r.Status != http.StatusOK {
			t.Fatalf("status: %d %s", r.Status, r.Body)
		}
		return decodeJSON[map[string]any](t, r)
	}
	if st := status(tok); st["enabled"] != false || st["pending"] != false {
		t.Fatalf("status before setup %v", st)
	}
	r := s.do(t, http.MethodPost, "/auth/v1/mfa/totp/setup", withHost("localhost"), withBearer(tok))
	if r.Status != http.StatusCreated || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("setup: %d %v %s", r.Status, r.Header, r.Body)
	}
	e := decodeJSON[enrolment](t, r)
	if !strings.HasPrefix(e.URI, "otpauth://totp/mfa:") || !strings.Contains(e.URI, "secret="+e.Secret) || !strings.Contains(e.URI, "issuer=mfa") ||
		!strings.HasPrefix(e.QRCode, "data:image/png;base64,") || len(e.BackupCodes) != 10 {
		t.Fatalf("setup answer %+v", e)
	}
	// A code three steps old is outside the skew; the current one turns
	// the factor on.
	wantProblem(t, s.do(t, http.MethodPost, "/auth/v1/mfa/totp/confirm", withHost("localhost"), withBearer(tok),
		withJSON(map[string]any{"code": totpCode(t, e.Secret, time.Now().Add(-90*time.Second))})), http.StatusUnauthorized, "mfa_code_invalid")
	r = s.do(t, http.MethodPost, "/auth/v1/mfa/totp/confirm", withHost("localhost"), withBearer(tok), withJSON(map[string]any{"code": e.code(t)}))
	if r.Status != http.StatusOK {
		t.Fatalf("confirm: %d %s", r.Status, r.Body)
	}
	if st := status(tok); st["enabled"] != true || st["backup_codes_left"] != float64(10) {
		t.Fatalf("status after confirm %v", st)
	}
	wantProblem(t, s.do(t, http.MethodPost, "/auth/v1/mfa/totp/setup", withHost("localhost"), withBearer(tok)), http.StatusConflict, "mfa_already_enabled")

	// The password alone is now a challenge, for every session kind.
	for _, kind := range []string{"", "app", "cookie"} {
		body := map[string]any{"email": a.Email, "password": a.Password}
		if kind != "" {
			body["session"] = kind
		}
		wantChallenge(t, "login "+kind, s.do(t, http.MethodPost, "/auth/v1/login", withHost("localhost"), withJSON(body)))
	}
	ch := wantChallenge(t, "login", tryLogin(t, s, "localhost", a.Email, a.Password))
	wantProblem(t, mfaVerify(t, s, "localhost", ch.MFAToken, "000000"), http.StatusUnauthorized, "mfa_code_invalid")
	r = mfaVerify(t, s, "localhost", ch.MFAToken, e.code(t))
	if r.Status != http.StatusOK {
		t.Fatalf("second step: %d %s", r.Status, r.Body)
	}
	signed := decodeJSON[loginAnswer](t, r)
	if m := me(t, s, "localhost", withBearer(signed.AccessToken)); m.Status != http.StatusOK {
		t.Fatalf("me after the second step: %d %s", m.Status, m.Body)
	}
	if amr := jwtClaim(t, signed.AccessToken, "amr"); amr != `["pwd","otp","mfa"]` {
		t.Fatalf("amr %s, want [\"pwd\",\"otp\",\"mfa\"]", amr)
	}
	// A backup code, typed in capitals with a hyphen, signs in once.
	code := e.BackupCodes[0]
	ch = wantChallenge(t, "login", tryLogin(t, s, "localhost", a.Email, a.Password))
	if r := mfaVerify(t, s, "localhost", ch.MFAToken, strings.ToUpper(code[:5]+"-"+code[5:])); r.Status != http.StatusOK {
		t.Fatalf("a backup code: %d %s", r.Status, r.Body)
	}
	ch = wantChallenge(t, "login", tryLogin(t, s, "localhost", a.Email, a.Password))
	wantProblem(t, mfaVerify(t, s, "localhost", ch.MFAToken, code), http.StatusUnauthorized, "mfa_code_invalid")
	if m := waitMail(t, s, "localhost", a.Email, "A backup code was used for your mfa account", 0); !strings.Contains(m.Text, "9 backup codes left") {
		t.Fatalf("backup-code notice: %s", m.Text)
	}
	// New backup codes need a current code, and replace the old ones.
	wantProblem(t, s.do(t, http.MethodPost, "/auth/v1/mfa/backup-codes", withHost("localhost"), withBearer(tok),
		withJSON(map[string]any{"code": e.BackupCodes[1]})), http.StatusUnauthorized, "mfa_code_invalid")
	r = s.do(t, http.MethodPost, "/auth/v1/mfa/backup-codes", withHost("localhost"), withBearer(tok), withJSON(map[string]any{"code": e.code(t)}))
	if r.Status != http.StatusOK {
		t.Fatalf("new backup codes: %d %s", r.Status, r.Body)
	}
	fresh := decodeJSON[enrolment](t, r).BackupCodes
	if len(fresh) != 10 || slices.Contains(fresh, e.BackupCodes[1]) {
		t.Fatalf("new backup codes %v", fresh)
	}
	wantProblem(t, mfaVerify(t, s, "localhost", ch.MFAToken, e.BackupCodes[1]), http.StatusUnauthorized, "mfa_code_invalid")
	// Turning it off needs proof.
	disable := func(body map[string]any) reply {
		return s.do(t, http.MethodPost, "/auth/v1/mfa/totp/disable", withHost("localhost"), withBearer(tok), withJSON(body))
	}
	wantProblem(t, disable(map[string]any{}), http.StatusBadRequest, "mfa_proof_required")
	wantProblem(t, disable(map[string]any{"code": "123456"}), http.StatusUnauthorized, "mfa_code_invalid")
	if r := disable(map[string]any{"password": "not the password"}); r.Status < 400 {
		t.Fatalf("disable with a wrong password: %d %s", r.Status, r.Body)
	}
	if r := disable(map[string]any{"password": a.Password}); r.Status != http.StatusNoContent {
		t.Fatalf("disable with the password: %d %s", r.Status, r.Body)
	}
	if st := status(tok); st["enabled"] != false {
		t.Fatalf("status after disable %v", st)
	}
	login(t, s, "localhost", a, "")
}

// TestEnrolmentCannotBeConfirmedWithAnotherSecretsCode: a code of another
// user's secret, or of a setup since replaced, confirms nothing.
func TestEnrolmentCannotBeConfirmedWithAnotherSecretsCode(t *testing.T) {
	t.Parallel()
	s := startTenants(t, mfaTenant("mfa", "localhost"))
	a, b := newAccount("owner"), newAccount("other")
	register(t, s, "localhost", a)
	register(t, s, "localhost", b)
	ta, tb := login(t, s, "localhost", a, "").AccessToken, login(t, s, "localhost", b, "").AccessToken
	setup := func(tok string) enrolment {
		r := s.do(t, http.MethodPost, "/auth/v1/mfa/totp/setup", withHost("localhost"), withBearer(tok))
		if r.Status != http.StatusCreated {
			t.Fatalf("setup: %d %s", r.Status, r.Body)
		}
		return decodeJSON[enrolment](t, r)
	}
	confirm := func(tok, code string) reply {
		return s.do(t, http.MethodPost, "/auth/v1/mfa/totp/confirm", withHost("localhost"), withBearer(tok), withJSON(map[string]any{"code": code}))
	}
	first, other := setup(ta), setup(tb)
	wantProblem(t, confirm(ta, other.code(t)), http.StatusUnauthorized, "mfa_code_invalid")
	second := setup(ta) // replaces the first
	wantProblem(t, confirm(ta, first.code(t)), http.StatusUnauthorized, "mfa_code_invalid")
	if r := confirm(ta, second.code(t)); r.Status != http.StatusOK {
		t.Fatalf("confirm with the current secret: %d %s", r.Status, r.Body)
	}
}

// TestTheMFATokenIsNoCredential: the token of a challenge is refused as a
// bearer token, an app token and a session cookie, on another tenant,
// after use, and signs in only its own user.
func TestTheMFATokenIsNoCredential(t *testing.T) {
	t.Parallel()
	s := startTenants(t, mfaTenant("mfa", "localhost"), mfaTenant("other", "other.localhost"))
	a, b := newAccount("holder"), newAccount("bystander")
	register(t, s, "localhost", a)
	register(t, s, "localhost", b)
	ea, eb := enrolTOTP(t, s, "localhost", a), enrolTOTP(t, s, "localhost", b)
	ch := wantChallenge(t, "login", tryLogin(t, s, "localhost", a.Email, a.Password))
	for name, opt := range map[string]reqOption{"bearer": withBearer(ch.MFAToken), "app token": withAppToken(ch.MFAToken),
		"cookie": withSessionCookie(ch.MFAToken)} {
		if r := me(t, s, "localhost", opt); r.Status != http.StatusUnauthorized {
			t.Errorf("the mfa_token as a %s: %d %s, want 401", name, r.Status, r.Body)
		}
	}
	wantProblem(t, mfaVerify(t, s, "other.localhost", ch.MFAToken, ea.code(t)), http.StatusUnauthorized, "mfa_token_invalid")
	// Another user's code does not answer this user's challenge.
	wantProblem(t, mfaVerify(t, s, "localhost", ch.MFAToken, eb.code(t)), http.StatusUnauthorized, "mfa_code_invalid")
	r := mfaVerify(t, s, "localhost", ch.MFAToken, ea.code(t))
	if r.Status != http.StatusOK || decodeJSON[loginAnswer](t, r).User.Email != strings.ToLower(a.Email) {
		t.Fatalf("the second step: %d %s", r.Status, r.Body)
	}
	wantProblem(t, mfaVerify(t, s, "localhost", ch.MFAToken, ea.BackupCodes[0]), http.StatusUnauthorized, "mfa_token_invalid")
}

// TestSecondFactorReplayAndBruteForce: a TOTP code signs in once, also
// when twenty challenges are answered with it together; a backup code
// likewise; and a challenge dies after five wrong codes.
func TestSecondFactorReplayAndBruteForce(t *testing.T) {
	t.Parallel()
	spec := mfaTenant("mfa", "localhost")
	spec.MFA = "  per_user: {limit: 100, window: 1h}\n" // the races' 38 losers count as wrong codes
	s := startTenants(t, spec)
	a := newAccount("replayed")
	register(t, s, "localhost", a)
	e := enrolTOTP(t, s, "localhost", a)
	race := func(what, code string) {
		t.Helper()
		tokens := make([]string, 20)
		for i := range tokens {
			tokens[i] = wantChallenge(t, "login", tryLogin(t, s, "localhost", a.Email, a.Password)).MFAToken
		}
		var ok atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for _, tok := range tokens {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if r, err := s.send(http.MethodPost, "/auth/v1/mfa/verify", withHost("localhost"),
					withJSON(map[string]any{"mfa_token": tok, "code": code})); err == nil && r.Status == http.StatusOK {
					ok.Add(1)
				}
			}()
		}
		close(start)
		wg.Wait()
		if ok.Load() != 1 {
			t.Fatalf("%s sent to 20 challenges together: %d sign-ins, want 1", what, ok.Load())
		}
	}
	race("one TOTP code", e.code(t))
	race("one backup code", e.BackupCodes[2])

	ch := wantChallenge(t, "login", tryLogin(t, s, "localhost", a.Email, a.Password))
	for i := range 5 {
		wantProblem(t, mfaVerify(t, s, "localhost", ch.MFAToken, "00000"+string(rune('0'+i))), http.StatusUnauthorized, "mfa_code_invalid")
	}
	wantProblem(t, mfaVerify(t, s, "localhost", ch.MFAToken, e.code(t)), http.StatusUnauthorized, "mfa_attempts_exceeded")
	wantProblem(t, mfaVerify(t, s, "localhost", ch.MFAToken, e.BackupCodes[3]), http.StatusUnauthorized, "mfa_token_invalid")
}

// jwtClaim is the claim of a JWT's payload as JSON, unverified (the
// server verified it).
func jwtClaim(t *testing.T, token, claim string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	return string(claims[claim])
}

// TestARequiredSecondFactorIsSetUpBeforeTheFirstSession: on a tenant
// that requires a second factor of its users, a password sign-in of a user
// without one gets only a token to set one up; confirming it finishes the
// sign-in, and every later sign-in asks for a code.
func TestARequiredSecondFactorIsSetUpBeforeTheFirstSession(t *testing.T) {
	t.Parallel()
	spec := mfaTenant("strict", "localhost")
	spec.MFA = "  required_roles: [user]\n"
	s := startTenants(t, spec)
	a := newAccount("obliged")
	register(t, s, "localhost", a)
	r := tryLogin(t, s, "localhost", a.Email, a.Password)
	wantProblem(t, r, http.StatusForbidden, "mfa_enrolment_required")
	body := decodeJSON[map[string]any](t, r)
	token, _ := body["enrolment_token"].(string)
	if token == "" || sessionCookie(r) != nil || strings.Contains(string(r.Body), "access_token") {
		t.Fatalf("enrolment answer %s", r.Body)
	}
	// The token is no credential and no challenge.
	if m := me(t, s, "localhost", withBearer(token)); m.Status != http.StatusUnauthorized {
		t.Fatalf("the enrolment token as a bearer: %d", m.Status)
	}
	wantProblem(t, mfaVerify(t, s, "localhost", token, "123456"), http.StatusUnauthorized, "mfa_token_invalid")
	r = s.do(t, http.MethodPost, "/auth/v1/mfa/totp/setup", withHost("localhost"), withJSON(map[string]any{"enrolment_token": token}))
	if r.Status != http.StatusCreated {
		t.Fatalf("setup with the enrolment token: %d %s", r.Status, r.Body)
	}
	e := decodeJSON[enrolment](t, r)
	r = s.do(t, http.MethodPost, "/auth/v1/mfa/totp/confirm", withHost("localhost"), withJSON(map[string]any{"enrolment_token": token, "code": e.code(t)}))
	if r.Status != http.StatusOK {
		t.Fatalf("confirm with the enrolment token: %d %s", r.Status, r.Body)
	}
	signed := decodeJSON[loginAnswer](t, r)
	if m := me(t, s, "localhost", withBearer(signed.AccessToken)); m.Status != http.StatusOK {
		t.Fatalf("me after enrolling: %d %s", m.Status, m.Body)
	}
	if amr := jwtClaim(t, signed.AccessToken, "amr"); amr != `["pwd","otp","mfa"]` {
		t.Fatalf("amr %s", amr)
	}
	wantChallenge(t, "the next login", tryLogin(t, s, "localhost", a.Email, a.Password))
}

// TestTOTPCodesMatchOathtool: the codes of a secret the server hands out,
// as the oathtool command computes them, are accepted at the right times:
// the current step's and the next one's (the skew), not one three steps
// old; and the tests' own codes are oathtool's.
func TestTOTPCodesMatchOathtool(t *testing.T) {
	t.Parallel()
	s := startTenants(t, mfaTenant("mfa", "localhost"))
	a := newAccount("oath")
	register(t, s, "localhost", a)
	tok := login(t, s, "localhost", a, "").AccessToken
	r := s.do(t, http.MethodPost, "/auth/v1/mfa/totp/setup", withHost("localhost"), withBearer(tok))
	if r.Status != http.StatusCreated {
		t.Fatalf("setup: %d %s", r.Status, r.Body)
	}
	e := decodeJSON[enrolment](t, r)
	now := time.Now()
	for _, at := range []time.Time{now, now.Add(30 * time.Second), now.Add(-time.Hour), time.Unix(1111111109, 0)} {
		if o, own := oathtool(t, e.Secret, at), totpCode(t, e.Secret, at); o != own {
			t.Fatalf("at %s oathtool says %s, the tests %s", at, o, own)
		}
	}
	confirm := func(code string) reply {
		return s.do(t, http.MethodPost, "/auth/v1/mfa/totp/confirm", withHost("localhost"), withBearer(tok), withJSON(map[string]any{"code": code}))
	}
	wantProblem(t, confirm(oathtool(t, e.Secret, now.Add(-90*time.Second))), http.StatusUnauthorized, "mfa_code_invalid")
	if r := confirm(oathtool(t, e.Secret, now)); r.Status != http.StatusOK {
		t.Fatalf("confirm with oathtool's current code: %d %s", r.Status, r.Body)
	}
	ch := wantChallenge(t, "login", tryLogin(t, s, "localhost", a.Email, a.Password))
	if r := mfaVerify(t, s, "localhost", ch.MFAToken, oathtool(t, e.Secret, now.Add(30*time.Second))); r.Status != http.StatusOK {
		t.Fatalf("oathtool's next-step code: %d %s", r.Status, r.Body)
	}
}
