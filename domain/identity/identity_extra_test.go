package identity_test

import (
	"maps"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/tenant"
)

func TestCheckExtra(t *testing.T) {
	t.Parallel()
	got, err := identity.CheckExtra(map[string]string{"gender": " female ", "birthdate": "1990-04-01", "referral_code": ""})
	if err != nil || !maps.Equal(got, map[string]string{"gender": "female", "birthdate": "1990-04-01"}) {
		t.Fatalf("%v, %v", got, err)
	}
	if got, err := identity.CheckExtra(map[string]string{"gender": "  "}); err != nil || got != nil {
		t.Fatalf("only empty values: %v, %v; want nil", got, err)
	}
	many := map[string]string{}
	for _, k := range strings.Fields("a b c d e f g h i") {
		many[k] = "x"
	}
	for name, c := range map[string]struct {
		in    map[string]string
		field string
	}{
		"a name with a capital":   {map[string]string{"Gender": "f"}, "Gender"},
		"a name with a dot":       {map[string]string{"a.b": "f"}, "a.b"},
		"a value too long":        {map[string]string{"gender": strings.Repeat("x", identity.MaxExtraValueLength+1)}, "gender"},
		"a control character":     {map[string]string{"gender": "f\x00"}, "gender"},
		"more than MaxExtra ones": {many, "extra"},
	} {
		_, err := identity.CheckExtra(c.in)
		e := errs.As(err)
		if e == nil || e.Kind != errs.Invalid || len(e.Fields) != 1 || e.Fields[0].Field != c.field {
			t.Errorf("%s: %v, want an invalid field %s", name, err, c.field)
		}
	}
	p, _, err := identity.CheckProfile(identity.Profile{Email: "ann@example.com", FirstName: "Ann", LastName: "Lee",
		Extra: map[string]string{"gender": "f", "Bad": "x"}}, tenant.DefaultSMSPolicy())
	if e := errs.As(err); e == nil || len(e.Fields) != 1 || e.Fields[0].Field != "Bad" || p.Email != "" {
		t.Fatalf("CheckProfile with a bad detail: %v", err)
	}
}
