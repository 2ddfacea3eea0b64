package sms

import "github.com/portcullis/portcullis/adapters/credential"

// masked is what a Secret prints as.
const masked = credential.Masked

// Secret holds the provider's auth token; it never prints (see
// credential.Secret).
type Secret = credential.Secret

// NewSecret wraps a credential.
func NewSecret(s string) Secret { return credential.New(s) }
