package identity_test

import (
	"slices"
	"testing"

	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/tenant"
)

// The roles a tenant policy may name are the roles users have.
func TestTenantRolesAreTheUserRoles(t *testing.T) {
	t.Parallel()
	want := []string{string(identity.RoleUser), string(identity.RoleStaff), string(identity.RoleAdmin)}
	if !slices.Equal(tenant.Roles, want) {
		t.Fatalf("tenant.Roles %v, want %v", tenant.Roles, want)
	}
}
