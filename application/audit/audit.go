// Package audit is each tenant's audit log: an append-only record of what
// happened to its accounts — sign-ins and failed sign-ins, logouts and
// revoked sessions, changes of password, address and second factor, and
// the admin API's role changes, disabled and enabled accounts, issued
// login links and other admin actions — with who did it, to whom, when,
// from where and in which request.
//
// The use cases record events through the Recorder port, which never
// blocks and never fails: a sign-in must not wait on, or be refused
// because of, its audit trail. The platform's Writer keeps a bounded
// buffer that a background goroutine drains into the Log in batches; when
// the buffer is full an event is dropped and counted. Each tenant's
// TenantRecorder stamps an event (tenant, time, id, expiry from the
// tenant's audit.retention, and the request's id, client address and user
// agent from the context) before handing it to the Writer. Admins read the
// log through Service.Query, with filters and cursor pagination.
//
// The platform has a stream of its own, under the tenant id
// PlatformTenant: what the platform API did to tenants (PlatformTypes),
// recorded by NewPlatformRecorder and read by operators through
// NewPlatformService. No tenant's admin reads it, and a tenant's purge
// leaves it.
//
// An event never holds a secret: no password, token, code or link, in any
// field. What it holds is an account's id, a method and reason code, a
// session id, and where the request came from.
package audit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portcullis/portcullis/domain/errs"
)

// Type names what happened. Its values are stable: admins filter on them.
type Type string

// The event types.
const (
	// LoginSucceeded: a session was started (Method, AMR, SessionID).
	LoginSucceeded Type = "login.succeeded"
	// LoginFailed: a sign-in was refused (Method, Reason; TargetID when
	// the account is known).
	LoginFailed Type = "login.failed"
	// MFAChallenged: a first factor passed and the sign-in waits for the
	// second (Method, AMR of the first factor).
	MFAChallenged Type = "mfa.challenged"
	// MFAEnrolmentRequired: a first factor passed for an account whose
	// role must have a second factor and has none; it may only set one up.
	MFAEnrolmentRequired Type = "mfa.enrolment_required"
	// Logout: the account ended its own session (SessionID).
	Logout Type = "logout"
	// SessionRevoked: a session was ended other than by its own logout
	// (SessionID; Reason says why).
	SessionRevoked Type = "session.revoked"
	// PasswordChanged: the signed-in account changed its password.
	PasswordChanged Type = "password.changed"
	// PasswordReset: a password was set with a mailed reset link, or
	// (Method "setup_link") with a set-password link of the admin CLI.
	PasswordReset Type = "password.reset"
	// EmailChanged: the signed-in account moved to another address.
	EmailChanged Type = "email.changed"
	// MFAEnabled: a second factor was set up and confirmed.
	MFAEnabled Type = "mfa.enabled"
	// MFADisabled: the second factor was turned off (Method: the proof).
	MFADisabled Type = "mfa.disabled"
	// MFABackupCodeUsed: a backup code was used up.
	MFABackupCodeUsed Type = "mfa.backup_code_used"
	// MFABackupCodesRegenerated: the backup codes were replaced.
	MFABackupCodesRegenerated Type = "mfa.backup_codes_regenerated"
	// RoleChanged: an admin changed an account's role (ActorID, TargetID,
	// OldRole, NewRole).
	RoleChanged Type = "role.changed"
	// UserDisabled and UserEnabled: an admin disabled or re-enabled an
	// account.
	UserDisabled Type = "user.disabled"
	UserEnabled  Type = "user.enabled"
	// LinkIssued and LinkUsed: a one-time login link was issued for an
	// account (ActorID: who issued it) and used.
	LinkIssued Type = "link.issued"
	LinkUsed   Type = "link.used"
	// AdminAction: any other action of an admin on an account (Reason
	// names it: the Admin* actions below).
	AdminAction Type = "admin.action"
	// AdminDenied: an admin action was refused to its actor (ActorID;
	// TargetID, the user it was tried on, when it names one; Reason: the
	// action and why, "role.set/rank", "users.list/users:read"...; see
	// the admin package's Action constants).
	AdminDenied Type = "admin.denied"
	// ActivationPending: a password of an admin whose address is not
	// verified yet was right at the admin login (Method admin_otp): no
	// session, the account waits for its activation code.
	ActivationPending Type = "activation.pending"
	// ActivationCodeSent: an activation code was mailed to an admin
	// pending activation (Reason: what asked for it, "login" or
	// "resend").
	ActivationCodeSent Type = "activation.code_sent"
	// ActivationConfirmed: an activation code was confirmed and the
	// account's address is verified.
	ActivationConfirmed Type = "activation.confirmed"
	// ActivationFailed: an activation code was refused (Reason: wrong,
	// dead after too many wrong ones, expired, or no such account).
	ActivationFailed Type = "activation.failed"
)

