// Package link builds the links Portcullis mails: the tenant's public base
// URL (from its configuration, never from a request's Host header, so that
// a forged Host cannot point a reset link elsewhere), a path of the
// surface the flow was started on, and the token.
package link

import (
	"net/url"
	"strings"
	"time"

	"github.com/portcullis/portcullis/domain/tenant"
)

// Paths are where a surface takes the tokens it mails: the page or route
// that opens a magic link, an address verification and a password reset.
type Paths struct {
	MagicLink     string
	VerifyEmail   string
	ResetPassword string
}

// Canonical are the paths of the canonical API: each answers a GET by
// confirming the token without using it (what a mail scanner's fetch
// sees), and a POST of the token uses it.
var Canonical = Paths{
	MagicLink:     "/auth/v1/magic-link",
	VerifyEmail:   "/auth/v1/email/verify",
	ResetPassword: "/auth/v1/password/reset",
}

// Seed001 are the front-end paths of seed 001's system, which its clients
// serve under the tenant's base URL.
var Seed001 = Paths{
	MagicLink:     "/auth/magic-link/process/",
	VerifyEmail:   "/auth/verify-email/process/",
	ResetPassword: "/auth/forgot-password/process/",
}

// Build returns base + path + "?token=" + token, the token query-escaped.
// base is an absolute URL without a trailing slash (the tenant's
// validated mail.base_url); path begins with "/".
func Build(base, path, token string) string {
	return strings.TrimRight(base, "/") + path + "?token=" + url.QueryEscape(token)
}

// Policy is how a flow that mails links (a password reset, an address
// verification) issues them: where they point, how long they work, and
// how often one may be asked for.
type Policy struct {
	// BaseURL is the tenant's public base URL (its validated mail base
	// URL), under which the mailed links are built; never a request's Host.
	BaseURL string
	// LinkTTL is how long a mailed link works.
	LinkTTL time.Duration
	// Cooldown is the least time between two mails of the flow to one
	// address; a request within it answers alike and sends nothing new.
	Cooldown time.Duration
	// DailyCap is the most links of the flow one address gets per UTC day.
	DailyCap int
	// PerIP bounds the requests from one client address (IPv6 by /64) to
	// mail a link to an address typed in, whatever the address: the
	// tenant's throttling.password_reset_per_ip or
	// verification_mail_per_ip.
	PerIP tenant.Limit
}

// Defaults of the Policy fields; a zero field takes its default. The link
// lifetime is seed 001's for resets and verifications. A zero PerIP takes
// DefaultPerIP.
const (
	DefaultLinkTTL  = 30 * time.Minute
	DefaultCooldown = 60 * time.Second
	DefaultDailyCap = 10
)

// DefaultPerIP is the tenant's default budget of the flows, one number for
// both: tenant.DefaultThrottling's PasswordResetPerIP, which its
// VerificationMailPerIP equals (the package's tests hold them so).
func DefaultPerIP() tenant.Limit { return tenant.DefaultThrottling().PasswordResetPerIP }

// WithDefaults returns p with each zero field set to its default.
func (p Policy) WithDefaults() Policy {
	if p.LinkTTL == 0 {
		p.LinkTTL = DefaultLinkTTL
	}
	if p.Cooldown == 0 {
		p.Cooldown = DefaultCooldown
	}
	if p.DailyCap == 0 {
		p.DailyCap = DefaultDailyCap
	}
	if p.PerIP == (tenant.Limit{}) {
		p.PerIP = DefaultPerIP()
	}
	return p
}
