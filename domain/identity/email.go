package identity

import (
	"errors"
	"net/mail"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

var folder = cases.Fold()

// NormalizeEmail validates an e-mail address (CheckText's character rule
// first, then the address syntax) and returns it NFKC-normalised
// (as it is shown and mailed to) and its uniqueness key (NFKC, case-folded,
// NFKC again: addresses that differ only by case or Unicode form are one
// account).
func NormalizeEmail(raw string) (email, key string, err error) {
	raw = strings.TrimSpace(raw)
	if reason := CheckText(raw); reason != "" {
		return "", "", errors.New(reason)
	}
	email = norm.NFKC.String(raw)
	switch n := utf8.RuneCountInString(email); {
	case n == 0:
		return "", "", errors.New("is required")
	case n > MaxEmailLength:
		return "", "", errors.New(tooLong(MaxEmailLength, n))
	}
	addr, perr := mail.ParseAddress(email)
	if perr != nil || addr.Address != email || addr.Name != "" {
		return "", "", errors.New("must be a plain e-mail address such as name@example.com")
	}
	at := strings.LastIndexByte(email, '@')
	if at < 1 || !strings.Contains(email[at+1:], ".") || strings.HasSuffix(email, ".") {
		return "", "", errors.New("must be a plain e-mail address such as name@example.com")
	}
	key = norm.NFKC.String(folder.String(email))
	return email, key, nil
}
