package audittest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/platform/platformtest"
	"github.com/portcullis/portcullis/domain/errs"
)

// Harness is a log under test and the sweep of its store.
type Harness struct {
	Log audit.Log
	// Sweep deletes the events expired at now, as the store's periodic
	// sweep does.
	Sweep func(ctx context.Context, now time.Time) error
}

// base is the suite's clock: the wall clock's time at the suite's start,
// so that a server with TTL indexes (a real MongoDB) never deletes an
// event the suite still counts on: every event expires a day or more
// after the wall clock (the "expired" ones only at the later now the
// suite queries with).
var base = platformtest.MS(time.Now()).Add(-time.Hour)

// event is an event of tenant at base+d, kept a day past base+d.
func event(tenant string, typ audit.Type, d time.Duration, mods ...func(*audit.Event)) audit.Event {
	at := base.Add(d)
	e := audit.Event{ID: audit.NewID(at), TenantID: tenant, Time: at, Type: typ, ExpiresAt: at.Add(24 * time.Hour)}
	for _, m := range mods {
		m(&e)
	}
	return e
}

func actor(id string) func(*audit.Event)  { return func(e *audit.Event) { e.ActorID = id } }
func target(id string) func(*audit.Event) { return func(e *audit.Event) { e.TargetID = id } }

// same compares events as a store keeps them: times to the millisecond,
// an empty AMR like none.
func same(a, b audit.Event) bool {
	ms := platformtest.MS
	return a.ID == b.ID && a.TenantID == b.TenantID && ms(a.Time).Equal(ms(b.Time)) && a.Type == b.Type && a.ActorID == b.ActorID && a.ActorType == b.ActorType &&
		a.TargetID == b.TargetID && a.SessionID == b.SessionID && a.Method == b.Method && slices.Equal(a.AMR, b.AMR) &&
		a.Reason == b.Reason && a.OldRole == b.OldRole && a.NewRole == b.NewRole && slices.Equal(a.Changes, b.Changes) && a.IP == b.IP && a.UserAgent == b.UserAgent && a.RequestID == b.RequestID &&
		ms(a.ExpiresAt).Equal(ms(b.ExpiresAt))
}

func ids(es []audit.Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

// newestFirst returns the ids of es, newest first.
func newestFirst(es []audit.Event) []string {
	out := ids(es)
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(b, a) })
	return out
}

// walk reads every page of a query and returns the events in order.
func walk(t *testing.T, l audit.Log, tenant string, f audit.Filter, limit int, now time.Time) []audit.Event {
	t.Helper()
	var out []audit.Event
	cursor := ""
	for range 1000 {
		p, err := l.Query(context.Background(), tenant, f, cursor, limit, now)
		if err != nil {
			t.Fatalf("query after %q: %v", cursor, err)
		}
		if len(p.Events) > limit {
			t.Fatalf("page of %d events, limit %d", len(p.Events), limit)
		}
		out = append(out, p.Events...)
		if p.Next == "" {
			return out
		}
		if len(p.Events) == 0 || p.Next != p.Events[len(p.Events)-1].ID {
			t.Fatalf("next %q is not the id of the page's last event (%v)", p.Next, ids(p.Events))
		}
		cursor = p.Next
	}
	t.Fatal("the walk does not end")
	return nil
}

func appendAll(t *testing.T, l audit.Log, es ...audit.Event) {
	t.Helper()
	if err := l.Append(context.Background(), es...); err != nil {
		t.Fatal(err)
	}
}

