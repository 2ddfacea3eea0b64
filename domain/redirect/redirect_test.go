package redirect_test

import (
	"testing"

	"github.com/portcullis/portcullis/domain/redirect"
	"github.com/portcullis/portcullis/domain/tenant"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	p := tenant.RedirectPolicy{Allow: []string{"https://shop.example", "/account"}, Default: "/"}
	cases := map[string]bool{
		"/basket/":                          true,
		"/dashboard/?tab=1#x":               true,
		"https://shop.example/checkout":     true,
		"HTTPS://SHOP.EXAMPLE/":             true,
		"//evil.example":                    false,
		`/\evil.example`:                    false,
		"https:evil.example":                false,
		"https://trusted@evil.example":      false,
		"https://shop.example@evil.example": false,
		"javascript:alert(1)":               false,
		"https://evil.example/":             false,
		"http://shop.example/":              false, // scheme is part of the origin
		"/\t/evil.example":                  false,
		"/ /evil.example":                   false,
		"":                                  false,
		"evil.example":                      false,
		"data:text/html,hi":                 false,
	}
	for target, want := range cases {
		got, ok := redirect.Check(target, p)
		if ok != want || (ok && got != target) {
			t.Errorf("Check(%q) = %q, %v; want %v", target, got, ok, want)
		}
	}
}
