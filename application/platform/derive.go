package platform

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/hkdf"
)

// TenantKeySize is the size of a key DeriveTenantKey derives: the full
// strength of HMAC-SHA256.
const TenantKeySize = 32

// DeriveTenantKey derives a 32-byte key for one purpose of one tenant from
// the platform master key with HKDF-SHA256. The info names the purpose (a
// versioned string such as "portcullis otp v1") and the tenant, so the key
// is independent of every other key derived from the master key and of
// every other tenant's. The master key must have at least 16 bytes.
func DeriveTenantKey(master []byte, purpose, tenantID string) ([]byte, error) {
	if len(master) < 16 {
		return nil, errors.New(purpose + ": a master key of at least 16 bytes is required")
	}
	if tenantID == "" {
		return nil, errors.New(purpose + ": a tenant id is required")
	}
	k := make([]byte, TenantKeySize)
	if _, err := io.ReadFull(hkdf.New(sha256.New, master, nil, []byte(purpose+"\x00tenant="+tenantID)), k); err != nil {
		return nil, fmt.Errorf("%s: derive key: %w", purpose, err)
	}
	return k, nil
}
