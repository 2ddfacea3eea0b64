// Package mfa is the second factor: a TOTP secret in an authenticator app
// (RFC 6238), with single-use backup codes for when the app is not at
// hand. It enrols a user (start, then confirm with a code from the new
// secret: only then is the factor on), disables it and regenerates the
// backup codes, each behind proof; and it checks a code for the login
// pipeline, which owns the challenge a first factor ends in.
//
// Secrets are sealed under the platform key, bound to tenant and user,
// and never returned after enrolment. A TOTP code is accepted once: the
// step it belongs to is claimed for the user, so the same code (and 20
// copies of it sent together) signs in once. Backup codes are stored as
// HMACs under a per-tenant key and used up atomically; using one mails the
// owner. Wrong codes count against the user's budget (mfa.per_user), and
// wrong backup codes against a budget of their own (mfa.backup_lockout),
// both in the shared limiter.
package mfa

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"image/png"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/application/throttle"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/message"
	"github.com/portcullis/portcullis/domain/tenant"
)

// Errors the package reports.
var (
	// ErrInvalidCode answers a wrong, used or malformed code (seed 001's
	// TOTPIncorrect / InvalidTOTPToken).
	ErrInvalidCode = errs.E(errs.Unauthenticated, "mfa_code_invalid", "The code is not valid. Enter the current code of your authenticator app, or an unused backup code.")
	// ErrCodeRequired answers a step that needs a code without one (seed
	// 001's TOTPRequired).
	ErrCodeRequired = errs.E(errs.Unauthenticated, "mfa_code_required", "A code of your authenticator app, or a backup code, is required.")
	// ErrNotEnrolled answers a step that needs a second factor the user
	// does not have (seed 001's TOTPNotSetup).
	ErrNotEnrolled = errs.E(errs.Invalid, "mfa_not_enrolled", "Two-step verification is not set up for this account.")
	// ErrNotStarted answers a confirmation with no enrolment started.
	ErrNotStarted = errs.E(errs.Invalid, "mfa_not_started", "Start setting up two-step verification first.")
	// ErrAlreadyEnabled answers a start for a user whose factor is on
	// (seed 001's TOTPAlreadyEnabledOnInit).
	ErrAlreadyEnabled = errs.E(errs.Conflict, "mfa_already_enabled", "Two-step verification is already on. Turn it off before setting it up again.")
	// ErrBackupLocked answers a backup code while the user's backup codes
	// are locked after too many wrong ones; it carries Retry-After.
	ErrBackupLocked = errs.E(errs.RateLimited, "mfa_backup_locked", "Too many wrong backup codes. Use your authenticator app, or try again later.")
	// ErrDisabled answers setting up a second factor on a tenant that has
	// not enabled totp in its login methods.
	ErrDisabled = errs.E(errs.Forbidden, "method_disabled", "Two-step verification is not enabled for this tenant.")
	// ErrProofRequired answers a disable without a code or a password.
	ErrProofRequired = errs.E(errs.Invalid, "mfa_proof_required", "Enter a current code, a backup code or your password.")
)

// Methods are the second factors a challenge can be answered with.
const (
	MethodTOTP       = "totp"
	MethodBackupCode = "backup_code"
)

// Key is one tenant's key for backup-code hashes.
type Key []byte

// DeriveKey derives tenant tenantID's backup-code key from the master key.
func DeriveKey(master []byte, tenantID string) (Key, error) {
	return platform.DeriveTenantKey(master, "portcullis mfa backup codes v1", tenantID)
}

// Deps are what one tenant's second factor uses.
type Deps struct {
	TOTPs   TOTPs
	Backup  BackupCodes
	Sealer  Sealer
	Key     Key
	Limiter throttle.Limiter
	Reauth  Reauth
	Mail    Mail
	// Audit records the factor turned on and off, the backup codes used
	// and replaced.
	Audit  audit.Recorder
	Clock  platform.Clock
	Random platform.Random
}

// Service is one tenant's second factor.
type Service struct {
	t tenant.Tenant
	p tenant.MFAPolicy
	d Deps
}

