package platform

import (
	"context"
	"time"

	"github.com/portcullis/portcullis/domain/tenant"
)

type storeTimeoutKey struct{}

// WithStoreTimeout returns ctx carrying d, the longest any one store
// operation made under ctx may take (the tenant's store_timeout). The
// server sets it for every request; a caller that needs more (a background
// listing of all tenants) sets its own. A d of zero or less is ignored.
func WithStoreTimeout(ctx context.Context, d time.Duration) context.Context {
	if d <= 0 {
		return ctx
	}
	return context.WithValue(ctx, storeTimeoutKey{}, d)
}

// StoreTimeout returns the bound WithStoreTimeout put in ctx, or
// tenant.DefaultStoreTimeout when there is none. Store adapters apply it to
// each operation, so that a store that is down or hanging costs a request
// this long at most, whatever the driver's own timeouts.
func StoreTimeout(ctx context.Context) time.Duration {
	if d, ok := ctx.Value(storeTimeoutKey{}).(time.Duration); ok {
		return d
	}
	return tenant.DefaultStoreTimeout
}

// BoundStore returns ctx limited to its StoreTimeout from now; an earlier
// deadline ctx already has stays. Store adapters call it at the start of
// every operation.
func BoundStore(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, StoreTimeout(ctx))
}
