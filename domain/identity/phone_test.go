package identity_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/tenant"
)

func TestNormalizePhone(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, raw, region string
		allowed           []string
		want              string // E.164; "" means refused
		reason            string // a part of the refusal's reason
	}{
		{name: "TR international", raw: "+90 535 555 55 55", region: "TR", want: "+905355555555"},
		{name: "TR national with trunk prefix", raw: "05355555555", region: "TR", want: "+905355555555"},
		{name: "TR national without trunk prefix", raw: "5355555555", region: "TR", want: "+905355555555"},
		{name: "TR with punctuation", raw: " (0535) 555-55-55 ", region: "TR", want: "+905355555555"},
		{name: "TR international without default region", raw: "+905355555555", want: "+905355555555"},
		{name: "another country's number in international form", raw: "+44 7400 123456", region: "TR", want: "+447400123456"},
		{name: "US number (fixed line or mobile)", raw: "+1 201-555-0123", want: "+12015550123"},
		{name: "US national in region US", raw: "(201) 555-0123", region: "US", want: "+12015550123"},
		{name: "UK mobile", raw: "07400 123456", region: "GB", want: "+447400123456"},
		{name: "allowed country", raw: "+90 535 555 55 55", allowed: []string{"GB", "TR"}, want: "+905355555555"},

		{name: "national form without default region", raw: "05355555555", reason: "international format"},
		{name: "UK fixed line", raw: "+44 20 7946 0000", reason: "mobile number"},
		{name: "TR fixed line", raw: "0212 555 55 55", region: "TR", reason: "mobile number"},
		{name: "UK personal (forwarding) number", raw: "+44 70 1234 5678", reason: "mobile number"},
		{name: "US toll free", raw: "+1 800 555 0199", reason: "mobile number"},
		{name: "country outside allowed", raw: "+44 7400 123456", region: "TR", allowed: []string{"TR"}, reason: "not accepted (GB; accepted: TR)"},
		{name: "too short to be valid", raw: "+90 535 555", reason: "not a valid phone number"},
		{name: "garbage", raw: "call me maybe", region: "TR", reason: "must be a phone number"},
		{name: "letters", raw: "+90 535 CALL ME", region: "TR", reason: ""},
		{name: "extension", raw: "+44 7400 123456 ext. 12", reason: ""},
		{name: "empty", raw: "  ", region: "TR", reason: "is required"},
		{name: "over-long", raw: "+90 " + strings.Repeat("5", 40), region: "TR", reason: "at most 32 characters"},
		{name: "invalid UTF-8", raw: "+90 535 555 55 5\xff", region: "TR", reason: identity.ReasonInvalidUTF8},
		{name: "hidden character", raw: "+90 535\u200b555 55 55", region: "TR", reason: "invisible"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := identity.NormalizePhone(tc.raw, tc.region, tc.allowed)
			if tc.want != "" {
				if err != nil || got != tc.want {
					t.Fatalf("NormalizePhone(%q, %q) = %q, %v; want %q", tc.raw, tc.region, got, err, tc.want)
				}
				return
			}
			var e *errs.Error
			if !errors.As(err, &e) || e.Kind != errs.Invalid || len(e.Fields) != 1 || e.Fields[0].Field != "phone" || got != "" {
				t.Fatalf("NormalizePhone(%q, %q) = %q, %v; want a field error on phone", tc.raw, tc.region, got, err)
			}
			if !strings.Contains(e.Fields[0].Reason, tc.reason) {
				t.Fatalf("reason %q, want it to mention %q", e.Fields[0].Reason, tc.reason)
			}
		})
	}
}

func TestErrPhoneTakenIsAConflictOnThePhoneField(t *testing.T) {
	t.Parallel()
	e := errs.As(identity.ErrPhoneTaken.Wrap(errors.New("duplicate")))
	if !errors.Is(e, identity.ErrPhoneTaken) || e.Kind != errs.Conflict || e.Code != "phone_taken" || len(e.Fields) != 1 || e.Fields[0].Field != "phone" {
		t.Fatalf("ErrPhoneTaken = %+v", e)
	}
	if errors.Is(e, identity.ErrEmailTaken) {
		t.Fatal("a taken phone reads as a taken e-mail")
	}
}

func TestCheckProfileNormalisesThePhoneWithTheTenantPolicy(t *testing.T) {
	t.Parallel()
	tr := tenant.SMSPolicy{DefaultRegion: "TR", AllowedCountries: []string{"TR"}}
	p, _, err := identity.CheckProfile(identity.Profile{Email: "ann@example.com", FirstName: "Ann", LastName: "Lee", Phone: " 0535 555 55 55 "}, tr)
	if err != nil || p.Phone != "+905355555555" {
		t.Fatalf("CheckProfile = %+v, %v; want phone +905355555555", p, err)
	}
	if p, _, err := identity.CheckProfile(identity.Profile{Email: "ann@example.com", FirstName: "Ann", LastName: "Lee", Phone: "   "}, tr); err != nil || p.Phone != "" {
		t.Fatalf("a blank phone is no phone: %+v, %v", p, err)
	}
	// An invalid phone is reported with the other invalid fields.
	_, _, err = identity.CheckProfile(identity.Profile{Email: "not an address", FirstName: "Ann", LastName: "", Phone: "+44 7400 123456"}, tr)
	var got []string
	for _, f := range errs.As(err).Fields {
		got = append(got, f.Field)
	}
	if strings.Join(got, ",") != "email,last_name,phone" {
		t.Fatalf("fields %v, want email, last_name and phone", got)
	}
}

func TestPhoneCallingCode(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"+905355555555": "90", "+12025550123": "1", "+447911123456": "44", "garbage": "", "": ""} {
		if got := identity.PhoneCallingCode(in); got != want {
			t.Errorf("PhoneCallingCode(%q) = %q, want %q", in, got, want)
		}
	}
}
