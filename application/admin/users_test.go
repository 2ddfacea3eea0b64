package admin_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/admin"
	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/tenant"
)

func ptr(s string) *string { return &s }

// wantFields checks that err is an Invalid error naming exactly fields.
func wantFields(t *testing.T, what string, err error, fields ...string) {
	t.Helper()
	e := errs.As(err)
	if e == nil || e.Kind != errs.Invalid {
		t.Fatalf("%s: %v, want invalid fields %v", what, err, fields)
	}
	var got []string
	for _, f := range e.Fields {
		got = append(got, f.Field)
	}
	if !slices.Equal(got, fields) {
		t.Fatalf("%s: fields %v (%v), want %v", what, got, e.Fields, fields)
	}
}

// create has an admin create a user and checks it worked.
func (f *fixture) create(t *testing.T, in admin.NewUser) identity.User {
	t.Helper()
	c, err := f.svc.CreateUser(ctx, f.by[identity.RoleAdmin], in)
	if err != nil {
		t.Fatalf("create %s: %v", in.Email, err)
	}
	return c.User
}

func TestStaffHasNoUsersWriteAndActsOnlyBelowItsRank(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	staff := f.by[identity.RoleStaff]
	_, err := f.svc.CreateUser(ctx, staff, admin.NewUser{Email: "boss@example.com", FirstName: "B", LastName: "Oss", Role: identity.RoleAdmin})
	wantForbidden(t, "staff creates an admin", err, "users:write")
	_, err = f.svc.CreateUser(ctx, staff, admin.NewUser{Email: "new@example.com", FirstName: "N", LastName: "U"})
	wantForbidden(t, "staff creates a user", err, "users:write")
	_, err = f.svc.UpdateProfile(ctx, staff, "user-1", admin.ProfileChange{FirstName: ptr("Eve")})
	wantForbidden(t, "staff updates a user", err, "users:write")
	// What staff holds: reading, links for users, the audit log.
	if p, err := f.svc.ListUsers(ctx, staff, admin.UserQuery{}); err != nil || len(p.Users) != 6 {
		t.Fatalf("staff lists: %d users, %v", len(p.Users), err)
	}
	if _, err := f.svc.IssueLoginLink(ctx, staff, "user-1", admin.LinkRequest{SecretKey: "k"}); err != nil {
		t.Fatalf("staff issues a link for a user: %v", err)
	}
	_, err = f.svc.IssueLoginLink(ctx, staff, "staff-1", admin.LinkRequest{SecretKey: "k"})
	wantForbidden(t, "staff issues a link for itself (equal rank)", err, "")
	_, err = f.svc.IssueLoginLink(ctx, staff, "admin-1", admin.LinkRequest{SecretKey: "k"})
	wantForbidden(t, "staff issues a link for an admin", err, "")
	if _, err := f.svc.AuditLog(ctx, staff, audit.Filter{UserID: "user-1"}, "", 0); err != nil || len(f.log.filters) != 1 || f.log.filters[0].UserID != "user-1" {
		t.Fatalf("staff reads the audit log: %v, queries %+v", err, f.log.filters)
	}
}

