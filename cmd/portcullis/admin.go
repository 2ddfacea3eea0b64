package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/portcullis/portcullis/adapters/commonpass"
	"github.com/portcullis/portcullis/adapters/crypto/argon2"
	"github.com/portcullis/portcullis/adapters/mongo"
	"github.com/portcullis/portcullis/application/setuplink"
	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/link"
	"github.com/portcullis/portcullis/domain/tenant"
)

// adminUsage is the help of the admin commands.
const adminUsage = `usage:
  portcullis admin create  -tenant ID -email ADDRESS [-role ROLE] [-first-name N] [-last-name N]
                           [-link [-link-ttl DURATION]] [-config FILE]
  portcullis admin promote -tenant ID -email ADDRESS -role ROLE [-config FILE]

create makes an active account with a verified address (role admin unless
-role says otherwise); its password is read as one line from standard input,
or prompted for twice without echo when standard input is a terminal.
With -link nothing is read: the account is made without a password, and a
one-time set-password link is printed as the only line of standard output
(when it expires goes to standard error). The link works once, for 24h or
-link-ttl (at most 168h), and dies as soon as the account's password or
address changes; it is signed with a key derived from the master key, so
the server needs no record of it.
promote gives an existing account a role and ends its sessions.
Both work on the store the configuration names: a MongoDB URI, or the
embedded store under data_dir of a stopped server.`

