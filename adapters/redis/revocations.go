package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/application/account"
)

var _ account.Revocations = (*Revocations)(nil)

// minRevocationTTL is the shortest time a revocation is kept.
const minRevocationTTL = time.Second

// Revocations is the account.Revocations set: one key per revoked session,
// Key(tenant, "revoked", sessionID), that expires with its TTL.
type Revocations struct {
	c Client
}

// NewRevocations returns the revocation set kept in c.
func NewRevocations(c Client) *Revocations { return &Revocations{c: c} }

// revoke sets the key with a TTL of ARGV[1] milliseconds unless it is
// already set to live longer: revoking a session twice must not cut short
// the first revocation, which may cover tokens with a longer lifetime. A key
// without a TTL (PTTL -1) is left alone. A script rather than PEXPIRE GT so
// that it runs on Redis before 7.0 too.
var revoke = goredis.NewScript(`
local ttl = tonumber(ARGV[1])
local cur = redis.call("PTTL", KEYS[1])
if cur == -2 or (cur >= 0 and cur < ttl) then
  redis.call("SET", KEYS[1], "1", "PX", ttl)
end
return 1
`)

// Revoke records sessionID as revoked for ttl, at least a second; a sub-
// millisecond remainder is rounded up.
func (r *Revocations) Revoke(ctx context.Context, tenantID, sessionID string, ttl time.Duration) error {
	ttl = max(ttl, minRevocationTTL)
	ms := (ttl + time.Millisecond - 1) / time.Millisecond
	if err := revoke.Run(ctx, r.c, []string{Key(tenantID, "revoked", sessionID)}, int64(ms)).Err(); err != nil {
		return fmt.Errorf("revocations: revoke: %w", err)
	}
	return nil
}

// Revoked reports whether sessionID is in the set.
func (r *Revocations) Revoked(ctx context.Context, tenantID, sessionID string) (bool, error) {
	n, err := r.c.Exists(ctx, Key(tenantID, "revoked", sessionID)).Result()
	if err != nil {
		return false, fmt.Errorf("revocations: check: %w", err)
	}
	return n == 1, nil
}
