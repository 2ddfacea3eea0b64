// Package setuplink mints and verifies set-password links: the one-time
// links `portcullis admin create -link` prints for an account it creates
// without a password, and which the password-reset flow accepts wherever
// it accepts a mailed reset token.
//
// A link's token is stateless: the command that mints it may run against
// the store of a stopped server, with no Redis to hold a code in (the
// embedded Redis lives inside the server). So the token carries what it
// is for — the account's id and an expiry — and an HMAC-SHA256 under a key
// derived from the platform master key for the tenant, over the tenant,
// the account, the expiry and fingerprints of the account's password hash
// and e-mail key. Only a holder of the master key can mint one; it dies at
// its expiry, and with any change of the account's password (its use sets
// one, so it works once) or address. Concurrent uses that all see the old
// password are the using flow's to settle (recovery spends a one-use
// marker in Redis).
package setuplink

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/domain/identity"
)

// Prefix begins every setup token. The one-time-code engine's link tokens
// are unpadded base64url, which has no ".", so a token with the prefix is
// never one of the engine's.
const Prefix = "st1."

// Lifetimes of a link: DefaultTTL unless the operator asks for another,
// at most MaxTTL.
const (
	DefaultTTL = 24 * time.Hour
	MaxTTL     = 7 * 24 * time.Hour
)

// version is the first byte of a token's payload.
const version byte = 1

// Sizes of a token's parts; a token is Prefix and the unpadded base64url
// of version | len(user id) | user id | expiry (big-endian Unix seconds) |
// MAC.
const (
	macSize    = sha256.Size
	expirySize = 8
	maxUserID  = 255
	maxToken   = len(Prefix) + (2+maxUserID+expirySize+macSize+2)/3*4
)

// ErrInvalid is any token that does not set the password of the account
// given, now: malformed, of another tenant or account, expired, tampered
// with, minted under another master key, or minted before the account's
// password or address last changed.
var ErrInvalid = errors.New("setuplink: invalid token")

// Key mints and verifies one tenant's setup tokens. The zero Key verifies
// nothing.
type Key struct {
	tenantID string
	mac      []byte
}

// DeriveKey derives tenant tenantID's key from the platform master key
// (HKDF-SHA256, info "portcullis setup-link v1" and the tenant).
func DeriveKey(master []byte, tenantID string) (Key, error) {
	k, err := platform.DeriveTenantKey(master, "portcullis setup-link v1", tenantID)
	if err != nil {
		return Key{}, err
	}
	return Key{tenantID: tenantID, mac: k}, nil
}

// Claims are what a token says of itself, before its MAC is checked.
type Claims struct {
	UserID    string
	ExpiresAt time.Time
}

// IsToken reports whether s is meant as a setup token (it has the
// prefix), so that a flow can tell it from the engine's tokens.
func IsToken(s string) bool { return strings.HasPrefix(s, Prefix) }

// Mint returns a token that sets the password of u, in u's current state,
// until expiresAt (kept to the second, rounded down).
func (k Key) Mint(u identity.User, expiresAt time.Time) (string, error) {
	if len(k.mac) == 0 {
		return "", errors.New("setuplink: no key")
	}
	if u.ID == "" || len(u.ID) > maxUserID {
		return "", fmt.Errorf("setuplink: a user id of 1 to %d bytes is required", maxUserID)
	}
	exp := expiresAt.Unix()
	b := make([]byte, 0, 2+len(u.ID)+expirySize+macSize)
	b = append(b, version, byte(len(u.ID)))
	b = append(b, u.ID...)
	b = binary.BigEndian.AppendUint64(b, uint64(exp))
	b = append(b, k.sum(u.ID, exp, u.PasswordHash, u.EmailKey)...)
	return Prefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// Parse reads a token's claims without checking its MAC: which account to
// look up before Verify. It answers ErrInvalid for a malformed token.
func Parse(token string) (Claims, error) {
	c, _, err := parse(token)
	return c, err
}

// Verify checks that token sets the password of u, in u's current state,
// at now: minted under this key for u's id, not expired, and u's password
// hash and e-mail key unchanged since. It answers ErrInvalid otherwise.
func (k Key) Verify(token string, u identity.User, now time.Time) error {
	c, mac, err := parse(token)
	if err != nil || len(k.mac) == 0 {
		return ErrInvalid
	}
	want := k.sum(c.UserID, c.ExpiresAt.Unix(), u.PasswordHash, u.EmailKey)
	// The MAC first, in constant time, whatever else is wrong.
	if !hmac.Equal(mac, want) || c.UserID != u.ID || !now.Before(c.ExpiresAt) {
		return ErrInvalid
	}
	return nil
}

func parse(token string) (Claims, []byte, error) {
	if !IsToken(token) || len(token) > maxToken {
		return Claims{}, nil, ErrInvalid
	}
	b, err := base64.RawURLEncoding.DecodeString(token[len(Prefix):])
	if err != nil || len(b) < 2 || b[0] != version {
		return Claims{}, nil, ErrInvalid
	}
	n := int(b[1])
	if n == 0 || len(b) != 2+n+expirySize+macSize {
		return Claims{}, nil, ErrInvalid
	}
	id := string(b[2 : 2+n])
	exp := int64(binary.BigEndian.Uint64(b[2+n:]))
	return Claims{UserID: id, ExpiresAt: time.Unix(exp, 0).UTC()}, b[2+n+expirySize:], nil
}

// sum is the MAC of a token: over the version, the tenant, the account,
// the expiry and fingerprints of the account's password hash and e-mail
// key (fixed-size digests, the variable parts length-prefixed, so that no
// two inputs run together).
func (k Key) sum(userID string, exp int64, passwordHash, emailKey string) []byte {
	m := hmac.New(sha256.New, k.mac)
	m.Write([]byte{version})
	m.Write(binary.BigEndian.AppendUint16(nil, uint16(len(k.tenantID))))
	m.Write([]byte(k.tenantID))
	m.Write([]byte{byte(len(userID))})
	m.Write([]byte(userID))
	m.Write(binary.BigEndian.AppendUint64(nil, uint64(exp)))
	m.Write(fingerprint(passwordHash))
	m.Write(fingerprint(emailKey))
	return m.Sum(nil)
}

// fingerprint tells one stored value from another without the token
// depending on its form: its SHA-256 (that of "" for an account without
// a password).
func fingerprint(v string) []byte {
	s := sha256.Sum256([]byte(v))
	return s[:]
}
