package e2e_test

import (
	"net/http"
	"testing"
)

// TestClosedRegistration: a tenant with registration.enabled: false
// refuses every sign-up, on the canonical API (403 registration_disabled)
// and on seed 001 (400 RegistrationDisabled), whatever the fields and
// before the attempt is counted against the per-IP budget; nothing is
// created or mailed. An open tenant of the same server with the same
// budget is the control: there the same requests create accounts that
// sign in and are mailed, and the budget runs out.
func TestClosedRegistration(t *testing.T) {
	t.Parallel()
	const perIP = "{limit: 2, window: 1h}"
	s := startTenants(t,
		tenantSpec{ID: "closed", Domains: []string{"closed.localhost"}, RegistrationClosed: true, RegisterPerIP: perIP},
		tenantSpec{ID: "open", Domains: []string{"open.localhost"}, RegisterPerIP: perIP})
	canonical := func(t *testing.T, host string, body map[string]any) reply {
		t.Helper()
		return s.do(t, http.MethodPost, "/auth/v1/register", withHost(host), withJSON(body))
	}
	seed := func(t *testing.T, host string, body map[string]any) reply {
		t.Helper()
		return s.do(t, http.MethodPost, "/api/user/register/", withHost(host), seedMobile, withJSON(body))
	}
	wantClosed := func(t *testing.T, canonicalReply, seedReply reply) {
		t.Helper()
		if p := wantProblem(t, canonicalReply, http.StatusForbidden, "registration_disabled"); p.Detail != "Sign-up is closed for this tenant." {
			t.Errorf("canonical detail %q", p.Detail)
		}
		wantSeed001(t, seedReply, http.StatusBadRequest, "RegistrationDisabled", "", "")
		if e := decodeJSON[seed001Error](t, seedReply); e.Title != "Registration disabled" || e.Detail != "Registration is disabled." || len(e.Errors) != 0 {
			t.Errorf("seed 001 body %s, want the original's title and detail and no field errors", seedReply.Body)
		}
	}

	t.Run("closed", func(t *testing.T) {
		const host = "closed.localhost"
		var refused []account
		for range 3 { // over the per-IP limit of 2, were the attempts counted
			a, b := newAccount("closed"), newAccount("closed")
			wantClosed(t, canonical(t, host, registerBody(a)), seed(t, host, registerBody(b)))
			refused = append(refused, a, b)
		}
		// Whatever the fields: the switch is checked before them.
		bad := map[string]any{"email": "not-an-address", "password": "x"}
		wantClosed(t, canonical(t, host, bad), seed(t, host, bad))
		for _, a := range refused {
			if r := tryLogin(t, s, host, a.Email, a.Password); r.Status != http.StatusUnauthorized {
				t.Errorf("login as the refused %s: status %d, want 401 (no account); body %s", a.Email, r.Status, r.Body)
			}
		}
		settle()
		for _, a := range refused {
			if m := mailsTo(t, s, host, a.Email, ""); len(m) != 0 {
				t.Errorf("the refused %s was mailed %+v", a.Email, m)
			}
		}
	})
	t.Run("the open control", func(t *testing.T) {
		const host = "open.localhost"
		a, b := newAccount("open"), newAccount("open")
		register(t, s, host, a)
		seedSignIn(t, seed(t, host, registerBody(b)))
		for _, x := range []account{a, b} {
			if r := tryLogin(t, s, host, x.Email, x.Password); r.Status != http.StatusOK {
				t.Errorf("login as the registered %s: status %d, want 200; body %s", x.Email, r.Status, r.Body)
			}
			waitMail(t, s, host, x.Email, verificationSubject("open"), 0)
		}
		wantProblem(t, canonical(t, host, registerBody(newAccount("open"))), http.StatusTooManyRequests, "throttled")
	})
}
