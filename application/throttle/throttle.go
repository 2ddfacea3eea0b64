// Package throttle counts attempts against per-tenant limits kept in Redis
// and shared by every server instance: the Limiter port, the keys the use
// cases count under, and the one way a use case spends an attempt.
package throttle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"time"

	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/tenant"
)

// Limiter counts events against per-key limits, shared by every server
// instance. Hit counts one when it is allowed (a refused Hit counts
// nothing); Refund gives one counted event back; Reset forgets them all.
// retryAfter is set when not allowed. Of n concurrent Hits on a key with
// room for k more events, exactly min(n, k) are allowed.
type Limiter interface {
	Hit(ctx context.Context, key string, l tenant.Limit) (allowed bool, retryAfter time.Duration, err error)
	Refund(ctx context.Context, key string, l tenant.Limit) error
	Reset(ctx context.Context, key string) error
}

// ErrThrottled answers too many attempts.
var ErrThrottled = errs.E(errs.RateLimited, "throttled", "Too many attempts. Try again later.")

// Hit counts one attempt against key, or refuses it with ErrThrottled
// (carrying Retry-After) when key is over its limit. A limiter that cannot
// be reached makes the attempt unavailable, never free.
func Hit(ctx context.Context, l Limiter, key string, lim tenant.Limit) error {
	ok, retry, err := l.Hit(ctx, key, lim)
	if err != nil {
		return errs.ErrUnavailable.Wrap(fmt.Errorf("rate limiter: %w", err))
	}
	if !ok {
		return ErrThrottled.WithRetryAfter(max(1, int((retry+time.Second-1)/time.Second)))
	}
	return nil
}

// Keys. IPv6 clients are keyed by their /64, which one subscriber usually
// holds whole; accounts by a hash of their e-mail key, so that no address
// is readable in Redis.

// LoginIP is the key of password-login attempts from ip.
func LoginIP(ip netip.Addr) string { return "login:ip:" + IPKey(ip) }

// RegisterIP is the key of registrations from ip.
func RegisterIP(ip netip.Addr) string { return "register:ip:" + IPKey(ip) }

// LoginAccount is the key of password-login attempts on one account from
// clients the account does not know.
func LoginAccount(emailKey string) string { return "login:acct:" + digest(emailKey) }

// LoginDevice is the key of password-login attempts on one account from
// one device holding a device credential of it (deviceID is the
// credential's random id).
func LoginDevice(emailKey, deviceID string) string {
	return "login:dev:" + digest(emailKey+"\x00"+deviceID)
}

// LoginKnownIP is the key of password-login attempts on one account from
// an address that recently logged in to it.
func LoginKnownIP(emailKey string, ip netip.Addr) string {
	return "login:kip:" + digest(emailKey+"\x00"+IPKey(ip))
}

// Reauth is the key of the checks of the current password on one
// signed-in account (changing the password or the address asks for it), by
// the account's id, which a change of address does not change. It has a
// bucket of its own: a stranger's login attempts must not lock the owner
// out of these changes, nor the owner's typos spend the login budgets.
func Reauth(userID string) string { return "reauth:acct:" + digest(userID) }

// MFAUser is the key of the wrong second-factor codes of one user, over
// every challenge and enrolment step.
func MFAUser(userID string) string { return "mfa:user:" + digest(userID) }

// MFABackup is the key of the wrong backup codes of one user.
func MFABackup(userID string) string { return "mfa:backup:" + digest(userID) }

// MFAChallenge is the key of the submissions to one MFA challenge (named
// by a digest of its token, which the caller computes).
func MFAChallenge(challenge string) string { return "mfa:challenge:" + digest(challenge) }

// SignupNotice is the key of the "sign-up attempt" notices sent to the
// owner of one account.
func SignupNotice(emailKey string) string { return "notice:signup:" + digest(emailKey) }

// IPKey is how an address is keyed: itself for IPv4, its /64 for IPv6.
func IPKey(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}
