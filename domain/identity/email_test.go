package identity_test

import (
	"strings"
	"testing"

	"github.com/portcullis/portcullis/domain/identity"
)

// TestEmailKeyPrefixIsTheBeginningOfTheKey: a prefix typed in any case or
// Unicode form is the beginning of the key of every address that begins
// with it; hidden characters and overlong prefixes are refused.
func TestEmailKeyPrefixIsTheBeginningOfTheKey(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ address, prefix string }{
		{"Ada.Lovelace@Example.com", "ADA.L"},
		{"Ada.Lovelace@Example.com", "  ada.lovelace@example.COM "},
		{"Straße@example.de", "STRASSE"},
		{"ＡＤＡ@example.com", "ada@"}, // fullwidth letters: NFKC
		{"ada@example.com", ""},
	} {
		_, key, err := identity.NormalizeEmail(c.address)
		if err != nil {
			t.Fatal(err)
		}
		p, err := identity.EmailKeyPrefix(c.prefix)
		if err != nil || !strings.HasPrefix(key, p) {
			t.Errorf("EmailKeyPrefix(%q) = %q, %v; want a prefix of the key %q of %q", c.prefix, p, err, key, c.address)
		}
	}
	for _, bad := range []string{"ada\u200b", "ada\x00", "a\xffb", strings.Repeat("a", identity.MaxEmailLength+1)} {
		if p, err := identity.EmailKeyPrefix(bad); err == nil {
			t.Errorf("EmailKeyPrefix(%q) = %q, want it refused", bad, p)
		}
	}
}
