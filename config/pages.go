package config

import "github.com/portcullis/portcullis/domain/tenant"

// pagesSpec is the pages section of the tenant schema (tenant.Pages).
type pagesSpec struct {
	Enabled         bool     `mapstructure:"enabled"`
	LogoURL         string   `mapstructure:"logo_url"`
	PrimaryColor    string   `mapstructure:"primary_color"`
	SupportURL      string   `mapstructure:"support_url"`
	DefaultLanguage string   `mapstructure:"default_language"`
	FrameAncestors  []string `mapstructure:"frame_ancestors"`
}

func pagesSpecFrom(p tenant.Pages) pagesSpec {
	return pagesSpec{Enabled: p.Enabled, LogoURL: p.LogoURL, PrimaryColor: p.PrimaryColor, SupportURL: p.SupportURL,
		DefaultLanguage: p.DefaultLanguage, FrameAncestors: p.FrameAncestors}
}

func (s pagesSpec) pages() tenant.Pages {
	return tenant.Pages{Enabled: s.Enabled, LogoURL: s.LogoURL, PrimaryColor: s.PrimaryColor, SupportURL: s.SupportURL,
		DefaultLanguage: s.DefaultLanguage, FrameAncestors: s.FrameAncestors}
}

func (s pagesSpec) document() map[string]any {
	return map[string]any{"enabled": s.Enabled, "logo_url": s.LogoURL, "primary_color": s.PrimaryColor, "support_url": s.SupportURL,
		"default_language": s.DefaultLanguage, "frame_ancestors": orEmpty(s.FrameAncestors)}
}
