package account

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
	"sync"
	"time"

	"github.com/portcullis/portcullis/application/notify"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/message"
	"github.com/portcullis/portcullis/domain/tenant"
)

// Deps are the ports one tenant's account service uses.
type Deps struct {
	Users       Users
	Sessions    Sessions
	Refresh     RefreshTokens
	Revocations Revocations
	Limiter     Limiter
	Hasher      PasswordHasher
	Tokens      AccessTokens
	Common      CommonPasswords
	Mail        notify.Mailer
	Clock       platform.Clock
	Random      platform.Random
}

// Service is one tenant's password-account use cases.
type Service struct {
	t tenant.Tenant
	d Deps

	dummyOnce sync.Once
	dummy     string
	dummyErr  error
}

// New returns the account service of tenant t.
func New(t tenant.Tenant, d Deps) *Service { return &Service{t: t, d: d} }

// Tenant returns the tenant the service belongs to.
func (s *Service) Tenant() tenant.Tenant { return s.t }

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

// RegisterInput is a registration request. Fields a client must not set
// (role, tenant, verification, ids) do not exist here.
type RegisterInput struct {
	Profile  identity.Profile
	Password string
	Client   Client
}

// maxPasswordBytes bounds what is hashed at all: a longer input is refused
// before any work, whatever the tenant's policy.
const maxPasswordBytes = 4096

// Register creates an account. When the address is taken it does the same
// work, tells the owner by e-mail and returns identity.ErrEmailTaken; an
// enumeration-safe surface answers that exactly like a success, a
// compatibility profile whose contract reports it may do so.
func (s *Service) Register(ctx context.Context, in RegisterInput) (identity.User, error) {
	if err := s.throttle(ctx, registerIPKey(in.Client.IP), s.t.Throttling.RegisterPerIP); err != nil {
		return identity.User{}, err
	}
	profile, key, perr := identity.CheckProfile(in.Profile)
	pw := identity.NormalizePassword(in.Password)
	var fields []errs.FieldError
	var pe *errs.Error
	if errors.As(perr, &pe) {
		fields = append(fields, pe.Fields...)
	}
	if len(in.Password) > maxPasswordBytes {
		fields = append(fields, errs.FieldError{Field: "password", Reason: fmt.Sprintf("must be at most %d characters", s.t.Password.MaxLength)})
	} else if err := identity.CheckPassword(pw, s.t.Password, s.d.Common, profile.Email, profile.FirstName, profile.LastName); err != nil {
		fields = append(fields, errs.As(err).Fields...)
	}
	if len(fields) > 0 {
		return identity.User{}, errs.InvalidFields(fields...)
	}
	hash, err := s.d.Hasher.Hash(ctx, pw, s.t.Password.Hash)
	if err != nil {
		return identity.User{}, err
	}
	id, err := s.randomID()
	if err != nil {
		return identity.User{}, err
	}
	now := s.d.Clock.Now().UTC()
	u := identity.User{
		ID: id, TenantID: s.t.ID, Email: profile.Email, EmailKey: key,
		FirstName: profile.FirstName, LastName: profile.LastName, Phone: profile.Phone,
		Role: identity.RoleUser, Active: true, PasswordHash: hash, CreatedAt: now, UpdatedAt: now,
	}
	err = s.d.Users.Create(ctx, u)
	if errors.Is(err, identity.ErrEmailTaken) {
		// Tell the owner, at the address of the account: the one typed may
		// be a different mailbox that folds to the same key (ß and ss).
		if owner, lerr := s.d.Users.ByEmail(ctx, s.t.ID, key); lerr == nil {
			s.notifyTaken(ctx, owner.Email)
		}
		return identity.User{}, identity.ErrEmailTaken
	}
	if err != nil {
		return identity.User{}, fmt.Errorf("register: %w", err)
	}
	return u, nil
}

func (s *Service) notifyTaken(ctx context.Context, email string) {
	if s.d.Mail == nil {
		return
	}
	name := s.t.DisplayName
	if name == "" {
		name = s.t.ID
	}
	_ = s.d.Mail.SendMail(ctx, message.Mail{
		To:      email,
		Subject: "Sign-up attempt for your " + name + " account",
		Text: "Someone tried to create a " + name + " account with this e-mail address, which already has one.\n" +
			"If it was you, sign in instead or reset your password. If not, you can ignore this message.\n",
	})
}

// LoginInput is a password login request.
type LoginInput struct {
	Email    string
	Password string
	Kind     identity.SessionKind
	Client   Client
}

