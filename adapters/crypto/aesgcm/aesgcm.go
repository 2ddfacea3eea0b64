// Package aesgcm seals secrets at rest with AES-256-GCM under the platform's
// master key.
package aesgcm

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/portcullis/portcullis/application/keyring"
)

// KeySize is the length of a master key: 32 bytes selects AES-256.
const KeySize = 32

// version prefixes every ciphertext so that the format can change later.
const version byte = 1

var _ keyring.Sealer = (*Sealer)(nil)

// Sealer encrypts with a random 96-bit nonce per message; a ciphertext is
// version || nonce || sealed data.
type Sealer struct {
	aead cipher.AEAD
}

// New returns a sealer for a 32-byte master key.
func New(masterKey []byte) (*Sealer, error) {
	if len(masterKey) != KeySize {
		return nil, fmt.Errorf("aesgcm: master key must be %d bytes, got %d", KeySize, len(masterKey))
	}
	block, err := aes.NewCipher(masterKey)
	if err != nil {
		return nil, fmt.Errorf("aesgcm: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("aesgcm: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext and authenticates it together with additionalData.
func (s *Sealer) Seal(plaintext, additionalData []byte) ([]byte, error) {
	out := make([]byte, 1+s.aead.NonceSize(), 1+s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	out[0] = version
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("aesgcm: nonce: %w", err)
	}
	return s.aead.Seal(out, out[1:], plaintext, additionalData), nil
}

// ErrOpen reports a ciphertext that is malformed, was altered, was sealed
// under another key or with other additional data.
var ErrOpen = errors.New("aesgcm: message authentication failed")

// Open decrypts a ciphertext made by Seal with the same additionalData.
func (s *Sealer) Open(ciphertext, additionalData []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(ciphertext) < 1+n+s.aead.Overhead() || ciphertext[0] != version {
		return nil, ErrOpen
	}
	pt, err := s.aead.Open(nil, ciphertext[1:1+n], ciphertext[1+n:], additionalData)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}
