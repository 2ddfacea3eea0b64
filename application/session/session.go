package session

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/portcullis/portcullis/application/account"
	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/tenant"
)

// Deps are the ports one tenant's session service uses.
type Deps struct {
	Users       account.Users
	Sessions    Sessions
	Refresh     RefreshTokens
	Revocations Revocations
	Tokens      AccessTokens
	// Sync says whether the revocation set may be believed on its own.
	Sync *Sync
	// Audit records logouts and revoked sessions.
	Audit  audit.Recorder
	Clock  platform.Clock
	Random platform.Random
}

// Service is one tenant's session use cases: everything done with a
// credential once it exists.
type Service struct {
	t tenant.Tenant
	d Deps
}

// New returns the session service of tenant t.
func New(t tenant.Tenant, d Deps) *Service { return &Service{t: t, d: d} }

// Issuer starts sessions. The login pipeline is its only holder, so that no
// login method and no API surface can issue a credential past the
// pipeline's checks.
type Issuer struct{ s *Service }

// NewIssuer returns the issuer of s's tenant.
func NewIssuer(s *Service) *Issuer { return &Issuer{s: s} }

// Client describes where a request came from.
type Client struct {
	IP        netip.Addr
	UserAgent string
}

// Credentials are what a login or refresh hands the client; which fields
// are set depends on the session kind.
type Credentials struct {
	Session identity.Session
	// api sessions
	AccessToken      string
	AccessExpiresAt  time.Time
	RefreshToken     string
	RefreshExpiresAt time.Time
	// app sessions: the key for Authorization: Token <key>
	AppToken string
	// web sessions: the session cookie value and its CSRF token
	Cookie    string
	CSRFToken string
}

// Lifetime is how long one session lives when it is not to live by the
// tenant's sessions policy (a compatibility profile's tokens): Idle is its
// sliding idle window, kept with the session and slid by every use;
// Absolute its lifetime from creation. A zero field takes the tenant's
// (sessions.idle_timeout, sessions.absolute_timeout). An app session is
// still held to tokens.app_token_ttl when the tenant sets one.
type Lifetime struct {
	Idle     time.Duration
	Absolute time.Duration
}

// Start creates a session of the given kind for u and issues its
// credentials; it lives by the tenant's sessions policy.
func (i *Issuer) Start(ctx context.Context, u identity.User, kind identity.SessionKind, amr []string, c Client) (Credentials, error) {
	return i.StartFor(ctx, u, kind, amr, c, Lifetime{})
}

// StartFor is Start for a session that lives life.
func (i *Issuer) StartFor(ctx context.Context, u identity.User, kind identity.SessionKind, amr []string, c Client, life Lifetime) (Credentials, error) {
	s := i.s
	now := s.d.Clock.Now().UTC()
	id, err := s.randomToken(16)
	if err != nil {
		return Credentials{}, err
	}
	absolute := s.t.Sessions.AbsoluteTimeout
	if life.Absolute > 0 {
		absolute = life.Absolute
	}
	sess := identity.Session{
		ID: id, TenantID: s.t.ID, UserID: u.ID, Kind: kind, CreatedAt: now,
		ExpiresAt: now.Add(absolute), AMR: amr,
		IP: c.IP.String(), UserAgent: truncate(c.UserAgent, 256),
		IdleTimeout: max(life.Idle, 0),
	}
	sess = sess.Touched(now, sess.Idle(s.t.Sessions.IdleTimeout))
	var creds Credentials
	switch kind {
	case identity.SessionWeb:
		secret, err := s.randomToken(32)
		if err != nil {
			return Credentials{}, err
		}
		sess.SecretHash = HashSecret(secret)
		creds.Cookie, creds.CSRFToken = secret, CSRFToken(secret)
	case identity.SessionApp:
		raw := make([]byte, 20)
		if _, err := io.ReadFull(s.d.Random, raw); err != nil {
			return Credentials{}, err
		}
		key := hex.EncodeToString(raw) // 40 hex characters, as seed 000 clients expect
		sess.SecretHash = HashSecret(key)
		creds.AppToken = key
		if s.t.Tokens.App > 0 && now.Add(s.t.Tokens.App).Before(sess.ExpiresAt) {
			sess.ExpiresAt = now.Add(s.t.Tokens.App)
		}
	case identity.SessionAPI:
	default:
		return Credentials{}, errs.InvalidFields(errs.FieldError{Field: "session", Reason: "unknown session kind"})
	}
	if err := s.d.Sessions.Create(ctx, sess); err != nil {
		return Credentials{}, fmt.Errorf("create session: %w", err)
	}
	creds.Session = sess
	if kind == identity.SessionAPI {
		if err := s.issueTokens(ctx, u, sess, now, &creds); err != nil {
			return Credentials{}, err
		}
	}
	return creds, nil
}

