package identity

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// ReasonInvalidUTF8 is the reason given for text that is not valid UTF-8.
// Decoders that replace invalid bytes with U+FFFD would let different byte
// strings become one value, so invalid text is refused, never repaired.
const ReasonInvalidUTF8 = "is not valid UTF-8"

// CheckText applies the character rule for text a person types about
// themselves (names, e-mail addresses) and returns why v breaks it, or ""
// when it does not. Refused are:
//   - invalid UTF-8;
//   - controls (Cc: C0, DEL, C1 such as U+0085);
//   - format characters (Cf): the bidi controls U+061C, U+200E, U+200F,
//     U+202A–U+202E, U+2066–U+2069, the zero-width U+200B–U+200D, U+2060,
//     U+FEFF, the soft hyphen and the rest of the category;
//   - the line and paragraph separators U+2028 and U+2029 (Zl, Zp);
//   - the other default-ignorable code points, which render as nothing
//     (Hangul fillers U+115F, U+1160, U+3164, U+FFA0, the combining grapheme
//     joiner U+034F...); variation selectors are kept, emoji need them;
//   - private-use code points (Co), whose glyph depends on the font, and
//     code points unassigned in the Unicode version Go's tables follow
//     (unicode.Version), noncharacters included.
//
// Such characters make two different names look alike, reorder or hide
// what is shown next to them, or break the lines of mails and logs.
//
// Refusing U+200C and U+200D costs the few names in Persian and Indic
// scripts that are spelled with a joiner; allowing them only where Unicode's
// joining rules need them (IDNA's CONTEXTJ) is the refinement if a tenant
// needs those names.
func CheckText(v string) string {
	if !utf8.ValidString(v) {
		return ReasonInvalidUTF8
	}
	for _, r := range v {
		switch {
		case invisible(r):
			return fmt.Sprintf("must not contain control, format or invisible characters (found U+%04X)", r)
		case unicode.Is(unicode.Co, r) || !assigned(r):
			return fmt.Sprintf("must not contain private-use or unassigned characters (found U+%04X)", r)
		}
	}
	return ""
}

// invisible reports the controls, format characters, separators and other
// default-ignorable code points CheckText refuses.
func invisible(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp, unicode.Other_Default_Ignorable_Code_Point)
}

// assigned reports whether r has a general category other than Cn (and Cs,
// which valid UTF-8 cannot hold).
func assigned(r rune) bool {
	return unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z, unicode.Cc, unicode.Cf, unicode.Co)
}
