package tenant

import (
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Pages (configuration section pages) are the sign-in pages Portcullis
// serves for a tenant under /auth/: whether it serves them, how they look
// and which sites may frame them. Display name is the tenant's own
// (display_name).
type Pages struct {
	// Enabled serves the pages; off, /auth/ answers 404.
	Enabled bool
	// LogoURL is an https image shown above each form (or a path on the
	// tenant's own host); none shows the display name alone.
	LogoURL string
	// PrimaryColor is the colour of buttons and links, CSS hex (#rgb or
	// #rrggbb); none takes mail.brand.primary_color.
	PrimaryColor string
	// SupportURL is where "Need help?" leads: https, or mailto:.
	SupportURL string
	// DefaultLanguage is the language of a browser that asks for none the
	// pages speak: one of Languages.
	DefaultLanguage string
	// FrameAncestors are the origins allowed to show the pages in a frame
	// (Content-Security-Policy frame-ancestors); none by default.
	FrameAncestors []string
	// Messages are the tenant's own texts, by language tag and message
	// key: they replace the built-in ones of a language, or add a
	// language (whose missing keys are shown in English).
	Messages map[string]map[string]string
}

// Speaks reports whether the tenant's pages speak lang: a built-in
// language or one of its Messages.
func (p Pages) Speaks(lang string) bool {
	_, own := p.Messages[lang]
	return own || slices.Contains(Languages, lang)
}

// Languages are the languages the pages speak.
var Languages = []string{"en", "de"}

// DefaultPages are the pages of a tenant that sets none: served, in
// English, framed by nobody.
func DefaultPages() Pages {
	return Pages{Enabled: true, DefaultLanguage: "en"}
}

var (
	hexColor    = regexp.MustCompile(`^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)
	originLike  = regexp.MustCompile(`^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$`)
	languageTag = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$`)
	messageKey  = regexp.MustCompile(`^[a-z]+\.[a-z_0-9]+$`)
)

// maxMessage bounds one of a tenant's page texts.
const maxMessage = 1000

// problems lists what is wrong with the section, fields named from the
// configuration's root.
func (p Pages) problems() []Problem {
	var ps []Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{Field: "pages." + field, Reason: fmt.Sprintf(format, args...)})
	}
	if p.PrimaryColor != "" && !hexColor.MatchString(p.PrimaryColor) {
		add("primary_color", "%q must be a CSS hex colour such as #1a73e8", p.PrimaryColor)
	}
	if p.LogoURL != "" {
		if reason := checkPageURL(p.LogoURL, false); reason != "" {
			add("logo_url", "%q %s", p.LogoURL, reason)
		}
	}
	if p.SupportURL != "" {
		if reason := checkPageURL(p.SupportURL, true); reason != "" {
			add("support_url", "%q %s", p.SupportURL, reason)
		}
	}
	if !p.Speaks(p.DefaultLanguage) {
		add("default_language", "%q must be one of %s, or a language of pages.messages", p.DefaultLanguage, strings.Join(Languages, ", "))
	}
	for _, lang := range slices.Sorted(maps.Keys(p.Messages)) {
		if !languageTag.MatchString(lang) {
			add("messages."+lang, "%q must be a language tag such as fr or pt-BR", lang)
			continue
		}
		for _, key := range slices.Sorted(maps.Keys(p.Messages[lang])) {
			text := p.Messages[lang][key]
			switch {
			case !messageKey.MatchString(key):
				add("messages."+lang+"."+key, "%q is not a message key (such as signin.submit: a key of the English catalogue, adapters/http/pages/locales/en.json)", key)
			case strings.TrimSpace(text) == "":
				add("messages."+lang+"."+key, "must not be empty")
			case len([]rune(text)) > maxMessage:
				add("messages."+lang+"."+key, "must be at most %d characters, got %d", maxMessage, len([]rune(text)))
			case hasControl(text):
				add("messages."+lang+"."+key, "must not contain control characters")
			}
		}
	}
	for i, o := range p.FrameAncestors {
		if !originLike.MatchString(o) {
			add(fmt.Sprintf("frame_ancestors[%d]", i), "%q must be an origin such as https://shop.example (scheme, host, optional port)", o)
		}
	}
	return ps
}

// checkPageURL returns why a logo or support URL is unusable, or "": an
// absolute https URL (http for a loopback host), a path on the tenant's
// own host, or with mailto a mailto: address.
func checkPageURL(s string, mailto bool) string {
	if hasControl(s) || strings.ContainsAny(s, " \\\"'<>") {
		return "must not contain spaces, quotes, angle brackets, backslashes or control characters"
	}
	if mailto && strings.HasPrefix(s, "mailto:") && len(s) > len("mailto:") {
		return ""
	}
	if strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHost(u.Hostname()))) {
		if mailto {
			return "must be an https URL, a path starting with /, or a mailto: address"
		}
		return "must be an https URL or a path starting with /"
	}
	return ""
}

// BrandColor is the pages' primary colour: their own, else the mail's,
// else Portcullis blue.
func (t Tenant) BrandColor() string {
	switch {
	case t.Pages.PrimaryColor != "":
		return t.Pages.PrimaryColor
	case t.Mail.Brand.PrimaryColor != "":
		return t.Mail.Brand.PrimaryColor
	}
	return "#1a73e8"
}
