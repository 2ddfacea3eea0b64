// Package jwt issues and verifies a tenant's access tokens: JWTs signed with
// EdDSA (Ed25519) under the tenant's current signing key, with the kid in the
// header and typ "at+jwt" (RFC 9068).
package jwt

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/signing"
)

var _ session.AccessTokens = (*Issuer)(nil)

// Fixed values of every access token.
const (
	// HeaderType is the typ header of an access token (RFC 9068 §2.1).
	HeaderType = "at+jwt"
	// ClaimType is the value of the "typ" claim that tells an access token
	// from any other token a tenant's keys sign.
	ClaimType = "access"
	// IssuerPrefix followed by the tenant id is the iss claim.
	IssuerPrefix = "urn:portcullis:tenant:"
	// MaxTokenLength is the longest token Verify looks at; longer ones are
	// refused before any parsing.
	MaxTokenLength = 8 << 10
	// Leeway is the clock skew tolerated on exp, nbf and iat.
	Leeway = 30 * time.Second
)

// maxKidLength bounds a kid; an RFC 7638 thumbprint has 43 characters.
const maxKidLength = 64

// KeySource is a tenant's signing keys; *keyring.Ring is one.
type KeySource interface {
	// Current returns the key new tokens are signed with.
	Current(ctx context.Context) (signing.Key, error)
	// Lookup returns the key with the given kid, or false.
	Lookup(ctx context.Context, kid string) (signing.Key, bool, error)
}

// Issuer issues and verifies one tenant's access tokens. It is safe for
// concurrent use.
type Issuer struct {
	tenantID string
	issuer   string
	keys     KeySource
	clock    platform.Clock
	ttl      time.Duration
	parser   *gojwt.Parser
}

// New returns the issuer of tenantID's access tokens, signing with keys and
// giving each token ttl unless the claims say when it expires.
func New(tenantID string, keys KeySource, clock platform.Clock, ttl time.Duration) *Issuer {
	iss := IssuerPrefix + tenantID
	return &Issuer{
		tenantID: tenantID,
		issuer:   iss,
		keys:     keys,
		clock:    clock,
		ttl:      ttl,
		parser: gojwt.NewParser(
			gojwt.WithValidMethods([]string{signing.AlgEdDSA}),
			gojwt.WithIssuer(iss),
			gojwt.WithAudience(tenantID),
			gojwt.WithExpirationRequired(),
			gojwt.WithIssuedAt(),
			gojwt.WithTimeFunc(clock.Now),
			gojwt.WithLeeway(Leeway),
			gojwt.WithStrictDecoding(),
		),
	}
}

// claims is the payload of an access token.
type claims struct {
	gojwt.RegisteredClaims
	SessionID string   `json:"sid"`
	Role      string   `json:"role"`
	AMR       []string `json:"amr,omitempty"`
	Type      string   `json:"typ"`
}

// Validate runs after the registered claims have been checked.
func (c *claims) Validate() error {
	switch {
	case c.Type != ClaimType:
		return fmt.Errorf("typ claim %q, want %q", c.Type, ClaimType)
	case c.Subject == "":
		return errors.New("no sub claim")
	case c.SessionID == "":
		return errors.New("no sid claim")
	case c.ID == "":
		return errors.New("no jti claim")
	case c.IssuedAt == nil:
		return errors.New("no iat claim")
	}
	return nil
}

