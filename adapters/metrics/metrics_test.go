package metrics_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/portcullis/portcullis/adapters/metrics"
	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/domain/tenant"
)

func TestTenantsPastTheBoundAreOther(t *testing.T) {
	m := metrics.New(metrics.Options{MaxTenants: 2})
	for _, id := range []string{"a", "b", "c", "a", "d", "b"} {
		got := m.Tenant(id)
		want := id
		if id == "c" || id == "d" {
			want = metrics.OtherTenant
		}
		if got != want {
			t.Errorf("Tenant(%q) = %q, want %q", id, got, want)
		}
	}
}

type recorded struct{ events []audit.Event }

func (r *recorded) Record(_ context.Context, e audit.Event) { r.events = append(r.events, e) }

func TestAuditObserverCountsSignInsAndPassesEverythingOn(t *testing.T) {
	m := metrics.New(metrics.Options{})
	next := &recorded{}
	o := m.ObserveAudit("shop", next)
	events := []audit.Event{
		{Type: audit.LoginSucceeded, Method: "password"},
		{Type: audit.LoginFailed, Method: "password", Reason: "invalid_credentials"},
		{Type: audit.LoginFailed, Method: "sms_otp", Reason: "otp_invalid"},
		{Type: audit.MFAChallenged, Method: "password"},
		{Type: audit.PasswordChanged},
	}
	for _, e := range events {
		o.Record(context.Background(), e)
	}
	if len(next.events) != len(events) {
		t.Fatalf("%d events passed on, want %d", len(next.events), len(events))
	}
	want := `
# HELP portcullis_logins_total Sign-ins by tenant, login method and outcome (succeeded, failed, mfa_required, mfa_enrolment_required).
# TYPE portcullis_logins_total counter
portcullis_logins_total{method="password",outcome="failed",tenant="shop"} 1
portcullis_logins_total{method="password",outcome="mfa_required",tenant="shop"} 1
portcullis_logins_total{method="password",outcome="succeeded",tenant="shop"} 1
portcullis_logins_total{method="sms_otp",outcome="failed",tenant="shop"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "portcullis_logins_total"); err != nil {
		t.Fatal(err)
	}
}

type limiter struct{ allow bool }

func (l limiter) Hit(context.Context, string, tenant.Limit) (bool, time.Duration, error) {
	return l.allow, time.Second, nil
}
func (limiter) Refund(context.Context, string, tenant.Limit) error { return nil }
func (limiter) Reset(context.Context, string) error                { return nil }

func TestLimiterCountsDenials(t *testing.T) {
	m := metrics.New(metrics.Options{})
	for _, allow := range []bool{true, false, false} {
		ok, _, err := m.ObserveLimiter("shop", limiter{allow}).Hit(context.Background(), "k", tenant.Limit{Count: 1, Window: time.Minute})
		if err != nil || ok != allow {
			t.Fatalf("Hit = %t, %v; want %t", ok, err, allow)
		}
	}
	want := `
# HELP portcullis_limiter_denials_total Attempts refused by a rate limit, by tenant.
# TYPE portcullis_limiter_denials_total counter
portcullis_limiter_denials_total{tenant="shop"} 2
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "portcullis_limiter_denials_total"); err != nil {
		t.Fatal(err)
	}
}

func TestRequestsWithoutARouteAreUnmatched(t *testing.T) {
	m := metrics.New(metrics.Options{})
	m.Request("", "GET", 404, time.Millisecond)
	m.Request("/auth/v1/me", "GET", 200, time.Millisecond)
	if n := testutil.CollectAndCount(m.Registry(), "portcullis_http_request_duration_seconds"); n != 2 {
		t.Fatalf("%d series, want 2", n)
	}
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(""), "portcullis_http_request_duration_seconds"); err == nil ||
		!strings.Contains(err.Error(), `route="unmatched"`) {
		t.Fatalf("no unmatched route series: %v", err)
	}
}
