package redis

import (
	"context"
	"fmt"
	"time"

	"github.com/portcullis/portcullis/application/device"
)

var _ device.Places = (*Places)(nil)

// Places is one tenant's device.Places: one key per remembered place,
// under Key(tenant, "kp", key), set with a millisecond TTL so that Redis
// forgets it on its own.
type Places struct {
	c        Client
	tenantID string
}

// NewPlaces returns the places store of one tenant.
func NewPlaces(c Client, tenantID string) *Places { return &Places{c: c, tenantID: tenantID} }

// Remember makes key known for ttl from now (a later call renews it).
func (p *Places) Remember(ctx context.Context, key string, ttl time.Duration) error {
	if err := p.c.Set(ctx, Key(p.tenantID, "kp", key), "1", ttl).Err(); err != nil {
		return fmt.Errorf("places: remember: %w", err)
	}
	return nil
}

// Known reports whether key was remembered less than its ttl ago.
func (p *Places) Known(ctx context.Context, key string) (bool, error) {
	n, err := p.c.Exists(ctx, Key(p.tenantID, "kp", key)).Result()
	if err != nil {
		return false, fmt.Errorf("places: known: %w", err)
	}
	return n == 1, nil
}
