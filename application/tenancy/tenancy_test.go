package tenancy_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/application/tenancy"
	"github.com/portcullis/portcullis/application/tenancy/tenancytest"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/tenant"
)

type staticSource struct {
	tenants []tenant.Tenant
	err     error
}

func (s *staticSource) Tenants(context.Context) ([]tenant.Tenant, error) { return s.tenants, s.err }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestMemoryStoreContract(t *testing.T) {
	tenancytest.RunStoreContract(t, func(*testing.T) tenancy.Store { return tenancytest.NewMemoryStore() })
}

func newTenant(id string, domains ...string) tenant.Tenant {
	t := tenant.Default()
	t.ID, t.Domains, t.Source = id, domains, "file:"+id+".yaml"
	return t
}

func TestResolveOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := &staticSource{tenants: []tenant.Tenant{newTenant("shop", "shop.example"), newTenant("demo", "localhost")}}
	d := tenancy.NewDirectory(src, nil, "demo", quiet)
	if err := d.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, host, header, want string
	}{
		{"host wins over header", "SHOP.example:8443", "demo", "shop"},
		{"header when host unknown", "unknown.example", "shop", "shop"},
		{"default when neither", "unknown.example", "", "demo"},
		{"localhost domain", "localhost:8080", "", "demo"},
	}
	for _, tc := range cases {
		got, err := d.Resolve(tc.host, tc.header)
		if err != nil || got.ID != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got.ID, err, tc.want)
		}
	}
	if _, err := d.Resolve("unknown.example", "ghost"); !errors.Is(err, errs.ErrTenantNotFound) {
		t.Errorf("unknown header id: %v", err)
	}
	noDefault := tenancy.NewDirectory(src, nil, "", quiet)
	_ = noDefault.Refresh(ctx)
	if _, err := noDefault.Resolve("unknown.example", ""); !errors.Is(err, errs.ErrTenantNotFound) {
		t.Errorf("no default: %v", err)
	}
}

func TestFilesWinOverStoreAndCollisionsAreSkipped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := tenancytest.NewMemoryStore()
	for _, x := range []tenant.Tenant{newTenant("shop", "db-shop.example"), newTenant("thief", "shop.example"), newTenant("extra", "extra.example")} {
		if _, err := store.Put(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	src := &staticSource{tenants: []tenant.Tenant{newTenant("shop", "shop.example")}}
	d := tenancy.NewDirectory(src, store, "", quiet)
	if err := d.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.Lookup("shop"); got.Source != "file:shop.yaml" {
		t.Fatalf("file definition must win, got %q", got.Source)
	}
	if _, ok := d.Lookup("thief"); ok {
		t.Fatal("a stored tenant claiming another tenant's domain must be skipped")
	}
	if got, err := d.Resolve("extra.example", ""); err != nil || got.ID != "extra" || !strings.HasPrefix(got.Version, "store:") {
		t.Fatalf("stored tenant not served: %+v %v", got, err)
	}
	if d.Len() != 2 {
		t.Fatalf("Len = %d", d.Len())
	}
}

func TestRefreshKeepsPreviousViewWhenSourceFails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := &staticSource{tenants: []tenant.Tenant{newTenant("shop", "shop.example")}}
	d := tenancy.NewDirectory(src, nil, "", quiet)
	if err := d.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	src.tenants, src.err = nil, errors.New("disk gone")
	if err := d.Refresh(ctx); err == nil {
		t.Fatal("want the source error")
	}
	if _, err := d.Resolve("shop.example", ""); err != nil {
		t.Fatalf("previous view lost: %v", err)
	}
}

func TestCheckConflicts(t *testing.T) {
	t.Parallel()
	err := tenancy.CheckConflicts([]tenant.Tenant{newTenant("a", "x.example"), newTenant("b", "x.example"), newTenant("a", "y.example")})
	if err == nil {
		t.Fatal("want conflicts")
	}
	for _, want := range []string{`tenant "b": domain "x.example" already belongs to tenant "a"`, `tenant "a": id is also used by file:a.yaml`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q missing from %q", want, err)
		}
	}
	if err := tenancy.CheckConflicts([]tenant.Tenant{newTenant("a", "x.example"), newTenant("b", "y.example")}); err != nil {
		t.Fatal(err)
	}
}
