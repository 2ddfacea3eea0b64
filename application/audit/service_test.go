package audit_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/audit/audittest"
	"github.com/portcullis/portcullis/application/platform/platformtest"
	"github.com/portcullis/portcullis/domain/errs"
)

// stored appends n events of tenant, one a second from t0, of types in
// turn, about users u0..u2 in turn.
func stored(t *testing.T, store *audittest.MemoryLog, tenant string, n int, types ...audit.Type) []audit.Event {
	t.Helper()
	var es []audit.Event
	for i := range n {
		at := t0.Add(time.Duration(i) * time.Second)
		es = append(es, audit.Event{ID: audit.NewID(at), TenantID: tenant, Time: at, Type: types[i%len(types)],
			TargetID: fmt.Sprintf("u%d", i%3), ExpiresAt: at.Add(24 * time.Hour)})
	}
	if err := store.Append(context.Background(), es...); err != nil {
		t.Fatal(err)
	}
	return es
}

func idsOf(es []audit.Event) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func TestQueryPagesTheTenantsEventsNewestFirst(t *testing.T) {
	t.Parallel()
	store := audittest.NewMemoryLog()
	clock := platformtest.NewClock(t0.Add(time.Hour))
	mine := stored(t, store, "shop", 120, audit.LoginSucceeded, audit.LoginFailed)
	stored(t, store, "other", 30, audit.LoginSucceeded)
	svc := audit.NewService("shop", store, clock)

	var got []audit.Event
	var sizes []int
	cursor := ""
	for {
		p, err := svc.Query(context.Background(), audit.Filter{}, cursor, 0)
		if err != nil {
			t.Fatal(err)
		}
		got, sizes = append(got, p.Events...), append(sizes, len(p.Events))
		if cursor = p.Next; cursor == "" {
			break
		}
	}
	want := idsOf(mine)
	slices.Reverse(want)
	if !slices.Equal(sizes, []int{audit.DefaultLimit, audit.DefaultLimit, 20}) || !slices.Equal(idsOf(got), want) {
		t.Fatalf("pages of %v; ids equal %v", sizes, slices.Equal(idsOf(got), want))
	}

	p, err := svc.Query(context.Background(), audit.Filter{Types: []audit.Type{audit.LoginFailed}, UserID: "u1"}, "", audit.MaxLimit)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range p.Events {
		if e.TenantID != "shop" || e.Type != audit.LoginFailed || e.TargetID != "u1" {
			t.Fatalf("filtered query returned %+v", e)
		}
	}
	if len(p.Events) != 20 { // odd i with i%3 == 1: i = 1, 7, 13, … < 120
		t.Fatalf("filtered query returned %d events, want 20", len(p.Events))
	}

	// The clock decides what has expired: a day after the last event,
	// nothing is live.
	clock.Advance(24 * time.Hour)
	if p, err := svc.Query(context.Background(), audit.Filter{}, "", audit.MaxLimit); err != nil || len(p.Events) != 0 {
		t.Fatalf("a day after the last event: %d events, %v; want none live", len(p.Events), err)
	}
}

func TestQueryRefusesBadInputNamingTheField(t *testing.T) {
	t.Parallel()
	svc := audit.NewService("shop", audittest.NewMemoryLog(), platformtest.NewClock(t0))
	long := string(make([]byte, 200))
	cases := []struct {
		name   string
		f      audit.Filter
		cursor string
		limit  int
		fields []string
	}{
		{"unknown type", audit.Filter{Types: []audit.Type{audit.Logout, "login.maybe"}}, "", 10, []string{"type"}},
		{"negative limit", audit.Filter{}, "", -1, []string{"limit"}},
		{"limit over the max", audit.Filter{}, "", audit.MaxLimit + 1, []string{"limit"}},
		{"until before since", audit.Filter{Since: t0, Until: t0.Add(-time.Second)}, "", 10, []string{"until"}},
		{"empty range", audit.Filter{Since: t0, Until: t0}, "", 10, []string{"until"}},
		{"not a cursor", audit.Filter{}, "shop/123", 10, []string{"cursor"}},
		{"user id too long", audit.Filter{UserID: long}, "", 10, []string{"user_id"}},
		{"target id too long", audit.Filter{TargetID: long}, "", 10, []string{"target_id"}},
		{"a type of the platform's stream", audit.Filter{Types: []audit.Type{audit.TenantCreated}}, "", 10, []string{"type"}},
		{"everything", audit.Filter{Types: []audit.Type{"x"}, Since: t0, Until: t0}, "x", 1000, []string{"type", "until", "limit", "cursor"}},
	}
	for _, c := range cases {
		_, err := svc.Query(context.Background(), c.f, c.cursor, c.limit)
		e := errs.As(err)
		var fields []string
		if e != nil {
			for _, f := range e.Fields {
				fields = append(fields, f.Field)
			}
		}
		if errs.KindOf(err) != errs.Invalid || !slices.Equal(fields, c.fields) {
			t.Errorf("%s: %v (fields %v), want invalid on %v", c.name, err, fields, c.fields)
		}
	}
}

