// Package identity holds the people who sign in and the proof that they did:
// users, their roles, sessions and the refresh tokens bound to sessions.
package identity

import (
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/tenant"
)

// Role is what a user may do.
type Role string

// The roles. Admin and staff rights are refined by the admin API.
const (
	RoleUser  Role = "user"
	RoleStaff Role = "staff"
	RoleAdmin Role = "admin"
)

// Field limits shared by every API surface.
const (
	MaxEmailLength = 150 // seed 001's limit, stricter than RFC 5321's 254
	MaxNameLength  = 150
	MaxPhoneLength = 32
)

// User is one account of one tenant.
type User struct {
	ID            string
	TenantID      string
	Email         string // as the user wrote it, NFKC-normalised
	EmailKey      string // the uniqueness key: NFKC, case-folded
	FirstName     string
	LastName      string
	Phone         string // E.164 ("+905355555555") or empty; unique per tenant when set
	Role          Role
	Active        bool // false: disabled, every credential is refused
	EmailVerified bool
	PhoneVerified bool   // the user proved the number by an SMS code
	PasswordHash  string // PHC string; empty for password-less accounts
	CreatedAt     time.Time
	UpdatedAt     time.Time
	LastLoginAt   time.Time

	// ProfilePhoto is the URL of the user's picture; empty when none.
	ProfilePhoto string
	// PreferredLanguage is the language the user reads, as the client
	// names it ("ENGLISH", "AZERBAIJANI"); empty when not set.
	PreferredLanguage string
	// Extra are details a compatibility profile's registration takes and
	// the core does not use (seed 003's gender, birthdate,
	// referral_code), by name; nil when none. See CheckExtra.
	Extra map[string]string
}

// Profile is what a person may set about themselves at registration.
type Profile struct {
	Email     string
	FirstName string
	LastName  string
	Phone     string // optional; any form NormalizePhone reads
	// Extra: see User.Extra and CheckExtra.
	Extra map[string]string
}

// Bounds of User.Extra.
const (
	MaxExtraFields      = 8
	MaxExtraValueLength = 100
)