// Login checks a password and starts a session of the requested kind.
// Unknown account, wrong password, disabled account and (when the tenant
// requires it) unverified address answer ErrInvalidCredentials alike, after
// the same hashing work.
func (s *Service) Login(ctx context.Context, in LoginInput) (identity.User, Credentials, error) {
	if !s.t.Enabled(tenant.MethodPassword) {
		return identity.User{}, Credentials{}, ErrMethodDisabled
	}
	var fields []errs.FieldError
	if in.Email == "" {
		fields = append(fields, errs.FieldError{Field: "email", Reason: "is required"})
	}
	if in.Password == "" {
		fields = append(fields, errs.FieldError{Field: "password", Reason: "is required"})
	} else if len(in.Password) > maxPasswordBytes {
		fields = append(fields, errs.FieldError{Field: "password", Reason: fmt.Sprintf("must be at most %d bytes", maxPasswordBytes)})
	}
	if len(fields) > 0 {
		return identity.User{}, Credentials{}, errs.InvalidFields(fields...)
	}
	_, key, emailErr := identity.NormalizeEmail(in.Email)
	accountKey := loginAccountKey(key)
	ipKey := loginIPKey(in.Client.IP)
	// Every attempt is counted against both budgets before any hashing, so
	// that guesses sent together cannot all pass a check made before any of
	// them was counted. A success gives the attempt back.
	if err := s.throttle(ctx, ipKey, s.t.Throttling.LoginPerIP); err != nil {
		return identity.User{}, Credentials{}, err
	}
	if err := s.throttle(ctx, accountKey, s.t.Throttling.LoginPerAccount); err != nil {
		_ = s.d.Limiter.Refund(ctx, ipKey, s.t.Throttling.LoginPerIP)
		return identity.User{}, Credentials{}, err
	}

	pw := identity.NormalizePassword(in.Password)
	var u identity.User
	var err error
	if emailErr == nil {
		u, err = s.d.Users.ByEmail(ctx, s.t.ID, key)
	} else {
		err = errs.ErrNotFound
	}
	if err != nil && !errors.Is(err, errs.ErrNotFound) {
		return identity.User{}, Credentials{}, fmt.Errorf("login: %w", err)
	}
	found := err == nil && u.PasswordHash != ""
	hash := u.PasswordHash
	if !found {
		if hash, err = s.dummyHash(ctx); err != nil {
			return identity.User{}, Credentials{}, err
		}
	}
	ok, rehash, err := s.d.Hasher.Verify(ctx, pw, hash, s.t.Password.Hash)
	if err != nil {
		return identity.User{}, Credentials{}, err
	}
	if !found || !ok || !u.Active || (s.t.RequireVerifiedEmail && !u.EmailVerified) {
		return identity.User{}, Credentials{}, ErrInvalidCredentials
	}
	_ = s.d.Limiter.Reset(ctx, accountKey)
	_ = s.d.Limiter.Refund(ctx, ipKey, s.t.Throttling.LoginPerIP)
	now := s.d.Clock.Now().UTC()
	if rehash {
		if h, err := s.d.Hasher.Hash(ctx, pw, s.t.Password.Hash); err == nil {
			if s.d.Users.SetPasswordHash(ctx, s.t.ID, u.ID, h, now) == nil {
				u.PasswordHash = h
			}
		}
	}
	// last_login_at is kept to the minute: an API client that logs in for
	// every call would otherwise cost a user-document write per login.
	if now.Sub(u.LastLoginAt) >= lastLoginPrecision {
		if err := s.d.Users.RecordLogin(ctx, s.t.ID, u.ID, now); err == nil {
			u.LastLoginAt = now
		}
	}
	creds, err := s.StartSession(ctx, u, in.Kind, []string{"pwd"}, in.Client)
	if err != nil {
		return identity.User{}, Credentials{}, err
	}
	return u, creds, nil
}

// dummyHash is a hash of a random password with the tenant's parameters,
// verified when the account does not exist so that the answer takes as
// long as for a wrong password.
func (s *Service) dummyHash(ctx context.Context) (string, error) {
	s.dummyOnce.Do(func() {
		b := make([]byte, 16)
		if _, err := io.ReadFull(s.d.Random, b); err != nil {
			s.dummyErr = err
			return
		}
		s.dummy, s.dummyErr = s.d.Hasher.Hash(ctx, hex.EncodeToString(b), s.t.Password.Hash)
	})
	if s.dummyErr != nil {
		err := s.dummyErr
		s.dummyOnce = sync.Once{} // try again on the next login
		return "", err
	}
	return s.dummy, nil
}

