// Package credential holds Secret, the type every adapter keeps a
// credential in (an SMS provider's token, an SMTP password): it never
// prints, logs or marshals its value.
package credential

import (
	"fmt"
	"io"
	"log/slog"
)

// Masked is what a Secret prints as, whatever the verb or encoder.
const Masked = "***"

// Secret holds a credential. It prints, logs and marshals as "***" so that
// an options value, a struct embedding one, or a slog record of either
// never carries the credential; only Reveal returns it.
type Secret struct {
	value string // unexported: reflection-based printers cannot reach it
}

// New wraps a credential.
func New(s string) Secret { return Secret{value: s} }

// Reveal returns the credential, for the one place that must send it.
func (s Secret) Reveal() string { return s.value }

// IsZero reports whether no credential is set.
func (s Secret) IsZero() bool { return s.value == "" }

// String returns "***".
func (Secret) String() string { return Masked }

// GoString returns "***", so that %#v masks too.
func (Secret) GoString() string { return Masked }

// Format prints "***" for every verb (%d or %x included).
func (Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, Masked) }

// LogValue logs "***".
func (Secret) LogValue() slog.Value { return slog.StringValue(Masked) }

// MarshalJSON encodes "***".
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Masked + `"`), nil }

// MarshalText encodes "***" (YAML, TOML and text encoders use it).
func (Secret) MarshalText() ([]byte, error) { return []byte(Masked), nil }