// RunLogContract checks the behaviour every audit.Log must have.
// newLog returns an empty log (or one in which the suite's tenant ids are
// unused) and its sweep.
func RunLogContract(t *testing.T, newLog func(t *testing.T) Harness) {
	t.Helper()
	ctx := context.Background()
	now := base.Add(time.Hour)

	t.Run("an event comes back as it was appended", func(t *testing.T) {
		t.Parallel()
		h := newLog(t)
		full := event("a", audit.LoginSucceeded, time.Minute, func(e *audit.Event) {
			e.ActorID, e.TargetID, e.SessionID, e.Method = "u1", "u1", "sess-1", "password"
			e.AMR, e.IP, e.UserAgent, e.RequestID = []string{"pwd", "otp"}, netip.MustParseAddr("2001:db8::7"), "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0", "req-1"
		})
		bare := event("a", audit.LoginFailed, 2*time.Minute, func(e *audit.Event) { e.Reason, e.IP = "invalid_credentials", netip.MustParseAddr("203.0.113.9") })
		role := event("a", audit.RoleChanged, 3*time.Minute, func(e *audit.Event) { e.ActorID, e.TargetID, e.OldRole, e.NewRole = "u2", "u1", "user", "staff" })
		appendAll(t, h.Log, full, bare, role)
		p, err := h.Log.Query(ctx, "a", audit.Filter{}, "", 10, now)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Events) != 3 || p.Next != "" || !same(p.Events[0], role) || !same(p.Events[1], bare) || !same(p.Events[2], full) {
			t.Fatalf("query = %+v\nwant [%+v %+v %+v] and no next page", p, role, bare, full)
		}
	})

	t.Run("a platform event comes back as it was appended, in the platform's stream only", func(t *testing.T) {
		t.Parallel()
		h := newLog(t)
		updated := event(audit.PlatformTenant, audit.TenantUpdated, time.Minute, func(e *audit.Event) {
			e.ActorType, e.ActorID, e.TargetID, e.Changes = audit.ActorPlatformKey, "ops", "a", []string{"display_name", "mail"}
			e.IP, e.RequestID = netip.MustParseAddr("192.0.2.1"), "req-2"
		})
		purged := event(audit.PlatformTenant, audit.TenantPurged, 2*time.Minute, func(e *audit.Event) { e.ActorType, e.TargetID = audit.ActorSystem, "a" })
		appendAll(t, h.Log, updated, purged, event("a", audit.Logout, 3*time.Minute))
		p, err := h.Log.Query(ctx, audit.PlatformTenant, audit.Filter{}, "", 10, now)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Events) != 2 || !same(p.Events[0], purged) || !same(p.Events[1], updated) {
			t.Fatalf("the platform's stream = %+v\nwant [%+v %+v]", p.Events, purged, updated)
		}
		if got := walk(t, h.Log, "a", audit.Filter{}, 10, now); len(got) != 1 || got[0].Type != audit.Logout {
			t.Fatalf("tenant a's stream holds platform events: %+v", got)
		}
		// A platform type in a tenant's stream, or a tenant's in the
		// platform's, is refused.
		for _, bad := range []audit.Event{event("a", audit.TenantCreated, 4*time.Minute), event(audit.PlatformTenant, audit.Logout, 4*time.Minute)} {
			if err := h.Log.Append(ctx, bad); err == nil {
				t.Errorf("%s in %s's stream was stored", bad.Type, bad.TenantID)
			}
		}
	})

	t.Run("pages are newest first and end", func(t *testing.T) {
		t.Parallel()
		h := newLog(t)
		var all []audit.Event
		for i := range 25 {
			all = append(all, event("a", audit.Logout, time.Duration(i)*time.Second))
		}
		// Appended out of order, in two batches: the order is the events'.
		slices.Reverse(all[10:])
		appendAll(t, h.Log, all[10:]...)
		appendAll(t, h.Log, all[:10]...)
		var sizes []int
		cursor := ""
		var got []audit.Event
		for {
			p, err := h.Log.Query(ctx, "a", audit.Filter{}, cursor, 10, now)
			if err != nil {
				t.Fatal(err)
			}
			sizes, got = append(sizes, len(p.Events)), append(got, p.Events...)
			if p.Next == "" {
				break
			}
			cursor = p.Next
		}
		if !slices.Equal(sizes, []int{10, 10, 5}) || !slices.Equal(ids(got), newestFirst(all)) {
			t.Fatalf("pages of %v events, ids %v\nwant 10, 10, 5 of %v", sizes, ids(got), newestFirst(all))
		}
		// A page that ends exactly at the last event says so.
		p, err := h.Log.Query(ctx, "a", audit.Filter{}, "", 25, now)
		if err != nil || len(p.Events) != 25 || p.Next != "" {
			t.Fatalf("a page of all 25: %d events, next %q, %v", len(p.Events), p.Next, err)
		}
		p, err = h.Log.Query(ctx, "a", audit.Filter{}, "", 1, now)
		if err != nil || len(p.Events) != 1 || p.Events[0].ID != newestFirst(all)[0] || p.Next != p.Events[0].ID {
			t.Fatalf("a page of one: %+v, %v", p, err)
		}
	})

	t.Run("filters by type, user and time", func(t *testing.T) {
		t.Parallel()
		h := newLog(t)
		es := []audit.Event{
			event("a", audit.LoginSucceeded, 1*time.Minute, actor("ann"), target("ann")),
			event("a", audit.LoginFailed, 2*time.Minute, target("ann")),
			event("a", audit.LoginFailed, 3*time.Minute),
			event("a", audit.PasswordChanged, 4*time.Minute, actor("bob"), target("bob")),
			event("a", audit.RoleChanged, 5*time.Minute, actor("bob"), target("ann")),
			event("a", audit.Logout, 6*time.Minute, actor("ann"), target("ann")),
		}
		appendAll(t, h.Log, es...)
		pick := func(is ...int) []string {
			var out []audit.Event
			for _, i := range is {
				out = append(out, es[i])
			}
			return newestFirst(out)
		}
		cases := []struct {
			name string
			f    audit.Filter
			want []string
		}{
			{"none", audit.Filter{}, pick(0, 1, 2, 3, 4, 5)},
			{"one type", audit.Filter{Types: []audit.Type{audit.LoginFailed}}, pick(1, 2)},
			{"two types", audit.Filter{Types: []audit.Type{audit.LoginSucceeded, audit.Logout}}, pick(0, 5)},
			{"a type without events", audit.Filter{Types: []audit.Type{audit.MFAEnabled}}, nil},
			{"actor or target", audit.Filter{UserID: "ann"}, pick(0, 1, 4, 5)},
			{"actor only", audit.Filter{UserID: "bob"}, pick(3, 4)},
			{"unknown user", audit.Filter{UserID: "eve"}, nil},
			{"target only", audit.Filter{TargetID: "ann"}, pick(0, 1, 4, 5)},
			{"target, not actor", audit.Filter{TargetID: "bob"}, pick(3)},
			{"user and target", audit.Filter{UserID: "bob", TargetID: "ann"}, pick(4)},
			{"since is inclusive", audit.Filter{Since: es[3].Time}, pick(3, 4, 5)},
			{"until is exclusive", audit.Filter{Until: es[3].Time}, pick(0, 1, 2)},
			{"a range", audit.Filter{Since: es[1].Time, Until: es[4].Time}, pick(1, 2, 3)},
			{"an empty range", audit.Filter{Since: es[4].Time, Until: es[4].Time}, nil},
			{"everything at once", audit.Filter{Types: []audit.Type{audit.LoginFailed, audit.RoleChanged}, UserID: "ann", Since: es[1].Time.Add(time.Millisecond)}, pick(4)},
		}
		for _, c := range cases {
			if got := walk(t, h.Log, "a", c.f, 2, now); !slices.Equal(ids(got), c.want) {
				t.Errorf("%s: %v, want %v", c.name, ids(got), c.want)
			}
		}
	})

	t.Run("a tenant sees its own events only", func(t *testing.T) {
		t.Parallel()
		h := newLog(t)
		var mine, theirs []audit.Event
		for i := range 6 {
			mine = append(mine, event("shop", audit.LoginFailed, time.Duration(2*i)*time.Second, target("u1")))
			theirs = append(theirs, event("shop-2", audit.LoginFailed, time.Duration(2*i+1)*time.Second, target("u1")))
		}
		// A tenant whose id begins with another's, and one the other's
		// begins with: neither prefix reaches the other.
		appendAll(t, h.Log, append(slices.Clone(theirs), event("sho", audit.Logout, 0))...)
		appendAll(t, h.Log, mine...)
		for _, f := range []audit.Filter{{}, {UserID: "u1"}, {Types: []audit.Type{audit.LoginFailed}}} {
			if got := walk(t, h.Log, "shop", f, 4, now); !slices.Equal(ids(got), newestFirst(mine)) {
				t.Errorf("shop's events with %+v: %v, want %v", f, ids(got), newestFirst(mine))
			}
		}
		// Another tenant's cursor walks this tenant's events only.
		p, err := h.Log.Query(ctx, "shop", audit.Filter{}, theirs[2].ID, 10, now)
		if err != nil {
			t.Fatal(err)
		}
		if want := newestFirst(mine[:3]); !slices.Equal(ids(p.Events), want) {
			t.Fatalf("shop's page after shop-2's cursor: %v, want %v", ids(p.Events), want)
		}
		if p, err := h.Log.Query(ctx, "nobody", audit.Filter{}, "", 10, now); err != nil || len(p.Events) != 0 || p.Next != "" {
			t.Fatalf("a tenant without events: %+v, %v", p, err)
		}
	})

	t.Run("an event appended again is stored once, as first appended", func(t *testing.T) {
		t.Parallel()
		h := newLog(t)
		e := event("a", audit.LoginFailed, time.Second, func(e *audit.Event) { e.Reason = "invalid_credentials" })
		other := event("a", audit.Logout, 2*time.Second)
		appendAll(t, h.Log, e)
		changed := e
		changed.Reason, changed.Type = "forged", audit.LoginSucceeded
		// A retried batch: one event stored already, one new.
		appendAll(t, h.Log, changed, other)
		appendAll(t, h.Log, other)
		got := walk(t, h.Log, "a", audit.Filter{}, 10, now)
		if len(got) != 2 || !same(got[0], other) || !same(got[1], e) {
			t.Fatalf("after appending twice: %+v\nwant %+v and %+v", got, other, e)
		}
	})

	t.Run("a malformed event is refused with its batch", func(t *testing.T) {
		t.Parallel()
		h := newLog(t)
		good := event("a", audit.Logout, time.Second)
		bad := []audit.Event{
			event("", audit.Logout, time.Second),
			event("a", "made.up", time.Second),
			event("a", audit.Logout, time.Second, func(e *audit.Event) { e.ID = "" }),
			event("a", audit.Logout, time.Second, func(e *audit.Event) { e.ID = audit.NewID(base) }), // not of its time
			event("a", audit.Logout, time.Second, func(e *audit.Event) { e.ExpiresAt = time.Time{} }),
		}
		for i, b := range bad {
			if err := h.Log.Append(ctx, good, b); err == nil {
				t.Errorf("malformed event %d (%+v) was taken", i, b)
			}
		}
		if got := walk(t, h.Log, "a", audit.Filter{}, 10, now); len(got) != 0 {
			t.Fatalf("stored from refused batches: %v", ids(got))
		}
	})

	t.Run("a cursor that is no event id is refused", func(t *testing.T) {
		t.Parallel()
		h := newLog(t)
		appendAll(t, h.Log, event("a", audit.Logout, time.Second))
		for _, c := range []string{"x", "a/" + audit.NewID(base), strings.Repeat("9", 40), `{"$gt": ""}`} {
			if _, err := h.Log.Query(ctx, "a", audit.Filter{}, c, 10, now); !errors.Is(err, audit.ErrInvalidCursor) || errs.KindOf(err) != errs.Invalid {
				t.Errorf("cursor %q: %v, want ErrInvalidCursor", c, err)
			}
		}
	})

	t.Run("expired events are hidden, and gone after the sweep", func(t *testing.T) {
		t.Parallel()
		h := newLog(t)
		later := base.Add(30 * time.Hour) // past the events' day
		old := event("a", audit.LoginFailed, time.Second)
		kept := event("a", audit.LoginFailed, 2*time.Second, func(e *audit.Event) { e.ExpiresAt = base.Add(90 * 24 * time.Hour) })
		edge := event("a", audit.LoginFailed, 3*time.Second, func(e *audit.Event) { e.ExpiresAt = later })
		appendAll(t, h.Log, old, kept, edge)
		if got := walk(t, h.Log, "a", audit.Filter{}, 10, later); !slices.Equal(ids(got), []string{kept.ID}) {
			t.Fatalf("at %s: %v, want only %s (expiry is exclusive)", later, ids(got), kept.ID)
		}
		if got := walk(t, h.Log, "a", audit.Filter{}, 10, now); len(got) != 3 {
			t.Fatalf("before the expiry, without a sweep: %v, want all 3", ids(got))
		}
		if err := h.Sweep(ctx, later); err != nil {
			t.Fatal(err)
		}
		if got := walk(t, h.Log, "a", audit.Filter{}, 10, now); !slices.Equal(ids(got), []string{kept.ID}) {
			t.Fatalf("after the sweep, even read as of before it: %v, want only %s", ids(got), kept.ID)
		}
	})

	t.Run("appends of many writers at once are all stored", func(t *testing.T) {
		t.Parallel()
		h := newLog(t)
		const per = 25
		batches := make([][]audit.Event, platformtest.Racers)
		for i := range batches {
			for j := range per {
				batches[i] = append(batches[i], event("a", audit.LoginFailed, time.Duration(j)*time.Millisecond, target(fmt.Sprint(i))))
			}
		}
		errsOf := make([]error, len(batches))
		platformtest.Race(len(batches), func(i int) { errsOf[i] = h.Log.Append(ctx, batches[i]...) })
		if err := errors.Join(errsOf...); err != nil {
			t.Fatal(err)
		}
		got := walk(t, h.Log, "a", audit.Filter{}, audit.MaxLimit, now)
		if want := slices.Concat(batches...); !slices.Equal(ids(got), newestFirst(want)) {
			t.Fatalf("%d events stored, want %d, newest first", len(got), len(want))
		}
	})

	t.Run("a walk is stable under concurrent appends", func(t *testing.T) {
		t.Parallel()
		h := newLog(t)
		var before []audit.Event
		for i := range 40 {
			before = append(before, event("a", audit.LoginFailed, time.Duration(i)*time.Second))
		}
		appendAll(t, h.Log, before...)
		// While the walk reads, writers append events newer than all
		// (sign-ins going on) and among them (a writer's late batch).
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var appended sync.Map
		for w := range 4 {
			wg.Go(func() {
				for i := range 60 {
					select {
					case <-stop:
						return
					default:
					}
					d := time.Hour + time.Duration(w*1000+i)*time.Millisecond
					if i%3 == 0 {
						d = time.Duration(i%40)*time.Second + 500*time.Millisecond
					}
					e := event("a", audit.LoginSucceeded, d)
					if err := h.Log.Append(ctx, e); err != nil {
						t.Error(err)
						return
					}
					appended.Store(e.ID, true)
				}
			})
		}
		got := walk(t, h.Log, "a", audit.Filter{}, 7, now.Add(2*time.Hour))
		close(stop)
		wg.Wait()
		seen := map[string]int{}
		for i, e := range got {
			seen[e.ID]++
			if i > 0 && got[i-1].ID <= e.ID {
				t.Fatalf("the walk is not newest first at %d: %s then %s", i, got[i-1].ID, e.ID)
			}
		}
		for _, e := range before {
			if seen[e.ID] != 1 {
				t.Errorf("event %s stored before the walk was seen %d times, want once", e.ID, seen[e.ID])
			}
		}
		for id, n := range seen {
			if _, ok := appended.Load(id); !ok && !slices.Contains(ids(before), id) {
				t.Errorf("the walk returned %s, which nobody appended", id)
			}
			if n > 1 {
				t.Errorf("event %s seen %d times", id, n)
			}
		}
	})

	t.Run("the log has no way to change or delete an event", func(t *testing.T) {
		t.Parallel()
		h := newLog(t)
		typ := reflect.TypeOf(h.Log)
		for i := range typ.NumMethod() {
			name := typ.Method(i).Name
			for _, verb := range []string{"Update", "Delete", "Remove", "Replace", "Set", "Put", "Edit", "Modify", "Clear", "Truncate", "Drop"} {
				if strings.HasPrefix(name, verb) {
					t.Errorf("%s has a method %s: an audit log is append-only", typ, name)
				}
			}
		}
	})
}
