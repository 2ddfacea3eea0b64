// Package mailtmpl composes one tenant's e-mails from templates: for each
// kind of mail a subject line and a plain-text body (text/template) and an
// HTML body (html/template, auto-escaped) set in a shared layout with the
// tenant's name and colours. Defaults are built into the binary (the files
// under templates/); a tenant's override directory may replace any of
// those files, one at a time.
//
// Everything is parsed and dry-run rendered in New, so that a broken
// template stops the tenant at startup instead of failing a user's mail.
// The built-in files are parsed once per process and shared by every
// tenant; a tenant's override files are parsed for it alone.
// The package logs nothing: a mail carries codes and sign-in links.
package mailtmpl

import (
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/portcullis/portcullis/application/notify"
	"github.com/portcullis/portcullis/domain/message"
)

//go:embed templates
var defaults embed.FS

// Limits of a rendering.
const (
	// MaxOutput is the most bytes a rendered text or HTML body may have;
	// an override file may not be larger either.
	MaxOutput = 256 << 10
	// MaxSubject is the most bytes a rendered subject may have: one
	// header line (RFC 5322).
	MaxSubject = 998
)

// Default brand colours.
const (
	DefaultPrimaryColor    = "#2563eb"
	DefaultTextColor       = "#1f2937"
	DefaultBackgroundColor = "#f3f4f6"
)

// Brand is a tenant's colours, each a CSS hex colour (#rgb or #rrggbb);
// an empty one takes its default. The HTML layout paints the page
// BackgroundColor, the text TextColor on a white panel, and the tenant's
// name, links and the button PrimaryColor (the button's label black or
// white, whichever reads better on it).
type Brand struct {
	PrimaryColor    string
	TextColor       string
	BackgroundColor string
}

// Options configure one tenant's templates.
type Options struct {
	// TenantName is the tenant's display name, shown in every mail as its
	// sender; required.
	TenantName string
	Brand      Brand
	// OverrideDir, when set, is a directory of template files with the
	// names of the defaults (<kind>.subject.txt, <kind>.txt, <kind>.html,
	// layout.html); each file present replaces that default only. Any
	// other *.txt or *.html file in it is an error (a misspelt name would
	// otherwise be ignored without a word).
	OverrideDir string
	// VerificationCode says the tenant's verification mails carry a code
	// besides the link (its email.verification_code): the verification
	// templates must then show the code when they are given one.
	VerificationCode bool
}

// Errors of Compose (and, wrapped with the file, of New). They never carry
// the data of a mail.
var (
	ErrUnknownKind = errors.New("unknown kind of mail")
	// ErrIncomplete: the data lacks what the kind needs (Link and Expires
	// for a link, Code and Expires for email_code and admin_activation,
	// NewEmail for email_changed).
	ErrIncomplete = errors.New("incomplete mail data")
	ErrLink       = errors.New("link is not an absolute http(s) URL")
	// ErrHeader: a line break or other control character would reach a
	// header (the recipient or the subject).
	ErrHeader   = errors.New("line break or control character in a header")
	ErrTooLarge = errors.New("rendering too large")
)

// Templates is one tenant's parsed and checked mail templates. It
// implements notify.Composer and is safe for concurrent use.
type Templates struct {
	tenant string
	brand  Brand
	kinds  map[message.MailKind]*kindSet
	layout part
	// verificationCode: see Options.VerificationCode.
	verificationCode bool
	// colours puts the tenant's colours in place of the button's
	// sentinels (see button).
	colours *strings.Replacer
}

var _ notify.Composer = (*Templates)(nil)

// kindSet is the three templates of one kind.
type kindSet struct {
	kind                message.MailKind
	subject, text, html part
}

// part is one parsed template file.
type part struct {
	name   string // file name: password_reset.subject.txt
	origin string // where it was read: the override's path, or the default's
	tmpl   interface {
		Execute(w io.Writer, data any) error
	}
}

// view is what every template sees. Subject and Body are for the layout
// only (checkTree refuses them elsewhere).
type view struct {
	Tenant string
	Brand  Brand

	Name, Email, Link, Code string
	Expires, When           string
	IP, Device              string
	NewEmail, Reason        string
	Left                    int
	Subject                 string
	Body                    htmltemplate.HTML
}

// needs says what the data of a kind must hold. A verification mail may
// also carry a code (Options.VerificationCode), which it then shows.
type needs struct{ link, code, newEmail bool }

var kindNeeds = map[message.MailKind]needs{
	message.MailVerification:    {link: true},
	message.MailPasswordReset:   {link: true},
	message.MailInvite:          {link: true},
	message.MailMagicLink:       {link: true},
	message.MailEmailCode:       {code: true},
	message.MailAdminActivation: {code: true},
	message.MailEmailChanged:    {newEmail: true},
}

