package tenancy_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/tenancy"
	"github.com/portcullis/portcullis/application/tenancy/tenancytest"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/tenant"
)

// deletions is the fake of tenancy.Deletions: marks in a map.
type deletions struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (d *deletions) Mark(_ context.Context, id string, at time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if at.IsZero() {
		delete(d.at, id)
	} else {
		d.at[id] = at
	}
	return nil
}

func (d *deletions) When(_ context.Context, id string) (time.Time, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.at[id], nil
}

func (d *deletions) Due(_ context.Context, now time.Time) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var ids []string
	for id, at := range d.at {
		if !now.Before(at) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

type purger struct{ purged []string }

func (p *purger) PurgeTenant(_ context.Context, id string) error {
	p.purged = append(p.purged, id)
	return nil
}

type clockAt struct{ t time.Time }

func (c *clockAt) Now() time.Time { return c.t }

func storeTenant(id string, domains ...string) tenant.Tenant {
	t := tenant.Default()
	t.ID, t.Domains = id, domains
	return t
}

func TestAdminLifecycle(t *testing.T) {
	ctx := context.Background()
	src := &staticSource{tenants: []tenant.Tenant{newTenant("demo", "localhost")}}
	store := tenancytest.NewMemoryStore()
	dir := tenancy.NewDirectory(src, store, "", quiet)
	if err := dir.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	del := &deletions{at: map[string]time.Time{}}
	pur := &purger{}
	clock := &clockAt{time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	a := tenancy.NewAdmin(dir, store, del, pur, clock, 24*time.Hour)

	if _, err := a.Create(ctx, storeTenant("acme", "acme.example")); err != nil {
		t.Fatal(err)
	}
	if _, err := dir.Resolve("acme.example", ""); err != nil {
		t.Fatalf("a created tenant is not served at once: %v", err)
	}
	for name, tc := range map[string]struct {
		t    tenant.Tenant
		want error
	}{
		"the id again":                  {storeTenant("acme", "other.example"), tenancy.ErrTenantExists},
		"a file's id":                   {storeTenant("demo", "x.example"), tenancy.ErrTenantExists},
		"a domain of another tenant":    {storeTenant("thief", "localhost"), errs.ErrInvalid},
		"an invalid configuration, too": {tenant.Tenant{ID: "Bad Id"}, nil},
	} {
		_, err := a.Create(ctx, tc.t)
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("create %s: %v, want %v", name, err, tc.want)
		}
	}
	if _, err := a.Update(ctx, newTenant("demo", "localhost")); !errors.Is(err, tenancy.ErrFileTenant) {
		t.Errorf("update of a file's tenant: %v", err)
	}

	if _, err := a.SetDisabled(ctx, "acme", true); err != nil {
		t.Fatal(err)
	}
	if _, err := dir.Resolve("acme.example", ""); !errors.Is(err, tenancy.ErrTenantDisabled) {
		t.Fatalf("a disabled tenant resolves: %v", err)
	}
	if _, err := a.SetDisabled(ctx, "acme", false); err != nil {
		t.Fatal(err)
	}

	e, err := a.Delete(ctx, "acme")
	if err != nil || !e.DeleteAfter.Equal(clock.t.Add(24*time.Hour)) || !e.Tenant.Disabled {
		t.Fatalf("delete: %+v, %v", e, err)
	}
	if _, err := a.Update(ctx, storeTenant("acme", "acme.example")); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.Get(ctx, "acme"); !got.Tenant.Disabled {
		t.Fatal("an update switched a deleted tenant back on")
	}
	clock.t = clock.t.Add(24*time.Hour - time.Second)
	if ids, err := a.Sweep(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("sweep before the grace is over: %v, %v", ids, err)
	}
	if _, err := a.Restore(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	clock.t = clock.t.Add(time.Hour)
	if ids, _ := a.Sweep(ctx); len(ids) != 0 {
		t.Fatalf("a restored tenant was swept: %v", ids)
	}
	if _, err := a.Delete(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	clock.t = clock.t.Add(24 * time.Hour)
	if ids, err := a.Sweep(ctx); err != nil || len(ids) != 1 || len(pur.purged) != 1 || pur.purged[0] != "acme" {
		t.Fatalf("sweep after the grace: %v, %v; purged %v", ids, err, pur.purged)
	}
	if _, err := a.Get(ctx, "acme"); !errors.Is(err, errs.ErrTenantNotFound) {
		t.Fatalf("a swept tenant: %v", err)
	}
	if _, err := dir.Resolve("acme.example", ""); !errors.Is(err, errs.ErrTenantNotFound) {
		t.Fatalf("a swept tenant still resolves: %v", err)
	}
}
