package tenant

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
)

// RoleSpec is a role a tenant defines besides the built-in user, staff and
// admin (configuration section roles): its rank (an actor acts only on
// users of a lower rank) and the admin scopes it holds.
type RoleSpec struct {
	Rank   int
	Scopes []string
}

// Scopes are the admin scopes a role may hold: identity.Scope's values
// (identity imports this package, so they are listed here, and identity's
// tests check the two agree).
var Scopes = []string{"users:read", "users:write", "sessions:revoke", "login_links:issue", "mfa:reset", "audit:read", "roles:assign"}

// Bounds of a tenant-defined role's rank: above a user's (0), below an
// admin's (100).
const (
	MinRoleRank = 1
	MaxRoleRank = 99
)

var roleNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// HasRole reports whether role is a built-in role or one the tenant
// defines.
func (t Tenant) HasRole(role string) bool {
	if slices.Contains(Roles, role) {
		return true
	}
	_, ok := t.Roles[role]
	return ok
}

// RoleNames lists the tenant's roles: the built-in ones, then its own in
// name order.
func (t Tenant) RoleNames() []string {
	names := slices.Clone(Roles)
	own := make([]string, 0, len(t.Roles))
	for n := range t.Roles {
		own = append(own, n)
	}
	sort.Strings(own)
	return append(names, own...)
}

// rolesProblems lists what is wrong with the roles section.
func rolesProblems(roles map[string]RoleSpec) []Problem {
	var ps []Problem
	names := make([]string, 0, len(roles))
	for n := range roles {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		r := roles[n]
		field := "roles." + n
		switch {
		case slices.Contains(Roles, n):
			ps = append(ps, Problem{Field: field, Reason: "is a built-in role (user, staff, admin) and cannot be redefined"})
			continue
		case !roleNamePattern.MatchString(n):
			ps = append(ps, Problem{Field: field, Reason: "a role name is 1-32 lower-case letters, digits, '-' or '_', starting with a letter"})
			continue
		}
		if r.Rank < MinRoleRank || r.Rank > MaxRoleRank {
			ps = append(ps, Problem{Field: field + ".rank", Reason: fmt.Sprintf("must be between %d and %d (a user ranks 0, staff 10, an admin 100), got %d", MinRoleRank, MaxRoleRank, r.Rank)})
		}
		for i, s := range r.Scopes {
			if !slices.Contains(Scopes, s) {
				ps = append(ps, Problem{Field: fmt.Sprintf("%s.scopes[%d]", field, i), Reason: fmt.Sprintf("must be one of %v, got %q", Scopes, s)})
			}
		}
	}
	return ps
}
