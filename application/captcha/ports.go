package captcha

import (
	"context"
	"time"
)

// Failures counts failed logins per key, shared by every server instance,
// one tenant's keys apart from another's. A count is forgotten window
// after the last Add to its key (each Add restarts the window), so a key
// that keeps failing stays counted. Of n concurrent Adds to a key, every
// one is counted.
type Failures interface {
	// Add counts one failure against key.
	Add(ctx context.Context, key string, window time.Duration) error
	// Count returns the failures counted against key and not yet
	// forgotten.
	Count(ctx context.Context, key string) (int, error)
	// Reset forgets key's failures.
	Reset(ctx context.Context, key string) error
}

// UsedTokens remembers the tokens already used, by digest, shared by every
// server instance, one tenant's apart from another's. Claim marks digest
// used for ttl and reports whether it was not used before; of n
// concurrent Claims of one digest within ttl, exactly one reports true.
// After ttl the digest may be claimed again.
type UsedTokens interface {
	Claim(ctx context.Context, digest string, ttl time.Duration) (first bool, err error)
}
