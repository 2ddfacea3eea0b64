package tenancy_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/audit/audittest"
	"github.com/portcullis/portcullis/application/tenancy"
	"github.com/portcullis/portcullis/application/tenancy/tenancytest"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/tenant"
)

// deletions is the fake of tenancy.Deletions: marks in a map. With a
// store, a mark goes with its tenant, as the real store's (a field of the
// tenant's document) does.
type deletions struct {
	mu    sync.Mutex
	at    map[string]time.Time
	store tenancy.Store
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

func (d *deletions) Marked(context.Context) (map[string]time.Time, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.at), nil
}

func (d *deletions) Due(_ context.Context, now time.Time) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var ids []string
	for id, at := range d.at {
		if d.store != nil {
			if _, err := d.store.Get(context.Background(), id); errors.Is(err, errs.ErrTenantNotFound) {
				continue
			}
		}
		if !now.Before(at) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// purger is a fake tenancy.Purger: it records the tenants it purged, and
// fails those in fail.
type purger struct {
	purged []string
	fail   map[string]error
}

func (p *purger) PurgeTenant(_ context.Context, id string) error {
	if err := p.fail[id]; err != nil {
		return err
	}
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
	a := tenancy.NewAdmin(dir, tenancy.AdminOptions{Store: store, Deletions: del, Purgers: []tenancy.Purger{pur}, Clock: clock, Grace: 24 * time.Hour})

	if _, err := a.Create(ctx, "ops", storeTenant("acme", "acme.example")); err != nil {
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
		_, err := a.Create(ctx, "ops", tc.t)
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("create %s: %v, want %v", name, err, tc.want)
		}
	}
	if _, err := a.Update(ctx, "ops", newTenant("demo", "localhost")); !errors.Is(err, tenancy.ErrFileTenant) {
		t.Errorf("update of a file's tenant: %v", err)
	}

	if _, err := a.SetDisabled(ctx, "ops", "acme", true); err != nil {
		t.Fatal(err)
	}
	if _, err := dir.Resolve("acme.example", ""); !errors.Is(err, tenancy.ErrTenantDisabled) {
		t.Fatalf("a disabled tenant resolves: %v", err)
	}
	if _, err := a.SetDisabled(ctx, "ops", "acme", false); err != nil {
		t.Fatal(err)
	}

	e, err := a.Delete(ctx, "ops", "acme")
	if err != nil || !e.DeleteAfter.Equal(clock.t.Add(24*time.Hour)) || !e.Tenant.Disabled {
		t.Fatalf("delete: %+v, %v", e, err)
	}
	list, err := a.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, le := range list {
		if want := le.Tenant.ID == "acme"; !le.DeleteAfter.IsZero() != want || (want && !le.DeleteAfter.Equal(e.DeleteAfter)) {
			t.Errorf("list: %s goes at %v, want %v", le.Tenant.ID, le.DeleteAfter, map[bool]time.Time{true: e.DeleteAfter}[want])
		}
	}
	if _, err := a.Update(ctx, "ops", storeTenant("acme", "acme.example")); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.Get(ctx, "acme"); !got.Tenant.Disabled {
		t.Fatal("an update switched a deleted tenant back on")
	}
	clock.t = clock.t.Add(24*time.Hour - time.Second)
	if ids, err := a.Sweep(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("sweep before the grace is over: %v, %v", ids, err)
	}
	if _, err := a.Restore(ctx, "ops", "acme"); err != nil {
		t.Fatal(err)
	}
	clock.t = clock.t.Add(time.Hour)
	if ids, _ := a.Sweep(ctx); len(ids) != 0 {
		t.Fatalf("a restored tenant was swept: %v", ids)
	}
	if _, err := a.Delete(ctx, "ops", "acme"); err != nil {
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

// sections is a small tenancy.Sections: a few top-level sections, named
// as the tenant file names them.
func sections(t tenant.Tenant) map[string]any {
	return map[string]any{"display_name": t.DisplayName, "domains": t.Domains, "disabled": t.Disabled, "login_methods": t.LoginMethods}
}

// TestAdminAuditsEveryChange: each change through the Admin is one event
// of the platform's stream — with the key that acted, the tenant it was
// done to, and for an update the sections that changed — and one log
// line; a refused change is neither; the sweep's purge is the system's.
func TestAdminAuditsEveryChange(t *testing.T) {
	ctx := context.Background()
	store := tenancytest.NewMemoryStore()
	dir := tenancy.NewDirectory(&staticSource{tenants: []tenant.Tenant{newTenant("demo", "localhost")}}, store, "", quiet)
	if err := dir.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	rec := audittest.NewRecorder()
	var logs strings.Builder
	clock := &clockAt{time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	a := tenancy.NewAdmin(dir, tenancy.AdminOptions{Store: store, Deletions: &deletions{at: map[string]time.Time{}}, Purgers: []tenancy.Purger{&purger{}},
		Audit: rec, Sections: sections, Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Clock: clock, Grace: time.Hour})

	acme := storeTenant("acme", "acme.example")
	must := func(_ tenancy.Entry, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(a.Create(ctx, "ops", acme))
	acme.DisplayName, acme.Domains = "Acme Corp", []string{"acme.example", "www.acme.example"}
	must(a.Update(ctx, "ops", acme))
	must(a.Update(ctx, "deployer", acme)) // the same again: nothing changed
	must(a.SetDisabled(ctx, "ops", "acme", true))
	must(a.SetDisabled(ctx, "ops", "acme", false))
	must(a.Delete(ctx, "ops", "acme"))
	must(a.Restore(ctx, "ops", "acme"))
	must(a.Delete(ctx, "ops", "acme"))
	// Refused: nothing to record.
	for what, err := range map[string]error{
		"create an existing id":  second(a.Create(ctx, "ops", storeTenant("acme", "x.example"))),
		"update a file's tenant": second(a.Update(ctx, "ops", newTenant("demo", "localhost"))),
		"enable a deleted one":   second(a.SetDisabled(ctx, "ops", "acme", false)),
		"delete an unknown one":  second(a.Delete(ctx, "ops", "ghost")),
	} {
		if err == nil {
			t.Fatalf("%s: accepted", what)
		}
	}
	clock.t = clock.t.Add(time.Hour)
	if ids, err := a.Sweep(ctx); err != nil || len(ids) != 1 {
		t.Fatalf("sweep: %v, %v", ids, err)
	}

	type row struct {
		typ       audit.Type
		actorType string
		actor     string
		changes   []string
	}
	want := []row{
		{audit.TenantCreated, audit.ActorPlatformKey, "ops", nil},
		{audit.TenantUpdated, audit.ActorPlatformKey, "ops", []string{"display_name", "domains"}},
		{audit.TenantUpdated, audit.ActorPlatformKey, "deployer", []string{}},
		{audit.TenantDisabled, audit.ActorPlatformKey, "ops", nil},
		{audit.TenantEnabled, audit.ActorPlatformKey, "ops", nil},
		{audit.TenantDeleteRequested, audit.ActorPlatformKey, "ops", nil},
		{audit.TenantRestored, audit.ActorPlatformKey, "ops", nil},
		{audit.TenantDeleteRequested, audit.ActorPlatformKey, "ops", nil},
		{audit.TenantPurged, audit.ActorSystem, "", nil},
	}
	got := rec.Events()
	if len(got) != len(want) {
		t.Fatalf("%d events %v, want %d", len(got), rec.Types(), len(want))
	}
	for i, e := range got {
		w := want[i]
		if e.Type != w.typ || e.ActorType != w.actorType || e.ActorID != w.actor || e.TargetID != "acme" ||
			(w.changes == nil) != (e.Changes == nil) || !slices.Equal(e.Changes, w.changes) {
			t.Errorf("event %d: %+v\nwant %+v about acme", i, e, w)
		}
	}
	// One log line per event, naming it, the tenant and the actor.
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	if len(lines) != len(want) {
		t.Fatalf("%d log lines, want %d:\n%s", len(lines), len(want), logs.String())
	}
	for i, l := range lines {
		if l["msg"] != "platform: "+string(want[i].typ) || l["event"] != string(want[i].typ) || l["tenant"] != "acme" ||
			l["actor"] != want[i].actor || l["actor_type"] != want[i].actorType {
			t.Errorf("log line %d: %v", i, l)
		}
	}
	if l := lines[1]; fmt.Sprint(l["changes"]) != "[display_name domains]" {
		t.Errorf("the update's log line: %v", l)
	}
}

func second[T any](_ T, err error) error { return err }

// TestSweepKeepsATenantWhosePurgeFails: when one store's purge of a
// tenant fails, the tenant keeps its configuration and its mark, is not
// audited as purged, and is purged whole (every store again) at the next
// sweep; the other tenants due are swept meanwhile.
func TestSweepKeepsATenantWhosePurgeFails(t *testing.T) {
	ctx := context.Background()
	store := tenancytest.NewMemoryStore()
	dir := tenancy.NewDirectory(&staticSource{}, store, "", quiet)
	del := &deletions{at: map[string]time.Time{}, store: store}
	db, cache := &purger{}, &purger{fail: map[string]error{"acme": errors.New("redis: purge tenant acme: connection refused")}}
	rec := audittest.NewRecorder()
	clock := &clockAt{time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	a := tenancy.NewAdmin(dir, tenancy.AdminOptions{Store: store, Deletions: del, Purgers: []tenancy.Purger{db, cache}, Audit: rec, Clock: clock})
	for _, id := range []string{"acme", "beta"} {
		if _, err := a.Create(ctx, "ops", storeTenant(id, id+".example")); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Delete(ctx, "ops", id); err != nil {
			t.Fatal(err)
		}
	}
	rec.Reset()

	ids, err := a.Sweep(ctx)
	if err == nil || !strings.Contains(err.Error(), "acme") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("the sweep's error: %v", err)
	}
	if !slices.Equal(ids, []string{"beta"}) || !slices.Equal(cache.purged, []string{"beta"}) {
		t.Fatalf("swept %v, the second store purged %v: want beta only", ids, cache.purged)
	}
	if e, err := a.Get(ctx, "acme"); err != nil || e.DeleteAfter.IsZero() {
		t.Fatalf("acme after its failed purge: %+v, %v; want it kept, still marked", e, err)
	}
	if _, err := a.Get(ctx, "beta"); !errors.Is(err, errs.ErrTenantNotFound) {
		t.Fatalf("beta after its purge: %v", err)
	}
	if evs := rec.Events(); len(evs) != 1 || evs[0].Type != audit.TenantPurged || evs[0].TargetID != "beta" {
		t.Fatalf("events of the first sweep: %+v", evs)
	}

	cache.fail = nil
	if ids, err := a.Sweep(ctx); err != nil || !slices.Equal(ids, []string{"acme"}) {
		t.Fatalf("the next sweep: %v, %v", ids, err)
	}
	if n := slices.Index(db.purged, "acme"); n < 0 || slices.Index(db.purged[n+1:], "acme") < 0 || !slices.Contains(cache.purged, "acme") {
		t.Fatalf("the retry did not purge every store again: first %v, second %v", db.purged, cache.purged)
	}
	if _, err := a.Get(ctx, "acme"); !errors.Is(err, errs.ErrTenantNotFound) {
		t.Fatalf("acme after the retry: %v", err)
	}
	if evs := rec.Of(audit.TenantPurged); len(evs) != 2 || evs[1].TargetID != "acme" {
		t.Fatalf("purge events: %+v", evs)
	}
}
