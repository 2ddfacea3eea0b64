package redis

import (
	"context"
	"fmt"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/application/tenancy"
)

var _ tenancy.Purger = (*Purger)(nil)

// purgeBatch is the COUNT of each SCAN and the most keys one UNLINK (or
// one pipeline of them) takes.
const purgeBatch = 1000

// Purger deletes every key of a tenant: the tenancy.Purger of Redis, which
// the platform's sweep runs once a deleted tenant's grace is over.
//
// Every key of a tenant is Key(tenant, ...), "pc:<tenant>:...", so the
// tenant's keys are those that SCAN finds with MATCH "pc:<tenant>:*" (the
// id escaped for the glob); the ":" after the id keeps a tenant whose id
// begins with this one ("acme2" for "acme") out. They are deleted with
// UNLINK, in batches of purgeBatch, as SCAN hands them out, so a large
// tenant never holds Redis for long nor fills the client's memory.
//
// That includes the tenant's entries in the revocation set (Key(tenant,
// "{revocations}", session)): they name sessions of the tenant only, which
// the store's purge deleted with the tenant's signing keys, so no
// credential they guard can verify any more, and the set still mirrors the
// store's revocation log, which no longer holds them either. The set's
// completeness marker belongs to no tenant ("pc:_:...") and is left alone,
// so other tenants' revocations stay trusted. (An entry the revocation
// sync copied from the store just before the store's purge may be written
// back after this one: it expires with its TTL.)
//
// On a Redis Cluster, each master is scanned, and each key is deleted on
// its own (a pipeline of single-key UNLINKs through the cluster client,
// which routes each to its slot): a multi-key command across slots is
// refused there, and a key moved by a resharding meanwhile is followed.
//
// A purge is idempotent: run again after a failure it deletes what is left.
type Purger struct {
	c Client
}

// NewPurger returns the purger of the tenants' keys in c.
func NewPurger(c Client) *Purger { return &Purger{c: c} }

// PurgeTenant deletes every key of tenant id.
func (p *Purger) PurgeTenant(ctx context.Context, id string) error {
	if id == "" {
		return fmt.Errorf("redis: purge: no tenant id") // "pc::*" names no tenant
	}
	pattern := TenantPattern(id)
	var err error
	if cc, ok := p.c.(*goredis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error {
			return scanDelete(ctx, node, pattern, func(ctx context.Context, keys []string) error {
				_, err := cc.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
					for _, k := range keys {
						pipe.Unlink(ctx, k)
					}
					return nil
				})
				return err
			})
		})
	} else {
		err = scanDelete(ctx, p.c, pattern, func(ctx context.Context, keys []string) error {
			return p.c.Unlink(ctx, keys...).Err()
		})
	}
	if err != nil {
		return fmt.Errorf("redis: purge tenant %s: %w", id, err)
	}
	return nil
}

// scanDelete walks node's keys that match pattern and hands them to del
// one SCAN batch at a time.
func scanDelete(ctx context.Context, node goredis.Cmdable, pattern string, del func(context.Context, []string) error) error {
	var cursor uint64
	for {
		keys, next, err := node.Scan(ctx, cursor, pattern, purgeBatch).Result()
		if err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		if len(keys) > 0 {
			if err := del(ctx, keys); err != nil {
				return fmt.Errorf("unlink: %w", err)
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// TenantPattern is the SCAN/KEYS pattern of every key of tenant id,
// "pc:<id>:*", with the glob's special characters in id escaped. Tenant
// ids are slugs ([a-z0-9-]) and have none, but the pattern must not widen
// if that rule ever does: "a*" must not match tenant "ab"'s keys.
func TenantPattern(id string) string {
	return globEscape(Key(id)) + ":*"
}

// globEscape escapes the characters Redis' glob-style patterns give a
// meaning: * ? [ ] and the backslash itself.
func globEscape(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
