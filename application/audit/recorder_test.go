package audit_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/audit/audittest"
	"github.com/portcullis/portcullis/application/platform/platformtest"
)

// recorded records events through a tenant recorder and returns them as
// stored.
func recorded(t *testing.T, clock *platformtest.Clock, record func(r audit.Recorder)) []audit.Event {
	t.Helper()
	store := audittest.NewMemoryLog()
	w := audit.NewWriter(store, audit.WriterOptions{})
	record(audit.NewTenantRecorder("shop", 90*24*time.Hour, w, clock))
	if err := closeWithin(t, w, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	all := store.All()
	// Events of one instant are in id order, which is random: put them
	// in the order they were recorded, told apart by type.
	slices.SortStableFunc(all, func(a, b audit.Event) int { return slices.Index(order, a.Type) - slices.Index(order, b.Type) })
	return all
}

// order is the order the tests record their events' types in.
var order = []audit.Type{audit.LoginSucceeded, audit.LoginFailed, audit.PasswordReset, audit.Logout}

// TestRecordStampsTheEvent: the recorder sets the tenant, the time, an id
// of that time and the expiry of the tenant's retention, and takes the
// request id, client address and user agent from the request's context;
// what the use case set is kept.
func TestRecordStampsTheEvent(t *testing.T) {
	t.Parallel()
	clock := platformtest.NewClock(t0)
	got := recorded(t, clock, func(r audit.Recorder) {
		r.Record(request(), audit.Event{Type: audit.LoginSucceeded, ActorID: "u1", TargetID: "u1", SessionID: "s1",
			Method: "password", AMR: []string{"pwd"}, TenantID: "forged", Time: t0.Add(-time.Hour)})
		clock.Advance(time.Second)
		r.Record(request(), audit.Event{Type: audit.LoginFailed, Reason: "otp_invalid", IP: netip.MustParseAddr("2001:db8::1"), UserAgent: "curl/8"})
		r.Record(context.Background(), audit.Event{Type: audit.PasswordReset, TargetID: "u2"})
	})
	if len(got) != 3 {
		t.Fatalf("%d events stored, want 3", len(got))
	}
	first := got[0]
	want := audit.Event{ID: first.ID, TenantID: "shop", Time: t0, Type: audit.LoginSucceeded, ActorID: "u1", TargetID: "u1", SessionID: "s1",
		Method: "password", AMR: []string{"pwd"}, IP: netip.MustParseAddr("203.0.113.5"), UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0",
		RequestID: "req-7", ExpiresAt: t0.Add(90 * 24 * time.Hour)}
	if first.Check() != nil || !strings.HasPrefix(first.ID, audit.IDAt(t0)) || fmt.Sprintf("%+v", first) != fmt.Sprintf("%+v", want) {
		t.Fatalf("stamped event\n %+v\nwant\n %+v", first, want)
	}
	if e := got[1]; !e.Time.Equal(t0.Add(time.Second)) || e.IP != netip.MustParseAddr("2001:db8::1") || e.UserAgent != "curl/8" || e.RequestID != "req-7" {
		t.Fatalf("an event's own address and user agent: %+v", e)
	}
	if e := got[2]; e.IP.IsValid() || e.UserAgent != "" || e.RequestID != "" || e.TargetID != "u2" {
		t.Fatalf("an event recorded outside a request: %+v", e)
	}
}

// TestRecordBoundsWhatARequestSends: a user agent is cut to 256 bytes on
// a character boundary and made valid UTF-8 (a store may refuse anything
// else, and with it the whole batch).
func TestRecordBoundsWhatARequestSends(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 200) // 400 bytes
	got := recorded(t, platformtest.NewClock(t0), func(r audit.Recorder) {
		r.Record(context.Background(), audit.Event{Type: audit.LoginSucceeded, UserAgent: long})
		r.Record(context.Background(), audit.Event{Type: audit.LoginFailed, UserAgent: "bad \xff\xfe bytes", Reason: strings.Repeat("x", 1000),
			AMR: []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}, OldRole: strings.Repeat("o", 1000), NewRole: "bad \xff role"})
	})
	if len(got) != 2 {
		t.Fatalf("%d events stored, want 2", len(got))
	}
	if ua := got[0].UserAgent; len(ua) != 256 || !utf8.ValidString(ua) || !strings.HasPrefix(long, ua) {
		t.Fatalf("long user agent kept as %d bytes (valid %v)", len(ua), utf8.ValidString(ua))
	}
	if e := got[1]; e.UserAgent != "bad \uFFFD bytes" || len(e.Reason) != 128 || len(e.AMR) != 8 || len(e.OldRole) != 128 || e.NewRole != "bad \uFFFD role" {
		t.Fatalf("bounded event: %q, reason of %d bytes, %d amr, old role of %d bytes, new role %q", e.UserAgent, len(e.Reason), len(e.AMR), len(e.OldRole), e.NewRole)
	}
}