// New returns the second factor of tenant t, under t.MFA.
func New(t tenant.Tenant, d Deps) *Service { return &Service{t: t, p: t.MFA, d: d} }

// Enrolment is what a user sees once, when setting up the factor.
type Enrolment struct {
	// Secret is the base32 secret, for typing into an app.
	Secret string
	// URI is the otpauth://totp/… URI (issuer: the tenant's name).
	URI string
	// QRPNG is the URI as a QR code, a PNG image.
	QRPNG []byte
	// BackupCodes are the codes that work once each when the app is not
	// at hand; they are shown here only.
	BackupCodes []string
}

// QRDataURI is the QR code as a data: URI, for an <img> on a page.
func (e Enrolment) QRDataURI() string {
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(e.QRPNG)
}

// Status is a user's second factor as they may see it.
type Status struct {
	// Enabled: the factor is on; every sign-in needs a code.
	Enabled bool
	// Pending: a setup was started and not confirmed.
	Pending bool
	// BackupCodesLeft counts the unused backup codes.
	BackupCodesLeft int
	// Required: the tenant requires a second factor of the user's role.
	Required bool
}

// Status reports u's second factor.
func (s *Service) Status(ctx context.Context, u identity.User) (Status, error) {
	st := Status{Required: s.p.Requires(string(u.Role))}
	t, err := s.d.TOTPs.Get(ctx, s.t.ID, u.ID)
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return st, nil
	case err != nil:
		return Status{}, fmt.Errorf("mfa: %w", err)
	}
	st.Enabled, st.Pending = t.Confirmed, !t.Confirmed
	if t.Confirmed {
		if st.BackupCodesLeft, err = s.d.Backup.Left(ctx, s.t.ID, u.ID); err != nil {
			return Status{}, fmt.Errorf("mfa: %w", err)
		}
	}
	return st, nil
}

// Enrolled reports whether u has the factor on. The login pipeline asks
// it for every sign-in; an error (the store away) must fail the sign-in.
func (s *Service) Enrolled(ctx context.Context, u identity.User) (bool, error) {
	t, err := s.d.TOTPs.Get(ctx, s.t.ID, u.ID)
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("mfa: %w", err)
	}
	return t.Confirmed, nil
}

// Start begins setting up the factor for u: a new secret and new backup
// codes, pending until Confirm. A pending setup is replaced; a user whose
// factor is on gets ErrAlreadyEnabled; a tenant without totp in its login
// methods, ErrDisabled. (A factor already on keeps working if the tenant
// later drops totp: a second factor is never skipped.)
func (s *Service) Start(ctx context.Context, u identity.User) (Enrolment, error) {
	if !s.t.Enabled(tenant.MethodTOTP) {
		return Enrolment{}, ErrDisabled
	}
	raw := make([]byte, 20) // 160 bits, RFC 4226's recommendation
	if _, err := io.ReadFull(s.d.Random, raw); err != nil {
		return Enrolment{}, fmt.Errorf("mfa: random: %w", err)
	}
	secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw)
	uri := keyURI(s.t.Name(), u.Email, secret, s.p.TOTP)
	key, err := otp.NewKeyFromURL(uri)
	if err != nil {
		return Enrolment{}, fmt.Errorf("mfa: %w", err)
	}
	img, err := key.Image(256, 256)
	if err != nil {
		return Enrolment{}, fmt.Errorf("mfa: qr code: %w", err)
	}
	var qr bytes.Buffer
	if err := png.Encode(&qr, img); err != nil {
		return Enrolment{}, fmt.Errorf("mfa: qr code: %w", err)
	}
	codes, hashes, err := s.newBackupCodes(u)
	if err != nil {
		return Enrolment{}, err
	}
	sealed, err := s.d.Sealer.Seal([]byte(secret), s.binding(u.ID))
	if err != nil {
		return Enrolment{}, fmt.Errorf("mfa: seal: %w", err)
	}
	id := make([]byte, 12)
	if _, err := io.ReadFull(s.d.Random, id); err != nil {
		return Enrolment{}, fmt.Errorf("mfa: random: %w", err)
	}
	err = s.d.TOTPs.Put(ctx, TOTP{TenantID: s.t.ID, UserID: u.ID, EnrolmentID: hex.EncodeToString(id), Sealed: sealed,
		PendingBackup: hashes, CreatedAt: s.d.Clock.Now().UTC()})
	switch {
	case errors.Is(err, errs.ErrConflict):
		return Enrolment{}, ErrAlreadyEnabled
	case err != nil:
		return Enrolment{}, fmt.Errorf("mfa: %w", err)
	}
	return Enrolment{Secret: secret, URI: uri, QRPNG: qr.Bytes(), BackupCodes: codes}, nil
}

