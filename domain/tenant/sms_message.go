package tenant

import (
	"errors"
	"fmt"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
	"unicode/utf8"
)

// DefaultSMSMessage is the text of a login code SMS by default (sms.message).
const DefaultSMSMessage = "{{.Code}} is your {{.Tenant}} sign-in code. It expires in {{.Expires}}. Do not share it."

// MaxSMSMessageLength is the most characters a login code SMS may have:
// two SMS segments.
const MaxSMSMessageLength = 320

// SMSMessage is the text of the SMS that carries a login code: a Go
// text/template with the fields {{.Code}}, {{.Tenant}} (the tenant's name)
// and {{.Expires}} (the code's lifetime as a person reads it, "5 minutes").
// It is parsed once, by ParseSMSMessage; Tenant.Validate refuses a message
// that does not parse or does not render a usable text, and Render never
// fails. The zero value has no template and is refused by Validate.
type SMSMessage struct {
	source string
	tmpl   *template.Template
	err    error // why source does not parse, or uses what a message may not
}

// smsFields are the fields a message template sees.
type smsFields struct {
	Code    string
	Tenant  string
	Expires string
}

// ParseSMSMessage parses source as a message template. A source that does
// not parse, or that uses range, define, template or block (a loop or a
// call could make rendering arbitrarily slow), gives a message that
// Validate refuses with the reason.
func ParseSMSMessage(source string) SMSMessage {
	m := SMSMessage{source: source}
	t, err := template.New("sms.message").Parse(source)
	if err != nil {
		m.err = fmt.Errorf("is not a valid template: %s", strings.TrimPrefix(err.Error(), "template: "))
		return m
	}
	for _, x := range t.Templates() {
		if x.Name() != t.Name() {
			m.err = errors.New("must not use define or block: a message is one template")
			return m
		}
	}
	if t.Tree != nil && t.Root != nil {
		if what := forbidden(t.Root); what != "" {
			m.err = fmt.Errorf("must not use %s: a message is text with {{.Code}}, {{.Tenant}} and {{.Expires}}, and at most if, with and functions such as printf", what)
			return m
		}
	}
	m.tmpl = t
	return m
}

// forbidden names the first loop or template call under n, or "".
func forbidden(n parse.Node) string {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return ""
		}
		for _, c := range n.Nodes {
			if w := forbidden(c); w != "" {
				return w
			}
		}
	case *parse.RangeNode:
		return "range"
	case *parse.TemplateNode:
		return "template"
	case *parse.IfNode: // {{else if}} and {{else with}} are in ElseList
		return or(forbidden(n.List), forbidden(n.ElseList))
	case *parse.WithNode:
		return or(forbidden(n.List), forbidden(n.ElseList))
	}
	return ""
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Source is the template as written in the configuration.
func (m SMSMessage) Source() string { return m.source }

// String is the template's source, so that a printed tenant shows it.
func (m SMSMessage) String() string { return m.source }

// Render is the text of the SMS carrying code for the tenant named
// tenantName, the code living ttl. Should the template fail for these
// values, render a text without the code or a text longer than
// MaxSMSMessageLength (which Validate rules out for every code it tried),
// it is the default text instead: an SMS always carries its code.
func (m SMSMessage) Render(code, tenantName string, ttl time.Duration) string {
	if text, err := m.render(code, tenantName, ttl); err == nil && strings.Contains(text, code) && utf8.RuneCountInString(text) <= MaxSMSMessageLength {
		return text
	}
	return fmt.Sprintf("%s is your %s sign-in code. It expires in %s. Do not share it.", code, tenantName, lifetime(ttl))
}

// errTooLong stops a rendering that has already written more than a
// message may have.
var errTooLong = errors.New("renders more than " + fmt.Sprint(MaxSMSMessageLength) + " characters")

// capped collects a rendering and refuses to grow past what any
// acceptable message takes (MaxSMSMessageLength characters of up to 4
// bytes). Write is its only method, so nothing writes around the cap.
type capped struct{ b strings.Builder }

func (c *capped) Write(p []byte) (int, error) {
	if c.b.Len()+len(p) > 4*MaxSMSMessageLength {
		return 0, errTooLong
	}
	return c.b.Write(p)
}

func (m SMSMessage) render(code, tenantName string, ttl time.Duration) (string, error) {
	if m.err != nil {
		return "", m.err
	}
	if m.tmpl == nil {
		return "", errors.New("is required")
	}
	var b capped
	if err := m.tmpl.Execute(&b, smsFields{Code: code, Tenant: tenantName, Expires: lifetime(ttl)}); err != nil {
		return "", err
	}
	return b.b.String(), nil
}

// problem says what is wrong with m as the message of a tenant named
// tenantName whose codes have length digits and live ttl, or "". The
// message is rendered with two codes of that length: each must appear in
// its text, and neither text may exceed MaxSMSMessageLength.
func (m SMSMessage) problem(length int, tenantName string, ttl time.Duration) string {
	switch {
	case m.err != nil:
		return m.err.Error()
	case m.tmpl == nil:
		return "is required"
	}
	if length < MinSMSCodeLength || length > MaxSMSCodeLength {
		length = DefaultSMSCodeLength // sms.code_length has its own problem
	}
	longest := 0
	for _, code := range []string{"1234567890"[:length], "9876543210"[:length]} {
		text, err := m.render(code, tenantName, ttl)
		switch {
		case errors.Is(err, errTooLong):
			return fmt.Sprintf("must render to at most %d characters (two SMS segments), got more", MaxSMSMessageLength)
		case err != nil:
			return fmt.Sprintf("does not render (the fields are {{.Code}}, {{.Tenant}} and {{.Expires}}): %s", strings.TrimPrefix(err.Error(), "template: "))
		case !strings.Contains(text, code):
			return "must contain the code: use {{.Code}}"
		}
		longest = max(longest, utf8.RuneCountInString(text))
	}
	if longest > MaxSMSMessageLength {
		return fmt.Sprintf("must render to at most %d characters (two SMS segments), got %d with a %d-digit code and the tenant's name", MaxSMSMessageLength, longest, length)
	}
	return ""
}

// lifetime says a code's lifetime the way a person reads it: "45 seconds"
// under two minutes, else whole minutes ("5 minutes").
func lifetime(d time.Duration) string {
	if d < 2*time.Minute {
		return fmt.Sprintf("%d seconds", int(d/time.Second))
	}
	return fmt.Sprintf("%d minutes", int(d/time.Minute))
}
