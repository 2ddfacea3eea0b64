package identity

import (
	"fmt"
	"slices"

	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/tenant"
)

// Scope is one right an admin action needs. Roles map to scopes (Rights);
// the use cases check them, whichever surface calls.
type Scope string

// The scopes.
const (
	ScopeUsersRead       Scope = "users:read"
	ScopeUsersWrite      Scope = "users:write"
	ScopeSessionsRevoke  Scope = "sessions:revoke"
	ScopeLoginLinksIssue Scope = "login_links:issue"
	ScopeMFAReset        Scope = "mfa:reset"
	ScopeAuditRead       Scope = "audit:read"
	ScopeRolesAssign     Scope = "roles:assign"
)

// Scopes lists every scope, in documentation order.
var Scopes = []Scope{ScopeUsersRead, ScopeUsersWrite, ScopeSessionsRevoke, ScopeLoginLinksIssue, ScopeMFAReset, ScopeAuditRead, ScopeRolesAssign}

// RoleRights is what one role may do: its scopes, and its rank (an actor
// acts only on users of a lower rank, and grants only roles whose scopes
// it holds).
type RoleRights struct {
	Rank   int
	Scopes []Scope
}

// Rights maps a tenant's roles to what they may do.
type Rights map[Role]RoleRights

// DefaultRights are the rights of the built-in roles: a user has no admin
// scope; staff read users and the audit log, revoke sessions and issue
// one-time login links (seed 000's admin-or-staff route); an admin has
// every scope.
func DefaultRights() Rights {
	return Rights{
		RoleUser:  {Rank: 0},
		RoleStaff: {Rank: 10, Scopes: []Scope{ScopeUsersRead, ScopeSessionsRevoke, ScopeLoginLinksIssue, ScopeAuditRead}},
		RoleAdmin: {Rank: 100, Scopes: slices.Clone(Scopes)},
	}
}

// RightsOf are tenant t's rights: the built-in roles' and the roles the
// tenant defines (tenant.Tenant.Roles).
func RightsOf(t tenant.Tenant) Rights {
	r := DefaultRights()
	for name, spec := range t.Roles {
		scopes := make([]Scope, len(spec.Scopes))
		for i, s := range spec.Scopes {
			scopes[i] = Scope(s)
		}
		r[Role(name)] = RoleRights{Rank: spec.Rank, Scopes: scopes}
	}
	return r
}

// ErrForbidden answers an action whose scope the actor's role lacks, or
// on a user the actor does not outrank; its message names what is missing.
var ErrForbidden = errs.E(errs.Forbidden, "forbidden", "You are not allowed to do this.")

// Allows reports whether role holds scope. An unknown role holds nothing.
func (r Rights) Allows(role Role, scope Scope) bool {
	return slices.Contains(r[role].Scopes, scope)
}

// Require answers ErrForbidden, naming the scope (also as the extension
// member "scope"), unless role holds scope.
func (r Rights) Require(role Role, scope Scope) error {
	if r.Allows(role, scope) {
		return nil
	}
	return ErrForbidden.WithMessage("This needs the scope %s, which the role %q does not have.", scope, role).
		WithExtensions(map[string]any{"scope": string(scope)})
}

// Outranks reports whether a user of role actor may act on a user of role
// target: a strictly higher rank. An unknown role ranks below every known
// one, and outranks nobody.
func (r Rights) Outranks(actor, target Role) bool {
	a, aok := r[actor]
	t, tok := r[target]
	switch {
	case !aok:
		return false
	case !tok:
		return true
	}
	return a.Rank > t.Rank
}

// CanGrant reports whether a user of role actor may give a user role: the
// actor holds roles:assign and every scope of role, and outranks it.
func (r Rights) CanGrant(actor, role Role) error {
	if err := r.Require(actor, ScopeRolesAssign); err != nil {
		return err
	}
	target, ok := r[role]
	if !ok {
		return errs.InvalidFields(errs.FieldError{Field: "role", Reason: fmt.Sprintf("%q is not a role of this tenant", role)})
	}
	for _, s := range target.Scopes {
		if !r.Allows(actor, s) {
			return ErrForbidden.WithMessage("The role %q has the scope %s, which the role %q does not have.", role, s, actor).
				WithExtensions(map[string]any{"scope": string(s)})
		}
	}
	if !r.Outranks(actor, role) && actor != role {
		return ErrForbidden.WithMessage("The role %q ranks above the role %q.", role, actor)
	}
	return nil
}
