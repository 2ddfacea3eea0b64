package seed003

import (
	"regexp"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/domain/errs"
)

// The query parameter platform, where the seed takes it: "web" or
// "mobile" (any case), or none. It changes nothing here: every login
// answers the same access token.
const queryPlatform = "platform"

func checkPlatform(c *fiber.Ctx) error {
	switch p := strings.ToLower(c.Query(queryPlatform)); p {
	case "", "web", "mobile":
		return nil
	}
	return errs.InvalidFields(errs.FieldError{Field: queryPlatform, Reason: `must be "web" or "mobile"`})
}

// mobileDigits is the seed's mobile number: 10 digits, the national
// number without a trunk prefix or country code.
var mobileDigits = regexp.MustCompile(`^[0-9]{10}$`)

// nationalMobile checks a mobile number's form (the tenant's SMS login
// then reads it in its sms.default_region and checks it is a number).
func nationalMobile(raw string) (string, error) {
	m := strings.TrimSpace(raw)
	if !mobileDigits.MatchString(m) {
		return "", errs.InvalidFields(errs.FieldError{Field: "mobile", Reason: "must be 10 digits"})
	}
	return m, nil
}

// The forms of the registration's details the account keeps as sent.
var (
	referralCode = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	// earliestBirthdate bounds a birth date from below.
	earliestBirthdate = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
)

// maxGender bounds the gender as sent: the seed names no values.
const maxGender = 32

// checkDetails checks the registration's details the core keeps without
// reading them (identity.User.Extra): gender, free text of at most 32
// characters; birthdate, a date YYYY-MM-DD from 1900 to today; and
// referral_code, 1 to 64 letters, digits, "-" and "_". Each may be empty.
func checkDetails(gender, birthdate, referral string, now time.Time) error {
	var fields []errs.FieldError
	if n := len([]rune(strings.TrimSpace(gender))); n > maxGender {
		fields = append(fields, errs.FieldError{Field: "gender", Reason: "must be at most 32 characters"})
	}
	if b := strings.TrimSpace(birthdate); b != "" {
		d, err := time.Parse(time.DateOnly, b)
		if err != nil || d.Before(earliestBirthdate) || d.After(now) {
			fields = append(fields, errs.FieldError{Field: "birthdate", Reason: "must be a date YYYY-MM-DD from 1900-01-01 to today"})
		}
	}
	if r := strings.TrimSpace(referral); r != "" && !referralCode.MatchString(r) {
		fields = append(fields, errs.FieldError{Field: "referral_code", Reason: "must be 1 to 64 letters, digits, - or _"})
	}
	if len(fields) > 0 {
		return errs.InvalidFields(fields...)
	}
	return nil
}
