package profile_test

import (
	"slices"
	"testing"

	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/profile"
	"github.com/portcullis/portcullis/domain/identity"
)

func typesOf(es []audit.Event) []audit.Type {
	var out []audit.Type
	for _, e := range es {
		out = append(out, e.Type)
	}
	return out
}

// TestChangesAreRecorded: a change of password is recorded with the
// session it was made in, and so are the other sessions it ends; a change
// of address too; a refused change is no event; no event holds a password
// or an address.
func TestChangesAreRecorded(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.user(t, "u1", "ann@example.com", "old horse battery")
	p, _ := f.signIn(t, u, identity.SessionWeb)
	other, _ := f.signIn(t, u, identity.SessionApp)
	f.audit.Reset()

	if err := f.svc.ChangePassword(ctx, p, "wrong horse battery", "new horse battery"); err == nil {
		t.Fatal("a wrong current password changed it")
	}
	if err := f.svc.ChangePassword(ctx, p, "old horse battery", "new horse battery"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ChangeEmail(ctx, p, profile.ChangeEmailInput{Email: "ann.lee@example.org", Password: "new horse battery"}); err != nil {
		t.Fatal(err)
	}
	got := f.audit.Events()
	want := []audit.Type{audit.PasswordChanged, audit.SessionRevoked, audit.EmailChanged}
	if !slices.Equal(typesOf(got), want) {
		t.Fatalf("recorded %v, want %v:\n%+v", typesOf(got), want, got)
	}
	for _, e := range []audit.Event{got[0], got[2]} {
		if e.ActorID != "u1" || e.TargetID != "u1" || e.SessionID != p.Session.ID {
			t.Fatalf("change event %+v, want by u1 in session %s", e, p.Session.ID)
		}
	}
	if e := got[1]; e.SessionID != other.Session.ID || e.ActorID != "u1" || e.Reason != "others_revoked" {
		t.Fatalf("revocation event %+v", e)
	}
	if held := f.audit.Holding("old horse battery", "new horse battery", "wrong horse battery", "ann.lee@example.org", "ann@example.com"); len(held) > 0 {
		t.Fatalf("events hold a password or an address: %+v", held)
	}
}