// StartSession creates a session of the given kind for u and issues its
// credentials. Other login methods call it after their own checks.
func (s *Service) StartSession(ctx context.Context, u identity.User, kind identity.SessionKind, amr []string, c Client) (Credentials, error) {
	now := s.d.Clock.Now().UTC()
	id, err := s.randomID()
	if err != nil {
		return Credentials{}, err
	}
	sess := identity.Session{
		ID: id, TenantID: s.t.ID, UserID: u.ID, Kind: kind, CreatedAt: now,
		ExpiresAt: now.Add(s.t.Sessions.AbsoluteTimeout), AMR: amr,
		IP: c.IP.String(), UserAgent: truncate(c.UserAgent, 256),
	}
	sess = sess.Touched(now, s.t.Sessions.IdleTimeout)
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
		_ = s.revoke(ctx, rt.SessionID, now)
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
	sess = sess.Touched(now, s.t.Sessions.IdleTimeout)
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

// touchEvery limits how often a request writes last-seen to the store, and
// lastLoginPrecision how often a login writes last-login to the user.
const (
	touchEvery         = time.Minute
	lastLoginPrecision = time.Minute
)

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
		revoked, err := s.d.Revocations.Revoked(ctx, s.t.ID, claims.SessionID)
		if err != nil {
			return Principal{}, errs.ErrUnavailable.Wrap(err)
		}
		if revoked {
			return Principal{}, ErrInvalidToken
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
		// The session may come from a cache; the revocation set, written
		// first by a logout on any instance, is the word on revocation.
		revoked, err := s.d.Revocations.Revoked(ctx, s.t.ID, sess.ID)
		if err != nil {
			return Principal{}, errs.ErrUnavailable.Wrap(err)
		}
		if revoked {
			return Principal{}, ErrInvalidToken
		}
		u, err := s.activeUser(ctx, sess.UserID)
		if err != nil {
			return Principal{}, err
		}
		if now.Sub(sess.LastSeenAt) >= touchEvery {
			sess = sess.Touched(now, s.t.Sessions.IdleTimeout)
			_ = s.d.Sessions.Touch(ctx, s.t.ID, sess.ID, sess.LastSeenAt, sess.IdleExpiresAt)
		}
		return Principal{User: u, Session: sess, Method: kind}, nil
	}
	return Principal{}, ErrInvalidToken
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

// Logout revokes the principal's session and every credential tied to it,
// at once and on every server instance.
func (s *Service) Logout(ctx context.Context, p Principal) error {
	return s.revoke(ctx, p.Session.ID, s.d.Clock.Now().UTC())
}

func (s *Service) revoke(ctx context.Context, sessionID string, now time.Time) error {
	// The revocation set first: every instance checks it on every request,
	// whatever it has cached, and access tokens are self-contained, so it
	// stops them until the last one issued could have expired.
	if err := s.d.Revocations.Revoke(ctx, s.t.ID, sessionID, s.t.Tokens.Access+time.Minute); err != nil {
		return errs.ErrUnavailable.Wrap(err)
	}
	if _, err := s.d.Sessions.Revoke(ctx, s.t.ID, sessionID, now); err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	return nil
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
	return s.revoke(ctx, id, s.d.Clock.Now().UTC())
}

// RevokeOtherSessions ends every session of the principal but the current
// one and returns how many it ended.
func (s *Service) RevokeOtherSessions(ctx context.Context, p Principal) (int, error) {
	now := s.d.Clock.Now().UTC()
	ids, err := s.d.Sessions.RevokeOthers(ctx, s.t.ID, p.User.ID, p.Session.ID, now)
	if err != nil {
		return 0, fmt.Errorf("revoke sessions: %w", err)
	}
	for _, id := range ids {
		if err := s.d.Revocations.Revoke(ctx, s.t.ID, id, s.t.Tokens.Access+time.Minute); err != nil {
			return 0, errs.ErrUnavailable.Wrap(err)
		}
	}
	return len(ids), nil
}

// ErrSessionNotFound answers a revoke of a session that is not the
// principal's.
var ErrSessionNotFound = errs.E(errs.NotFound, "session_not_found", "No such session.")

// throttle counts this attempt against key, or refuses it when key is over
// its limit.
func (s *Service) throttle(ctx context.Context, key string, l tenant.Limit) error {
	ok, retry, err := s.d.Limiter.Hit(ctx, key, l)
	if err != nil {
		return errs.ErrUnavailable.Wrap(fmt.Errorf("rate limiter: %w", err))
	}
	if !ok {
		return ErrThrottled.WithRetryAfter(max(1, int((retry+time.Second-1)/time.Second)))
	}
	return nil
}

// Throttle keys. IPv6 clients are keyed by their /64, which one subscriber
// usually holds whole.
func loginIPKey(ip netip.Addr) string    { return "login:ip:" + ipKey(ip) }
func registerIPKey(ip netip.Addr) string { return "register:ip:" + ipKey(ip) }
func loginAccountKey(emailKey string) string {
	sum := sha256.Sum256([]byte(emailKey))
	return "login:acct:" + hex.EncodeToString(sum[:16])
}

func ipKey(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
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

func (s *Service) randomID() (string, error) { return s.randomToken(16) }

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