// Latest returns the user's newest live web session and newest live app
// session, either nil when there is none.
func (i *Issuer) Latest(ctx context.Context, userID string) (web, app *identity.Session, err error) {
	s := i.s
	list, err := s.d.Sessions.ListLive(ctx, s.t.ID, userID, s.d.Clock.Now().UTC())
	if err != nil {
		return nil, nil, fmt.Errorf("latest sessions: %w", err)
	}
	for _, x := range list { // newest first
		switch {
		case x.Kind == identity.SessionWeb && web == nil:
			web = &x
		case x.Kind == identity.SessionApp && app == nil:
			app = &x
		}
	}
	return web, app, nil
}

func (s *Service) issueTokens(ctx context.Context, u identity.User, sess identity.Session, now time.Time, creds *Credentials) error {
	access, err := s.d.Tokens.Issue(ctx, AccessClaims{Subject: u.ID, SessionID: sess.ID, Role: u.Role, AMR: sess.AMR, IssuedAt: now, ExpiresAt: now.Add(s.t.Tokens.Access)})
	if err != nil {
		return fmt.Errorf("issue access token: %w", err)
	}
	refresh, err := s.randomToken(32)
	if err != nil {
		return err
	}
	exp := now.Add(s.t.Tokens.Refresh)
	if exp.After(sess.ExpiresAt) {
		exp = sess.ExpiresAt
	}
	if err := s.d.Refresh.Create(ctx, identity.RefreshToken{Hash: HashSecret(refresh), TenantID: s.t.ID, SessionID: sess.ID, UserID: u.ID, CreatedAt: now, ExpiresAt: exp}); err != nil {
		return fmt.Errorf("store refresh token: %w", err)
	}
	creds.AccessToken, creds.AccessExpiresAt = access, now.Add(s.t.Tokens.Access)
	creds.RefreshToken, creds.RefreshExpiresAt = refresh, exp
	return nil
}

// Refresh rotates a refresh token: the presented one is used up and a new
// access token and refresh token are issued. A token presented twice
// revokes its whole session.
func (s *Service) Refresh(ctx context.Context, token string) (identity.User, Credentials, error) {
	if token == "" || len(token) > 256 {
		return identity.User{}, Credentials{}, ErrInvalidToken
	}
	now := s.d.Clock.Now().UTC()
	rt, err := s.d.Refresh.Use(ctx, s.t.ID, HashSecret(token), now)
	if errors.Is(err, errs.ErrNotFound) {
		return identity.User{}, Credentials{}, ErrInvalidToken
	}
	if err != nil {
		return identity.User{}, Credentials{}, fmt.Errorf("refresh: %w", err)
	}
	if !rt.UsedAt.IsZero() {
		// Only a durable revocation may be reported: when the store cannot
		// take it, the client is told to come back, not that it happened.
		revoked, err := s.revoke(ctx, rt.SessionID, now)
		if err != nil {
			return identity.User{}, Credentials{}, err
		}
		if revoked {
			s.d.Audit.Record(ctx, audit.Event{Type: audit.SessionRevoked, TargetID: rt.UserID, SessionID: rt.SessionID, Reason: RevokedRefreshReused})
		}
		return identity.User{}, Credentials{}, ErrRefreshReused
	}
	if !now.Before(rt.ExpiresAt) {
		return identity.User{}, Credentials{}, ErrInvalidToken
	}
	sess, err := s.d.Sessions.ByID(ctx, s.t.ID, rt.SessionID)
	if err != nil || !sess.Live(now) || sess.Kind != identity.SessionAPI {
		return identity.User{}, Credentials{}, ErrInvalidToken
	}
	u, err := s.d.Users.ByID(ctx, s.t.ID, sess.UserID)
	if err != nil || !u.Active {
		return identity.User{}, Credentials{}, ErrInvalidToken
	}
	sess = sess.Touched(now, sess.Idle(s.t.Sessions.IdleTimeout))
	_ = s.d.Sessions.Touch(ctx, s.t.ID, sess.ID, sess.LastSeenAt, sess.IdleExpiresAt)
	creds := Credentials{Session: sess}
	if err := s.issueTokens(ctx, u, sess, now, &creds); err != nil {
		return identity.User{}, Credentials{}, err
	}
	return u, creds, nil
}

