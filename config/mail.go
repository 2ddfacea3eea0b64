package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/domain/tenant"
)

// mailSpec is the mail section of the tenant schema.
type mailSpec struct {
	BaseURL      string    `mapstructure:"base_url"`
	From         string    `mapstructure:"from"`
	ReplyTo      string    `mapstructure:"reply_to"`
	SMTP         smtpSpec  `mapstructure:"smtp"`
	TemplatesDir string    `mapstructure:"templates_dir"`
	Brand        brandSpec `mapstructure:"brand"`
}

type smtpSpec struct {
	Host               string        `mapstructure:"host"`
	Port               int           `mapstructure:"port"` // 0: the TLS mode's default
	TLS                string        `mapstructure:"tls"`
	InsecureSkipVerify bool          `mapstructure:"insecure_skip_verify"`
	Username           string        `mapstructure:"username"`
	PasswordEnv        string        `mapstructure:"password_env"`
	PasswordSealed     string        `mapstructure:"password_sealed"`
	Timeout            time.Duration `mapstructure:"timeout"`
}

type brandSpec struct {
	PrimaryColor    string `mapstructure:"primary_color"`
	TextColor       string `mapstructure:"text_color"`
	BackgroundColor string `mapstructure:"background_color"`
}

func mailSpecFrom(m tenant.Mail) mailSpec {
	return mailSpec{BaseURL: m.BaseURL, From: m.From, ReplyTo: m.ReplyTo, TemplatesDir: m.TemplatesDir,
		SMTP: smtpSpec{Host: m.SMTP.Host, Port: m.SMTP.Port, TLS: string(m.SMTP.TLS), InsecureSkipVerify: m.SMTP.InsecureSkipVerify,
			Username: m.SMTP.Username, PasswordEnv: m.SMTP.PasswordEnv, PasswordSealed: m.SMTP.PasswordSealed, Timeout: m.SMTP.Timeout},
		Brand: brandSpec{PrimaryColor: m.Brand.PrimaryColor, TextColor: m.Brand.TextColor, BackgroundColor: m.Brand.BackgroundColor}}
}

// mail converts the section, normalising what a person may write either
// way: a trailing "/" of base_url goes, and a server's port 0 (or none)
// becomes its TLS mode's default.
func (s mailSpec) mail() tenant.Mail {
	m := tenant.Mail{BaseURL: strings.TrimRight(s.BaseURL, "/"), From: s.From, ReplyTo: s.ReplyTo, TemplatesDir: s.TemplatesDir,
		SMTP: tenant.SMTP{Host: s.SMTP.Host, Port: s.SMTP.Port, TLS: tenant.SMTPTLS(s.SMTP.TLS), InsecureSkipVerify: s.SMTP.InsecureSkipVerify,
			Username: s.SMTP.Username, PasswordEnv: s.SMTP.PasswordEnv, PasswordSealed: s.SMTP.PasswordSealed, Timeout: s.SMTP.Timeout},
		Brand: tenant.Brand{PrimaryColor: s.Brand.PrimaryColor, TextColor: s.Brand.TextColor, BackgroundColor: s.Brand.BackgroundColor}}
	if m.SMTP.Configured() && m.SMTP.Port == 0 {
		m.SMTP.Port = tenant.DefaultSMTPPort(m.SMTP.TLS)
	}
	return m
}

func (s mailSpec) document() map[string]any {
	return map[string]any{
		"base_url": s.BaseURL, "from": s.From, "reply_to": s.ReplyTo, "templates_dir": s.TemplatesDir,
		"smtp": map[string]any{"host": s.SMTP.Host, "port": s.SMTP.Port, "tls": s.SMTP.TLS, "insecure_skip_verify": s.SMTP.InsecureSkipVerify,
			"username": s.SMTP.Username, "password_env": s.SMTP.PasswordEnv, "password_sealed": s.SMTP.PasswordSealed,
			"timeout": s.SMTP.Timeout.String()},
		"brand": map[string]any{"primary_color": s.Brand.PrimaryColor, "text_color": s.Brand.TextColor, "background_color": s.Brand.BackgroundColor},
	}
}

