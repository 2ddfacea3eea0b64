package identity_test

import (
	"strings"
	"testing"

	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/tenant"
)

const invisibleReason = "must not contain control, format or invisible characters"

func TestCheckProfileRefusesHiddenCharactersInNames(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		value  string
		reason string // prefix of the reason
	}{
		{"C0 control (tab)", "Ann\tLee", invisibleReason + " (found U+0009)"},
		{"DEL", "Ann\x7f", invisibleReason + " (found U+007F)"},
		{"C1 control NEL", "Ann\u0085Lee", invisibleReason + " (found U+0085)"},
		{"C1 control CSI", "Ann\u009b", invisibleReason + " (found U+009B)"},
		{"bidi override RLO", "Ann\u202Egnp.exe", invisibleReason + " (found U+202E)"},
		{"bidi embedding LRE", "\u202AAnn", invisibleReason + " (found U+202A)"},
		{"bidi isolate RLI", "Ann\u2067x", invisibleReason + " (found U+2067)"},
		{"bidi isolate PDI", "Ann\u2069", invisibleReason + " (found U+2069)"},
		{"left-to-right mark", "Ann\u200E", invisibleReason + " (found U+200E)"},
		{"right-to-left mark", "Ann\u200F", invisibleReason + " (found U+200F)"},
		{"Arabic letter mark", "Ann\u061C", invisibleReason + " (found U+061C)"},
		{"zero-width space", "An\u200Bn", invisibleReason + " (found U+200B)"},
		{"zero-width non-joiner", "An\u200Cn", invisibleReason + " (found U+200C)"},
		{"zero-width joiner", "An\u200Dn", invisibleReason + " (found U+200D)"},
		{"word joiner", "An\u2060n", invisibleReason + " (found U+2060)"},
		{"byte order mark", "\uFEFFAnn", invisibleReason + " (found U+FEFF)"},
		{"soft hyphen (other Cf)", "An\u00ADn", invisibleReason + " (found U+00AD)"},
		{"line separator", "Ann\u2028Lee", invisibleReason + " (found U+2028)"},
		{"paragraph separator", "Ann\u2029Lee", invisibleReason + " (found U+2029)"},
		{"Hangul filler", "\u3164", invisibleReason + " (found U+3164)"},
		{"combining grapheme joiner", "An\u034Fn", invisibleReason + " (found U+034F)"},
		{"private use", "Ann\uE000", "must not contain private-use or unassigned characters (found U+E000)"},
		{"unassigned", "Ann\U0003FFFD", "must not contain private-use or unassigned characters (found U+3FFFD)"},
		{"noncharacter", "Ann\uFFFF", "must not contain private-use or unassigned characters (found U+FFFF)"},
		{"invalid UTF-8", "Ann\xff", identity.ReasonInvalidUTF8},
		{"truncated UTF-8 sequence", "Ann\xe2\x80", identity.ReasonInvalidUTF8},
	}
	for _, tc := range cases {
		for _, field := range []string{"first_name", "last_name"} {
			t.Run(tc.name+" in "+field, func(t *testing.T) {
				t.Parallel()
				p := identity.Profile{Email: "ann@example.com", FirstName: "Ann", LastName: "Lee"}
				if field == "first_name" {
					p.FirstName = tc.value
				} else {
					p.LastName = tc.value
				}
				_, _, err := identity.CheckProfile(p, tenant.SMSPolicy{})
				e := errs.As(err)
				if e == nil || e.Kind != errs.Invalid {
					t.Fatalf("CheckProfile(%q) = %v, want an invalid-input error", tc.value, err)
				}
				if len(e.Fields) != 1 || e.Fields[0].Field != field || e.Fields[0].Reason != tc.reason {
					t.Fatalf("fields %+v, want one %s error %q", e.Fields, field, tc.reason)
				}
			})
		}
	}
}

func TestCheckProfileAcceptsNamesOfEveryScript(t *testing.T) {
	t.Parallel()
	names := []string{
		"Ann", "Zoë", "José María", "O'Brien", "Jean-Luc", "Nguyễn Văn", "Ærøskøbing",
		"山田", "김민준", "Дмитрий", "Ελένη", "محمد", "דוד", "प्रिया", "Saint\u00A0Clair",
		"Ann ❤\uFE0F", // a variation selector after an emoji is kept
		"Ann\u0301",   // a combining mark
	}
	for _, n := range names {
		p, _, err := identity.CheckProfile(identity.Profile{Email: "ann@example.com", FirstName: n, LastName: n}, tenant.SMSPolicy{})
		if err != nil {
			t.Errorf("CheckProfile(%q): %v", n, err)
		} else if p.FirstName != strings.TrimSpace(n) {
			t.Errorf("CheckProfile(%q) changed the name to %q", n, p.FirstName)
		}
	}
}

func TestNormalizeEmailRefusesInvalidAndHiddenCharacters(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, email, reason string
	}{
		{"invalid UTF-8 in the local part", "ann\xff@example.com", identity.ReasonInvalidUTF8},
		{"a lone continuation byte", "ann\x80@example.com", identity.ReasonInvalidUTF8},
		{"a bidi override", "ann\u202E@example.com", invisibleReason + " (found U+202E)"},
		{"a zero-width space", "an\u200Bn@example.com", invisibleReason + " (found U+200B)"},
		{"a C1 control", "ann\u0085@example.com", invisibleReason + " (found U+0085)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, _, err := identity.NormalizeEmail(tc.email); err == nil || err.Error() != tc.reason {
				t.Fatalf("NormalizeEmail(%q) error %v, want %q", tc.email, err, tc.reason)
			}
		})
	}
	// Two different invalid byte strings must not share a key, so neither
	// may have one.
	if _, k1, err1 := identity.NormalizeEmail("a\xff@example.com"); err1 == nil {
		t.Errorf("invalid address accepted with key %q", k1)
	}
	if _, _, err := identity.NormalizeEmail(" ann@example.com\n"); err != nil {
		t.Errorf("surrounding white space is trimmed before the rule: %v", err)
	}
}

func TestCheckNamesTrimsAndReportsBothFields(t *testing.T) {
	t.Parallel()
	first, last, err := identity.CheckNames("  Zoë ", "\tO'Brien")
	if err != nil || first != "Zoë" || last != "O'Brien" {
		t.Fatalf("CheckNames = %q, %q, %v; want trimmed names", first, last, err)
	}
	_, _, err = identity.CheckNames("   ", strings.Repeat("a", identity.MaxNameLength+1))
	e := errs.As(err)
	if e == nil || e.Kind != errs.Invalid || len(e.Fields) != 2 {
		t.Fatalf("CheckNames(blank, too long) = %v, want two field errors", err)
	}
	if e.Fields[0] != (errs.FieldError{Field: "first_name", Reason: "is required"}) || e.Fields[1].Field != "last_name" ||
		!strings.HasPrefix(e.Fields[1].Reason, "must be at most 150 characters") {
		t.Fatalf("fields %+v", e.Fields)
	}
	if _, _, err := identity.CheckNames("Ann\r\nBcc: x@example.com", "Lee"); err == nil {
		t.Fatal("a line break in a name was accepted")
	}
}
