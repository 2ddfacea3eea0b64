package admin_test

import (
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/account/accounttest"
	"github.com/portcullis/portcullis/application/admin"
	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/audit/audittest"
	"github.com/portcullis/portcullis/application/loginlink"
	"github.com/portcullis/portcullis/application/platform/platformtest"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/tenant"
)

var ctx = context.Background()

// sessions records whose sessions were ended.
type sessions struct {
	mu      sync.Mutex
	revoked []string
}

func (s *sessions) Sessions(context.Context, session.Principal) ([]identity.Session, error) {
	return []identity.Session{{ID: "s1"}}, nil
}

func (s *sessions) RevokeUser(_ context.Context, userID string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked = append(s.revoked, userID)
	return 1, nil
}

// factors records resets.
type factors struct{ reset []string }

func (f *factors) Reset(_ context.Context, u identity.User) error {
	f.reset = append(f.reset, u.ID)
	return nil
}

// invites records the invitations; fail, when set, is their answer.
type invites struct {
	mu   sync.Mutex
	sent []identity.User
	fail error
}

func (i *invites) Invite(_ context.Context, u identity.User) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.fail != nil {
		return i.fail
	}
	i.sent = append(i.sent, u)
	return nil
}

// links records the links asked for and issues a fixed token.
type links struct{ asked []loginlink.IssueInput }

func (l *links) Issue(_ context.Context, in loginlink.IssueInput) (loginlink.Issued, error) {
	l.asked = append(l.asked, in)
	return loginlink.Issued{Token: "tok-" + in.UserID, ExpiresAt: time.Date(2026, 12, 1, 10, 5, 0, 0, time.UTC)}, nil
}

// auditLog records the queries and answers one event.
type auditLog struct{ filters []audit.Filter }

func (l *auditLog) Query(_ context.Context, f audit.Filter, _ string, _ int) (audit.Page, error) {
	l.filters = append(l.filters, f)
	return audit.Page{Events: []audit.Event{{ID: "e1", Type: audit.LoginSucceeded}}}, nil
}

type fixture struct {
	svc      *admin.Service
	t        tenant.Tenant
	users    *accounttest.MemoryUsers
	sessions *sessions
	factors  *factors
	invites  *invites
	links    *links
	log      *auditLog
	audit    *audittest.Recorder
	clock    *platformtest.Clock
	by       map[identity.Role]identity.User
}

func newFixture(t *testing.T, mutate ...func(*tenant.Tenant)) *fixture {
	t.Helper()
	tn := tenant.Default()
	tn.ID = "shop"
	tn.SMS.DefaultRegion = "GB"
	tn.Profiles.Seed000 = true // the routes that use login links
	tn.Redirects.Allow = []string{"https://app.shop.example"}
	tn.Roles = map[string]tenant.RoleSpec{
		"support": {Rank: 5, Scopes: []string{"users:read", "roles:assign"}},
		// A manager may create users and make them staff, not admins.
		"manager": {Rank: 50, Scopes: []string{"users:read", "users:write", "roles:assign", "sessions:revoke", "login_links:issue", "audit:read"}},
	}
	for _, m := range mutate {
		m(&tn)
	}
	if err := tn.Validate(); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: tn, users: accounttest.NewMemoryUsers(), sessions: &sessions{}, factors: &factors{}, invites: &invites{}, links: &links{},
		log: &auditLog{}, audit: audittest.NewRecorder(), clock: platformtest.NewClock(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)),
		by: map[identity.Role]identity.User{}}
	for _, r := range []identity.Role{identity.RoleUser, identity.RoleStaff, identity.RoleAdmin, "support", "manager"} {
		u := identity.User{ID: string(r) + "-1", TenantID: tn.ID, Email: string(r) + "@example.com", EmailKey: string(r) + "@example.com", Role: r, Active: true}
		if err := f.users.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
		f.by[r] = u
	}
	other := identity.User{ID: "admin-2", TenantID: tn.ID, Email: "a2@example.com", EmailKey: "a2@example.com", Role: identity.RoleAdmin, Active: true}
	if err := f.users.Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	f.svc = admin.New(tn, admin.Deps{Users: f.users, Sessions: f.sessions, Factors: f.factors, Invites: f.invites, Links: f.links,
		Log: f.log, Audit: f.audit, Clock: f.clock, Random: rand.Reader})
	return f
}

func wantForbidden(t *testing.T, what string, err error, scope string) {
	t.Helper()
	if !errors.Is(err, identity.ErrForbidden) {
		t.Fatalf("%s: %v, want forbidden", what, err)
	}
	if scope != "" && errs.As(err).Extensions["scope"] != scope {
		t.Fatalf("%s: %v names scope %v, want %s", what, err, errs.As(err).Extensions["scope"], scope)
	}
}

