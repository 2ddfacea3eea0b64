// Package account declares the account store: the port through which every
// use case reads and writes users. The use cases themselves live by concern
// in application/password, application/login and application/session.
package account

import (
	"context"
	"time"

	"github.com/portcullis/portcullis/domain/identity"
)

// Users stores accounts. Create must fail with identity.ErrEmailTaken when
// the tenant has the e-mail key already — also when two creates race (a
// unique index on tenant_id + email_key). Lookups answer errs.ErrNotFound.
type Users interface {
	Create(ctx context.Context, u identity.User) error
	ByEmail(ctx context.Context, tenantID, emailKey string) (identity.User, error)
	ByID(ctx context.Context, tenantID, id string) (identity.User, error)
	SetPasswordHash(ctx context.Context, tenantID, id, hash string, at time.Time) error
	RecordLogin(ctx context.Context, tenantID, id string, at time.Time) error
	// SetActive enables or disables an account; a disabled account's
	// credentials are refused from the next request on.
	SetActive(ctx context.Context, tenantID, id string, active bool, at time.Time) error
}
