package config_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/domain/tenant"
)

func TestPagesBlock(t *testing.T) {
	t.Parallel()
	full := tenant.Pages{Enabled: true, LogoURL: "https://cdn.shop.example/logo.svg", PrimaryColor: "#0a7", SupportURL: "mailto:help@shop.example",
		DefaultLanguage: "de", FrameAncestors: []string{"https://shop.example"}}
	cases := []struct {
		name, yaml string
		want       tenant.Pages
	}{
		{"absent: on, English", "id: shop\n", tenant.DefaultPages()},
		{"switched off", "id: shop\npages: {enabled: false}\n", tenant.Pages{DefaultLanguage: "en"}},
		{"every setting", "id: shop\npages:\n  logo_url: https://cdn.shop.example/logo.svg\n  primary_color: \"#0a7\"\n  support_url: mailto:help@shop.example\n" +
			"  default_language: de\n  frame_ancestors: [\"https://shop.example\"]\n", full},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := config.ParseTenantYAML([]byte(tc.yaml), "file:shop.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Pages, tc.want) {
				t.Fatalf("pages %+v, want %+v", got.Pages, tc.want)
			}
			out, err := config.DecodeTenant(config.EncodeTenant(got), "shop")
			if err != nil || !reflect.DeepEqual(out.Pages.FrameAncestors, got.Pages.FrameAncestors) && len(got.Pages.FrameAncestors) > 0 ||
				out.Pages.Enabled != got.Pages.Enabled || out.Pages.DefaultLanguage != got.Pages.DefaultLanguage || out.Pages.PrimaryColor != got.Pages.PrimaryColor {
				t.Fatalf("round trip: %+v, %v; want %+v", out.Pages, err, got.Pages)
			}
		})
	}
	_, err := config.ParseTenantYAML([]byte("id: shop\npages: {primary_color: blue}\n"), "file:shop.yaml")
	if err == nil || !strings.Contains(err.Error(), "pages.primary_color") {
		t.Fatalf("a bad colour: %v, want an error naming pages.primary_color", err)
	}
}