// Confirm turns u's pending factor on with a current code of its secret;
// its backup codes become the user's. A wrong code is ErrInvalidCode and
// counts against the user's budget.
func (s *Service) Confirm(ctx context.Context, u identity.User, code string) error {
	code = normalizeCode(code)
	if code == "" {
		return ErrCodeRequired
	}
	t, err := s.d.TOTPs.Get(ctx, s.t.ID, u.ID)
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return ErrNotStarted
	case err != nil:
		return fmt.Errorf("mfa: %w", err)
	case t.Confirmed:
		return ErrAlreadyEnabled
	}
	if err := s.checkTOTP(ctx, u, t, code); err != nil {
		return err
	}
	now := s.d.Clock.Now().UTC()
	// The codes first: a factor that is on always has its backup codes.
	if err := s.d.Backup.Replace(ctx, s.t.ID, u.ID, t.PendingBackup, now); err != nil {
		return fmt.Errorf("mfa: %w", err)
	}
	switch err := s.d.TOTPs.Confirm(ctx, s.t.ID, u.ID, t.EnrolmentID, now); {
	case errors.Is(err, errs.ErrNotFound):
		return ErrNotStarted // another setup replaced this one meanwhile
	case err != nil:
		return fmt.Errorf("mfa: %w", err)
	}
	s.d.Audit.Record(ctx, audit.Event{Type: audit.MFAEnabled, ActorID: u.ID, TargetID: u.ID, Method: MethodTOTP})
	return nil
}

// Proof is what turning the factor off needs: a current code or an
// unused backup code, or the account's password.
type Proof struct {
	Code     string
	Password string
}

// Disable turns u's factor off (a pending setup is dropped too), after
// proof: a code of the factor (a used backup code is used up) or the
// password (counted against the re-authentication budget).
func (s *Service) Disable(ctx context.Context, u identity.User, p Proof) error {
	t, err := s.d.TOTPs.Get(ctx, s.t.ID, u.ID)
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return ErrNotEnrolled
	case err != nil:
		return fmt.Errorf("mfa: %w", err)
	}
	proof := MethodTOTP
	switch {
	case normalizeCode(p.Code) != "" && t.Confirmed:
		backup, err := s.verifyKind(ctx, u, t, p.Code)
		if err != nil {
			return err
		}
		if backup {
			proof = MethodBackupCode
		}
	case normalizeCode(p.Code) != "":
		if err := s.checkTOTP(ctx, u, t, normalizeCode(p.Code)); err != nil {
			return err
		}
	case p.Password != "":
		if err := s.d.Reauth.Reauthenticate(ctx, u, p.Password); err != nil {
			return err
		}
		proof = "password"
	default:
		return ErrProofRequired
	}
	if err := s.d.TOTPs.Delete(ctx, s.t.ID, u.ID); err != nil {
		return fmt.Errorf("mfa: %w", err)
	}
	s.d.Audit.Record(ctx, audit.Event{Type: audit.MFADisabled, ActorID: u.ID, TargetID: u.ID, Method: proof})
	// The factor is off whatever becomes of the codes; they are useless
	// without it and go with the next enrolment.
	_ = s.d.Backup.DeleteAll(ctx, s.t.ID, u.ID)
	return nil
}

