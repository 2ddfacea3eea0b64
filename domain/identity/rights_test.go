package identity_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/tenant"
)

func TestDefaultRights(t *testing.T) {
	t.Parallel()
	r := identity.DefaultRights()
	for _, s := range identity.Scopes {
		if !r.Allows(identity.RoleAdmin, s) {
			t.Errorf("admin lacks %s", s)
		}
		if r.Allows(identity.RoleUser, s) {
			t.Errorf("user has %s", s)
		}
	}
	if !r.Allows(identity.RoleStaff, identity.ScopeLoginLinksIssue) || r.Allows(identity.RoleStaff, identity.ScopeRolesAssign) {
		t.Error("staff's scopes")
	}
	err := r.Require(identity.RoleStaff, identity.ScopeMFAReset)
	if !errors.Is(err, identity.ErrForbidden) || errs.As(err).Extensions["scope"] != "mfa:reset" {
		t.Fatalf("require: %v", err)
	}
	if r.Require("robot", identity.ScopeUsersRead) == nil {
		t.Fatal("an unknown role holds a scope")
	}
}

func TestRanksAndGrants(t *testing.T) {
	t.Parallel()
	r := identity.DefaultRights()
	r["support"] = identity.RoleRights{Rank: 5, Scopes: []identity.Scope{identity.ScopeUsersRead, identity.ScopeRolesAssign}}
	for _, tc := range []struct {
		actor, target identity.Role
		outranks      bool
	}{
		{identity.RoleAdmin, identity.RoleStaff, true}, {identity.RoleStaff, identity.RoleAdmin, false},
		{identity.RoleAdmin, identity.RoleAdmin, false}, {identity.RoleStaff, identity.RoleUser, true},
		{"robot", identity.RoleUser, false}, {identity.RoleUser, "robot", true},
	} {
		if got := r.Outranks(tc.actor, tc.target); got != tc.outranks {
			t.Errorf("%s outranks %s: %v, want %v", tc.actor, tc.target, got, tc.outranks)
		}
	}
	if err := r.CanGrant(identity.RoleAdmin, identity.RoleStaff); err != nil {
		t.Errorf("admin grants staff: %v", err)
	}
	// support may assign roles but not staff's scopes it lacks.
	if err := r.CanGrant("support", identity.RoleStaff); !errors.Is(err, identity.ErrForbidden) {
		t.Errorf("support grants staff: %v", err)
	}
	if err := r.CanGrant("support", identity.RoleUser); err != nil {
		t.Errorf("support grants user: %v", err)
	}
	if err := r.CanGrant(identity.RoleStaff, identity.RoleUser); !errors.Is(err, identity.ErrForbidden) {
		t.Errorf("staff (no roles:assign) grants: %v", err)
	}
	if err := r.CanGrant(identity.RoleAdmin, "nobody"); errs.KindOf(err) != errs.Invalid {
		t.Errorf("an unknown role: %v", err)
	}
}

// The scopes a tenant's roles may name are identity's, and a tenant's own
// roles join the built-in ones.
func TestTenantScopesAreTheScopesAndRightsOfATenant(t *testing.T) {
	t.Parallel()
	want := make([]string, len(identity.Scopes))
	for i, s := range identity.Scopes {
		want[i] = string(s)
	}
	if !slices.Equal(tenant.Scopes, want) {
		t.Fatalf("tenant.Scopes %v, want %v", tenant.Scopes, want)
	}
	tn := tenant.Default()
	tn.Roles = map[string]tenant.RoleSpec{"support": {Rank: 5, Scopes: []string{"users:read"}}}
	r := identity.RightsOf(tn)
	if !r.Allows("support", identity.ScopeUsersRead) || r.Allows("support", identity.ScopeUsersWrite) ||
		!r.Outranks("support", identity.RoleUser) || r.Outranks("support", identity.RoleStaff) || !r.Allows(identity.RoleAdmin, identity.ScopeMFAReset) {
		t.Fatalf("rights %+v", r)
	}
}
