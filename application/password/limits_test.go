package password_test

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/device"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/password"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/throttle"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/tenant"
)

// client returns a client at address ip.
func client(ip string) session.Client {
	return session.Client{IP: netip.MustParseAddr(ip), UserAgent: "test"}
}

// notices counts the "Sign-up attempt" mails sent so far.
func (f *fixture) notices() int {
	f.mail.mu.Lock()
	defer f.mail.mu.Unlock()
	n := 0
	for _, m := range f.mail.sent {
		if strings.HasPrefix(m.Subject, "Sign-up attempt") {
			n++
		}
	}
	return n
}

func TestSignUpNoticesAreCappedPerRecipient(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if got := f.t.Throttling.SignupNoticePerRecipient; got != (tenant.Limit{Count: 3, Window: 24 * time.Hour}) {
		t.Fatalf("default signup_notice_per_recipient %+v, want 3 per 24h", got)
	}
	f.register(t, "Ann@Example.com", "correct horse battery")
	f.register(t, "bob@example.com", "correct horse battery")
	attempt := func(email, ip string) {
		t.Helper()
		_, err := f.svc.Register(ctx, password.RegisterInput{Profile: identity.Profile{Email: email, FirstName: "X", LastName: "Y"}, Password: "another good one", Client: client(ip)})
		if !errors.Is(err, identity.ErrEmailTaken) {
			t.Fatalf("registering the taken %s from %s: %v, want ErrEmailTaken like every duplicate", email, ip, err)
		}
	}
	// Every spelling of the address counts against its one account, from
	// whichever address it is sent.
	for i, email := range []string{"ann@example.com", "ANN@example.com", "ＡＮＮ@example.com", "ann@example.com", "Ann@Example.com"} {
		attempt(email, netip.AddrFrom4([4]byte{203, 0, 113, byte(i + 1)}).String())
	}
	if got := f.notices(); got != 3 {
		t.Fatalf("%d notices after 5 duplicate registrations, want the cap of 3", got)
	}
	// Another account's owner has a cap of their own.
	attempt("bob@example.com", "203.0.113.99")
	if got := f.notices(); got != 4 {
		t.Fatalf("bob's notice: %d notices in all, want 4", got)
	}
	// The cap refills with the window: one more a third of a day later.
	f.clock.Advance(8*time.Hour + time.Minute)
	attempt("ann@example.com", "203.0.113.50")
	attempt("ann@example.com", "203.0.113.51")
	if got := f.notices(); got != 5 {
		t.Fatalf("%d notices 8h later, want one more (5)", got)
	}
}

// attempt logs in from ip presenting token.
func (f *fixture) attempt(email, pw, ip, token string) (password.Outcome, error) {
	return f.svc.Login(ctx, password.LoginInput{Email: email, Password: pw, Kind: identity.SessionAPI, Client: client(ip), DeviceToken: token})
}

// lockoutFixture is a tenant whose shared account budget is 3 guesses and
// whose window is long enough not to refill during a test.
func lockoutFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixture(t, func(tn *tenant.Tenant) {
		tn.Throttling.LoginPerAccount = tenant.Limit{Count: 3, Window: 1000 * time.Hour}
		tn.Throttling.LoginPerDevice = tenant.Limit{Count: 2, Window: 1000 * time.Hour}
	})
}

// exhaust sends wrong passwords for email from ip until they are refused.
func (f *fixture) exhaust(t *testing.T, email, ip, token string) {
	t.Helper()
	for i := range 100 {
		_, err := f.attempt(email, "wrong password", ip, token)
		if errors.Is(err, throttle.ErrThrottled) {
			return
		}
		if !errors.Is(err, login.ErrInvalidCredentials) {
			t.Fatalf("guess %d: %v", i+1, err)
		}
	}
	t.Fatal("100 wrong passwords were never throttled")
}

func TestStrangersCannotLockOutAKnownDevice(t *testing.T) {
	t.Parallel()
	f := lockoutFixture(t)
	const pw = "correct horse battery"
	f.register(t, "ann@example.com", pw)
	f.register(t, "bob@example.com", pw)
	first, err := f.attempt("ann@example.com", pw, "198.51.100.1", "")
	if err != nil {
		t.Fatal(err)
	}
	if first.Device.Token == "" || !first.Device.ExpiresAt.Equal(f.clock.Now().Add(90*24*time.Hour).Truncate(time.Second)) {
		t.Fatalf("device credential %+v, want one valid for 90 days", first.Device)
	}
	bobs, err := f.attempt("bob@example.com", pw, "198.51.100.2", "")
	if err != nil {
		t.Fatal(err)
	}

	f.exhaust(t, "ann@example.com", "203.0.113.66", "")
	// The device logs in from anywhere, also from the stranger's address.
	for _, ip := range []string{"192.0.2.10", "203.0.113.66"} {
		out, err := f.attempt("ann@example.com", pw, ip, first.Device.Token)
		if err != nil {
			t.Fatalf("the known device from %s while strangers spent the account budget: %v", ip, err)
		}
		if out.Device.Token == "" {
			t.Fatal("a login by device credential renews no credential")
		}
	}
	// Everyone else is a stranger, right password or not.
	tampered := []byte(first.Device.Token)
	tampered[len(tampered)-1] ^= 1
	parts := strings.Split(first.Device.Token, ".")
	for name, token := range map[string]string{
		"no credential":            "",
		"a tampered MAC":           string(tampered),
		"a later expiry":           strings.Join([]string{parts[0], parts[1], "99999999999", parts[3]}, "."),
		"another account's device": bobs.Device.Token,
		"garbage":                  "1.x.y.z",
		"an oversized value":       strings.Repeat("A", 10000),
	} {
		if _, err := f.attempt("ann@example.com", pw, "203.0.113.67", token); !errors.Is(err, throttle.ErrThrottled) {
			t.Errorf("%s with the right password: %v, want throttled (the shared budget is spent)", name, err)
		}
	}
}

