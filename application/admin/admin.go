// Package admin is what a tenant's staff may do to its users: list,
// search and read them and their sessions, create them (with an
// invitation to set a password), change their profile, disable and enable
// them, give them a role, turn their second factor off, end their
// sessions, issue them a one-time login link, and read the tenant's audit
// log. Every action needs a scope of the actor's role (identity.Rights),
// checked here whatever the surface, before anything is read; an action
// that changes a user needs the actor to outrank the user, and giving a
// role (also to a user being created) needs every scope of that role.
// Disabling a user and changing a role end the user's sessions at once
// (their access tokens carry the old role); caches drop the user, so the
// change holds from the next request on.
//
// Every action that changes something is recorded in the audit log with
// the actor and the user: role.changed (with the old and new role),
// user.disabled, user.enabled, link.issued (by the login links
// themselves), and admin.action for the rest, its Reason naming the
// action (audit.AdminUserCreated, AdminProfileUpdated, AdminMFAReset,
// AdminSessionsRevoked).
package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/portcullis/portcullis/application/account"
	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/loginlink"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/tenant"
)

// Users is the account store as the admin actions need it (account.Users
// is one; see it for what each method promises).
type Users interface {
	Create(ctx context.Context, u identity.User) error
	ByID(ctx context.Context, tenantID, id string) (identity.User, error)
	ByEmail(ctx context.Context, tenantID, emailKey string) (identity.User, error)
	ByPhone(ctx context.Context, tenantID, phone string) (identity.User, error)
	List(ctx context.Context, tenantID string, f account.UserFilter, after account.UserPosition, limit int) ([]identity.User, error)
	SetActive(ctx context.Context, tenantID, id string, active bool, at time.Time) error
	SetRole(ctx context.Context, tenantID, id string, role identity.Role, at time.Time) error
	SetName(ctx context.Context, tenantID, id, firstName, lastName string, at time.Time) error
	SetEmail(ctx context.Context, tenantID, id, email, emailKey string, at time.Time) error
	SetPhone(ctx context.Context, tenantID, id, phone string, at time.Time) error
}

// Inviter mails an account created without a password the link that sets
// one (recovery.Service is one).
type Inviter interface {
	Invite(ctx context.Context, u identity.User) error
}

// LoginLinks issues admin one-time login links (loginlink.Service is one;
// it checks the method, the scope and the rank again, and records the
// link issued).
type LoginLinks interface {
	Issue(ctx context.Context, in loginlink.IssueInput) (loginlink.Issued, error)
}

// AuditLog reads the tenant's audit log (audit.Service is one).
type AuditLog interface {
	Query(ctx context.Context, f audit.Filter, cursor string, limit int) (audit.Page, error)
}

// Sessions lists and ends a user's sessions (session.Service is one).
type Sessions interface {
	Sessions(ctx context.Context, p session.Principal) ([]identity.Session, error)
	RevokeUser(ctx context.Context, userID string) (int, error)
}

// Factors turns a user's second factor off without proof (mfa.Service is
// one).
type Factors interface {
	Reset(ctx context.Context, u identity.User) error
}

// Deps are what one tenant's admin actions use.
type Deps struct {
	Users    Users
	Sessions Sessions
	Factors  Factors
	Invites  Inviter
	Links    LoginLinks
	Log      AuditLog
	// Audit records the admin actions.
	Audit  audit.Recorder
	Clock  platform.Clock
	Random platform.Random
}

// ErrUserNotFound answers an action on a user the tenant does not have.
var ErrUserNotFound = errs.E(errs.NotFound, "user_not_found", "No such user.")

// Service is one tenant's admin actions.
type Service struct {
	t      tenant.Tenant
	rights identity.Rights
	d      Deps
}

// New returns the admin actions of tenant t, under its roles' rights.
func New(t tenant.Tenant, d Deps) *Service { return &Service{t: t, rights: identity.RightsOf(t), d: d} }

