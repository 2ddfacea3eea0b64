package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/portcullis/portcullis/adapters/http/web"
	"github.com/portcullis/portcullis/application/tenancy"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/tenant"
)

type listSource struct {
	mu sync.Mutex
	ts []tenant.Tenant
}

func (s *listSource) Tenants(context.Context) ([]tenant.Tenant, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]tenant.Tenant(nil), s.ts...), nil
}

func (s *listSource) set(ts ...tenant.Tenant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ts = ts
}

func mk(id, version string) tenant.Tenant {
	t := tenant.Default()
	t.ID, t.Version, t.Domains = id, version, []string{id + ".example"}
	return t
}

type countingBuilder struct {
	builds   atomic.Int64
	cleanups atomic.Int64
	fail     atomic.Bool
}

func (b *countingBuilder) build(_ context.Context, t tenant.Tenant) (*web.TenantServices, func(), error) {
	if b.fail.Load() {
		return nil, nil, errors.New("database down")
	}
	b.builds.Add(1)
	return &web.TenantServices{Tenant: t}, func() { b.cleanups.Add(1) }, nil
}

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

func newTestRegistry(t *testing.T, src *listSource, b *countingBuilder) (*tenancy.Directory, *Registry) {
	t.Helper()
	dir := tenancy.NewDirectory(src, nil, "", quietLog)
	if err := dir.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	return dir, NewRegistry(dir, b.build, quietLog, 0)
}

func TestRegistryBuildsLazilyOncePerTenant(t *testing.T) {
	t.Parallel()
	src := &listSource{}
	var ts []tenant.Tenant
	for i := range 1000 {
		ts = append(ts, mk(fmt.Sprintf("t%04d", i), "v1"))
	}
	src.set(ts...)
	b := &countingBuilder{}
	_, reg := newTestRegistry(t, src, b)
	if b.builds.Load() != 0 {
		t.Fatal("nothing may be built before a request")
	}

	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			rt, err := reg.Resolve(context.Background(), "t0042.example", "")
			if err != nil || rt.Tenant.ID != "t0042" {
				t.Errorf("resolve: %v %v", rt, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if n := b.builds.Load(); n != 1 {
		t.Fatalf("50 concurrent first requests built %d containers, want 1", n)
	}
	if _, err := reg.Resolve(context.Background(), "", "t0007"); err != nil {
		t.Fatal(err)
	}
	if reg.Builds() != 2 || b.builds.Load() != 2 {
		t.Fatalf("builds %d", reg.Builds())
	}
}

func TestRegistryRebuildsOnNewVersionAndPrunesRemovedTenants(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := &listSource{}
	src.set(mk("a", "v1"), mk("b", "v1"))
	b := &countingBuilder{}
	dir, reg := newTestRegistry(t, src, b)
	first, _ := reg.Resolve(ctx, "a.example", "")
	if _, err := reg.Resolve(ctx, "b.example", ""); err != nil {
		t.Fatal(err)
	}

	src.set(mk("a", "v2"))
	if err := dir.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	second, err := reg.Resolve(ctx, "a.example", "")
	if err != nil {
		t.Fatal(err)
	}
	if second == first || second.Tenant.Version != "v2" {
		t.Fatalf("not rebuilt: %+v", second.Tenant)
	}
	if b.cleanups.Load() != 1 {
		t.Fatalf("the replaced container must be released, cleanups=%d", b.cleanups.Load())
	}
	reg.Prune()
	if b.cleanups.Load() != 2 {
		t.Fatalf("the removed tenant b must be released, cleanups=%d", b.cleanups.Load())
	}
	if _, err := reg.Resolve(ctx, "b.example", ""); !errors.Is(err, errs.ErrTenantNotFound) {
		t.Fatalf("removed tenant still resolves: %v", err)
	}
	reg.Close()
	if b.cleanups.Load() != 3 {
		t.Fatalf("Close must release the rest, cleanups=%d", b.cleanups.Load())
	}
}

func TestRegistryBuildFailureIsUnavailableAndRetried(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := &listSource{}
	src.set(mk("a", "v1"))
	b := &countingBuilder{}
	b.fail.Store(true)
	_, reg := newTestRegistry(t, src, b)
	_, err := reg.Resolve(ctx, "a.example", "")
	if errs.KindOf(err) != errs.Unavailable {
		t.Fatalf("want unavailable, got %v", err)
	}
	b.fail.Store(false)
	if _, err := reg.Resolve(ctx, "a.example", ""); err != nil {
		t.Fatalf("a failed build must be retried on the next request: %v", err)
	}
}

// BenchmarkRegistryResolve measures the per-request cost of finding a built
// tenant among 1,000 by Host header.
func BenchmarkRegistryResolve(b *testing.B) {
	src := &listSource{}
	var ts []tenant.Tenant
	for i := range 1000 {
		ts = append(ts, mk(fmt.Sprintf("t%04d", i), "v1"))
	}
	src.set(ts...)
	dir := tenancy.NewDirectory(src, nil, "", quietLog)
	if err := dir.Refresh(context.Background()); err != nil {
		b.Fatal(err)
	}
	builder := &countingBuilder{}
	reg := NewRegistry(dir, builder.build, quietLog, 0)
	ctx := context.Background()
	if _, err := reg.Resolve(ctx, "t0500.example:8080", ""); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := reg.Resolve(ctx, "T0500.example:8080", ""); err != nil {
				b.Fatal(err)
			}
		}
	})
}
