package commonpass_test

import (
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"

	"github.com/portcullis/portcullis/adapters/commonpass"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/tenant"
)

func TestDefaultIsLarge(t *testing.T) {
	t.Parallel()
	if n := commonpass.Default().Len(); n < 10000 {
		t.Fatalf("Len() = %d, want at least 10000", n)
	}
}

func TestDefaultIsBuiltOnce(t *testing.T) {
	t.Parallel()
	if commonpass.Default() != commonpass.Default() {
		t.Fatal("Default() built a second list")
	}
}

func TestContains(t *testing.T) {
	t.Parallel()
	l := commonpass.Default()
	cases := []struct {
		name string
		pw   string
		want bool
	}{
		{"password", "password", true},
		{"digits", "123456", true},
		{"keyboard row", "qwerty", true},
		{"phrase", "iloveyou", true},
		{"long passphrase", "correct horse battery staple 9!", false},
		{"empty", "", false},
		// Contains does not lower-case: that is the caller's job.
		{"upper case is not folded", "PASSWORD", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := l.Contains(tc.pw); got != tc.want {
				t.Fatalf("Contains(%q) = %v, want %v", tc.pw, got, tc.want)
			}
		})
	}
}

// Whatever case or width the user types a common password in, CheckPassword
// (which normalises, lower-cases and then asks the list) refuses it.
func TestCheckPasswordRefusesCommonInAnyCase(t *testing.T) {
	t.Parallel()
	p := tenant.Default().Password
	p.MinLength = 1
	for _, pw := range []string{"PassWord", "ＱＷＥＲＴＹ", "IloveYou"} { // the second in full-width letters
		if err := identity.CheckPassword(identity.NormalizePassword(pw), p, commonpass.Default()); err == nil {
			t.Errorf("%q: accepted", pw)
		}
	}
	if err := identity.CheckPassword(identity.NormalizePassword("correct horse battery staple 9!"), p, commonpass.Default()); err != nil {
		t.Errorf("a passphrase refused: %v", err)
	}
}

func TestEntriesAreNormalisedLowerCase(t *testing.T) {
	t.Parallel()
	for _, e := range commonpass.Entries(commonpass.Default()) {
		if e != strings.ToLower(e) || !norm.NFKC.IsNormalString(e) {
			t.Fatalf("entry %q is not NFKC lower case", e)
		}
	}
}

func TestNewListNormalisesEntries(t *testing.T) {
	t.Parallel()
	l := commonpass.NewList([]string{"PassWord", "ＡＢＣ１２３", "", "password"})
	if l.Len() != 2 {
		t.Fatalf("Len() = %d, want 2 (duplicate and empty entries dropped)", l.Len())
	}
	for _, pw := range []string{"password", "abc123"} {
		if !l.Contains(pw) {
			t.Errorf("Contains(%q) = false", pw)
		}
	}
	if l.Contains("PassWord") {
		t.Error("an entry kept its upper case")
	}
}
