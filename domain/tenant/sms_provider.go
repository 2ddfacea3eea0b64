package tenant

import (
	"fmt"
	"net/url"
	"regexp"
)

// SMSProviderKind names an SMS provider API.
type SMSProviderKind string

// The SMS provider kinds Portcullis speaks.
const (
	SMSProviderNone   SMSProviderKind = ""       // no provider: dev outbox in dev mode, else sending fails
	SMSProviderTwilio SMSProviderKind = "twilio" // Twilio or a Twilio-compatible REST API
)

// SMSProvider is the tenant's SMS provider account (configuration section
// sms.provider). The auth token itself is never part of a Tenant: it is
// named (AuthTokenEnv) or sealed under the master key (AuthTokenSealed),
// and resolved when the tenant's services are built.
type SMSProvider struct {
	Kind SMSProviderKind
	// BaseURL is the API's scheme and host; empty means Twilio's.
	BaseURL    string
	AccountSID string
	// AuthTokenEnv names the environment variable that holds the token.
	AuthTokenEnv string
	// AuthTokenSealed is the token sealed under the master key, base64.
	AuthTokenSealed string
	// Exactly one of From and MessagingServiceSID is set.
	From                string
	MessagingServiceSID string
}

// Configured reports whether the tenant has an SMS provider.
func (p SMSProvider) Configured() bool { return p.Kind != SMSProviderNone }

var (
	envNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	sidPattern     = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	e164Pattern    = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)
	shortCode      = regexp.MustCompile(`^[0-9]{3,8}$`)
	// An alphanumeric sender id: up to 11 letters, digits or spaces, at
	// least one letter.
	senderIDPattern = regexp.MustCompile(`^[A-Za-z0-9 ]{0,10}[A-Za-z][A-Za-z0-9 ]{0,10}$`)
)

// problems lists what is wrong with the section, fields named from the
// configuration's root.
func (p SMSProvider) problems() []Problem {
	var ps []Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{Field: "sms.provider." + field, Reason: fmt.Sprintf(format, args...)})
	}
	switch p.Kind {
	case SMSProviderNone:
		for _, f := range [...]struct{ name, value string }{{"base_url", p.BaseURL}, {"account_sid", p.AccountSID}, {"auth_token_env", p.AuthTokenEnv},
			{"auth_token_sealed", p.AuthTokenSealed}, {"from", p.From}, {"messaging_service_sid", p.MessagingServiceSID}} {
			if f.value != "" {
				add(f.name, "is set but sms.provider.kind is empty; set kind: twilio, or remove the section")
			}
		}
		return ps
	case SMSProviderTwilio:
	default:
		add("kind", "unknown provider %q (known: twilio)", p.Kind)
		return ps
	}

	if p.BaseURL != "" {
		if reason := checkProviderURL(p.BaseURL); reason != "" {
			add("base_url", "%q %s", p.BaseURL, reason)
		}
	}
	switch {
	case p.AccountSID == "":
		add("account_sid", "is required")
	case !sidPattern.MatchString(p.AccountSID):
		add("account_sid", "must be 1-64 letters, digits, hyphens or underscores")
	}
	switch {
	case p.AuthTokenEnv == "" && p.AuthTokenSealed == "":
		add("auth_token_env", "is required (or auth_token_sealed)")
	case p.AuthTokenEnv != "" && p.AuthTokenSealed != "":
		add("auth_token_sealed", "must not be set together with auth_token_env; use one")
	case p.AuthTokenEnv != "" && !envNamePattern.MatchString(p.AuthTokenEnv):
		add("auth_token_env", "%q is not an environment variable name (letters, digits, underscores)", p.AuthTokenEnv)
	}
	switch {
	case p.From == "" && p.MessagingServiceSID == "":
		add("from", "is required (or messaging_service_sid)")
	case p.From != "" && p.MessagingServiceSID != "":
		add("messaging_service_sid", "must not be set together with from; use one")
	case p.From != "" && !e164Pattern.MatchString(p.From) && !shortCode.MatchString(p.From) && !senderIDPattern.MatchString(p.From):
		add("from", "%q must be a number in E.164 form (+15005550006), a short code or an alphanumeric sender id of at most 11 characters", p.From)
	case p.MessagingServiceSID != "" && !sidPattern.MatchString(p.MessagingServiceSID):
		add("messaging_service_sid", "must be 1-64 letters, digits, hyphens or underscores")
	}
	return ps
}

// checkProviderURL returns why a provider base URL is unusable, or "". Plain
// http is accepted only for loopback hosts (a local test double): anywhere
// else it would send the token in clear.
func checkProviderURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "must be an absolute https URL such as https://api.twilio.com"
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "must not hold credentials, a query or a fragment"
	}
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		return "must use https (http only for localhost)"
	}
	return ""
}