func TestCreateNeedsTheRightsOfTheRoleItGives(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	manager, adm := f.by["manager"], f.by[identity.RoleAdmin]
	c, err := f.svc.CreateUser(ctx, manager, admin.NewUser{Email: "s@example.com", FirstName: "S", LastName: "Taff", Role: identity.RoleStaff})
	if err != nil || c.User.Role != identity.RoleStaff {
		t.Fatalf("manager creates staff: %+v, %v", c, err)
	}
	_, err = f.svc.CreateUser(ctx, manager, admin.NewUser{Email: "a@example.com", FirstName: "A", LastName: "Dmin", Role: identity.RoleAdmin})
	wantForbidden(t, "manager creates an admin (a scope it lacks)", err, "mfa:reset")
	// Its own role, as an admin gives admin (identity.Rights.CanGrant).
	if _, err := f.svc.CreateUser(ctx, manager, admin.NewUser{Email: "m@example.com", FirstName: "M", LastName: "Gr", Role: "manager"}); err != nil {
		t.Fatalf("manager creates a manager: %v", err)
	}
	// A role of a higher rank whose scopes it holds is still above it.
	g := newFixture(t, func(tn *tenant.Tenant) {
		tn.Roles["director"] = tenant.RoleSpec{Rank: 80, Scopes: []string{"users:read"}}
	})
	_, err = g.svc.CreateUser(ctx, g.by["manager"], admin.NewUser{Email: "d@example.com", FirstName: "D", LastName: "Ir", Role: "director"})
	wantForbidden(t, "manager creates a director (a higher rank)", err, "")
	if _, err := f.svc.CreateUser(ctx, adm, admin.NewUser{Email: "a2@new.example", FirstName: "A", LastName: "Two", Role: identity.RoleAdmin}); err != nil {
		t.Fatalf("an admin creates an admin: %v", err)
	}
	_, err = f.svc.CreateUser(ctx, adm, admin.NewUser{Email: "x@example.com", FirstName: "X", LastName: "Y", Role: "emperor"})
	wantFields(t, "an unknown role", err, "role")
	// A role that may create users but not give roles creates users only.
	g = newFixture(t, func(tn *tenant.Tenant) {
		tn.Roles["clerk"] = tenant.RoleSpec{Rank: 20, Scopes: []string{"users:write"}}
	})
	clerk := identity.User{ID: "clerk-1", TenantID: "shop", Role: "clerk", Active: true}
	if _, err := g.svc.CreateUser(ctx, clerk, admin.NewUser{Email: "u@example.com", FirstName: "U", LastName: "Ser"}); err != nil {
		t.Fatalf("clerk creates a user: %v", err)
	}
	_, err = g.svc.CreateUser(ctx, clerk, admin.NewUser{Email: "v@example.com", FirstName: "V", LastName: "Ser", Role: identity.RoleStaff})
	wantForbidden(t, "clerk creates staff", err, "roles:assign")
}

// TestCreateMakesAnInvitedAccountWithoutAPassword: the account is
// active, without a password, its address unverified; it is invited and
// recorded with its role; field errors come all at once; a taken address
// or phone is a conflict; a failed invitation leaves the account.
func TestCreateMakesAnInvitedAccountWithoutAPassword(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	adm := f.by[identity.RoleAdmin]
	c, err := f.svc.CreateUser(ctx, adm, admin.NewUser{Email: " Ann.Lee@Example.com ", FirstName: " Ann ", LastName: "Lee", Phone: "07400 123456"})
	if err != nil {
		t.Fatal(err)
	}
	u := c.User
	if !c.Invited || u.ID == "" || u.Email != "Ann.Lee@Example.com" || u.EmailKey != "ann.lee@example.com" || u.FirstName != "Ann" ||
		u.Phone != "+447400123456" || u.Role != identity.RoleUser || !u.Active || u.EmailVerified || u.PhoneVerified || u.PasswordHash != "" ||
		!u.CreatedAt.Equal(f.clock.Now()) {
		t.Fatalf("created %+v", c)
	}
	if stored, err := f.users.ByEmail(ctx, "shop", "ann.lee@example.com"); err != nil || stored.ID != u.ID || stored.PasswordHash != "" {
		t.Fatalf("stored %+v, %v", stored, err)
	}
	if len(f.invites.sent) != 1 || f.invites.sent[0].ID != u.ID {
		t.Fatalf("invitations %+v", f.invites.sent)
	}
	if e := f.audit.Events(); len(e) != 1 || e[0].Type != audit.AdminAction || e[0].Reason != audit.AdminUserCreated ||
		e[0].ActorID != adm.ID || e[0].TargetID != u.ID || e[0].NewRole != "user" {
		t.Fatalf("recorded %+v", e)
	}

	_, err = f.svc.CreateUser(ctx, adm, admin.NewUser{Email: "not an address", LastName: "\u200bLee", Phone: "12", Role: "emperor"})
	wantFields(t, "bad fields", err, "email", "first_name", "last_name", "phone", "role")
	for _, c := range []struct {
		in   admin.NewUser
		want error
	}{
		{admin.NewUser{Email: "ANN.LEE@example.com", FirstName: "A", LastName: "L"}, identity.ErrEmailTaken},
		{admin.NewUser{Email: "other@example.com", FirstName: "A", LastName: "L", Phone: "+44 7400 123456"}, identity.ErrPhoneTaken},
	} {
		if _, err := f.svc.CreateUser(ctx, adm, c.in); !errors.Is(err, c.want) || errs.KindOf(err) != errs.Conflict {
			t.Errorf("create %+v: %v, want %v", c.in, err, c.want)
		}
	}
	if n := len(f.audit.Events()); n != 1 {
		t.Fatalf("%d events after refused creates, want 1", n)
	}

	f.invites.fail = errors.New("mail down")
	c, err = f.svc.CreateUser(ctx, adm, admin.NewUser{Email: "bob@example.com", FirstName: "Bob", LastName: "Ray"})
	if err != nil || c.Invited {
		t.Fatalf("create with the mail down: %+v, %v; want the account, not invited", c, err)
	}
	if _, err := f.users.ByID(ctx, "shop", c.User.ID); err != nil {
		t.Fatalf("the account of a failed invitation: %v", err)
	}
}

