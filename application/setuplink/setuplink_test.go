package setuplink_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/setuplink"
	"github.com/portcullis/portcullis/domain/identity"
)

var (
	master = []byte("a master key of at least sixteen bytes")
	now    = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
)

func key(t *testing.T, master []byte, tenantID string) setuplink.Key {
	t.Helper()
	k, err := setuplink.DeriveKey(master, tenantID)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// admin is an account as `admin create -link` makes it: no password.
func admin() identity.User {
	return identity.User{ID: "0123456789abcdef0123456789abcdef", TenantID: "shop", Email: "boss@example.com",
		EmailKey: "boss@example.com", Role: identity.RoleAdmin, Active: true, EmailVerified: true}
}

func mint(t *testing.T, k setuplink.Key, u identity.User, exp time.Time) string {
	t.Helper()
	tok, err := k.Mint(u, exp)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestARoundTripVerifiesAndParses(t *testing.T) {
	t.Parallel()
	k, u := key(t, master, "shop"), admin()
	exp := now.Add(setuplink.DefaultTTL)
	tok := mint(t, k, u, exp)
	if !strings.HasPrefix(tok, setuplink.Prefix) || !setuplink.IsToken(tok) {
		t.Fatalf("token %q lacks the prefix", tok)
	}
	if err := k.Verify(tok, u, now); err != nil {
		t.Fatalf("verify: %v", err)
	}
	c, err := setuplink.Parse(tok)
	if err != nil || c.UserID != u.ID || !c.ExpiresAt.Equal(exp) {
		t.Fatalf("claims %+v %v", c, err)
	}
	// Another mint of the same account and expiry is the same token: it
	// is a MAC, not a random draw.
	if again := mint(t, k, u, exp); again != tok {
		t.Fatalf("two mints differ: %q %q", tok, again)
	}
}

func TestATokenIsRefused(t *testing.T) {
	t.Parallel()
	k, u := key(t, master, "shop"), admin()
	tok := mint(t, k, u, now.Add(time.Hour))
	changed := func(f func(*identity.User)) identity.User { v := u; f(&v); return v }
	tamper := func(i int) string {
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, setuplink.Prefix))
		if err != nil {
			t.Fatal(err)
		}
		b[(i+len(b))%len(b)] ^= 1
		return setuplink.Prefix + base64.RawURLEncoding.EncodeToString(b)
	}
	cases := []struct {
		name  string
		key   setuplink.Key
		token string
		user  identity.User
		at    time.Time
	}{
		{"of another tenant", key(t, master, "other"), tok, u, now},
		{"under another master key", key(t, []byte("another master key, also long enough"), "shop"), tok, u, now},
		{"by the zero key", setuplink.Key{}, tok, u, now},
		{"for another user", k, tok, changed(func(v *identity.User) { v.ID = "fedcba9876543210fedcba9876543210" }), now},
		{"for another user's token", k, mint(t, k, changed(func(v *identity.User) { v.ID = "someone else" }), now.Add(time.Hour)), u, now},
		{"at its expiry", k, tok, u, now.Add(time.Hour)},
		{"after its expiry", k, tok, u, now.Add(2 * time.Hour)},
		{"after a password was set", k, tok, changed(func(v *identity.User) { v.PasswordHash = "$argon2id$v=19$new" }), now},
		{"after an address change", k, tok, changed(func(v *identity.User) { v.EmailKey = "new@example.com" }), now},
		{"with a tampered user id", k, tamper(2), u, now},
		{"with a tampered expiry", k, tamper(2 + len(u.ID) + 7), u, now},
		{"with a tampered MAC", k, tamper(-1), u, now},
		{"with a tampered version", k, tamper(0), u, now},
		{"without the prefix", k, strings.TrimPrefix(tok, setuplink.Prefix), u, now},
		{"cut short", k, tok[:len(tok)-4], u, now},
		{"lengthened", k, tok + "AAAA", u, now},
		{"not base64url", k, setuplink.Prefix + "!!!!", u, now},
		{"empty", k, "", u, now},
		{"the prefix alone", k, setuplink.Prefix, u, now},
		{"too long", k, setuplink.Prefix + strings.Repeat("A", 4096), u, now},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if err := c.key.Verify(c.token, c.user, c.at); !errors.Is(err, setuplink.ErrInvalid) {
				t.Fatalf("verify: %v, want ErrInvalid", err)
			}
		})
	}
}

func TestALongerExpiryIsAnotherToken(t *testing.T) {
	t.Parallel()
	k, u := key(t, master, "shop"), admin()
	short, long := mint(t, k, u, now.Add(time.Hour)), mint(t, k, u, now.Add(setuplink.MaxTTL))
	// Splice the long expiry into the short token: the MAC no longer fits.
	bs, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(short, setuplink.Prefix))
	bl, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(long, setuplink.Prefix))
	at := 2 + len(u.ID)
	copy(bs[at:at+8], bl[at:at+8])
	spliced := setuplink.Prefix + base64.RawURLEncoding.EncodeToString(bs)
	if err := k.Verify(spliced, u, now.Add(2*time.Hour)); !errors.Is(err, setuplink.ErrInvalid) {
		t.Fatalf("a spliced expiry: %v", err)
	}
	if err := k.Verify(long, u, now.Add(2*time.Hour)); err != nil {
		t.Fatalf("the long token: %v", err)
	}
}

func TestMintRefusesWhatItCannotBind(t *testing.T) {
	t.Parallel()
	k := key(t, master, "shop")
	for _, c := range []struct {
		name string
		key  setuplink.Key
		user identity.User
	}{
		{"no id", k, identity.User{}},
		{"a long id", k, identity.User{ID: strings.Repeat("x", 256)}},
		{"by the zero key", setuplink.Key{}, admin()},
	} {
		if _, err := c.key.Mint(c.user, now.Add(time.Hour)); err == nil {
			t.Errorf("%s: minted", c.name)
		}
	}
	if _, err := setuplink.DeriveKey([]byte("short"), "shop"); err == nil {
		t.Error("a short master key derived a key")
	}
	if _, err := setuplink.DeriveKey(master, ""); err == nil {
		t.Error("no tenant derived a key")
	}
}

func TestATokenNeverLooksLikeAnEngineToken(t *testing.T) {
	t.Parallel()
	// The engine's link tokens are unpadded base64url: no ".".
	if !strings.ContainsRune(setuplink.Prefix, '.') {
		t.Fatalf("prefix %q could begin an engine token", setuplink.Prefix)
	}
	if setuplink.IsToken("c3QxLmFiYw") {
		t.Fatal("a base64url token taken for a setup token")
	}
}