// The platform's event types: what the platform API did to a tenant. They
// are recorded in the platform's own stream (PlatformTenant), never in a
// tenant's: the tenant's admins do not see them, and a tenant's purge does
// not take them. ActorType is ActorPlatformKey and ActorID the key's id
// (never its secret), TargetID the tenant's id.
const (
	// TenantCreated: a tenant was created.
	TenantCreated Type = "tenant.created"
	// TenantUpdated: a tenant's configuration was replaced (Changes: the
	// top-level sections that changed, as the tenant file names them).
	TenantUpdated Type = "tenant.updated"
	// TenantDisabled and TenantEnabled: a tenant was switched off or on.
	TenantDisabled Type = "tenant.disabled"
	TenantEnabled  Type = "tenant.enabled"
	// TenantDeleteRequested: a tenant was deleted; it is off, and its data
	// goes once the grace period is over.
	TenantDeleteRequested Type = "tenant.delete_requested"
	// TenantRestored: a deletion was cancelled within the grace period.
	TenantRestored Type = "tenant.restored"
	// TenantPurged: the sweep deleted a tenant with its data (ActorType
	// ActorSystem, no ActorID).
	TenantPurged Type = "tenant.purged"
)

// PlatformTenant is the tenant id of the platform's own stream of events
// (PlatformTypes). Tenant ids are slugs of [a-z0-9-], so no tenant has it.
const PlatformTenant = "_platform"

// PlatformRetention is how long the platform's events are kept.
const PlatformRetention = 400 * 24 * time.Hour

// The kinds of actor an ActorType names; empty is an account of the
// tenant.
const (
	// ActorPlatformKey: a platform API key, ActorID its id.
	ActorPlatformKey = "platform_key"
	// ActorSystem: the server itself (a sweep), no ActorID.
	ActorSystem = "system"
)

// The actions an AdminAction event names in its Reason.
const (
	// AdminUserCreated: an admin created the account (NewRole its role).
	AdminUserCreated = "user.created"
	// AdminProfileUpdated: an admin changed the account's name, address or
	// phone number.
	AdminProfileUpdated = "profile.updated"
	// AdminMFAReset: an admin turned the account's second factor off.
	AdminMFAReset = "mfa.reset"
	// AdminSessionsRevoked: an admin ended every session of the account.
	AdminSessionsRevoked = "sessions.revoked"
)

// Types lists every event type.
var Types = []Type{
	LoginSucceeded, LoginFailed, MFAChallenged, MFAEnrolmentRequired, Logout, SessionRevoked,
	PasswordChanged, PasswordReset, EmailChanged,
	MFAEnabled, MFADisabled, MFABackupCodeUsed, MFABackupCodesRegenerated,
	RoleChanged, UserDisabled, UserEnabled, LinkIssued, LinkUsed, AdminAction, AdminDenied,
	ActivationPending, ActivationCodeSent, ActivationConfirmed, ActivationFailed,
}

// PlatformTypes lists every type of the platform's stream.
var PlatformTypes = []Type{
	TenantCreated, TenantUpdated, TenantDisabled, TenantEnabled, TenantDeleteRequested, TenantRestored, TenantPurged,
}

// Known reports whether t is one of Types: a type of a tenant's stream.
func (t Type) Known() bool { return slices.Contains(Types, t) }

// Platform reports whether t is one of PlatformTypes.
func (t Type) Platform() bool { return slices.Contains(PlatformTypes, t) }

