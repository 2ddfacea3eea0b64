package tenant_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/portcullis/portcullis/domain/tenant"
)

func TestAuditRetention(t *testing.T) {
	t.Parallel()
	if got := tenant.Default().Audit.Retention; got != 90*24*time.Hour {
		t.Fatalf("default retention %s, want 90 days", got)
	}
	cases := []struct {
		retention time.Duration
		problem   string
	}{
		{24 * time.Hour, ""},
		{90 * 24 * time.Hour, ""},
		{10 * 365 * 24 * time.Hour, ""},
		{90 * time.Minute, "must be between 24h0m0s and 87600h0m0s, got 1h30m0s"},
		{0, "must be between 24h0m0s and 87600h0m0s, got 0s"},
		{-time.Hour, "must be between 24h0m0s and 87600h0m0s, got -1h0m0s"},
		{10*365*24*time.Hour + time.Hour, "must be between 24h0m0s and 87600h0m0s, got 87601h0m0s"},
	}
	for _, c := range cases {
		t.Run(c.retention.String(), func(t *testing.T) {
			t.Parallel()
			tn := tenant.Default()
			tn.ID = "audit"
			tn.Audit.Retention = c.retention
			err := tn.Validate()
			want := ""
			if c.problem != "" {
				want = fmt.Sprintf(`tenant "audit": audit.retention: %s`, c.problem)
			}
			if got := fmt.Sprint(err); (err == nil) != (want == "") || (err != nil && got != want) {
				t.Fatalf("Validate = %v, want %q", err, want)
			}
		})
	}
}