// Reset turns u's second factor off without proof: an admin's action (the
// admin API checks its scope), for a user who lost the app and the codes.
// A user without one is ErrNotEnrolled.
func (s *Service) Reset(ctx context.Context, u identity.User) error {
	if _, err := s.d.TOTPs.Get(ctx, s.t.ID, u.ID); errors.Is(err, errs.ErrNotFound) {
		return ErrNotEnrolled
	} else if err != nil {
		return fmt.Errorf("mfa: %w", err)
	}
	if err := s.d.TOTPs.Delete(ctx, s.t.ID, u.ID); err != nil {
		return fmt.Errorf("mfa: %w", err)
	}
	_ = s.d.Backup.DeleteAll(ctx, s.t.ID, u.ID)
	return nil
}

// RegenerateBackupCodes replaces u's backup codes with new ones, after a
// current code of the app.
func (s *Service) RegenerateBackupCodes(ctx context.Context, u identity.User, code string) ([]string, error) {
	t, err := s.d.TOTPs.Get(ctx, s.t.ID, u.ID)
	switch {
	case errors.Is(err, errs.ErrNotFound) || (err == nil && !t.Confirmed):
		return nil, ErrNotEnrolled
	case err != nil:
		return nil, fmt.Errorf("mfa: %w", err)
	}
	if err := s.checkTOTP(ctx, u, t, normalizeCode(code)); err != nil {
		return nil, err
	}
	codes, hashes, err := s.newBackupCodes(u)
	if err != nil {
		return nil, err
	}
	if err := s.d.Backup.Replace(ctx, s.t.ID, u.ID, hashes, s.d.Clock.Now().UTC()); err != nil {
		return nil, fmt.Errorf("mfa: %w", err)
	}
	s.d.Audit.Record(ctx, audit.Event{Type: audit.MFABackupCodesRegenerated, ActorID: u.ID, TargetID: u.ID})
	return codes, nil
}

// Verify checks a code of u's factor for a sign-in: a TOTP code, or a
// backup code (told apart by their form), each accepted once. Using a
// backup code mails the owner; client describes the sign-in for it.
func (s *Service) Verify(ctx context.Context, u identity.User, code string, client Client) error {
	t, err := s.d.TOTPs.Get(ctx, s.t.ID, u.ID)
	switch {
	case errors.Is(err, errs.ErrNotFound) || (err == nil && !t.Confirmed):
		return ErrNotEnrolled
	case err != nil:
		return fmt.Errorf("mfa: %w", err)
	}
	if strings.TrimSpace(code) == "" {
		return ErrCodeRequired
	}
	backup, err := s.verifyKind(ctx, u, t, code)
	if err != nil {
		return err
	}
	if backup {
		s.noticeBackupUsed(ctx, u, client)
	}
	return nil
}

// Client describes where a sign-in comes from, for the notice a used
// backup code sends.
type Client struct {
	IP     string
	Device string
}

// verifyKind checks a TOTP or backup code and reports which it was: a
// code of digits only is a TOTP code (a backup code always has a letter).
func (s *Service) verifyKind(ctx context.Context, u identity.User, t TOTP, code string) (backup bool, err error) {
	norm := normalizeCode(code)
	if strings.Trim(norm, "0123456789") == "" {
		return false, s.checkTOTP(ctx, u, t, norm)
	}
	return true, s.useBackup(ctx, u, norm)
}

