package pages

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/tenant"
)

// view is what a page template shows.
type view struct {
	Lang, Nonce, CSRF, AssetVersion string
	// Next is the allowed target a sign-in returns to, "" for the
	// account page.
	Next string
	// Title is the catalogue key of the page's title; Heading its
	// argument, if any.
	Title, Heading string
	// Error is the form's error, Notice a success; both translated.
	Error, Notice string
	Brand         brand
	Methods       methods
	Captcha       *captchaView
	// Done and Invalid switch a page to its outcome: the form's work is
	// done, or its token is no good.
	Done, Invalid bool
	// Token is a mailed token moved into the form.
	Token string
	// The two-step pages (send a code, enter it): keys of the intro and
	// the button, the form's action, the resend action and the channel.
	Intro, Submit, Action, Resend, Channel string
	// Data is the page's own.
	Data any

	hint     string            // the password field's hint
	focused  bool              // a field has the focus already
	values   map[string]string // inputs echoed back (never a secret)
	errors   map[string]string // field → translated error
	focus    string            // the first field in error
	own      map[string]string // the tenant's own texts of the language
	cat      Catalog
	fallback Catalog
}

type brand struct{ Name, Logo, Support, Color string }

type methods struct{ Password, SMS, Email, TOTP bool }

// T translates key with args in place of {0}, {1}…: the tenant's own
// text, else the catalogue's; a key the language lacks falls back to
// English, and an unknown one shows itself.
func (v *view) T(key string, args ...any) string {
	s, ok := v.own[key]
	if !ok {
		s, ok = v.cat[key]
	}
	if !ok {
		if s, ok = v.fallback[key]; !ok {
			return key
		}
	}
	for i, a := range args {
		var str string
		switch a := a.(type) {
		case string:
			str = a
		case int:
			str = strconv.Itoa(a)
		default:
			str = ""
		}
		s = strings.ReplaceAll(s, "{"+strconv.Itoa(i)+"}", str)
	}
	return s
}

// field is one labelled input as the "field" template renders it.
type field struct {
	Name, Type, Label, Autocomplete, Mode, Value, Hint, Error string
	Focus                                                     bool
}

// Field returns the input name: its label, its value echoed (not for a
// password), its error tied by aria-describedby, and autofocus on the
// first field in error (or the first field of a form without errors).
func (v *view) Field(name, typ, labelKey, autocomplete string) field {
	f := field{Name: name, Type: typ, Label: v.T(labelKey), Autocomplete: autocomplete, Error: v.errors[name]}
	if typ != "password" {
		f.Value = v.values[name]
	}
	if name == "code" || name == "backup_code" {
		f.Mode = "numeric"
		if name == "backup_code" {
			f.Mode = ""
		}
	}
	if name == "password" && v.Title == "register.title" || name == "new_password" {
		f.Hint = v.hint
	}
	switch {
	case v.focus == "" && v.Error == "" && !v.focused:
		f.Focus, v.focused = true, true
	case v.focus == name:
		f.Focus = true
	}
	return f
}

// Value is an echoed input.
func (v *view) Value(name string) string { return v.values[name] }

// NextQuery is "?next=…" for links that carry the sign-in's target on.
func (v *view) NextQuery() string {
	if v.Next == "" {
		return ""
	}
	return "?next=" + url.QueryEscape(v.Next)
}

// fieldError ties a translated message to a field; the first one gets the
// focus.
func (v *view) fieldError(name, msg string) {
	v.errors[name] = msg
	if v.focus == "" {
		v.focus = name
	}
}

// errorText says what went wrong and what to do next, in the page's
// language, without telling whether an account exists.
func (v *view) errorText(e *errs.Error) string {
	switch e.Code {
	case "csrf_failed":
		return v.T("error.csrf")
	case "invalid_credentials":
		return v.T("error.invalid_credentials")
	case "captcha_required", "captcha_invalid", "captcha_failed":
		return v.T("error.captcha")
	case "otp_expired", "code_expired":
		return v.T("error.code_expired")
	case "otp_invalid", "code_invalid", "invalid_code", "otp_attempts_exceeded", "mfa_code_invalid", "totp_invalid":
		return v.T("error.otp_invalid")
	case "mfa_token_invalid", "mfa_attempts_exceeded":
		return v.T("mfa.expired")
	}
	switch e.Kind {
	case errs.RateLimited:
		return v.T("error.rate_limited")
	case errs.Unavailable:
		return v.T("error.unavailable")
	case errs.Internal:
		return v.T("error.generic")
	}
	if s := v.T("error." + e.Code); s != "error."+e.Code {
		return s
	}
	return e.Message
}

// formError shows e on the form: each field error on its field (in the
// error's own words: they name the rule), the rest above the form.
func (v *view) formError(e *errs.Error) {
	for _, f := range e.Fields {
		v.fieldError(f.Field, f.Reason)
	}
	if len(e.Fields) == 0 {
		v.Error = v.errorText(e)
	} else {
		v.Error = v.T("common.error_summary")
	}
}

// passwordHint is the register and reset pages' hint for the password.
func passwordHint(v *view, t tenant.Tenant) {
	v.hint = v.T("register.password_hint", t.Password.MinLength)
}
