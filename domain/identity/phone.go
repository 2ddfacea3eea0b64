package identity

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/portcullis/portcullis/domain/errs"
)

// ErrPhoneTaken reports a registration (or any create) with a phone number
// another account of the tenant has.
var ErrPhoneTaken = errs.E(errs.Conflict, "phone_taken", "An account with this phone number already exists.").
	WithFields(errs.FieldError{Field: "phone", Reason: "is already registered"})

// Reasons NormalizePhone gives, one per way a number can fail.
const (
	reasonPhoneRequired = "is required"
	reasonPhoneSyntax   = "must be a phone number such as +44 7400 123456"
	reasonPhoneNational = "must be in international format, starting with + and the country code"
	reasonPhoneInvalid  = "is not a valid phone number"
	reasonPhoneNoSMS    = "must be a mobile number that can receive SMS"
	reasonPhoneCountry  = "is from a country whose numbers are not accepted"
)

// NormalizePhone parses a phone number as a person typed it and returns it
// in E.164 form ("+905355555555"). A number without a leading + and country
// code is read in defaultRegion (ISO 3166 alpha-2, such as "TR"), so that
// "+90 535 555 55 55", "0535 555 55 55" and "535 555 55 55" are one number
// there; with defaultRegion "" only the international form is accepted.
//
// Refused, with an errs.Invalid field error on "phone": invalid UTF-8, text
// longer than MaxPhoneLength characters (checked before parsing), anything
// that does not parse or is not a valid number of its country, numbers whose
// country is not in allowed (when allowed is non-empty), and numbers that
// cannot receive an SMS. The accepted types are MOBILE and
// FIXED_LINE_OR_MOBILE (where the numbering plan cannot tell, as in the
// US and Canada). Refused are FIXED_LINE, and also PAGER, VOIP,
// PERSONAL_NUMBER (forwarding numbers such as the UK's 070), UAN,
// VOICEMAIL, TOLL_FREE, PREMIUM_RATE, SHARED_COST and UNKNOWN: they either
// cannot receive an SMS or do not reliably (many SMS providers refuse to
// deliver to them), and VoIP and forwarding numbers are cheap to hold in
// bulk, which would defeat a phone number as a limit on accounts and
// one-time codes.
func NormalizePhone(raw, defaultRegion string, allowed []string) (string, error) {
	refuse := func(reason string) (string, error) {
		return "", errs.InvalidFields(errs.FieldError{Field: "phone", Reason: reason})
	}
	if !utf8.ValidString(raw) {
		return refuse(ReasonInvalidUTF8)
	}
	raw = strings.TrimSpace(raw)
	switch n := utf8.RuneCountInString(raw); {
	case n == 0:
		return refuse(reasonPhoneRequired)
	case n > MaxPhoneLength:
		return refuse(tooLong(MaxPhoneLength, n))
	}
	if reason := CheckText(raw); reason != "" {
		return refuse(reason)
	}
	region := defaultRegion
	if region == "" {
		// Parse fails on a national number without a known region, which
		// is the answer wanted: only the international form is accepted.
		region = phonenumbers.UNKNOWN_REGION
	}
	num, err := phonenumbers.Parse(raw, region)
	if err != nil {
		if defaultRegion == "" && !strings.HasPrefix(raw, "+") && !strings.HasPrefix(raw, "00") {
			return refuse(reasonPhoneNational)
		}
		return refuse(reasonPhoneSyntax)
	}
	if num.GetExtension() != "" {
		return refuse(reasonPhoneSyntax)
	}
	if !phonenumbers.IsValidNumber(num) {
		return refuse(reasonPhoneInvalid)
	}
	country := phonenumbers.GetRegionCodeForNumber(num)
	if len(allowed) > 0 && !slices.Contains(allowed, country) {
		return refuse(reasonPhoneCountry + " (" + country + "; accepted: " + strings.Join(allowed, ", ") + ")")
	}
	switch phonenumbers.GetNumberType(num) {
	case phonenumbers.MOBILE, phonenumbers.FIXED_LINE_OR_MOBILE:
	default:
		return refuse(reasonPhoneNoSMS)
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// PhoneCallingCode returns the country calling code of a number in E.164
// form ("90" for +905355555555), or "" when it does not parse.
func PhoneCallingCode(e164 string) string {
	n, err := phonenumbers.Parse(e164, "")
	if err != nil || n.GetCountryCode() == 0 {
		return ""
	}
	return strconv.Itoa(int(n.GetCountryCode()))
}
