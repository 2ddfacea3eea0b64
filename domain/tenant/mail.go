package tenant

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
)

// Mail is the tenant's e-mail configuration (section mail): where its
// links point, who its mail comes from, the SMTP server it leaves through,
// and how it looks. The SMTP password itself is never part of a Tenant: it
// is named (SMTP.PasswordEnv) or sealed under the master key
// (SMTP.PasswordSealed), and resolved when the tenant's services are built.
type Mail struct {
	// BaseURL is the tenant's public base URL, such as
	// https://shop.example or https://shop.example/account (no trailing
	// slash): every link in a mail is built on it, never on a request's
	// Host header. Empty means unset: in dev mode a default stands in for
	// it, elsewhere a tenant with an e-mail flow needs it.
	BaseURL string
	// From is the sender, an address with an optional display name
	// ("Shop <no-reply@shop.example>"); required with an SMTP server.
	From string
	// ReplyTo, when set, is where replies go.
	ReplyTo string
	SMTP    SMTP
	// TemplatesDir, when set, is the directory of the tenant's mail
	// template overrides: an absolute path once the configuration is
	// loaded (written relative to the tenant file's directory).
	TemplatesDir string
	Brand        Brand
}

// SMTPTLS says how the connection to the SMTP server is encrypted.
type SMTPTLS string

// The SMTP TLS modes.
const (
	SMTPStartTLS    SMTPTLS = "starttls" // plain connect, then STARTTLS (required, not opportunistic)
	SMTPImplicitTLS SMTPTLS = "tls"      // TLS from the first byte ("SMTPS")
	SMTPNoTLS       SMTPTLS = "none"     // clear text: only to a loopback host
)

// SMTP is the server a tenant's mail is submitted to (section mail.smtp);
// its zero Host means none.
type SMTP struct {
	Host string
	Port int
	TLS  SMTPTLS
	// InsecureSkipVerify accepts any certificate; allowed only for a
	// loopback host (a local relay with a self-signed certificate).
	InsecureSkipVerify bool
	// Username, when set, authenticates with AUTH; the password is then
	// named by exactly one of PasswordEnv and PasswordSealed.
	Username string
	// PasswordEnv names the environment variable that holds the password.
	PasswordEnv string
	// PasswordSealed is the password sealed under the master key, base64.
	PasswordSealed string
	// Timeout bounds one delivery attempt: connecting and each exchange
	// with the server.
	Timeout time.Duration
}

// Configured reports whether the tenant has an SMTP server.
func (s SMTP) Configured() bool { return s.Host != "" }

// Brand is the look of the tenant's HTML mail: CSS hex colours such as
// #1a73e8.
type Brand struct {
	PrimaryColor    string
	TextColor       string
	BackgroundColor string
}

// Defaults and bounds of the mail section.
const (
	DefaultSMTPTimeout = 10 * time.Second
	MinSMTPTimeout     = time.Second
	MaxSMTPTimeout     = 2 * time.Minute

	DefaultSMTPPortStartTLS = 587
	DefaultSMTPPortTLS      = 465
	DefaultSMTPPortNone     = 25

	DefaultPrimaryColor    = "#1a73e8"
	DefaultTextColor       = "#202124"
	DefaultBackgroundColor = "#ffffff"

	maxMailAddress = 320 // RFC 3696's limit on an address, with room for a display name
	maxSMTPField   = 255
)

// DefaultSMTPPort is the port of the mode's submission service: 587 for
// STARTTLS, 465 for implicit TLS, 25 for clear text.
func DefaultSMTPPort(mode SMTPTLS) int {
	switch mode {
	case SMTPImplicitTLS:
		return DefaultSMTPPortTLS
	case SMTPNoTLS:
		return DefaultSMTPPortNone
	}
	return DefaultSMTPPortStartTLS
}

// DefaultMail is the mail section of a tenant that sets none of it: no base
// URL, sender or server, STARTTLS with a 10 s timeout, the default colours.
func DefaultMail() Mail {
	return Mail{
		SMTP:  SMTP{TLS: SMTPStartTLS, Timeout: DefaultSMTPTimeout},
		Brand: Brand{PrimaryColor: DefaultPrimaryColor, TextColor: DefaultTextColor, BackgroundColor: DefaultBackgroundColor},
	}
}

// NeedsMail reports whether the tenant switches on a flow that cannot work
// without sending e-mail: the email_link or admin_otp login method, or
// require_verified_email (an address is verified by a mailed link).
func (t Tenant) NeedsMail() bool {
	return t.Enabled(MethodEmailLink) || t.Enabled(MethodAdminOTP) || t.RequireVerifiedEmail
}

var colorPattern = regexp.MustCompile(`^#(?:[0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})$`)