// Event is one thing that happened to a tenant's account. The use cases
// set what they know (Type, ActorID, TargetID, SessionID, Method, AMR,
// Reason); the TenantRecorder sets the rest.
type Event struct {
	// ID orders the tenant's events by Time (NewID): it is the cursor of
	// a query, and what makes an append of the same event twice store it
	// once.
	ID       string
	TenantID string
	Time     time.Time
	Type     Type
	// ActorID is the account that acted (the user themselves, or an
	// admin); empty when nobody signed in acted (a failed sign-in, a
	// password reset by mailed link). In the platform's stream it is the
	// platform API key's id.
	ActorID string
	// ActorType says what ActorID is: empty for an account of the tenant,
	// else ActorPlatformKey or ActorSystem.
	ActorType string
	// TargetID is the account the event is about; empty when no account
	// is known (a sign-in for an address or number without one). In the
	// platform's stream it is the tenant's id.
	TargetID string
	// SessionID is the session started, ended or used.
	SessionID string
	// Method is the login method (tenant.LoginMethod's values), or for a
	// second-factor event the factor or proof ("totp", "backup_code",
	// "password").
	Method string
	// AMR are the authentication method references of a sign-in.
	AMR []string
	// Reason is a stable machine code: why a sign-in was refused (the
	// error's code: invalid_credentials, throttled, otp_invalid...), why
	// a session was revoked, or the action of an AdminAction.
	Reason string
	// OldRole and NewRole are the account's role before and after a
	// RoleChanged event; NewRole is also the role of an account an admin
	// created.
	OldRole, NewRole string
	// Changes names what changed: the top-level sections of a tenant's
	// configuration a TenantUpdated replaced.
	Changes []string
	// IP, UserAgent and RequestID say where the request came from.
	IP        netip.Addr
	UserAgent string
	RequestID string
	// ExpiresAt is when the event is swept: Time plus the tenant's
	// retention when it was recorded.
	ExpiresAt time.Time
}

// Bounds of an event's fields, so that a request cannot make an event
// (or a batch of them) arbitrarily large.
const (
	maxUserAgent = 256
	maxField     = 128
	maxAMR       = 8
	maxChanges   = 32
)

// Check reports what makes e unfit to be stored: a Log refuses such an
// event. Its ID must be one NewID made for its Time.
func (e Event) Check() error {
	var problems []string
	switch {
	case !ValidID(e.ID):
		problems = append(problems, "id is not an event id")
	case e.ID[:timeDigits] != timeKey(e.Time):
		problems = append(problems, "id is not of the event's time")
	}
	switch {
	case e.TenantID == "":
		problems = append(problems, "tenant_id is required")
	case e.TenantID == PlatformTenant && !e.Type.Platform():
		problems = append(problems, fmt.Sprintf("type %q is not of the platform's stream", e.Type))
	case e.TenantID != PlatformTenant && !e.Type.Known():
		problems = append(problems, fmt.Sprintf("type %q is unknown to a tenant's stream", e.Type))
	}
	if e.ExpiresAt.IsZero() {
		problems = append(problems, "expires_at is required")
	}
	if len(problems) > 0 {
		return fmt.Errorf("audit: event %s: %s", e.ID, strings.Join(problems, "; "))
	}
	return nil
}

// bounded returns e with every free-form field valid UTF-8 (a store may
// refuse anything else) and within its bound.
func (e Event) bounded() Event {
	e.ActorID, e.TargetID, e.SessionID = clip(e.ActorID, maxField), clip(e.TargetID, maxField), clip(e.SessionID, maxField)
	e.ActorType = clip(e.ActorType, maxField)
	e.Method, e.Reason, e.RequestID = clip(e.Method, maxField), clip(e.Reason, maxField), clip(e.RequestID, maxField)
	e.OldRole, e.NewRole = clip(e.OldRole, maxField), clip(e.NewRole, maxField)
	e.IP = e.IP.Unmap()
	e.UserAgent = clip(e.UserAgent, maxUserAgent)
	if len(e.AMR) > maxAMR {
		e.AMR = e.AMR[:maxAMR]
	}
	e.AMR = slices.Clone(e.AMR)
	for i, a := range e.AMR {
		e.AMR[i] = clip(a, maxField)
	}
	if len(e.Changes) > maxChanges {
		e.Changes = e.Changes[:maxChanges]
	}
	e.Changes = slices.Clone(e.Changes)
	for i, c := range e.Changes {
		e.Changes[i] = clip(c, maxField)
	}
	return e
}

