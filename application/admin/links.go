package admin

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/portcullis/portcullis/application/loginlink"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/redirect"
)

// LinkRequest asks for a one-time login link.
type LinkRequest struct {
	// SecretKey is what the link's holder must present with it; when
	// empty, one is drawn (and the link carries it).
	SecretKey string
	// Next is where the browser goes once signed in: a target the
	// tenant's redirect policy allows; "" for the home page.
	Next string
}

// IssuedLink is a login link: its token, the user and secret key it must
// be presented with, where it leads, and when it stops working.
type IssuedLink struct {
	Token  string
	UserID string
	// SecretKey is the key drawn for a request without one, which the
	// link is to carry; "" when the request gave its own, which the link
	// must not carry (its holder is told it apart).
	SecretKey string
	Next      string
	ExpiresAt time.Time
}

// ErrLinksNotServed answers a login link for a tenant that does not serve
// the routes that use one (seed 000's profile).
var ErrLinksNotServed = errs.E(errs.Forbidden, "login_links_not_served",
	"This tenant does not serve the pages that use login links (the seed 000 profile is off).")

// ErrUserDisabled answers a login link for a disabled user, who could not
// sign in with it.
var ErrUserDisabled = errs.E(errs.Conflict, "user_disabled", "The user is disabled.")

// drawnKeyBytes is the randomness of a drawn secret key: 128 bits.
const drawnKeyBytes = 16

// IssueLoginLink issues a one-time login link for user id
// (login_links:issue, outranking the user), through the tenant's login
// links (loginlink.Service, seed 000's passwordless login), which refuses
// when the tenant has not enabled admin_link (login.ErrMethodDisabled) and
// past the user's daily cap, and records the link issued (link.issued). A
// disabled user gets none (ErrUserDisabled). A next the tenant's
// redirect policy does not allow is a field error on "next"; a tenant
// without the seed 000 profile, whose routes use the links, gets
// ErrLinksNotServed.
func (s *Service) IssueLoginLink(ctx context.Context, actor identity.User, id string, in LinkRequest) (IssuedLink, error) {
	u, err := s.target(ctx, actor, ActionIssueLink, identity.ScopeLoginLinksIssue, id)
	if err != nil {
		return IssuedLink{}, err
	}
	if !s.t.Profiles.Seed000 {
		return IssuedLink{}, ErrLinksNotServed
	}
	if !u.Active {
		return IssuedLink{}, ErrUserDisabled
	}
	next := strings.TrimSpace(in.Next)
	if next != "" {
		if _, ok := redirect.Check(next, s.t.Redirects); !ok {
			return IssuedLink{}, errs.InvalidFields(errs.FieldError{Field: "next", Reason: "is not a target this tenant redirects to"})
		}
	}
	key, drawn := strings.TrimSpace(in.SecretKey), ""
	if key == "" {
		b := make([]byte, drawnKeyBytes)
		if _, err := io.ReadFull(s.d.Random, b); err != nil {
			return IssuedLink{}, fmt.Errorf("admin: random: %w", err)
		}
		key = base64.RawURLEncoding.EncodeToString(b)
		drawn = key
	}
	is, err := s.d.Links.Issue(ctx, loginlink.IssueInput{Actor: actor, UserID: u.ID, SecretKey: key})
	if err != nil {
		return IssuedLink{}, err
	}
	return IssuedLink{Token: is.Token, UserID: u.ID, SecretKey: drawn, Next: next, ExpiresAt: is.ExpiresAt}, nil
}
