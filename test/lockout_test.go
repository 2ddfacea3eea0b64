package e2e_test

// Issue 7, cases 6 and 9: the per-account login limit must not be a way to
// lock the owner out, and the sign-up-attempt notice must not be a way to
// flood the owner's mailbox. Each client address is sent as
// X-Forwarded-For by a server that trusts the test's loopback proxy.

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"testing"
)

// behindProxy is the server setting that makes the test's own connections
// a trusted proxy, so that X-Forwarded-For names the client.
var behindProxy = map[string]string{"PORTCULLIS_TRUSTED_PROXIES": "127.0.0.1/32"}

// from sends the request as the client at ip, through the trusted proxy.
func from(ip string) reqOption { return withHeader("X-Forwarded-For", ip) }

// TestSignUpNoticesAreCappedPerRecipient: registering a taken address from
// ever new addresses sends its owner at most the tenant's cap of notices
// (signup_notice_per_recipient, by default 3 a day), and every registration
// still gets the one answer a new address gets.
func TestSignUpNoticesAreCappedPerRecipient(t *testing.T) {
	t.Parallel()
	s := startTenantsEnv(t, behindProxy, tenantSpec{ID: "local", Domains: []string{"localhost"}, SignupNoticePerRecipient: useDefault})
	owner := newAccount("flooded")
	register(t, s, "localhost", owner)
	var answers []reply
	for i := range 5 {
		ip := fmt.Sprintf("203.0.113.%d", i+10)
		r := s.do(t, http.MethodPost, "/auth/v1/register", withHost("localhost"), from(ip),
			withJSON(registerBody(account{Email: owner.Email, Password: strongPassword()})))
		if r.Status != http.StatusAccepted {
			t.Fatalf("registration %d of the taken address from %s: status %d, want 202; body %s", i+1, ip, r.Status, r.Body)
		}
		answers = append(answers, r)
	}
	for i, r := range answers {
		if !bytes.Equal(r.Body, answers[0].Body) {
			t.Errorf("registration %d answered %s, registration 1 %s: over the cap the answer must not change", i+1, r.Body, answers[0].Body)
		}
	}
	// A new address answers the same too.
	fresh := s.do(t, http.MethodPost, "/auth/v1/register", withHost("localhost"), from("203.0.113.99"), withJSON(registerBody(newAccount("fresh"))))
	if fresh.Status != answers[0].Status || !bytes.Equal(fresh.Body, answers[0].Body) {
		t.Errorf("a new address answered %d %s, the taken one %d %s", fresh.Status, fresh.Body, answers[0].Status, answers[0].Body)
	}
	msgs := settledOutbox(t, s, "localhost")
	if got := signUpAttempts(msgs, owner.Email); got != 3 {
		t.Errorf("the owner got %d sign-up-attempt notices for 5 attempts from 5 addresses, want the cap of 3", got)
	}
}

// deviceCookie returns the device cookie a reply sets, or "".
func deviceCookie(r reply) string {
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "portcullis_device" {
			return c.Value
		}
	}
	return ""
}

// withDeviceCookie sends the dev-mode device cookie.
func withDeviceCookie(value string) reqOption {
	return withHeader("Cookie", "portcullis_device="+value)
}

// lockoutSurface is one login endpoint of the tenant.
type lockoutSurface struct {
	name string
	// login posts the credentials with the request options.
	login func(t *testing.T, s *server, a account, opts ...reqOption) reply
}

var lockoutSurfaces = []lockoutSurface{
	{"canonical", func(t *testing.T, s *server, a account, opts ...reqOption) reply {
		return s.do(t, http.MethodPost, "/auth/v1/login", append([]reqOption{withHost("localhost"),
			withJSON(map[string]any{"email": a.Email, "password": a.Password})}, opts...)...)
	}},
	{"canonical cookie session", func(t *testing.T, s *server, a account, opts ...reqOption) reply {
		return s.do(t, http.MethodPost, "/auth/v1/login", append([]reqOption{withHost("localhost"),
			withJSON(map[string]any{"email": a.Email, "password": a.Password, "session": "cookie"})}, opts...)...)
	}},
	{"seed 000", func(t *testing.T, s *server, a account, opts ...reqOption) reply {
		return s.do(t, http.MethodPost, "/users/login/", append([]reqOption{withHost("localhost"),
			withForm(url.Values{"email": {a.Email}, "password": {a.Password}})}, opts...)...)
	}},
	{"seed 001", func(t *testing.T, s *server, a account, opts ...reqOption) reply {
		return s.do(t, http.MethodPost, "/api/user/login/", append([]reqOption{withHost("localhost"),
			withJSON(map[string]any{"email": a.Email, "password": a.Password})}, opts...)...)
	}},
	{"seed 001 app token", func(t *testing.T, s *server, a account, opts ...reqOption) reply {
		return s.do(t, http.MethodPost, "/api/user/login/", append([]reqOption{withHost("localhost"), withHeader("X-Auth-Mode", "app-token"),
			withJSON(map[string]any{"email": a.Email, "password": a.Password})}, opts...)...)
	}},
}

