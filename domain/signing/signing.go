// Package signing holds a tenant's token-signing keys and how a key is
// identified (RFC 7638 JWK thumbprint) and published (JWK).
package signing

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"time"
)

// AlgEdDSA is the JOSE algorithm name for Ed25519 signatures.
const AlgEdDSA = "EdDSA"

// Key is one Ed25519 signing key of a tenant.
type Key struct {
	ID         string // kid: the key's RFC 7638 thumbprint
	TenantID   string
	Generation int // 1 for a tenant's first key, +1 for each rotation
	Public     ed25519.PublicKey
	Private    ed25519.PrivateKey
	CreatedAt  time.Time
	// ActivatesAt is when the key begins to sign (it is published
	// before): its creation, unless a rotation set it ahead.
	ActivatesAt time.Time
}

// NewKey builds a key from its private half, deriving the public key and kid.
func NewKey(tenantID string, generation int, private ed25519.PrivateKey, created time.Time) Key {
	pub := private.Public().(ed25519.PublicKey)
	return Key{ID: Thumbprint(pub), TenantID: tenantID, Generation: generation, Public: pub, Private: private, CreatedAt: created.UTC(),
		ActivatesAt: created.UTC()}
}

// Thumbprint returns the RFC 7638 JWK thumbprint of an Ed25519 public key:
// base64url(SHA-256 of {"crv":"Ed25519","kty":"OKP","x":"..."}).
func Thumbprint(pub ed25519.PublicKey) string {
	canonical := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// JWK is the public part of a key as RFC 8037 publishes it.
type JWK struct {
	KeyType   string `json:"kty"`
	Curve     string `json:"crv"`
	X         string `json:"x"`
	KeyID     string `json:"kid"`
	Use       string `json:"use"`
	Algorithm string `json:"alg"`
}

// PublicJWK returns the key's public JWK.
func (k Key) PublicJWK() JWK {
	return JWK{KeyType: "OKP", Curve: "Ed25519", X: base64.RawURLEncoding.EncodeToString(k.Public), KeyID: k.ID, Use: "sig", Algorithm: AlgEdDSA}
}