// adminCommand runs `portcullis admin create|promote`.
func adminCommand(args []string, in *os.File, out, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "create" && args[0] != "promote") {
		fmt.Fprintln(stderr, adminUsage)
		return 2
	}
	sub := args[0]
	fs := flag.NewFlagSet("portcullis admin "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := configFlag(fs)
	tenantID := fs.String("tenant", "", "the tenant of the account")
	email := fs.String("email", "", "the account's e-mail address")
	role := fs.String("role", "", "the role: user, staff or admin (create: admin by default)")
	first := fs.String("first-name", "Admin", "create: the first name")
	last := fs.String("last-name", "Admin", "create: the last name")
	withLink := fs.Bool("link", false, "create: print a one-time set-password link instead of reading a password")
	linkTTL := fs.Duration("link-ttl", setuplink.DefaultTTL, "create -link: how long the link works, at most "+setuplink.MaxTTL.String())
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	ttlSet := false
	fs.Visit(func(f *flag.Flag) { ttlSet = ttlSet || f.Name == "link-ttl" })
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "portcullis admin "+sub+": "+format+"\n", a...)
		return 1
	}
	if *tenantID == "" || *email == "" {
		return fail("-tenant and -email are required")
	}
	switch {
	case *withLink && sub != "create":
		return fail("-link is only for create")
	case ttlSet && !*withLink:
		return fail("-link-ttl goes with -link")
	case *linkTTL <= 0 || *linkTTL > setuplink.MaxTTL:
		return fail("-link-ttl %s is not between 0 and %s", *linkTTL, setuplink.MaxTTL)
	}
	r := identity.Role(*role)
	switch {
	case r == "" && sub == "create":
		r = identity.RoleAdmin
	case r == "":
		return fail("-role is required")
	default:
		if _, ok := identity.DefaultRights()[r]; !ok {
			return fail("-role %q is not a role (user, staff, admin)", r)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, db, t, closeDB, err := openTenant(ctx, *configPath, *tenantID)
	if err != nil {
		return fail("%v", err)
	}
	defer closeDB()
	users := mongo.NewUserStore(db)
	switch sub {
	case "create":
		if *withLink {
			return createWithLink(ctx, cfg, t, users, identity.Profile{Email: *email, FirstName: *first, LastName: *last}, r, *linkTTL, out, stderr, fail)
		}
		pw, err := readNewPassword(in, stderr)
		if err != nil {
			return fail("%v", err)
		}
		u, err := createAccount(ctx, t, users, identity.Profile{Email: *email, FirstName: *first, LastName: *last}, pw, r)
		if err != nil {
			return fail("%v", err)
		}
		fmt.Fprintf(out, "created %s (id %s, role %s) in tenant %s\n", u.Email, u.ID, u.Role, t.ID)
	case "promote":
		u, ended, err := promoteAccount(ctx, t, users, mongo.NewSessionStore(db), *email, r)
		if err != nil {
			return fail("%v", err)
		}
		fmt.Fprintf(out, "%s (id %s) now has the role %s in tenant %s; %d session(s) ended\n", u.Email, u.ID, u.Role, t.ID, ended)
	}
	return 0
}

// openTenant is what a command on one tenant starts with: the platform
// configuration at configPath, the store it names (the embedded one of a
// stopped server, or mongodb_uri), and the tenant id, from the files or
// the store. closeDB closes the store.
func openTenant(ctx context.Context, configPath, id string) (cfg config.Platform, db *mongo.DB, t tenant.Tenant, closeDB func(), err error) {
	if cfg, err = config.Load(configPath, os.Environ()); err != nil {
		return cfg, nil, t, nil, err
	}
	if db, closeDB, err = provideMongo(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		return cfg, nil, t, nil, fmt.Errorf("open the store: %w", err)
	}
	if t, err = findTenant(ctx, cfg, mongo.NewTenantStore(db), id); err != nil {
		closeDB()
		return cfg, nil, t, nil, err
	}
	return cfg, db, t, closeDB, nil
}

// findTenant is the tenant id of the tenant files, else of the store.
func findTenant(ctx context.Context, cfg config.Platform, store *mongo.TenantStore, id string) (tenant.Tenant, error) {
	files, err := config.NewTenantDir(cfg.TenantsDir).Tenants(ctx)
	if err != nil {
		return tenant.Tenant{}, err
	}
	for _, t := range files {
		if t.ID == id {
			return t, nil
		}
	}
	t, err := store.Get(ctx, id)
	if errs.KindOf(err) == errs.NotFound {
		return tenant.Tenant{}, fmt.Errorf("no tenant %q in %s or in the store", id, cfg.TenantsDir)
	}
	return t, err
}

// maxPasswordLine bounds what is read of standard input.
const maxPasswordLine = 4096

// readNewPassword reads the new password: one line of standard input, or,
// from a terminal, typed twice without echo.
func readNewPassword(in *os.File, stderr io.Writer) (string, error) {
	if term.IsTerminal(int(in.Fd())) {
		fmt.Fprint(stderr, "Password: ")
		a, err := term.ReadPassword(int(in.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprint(stderr, "Again: ")
		b, err := term.ReadPassword(int(in.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		if string(a) != string(b) {
			return "", errors.New("the passwords differ")
		}
		return string(a), nil
	}
	line, err := bufio.NewReader(io.LimitReader(in, maxPasswordLine)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password on standard input")
	}
	return pw, nil
}

// accountStore is what the admin commands need of the account store.
type accountStore interface {
	Create(ctx context.Context, u identity.User) error
	ByEmail(ctx context.Context, tenantID, emailKey string) (identity.User, error)
	SetRole(ctx context.Context, tenantID, id string, role identity.Role, at time.Time) error
}

// createAccount makes an active account with a verified address: the
// operator vouches for both. The profile and the password are checked as
// at registration.
func createAccount(ctx context.Context, t tenant.Tenant, users accountStore, p identity.Profile, pw string, role identity.Role) (identity.User, error) {
	u, err := newAccount(t, p, role)
	if err != nil {
		return identity.User{}, err
	}
	pw = identity.NormalizePassword(pw)
	if err := identity.CheckPassword(pw, t.Password, commonpass.Default(), u.Email, u.FirstName, u.LastName); err != nil {
		return identity.User{}, err
	}
	if u.PasswordHash, err = argon2.New(argon2.Options{}).Hash(ctx, pw, t.Password.Hash); err != nil {
		return identity.User{}, err
	}
	if err := users.Create(ctx, u); err != nil {
		return identity.User{}, err
	}
	return u, nil
}

// newAccount is the account create makes, checked as at registration,
// before it has a password or is stored: active, with a verified address.
func newAccount(t tenant.Tenant, p identity.Profile, role identity.Role) (identity.User, error) {
	profile, key, err := identity.CheckProfile(p, t.SMS)
	if err != nil {
		return identity.User{}, err
	}
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return identity.User{}, err
	}
	now := time.Now().UTC()
	return identity.User{ID: hex.EncodeToString(raw), TenantID: t.ID, Email: profile.Email, EmailKey: key, FirstName: profile.FirstName,
		LastName: profile.LastName, Role: role, Active: true, EmailVerified: true, CreatedAt: now, UpdatedAt: now}, nil
}

// createWithLink is `admin create -link`: it makes the account without a
// password and prints a set-password link (package setuplink) to out as
// its only line, with what was made and when the link expires to stderr.
// The link is stateless, so this works on the store of a stopped server,
// whose embedded Redis is gone: it needs only the master key the server
// uses (in dev mode without one, data_dir/master.key, made here as the
// server would make it when there is none yet) and the tenant's public
// base URL the server builds its mailed links under.
func createWithLink(ctx context.Context, cfg config.Platform, t tenant.Tenant, users accountStore, p identity.Profile, role identity.Role,
	ttl time.Duration, out, stderr io.Writer, fail func(string, ...any) int) int {
	// Everything the link needs comes first: a failure must not leave an
	// account that nobody can set a password of.
	mail, err := config.EffectiveMail(t, cfg.DevMode, string(provideDevBaseURL(cfg)))
	if err != nil {
		return fail("%v", err)
	}
	if mail.BaseURL == "" {
		return fail("tenant %q has no mail.base_url: the link needs the tenant's public address", t.ID)
	}
	master, err := provideMasterKey(cfg, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		return fail("%v", err)
	}
	key, err := setuplink.DeriveKey(master, t.ID)
	if err != nil {
		return fail("%v", err)
	}
	u, err := newAccount(t, p, role)
	if err != nil {
		return fail("%v", err)
	}
	expires := time.Now().Add(ttl)
	token, err := key.Mint(u, expires)
	if err != nil {
		return fail("%v", err)
	}
	if err := users.Create(ctx, u); err != nil {
		return fail("%v", err)
	}
	fmt.Fprintln(out, link.Build(mail.BaseURL, link.Canonical.ResetPassword, token))
	fmt.Fprintf(stderr, "created %s (id %s, role %s) in tenant %s without a password; the link sets it once, until %s (%s)\n",
		u.Email, u.ID, u.Role, t.ID, expires.UTC().Format(time.RFC3339), ttl)
	return 0
}

// sessionRevoker ends a user's sessions in the store: the revocation log,
// which every running instance copies into its revocation set (and a
// stopped one at its next start).
type sessionRevoker interface {
	RevokeOthers(ctx context.Context, tenantID, userID, keepID string, at, until time.Time) ([]string, error)
}

// promoteAccount gives the account with the address role, and ends its
// sessions: their access tokens carry the old role.
func promoteAccount(ctx context.Context, t tenant.Tenant, users accountStore, sessions sessionRevoker, email string, role identity.Role) (identity.User, int, error) {
	_, key, err := identity.NormalizeEmail(email)
	if err != nil {
		return identity.User{}, 0, errs.InvalidFields(errs.FieldError{Field: "email", Reason: err.Error()})
	}
	u, err := users.ByEmail(ctx, t.ID, key)
	if errors.Is(err, errs.ErrNotFound) {
		return identity.User{}, 0, fmt.Errorf("no account with the address %s in tenant %s", email, t.ID)
	}
	if err != nil {
		return identity.User{}, 0, err
	}
	now := time.Now().UTC()
	if err := users.SetRole(ctx, t.ID, u.ID, role, now); err != nil {
		return identity.User{}, 0, err
	}
	u.Role = role
	// Revocations are announced for as long as an access token lives.
	ended, err := sessions.RevokeOthers(ctx, t.ID, u.ID, "", now, now.Add(t.Tokens.Access+time.Minute))
	if err != nil {
		return u, 0, fmt.Errorf("the role is set, but ending the sessions failed: %w", err)
	}
	return u, len(ended), nil
}
