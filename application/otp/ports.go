// Package otp is the one-time-code engine: it issues the codes and link
// tokens of every purpose (SMS and e-mail login codes, magic links,
// verification, reset, admin activation and admin links) and verifies and
// consumes them, under the limits their Kind sets. Secrets are stored only
// as an HMAC under a per-tenant key; a secret of one tenant, purpose,
// channel or subject never verifies another.
package otp

import (
	"context"
	"time"
)

// Challenge is one issued secret as the store keeps it.
type Challenge struct {
	// Key names the challenge within the tenant: the purpose and the
	// subject (codes) or the token (links), never readable.
	Key string
	// Digest is the secret's HMAC; the secret itself is never stored.
	Digest string
	// Subject is who the secret is for (a user id, a phone number).
	Subject     string
	MaxAttempts int
	TTL         time.Duration
}

// Verdict is what a submission came to.
type Verdict int

// The verdicts.
const (
	// Consumed: the secret matched and is used up; no other submission
	// will see it.
	Consumed Verdict = iota + 1
	// Wrong: the secret did not match; the attempt was counted.
	Wrong
	// Dead: the challenge has had its wrong attempts; a new one is needed.
	Dead
	// Missing: there is no such challenge (never issued, expired, used).
	Missing
)

// Store keeps challenges, shared by every server instance.
//
// Issue stores c, replacing an earlier challenge of its key, unless the
// key's cooldown has not passed (then it stores nothing and returns
// cooldownLeft > 0) or the destination counter dayKey is at dailyCap (then
// capped is true and nothing is stored or counted). Of concurrent issues
// for one key within the cooldown exactly one is stored, and dayKey counts
// exactly the issues that were stored.
//
// Consume counts one submission of digest against the challenge and, when
// it matches, consumes the challenge, in one atomic step: of concurrent
// right submissions exactly one is Consumed; every submission counts, and
// once MaxAttempts wrong ones have been counted the challenge is Dead to
// every later one, right or wrong.
//
// Peek reports the subject of the live challenge of key when digest
// matches it, without counting, consuming or changing anything; a dead
// challenge (one that had its wrong attempts) is not live. It answers a
// link opened to be looked at, never a code (whose guesses must count).
//
// Withdraw takes back an issue whose secret could not be delivered: it
// removes the challenge of key if it still has digest (a newer one is left
// alone), ends its cooldown and gives its daily secret back, so that the
// holder can ask again at once.
type Store interface {
	Issue(ctx context.Context, tenantID string, c Challenge, cooldown time.Duration, dayKey string, dailyCap int) (cooldownLeft time.Duration, capped bool, err error)
	Consume(ctx context.Context, tenantID, key, digest string) (v Verdict, subject string, err error)
	Peek(ctx context.Context, tenantID, key, digest string) (subject string, live bool, err error)
	Withdraw(ctx context.Context, tenantID, key, digest, dayKey string) error
}
