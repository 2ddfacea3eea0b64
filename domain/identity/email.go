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

// EmailKeyPrefix reads the beginning of an e-mail address as a person
// typed it into a search and returns it as the beginning of e-mail keys:
// trimmed, NFKC, case-folded and NFKC again, as NormalizeEmail makes a
// key, so that "ADA@" finds ada@example.com. It is refused, with the
// reason, when it breaks CheckText's character rule or is longer than
// MaxEmailLength characters; an empty prefix is "" (it matches every key).
// The folding of a whole address and of its beginning agree for every
// prefix that does not end inside a sequence NFKC composes (a letter and
// its combining accent typed separately).
func EmailKeyPrefix(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if reason := CheckText(raw); reason != "" {
		return "", errors.New(reason)
	}
	if n := utf8.RuneCountInString(raw); n > MaxEmailLength {
		return "", errors.New(tooLong(MaxEmailLength, n))
	}
	return norm.NFKC.String(folder.String(norm.NFKC.String(raw))), nil
}
