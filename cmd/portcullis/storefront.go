package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/google/wire"

	"github.com/portcullis/portcullis/adapters/cartwebhook"
	"github.com/portcullis/portcullis/adapters/credential"
	"github.com/portcullis/portcullis/adapters/crypto/aesgcm"
	"github.com/portcullis/portcullis/adapters/mongo"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/storefront"
	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/domain/tenant"
)

// The storefront's providers: storefrontPlatformSet (in platformSet)
// builds what all tenants share — the cart store of the database and the
// one Retrier, Platform's Carts and CartRetrier; storefrontSet (in
// tenantSet) builds a tenant's storefront.Service, which the login
// pipeline's hook merges with (login.Storefront) and web.TenantServices
// carries for the cart and wishlist routes.
var (
	storefrontPlatformSet = wire.NewSet(mongo.NewStorefrontStore, provideStorefrontRetrier)
	storefrontSet         = wire.NewSet(provideStorefrontStore, provideStorefront,
		wire.Bind(new(login.Storefront), new(*storefront.Service)))
)

// sealCartWebhookSecret seals a cart webhook's signing secret for
// storefront.webhook.secret_sealed.
var sealCartWebhookSecret = sealCommand{name: "seal-cart-webhook-secret", what: "secret", setting: "storefront.webhook.secret_sealed", seal: config.SealCartWebhookSecret}

// retrierDrain is how long shutting down waits for merges being retried
// at that moment; merges waiting for their next attempt are lost, as at
// any restart.
const retrierDrain = 5 * time.Second

// provideStorefrontRetrier returns the process's Retrier of merges that
// found their cart store unavailable at login.
func provideStorefrontRetrier(log *slog.Logger) (*storefront.Retrier, func()) {
	r := storefront.NewRetrier(storefront.RetryPolicy{}, log.With("component", "storefront"))
	return r, func() {
		ctx, cancel := context.WithTimeout(context.Background(), retrierDrain)
		defer cancel()
		_ = r.Close(ctx)
	}
}

// provideStorefrontStore returns where the tenant's carts and wishlists
// live: the storefront's own cart service when storefront.webhook.url is
// set (its secret resolved from the environment or unsealed), else the
// database.
func provideStorefrontStore(t tenant.Tenant, carts *mongo.StorefrontStore, sealer *aesgcm.Sealer) (storefront.Store, error) {
	w := t.Storefront.Webhook
	if !w.Configured() {
		return carts, nil
	}
	secret, err := config.CartWebhookSecret(t, os.LookupEnv, sealer)
	if err != nil {
		return nil, err
	}
	return cartwebhook.New(cartwebhook.Options{URL: w.URL, Secret: credential.New(secret), Timeout: w.Timeout})
}

// provideStorefront returns the tenant's cart and wishlist use cases.
func provideStorefront(t tenant.Tenant, store storefront.Store, retrier *storefront.Retrier) *storefront.Service {
	return storefront.New(t, storefront.Deps{Store: store, Retrier: retrier})
}