// Principal is an authenticated request: who, through which session and
// credential.
type Principal struct {
	User    identity.User
	Session identity.Session
	Method  CredentialKind
}

// CredentialKind names how a request proved itself.
type CredentialKind string

// The credential kinds.
const (
	ByBearer CredentialKind = "bearer" // Authorization: Bearer <access JWT>
	ByToken  CredentialKind = "token"  // Authorization: Token <app token>
	ByCookie CredentialKind = "cookie" // the session cookie
)

// touchEvery limits how often a request writes last-seen to the store.
const touchEvery = time.Minute

// Authenticate checks a credential and returns the principal. Every failure
// is ErrInvalidToken.
func (s *Service) Authenticate(ctx context.Context, kind CredentialKind, value string) (Principal, error) {
	if value == "" || len(value) > 8192 {
		return Principal{}, ErrInvalidToken
	}
	now := s.d.Clock.Now().UTC()
	var sess identity.Session
	switch kind {
	case ByBearer:
		claims, err := s.d.Tokens.Verify(ctx, value)
		if errors.Is(err, ErrInvalidToken) {
			return Principal{}, ErrInvalidToken.Wrap(err)
		}
		if err != nil { // the keys could not be read: not the client's fault
			return Principal{}, errs.ErrUnavailable.Wrap(err)
		}
		if err := s.checkRevoked(ctx, claims.SessionID, now, nil); err != nil {
			return Principal{}, err
		}
		u, err := s.activeUser(ctx, claims.Subject)
		if err != nil {
			return Principal{}, err
		}
		return Principal{User: u, Session: identity.Session{ID: claims.SessionID, TenantID: s.t.ID, UserID: u.ID, Kind: identity.SessionAPI, AMR: claims.AMR}, Method: ByBearer}, nil
	case ByToken, ByCookie:
		want := identity.SessionApp
		if kind == ByCookie {
			want = identity.SessionWeb
		}
		var err error
		sess, err = s.d.Sessions.BySecret(ctx, s.t.ID, HashSecret(value))
		if errors.Is(err, errs.ErrNotFound) {
			return Principal{}, ErrInvalidToken
		}
		if err != nil {
			return Principal{}, fmt.Errorf("authenticate: %w", err)
		}
		if sess.Kind != want || !sess.Live(now) {
			return Principal{}, ErrInvalidToken
		}
		// The session may come from a cache, which a revocation on another
		// instance does not reach: the revocation set does.
		if err := s.checkRevoked(ctx, sess.ID, now, &sess); err != nil {
			return Principal{}, err
		}
		u, err := s.activeUser(ctx, sess.UserID)
		if err != nil {
			return Principal{}, err
		}
		if now.Sub(sess.LastSeenAt) >= touchEvery {
			sess = sess.Touched(now, sess.Idle(s.t.Sessions.IdleTimeout))
			_ = s.d.Sessions.Touch(ctx, s.t.ID, sess.ID, sess.LastSeenAt, sess.IdleExpiresAt)
		}
		return Principal{User: u, Session: sess, Method: kind}, nil
	}
	return Principal{}, ErrInvalidToken
}