// resolveTemplatesDir turns mail.templates_dir into the absolute path of
// an existing directory: a relative path is read against the directory of
// the tenant file (source "file:<path>"); a tenant from anywhere else has
// no file to be relative to and must give an absolute path.
func resolveTemplatesDir(dir, source string) (string, *tenant.Problem) {
	fail := func(format string, args ...any) (string, *tenant.Problem) {
		return dir, &tenant.Problem{Field: "mail.templates_dir", Reason: fmt.Sprintf(format, args...)}
	}
	if dir == "" || strings.ContainsFunc(dir, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return dir, nil // empty, or refused by validation
	}
	path := dir
	if !filepath.IsAbs(path) {
		file, ok := strings.CutPrefix(source, "file:")
		if !ok {
			return fail("%q must be an absolute path: a tenant that is not read from a file has no directory to be relative to", dir)
		}
		path = filepath.Join(filepath.Dir(file), path)
	}
	path, err := filepath.Abs(path)
	if err != nil {
		return fail("%q: %v", dir, err)
	}
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fail("%q does not exist (looked for %s)", dir, path)
	case err != nil:
		return fail("%q cannot be read: %v", dir, err)
	case !info.IsDir():
		return fail("%q is not a directory (%s)", dir, path)
	}
	return path, nil
}

// DefaultDevBaseURL is the mail.base_url of a tenant that sets none, in
// dev mode, when the listen address does not name a port of its own.
const DefaultDevBaseURL = "http://localhost:8080"

// DevBaseURL is the mail.base_url of a tenant that sets none, in dev mode:
// http://localhost and the port of the listen address (http://localhost:8080
// for the default 127.0.0.1:8080). With port 0 (the system picks one at
// start) it is DefaultDevBaseURL.
func DevBaseURL(listen string) string {
	_, port, err := net.SplitHostPort(listen)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || n <= 0 || n > 65535 {
		return DefaultDevBaseURL
	}
	return "http://localhost:" + port
}

// EffectiveMail returns the tenant's mail section as its services use it,
// after the rules tenant validation cannot apply because they depend on
// the platform. Outside dev mode, a tenant with a flow that sends mail
// (tenant.NeedsMail) must have mail.smtp.host and mail.base_url (in dev
// mode the dev outbox stands in for a server). In dev mode an empty
// base_url becomes devBaseURL. The tenant build calls it before building
// the tenant's mailer.
func EffectiveMail(t tenant.Tenant, devMode bool, devBaseURL string) (tenant.Mail, error) {
	m := t.Mail
	if devMode {
		if m.BaseURL == "" {
			m.BaseURL = strings.TrimRight(devBaseURL, "/")
		}
		return m, nil
	}
	if !t.NeedsMail() {
		return m, nil
	}
	var ps []tenant.Problem
	const why = "is required outside dev mode: %s, and without it %s"
	flow := mailFlow(t)
	if !m.SMTP.Configured() {
		ps = append(ps, tenant.Problem{Field: "mail.smtp.host", Reason: fmt.Sprintf(why, flow, "no mail can be sent")})
	}
	if m.BaseURL == "" {
		ps = append(ps, tenant.Problem{Field: "mail.base_url", Reason: fmt.Sprintf(why, flow, "mailed links have no address to point at")})
	}
	if len(ps) > 0 {
		return tenant.Mail{}, &tenant.ValidationError{Tenant: t.ID, Problems: ps}
	}
	return m, nil
}

// mailFlow names the setting that makes the tenant send mail.
func mailFlow(t tenant.Tenant) string {
	switch {
	case t.Enabled(tenant.MethodEmailLink):
		return "login_methods enables email_link"
	case t.Enabled(tenant.MethodAdminOTP):
		return "login_methods enables admin_otp"
	}
	return "require_verified_email is on"
}

// smtpPasswordAD binds a sealed SMTP password to its tenant and field.
func smtpPasswordAD(tenantID string) []byte {
	return []byte("portcullis/tenant/" + tenantID + "/mail.smtp.password")
}

// SealSMTPPassword seals an SMTP password for the tenant's
// mail.smtp.password_sealed.
func SealSMTPPassword(s Sealer, tenantID, password string) (string, error) {
	return sealSecret(s, smtpPasswordAD(tenantID), password)
}

// SMTPPassword resolves the tenant's SMTP password when its services are
// built, as SMSAuthToken does the SMS token: from the environment variable
// mail.smtp.password_env names, or by opening mail.smtp.password_sealed. It
// is "" for a server without authentication (no mail.smtp.username). No
// error carries the password.
func SMTPPassword(t tenant.Tenant, lookupEnv func(string) (string, bool), o Opener) (string, error) {
	s := t.Mail.SMTP
	if !s.Configured() || s.Username == "" {
		return "", nil
	}
	return secretRef{tenantID: t.ID, field: "mail.smtp.password", env: s.PasswordEnv, sealed: s.PasswordSealed,
		ad: smtpPasswordAD(t.ID)}.resolve(lookupEnv, o)
}
