package config

import (
	"slices"

	"github.com/portcullis/portcullis/domain/tenant"
)

// roleSpec is one entry of the roles section: a role the tenant defines
// besides user, staff and admin (tenant.RoleSpec).
type roleSpec struct {
	Rank   int      `mapstructure:"rank"`
	Scopes []string `mapstructure:"scopes"`
}

func rolesSpecFrom(roles map[string]tenant.RoleSpec) map[string]roleSpec {
	out := make(map[string]roleSpec, len(roles))
	for n, r := range roles {
		out[n] = roleSpec{Rank: r.Rank, Scopes: slices.Clone(r.Scopes)}
	}
	return out
}

func rolesOf(specs map[string]roleSpec) map[string]tenant.RoleSpec {
	if len(specs) == 0 {
		return nil
	}
	out := make(map[string]tenant.RoleSpec, len(specs))
	for n, r := range specs {
		out[n] = tenant.RoleSpec{Rank: r.Rank, Scopes: slices.Clone(r.Scopes)}
	}
	return out
}

func rolesDocument(specs map[string]roleSpec) map[string]any {
	out := make(map[string]any, len(specs))
	for n, r := range specs {
		out[n] = map[string]any{"rank": r.Rank, "scopes": orEmpty(r.Scopes)}
	}
	return out
}
