package identity

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/tenant"
)

// CommonPasswords tells whether a password is among the commonly used ones.
type CommonPasswords interface {
	Contains(normalisedLowercase string) bool
}

// ErrWeakPassword reports a password the tenant's policy refuses.
var ErrWeakPassword = errs.E(errs.Invalid, "weak_password", "The password does not meet the password policy.")

// NormalizePassword returns the NFKC form that is hashed, so that the same
// password typed on different keyboards verifies.
func NormalizePassword(pw string) string { return norm.NFKC.String(pw) }

// CheckPassword applies the tenant's policy to a normalised password. Length
// counts code points.
func CheckPassword(pw string, p tenant.PasswordPolicy, common CommonPasswords, related ...string) error {
	n := utf8.RuneCountInString(pw)
	reason := ""
	switch {
	case n == 0:
		reason = "is required"
	case n < p.MinLength:
		reason = "must be at least " + strconv.Itoa(p.MinLength) + " characters, got " + strconv.Itoa(n)
	case n > p.MaxLength:
		reason = "must be at most " + strconv.Itoa(p.MaxLength) + " characters, got " + strconv.Itoa(n)
	case p.RejectCommon && common != nil && common.Contains(strings.ToLower(pw)):
		reason = "is too common; choose a less guessable password"
	default:
		lower := strings.ToLower(pw)
		for _, r := range related {
			if r != "" && strings.ToLower(r) == lower {
				reason = "must not be the same as your e-mail address or name"
			}
		}
	}
	if reason == "" {
		return nil
	}
	return ErrWeakPassword.WithFields(errs.FieldError{Field: "password", Reason: reason})
}
