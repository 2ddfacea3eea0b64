package session_test

import (
	"errors"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/domain/identity"
)

// TestASessionWithALifetimeOfItsOwnSlidesByItsOwnIdleWindow: an app
// token started with Lifetime{Idle: 30 days} (seed 002's tokens) lives as
// long as it is used at least once in every 30 days, past the tenant's
// 7-day idle window and its 30-day absolute one, until its own absolute
// lifetime; unused for 30 days it is refused. A session of the tenant's
// lifetime keeps the tenant's windows.
func TestASessionWithALifetimeOfItsOwnSlidesByItsOwnIdleWindow(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	f := newFixture(t)
	life := session.Lifetime{Idle: 30 * day, Absolute: 365 * day}
	creds, err := f.issuer.StartFor(ctx, f.user, identity.SessionApp, []string{"pwd"}, session.Client{}, life)
	if err != nil {
		t.Fatal(err)
	}
	if s := creds.Session; s.IdleTimeout != 30*day || !s.IdleExpiresAt.Equal(s.CreatedAt.Add(30*day)) || !s.ExpiresAt.Equal(s.CreatedAt.Add(365*day)) {
		t.Fatalf("the session as started: %+v", s)
	}
	_, tenantToken := f.start(t, identity.SessionApp) // the tenant's 7 days idle, 30 days absolute

	// Used every 29 days: alive after 10 uses (290 days), far past the
	// tenant's windows.
	for i := range 10 {
		f.clock.Advance(29 * day)
		if _, err := f.svc.Authenticate(ctx, session.ByToken, creds.AppToken); err != nil {
			t.Fatalf("use %d, %d days after the start: %v", i+1, (i+1)*29, err)
		}
		if i == 0 {
			if _, err := f.svc.Authenticate(ctx, session.ByToken, tenantToken); !errors.Is(err, session.ErrInvalidToken) {
				t.Fatalf("a token of the tenant's lifetime unused for 29 days: %v, want ErrInvalidToken", err)
			}
		}
	}
	stored, err := f.sessions.ByID(ctx, "shop", creds.Session.ID)
	if err != nil || !stored.IdleExpiresAt.Equal(f.clock.Now().UTC().Add(30*day)) {
		t.Fatalf("the idle expiry after the last use: %+v, %v", stored, err)
	}
	// 30 days without a use: refused, at the second it ends.
	f.clock.Advance(30*day - time.Second)
	if _, err := f.svc.Authenticate(ctx, session.ByToken, creds.AppToken); err != nil {
		t.Fatalf("a second before its idle end: %v", err)
	}
	f.clock.Advance(30 * day) // the use above slid it: 30 days from then
	if _, err := f.svc.Authenticate(ctx, session.ByToken, creds.AppToken); !errors.Is(err, session.ErrInvalidToken) {
		t.Fatalf("unused for 30 days: %v, want ErrInvalidToken", err)
	}
}

// TestASessionWithALifetimeOfItsOwnEndsAtItsAbsoluteLifetime: however
// often it is used, the session ends at its absolute lifetime.
func TestASessionWithALifetimeOfItsOwnEndsAtItsAbsoluteLifetime(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	f := newFixture(t)
	creds, err := f.issuer.StartFor(ctx, f.user, identity.SessionApp, []string{"pwd"}, session.Client{},
		session.Lifetime{Idle: 30 * day, Absolute: 40 * day})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(20 * day)
	if _, err := f.svc.Authenticate(ctx, session.ByToken, creds.AppToken); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(20 * day)
	if _, err := f.svc.Authenticate(ctx, session.ByToken, creds.AppToken); !errors.Is(err, session.ErrInvalidToken) {
		t.Fatalf("at its absolute end: %v, want ErrInvalidToken", err)
	}
}