// clip is s as valid UTF-8, cut to at most n bytes on a character
// boundary.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// An event id is its time in Unix nanoseconds, zero-padded to timeDigits
// digits, a "-", and 16 hex digits drawn at random: ids sort as their
// times do, and events of one instant apart.
const (
	timeDigits = 19
	idLen      = timeDigits + 1 + 16
)

// NewID returns a new id for an event at t. The random part only keeps
// events of one nanosecond apart; it need not be unpredictable.
func NewID(t time.Time) string {
	return timeKey(t) + "-" + fmt.Sprintf("%016x", rand.Uint64())
}

// IDAt is the lowest id of an event at t or later: the bound of a time
// range in id order.
func IDAt(t time.Time) string { return timeKey(t) }

// timeKey is t in Unix nanoseconds, padded; a time before 1970 is 0.
func timeKey(t time.Time) string {
	n := t.UnixNano()
	if t.Before(time.Unix(0, 0)) || n < 0 {
		n = 0
	}
	s := strconv.FormatInt(n, 10)
	return strings.Repeat("0", timeDigits-len(s)) + s
}

// ValidID reports whether id has the form of an event id (a cursor).
func ValidID(id string) bool {
	if len(id) != idLen || id[timeDigits] != '-' {
		return false
	}
	for i, c := range id {
		switch {
		case i < timeDigits && c >= '0' && c <= '9':
		case i == timeDigits:
		case i > timeDigits && (c >= '0' && c <= '9' || c >= 'a' && c <= 'f'):
		default:
			return false
		}
	}
	return true
}

// Filter selects events; its zero value selects all.
type Filter struct {
	// Types keeps events of these types; empty keeps every type.
	Types []Type
	// UserID keeps events whose actor or target is this account.
	UserID string
	// TargetID keeps events whose target is this: in the platform's
	// stream, a tenant's id.
	TargetID string
	// Since keeps events at or after it, Until events before it; zero
	// means unbounded.
	Since, Until time.Time
}

// Page is one page of a query: events newest first, and the cursor of
// the next page ("" when there is none).
type Page struct {
	Events []Event
	Next   string
}

// Log stores a tenant's audit events. It is append-only: it has no way to
// change or delete an event; events leave it only once expired, by the
// store's sweep.
//
// Append stores events as they are (each passes Event.Check, or Append
// stores none of them and fails); an event whose ID is stored already is
// left as stored, so that a batch appended again after a failure adds
// each event once.
//
// Query returns the tenant's events that match f and have not expired at
// now, newest first (in ID order), at most limit of them (limit ≥ 1),
// starting after cursor (the ID of the last event of the previous page;
// "" for the first page). Pages are stable under concurrent appends: an
// event stored before the first page was read appears on exactly one page
// of the walk, none appears twice, and events appended meanwhile with a
// later time than the cursor do not appear on later pages.
type Log interface {
	Append(ctx context.Context, events ...Event) error
	Query(ctx context.Context, tenantID string, f Filter, cursor string, limit int, now time.Time) (Page, error)
}

// Recorder records an event of the tenant. It never blocks and never
// fails: whatever becomes of the event, the caller goes on. TenantRecorder
// is the one the server uses; audittest has a fake that keeps the events.
type Recorder interface {
	Record(ctx context.Context, e Event)
}

// Refusal reports the reason code of err, when err refused something
// (a wrong secret, a limit, a dead link); ok is false for a nil err and
// for an outage (the store away: nothing was judged) or an internal
// error, which are not audit events.
func Refusal(err error) (reason string, ok bool) {
	if err == nil {
		return "", false
	}
	e := errs.As(err)
	if e.Kind == errs.Unavailable || e.Kind == errs.Internal {
		return "", false
	}
	return e.Code, true
}

// ErrInvalidCursor answers a cursor that is not an event id.
var ErrInvalidCursor = errs.InvalidFields(errs.FieldError{Field: "cursor", Reason: "is not a cursor of this log"})
