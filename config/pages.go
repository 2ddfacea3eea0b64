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
	// Messages are the tenant's own texts: language → key → text.
	Messages map[string]map[string]string `mapstructure:"messages"`
}

func pagesSpecFrom(p tenant.Pages) pagesSpec {
	return pagesSpec{Enabled: p.Enabled, LogoURL: p.LogoURL, PrimaryColor: p.PrimaryColor, SupportURL: p.SupportURL,
		DefaultLanguage: p.DefaultLanguage, FrameAncestors: p.FrameAncestors, Messages: p.Messages}
}

func (s pagesSpec) pages() tenant.Pages {
	return tenant.Pages{Enabled: s.Enabled, LogoURL: s.LogoURL, PrimaryColor: s.PrimaryColor, SupportURL: s.SupportURL,
		DefaultLanguage: s.DefaultLanguage, FrameAncestors: s.FrameAncestors, Messages: s.Messages}
}

func (s pagesSpec) document() map[string]any {
	return map[string]any{"enabled": s.Enabled, "logo_url": s.LogoURL, "primary_color": s.PrimaryColor, "support_url": s.SupportURL,
		"default_language": s.DefaultLanguage, "frame_ancestors": orEmpty(s.FrameAncestors), "messages": messagesDocument(s.Messages)}
}

// messagesDocument is the messages as a document: maps of any, as the
// stored configuration decodes them.
func messagesDocument(m map[string]map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for lang, texts := range m {
		t := make(map[string]any, len(texts))
		for k, v := range texts {
			t[k] = v
		}
		out[lang] = t
	}
	return out
}
