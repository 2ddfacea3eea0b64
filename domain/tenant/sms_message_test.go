package tenant_test

import (
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/domain/tenant"
)

func TestTheDefaultMessageIsTodaysText(t *testing.T) {
	t.Parallel()
	m := tenant.ParseSMSMessage(tenant.DefaultSMSMessage)
	for _, tc := range []struct {
		ttl  time.Duration
		want string
	}{
		{5 * time.Minute, "123456 is your Shop sign-in code. It expires in 5 minutes. Do not share it."},
		{45 * time.Second, "123456 is your Shop sign-in code. It expires in 45 seconds. Do not share it."},
		{90 * time.Second, "123456 is your Shop sign-in code. It expires in 90 seconds. Do not share it."},
		{2*time.Minute + 30*time.Second, "123456 is your Shop sign-in code. It expires in 2 minutes. Do not share it."},
	} {
		if got := m.Render("123456", "Shop", tc.ttl); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.ttl, got, tc.want)
		}
	}
	if got := tenant.Default().SMS.Message.Render("123456", "Shop", 5*time.Minute); got != "123456 is your Shop sign-in code. It expires in 5 minutes. Do not share it." {
		t.Errorf("the default tenant's message: %q", got)
	}
}

func TestAMessageRendersItsFields(t *testing.T) {
	t.Parallel()
	m := tenant.ParseSMSMessage(`{{.Tenant}} code: {{.Code}}, valid {{.Expires}}{{if eq .Tenant "Shop"}} (shop){{end}}`)
	if got, want := m.Render("87654321", "Shop", 10*time.Minute), "Shop code: 87654321, valid 10 minutes (shop)"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if m.Source() != m.String() || !strings.HasPrefix(m.Source(), "{{.Tenant}} code") {
		t.Fatalf("source %q, string %q", m.Source(), m.String())
	}
}

func TestBadMessagesAreRefusedAtValidation(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 320)
	cases := []struct {
		name, source, want string
	}{
		{"does not parse", "{{.Code", `sms.message: is not a valid template: sms.message:1: unclosed action`},
		{"unknown field", "{{.Code}} {{.Foo}}", `sms.message: does not render (the fields are {{.Code}}, {{.Tenant}} and {{.Expires}}): sms.message:1:12: executing "sms.message" at <.Foo>: can't evaluate field Foo`},
		{"unknown function", "{{.Code | shout}}", `sms.message: is not a valid template: sms.message:1: function "shout" not defined`},
		{"no code", "Your code for {{.Tenant}} expires in {{.Expires}}.", "sms.message: must contain the code: use {{.Code}}"},
		{"code only as literal digits", "123456 is your code", "sms.message: must contain the code: use {{.Code}}"},
		{"code only for one value", `{{if eq .Code "123456"}}{{.Code}}{{end}}`, "sms.message: must contain the code: use {{.Code}}"},
		{"empty", "", "sms.message: must contain the code: use {{.Code}}"},
		{"too long", "{{.Code}} " + long, "sms.message: must render to at most 320 characters (two SMS segments), got 327 with a 6-digit code and the tenant's name"},
		{"far too long", `{{.Code}}{{printf "%0999999d" 1}}`, "sms.message: must render to at most 320 characters (two SMS segments), got more"},
		{"range", "{{range 1000000000}}{{end}}{{.Code}}", "sms.message: must not use range"},
		{"range inside if", "{{if .Code}}{{else}}{{range 3}}{{end}}{{end}}{{.Code}}", "sms.message: must not use range"},
		{"define", `{{define "x"}}{{end}}{{.Code}}`, "sms.message: must not use define or block"},
		{"block", `{{block "x" .}}{{.Code}}{{end}}`, "sms.message: must not use define or block"},
		{"template call", `{{template "sms.message" .}}{{.Code}}`, "sms.message: must not use template"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x := valid()
			x.DisplayName = "Shop"
			x.SMS.Message = tenant.ParseSMSMessage(tc.source)
			err := x.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v\ndoes not contain %q", err, tc.want)
			}
			// Should such a message reach a request, the SMS still has its code.
			if got := x.SMS.Message.Render("4242", "Shop", time.Minute); got != "4242 is your Shop sign-in code. It expires in 60 seconds. Do not share it." {
				t.Fatalf("render of a refused message: %q", got)
			}
		})
	}
}

func TestTheLengthCheckUsesTheTenantsNameAndCodeLength(t *testing.T) {
	t.Parallel()
	// 320 characters with a 6-digit code and the name "Shop": 6 + 1 + 4 + 1 + 308.
	x := valid()
	x.DisplayName = "Shop"
	x.SMS.Message = tenant.ParseSMSMessage("{{.Code}} {{.Tenant}} " + strings.Repeat("x", 308))
	if err := x.Validate(); err != nil {
		t.Fatalf("320 characters: %v", err)
	}
	x.SMS.CodeLength = 7
	if err := x.Validate(); err == nil || !strings.Contains(err.Error(), "got 321 with a 7-digit code") {
		t.Fatalf("321 characters with a longer code: %v", err)
	}
	x.SMS.CodeLength = 6
	x.DisplayName = "Shops"
	if err := x.Validate(); err == nil || !strings.Contains(err.Error(), "got 321") {
		t.Fatalf("321 characters with a longer name: %v", err)
	}
	x.DisplayName = ""
	x.SMS.Message = tenant.ParseSMSMessage("{{.Code}} for {{.Tenant}}")
	if got := x.SMS.Message.Render("1234", x.Name(), time.Minute); got != "1234 for shop" {
		t.Fatalf("a tenant without a display name is named by its id: %q", got)
	}
}

func TestRenderFallsBackRatherThanSendWithoutTheCode(t *testing.T) {
	t.Parallel()
	// Valid for the codes validation tries, broken for this one.
	m := tenant.ParseSMSMessage(`{{if eq .Code "000000"}}{{.Foo}}{{else if eq .Code "111111"}}no code{{else}}{{.Code}}{{end}}`)
	x := valid()
	x.SMS.Message = m
	if err := x.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, code := range []string{"000000", "111111"} {
		if got, want := m.Render(code, "Shop", 5*time.Minute), code+" is your Shop sign-in code. It expires in 5 minutes. Do not share it."; got != want {
			t.Errorf("code %s: got %q, want %q", code, got, want)
		}
	}
	if got := m.Render("222222", "Shop", 5*time.Minute); got != "222222" {
		t.Errorf("a code the template handles: %q", got)
	}
	if got := (tenant.SMSMessage{}).Render("222222", "Shop", 5*time.Minute); !strings.HasPrefix(got, "222222 is your Shop sign-in code.") {
		t.Errorf("the zero message: %q", got)
	}
}