// extraName is the form of a name of User.Extra.
var extraName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// CheckExtra checks the details of User.Extra: at most MaxExtraFields,
// named in lower-case letters, digits and underscores (1 to 32, a letter
// first), each value at most MaxExtraValueLength code points of
// CheckText's characters once trimmed; empty values are left out. It
// returns them trimmed (nil for none), or an Invalid error naming each
// field it refuses.
func CheckExtra(extra map[string]string) (map[string]string, error) {
	var fields []errs.FieldError
	out := make(map[string]string, len(extra))
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		v := strings.TrimSpace(extra[k])
		switch n := utf8.RuneCountInString(v); {
		case !extraName.MatchString(k):
			fields = append(fields, errs.FieldError{Field: k, Reason: "is not a detail an account keeps"})
		case n == 0:
		case n > MaxExtraValueLength:
			fields = append(fields, errs.FieldError{Field: k, Reason: tooLong(MaxExtraValueLength, n)})
		default:
			if reason := CheckText(v); reason != "" {
				fields = append(fields, errs.FieldError{Field: k, Reason: reason})
				continue
			}
			out[k] = v
		}
	}
	if len(out) > MaxExtraFields {
		fields = append(fields, errs.FieldError{Field: "extra", Reason: "must hold at most " + strconv.Itoa(MaxExtraFields) + " details"})
	}
	if len(fields) > 0 {
		return nil, errs.InvalidFields(fields...)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// ErrEmailTaken reports a registration for an address the tenant has.
var ErrEmailTaken = errs.E(errs.Conflict, "email_taken", "An account with this e-mail address already exists.")

// CheckProfile normalises a profile and reports every invalid field. A
// phone number, when given, is read with the tenant's SMS policy (see
// NormalizePhone) and returned in E.164 form.
func CheckProfile(p Profile, sms tenant.SMSPolicy) (Profile, string, error) {
	var fields []errs.FieldError
	email, key, err := NormalizeEmail(p.Email)
	if err != nil {
		fields = append(fields, errs.FieldError{Field: "email", Reason: err.Error()})
	}
	p.Email = email
	var nerr error
	p.FirstName, p.LastName, nerr = CheckNames(p.FirstName, p.LastName)
	if nerr != nil {
		fields = append(fields, errs.As(nerr).Fields...)
	}
	p.Phone = strings.TrimSpace(p.Phone)
	if p.Phone != "" {
		phone, err := NormalizePhone(p.Phone, sms.DefaultRegion, sms.AllowedCountries)
		if err != nil {
			fields = append(fields, errs.As(err).Fields...)
		}
		p.Phone = phone
	}
	var xerr error
	if p.Extra, xerr = CheckExtra(p.Extra); xerr != nil {
		fields = append(fields, errs.As(xerr).Fields...)
	}
	if len(fields) > 0 {
		return Profile{}, "", errs.InvalidFields(fields...)
	}
	return p, key, nil
}

// CheckNames applies the rule for a person's first and last name (both
// required, at most MaxNameLength code points once trimmed of surrounding
// white space, CheckText's character rule) and returns them trimmed, or an
// Invalid error listing the fields "first_name" and "last_name" that break
// it. Registration and a change of name check names alike through it.
func CheckNames(first, last string) (string, string, error) {
	var fields []errs.FieldError
	name := func(field, v string) string {
		v = strings.TrimSpace(v)
		switch n := utf8.RuneCountInString(v); {
		case !utf8.ValidString(v):
			fields = append(fields, errs.FieldError{Field: field, Reason: ReasonInvalidUTF8})
		case n == 0:
			fields = append(fields, errs.FieldError{Field: field, Reason: "is required"})
		case n > MaxNameLength:
			fields = append(fields, errs.FieldError{Field: field, Reason: tooLong(MaxNameLength, n)})
		default:
			if reason := CheckText(v); reason != "" {
				fields = append(fields, errs.FieldError{Field: field, Reason: reason})
			}
		}
		return v
	}
	first, last = name("first_name", first), name("last_name", last)
	if len(fields) > 0 {
		return "", "", errs.InvalidFields(fields...)
	}
	return first, last, nil
}

// SessionKind says which credential a session stands behind.
type SessionKind string

// The session kinds.
const (
	SessionWeb SessionKind = "web" // a browser with the session cookie
	SessionApp SessionKind = "app" // an app token: Authorization: Token <key>
	SessionAPI SessionKind = "api" // access JWT + rotating refresh token
)

// Session is one sign-in. Its secret (cookie value or app token) is stored
// only as a hash; its public ID names it in lists and revocations.
type Session struct {
	ID            string
	TenantID      string
	UserID        string
	Kind          SessionKind
	SecretHash    string // SHA-256 of the cookie value or app token; empty for api sessions
	CreatedAt     time.Time
	LastSeenAt    time.Time
	IdleExpiresAt time.Time // sliding: LastSeenAt + idle timeout
	ExpiresAt     time.Time // absolute: CreatedAt + absolute timeout
	RevokedAt     time.Time // zero while the session is live
	IP            string
	UserAgent     string
	AMR           []string // authentication methods: "pwd", "otp", "mfa"...

	// IdleTimeout is the session's own sliding idle window (a
	// compatibility profile's token lifetime); zero means the tenant's
	// sessions.idle_timeout.
	IdleTimeout time.Duration
}

// Idle is the idle window the session slides by: its own IdleTimeout, or
// def (the tenant's) when it has none.
func (s Session) Idle(def time.Duration) time.Duration {
	if s.IdleTimeout > 0 {
		return s.IdleTimeout
	}
	return def
}

// Live reports whether the session may still be used at now.
func (s Session) Live(now time.Time) bool {
	return s.RevokedAt.IsZero() && now.Before(s.ExpiresAt) && now.Before(s.IdleExpiresAt)
}

// Touched returns the session as seen at now with the idle window slid
// forward, never past the absolute expiry.
func (s Session) Touched(now time.Time, idle time.Duration) Session {
	s.LastSeenAt = now
	s.IdleExpiresAt = now.Add(idle)
	if s.IdleExpiresAt.After(s.ExpiresAt) {
		s.IdleExpiresAt = s.ExpiresAt
	}
	return s
}

// HasAMR reports whether the session was established with method m.
func (s Session) HasAMR(m string) bool { return slices.Contains(s.AMR, m) }

// RefreshToken is one link of an api session's rotating refresh chain. A
// token is used once; presenting a used token again means it was stolen,
// and the whole session (the token family) is revoked.
type RefreshToken struct {
	Hash      string // SHA-256 of the token
	TenantID  string
	SessionID string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero until rotated
}

func tooLong(limit, n int) string {
	return "must be at most " + strconv.Itoa(limit) + " characters, got " + strconv.Itoa(n)
}
