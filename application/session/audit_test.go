package session_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/audit/audittest"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/domain/identity"
)

// TestLogoutsAndRevocationsAreRecorded: a logout, a session ended by its
// owner, the others ended, all ended and a session ended for a reused
// refresh token are each recorded once, with the session and the reason;
// revoking a session already ended records nothing; no event holds a
// credential.
func TestLogoutsAndRevocationsAreRecorded(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	start := func() session.Credentials {
		t.Helper()
		c, err := f.issuer.Start(ctx, f.user, identity.SessionApp, []string{"pwd"}, session.Client{})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	var all []audit.Event
	want := func(what string, typ audit.Type, actor, reason string, sessions ...string) {
		t.Helper()
		got := f.audit.Events()
		f.audit.Reset()
		all = append(all, got...)
		var ids []string
		for _, e := range got {
			if e.Type != typ || e.ActorID != actor || e.TargetID != f.user.ID || e.Reason != reason {
				t.Fatalf("%s: event %+v, want %s by %q for %q", what, e, typ, actor, reason)
			}
			ids = append(ids, e.SessionID)
		}
		slices.Sort(ids)
		slices.Sort(sessions)
		if !slices.Equal(ids, sessions) {
			t.Fatalf("%s: events for sessions %v, want %v", what, ids, sessions)
		}
	}

	a := start()
	if _, err := f.svc.Logout(ctx, session.ByToken, a.AppToken); err != nil {
		t.Fatal(err)
	}
	want("logout", audit.Logout, f.user.ID, "", a.Session.ID)

	cur, other := start(), start()
	p, err := f.svc.Authenticate(ctx, session.ByToken, cur.AppToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.RevokeSession(ctx, p, other.Session.ID); err != nil {
		t.Fatal(err)
	}
	want("revoke one", audit.SessionRevoked, f.user.ID, session.RevokedByUser, other.Session.ID)
	if err := f.svc.RevokeSession(ctx, p, other.Session.ID); err != nil {
		t.Fatal(err)
	}
	want("revoke one again", audit.SessionRevoked, f.user.ID, "")

	x, y := start(), start()
	if n, err := f.svc.RevokeOtherSessions(ctx, p); err != nil || n != 2 {
		t.Fatalf("revoke others: %d, %v", n, err)
	}
	want("revoke others", audit.SessionRevoked, f.user.ID, session.RevokedOthers, x.Session.ID, y.Session.ID)

	z := start()
	if n, err := f.svc.RevokeUser(ctx, f.user.ID); err != nil || n != 2 {
		t.Fatalf("revoke all: %d, %v", n, err)
	}
	want("revoke all", audit.SessionRevoked, "", session.RevokedAll, cur.Session.ID, z.Session.ID)

	api, err := f.issuer.Start(ctx, f.user, identity.SessionAPI, []string{"pwd"}, session.Client{})
	if err != nil {
		t.Fatal(err)
	}
	_, rotated, err := f.svc.Refresh(ctx, api.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	f.audit.Reset()
	if _, _, err := f.svc.Refresh(ctx, api.RefreshToken); !errors.Is(err, session.ErrRefreshReused) {
		t.Fatalf("the rotated refresh token again: %v", err)
	}
	want("reuse", audit.SessionRevoked, "", session.RevokedRefreshReused, api.Session.ID)

	if held := audittest.Holding(all, a.AppToken, cur.AppToken, api.RefreshToken, rotated.RefreshToken, api.AccessToken); len(held) > 0 {
		t.Fatalf("events hold a credential: %+v", held)
	}
}
