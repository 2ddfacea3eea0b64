package recovery

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/portcullis/portcullis/application/setuplink"
	"github.com/portcullis/portcullis/application/throttle"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/tenant"
)

// SetupLinkMethod is the audit event's Method of a password set with a
// set-password link of the admin CLI (audit.PasswordReset).
const SetupLinkMethod = "setup_link"

// setupHolder returns the active account whose password the set-password
// link token would set now, without using it.
func (s *Service) setupHolder(ctx context.Context, token string) (identity.User, error) {
	c, err := setuplink.Parse(token)
	if err != nil {
		return identity.User{}, ErrInvalidToken
	}
	u, err := s.d.Users.ByID(ctx, s.t.ID, c.UserID)
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return identity.User{}, ErrInvalidToken
	case err != nil:
		return identity.User{}, fmt.Errorf("reset password: %w", err)
	case !u.Active:
		return identity.User{}, ErrInvalidToken
	}
	if s.d.Setup.Verify(token, u, s.d.Clock.Now()) != nil {
		return identity.User{}, ErrInvalidToken
	}
	return u, nil
}

// useSetupLink uses a set-password link token that setupHolder took, and
// returns its account as it is now.
//
// The token dies by construction once a password is set (it is bound to
// the password hash), but requests that check it before either of them
// sets one would all find it good. So a use first spends a marker of the
// token in Redis: a limiter bucket of one event that lasts as long as the
// token (the limiter's promise: of concurrent hits on a key with room for
// one, exactly one is allowed). Only the request that spends it goes on.
// A marker lost with Redis revives nothing: by then the password is set.
func (s *Service) useSetupLink(ctx context.Context, token string) (identity.User, error) {
	c, err := setuplink.Parse(token)
	if err != nil {
		return identity.User{}, ErrInvalidToken
	}
	left := max(c.ExpiresAt.Sub(s.d.Clock.Now()), time.Second)
	ok, _, err := s.d.Limiter.Hit(ctx, throttle.SetupLinkUsed(token), tenant.Limit{Count: 1, Window: left})
	switch {
	case err != nil:
		return identity.User{}, errs.ErrUnavailable.Wrap(fmt.Errorf("reset password: rate limiter: %w", err))
	case !ok:
		return identity.User{}, ErrInvalidToken
	}
	// Again, now that the token is ours: the account may have changed
	// between the check and the use.
	return s.setupHolder(ctx, token)
}
