package e2e_test

import (
	"net/http"
	"strings"
	"testing"
)

// newSigninSubject is the subject of the built-in "new sign-in" notice for
// a tenant whose display name is its id.
func newSigninSubject(id string) string { return "New sign-in to your " + id + " account" }

const firefoxOnLinux = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"

// TestANewSigninIsToldToTheOwner: on a tenant with email.new_signin_notice,
// a sign-in from a device and an address the account has not used mails
// its owner a notice naming the address and the device, once; a sign-in
// from a known address, or with the account's device credential, mails
// nothing; and a tenant without the setting mails nothing at all.
func TestANewSigninIsToldToTheOwner(t *testing.T) {
	t.Parallel()
	s := startTenantsEnv(t, behindProxy,
		tenantSpec{ID: "told", Domains: []string{"localhost"}, NewSigninNotice: true, EmailLink: true, BaseURL: emailBase("told")},
		tenantSpec{ID: "quiet", Domains: []string{"quiet.localhost"}})
	owner := newAccount("watched")
	register(t, s, "localhost", owner)
	login := func(host, ip string, opts ...reqOption) reply {
		t.Helper()
		r := s.do(t, http.MethodPost, "/auth/v1/login", append([]reqOption{withHost(host), from(ip), withHeader("User-Agent", firefoxOnLinux),
			withJSON(map[string]any{"email": owner.Email, "password": owner.Password})}, opts...)...)
		if r.Status != http.StatusOK {
			t.Fatalf("login from %s: status %d; body %s", ip, r.Status, r.Body)
		}
		return r
	}

	first := login("localhost", "203.0.113.7")
	m := waitMail(t, s, "localhost", owner.Email, newSigninSubject("told"), 0)
	for _, want := range []string{"203.0.113.7", "Firefox on Linux"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("notice does not name %q:\n%s", want, m.Text)
		}
	}
	// The same address again; another address with the device credential
	// of the first sign-in: nothing new to tell.
	login("localhost", "203.0.113.7")
	login("localhost", "198.51.100.23", withDeviceCookie(deviceCookie(first)))
	// A new address without it, and a sign-in by mailed code (another
	// method, the same pipeline) from yet another address: one notice each.
	login("localhost", "192.0.2.50")
	code := emailCodeFrom(t, s, owner.Email, "198.51.100.99")
	r := s.do(t, http.MethodPost, "/auth/v1/email/code/verify", withHost("localhost"), from("198.51.100.99"),
		withJSON(map[string]any{"email": owner.Email, "code": code}))
	if r.Status != http.StatusOK {
		t.Fatalf("code sign-in: status %d; body %s", r.Status, r.Body)
	}
	waitMail(t, s, "localhost", owner.Email, newSigninSubject("told"), 2)
	settle()
	var ips []string
	for _, m := range mailsTo(t, s, "localhost", owner.Email, newSigninSubject("told")) {
		for _, ip := range []string{"203.0.113.7", "198.51.100.23", "192.0.2.50", "198.51.100.99"} {
			if strings.Contains(m.Text, ip) {
				ips = append(ips, ip)
			}
		}
	}
	if strings.Join(ips, " ") != "203.0.113.7 192.0.2.50 198.51.100.99" {
		t.Fatalf("notices for %v, want one each for the new addresses without a device credential", ips)
	}

	// Without the setting, the same first sign-in mails nothing.
	register(t, s, "quiet.localhost", owner)
	login("quiet.localhost", "203.0.113.7")
	settle()
	if got := mailsTo(t, s, "quiet.localhost", owner.Email, newSigninSubject("quiet")); len(got) != 0 {
		t.Fatalf("%d notices from a tenant without new_signin_notice", len(got))
	}
}

// emailCodeFrom asks for a sign-in code for the address from ip and
// returns the code mailed.
func emailCodeFrom(t *testing.T, s *server, email, ip string) string {
	t.Helper()
	before := len(mailsTo(t, s, "localhost", email, emailCodeSubject("told")))
	r := s.do(t, http.MethodPost, "/auth/v1/email/code/send", withHost("localhost"), from(ip), withJSON(map[string]any{"email": email}))
	if r.Status != http.StatusAccepted {
		t.Fatalf("code send: status %d; body %s", r.Status, r.Body)
	}
	m := waitMail(t, s, "localhost", email, emailCodeSubject("told"), before)
	code := smsCode.FindStringSubmatch(m.Text)
	if code == nil {
		t.Fatalf("no 6-digit code in the mail:\n%s", m.Text)
	}
	return code[1]
}
