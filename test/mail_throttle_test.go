package e2e_test

import (
	"net/http"
	"strconv"
	"testing"
)

// The mail-flood guards: how many mails one client address may ask for,
// whatever the addresses, is each tenant's own throttling setting
// (password_reset_per_ip, verification_mail_per_ip, email_login_per_ip).

// TestMailFloodGuardsFollowTheTenant: a tenant that allows 2 requests an
// hour per client IP refuses the third from one address, each to a
// different e-mail address, with 429 throttled and a Retry-After of its
// own window; it sends nothing for it; another client address still gets
// its 202, and so does the same address at a tenant with the defaults.
func TestMailFloodGuardsFollowTheTenant(t *testing.T) {
	t.Parallel()
	const tightLimit = "{limit: 2, window: 1h}"
	tight := emailTenant("tight", "tight.localhost")
	tight.PasswordResetPerIP, tight.VerificationMailPerIP, tight.EmailLoginPerIP = tightLimit, tightLimit, tightLimit
	loose := emailTenant("loose", "loose.localhost")
	loose.PasswordResetPerIP, loose.VerificationMailPerIP, loose.EmailLoginPerIP = useDefault, useDefault, useDefault
	s := startTenantsEnv(t, behindProxy, tight, loose)

	cases := []struct {
		setting string
		// paths are the routes asked in turn: the sign-in code and the
		// magic link spend one budget together.
		paths []string
		// subject is the mail the refused request would have sent to an
		// account; "" when the flow's cooldown after registration would
		// hide it anyway (verification).
		subject string
		// client asks, other is another client address.
		client, other string
	}{
		{"password_reset_per_ip", []string{"/auth/v1/password/forgot"}, resetSubject("tight"), "203.0.113.1", "198.51.100.1"},
		{"verification_mail_per_ip", []string{"/auth/v1/email/verification"}, "", "203.0.113.2", "198.51.100.2"},
		{"email_login_per_ip", []string{"/auth/v1/email/code/send", "/auth/v1/magic-link/send"}, emailCodeSubject("tight"), "203.0.113.3", "198.51.100.3"},
	}
	for _, tc := range cases {
		t.Run(tc.setting, func(t *testing.T) {
			t.Parallel()
			path := func(i int) string { return tc.paths[i%len(tc.paths)] }
			ask := func(host string, i int, email, client string) reply {
				t.Helper()
				r := postJSON(t, s, host, path(i), map[string]any{"email": email}, from(client))
				wantNoStore(t, r)
				return r
			}
			for i := range 2 {
				if r := ask("tight.localhost", i, uniqueEmail("flood"), tc.client); r.Status != http.StatusAccepted {
					t.Fatalf("request %d (%s) from %s: %d %s, want 202", i+1, path(i), tc.client, r.Status, r.Body)
				}
			}

			// The third, for an account's address, is refused and mails it
			// nothing.
			victim := newAccount("victim")
			register(t, s, "tight.localhost", victim)
			r := ask("tight.localhost", 2, victim.Email, tc.client)
			wantProblem(t, r, http.StatusTooManyRequests, "throttled")
			// 2 an hour refill one each 30 minutes; the default budgets
			// (20 and 30 an hour) would refill in 3 and 2 minutes.
			if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1500 || ra > 1800 {
				t.Errorf("Retry-After %q, want the tenant's 30 minutes (1500 to 1800 s)", r.Header.Get("Retry-After"))
			}

			// Another client address has a budget of its own, and the
			// tenant with the defaults lets this address go on.
			if r := ask("tight.localhost", 2, uniqueEmail("flood"), tc.other); r.Status != http.StatusAccepted {
				t.Errorf("%s from another client %s: %d %s, want 202", path(2), tc.other, r.Status, r.Body)
			}
			for i := range 3 {
				if r := ask("loose.localhost", i, uniqueEmail("flood"), tc.client); r.Status != http.StatusAccepted {
					t.Errorf("request %d (%s) at the tenant with the default %s: %d %s, want 202", i+1, path(i), tc.setting, r.Status, r.Body)
				}
			}

			if tc.subject != "" {
				settle()
				if m := mailsTo(t, s, "tight.localhost", victim.Email, tc.subject); len(m) != 0 {
					t.Errorf("the refused request mailed %d %q to the account", len(m), tc.subject)
				}
			}
		})
	}
}
