package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/portcullis/portcullis/adapters/http/web"
	"github.com/portcullis/portcullis/application/tenancy"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/tenant"
)

// Builder builds one tenant's services; initTenant bound to the platform.
type Builder func(ctx context.Context, t tenant.Tenant) (*web.TenantServices, func(), error)

// Registry builds each tenant's services on its first request, caches them,
// and rebuilds them when the tenant's configuration version changes. A
// directory of a thousand tenants therefore costs a thousand parsed files at
// start, not a thousand containers.
type Registry struct {
	dir   *tenancy.Directory
	build Builder
	log   *slog.Logger
	// grace is how long a replaced tenant's old services stay open for the
	// requests still using them.
	grace time.Duration

	mu      sync.RWMutex
	entries map[string]*entry
	group   singleflight.Group
	builds  atomic.Int64
}

type entry struct {
	rt      *web.TenantServices
	cleanup func()
}

// NewRegistry returns an empty registry over dir.
func NewRegistry(dir *tenancy.Directory, build Builder, log *slog.Logger, grace time.Duration) *Registry {
	return &Registry{dir: dir, build: build, log: log, grace: grace, entries: map[string]*entry{}}
}

// Resolve implements server.Resolver.
func (r *Registry) Resolve(ctx context.Context, host, tenantID string) (*web.TenantServices, error) {
	t, err := r.dir.Resolve(host, tenantID)
	if err != nil {
		return nil, err
	}
	return r.Get(ctx, t)
}

// Get returns the services of t, building them if they are missing or were
// built from another version of its configuration. Concurrent requests for
// one tenant share one build.
func (r *Registry) Get(ctx context.Context, t tenant.Tenant) (*web.TenantServices, error) {
	r.mu.RLock()
	e := r.entries[t.ID]
	r.mu.RUnlock()
	if e != nil && e.rt.Tenant.Version == t.Version {
		return e.rt, nil
	}
	v, err, _ := r.group.Do(t.ID+"@"+t.Version, func() (any, error) {
		r.mu.RLock()
		e := r.entries[t.ID]
		r.mu.RUnlock()
		if e != nil && e.rt.Tenant.Version == t.Version {
			return e.rt, nil
		}
		// The build is shared: it must not fail because the request that
		// happened to start it was cancelled.
		start := time.Now()
		rt, cleanup, err := r.build(context.WithoutCancel(ctx), t)
		if err != nil {
			return nil, errs.ErrUnavailable.WithMessage("The tenant cannot be served right now.").Wrap(fmt.Errorf("build tenant %s: %w", t.ID, err))
		}
		r.builds.Add(1)
		r.mu.Lock()
		old := r.entries[t.ID]
		r.entries[t.ID] = &entry{rt: rt, cleanup: cleanup}
		r.mu.Unlock()
		if old != nil {
			r.retire(old)
			r.log.Info("tenant rebuilt for a new configuration", "tenant", t.ID, "version", t.Version, "previous", old.rt.Tenant.Version, "took", time.Since(start))
		} else {
			r.log.Info("tenant built", "tenant", t.ID, "version", t.Version, "took", time.Since(start))
		}
		return rt, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*web.TenantServices), nil
}

// Prune closes the services of tenants that no longer exist.
func (r *Registry) Prune() {
	r.mu.Lock()
	var gone []*entry
	for id, e := range r.entries {
		if _, ok := r.dir.Lookup(id); !ok {
			gone = append(gone, e)
			delete(r.entries, id)
			r.log.Info("tenant removed", "tenant", id)
		}
	}
	r.mu.Unlock()
	for _, e := range gone {
		r.retire(e)
	}
}

// Builds returns how many tenant containers have been built.
func (r *Registry) Builds() int64 { return r.builds.Load() }

// Close releases every tenant's services.
func (r *Registry) Close() {
	r.mu.Lock()
	entries := r.entries
	r.entries = map[string]*entry{}
	r.mu.Unlock()
	for _, e := range entries {
		e.cleanup()
	}
}

func (r *Registry) retire(e *entry) {
	if r.grace <= 0 {
		e.cleanup()
		return
	}
	time.AfterFunc(r.grace, e.cleanup)
}
