package recovery_test

import (
	"slices"
	"testing"

	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/recovery"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/domain/identity"
)

// TestAResetIsRecorded: a password set with a reset link is recorded,
// with the sessions it ends; a refused reset is no event; no event holds
// the token or the password.
func TestAResetIsRecorded(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.addUser(t, "u1", "ann@example.com")
	c, err := f.issuer.Start(ctx, u, identity.SessionApp, []string{"pwd"}, alice)
	if err != nil {
		t.Fatal(err)
	}
	token := f.forgot(t, "ann@example.com")
	f.audit.Reset()
	if _, err := f.svc.Reset(ctx, recovery.ResetInput{Token: token + "x", Password: "brand new battery", Client: alice}); err == nil {
		t.Fatal("a wrong token reset the password")
	}
	if _, err := f.svc.Reset(ctx, recovery.ResetInput{Token: token, Password: "brand new battery", Client: alice}); err != nil {
		t.Fatal(err)
	}
	got := f.audit.Events()
	if want := []audit.Type{audit.PasswordReset, audit.SessionRevoked}; !slices.Equal(typesOf(got), want) {
		t.Fatalf("recorded %v, want %v:\n%+v", typesOf(got), want, got)
	}
	if e := got[0]; e.TargetID != "u1" || e.ActorID != "" || e.IP != alice.IP {
		t.Fatalf("reset event %+v", e)
	}
	if e := got[1]; e.SessionID != c.Session.ID || e.Reason != session.RevokedAll || e.TargetID != "u1" {
		t.Fatalf("revocation event %+v", e)
	}
	if held := f.audit.Holding(token, "brand new battery", c.AppToken); len(held) > 0 {
		t.Fatalf("events hold a secret: %+v", held)
	}
}

func typesOf(es []audit.Event) []audit.Type {
	var out []audit.Type
	for _, e := range es {
		out = append(out, e.Type)
	}
	return out
}