// checkRevoked refuses a revoked session. The revocation set answers while
// it is complete and trusted; otherwise the store does (the session
// document, read past any cache), so that a lost set revives nothing.
// When the store is asked, *sess (if given) is replaced by what it holds.
//
// The trust is read before the set is asked: a sync pass that ends while
// the check is under way may have copied the revocation after the check
// read the set, so only a set trusted when the check began may answer.
func (s *Service) checkRevoked(ctx context.Context, sessionID string, now time.Time, sess *identity.Session) error {
	trusted := s.d.Sync.Trusted()
	revoked, complete, err := s.d.Revocations.Revoked(ctx, s.t.ID, sessionID)
	if err != nil {
		// Redis is away: the store decides, and the set is not trusted
		// until the sync has seen it whole again.
		s.d.Sync.Distrust()
	}
	if revoked {
		return ErrInvalidToken
	}
	if err == nil && complete && trusted {
		return nil
	}
	stored, err := s.d.Sessions.ByID(ctx, s.t.ID, sessionID)
	if errors.Is(err, errs.ErrNotFound) {
		return ErrInvalidToken
	}
	if err != nil {
		return fmt.Errorf("authenticate: %w", err)
	}
	if !stored.Live(now) {
		return ErrInvalidToken
	}
	if sess != nil {
		*sess = stored
	}
	return nil
}

func (s *Service) activeUser(ctx context.Context, id string) (identity.User, error) {
	u, err := s.d.Users.ByID(ctx, s.t.ID, id)
	if errors.Is(err, errs.ErrNotFound) {
		return identity.User{}, ErrInvalidToken
	}
	if err != nil {
		return identity.User{}, fmt.Errorf("authenticate: %w", err)
	}
	if !u.Active {
		return identity.User{}, ErrInvalidToken
	}
	return u, nil
}

// CheckCSRF verifies the CSRF token of a cookie-authenticated request.
func CheckCSRF(cookie, token string) bool {
	if cookie == "" || token == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(CSRFToken(cookie)), []byte(token)) == 1
}

// Logout authenticates the presented credential and revokes its session
// and every credential tied to it, at once and on every server instance.
// It returns the principal it logged out.
func (s *Service) Logout(ctx context.Context, kind CredentialKind, value string) (Principal, error) {
	p, err := s.Authenticate(ctx, kind, value)
	if err != nil {
		return Principal{}, err
	}
	if _, err := s.revoke(ctx, p.Session.ID, s.d.Clock.Now().UTC()); err != nil {
		return p, err
	}
	s.d.Audit.Record(ctx, audit.Event{Type: audit.Logout, ActorID: p.User.ID, TargetID: p.User.ID, SessionID: p.Session.ID})
	return p, nil
}

// Why a session was revoked, as the audit log records it (the Reason of
// an audit.SessionRevoked event).
const (
	// RevokedByUser: the account ended one of its sessions.
	RevokedByUser = "revoked_by_user"
	// RevokedOthers: the account ended every session but the one it used
	// (by asking, or by changing its password).
	RevokedOthers = "others_revoked"
	// RevokedAll: every session of the account was ended (a password
	// reset, a disabled account).
	RevokedAll = "all_revoked"
	// RevokedRefreshReused: a refresh token of the session was presented
	// again after it was rotated, the sign of a stolen token.
	RevokedRefreshReused = "refresh_token_reused"
)

// announce is how long a revocation must be announced in the revocation
// set: until the last access token issued before it has expired.
func (s *Service) announce() time.Duration { return s.t.Tokens.Access + time.Minute }

// revoke ends sessions durably, then announces them. The store first: it
// is the word on revocation, and a store that cannot take the write fails
// the call with nothing changed that a later request could undo. Then the
// revocation set, which every instance checks on every request whatever it
// has cached; its write is retried briefly, and if Redis stays away the
// revocation still stands: this instance stops trusting the set, and the
// revocation sync copies the revocation from the store's log as soon as
// Redis answers (every instance confirms against the store until then).
//
// It reports whether this call revoked a live session.
func (s *Service) revoke(ctx context.Context, sessionID string, now time.Time) (bool, error) {
	revoked, err := s.d.Sessions.Revoke(ctx, s.t.ID, sessionID, now, now.Add(s.announce()))
	if err != nil {
		return false, fmt.Errorf("revoke session: %w", err)
	}
	s.announceRevoked(ctx, sessionID)
	return revoked, nil
}

