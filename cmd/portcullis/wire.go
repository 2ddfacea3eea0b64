//go:build wireinject

package main

import (
	"context"
	"log/slog"

	"github.com/google/wire"

	"github.com/portcullis/portcullis/adapters/http/web"
	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/domain/tenant"
)

// initPlatform builds what all tenants share.
func initPlatform(ctx context.Context, cfg config.Platform, log *slog.Logger) (*Platform, func(), error) {
	panic(wire.Build(platformSet))
}

// initTenant builds one tenant's services from its configuration.
func initTenant(ctx context.Context, p *Platform, t tenant.Tenant) (*web.TenantServices, func(), error) {
	panic(wire.Build(tenantSet))
}