// TestStrangersCannotLockTheOwnerOut: strangers who spend an account's
// login budget (throttling.login_per_account, by default 10 per 15 min)
// are refused, right password or not, but the owner's device that logged
// in before (its device cookie or device_token) and the address an app
// logged in from before (no cookie at all) still log in, on every surface.
// A forged credential or another account's is a stranger's.
func TestStrangersCannotLockTheOwnerOut(t *testing.T) {
	t.Parallel()
	s := startTenantsEnv(t, behindProxy, tenantSpec{ID: "local", Domains: []string{"localhost"},
		LoginPerAccount: useDefault, LoginPerDevice: useDefault})
	const stranger = "203.0.113.66"
	owner, other := newAccount("besieged"), newAccount("neighbour")
	register(t, s, "localhost", owner)
	register(t, s, "localhost", other)

	// Device A, a browser, logs in once and keeps the device credential.
	first := lockoutSurfaces[0].login(t, s, owner, from("198.51.100.10"))
	if first.Status != http.StatusOK {
		t.Fatalf("device A's first login: status %d; body %s", first.Status, first.Body)
	}
	deviceA := deviceCookie(first)
	body := decodeJSON[struct {
		DeviceToken     string `json:"device_token"`
		DeviceExpiresAt string `json:"device_expires_at"`
	}](t, first)
	if deviceA == "" || body.DeviceToken != deviceA || body.DeviceExpiresAt == "" {
		t.Fatalf("the login set device cookie %q and answered device_token %q (expires %q), want the same credential in both", deviceA, body.DeviceToken, body.DeviceExpiresAt)
	}
	// An app that keeps no cookie logs in from its network.
	if r := lockoutSurfaces[2].login(t, s, owner, from("198.51.100.30")); r.Status != http.StatusOK {
		t.Fatalf("the app's first login: status %d; body %s", r.Status, r.Body)
	}
	// Another account's valid credential.
	neighbour := deviceCookie(lockoutSurfaces[0].login(t, s, other, from("198.51.100.20")))
	if neighbour == "" {
		t.Fatal("the other account's login set no device cookie")
	}

	// The stranger guesses until refused: the shared budget is 10.
	wrong := account{Email: owner.Email}
	for i := range 10 {
		wrong.Password = strongPassword()
		if r := tryLogin(t, s, "localhost", wrong.Email, wrong.Password); r.Status != http.StatusUnauthorized {
			// tryLogin sends no X-Forwarded-For: the stranger is 127.0.0.1.
			t.Fatalf("wrong password %d: status %d, want 401; body %s", i+1, r.Status, r.Body)
		}
	}
	for i := range 3 {
		wrong.Password = strongPassword()
		if r := lockoutSurfaces[0].login(t, s, wrong, from(stranger)); r.Status != http.StatusTooManyRequests {
			t.Fatalf("guess %d after the budget: status %d, want 429; body %s", 11+i, r.Status, r.Body)
		}
	}

	tampered := []byte(deviceA)
	tampered[len(tampered)-2] ^= 1
	for _, sf := range lockoutSurfaces {
		t.Run(sf.name, func(t *testing.T) {
			// Device A, from an address it never used.
			r := sf.login(t, s, owner, from("192.0.2.10"), withDeviceCookie(deviceA))
			if r.Status != http.StatusOK {
				t.Errorf("device A by its cookie: status %d, want 200; body %s", r.Status, r.Body)
			} else if deviceCookie(r) == "" {
				t.Error("device A's login renewed no device cookie")
			}
			if r := sf.login(t, s, owner, from("198.51.100.30")); r.Status != http.StatusOK {
				t.Errorf("from the app's network, no cookie: status %d, want 200; body %s", r.Status, r.Body)
			}
			for name, opt := range map[string]reqOption{
				"no credential":                from(stranger),
				"no credential, a new address": from("203.0.113.67"),
				"a forged device cookie":       withDeviceCookie(string(tampered)),
				"another account's cookie":     withDeviceCookie(neighbour),
			} {
				r := sf.login(t, s, owner, from("203.0.113.68"), opt)
				if r.Status != http.StatusTooManyRequests {
					t.Errorf("the right password with %s: status %d, want 429 (the account budget is spent); body %s", name, r.Status, r.Body)
				}
			}
		})
	}
	t.Run("device_token field", func(t *testing.T) {
		post := func(ip, token string) reply {
			return s.do(t, http.MethodPost, "/auth/v1/login", withHost("localhost"), from(ip),
				withJSON(map[string]any{"email": owner.Email, "password": owner.Password, "device_token": token}))
		}
		// (The success makes 192.0.2.11 a known address; the others are not.)
		if r := post("192.0.2.11", deviceA); r.Status != http.StatusOK {
			t.Errorf("device A by device_token: status %d, want 200; body %s", r.Status, r.Body)
		}
		for name, token := range map[string]string{"forged": string(tampered), "another account's": neighbour, "garbage": "1.a.b.c"} {
			if r := post("203.0.113.69", token); r.Status != http.StatusTooManyRequests {
				t.Errorf("a %s device_token: status %d, want 429; body %s", name, r.Status, r.Body)
			}
		}
	})
}