func TestAUserHasNoAdminAction(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	me, target := f.by[identity.RoleUser], "staff-1"
	_, err := f.svc.User(ctx, me, target)
	wantForbidden(t, "read", err, "users:read")
	_, err = f.svc.SetActive(ctx, me, target, false)
	wantForbidden(t, "disable", err, "users:write")
	_, err = f.svc.SetRole(ctx, me, target, identity.RoleUser)
	wantForbidden(t, "set role", err, "roles:assign")
	wantForbidden(t, "reset mfa", f.svc.ResetMFA(ctx, me, target), "mfa:reset")
	_, err = f.svc.RevokeSessions(ctx, me, target)
	wantForbidden(t, "revoke", err, "sessions:revoke")
	_, err = f.svc.ListUsers(ctx, me, admin.UserQuery{})
	wantForbidden(t, "list", err, "users:read")
	// The scope comes before the input: bad fields are not even looked at.
	_, err = f.svc.ListUsers(ctx, me, admin.UserQuery{Status: "sleeping", Limit: -1})
	wantForbidden(t, "list with bad fields", err, "users:read")
	_, err = f.svc.CreateUser(ctx, me, admin.NewUser{Email: "new@example.com", FirstName: "N", LastName: "U"})
	wantForbidden(t, "create", err, "users:write")
	name := "Eve"
	_, err = f.svc.UpdateProfile(ctx, me, target, admin.ProfileChange{FirstName: &name})
	wantForbidden(t, "update", err, "users:write")
	_, err = f.svc.IssueLoginLink(ctx, me, target, admin.LinkRequest{})
	wantForbidden(t, "login link", err, "login_links:issue")
	_, err = f.svc.AuditLog(ctx, me, audit.Filter{}, "", 0)
	wantForbidden(t, "audit log", err, "audit:read")
	if len(f.sessions.revoked)+len(f.factors.reset)+len(f.invites.sent)+len(f.links.asked)+len(f.log.filters) != 0 {
		t.Fatal("a refused action did something")
	}
	// Each refusal is recorded, and nothing else.
	var reasons []string
	for _, e := range f.audit.Events() {
		if e.Type != audit.AdminDenied || e.ActorID != me.ID {
			t.Errorf("event %+v; want admin.denied by %s", e, me.ID)
		}
		reasons = append(reasons, e.Reason)
	}
	want := []string{"user.read/users:read", "user.disable/users:write", "role.set/roles:assign",
		"mfa.reset/mfa:reset", "sessions.revoke/sessions:revoke", "users.list/users:read", "users.list/users:read",
		"user.create/users:write", "profile.update/users:write", "login_link.issue/login_links:issue", "audit.read/audit:read"}
	if !slices.Equal(reasons, want) {
		t.Errorf("admin.denied reasons %q, want %q", reasons, want)
	}
	if _, err := f.users.ByEmail(ctx, "shop", "new@example.com"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("a refused create stored the user: %v", err)
	}
}

func TestStaffActsOnUsersOnly(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	staff := f.by[identity.RoleStaff]
	if u, err := f.svc.User(ctx, staff, "admin-1"); err != nil || u.ID != "admin-1" {
		t.Fatalf("staff reads an admin: %+v, %v", u, err)
	}
	if n, err := f.svc.RevokeSessions(ctx, staff, "user-1"); err != nil || n != 1 {
		t.Fatalf("staff ends a user's sessions: %d, %v", n, err)
	}
	_, err := f.svc.RevokeSessions(ctx, staff, "admin-1")
	wantForbidden(t, "staff ends an admin's sessions", err, "")
	_, err = f.svc.SetRole(ctx, staff, "user-1", identity.RoleStaff)
	wantForbidden(t, "staff gives a role", err, "roles:assign")
	wantForbidden(t, "staff resets a second factor", f.svc.ResetMFA(ctx, staff, "user-1"), "mfa:reset")
	if _, err := f.svc.User(ctx, staff, "nobody"); !errors.Is(err, admin.ErrUserNotFound) {
		t.Fatalf("an unknown user: %v", err)
	}
}

func TestAnAdminCannotEscalateOrActOnAnAdmin(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	adm := f.by[identity.RoleAdmin]
	u, err := f.svc.SetRole(ctx, adm, "user-1", identity.RoleStaff)
	if err != nil || u.Role != identity.RoleStaff {
		t.Fatalf("admin makes a user staff: %+v, %v", u, err)
	}
	if stored, _ := f.users.ByID(ctx, "shop", "user-1"); stored.Role != identity.RoleStaff {
		t.Fatalf("stored role %s", stored.Role)
	}
	if len(f.sessions.revoked) != 1 || f.sessions.revoked[0] != "user-1" {
		t.Fatalf("sessions ended: %v, want the promoted user's", f.sessions.revoked)
	}
	_, err = f.svc.SetRole(ctx, adm, "admin-2", identity.RoleUser)
	wantForbidden(t, "admin demotes an admin", err, "")
	_, err = f.svc.SetActive(ctx, adm, "admin-2", false)
	wantForbidden(t, "admin disables an admin", err, "")
	if _, err := f.svc.SetRole(ctx, adm, "user-1", "emperor"); errs.KindOf(err) != errs.Invalid {
		t.Fatalf("an unknown role: %v", err)
	}
	u, err = f.svc.SetActive(ctx, adm, "staff-1", false)
	if err != nil || u.Active || len(f.sessions.revoked) != 2 {
		t.Fatalf("admin disables staff: %+v, %v, revoked %v", u, err, f.sessions.revoked)
	}
	if err := f.svc.ResetMFA(ctx, adm, "staff-1"); err != nil || len(f.factors.reset) != 1 {
		t.Fatalf("admin resets a second factor: %v", err)
	}
}

func TestATenantRoleGrantsOnlyWhatItHolds(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	support := f.by["support"]
	_, err := f.svc.SetRole(ctx, support, "user-1", identity.RoleStaff)
	wantForbidden(t, "support gives staff (scopes it lacks)", err, "sessions:revoke")
	if _, err := f.svc.SetRole(ctx, support, "user-1", identity.RoleUser); err != nil {
		t.Fatalf("support gives user: %v", err)
	}
	_, err = f.svc.SetRole(ctx, support, "staff-1", identity.RoleUser)
	wantForbidden(t, "support acts on staff (higher rank)", err, "")
}