// Compose renders the mail of kind to the address to. d.Email, when
// empty, is to. See notify.Composer for when it fails.
func (t *Templates) Compose(kind message.MailKind, to string, d message.MailData) (message.Mail, error) {
	k, ok := t.kinds[kind]
	if !ok {
		return message.Mail{}, fmt.Errorf("mailtmpl: %w: %q", ErrUnknownKind, kind)
	}
	if to == "" || hasControl(to) {
		return message.Mail{}, fmt.Errorf("mailtmpl: %s: recipient: %w", kind, ErrHeader)
	}
	if d.Email == "" {
		d.Email = to
	}
	if err := checkData(kind, d); err != nil {
		return message.Mail{}, fmt.Errorf("mailtmpl: %s: %w", kind, err)
	}
	m, p, err := t.render(k, t.view(d))
	if err != nil {
		return message.Mail{}, fmt.Errorf("mailtmpl: %s: %w", p.name, err)
	}
	m.To = to
	return m, nil
}

// checkData refuses data that would make a useless or unsafe mail.
func checkData(kind message.MailKind, d message.MailData) error {
	n := kindNeeds[kind]
	switch {
	case n.link && (d.Link == "" || d.Expires <= 0):
		return fmt.Errorf("%w: a %s mail needs Link and Expires", ErrIncomplete, kind)
	case n.code && (d.Code == "" || d.Expires <= 0):
		return fmt.Errorf("%w: a %s mail needs Code and Expires", ErrIncomplete, kind)
	case n.newEmail && d.NewEmail == "":
		return fmt.Errorf("%w: a %s mail needs NewEmail", ErrIncomplete, kind)
	}
	if d.Link != "" {
		return checkLink(d.Link)
	}
	return nil
}

// checkLink refuses anything but an absolute http(s) URL with a host and
// without user info (https://bank.example@evil.example reads like bank).
// The caller builds links from the tenant's base URL; this is defence in
// depth, and keeps javascript: and data: out of an href.
func checkLink(s string) error {
	if hasControl(s) {
		return ErrLink
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Opaque != "" {
		return ErrLink
	}
	return nil
}

func (t *Templates) view(d message.MailData) view {
	v := view{
		Tenant: t.tenant, Brand: t.brand,
		Name: d.Name, Email: d.Email, Link: d.Link, Code: d.Code,
		Expires: Lifetime(d.Expires),
		IP:      d.IP, Device: d.Device, NewEmail: d.NewEmail, Reason: d.Reason, Left: d.Left,
	}
	if !d.When.IsZero() {
		v.When = d.When.UTC().Format("2 January 2006 at 15:04 UTC")
	}
	return v
}

// render executes the kind's templates and the layout. On error it names
// the part that failed.
func (t *Templates) render(k *kindSet, v view) (message.Mail, part, error) {
	subject, err := execute(k.subject, v, MaxSubject)
	if err != nil {
		return message.Mail{}, k.subject, err
	}
	if hasControl(subject) {
		return message.Mail{}, k.subject, ErrHeader
	}
	text, err := execute(k.text, v, MaxOutput)
	if err != nil {
		return message.Mail{}, k.text, err
	}
	body, err := execute(k.html, v, MaxOutput)
	if err != nil {
		return message.Mail{}, k.html, err
	}
	v.Subject = subject
	v.Body = htmltemplate.HTML(body) // rendered by html/template: escaped already
	html, err := execute(t.layout, v, MaxOutput)
	if err != nil {
		return message.Mail{}, t.layout, err
	}
	// The colours are no longer than their sentinels: the cap still holds.
	return message.Mail{Subject: subject, Text: text, HTML: t.colours.Replace(html)}, part{}, nil
}

func execute(p part, v view, limit int) (string, error) {
	w := &cappedWriter{max: limit}
	if err := p.tmpl.Execute(w, v); err != nil {
		return "", err
	}
	return w.b.String(), nil
}

// cappedWriter collects a rendering and refuses to grow past max bytes.
// Write is its only method, so nothing writes around the cap.
type cappedWriter struct {
	b   strings.Builder
	max int
}

func (c *cappedWriter) Write(p []byte) (int, error) {
	if c.b.Len()+len(p) > c.max {
		return 0, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, c.max)
	}
	return c.b.Write(p)
}

// hasControl reports whether s holds a control character: CR and LF
// above all, which would end a header line and start another.
func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

// Lifetime says how long a link or code lasts the way a person reads it:
// "45 seconds", "30 minutes", "1 hour", "1 hour 30 minutes", "3 days".
// It rounds down (a link should not outlive what the mail promised), and
// is "" for zero.
func Lifetime(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d <= 0:
		return ""
	case d < time.Minute:
		return count(int(d/time.Second), "second")
	case d < time.Hour:
		return count(int(d/time.Minute), "minute")
	case d >= 2*day && d%day == 0:
		return count(int(d/day), "day")
	case d < 2*day && d%time.Hour >= time.Minute:
		return count(int(d/time.Hour), "hour") + " " + count(int(d%time.Hour/time.Minute), "minute")
	default:
		return count(int(d/time.Hour), "hour")
	}
}

func count(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
