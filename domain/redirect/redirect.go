// Package redirect decides whether a redirect target a client asked for
// ("next", a referrer) is safe to send a browser to.
package redirect

import (
	"net/url"
	"strings"

	"github.com/portcullis/portcullis/domain/tenant"
)

// Check returns target and true when it is safe under the tenant's policy:
// a path on the tenant's own host (starting with a single "/", no
// backslash, no control or space characters — browsers strip some of those
// and would turn "/\t/evil" into "//evil"), or an absolute http(s) URL
// without credentials whose origin is on the allow-list. Anything else —
// "//evil.example", "/\evil.example", "https:evil.example",
// "https://trusted@evil.example", "javascript:..." — is refused.
func Check(target string, p tenant.RedirectPolicy) (string, bool) {
	if target == "" || len(target) > 2048 || strings.ContainsAny(target, "\\") || strings.ContainsFunc(target, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "", false
	}
	if strings.HasPrefix(target, "/") {
		if strings.HasPrefix(target, "//") {
			return "", false
		}
		if u, err := url.Parse(target); err != nil || u.Host != "" || u.Scheme != "" {
			return "", false
		}
		return target, true
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Opaque != "" {
		return "", false
	}
	origin := strings.ToLower(u.Scheme + "://" + u.Host)
	for _, a := range p.Allow {
		if strings.ToLower(strings.TrimSuffix(a, "/")) == origin {
			return target, true
		}
	}
	return "", false
}

// AfterLogout is where a logout sends the browser: to next when it is
// safe; else, when next was not given and the referrer is a page under
// accountArea (pages that need a signed-in user), to the home page "/";
// else to the policy's default.
func AfterLogout(next, referrer, accountArea string, p tenant.RedirectPolicy) string {
	if next != "" {
		if t, ok := Check(next, p); ok {
			return t
		}
		return p.Default
	}
	if referrer != "" && accountArea != "" {
		if u, err := url.Parse(referrer); err == nil && strings.HasPrefix(u.Path, accountArea) {
			return "/"
		}
	}
	return p.Default
}
