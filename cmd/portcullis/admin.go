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
	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/tenant"
)

// adminUsage is the help of the admin commands.
const adminUsage = `usage:
  portcullis admin create  -tenant ID -email ADDRESS [-role ROLE] [-first-name N] [-last-name N] [-config FILE]
  portcullis admin promote -tenant ID -email ADDRESS -role ROLE [-config FILE]

create makes an active account with a verified address (role admin unless
-role says otherwise); its password is read as one line from standard input,
or prompted for twice without echo when standard input is a terminal.
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
	configPath := fs.String("config", os.Getenv(config.EnvConfigFile), "platform configuration file (YAML); env "+config.EnvConfigFile)
	tenantID := fs.String("tenant", "", "the tenant of the account")
	email := fs.String("email", "", "the account's e-mail address")
	role := fs.String("role", "", "the role: user, staff or admin (create: admin by default)")
	first := fs.String("first-name", "Admin", "create: the first name")
	last := fs.String("last-name", "Admin", "create: the last name")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "portcullis admin "+sub+": "+format+"\n", a...)
		return 1
	}
	if *tenantID == "" || *email == "" {
		return fail("-tenant and -email are required")
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
	cfg, err := config.Load(*configPath, os.Environ())
	if err != nil {
		return fail("%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, closeDB, err := provideMongo(ctx, cfg, log)
	if err != nil {
		return fail("open the store: %v", err)
	}
	defer closeDB()
	t, err := findTenant(ctx, cfg, mongo.NewTenantStore(db), *tenantID)
	if err != nil {
		return fail("%v", err)
	}
	users := mongo.NewUserStore(db)
	switch sub {
	case "create":
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
	profile, key, err := identity.CheckProfile(p, t.SMS)
	if err != nil {
		return identity.User{}, err
	}
	pw = identity.NormalizePassword(pw)
	if err := identity.CheckPassword(pw, t.Password, commonpass.Default(), profile.Email, profile.FirstName, profile.LastName); err != nil {
		return identity.User{}, err
	}
	hash, err := argon2.New(argon2.Options{}).Hash(ctx, pw, t.Password.Hash)
	if err != nil {
		return identity.User{}, err
	}
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return identity.User{}, err
	}
	now := time.Now().UTC()
	u := identity.User{ID: hex.EncodeToString(raw), TenantID: t.ID, Email: profile.Email, EmailKey: key, FirstName: profile.FirstName,
		LastName: profile.LastName, Role: role, Active: true, EmailVerified: true, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	if err := users.Create(ctx, u); err != nil {
		return identity.User{}, err
	}
	return u, nil
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
