package password_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/password"
	"github.com/portcullis/portcullis/application/session"
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
