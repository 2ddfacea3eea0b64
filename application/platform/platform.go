// Package platform declares the ports every use case may need from the machine
// it runs on: the time and a source of randomness. Tests replace both.
package platform

import (
	"io"
	"time"
)

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

// Random is a cryptographically secure source of random bytes.
type Random io.Reader