// TestUpdateProfileChangesOnlyTheFieldsGiven: the fields given change
// (a new address and number unverified, a number removed), the others
// stay; an actor acts only on a user of a lower rank; bad fields are
// reported at once and change nothing; taken ones are conflicts.
func TestUpdateProfileChangesOnlyTheFieldsGiven(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	adm, manager := f.by[identity.RoleAdmin], f.by["manager"]
	ann := f.create(t, admin.NewUser{Email: "ann@example.com", FirstName: "Ann", LastName: "Lee", Phone: "+447400123456"})
	bob := f.create(t, admin.NewUser{Email: "bob@example.com", FirstName: "Bob", LastName: "Ray", Phone: "+447400123457"})
	f.audit.Reset()
	f.clock.Advance(time.Hour)

	u, err := f.svc.UpdateProfile(ctx, manager, ann.ID, admin.ProfileChange{LastName: ptr(" King "), Email: ptr("Ann.King@Example.com")})
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := f.users.ByID(ctx, "shop", ann.ID)
	for _, x := range []identity.User{u, stored} {
		if x.FirstName != "Ann" || x.LastName != "King" || x.Email != "Ann.King@Example.com" || x.EmailKey != "ann.king@example.com" ||
			x.EmailVerified || x.Phone != "+447400123456" || !x.UpdatedAt.Equal(f.clock.Now()) {
			t.Fatalf("after the change %+v", x)
		}
	}
	if _, err := f.users.ByEmail(ctx, "shop", "ann@example.com"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("the old address still finds the user: %v", err)
	}
	u, err = f.svc.UpdateProfile(ctx, adm, ann.ID, admin.ProfileChange{Phone: ptr("")})
	if err != nil || u.Phone != "" {
		t.Fatalf("remove the number: %+v, %v", u, err)
	}
	if u, err = f.svc.UpdateProfile(ctx, adm, ann.ID, admin.ProfileChange{Phone: ptr("07400 123458")}); err != nil || u.Phone != "+447400123458" || u.PhoneVerified {
		t.Fatalf("a number in the tenant's national form: %+v, %v", u, err)
	}
	if e := f.audit.Of(audit.AdminAction); len(e) != 3 || e[0].Reason != audit.AdminProfileUpdated || e[0].ActorID != manager.ID || e[0].TargetID != ann.ID {
		t.Fatalf("recorded %+v, want three profile.updated by their actors", f.audit.Events())
	}

	// Nothing to change: nothing written, nothing recorded.
	f.audit.Reset()
	if u, err = f.svc.UpdateProfile(ctx, adm, ann.ID, admin.ProfileChange{FirstName: ptr("Ann"), Email: ptr("ANN.KING@example.com")}); err != nil || u.Email != "Ann.King@Example.com" {
		t.Fatalf("a change to what the user has: %+v, %v", u, err)
	}
	if n := len(f.audit.Events()); n != 0 {
		t.Fatalf("%d events for no change", n)
	}

	_, err = f.svc.UpdateProfile(ctx, adm, ann.ID, admin.ProfileChange{FirstName: ptr(" "), Email: ptr("nope"), Phone: ptr("+1")})
	wantFields(t, "bad fields", err, "first_name", "email", "phone")
	_, err = f.svc.UpdateProfile(ctx, adm, ann.ID, admin.ProfileChange{LastName: ptr("Changed"), Email: ptr("bob@example.com")})
	if !errors.Is(err, identity.ErrEmailTaken) {
		t.Fatalf("a taken address: %v", err)
	}
	_, err = f.svc.UpdateProfile(ctx, adm, ann.ID, admin.ProfileChange{LastName: ptr("Changed"), Phone: ptr(bob.Phone)})
	if !errors.Is(err, identity.ErrPhoneTaken) {
		t.Fatalf("a taken number: %v", err)
	}
	if got, _ := f.users.ByID(ctx, "shop", ann.ID); got.LastName != "King" || got.Email != "Ann.King@Example.com" || got.Phone != "+447400123458" {
		t.Fatalf("refused changes changed the user: %+v", got)
	}

	// Ranks: not an equal, not a higher one.
	_, err = f.svc.UpdateProfile(ctx, adm, "admin-2", admin.ProfileChange{FirstName: ptr("Eve")})
	wantForbidden(t, "admin updates an admin", err, "")
	_, err = f.svc.UpdateProfile(ctx, manager, "admin-1", admin.ProfileChange{FirstName: ptr("Eve")})
	wantForbidden(t, "manager updates an admin", err, "")
	if _, err := f.svc.UpdateProfile(ctx, adm, "nobody", admin.ProfileChange{FirstName: ptr("Eve")}); !errors.Is(err, admin.ErrUserNotFound) {
		t.Fatalf("an unknown user: %v", err)
	}
	if e := f.audit.Events(); len(e) != 2 || e[0].Reason != "profile.update/rank" || e[0].TargetID != "admin-2" ||
		e[1].Reason != "profile.update/rank" || e[1].ActorID != manager.ID {
		t.Fatalf("events for refused changes %+v; want the two refused for rank, as admin.denied", e)
	}
}

