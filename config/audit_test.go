package config_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/domain/tenant"
)

func TestAuditBlock(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, yaml string
		want       time.Duration
	}{
		{"absent: the default", "id: audit\n", tenant.DefaultAuditRetention},
		{"set", "id: audit\naudit:\n  retention: 8760h\n", 365 * 24 * time.Hour},
		{"flow mapping", "id: audit\naudit: {retention: 24h}\n", 24 * time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := config.ParseTenantYAML([]byte(tc.yaml), "audit")
			if err != nil {
				t.Fatal(err)
			}
			if got.Audit.Retention != tc.want {
				t.Fatalf("audit.retention %s, want %s", got.Audit.Retention, tc.want)
			}
			doc := config.EncodeTenant(got)
			if a, _ := doc["audit"].(map[string]any); a["retention"] != tc.want.String() {
				t.Fatalf("encoded audit %v, want retention %s", doc["audit"], tc.want)
			}
			out, err := config.DecodeTenant(doc, "audit")
			if err != nil || out.Audit != got.Audit {
				t.Fatalf("round trip: %+v, %v; want %+v", out.Audit, err, got.Audit)
			}
		})
	}
}

func TestBadAuditBlockNamesFieldAndReason(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, yaml, want string }{
		{"days are no unit", "id: shop\naudit:\n  retention: 90d\n", `tenant "shop": audit.retention: must be a duration with a unit such as 15m or 1h30m, got "90d"`},
		{"bare number", "id: shop\naudit:\n  retention: 90\n", `tenant "shop": audit.retention: must be a duration with a unit such as 15m or 1h30m, got 90`},
		{"too short", "id: shop\naudit:\n  retention: 90m\n", `tenant "shop": audit.retention: must be between 24h0m0s and 87600h0m0s, got 1h30m0s`},
		{"too long", "id: shop\naudit:\n  retention: 100000h\n", `tenant "shop": audit.retention: must be between 24h0m0s and 87600h0m0s, got 100000h0m0s`},
		{"unknown setting", "id: shop\naudit:\n  keep: 24h\n", `tenant "shop": audit.keep: is not a known setting`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.ParseTenantYAML([]byte(tc.yaml), "file:shop.yaml")
			var ve *tenant.ValidationError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v\ndoes not contain %q", err, tc.want)
			}
		})
	}
}
