package login

import (
	"context"
	"time"

	"github.com/portcullis/portcullis/domain/identity"
)

// FirstSignIns remembers which users have signed in at least once
// (mongo.FirstSignInStore is one). Claim records the first sign-in of the
// tenant's user userID, at, and reports whether this call recorded it: of
// any number of concurrent claims for one user exactly one sees true,
// also on a store whose conditional updates are not atomic, and every
// later claim false. A user of another tenant with the same id is another
// user.
type FirstSignIns interface {
	Claim(ctx context.Context, tenantID, userID string, at time.Time) (bool, error)
}

// firstSignIn reports whether the session just started for u is the
// user's first sign-in ever, by any method on any surface (seed 003's
// is_first_time_login). A user who signed in before has a last login,
// and is answered without asking the store; for the others the store's
// claim decides, so that of concurrent first sign-ins exactly one is the
// first. A claim that cannot be written is answered false and the
// sign-in stands: the flag is never true twice, and may be lost when the
// store fails.
func (p *Pipeline) firstSignIn(ctx context.Context, u identity.User, at time.Time) bool {
	if !u.LastLoginAt.IsZero() || p.d.FirstSignIns == nil {
		return false
	}
	first, err := p.d.FirstSignIns.Claim(ctx, p.t.ID, u.ID, at)
	return err == nil && first
}
