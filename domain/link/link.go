// Package link builds the links Portcullis mails: the tenant's public base
// URL (from its configuration, never from a request's Host header, so that
// a forged Host cannot point a reset link elsewhere), a path of the
// surface the flow was started on, and the token.
package link

import (
	"net/url"
	"strings"
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
