package sms

import (
	"fmt"
	"io"
	"log/slog"
)

// masked is what a Secret prints as, whatever the verb or encoder.
const masked = "***"

// Secret holds a credential. It prints, logs and marshals as "***" so that
// an Options value, a struct embedding one, or a slog record of either never
// carries the credential; only Reveal returns it.
type Secret struct {
	value string // unexported: reflection-based printers cannot reach it
}

// NewSecret wraps a credential.
func NewSecret(s string) Secret { return Secret{value: s} }

// Reveal returns the credential, for the one place that must send it.
func (s Secret) Reveal() string { return s.value }

// IsZero reports whether no credential is set.
func (s Secret) IsZero() bool { return s.value == "" }

// String returns "***".
func (Secret) String() string { return masked }

// GoString returns "***", so that %#v masks too.
func (Secret) GoString() string { return masked }

// Format prints "***" for every verb (%d or %x included).
func (Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, masked) }

// LogValue logs "***".
func (Secret) LogValue() slog.Value { return slog.StringValue(masked) }

// MarshalJSON encodes "***".
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + masked + `"`), nil }

// MarshalText encodes "***" (YAML, TOML and text encoders use it).
func (Secret) MarshalText() ([]byte, error) { return []byte(masked), nil }