// Issue signs an access token for c with the tenant's current key. A zero
// IssuedAt means now, a zero ExpiresAt IssuedAt plus the issuer's ttl, an
// empty ID a random jti. Times are kept to the second.
func (i *Issuer) Issue(ctx context.Context, c session.AccessClaims) (string, error) {
	if c.Subject == "" || c.SessionID == "" {
		return "", errors.New("jwt: an access token needs a subject and a session id")
	}
	iat := c.IssuedAt
	if iat.IsZero() {
		iat = i.clock.Now()
	}
	exp := c.ExpiresAt
	if exp.IsZero() {
		exp = iat.Add(i.ttl)
	}
	if !exp.Truncate(time.Second).After(iat.Truncate(time.Second)) {
		return "", fmt.Errorf("jwt: access token would expire (%s) no later than it is issued (%s)", exp, iat)
	}
	jti := c.ID
	if jti == "" {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("jwt: jti: %w", err)
		}
		jti = base64.RawURLEncoding.EncodeToString(b[:])
	}
	key, err := i.keys.Current(ctx)
	if err != nil {
		return "", fmt.Errorf("jwt: signing key of tenant %s: %w", i.tenantID, err)
	}
	t := gojwt.NewWithClaims(gojwt.SigningMethodEdDSA, &claims{
		RegisteredClaims: gojwt.RegisteredClaims{
			Issuer:    i.issuer,
			Subject:   c.Subject,
			Audience:  gojwt.ClaimStrings{i.tenantID},
			ExpiresAt: gojwt.NewNumericDate(exp),
			IssuedAt:  gojwt.NewNumericDate(iat),
			ID:        jti,
		},
		SessionID: c.SessionID,
		Role:      string(c.Role),
		AMR:       c.AMR,
		Type:      ClaimType,
	})
	t.Header["typ"] = HeaderType
	t.Header["kid"] = key.ID
	s, err := t.SignedString(key.Private)
	if err != nil {
		return "", fmt.Errorf("jwt: sign: %w", err)
	}
	return s, nil
}

// lookupError carries a failure of the key source out of the keyfunc, so that
// an outage is not mistaken for a forged token.
type lookupError struct{ err error }

func (e *lookupError) Error() string { return "look up signing key: " + e.err.Error() }
func (e *lookupError) Unwrap() error { return e.err }

// Verify checks token's signature against this tenant's keys and its claims
// at the clock's time, and returns what it asserts. Every token that is not
// a valid access token of this tenant fails with session.ErrInvalidToken,
// the reason attached as the cause; only a failure to read the tenant's keys
// fails otherwise.
func (i *Issuer) Verify(ctx context.Context, token string) (session.AccessClaims, error) {
	if len(token) > MaxTokenLength {
		return session.AccessClaims{}, session.ErrInvalidToken.Wrap(fmt.Errorf("token of %d bytes exceeds %d", len(token), MaxTokenLength))
	}
	var c claims
	_, err := i.parser.ParseWithClaims(token, &c, func(t *gojwt.Token) (any, error) {
		return i.verificationKey(ctx, t)
	})
	if err != nil {
		var le *lookupError
		if errors.As(err, &le) {
			return session.AccessClaims{}, fmt.Errorf("jwt: tenant %s: %w", i.tenantID, le.err)
		}
		return session.AccessClaims{}, session.ErrInvalidToken.Wrap(err)
	}
	out := session.AccessClaims{
		Subject:   c.Subject,
		SessionID: c.SessionID,
		Role:      identity.Role(c.Role),
		AMR:       c.AMR,
		ID:        c.ID,
		IssuedAt:  c.IssuedAt.UTC(),
		ExpiresAt: c.ExpiresAt.UTC(),
	}
	return out, nil
}

// verificationKey checks the header and finds the public key named by kid
// among this tenant's keys. The parser has already refused every alg other
// than EdDSA.
func (i *Issuer) verificationKey(ctx context.Context, t *gojwt.Token) (any, error) {
	if typ, _ := t.Header["typ"].(string); typ != HeaderType {
		return nil, fmt.Errorf("typ header %#v, want %q", t.Header["typ"], HeaderType)
	}
	// RFC 7515 §4.1.11: extensions we do not understand must be refused.
	if _, ok := t.Header["crit"]; ok {
		return nil, errors.New("crit header present")
	}
	kid, ok := t.Header["kid"].(string)
	if !ok || !validKid(kid) {
		return nil, fmt.Errorf("kid header %#v missing or malformed", t.Header["kid"])
	}
	key, found, err := i.keys.Lookup(ctx, kid)
	if err != nil {
		return nil, &lookupError{err}
	}
	if !found || key.TenantID != i.tenantID {
		return nil, fmt.Errorf("kid %q is not a key of tenant %s", kid, i.tenantID)
	}
	return key.Public, nil
}

// validKid accepts a short base64url string, the form of every kid this
// server mints, so that nothing odd reaches a key store.
func validKid(kid string) bool {
	if kid == "" || len(kid) > maxKidLength {
		return false
	}
	for _, r := range []byte(kid) {
		switch {
		case 'A' <= r && r <= 'Z', 'a' <= r && r <= 'z', '0' <= r && r <= '9', r == '-', r == '_':
		default:
			return false
		}
	}
	return true
}
