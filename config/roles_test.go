package config_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/domain/tenant"
)

func TestRolesBlock(t *testing.T) {
	t.Parallel()
	def, err := config.ParseTenantYAML([]byte("id: shop\n"), "shop")
	if err != nil || len(def.Roles) != 0 {
		t.Fatalf("default roles %+v, %v", def.Roles, err)
	}
	got, err := config.ParseTenantYAML([]byte("id: shop\nroles:\n  support: {rank: 5, scopes: [users:read, sessions:revoke]}\n"+
		"  auditor: {rank: 2, scopes: [audit:read]}\n  intern: {rank: 1}\nmfa:\n  required_roles: [support, admin]\n"), "shop")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]tenant.RoleSpec{"support": {Rank: 5, Scopes: []string{"users:read", "sessions:revoke"}},
		"auditor": {Rank: 2, Scopes: []string{"audit:read"}}, "intern": {Rank: 1}}
	if !reflect.DeepEqual(got.Roles, want) || !got.MFA.Requires("support") {
		t.Fatalf("roles %+v, required %v", got.Roles, got.MFA.RequiredRoles)
	}
	if names := got.RoleNames(); strings.Join(names, " ") != "user staff admin auditor intern support" {
		t.Fatalf("role names %v", names)
	}
	for _, in := range []tenant.Tenant{def, got} {
		out, err := config.DecodeTenant(config.EncodeTenant(in), "shop")
		if err != nil || fmt.Sprint(out.Roles) != fmt.Sprint(in.Roles) {
			t.Fatalf("round trip: %+v, %v; want %+v", out.Roles, err, in.Roles)
		}
	}
}

func TestBadRolesBlockNamesFieldAndReason(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"admin: {rank: 50}":                       `tenant "bad": roles.admin: is a built-in role (user, staff, admin) and cannot be redefined`,
		"Support: {rank: 5}":                      `tenant "bad": roles.Support: a role name is 1-32 lower-case letters`,
		"support: {rank: 100}":                    `tenant "bad": roles.support.rank: must be between 1 and 99 (a user ranks 0, staff 10, an admin 100), got 100`,
		"support: {rank: 0}":                      `tenant "bad": roles.support.rank: must be between 1 and 99`,
		"support: {rank: 5, scopes: [users:all]}": `tenant "bad": roles.support.scopes[0]: must be one of`,
		"support: {rank: 5, powers: [x]}":         `tenant "bad": roles.support.powers: is not a known setting`,
	}
	for line, want := range cases {
		_, err := config.ParseTenantYAML([]byte(fmt.Sprintf("id: bad\nroles:\n  %s\n", line)), "bad")
		var ve *tenant.ValidationError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want a problem %q", line, err, want)
		}
	}
	_, err := config.ParseTenantYAML([]byte("id: bad\nmfa:\n  required_roles: [support]\n"), "bad")
	if err == nil || !strings.Contains(err.Error(), `mfa.required_roles[0]: must be one of [user staff admin], got "support"`) {
		t.Errorf("a required role the tenant does not define: %v", err)
	}
}