// checkTOTP checks a TOTP code of t, counted against the user's budget
// first, and claims its step so that it is never accepted again.
func (s *Service) checkTOTP(ctx context.Context, u identity.User, t TOTP, code string) error {
	if !isTOTPForm(code, s.p.TOTP.Digits) {
		return ErrInvalidCode // no code of this form was ever right; no guess to count
	}
	budget := throttle.MFAUser(u.ID)
	if err := throttle.Hit(ctx, s.d.Limiter, budget, s.p.PerUser); err != nil {
		return err
	}
	plain, err := s.d.Sealer.Open(t.Sealed, s.binding(u.ID))
	if err != nil {
		return fmt.Errorf("mfa: open secret: %w", err)
	}
	now := s.d.Clock.Now()
	step, ok := s.match(string(plain), code, now)
	if !ok {
		return ErrInvalidCode
	}
	period := s.p.TOTP.Period
	won, err := s.d.TOTPs.UseStep(ctx, s.t.ID, u.ID, step, now.Add(time.Duration(2*s.p.TOTP.Skew+2)*period))
	if err != nil {
		_ = s.d.Limiter.Refund(ctx, budget, s.p.PerUser) // never judged
		return errs.ErrUnavailable.Wrap(fmt.Errorf("mfa: use step: %w", err))
	}
	if !won {
		return ErrInvalidCode // a replay
	}
	_ = s.d.Limiter.Refund(ctx, budget, s.p.PerUser)
	return nil
}

// match finds the step within the skew whose code is code.
func (s *Service) match(secret, code string, now time.Time) (int64, bool) {
	period := s.p.TOTP.Period
	cur := now.Unix() / int64(period/time.Second)
	opts := totp.ValidateOpts{Period: uint(period / time.Second), Digits: otp.Digits(s.p.TOTP.Digits), Algorithm: algorithm(s.p.TOTP.Algorithm)}
	found, at := false, int64(0)
	// Every step of the window is computed and compared, whichever
	// matches, so that the time taken tells nothing.
	for step := cur - int64(s.p.TOTP.Skew); step <= cur+int64(s.p.TOTP.Skew); step++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*int64(period/time.Second), 0), opts)
		if err != nil {
			continue
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && !found {
			found, at = true, step
		}
	}
	return at, found
}

// useBackup uses one of u's backup codes, counted against the backup
// lockout and the user's budget first.
func (s *Service) useBackup(ctx context.Context, u identity.User, code string) error {
	lock, lockout := throttle.MFABackup(u.ID), s.backupLockout()
	ok, retry, err := s.d.Limiter.Hit(ctx, lock, lockout)
	switch {
	case err != nil:
		return errs.ErrUnavailable.Wrap(fmt.Errorf("mfa: rate limiter: %w", err))
	case !ok:
		return ErrBackupLocked.WithRetryAfter(max(1, int((retry+time.Second-1)/time.Second)))
	}
	budget := throttle.MFAUser(u.ID)
	if err := throttle.Hit(ctx, s.d.Limiter, budget, s.p.PerUser); err != nil {
		_ = s.d.Limiter.Refund(ctx, lock, lockout)
		return err
	}
	if len(code) != s.p.BackupCodes.Length {
		return ErrInvalidCode // counted: a guess of the wrong length is still a guess
	}
	used, err := s.d.Backup.Use(ctx, s.t.ID, u.ID, s.backupHash(u.ID, code), s.d.Clock.Now().UTC())
	if err != nil {
		_ = s.d.Limiter.Refund(ctx, lock, lockout)
		_ = s.d.Limiter.Refund(ctx, budget, s.p.PerUser)
		return errs.ErrUnavailable.Wrap(fmt.Errorf("mfa: use backup code: %w", err))
	}
	if !used {
		return ErrInvalidCode
	}
	s.d.Audit.Record(ctx, audit.Event{Type: audit.MFABackupCodeUsed, TargetID: u.ID, Method: MethodBackupCode})
	_ = s.d.Limiter.Refund(ctx, lock, lockout)
	_ = s.d.Limiter.Refund(ctx, budget, s.p.PerUser)
	return nil
}

// backupLockout is the limit wrong backup codes are counted under. The
// policy {Count, Window} means: after Count wrong backup codes, backup
// codes are refused for Window (seed 001's original: 3, then 30 minutes).
// The limiter's bucket of Count refills at Count per Window, so that a
// burst of Count would be over after Window/Count; a bucket of Count that
// refills one per Window (Count per Count×Window) refuses for the whole
// Window after Count wrong codes in a row, and lets one more try through
// per Window after that until it has refilled.
func (s *Service) backupLockout() tenant.Limit {
	l := s.p.BackupLockout
	return tenant.Limit{Count: l.Count, Window: l.Window * time.Duration(l.Count)}
}

