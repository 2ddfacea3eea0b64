// Package device recognises the places an account has logged in from, so
// that password guessing can be limited per account without the limit
// becoming a way to lock the owner out.
//
// The rule. Every password-login attempt counts against the client's IP
// budget (throttling.login_per_ip) and against one account budget, chosen
// before any hashing:
//
//   - an attempt that presents a valid device credential of this account
//     counts against that device's own budget (throttling.login_per_device);
//   - else an attempt from an address (IPv6 by /64) that logged in to this
//     account successfully within AddressTTL counts against that address's
//     own budget (the same limit);
//   - every other attempt — a stranger's — counts against the account's
//     shared budget (throttling.login_per_account).
//
// Strangers exhausting the shared budget therefore refuse only strangers:
// the owner's browsers and phones (which keep the credential) and the
// networks they log in from (for clients that keep no cookie) still have
// budgets of their own. The owner on a new device is refused like any
// stranger while the shared budget is spent: that is the guessing limit
// working. Guessing gets no easier: an attacker without a credential or the
// owner's address has the shared budget only, and a stolen credential buys
// one device's budget, not a way past the password.
//
// A device credential is issued after every successful password login that
// started a session, and renewed by each later one: it binds the tenant,
// the account's e-mail key and a random device id, expires after
// CredentialTTL, and is authenticated with HMAC-SHA256 under a per-tenant
// key derived from the platform master key (DeriveKey). It names the
// account only through the MAC, so it reveals nothing to whoever reads it.
package device

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/application/throttle"
	"github.com/portcullis/portcullis/domain/tenant"
)

// Lifetimes.
const (
	// CredentialTTL is how long a device credential is valid after the
	// login that issued or renewed it.
	CredentialTTL = 90 * 24 * time.Hour
	// AddressTTL is how long an address counts as known after a successful
	// login from it.
	AddressTTL = 30 * 24 * time.Hour
)

// maxTokenLength bounds what is parsed at all; a real credential is about
// 80 characters.
const maxTokenLength = 256

// Key is one tenant's device-credential MAC key.
type Key []byte

// DeriveKey derives tenant tenantID's device-credential key from the
// platform master key with HKDF-SHA256. The info names the purpose and the
// tenant, so the key is independent of every other key derived from the
// master key and of every other tenant's.
func DeriveKey(master []byte, tenantID string) (Key, error) {
	return platform.DeriveTenantKey(master, "portcullis device credential v1", tenantID)
}

// Places remembers the addresses accounts logged in from, shared by every
// server instance. After Remember(key, ttl), Known(key) is true until ttl
// has passed since the latest Remember of key, then false; keys are
// independent.
type Places interface {
	Remember(ctx context.Context, key string, ttl time.Duration) error
	Known(ctx context.Context, key string) (bool, error)
}

// Deps are the ports one tenant's device service uses.
type Deps struct {
	Key    Key
	Places Places
	Clock  platform.Clock
	Random platform.Random
}

// Service is one tenant's device recognition.
type Service struct {
	t tenant.Tenant
	d Deps
}

// New returns the device service of tenant t.
func New(t tenant.Tenant, d Deps) *Service { return &Service{t: t, d: d} }

// Credential is a device credential as the client keeps it.
type Credential struct {
	Token     string
	ExpiresAt time.Time
}

// Budget is the account budget a login attempt counts against.
type Budget struct {
	// Key and Limit are the limiter key and limit.
	Key   string
	Limit tenant.Limit
	// Device is the id of the presented device credential, when the
	// attempt is counted as that device's.
	Device string
	// Stranger is set when the attempt counts against the account's shared
	// budget.
	Stranger bool
}