// TestListUsersFiltersAndPages: newest first, filtered as typed (an
// address prefix in any case, a number in the tenant's national form),
// pages that join without a gap or a duplicate and end with no cursor,
// and every bad filter named.
func TestListUsersFiltersAndPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	staff := f.by[identity.RoleStaff]
	var made []string
	for i, e := range []string{"ada@example.com", "adam@example.com", "bob@example.com", "ADELE@example.com", "cyd@example.com"} {
		f.clock.Advance(time.Minute)
		in := admin.NewUser{Email: e, FirstName: "F", LastName: "L"}
		if i == 2 {
			in.Phone = "+447400100002"
		}
		made = append(made, f.create(t, in).ID)
	}
	if _, err := f.svc.SetActive(ctx, f.by[identity.RoleAdmin], made[1], false); err != nil {
		t.Fatal(err)
	}
	slices.Reverse(made) // newest first

	p, err := f.svc.ListUsers(ctx, staff, admin.UserQuery{Limit: 2})
	if err != nil || len(p.Users) != 2 || p.Next == "" {
		t.Fatalf("first page: %+v, %v", p, err)
	}
	var walked []string
	for q := (admin.UserQuery{Limit: 2}); ; {
		p, err := f.svc.ListUsers(ctx, staff, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range p.Users {
			walked = append(walked, u.ID)
		}
		if p.Next == "" {
			break
		}
		q.Cursor = p.Next
	}
	// The five made, then the fixture's six (created at one zero instant).
	if len(walked) != 11 || !slices.Equal(walked[:5], made) {
		t.Fatalf("walk %v, want %v first and 11 in all", walked, made)
	}
	seen := map[string]bool{}
	for _, id := range walked {
		if seen[id] {
			t.Fatalf("%s listed twice in %v", id, walked)
		}
		seen[id] = true
	}
	if p, err := f.svc.ListUsers(ctx, staff, admin.UserQuery{Limit: 11}); err != nil || p.Next != "" || len(p.Users) != 11 {
		t.Fatalf("a page holding them all: %d users, next %q, %v", len(p.Users), p.Next, err)
	}

	for _, c := range []struct {
		q    admin.UserQuery
		want []string
	}{
		{admin.UserQuery{Email: "AD"}, []string{made[1], made[3], made[4], "admin-1"}}, // admin@example.com too
		{admin.UserQuery{Email: "adam@"}, []string{made[3]}},
		{admin.UserQuery{Phone: "07400 100002"}, []string{made[2]}},
		{admin.UserQuery{Email: "ad", Status: "disabled"}, []string{made[3]}},
		{admin.UserQuery{Email: "ad", Status: "active", Role: "user"}, []string{made[1], made[4]}},
		{admin.UserQuery{Role: "manager"}, []string{"manager-1"}},
	} {
		p, err := f.svc.ListUsers(ctx, staff, c.q)
		var got []string
		for _, u := range p.Users {
			got = append(got, u.ID)
		}
		if err != nil || !slices.Equal(got, c.want) || p.Next != "" {
			t.Errorf("%+v: %v next %q, %v; want %v", c.q, got, p.Next, err, c.want)
		}
	}

	_, err = f.svc.ListUsers(ctx, staff, admin.UserQuery{Email: "a\u200b", Phone: "not a number", Role: "emperor", Status: "asleep", Limit: admin.MaxUserLimit + 1, Cursor: "!!"})
	wantFields(t, "every bad filter", err, "email", "phone", "role", "status", "limit", "cursor")
	for _, bad := range []string{"bm90IGEgY3Vyc29y", "MTIzNDU", strings.Repeat("A", 600)} {
		_, err = f.svc.ListUsers(ctx, staff, admin.UserQuery{Cursor: bad})
		wantFields(t, "cursor "+bad[:min(len(bad), 20)], err, "cursor")
	}
	if _, err := f.svc.ListUsers(ctx, staff, admin.UserQuery{Limit: admin.MaxUserLimit}); err != nil {
		t.Fatalf("the largest page: %v", err)
	}
}