// noticeLifetime is how long a backup-code notice is retried.
const noticeLifetime = 24 * time.Hour

func (s *Service) noticeBackupUsed(ctx context.Context, u identity.User, c Client) {
	left, err := s.d.Backup.Left(ctx, s.t.ID, u.ID)
	if err != nil || u.Email == "" {
		return
	}
	now := s.d.Clock.Now().UTC()
	_ = s.d.Mail.Send(ctx, message.MailBackupCodeUsed, u.Email, message.MailData{Name: u.FirstName, Email: u.Email, When: now,
		IP: c.IP, Device: c.Device, Left: left}, now.Add(noticeLifetime))
}

// backupAlphabet is Crockford's base32: no I, L, O or U, so that a code
// read aloud or off paper is typed right.
const backupAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// newBackupCodes draws the policy's number of codes and their hashes. A
// code of digits only is drawn again: with 8-digit TOTP codes and 8
// characters, it would read as a TOTP code (the cost is under 0.1 bit).
func (s *Service) newBackupCodes(u identity.User) (codes, hashes []string, err error) {
	n, length := s.p.BackupCodes.Count, s.p.BackupCodes.Length
	codes, hashes = make([]string, n), make([]string, n)
	raw := make([]byte, length)
	for i := 0; i < n; {
		if _, err := io.ReadFull(s.d.Random, raw); err != nil {
			return nil, nil, fmt.Errorf("mfa: random: %w", err)
		}
		b := make([]byte, length)
		for j, r := range raw {
			b[j] = backupAlphabet[r&31] // 256 is a multiple of 32: uniform
		}
		if isTOTPForm(string(b), length) {
			continue
		}
		codes[i], hashes[i] = string(b), s.backupHash(u.ID, string(b))
		i++
	}
	return codes, hashes, nil
}

// backupHash is how a backup code is stored: an HMAC under the tenant's
// key, bound to the user, so that a leaked table cannot be brute-forced
// (a code has 40 to 50 bits) without the platform key.
func (s *Service) backupHash(userID, code string) string {
	m := hmac.New(sha256.New, s.d.Key)
	m.Write([]byte(s.t.ID + "\x00" + userID + "\x00" + code))
	return hex.EncodeToString(m.Sum(nil))
}

// binding is the additional data a secret is sealed with: one user's of
// one tenant, so that a sealed secret copied to another user opens for
// nobody.
func (s *Service) binding(userID string) []byte {
	return []byte("portcullis totp v1\x00" + s.t.ID + "\x00" + userID)
}

// normalizeCode reads a code as people type it: spaces and hyphens (a
// code shown in groups) are dropped and letters lower-cased.
func normalizeCode(code string) string {
	return strings.ToLower(strings.NewReplacer(" ", "", "-", "", "\t", "").Replace(strings.TrimSpace(code)))
}

// isTOTPForm reports whether code is digits digits.
func isTOTPForm(code string, digits int) bool {
	if len(code) != digits {
		return false
	}
	for _, c := range code {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// keyURI is the otpauth URI of a secret (the Key Uri Format of Google
// Authenticator): the label "issuer:account" percent-encoded as a path,
// the parameters as a query with spaces as %20, which every app reads (a
// "+" shows as a plus in some).
func keyURI(issuer, account, secret string, p tenant.TOTPPolicy) string {
	q := url.Values{"secret": {secret}, "issuer": {issuer}, "algorithm": {p.Algorithm},
		"digits": {strconv.Itoa(p.Digits)}, "period": {strconv.Itoa(int(p.Period / time.Second))}}
	label := url.PathEscape(issuer) + ":" + url.PathEscape(account)
	return "otpauth://totp/" + label + "?" + strings.ReplaceAll(q.Encode(), "+", "%20")
}

func algorithm(name string) otp.Algorithm {
	switch name {
	case "SHA256":
		return otp.AlgorithmSHA256
	case "SHA512":
		return otp.AlgorithmSHA512
	}
	return otp.AlgorithmSHA1
}