// Rights are the tenant's roles' rights.
func (s *Service) Rights() identity.Rights { return s.rights }

// User returns the tenant's user id (users:read).
func (s *Service) User(ctx context.Context, actor identity.User, id string) (identity.User, error) {
	if err := s.require(ctx, actor, ActionReadUser, id, identity.ScopeUsersRead); err != nil {
		return identity.User{}, err
	}
	return s.user(ctx, id)
}

// UserSessions lists the live sessions of user id (users:read).
func (s *Service) UserSessions(ctx context.Context, actor identity.User, id string) ([]identity.Session, error) {
	if err := s.require(ctx, actor, ActionListSessions, id, identity.ScopeUsersRead); err != nil {
		return nil, err
	}
	u, err := s.user(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.d.Sessions.Sessions(ctx, session.Principal{User: u})
}

// SetActive disables or enables user id (users:write, outranking it). A
// disabled user's sessions end at once. It is recorded (user.disabled or
// user.enabled) whether or not the user was in that state already.
func (s *Service) SetActive(ctx context.Context, actor identity.User, id string, active bool) (identity.User, error) {
	action := ActionEnable
	if !active {
		action = ActionDisable
	}
	u, err := s.target(ctx, actor, action, identity.ScopeUsersWrite, id)
	if err != nil {
		return identity.User{}, err
	}
	now := s.d.Clock.Now().UTC()
	if err := s.d.Users.SetActive(ctx, s.t.ID, u.ID, active, now); err != nil {
		return identity.User{}, fmt.Errorf("admin: %w", err)
	}
	u.Active, u.UpdatedAt = active, now
	typ := audit.UserEnabled
	if !active {
		typ = audit.UserDisabled
	}
	s.record(ctx, audit.Event{Type: typ, ActorID: actor.ID, TargetID: u.ID})
	if !active {
		if _, err := s.d.Sessions.RevokeUser(ctx, u.ID); err != nil {
			return u, fmt.Errorf("admin: the user is disabled, but ending the sessions failed: %w", err)
		}
	}
	return u, nil
}

// SetRole gives user id role (roles:assign, holding every scope of the
// role, outranking the user and the role). The user's sessions end at
// once: their access tokens carry the old role. A change is recorded
// (role.changed, with the old and the new role); giving the role the user
// has changes and records nothing.
func (s *Service) SetRole(ctx context.Context, actor identity.User, id string, role identity.Role) (identity.User, error) {
	if err := s.rights.CanGrant(actor.Role, role); err != nil {
		return identity.User{}, s.denied(ctx, actor, ActionSetRole, id, err)
	}
	u, err := s.target(ctx, actor, ActionSetRole, identity.ScopeRolesAssign, id)
	if err != nil {
		return identity.User{}, err
	}
	if u.Role == role {
		return u, nil
	}
	now := s.d.Clock.Now().UTC()
	if err := s.d.Users.SetRole(ctx, s.t.ID, u.ID, role, now); err != nil {
		return identity.User{}, fmt.Errorf("admin: %w", err)
	}
	s.record(ctx, audit.Event{Type: audit.RoleChanged, ActorID: actor.ID, TargetID: u.ID, OldRole: string(u.Role), NewRole: string(role)})
	u.Role, u.UpdatedAt = role, now
	if _, err := s.d.Sessions.RevokeUser(ctx, u.ID); err != nil {
		return u, fmt.Errorf("admin: the role is set, but ending the sessions failed: %w", err)
	}
	return u, nil
}

// ResetMFA turns user id's second factor off (mfa:reset, outranking it),
// for a user who lost the app and the backup codes; it is recorded
// (admin.action mfa.reset).
func (s *Service) ResetMFA(ctx context.Context, actor identity.User, id string) error {
	u, err := s.target(ctx, actor, ActionResetMFA, identity.ScopeMFAReset, id)
	if err != nil {
		return err
	}
	if err := s.d.Factors.Reset(ctx, u); err != nil {
		return err
	}
	s.record(ctx, audit.Event{Type: audit.AdminAction, Reason: audit.AdminMFAReset, ActorID: actor.ID, TargetID: u.ID})
	return nil
}

// RevokeSessions ends every session of user id (sessions:revoke,
// outranking it) and returns how many; it is recorded (admin.action
// sessions.revoked, besides the session.revoked of each session).
func (s *Service) RevokeSessions(ctx context.Context, actor identity.User, id string) (int, error) {
	u, err := s.target(ctx, actor, ActionRevokeSessions, identity.ScopeSessionsRevoke, id)
	if err != nil {
		return 0, err
	}
	n, err := s.d.Sessions.RevokeUser(ctx, u.ID)
	if err != nil {
		return n, err
	}
	s.record(ctx, audit.Event{Type: audit.AdminAction, Reason: audit.AdminSessionsRevoked, ActorID: actor.ID, TargetID: u.ID})
	return n, nil
}

// record records an admin action.
func (s *Service) record(ctx context.Context, e audit.Event) { s.d.Audit.Record(ctx, e) }

// target is user id, for an action of scope by actor, who must outrank
// the user.
func (s *Service) target(ctx context.Context, actor identity.User, action string, scope identity.Scope, id string) (identity.User, error) {
	if err := s.require(ctx, actor, action, id, scope); err != nil {
		return identity.User{}, err
	}
	u, err := s.user(ctx, id)
	if err != nil {
		return identity.User{}, err
	}
	if !s.rights.Outranks(actor.Role, u.Role) {
		return identity.User{}, s.denied(ctx, actor, action, u.ID,
			identity.ErrForbidden.WithMessage("A %s cannot act on a user whose role is %s.", actor.Role, u.Role))
	}
	return u, nil
}

// The actions an admin.denied event names in its Reason, followed by "/"
// and why it was refused: the scope the actor lacks (for role.set and
// user.create also a scope of the role given), or "rank" (the actor does
// not outrank the user, or the role given).
const (
	ActionListUsers      = "users.list"
	ActionReadUser       = "user.read"
	ActionListSessions   = "sessions.list"
	ActionCreateUser     = "user.create"
	ActionUpdateProfile  = "profile.update"
	ActionDisable        = "user.disable"
	ActionEnable         = "user.enable"
	ActionSetRole        = "role.set"
	ActionResetMFA       = "mfa.reset"
	ActionRevokeSessions = "sessions.revoke"
	ActionIssueLink      = "login_link.issue"
	ActionReadAudit      = "audit.read"
)

// require checks that actor's role has scope for action (on user id, when
// the action has one), and records a refusal.
func (s *Service) require(ctx context.Context, actor identity.User, action, id string, scope identity.Scope) error {
	if err := s.rights.Require(actor.Role, scope); err != nil {
		return s.denied(ctx, actor, action, id, err)
	}
	return nil
}

// denied returns err, and records it (admin.denied) when it refuses the
// action to actor for its rights (identity.ErrForbidden).
func (s *Service) denied(ctx context.Context, actor identity.User, action, targetID string, err error) error {
	if !errors.Is(err, identity.ErrForbidden) {
		return err
	}
	why := "rank"
	if scope, ok := errs.As(err).Extensions["scope"].(string); ok {
		why = scope
	}
	s.record(ctx, audit.Event{Type: audit.AdminDenied, ActorID: actor.ID, TargetID: targetID, Reason: action + "/" + why})
	return err
}

func (s *Service) user(ctx context.Context, id string) (identity.User, error) {
	u, err := s.d.Users.ByID(ctx, s.t.ID, id)
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return identity.User{}, ErrUserNotFound
	case err != nil:
		return identity.User{}, fmt.Errorf("admin: %w", err)
	}
	return u, nil
}