// announceRetries are the waits between attempts to write a revocation to
// the set, and announceBudget bounds them all: a revocation that misses
// the set is safe (see revoke), so a hanging Redis must not hold a logout.
var announceRetries = []time.Duration{50 * time.Millisecond, 200 * time.Millisecond}

const announceBudget = time.Second

func (s *Service) announceRevoked(ctx context.Context, sessionID string) {
	ctx, cancel := context.WithTimeout(ctx, announceBudget)
	defer cancel()
	for attempt := 0; ; attempt++ {
		err := s.d.Revocations.Revoke(ctx, s.t.ID, sessionID, s.announce())
		if err == nil {
			return
		}
		if attempt == len(announceRetries) || ctx.Err() != nil {
			s.d.Sync.Distrust()
			return
		}
		select {
		case <-time.After(announceRetries[attempt]):
		case <-ctx.Done():
		}
	}
}

// Sessions lists the principal's live sessions, newest first.
func (s *Service) Sessions(ctx context.Context, p Principal) ([]identity.Session, error) {
	return s.d.Sessions.ListLive(ctx, s.t.ID, p.User.ID, s.d.Clock.Now().UTC())
}

// RevokeSession ends one of the principal's own sessions.
func (s *Service) RevokeSession(ctx context.Context, p Principal, id string) error {
	sess, err := s.d.Sessions.ByID(ctx, s.t.ID, id)
	if errors.Is(err, errs.ErrNotFound) || (err == nil && sess.UserID != p.User.ID) {
		return ErrSessionNotFound
	}
	if err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	revoked, err := s.revoke(ctx, id, s.d.Clock.Now().UTC())
	if revoked {
		s.d.Audit.Record(ctx, audit.Event{Type: audit.SessionRevoked, ActorID: p.User.ID, TargetID: p.User.ID, SessionID: id, Reason: RevokedByUser})
	}
	return err
}

// RevokeOtherSessions ends every session of the principal but the current
// one and returns how many it ended.
func (s *Service) RevokeOtherSessions(ctx context.Context, p Principal) (int, error) {
	return s.revokeAllBut(ctx, p.User.ID, p.Session.ID, p.User.ID, RevokedOthers)
}

// RevokeUser ends every session of the user, of every kind (so every
// access token, refresh token, app token and cookie they hold), on every
// instance at once: what a password reset or a disabled account needs. It
// returns how many it ended.
func (s *Service) RevokeUser(ctx context.Context, userID string) (int, error) {
	return s.revokeAllBut(ctx, userID, "", "", RevokedAll)
}

// revokeAllBut ends the user's sessions but keepID, each recorded as
// revoked by actorID ("" for nobody signed in) for reason.
func (s *Service) revokeAllBut(ctx context.Context, userID, keepID, actorID, reason string) (int, error) {
	now := s.d.Clock.Now().UTC()
	ids, err := s.d.Sessions.RevokeOthers(ctx, s.t.ID, userID, keepID, now, now.Add(s.announce()))
	if err != nil {
		return 0, fmt.Errorf("revoke sessions: %w", err)
	}
	for _, id := range ids {
		s.announceRevoked(ctx, id)
		s.d.Audit.Record(ctx, audit.Event{Type: audit.SessionRevoked, ActorID: actorID, TargetID: userID, SessionID: id, Reason: reason})
	}
	return len(ids), nil
}

// HashSecret is how opaque secrets are stored: hex SHA-256. The secrets
// have 160 bits or more of entropy, so a fast hash is enough.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// CSRFToken derives a session's CSRF token from its cookie value, so that
// it need not be stored.
func CSRFToken(cookie string) string {
	m := hmac.New(sha256.New, []byte(cookie))
	m.Write([]byte("portcullis csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Service) randomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.d.Random, b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