func TestAKnownDeviceHasABudgetOfItsOwn(t *testing.T) {
	t.Parallel()
	f := lockoutFixture(t)
	const pw = "correct horse battery"
	f.register(t, "ann@example.com", pw)
	first, err := f.attempt("ann@example.com", pw, "198.51.100.1", "")
	if err != nil {
		t.Fatal(err)
	}
	// Guesses with a stolen credential stop at the device budget (2) ...
	f.exhaust(t, "ann@example.com", "203.0.113.1", first.Device.Token)
	if _, err := f.attempt("ann@example.com", pw, "203.0.113.1", first.Device.Token); !errors.Is(err, throttle.ErrThrottled) {
		t.Fatalf("the device after its budget was spent: %v", err)
	}
	// ... and did not spend the shared budget.
	if _, err := f.attempt("ann@example.com", pw, "192.0.2.99", ""); err != nil {
		t.Fatalf("a stranger with the right password after guesses on the device budget: %v", err)
	}
}

func TestAnExpiredDeviceCredentialIsAStrangers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(tn *tenant.Tenant) {
		tn.Throttling.LoginPerAccount = tenant.Limit{Count: 3, Window: 100000 * time.Hour}
	})
	const pw = "correct horse battery"
	f.register(t, "ann@example.com", pw)
	first, err := f.attempt("ann@example.com", pw, "198.51.100.1", "")
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(90*24*time.Hour + time.Second)
	f.exhaust(t, "ann@example.com", "203.0.113.1", "")
	if _, err := f.attempt("ann@example.com", pw, "192.0.2.1", first.Device.Token); !errors.Is(err, throttle.ErrThrottled) {
		t.Fatalf("an expired credential: %v, want throttled like a stranger", err)
	}
}

func TestAnAddressThatLoggedInHasABudgetOfItsOwn(t *testing.T) {
	t.Parallel()
	f := lockoutFixture(t)
	const pw = "correct horse battery"
	f.register(t, "ann@example.com", pw)
	// An app that keeps no credential, on an IPv6 network.
	if _, err := f.attempt("ann@example.com", pw, "2001:db8:1:2::10", ""); err != nil {
		t.Fatal(err)
	}
	f.exhaust(t, "ann@example.com", "203.0.113.1", "")
	// The same /64 is the same network.
	if _, err := f.attempt("ann@example.com", pw, "2001:db8:1:2::99", ""); err != nil {
		t.Fatalf("from the network that logged in before, after strangers spent the budget: %v", err)
	}
	if _, err := f.attempt("ann@example.com", pw, "2001:db8:1:3::10", ""); !errors.Is(err, throttle.ErrThrottled) {
		t.Fatalf("from another /64: %v, want throttled", err)
	}
	// A known address of one account is a stranger's to another.
	f.register(t, "bob@example.com", pw)
	f.exhaust(t, "bob@example.com", "203.0.113.1", "")
	if _, err := f.attempt("bob@example.com", pw, "2001:db8:1:2::10", ""); !errors.Is(err, throttle.ErrThrottled) {
		t.Fatalf("ann's address on bob's account: %v, want throttled", err)
	}
	// The address is forgotten 30 days after its last login.
	f.clock.Advance(30*24*time.Hour + time.Second)
	f.exhaust(t, "ann@example.com", "203.0.113.1", "") // the shared budget refilled meanwhile
	if _, err := f.attempt("ann@example.com", pw, "2001:db8:1:2::10", ""); !errors.Is(err, throttle.ErrThrottled) {
		t.Fatalf("30 days after the last login: %v, want throttled", err)
	}
}

func TestDeviceKeysArePerTenant(t *testing.T) {
	t.Parallel()
	master := []byte("a master key of at least 16 bytes")
	a1, err := device.DeriveKey(master, "a")
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := device.DeriveKey(master, "a")
	b, _ := device.DeriveKey(master, "b")
	other, _ := device.DeriveKey([]byte("another master key, 16+ bytes"), "a")
	if len(a1) != 32 || !bytes.Equal(a1, a2) || bytes.Equal(a1, b) || bytes.Equal(a1, other) || bytes.Contains(a1, master[:16]) {
		t.Fatalf("derived keys: a %x, a again %x, b %x, other master %x", a1, a2, b, other)
	}
	if _, err := device.DeriveKey(master[:8], "a"); err == nil {
		t.Fatal("a short master key was accepted")
	}
}