// Budget chooses the account budget of a login attempt on the account
// with e-mail key emailKey, from ip, presenting token (may be empty).
// An address the store cannot look up is treated as a stranger's: the
// stricter budget, never a free attempt.
func (s *Service) Budget(ctx context.Context, emailKey, token string, ip netip.Addr) Budget {
	if id, ok := s.verify(token, emailKey); ok {
		return Budget{Key: throttle.LoginDevice(emailKey, id), Limit: s.t.Throttling.LoginPerDevice, Device: id}
	}
	if ip.IsValid() {
		if known, err := s.d.Places.Known(ctx, placeKey(emailKey, ip)); err == nil && known {
			return Budget{Key: throttle.LoginKnownIP(emailKey, ip), Limit: s.t.Throttling.LoginPerDevice}
		}
	}
	return Budget{Key: throttle.LoginAccount(emailKey), Limit: s.t.Throttling.LoginPerAccount, Stranger: true}
}

// Remember records a sign-in of the account with e-mail key emailKey
// from ip (IPv6 by /64): the address is known for AddressTTL from now.
// The login pipeline calls it (or Seen) for every sign-in, whatever the
// method, so that an address the owner signs in from has a password
// budget of its own. Failing to remember is not an error: the next
// sign-in tries again.
func (s *Service) Remember(ctx context.Context, emailKey string, ip netip.Addr) {
	if ip.IsValid() && emailKey != "" {
		_ = s.d.Places.Remember(ctx, placeKey(emailKey, ip), AddressTTL)
	}
}

// Seen reports whether the account with e-mail key emailKey signed in
// from ip within AddressTTL, and records this sign-in as Remember does.
// An address the store cannot look up counts as not seen (a notice too
// many, never one too few).
func (s *Service) Seen(ctx context.Context, emailKey string, ip netip.Addr) bool {
	if !ip.IsValid() || emailKey == "" {
		return false
	}
	key := placeKey(emailKey, ip)
	known, err := s.d.Places.Known(ctx, key)
	_ = s.d.Places.Remember(ctx, key, AddressTTL)
	return err == nil && known
}

// Succeeded returns the device credential for the client of a successful
// password login on the account: the presented device's renewed (same id,
// new expiry) when b was counted as a device, else a new device. (The
// address is remembered by the login pipeline, through Seen.)
func (s *Service) Succeeded(_ context.Context, emailKey string, b Budget) (Credential, error) {
	id := b.Device
	if id == "" {
		raw := make([]byte, 16)
		if _, err := io.ReadFull(s.d.Random, raw); err != nil {
			return Credential{}, fmt.Errorf("device: random: %w", err)
		}
		id = base64.RawURLEncoding.EncodeToString(raw)
	}
	exp := s.d.Clock.Now().Add(CredentialTTL).Truncate(time.Second)
	expStr := strconv.FormatInt(exp.Unix(), 10)
	return Credential{Token: "1." + id + "." + expStr + "." + s.mac(id, expStr, emailKey), ExpiresAt: exp}, nil
}

// verify returns the device id of token when it is a credential of this
// tenant for the account emailKey that has not expired.
func (s *Service) verify(token, emailKey string) (string, bool) {
	if token == "" || len(token) > maxTokenLength || emailKey == "" {
		return "", false
	}
	parts := strings.Split(token, ".")
	if len(parts) != 4 || parts[0] != "1" || parts[1] == "" {
		return "", false
	}
	id, expStr, mac := parts[1], parts[2], parts[3]
	if !hmac.Equal([]byte(mac), []byte(s.mac(id, expStr, emailKey))) {
		return "", false
	}
	exp, err := strconv.ParseInt(expStr, 10, 64)
	if err != nil || !s.d.Clock.Now().Before(time.Unix(exp, 0)) {
		return "", false
	}
	return id, true
}

// mac authenticates a credential. The fields are separated by NUL, which
// none of them can contain before the last (tenant ids are slugs, the id is
// base64url, the expiry digits), so no two credentials share an input.
func (s *Service) mac(id, exp, emailKey string) string {
	m := hmac.New(sha256.New, s.d.Key)
	m.Write([]byte("device\x00" + s.t.ID + "\x00" + id + "\x00" + exp + "\x00" + emailKey))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// placeKey is where Places keeps the account's address; the key is hashed
// by the throttle key function, so no address or e-mail is readable.
func placeKey(emailKey string, ip netip.Addr) string {
	return "known:" + throttle.LoginKnownIP(emailKey, ip)
}