// TestIssueLoginLink: a link for a user the actor outranks, with the
// actor as the issuer; a key drawn when none is given (and only then
// handed back); next only where the tenant redirects; no link for a
// disabled user or on a tenant that does not serve the links.
func TestIssueLoginLink(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	staff := f.by[identity.RoleStaff]
	l, err := f.svc.IssueLoginLink(ctx, staff, "user-1", admin.LinkRequest{Next: "https://app.shop.example/cart"})
	if err != nil {
		t.Fatal(err)
	}
	if l.Token != "tok-user-1" || l.UserID != "user-1" || len(l.SecretKey) != 22 || l.Next != "https://app.shop.example/cart" || l.ExpiresAt.IsZero() {
		t.Fatalf("issued %+v", l)
	}
	if a := f.links.asked; len(a) != 1 || a[0].Actor.ID != staff.ID || a[0].UserID != "user-1" || a[0].SecretKey != l.SecretKey {
		t.Fatalf("asked %+v", a)
	}
	l, err = f.svc.IssueLoginLink(ctx, staff, "user-1", admin.LinkRequest{SecretKey: " my key "})
	if err != nil || l.SecretKey != "" || f.links.asked[1].SecretKey != "my key" {
		t.Fatalf("with a key of the actor's: %+v, %v, asked %+v", l, err, f.links.asked[1])
	}
	_, err = f.svc.IssueLoginLink(ctx, staff, "user-1", admin.LinkRequest{Next: "https://evil.example/"})
	wantFields(t, "a next elsewhere", err, "next")
	if _, err := f.svc.IssueLoginLink(ctx, staff, "nobody", admin.LinkRequest{}); !errors.Is(err, admin.ErrUserNotFound) {
		t.Fatalf("an unknown user: %v", err)
	}
	if _, err := f.svc.SetActive(ctx, f.by[identity.RoleAdmin], "user-1", false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.IssueLoginLink(ctx, staff, "user-1", admin.LinkRequest{}); !errors.Is(err, admin.ErrUserDisabled) {
		t.Fatalf("a disabled user: %v", err)
	}
	g := newFixture(t, func(tn *tenant.Tenant) { tn.Profiles.Seed000 = false })
	if _, err := g.svc.IssueLoginLink(ctx, g.by[identity.RoleStaff], "user-1", admin.LinkRequest{}); !errors.Is(err, admin.ErrLinksNotServed) {
		t.Fatalf("a tenant without seed 000: %v", err)
	}
	if len(f.links.asked) != 2 || len(g.links.asked) != 0 {
		t.Fatalf("refused links were asked for: %+v %+v", f.links.asked, g.links.asked)
	}
}

// TestEveryAdminActionIsRecordedWithActorAndTarget: disable and enable,
// a role change (old and new role), a second-factor reset and ended
// sessions, each with who acted on whom; refused actions record nothing.
func TestEveryAdminActionIsRecordedWithActorAndTarget(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	adm := f.by[identity.RoleAdmin]
	steps := []func() error{
		func() error { _, err := f.svc.SetActive(ctx, adm, "user-1", false); return err },
		func() error { _, err := f.svc.SetActive(ctx, adm, "user-1", true); return err },
		func() error { _, err := f.svc.SetRole(ctx, adm, "user-1", identity.RoleStaff); return err },
		func() error { _, err := f.svc.SetRole(ctx, adm, "user-1", identity.RoleStaff); return err }, // no change
		func() error { return f.svc.ResetMFA(ctx, adm, "user-1") },
		func() error { _, err := f.svc.RevokeSessions(ctx, adm, "user-1"); return err },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	want := []audit.Event{
		{Type: audit.UserDisabled}, {Type: audit.UserEnabled}, {Type: audit.RoleChanged, OldRole: "user", NewRole: "staff"},
		{Type: audit.AdminAction, Reason: audit.AdminMFAReset}, {Type: audit.AdminAction, Reason: audit.AdminSessionsRevoked},
	}
	got := f.audit.Events()
	if len(got) != len(want) {
		t.Fatalf("recorded %+v, want %d events", got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Type != w.Type || g.Reason != w.Reason || g.OldRole != w.OldRole || g.NewRole != w.NewRole || g.ActorID != adm.ID || g.TargetID != "user-1" {
			t.Errorf("event %d = %+v, want %+v by %s on user-1", i, g, w, adm.ID)
		}
	}
	f.audit.Reset()
	_, _ = f.svc.SetActive(ctx, adm, "admin-2", false)
	_, _ = f.svc.SetRole(ctx, f.by[identity.RoleStaff], "user-1", identity.RoleUser)
	_ = f.svc.ResetMFA(ctx, f.by[identity.RoleStaff], "user-1")
	var reasons []string
	for _, e := range f.audit.Events() {
		if e.Type != audit.AdminDenied || e.TargetID == "" {
			t.Errorf("refused action recorded as %+v, want admin.denied on its target", e)
		}
		reasons = append(reasons, e.Reason)
	}
	if want := []string{"user.disable/rank", "role.set/roles:assign", "mfa.reset/mfa:reset"}; !slices.Equal(reasons, want) {
		t.Fatalf("refused actions recorded %q, want only %q", reasons, want)
	}
}