// TestThePlatformsStreamIsItsOwn: the platform's recorder writes to
// PlatformTenant, kept for PlatformRetention, with no field cut but a
// bounded list of changes; its service reads that stream only, filters by
// the tenant an event is about, and takes the platform's types only — and
// a tenant's service refuses them.
func TestThePlatformsStreamIsItsOwn(t *testing.T) {
	t.Parallel()
	store := audittest.NewMemoryLog()
	clock := platformtest.NewClock(t0)
	w := audit.NewWriter(store, audit.WriterOptions{})
	rec := audit.NewPlatformRecorder(w, clock)
	many := make([]string, 40)
	for i := range many {
		many[i] = fmt.Sprintf("section_%d", i)
	}
	rec.Record(request(), audit.Event{Type: audit.TenantCreated, ActorType: audit.ActorPlatformKey, ActorID: "ops", TargetID: "acme"})
	clock.Advance(time.Second)
	rec.Record(request(), audit.Event{Type: audit.TenantUpdated, ActorType: audit.ActorPlatformKey, ActorID: "ops", TargetID: "acme", Changes: many})
	clock.Advance(time.Second)
	rec.Record(context.Background(), audit.Event{Type: audit.TenantPurged, ActorType: audit.ActorSystem, TargetID: "acme2"})
	rec.Record(context.Background(), audit.Event{Type: audit.Logout, TargetID: "u1"}) // not of this stream: dropped
	if err := closeWithin(t, w, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if s := w.Stats(); s.Written != 3 || s.Dropped != 1 {
		t.Fatalf("writer stats %+v, want 3 written and the tenant's type dropped", s)
	}
	svc := audit.NewPlatformService(store, platformtest.NewClock(t0.Add(time.Hour)))
	p, err := svc.Query(context.Background(), audit.Filter{TargetID: "acme"}, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Events) != 2 || p.Events[0].Type != audit.TenantUpdated || p.Events[1].Type != audit.TenantCreated {
		t.Fatalf("acme's platform events: %+v", p.Events)
	}
	up := p.Events[0]
	if up.TenantID != audit.PlatformTenant || up.ActorID != "ops" || up.ActorType != audit.ActorPlatformKey || up.RequestID != "req-7" ||
		!up.ExpiresAt.Equal(up.Time.Add(audit.PlatformRetention)) || len(up.Changes) != 32 || up.Changes[0] != "section_0" {
		t.Fatalf("the update event as stored: %+v", up)
	}
	if p, err := svc.Query(context.Background(), audit.Filter{Types: []audit.Type{audit.TenantPurged}}, "", 0); err != nil ||
		len(p.Events) != 1 || p.Events[0].TargetID != "acme2" || p.Events[0].ActorType != audit.ActorSystem {
		t.Fatalf("the purge: %+v, %v", p.Events, err)
	}
	if _, err := svc.Query(context.Background(), audit.Filter{Types: []audit.Type{audit.Logout}}, "", 0); errs.KindOf(err) != errs.Invalid {
		t.Fatalf("a tenant's type in the platform's stream: %v", err)
	}
	tenantSvc := audit.NewService("acme", store, platformtest.NewClock(t0.Add(time.Hour)))
	if _, err := tenantSvc.Query(context.Background(), audit.Filter{Types: []audit.Type{audit.TenantCreated}}, "", 0); errs.KindOf(err) != errs.Invalid {
		t.Fatalf("a platform type in a tenant's stream: %v", err)
	}
	if p, err := tenantSvc.Query(context.Background(), audit.Filter{}, "", 0); err != nil || len(p.Events) != 0 {
		t.Fatalf("acme's own stream holds %d events (%v), want none of the platform's", len(p.Events), err)
	}
}
