package tenancy

import (
	"github.com/portcullis/portcullis/application/account"
	"github.com/portcullis/portcullis/application/keyring"
	"github.com/portcullis/portcullis/application/notify"
	"github.com/portcullis/portcullis/domain/tenant"
)

// Runtime is one tenant's built services: what the tenant injector makes
// from the tenant's configuration and what the API adapters call.
type Runtime struct {
	Tenant   tenant.Tenant
	Keys     *keyring.Ring
	Mail     notify.Mailer
	SMS      notify.SMSSender
	Accounts *account.Service
}
