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

func TestAfterLogout(t *testing.T) {
	p := tenant.RedirectPolicy{Allow: []string{"/", "https://shop.example"}, Default: "/bye/"}
	cases := []struct {
		name, next, referrer, want string
	}{
		{"safe next wins", "/basket/", "https://shop.example/users/profile/", "/basket/"},
		{"unsafe next falls back to the default, not the referrer rule", "//evil.example", "/users/profile/", "/bye/"},
		{"referrer inside the account area goes home", "", "https://shop.example/users/profile/", "/"},
		{"referrer elsewhere goes to the default", "", "https://shop.example/catalogue/", "/bye/"},
		{"nothing given goes to the default", "", "", "/bye/"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := redirect.AfterLogout(tc.next, tc.referrer, "/users/", p); got != tc.want {
				t.Fatalf("AfterLogout(%q, %q) = %q, want %q", tc.next, tc.referrer, got, tc.want)
			}
		})
	}
}