// problems lists what is wrong with the section, fields named from the
// configuration's root.
func (m Mail) problems() []Problem {
	var ps []Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{Field: "mail." + field, Reason: fmt.Sprintf(format, args...)})
	}
	if m.BaseURL != "" {
		if reason := checkBaseURL(m.BaseURL); reason != "" {
			add("base_url", "%q %s", m.BaseURL, reason)
		}
	}
	if m.From == "" && m.SMTP.Configured() {
		add("from", "is required with mail.smtp.host: the address mail is sent from, such as \"Shop <no-reply@shop.example>\"")
	}
	if m.From != "" {
		if reason := CheckMailAddress(m.From); reason != "" {
			add("from", "%s", reason)
		}
	}
	if m.ReplyTo != "" {
		if reason := CheckMailAddress(m.ReplyTo); reason != "" {
			add("reply_to", "%s", reason)
		}
	}
	if m.TemplatesDir != "" && hasControl(m.TemplatesDir) {
		add("templates_dir", "must not contain control characters")
	}
	for _, c := range [...]struct{ name, value string }{{"primary_color", m.Brand.PrimaryColor}, {"text_color", m.Brand.TextColor},
		{"background_color", m.Brand.BackgroundColor}} {
		if !colorPattern.MatchString(c.value) {
			add("brand."+c.name, "%q must be a CSS hex colour such as #1a73e8 or #fff", c.value)
		}
	}
	return append(ps, m.SMTP.problems()...)
}

func (s SMTP) problems() []Problem {
	var ps []Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{Field: "mail.smtp." + field, Reason: fmt.Sprintf(format, args...)})
	}
	switch s.TLS {
	case SMTPStartTLS, SMTPImplicitTLS, SMTPNoTLS:
	default:
		add("tls", "unknown mode %q (known: starttls, tls, none)", s.TLS)
	}
	if s.Timeout < MinSMTPTimeout || s.Timeout > MaxSMTPTimeout {
		add("timeout", "must be between %s and %s, got %s", MinSMTPTimeout, MaxSMTPTimeout, s.Timeout)
	}
	if !s.Configured() {
		for _, f := range [...]struct {
			name string
			set  bool
		}{{"port", s.Port != 0}, {"insecure_skip_verify", s.InsecureSkipVerify}, {"username", s.Username != ""},
			{"password_env", s.PasswordEnv != ""}, {"password_sealed", s.PasswordSealed != ""}} {
			if f.set {
				add(f.name, "is set but mail.smtp.host is empty; set host, or remove the setting")
			}
		}
		return ps
	}

	loopback := isLoopbackHost(s.Host)
	if !validHost(s.Host) {
		add("host", "%q is not a lower-case host name or IP address without port", s.Host)
	}
	if s.Port < 1 || s.Port > 65535 {
		add("port", "must be between 1 and 65535, got %d", s.Port)
	}
	if s.TLS == SMTPNoTLS && !loopback {
		add("tls", "none is allowed only for localhost, 127.0.0.1 or ::1: anywhere else mail and password would cross the network in clear")
	}
	if s.InsecureSkipVerify && !loopback {
		add("insecure_skip_verify", "is allowed only for localhost, 127.0.0.1 or ::1: anywhere else certificates are always verified")
	}
	if s.Username != "" && (hasControl(s.Username) || len(s.Username) > maxSMTPField) {
		add("username", "must be at most %d characters and hold no control characters", maxSMTPField)
	}
	switch {
	case s.PasswordEnv != "" && s.PasswordSealed != "":
		add("password_sealed", "must not be set together with password_env; use one")
	case s.PasswordEnv != "" && !envNamePattern.MatchString(s.PasswordEnv):
		add("password_env", "%q is not an environment variable name (letters, digits, underscores)", s.PasswordEnv)
	case s.Username != "" && s.PasswordEnv == "" && s.PasswordSealed == "":
		add("password_env", "is required with mail.smtp.username (or password_sealed)")
	case s.Username == "" && (s.PasswordEnv != "" || s.PasswordSealed != ""):
		add("username", "is required with a password")
	}
	return ps
}

// CheckMailAddress returns why s is not usable as a mail header address
// (an address with an optional display name, as net/mail parses it), or "".
// A line break or any other control character, also one hidden in an
// encoded display name, is refused: it could start a header of its own.
func CheckMailAddress(s string) string {
	if hasControl(s) {
		return "must not contain line breaks or other control characters"
	}
	if len(s) > maxMailAddress {
		return fmt.Sprintf("must be at most %d characters", maxMailAddress)
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return fmt.Sprintf("%q is not an e-mail address such as \"Shop <no-reply@shop.example>\" or no-reply@shop.example", s)
	}
	if hasControl(a.Name) || hasControl(a.Address) {
		return "must not contain line breaks or other control characters (also not encoded in the display name)"
	}
	return ""
}

// hasControl reports whether s holds a control character (CR, LF, NUL,
// tab, DEL, C1 controls) or is not valid UTF-8.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == unicode.ReplacementChar })
}

// checkBaseURL returns why a base URL is unusable, or "".
func checkBaseURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Opaque != "" {
		return "must be an absolute https URL such as https://shop.example"
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#") {
		return "must not hold credentials, a query or a fragment"
	}
	if strings.HasSuffix(s, "/") {
		return "must not end with \"/\""
	}
	if hasControl(s) || strings.ContainsAny(s, " \\") {
		return "must not contain spaces, backslashes or control characters"
	}
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		return "must use https (http only for localhost and 127.0.0.1)"
	}
	return ""
}

// isLoopbackHost reports whether host is localhost or a loopback address.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	return ip != nil && ip.IsLoopback()
}
