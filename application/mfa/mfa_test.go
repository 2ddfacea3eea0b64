package mfa_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/portcullis/portcullis/application/mfa"
	"github.com/portcullis/portcullis/application/mfa/mfatest"
	"github.com/portcullis/portcullis/application/platform/platformtest"
	"github.com/portcullis/portcullis/application/throttle"
	"github.com/portcullis/portcullis/application/throttle/throttletest"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/message"
	"github.com/portcullis/portcullis/domain/tenant"
)

var ctx = context.Background()

// mailbox records the notices.
type mailbox struct {
	mu   sync.Mutex
	sent []message.MailData
	kind []message.MailKind
}

func (m *mailbox) Send(_ context.Context, kind message.MailKind, _ string, d message.MailData, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent, m.kind = append(m.sent, d), append(m.kind, kind)
	return nil
}

// reauth accepts one password.
type reauth struct{ password string }

var errWrongPassword = errs.E(errs.Unauthenticated, "wrong_password", "wrong")

func (r reauth) Reauthenticate(_ context.Context, _ identity.User, pw string) error {
	if pw != r.password {
		return errWrongPassword
	}
	return nil
}

type fixture struct {
	mfatest.Fixture
	clock *platformtest.Clock
	mail  *mailbox
	user  identity.User
	t     tenant.Tenant
}

func newFixture(t *testing.T, mutate ...func(*tenant.Tenant)) *fixture {
	t.Helper()
	tn := tenant.Default()
	tn.ID, tn.DisplayName = "shop", "Shop & Co"
	tn.LoginMethods = []tenant.LoginMethod{tenant.MethodPassword, tenant.MethodTOTP}
	for _, m := range mutate {
		m(&tn)
	}
	if err := tn.Validate(); err != nil {
		t.Fatal(err)
	}
	c := platformtest.NewClock(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	f := &fixture{clock: c, mail: &mailbox{}, t: tn,
		user: identity.User{ID: "u1", TenantID: tn.ID, Email: "ann@example.com", FirstName: "Ann", Role: identity.RoleUser, Active: true}}
	f.Fixture = mfatest.NewFixture(t, tn, c, throttletest.NewMemoryLimiter(c), f.mail, reauth{"the password"}, nil)
	return f
}

// code is the TOTP code of secret at the fixture's time plus offset steps.
func (f *fixture) code(t *testing.T, secret string, offset int) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, f.clock.Now().Add(time.Duration(offset)*30*time.Second),
		totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrol sets the factor up for the fixture's user and returns the
// enrolment.
func (f *fixture) enrol(t *testing.T) mfa.Enrolment {
	t.Helper()
	e, err := f.Service.Start(ctx, f.user)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Service.Confirm(ctx, f.user, f.code(t, e.Secret, 0)); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(90 * time.Second) // past the confirming code's step and its skew
	return e
}

func TestStartShowsASecretItsURIAndQRCodeAndBackupCodes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	e, err := f.Service.Start(ctx, f.user)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(e.URI)
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" {
		t.Fatalf("uri %q", e.URI)
	}
	q := u.Query()
	if q.Get("secret") != e.Secret || q.Get("issuer") != "Shop & Co" || q.Get("digits") != "6" || q.Get("period") != "30" ||
		q.Get("algorithm") != "SHA1" || !strings.Contains(u.Path, "ann@example.com") {
		t.Fatalf("uri %q", e.URI)
	}
	if len(e.Secret) != 32 { // 160 bits in base32
		t.Fatalf("secret %q", e.Secret)
	}
	if !strings.HasPrefix(string(e.QRPNG), "\x89PNG") || !strings.HasPrefix(e.QRDataURI(), "data:image/png;base64,") {
		t.Fatal("the QR code is not a PNG")
	}
	if len(e.BackupCodes) != tenant.DefaultBackupCodeCount {
		t.Fatalf("%d backup codes", len(e.BackupCodes))
	}
	seen := map[string]bool{}
	for _, c := range e.BackupCodes {
		if len(c) != tenant.DefaultBackupCodeLength || strings.Trim(c, "0123456789abcdefghjkmnpqrstvwxyz") != "" ||
			strings.Trim(c, "0123456789") == "" || seen[c] {
			t.Fatalf("backup code %q", c)
		}
		seen[c] = true
	}
	// Stored sealed, pending: not on yet.
	stored, err := f.TOTPs.Get(ctx, f.t.ID, f.user.ID)
	if err != nil || stored.Confirmed || strings.Contains(string(stored.Sealed), e.Secret) {
		t.Fatalf("stored %+v, %v", stored, err)
	}
	if on, err := f.Service.Enrolled(ctx, f.user); err != nil || on {
		t.Fatalf("enrolled before confirmation: %v %v", on, err)
	}
}

func TestConfirmTurnsTheFactorOnOnlyWithACodeOfTheNewSecret(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	other, err := f.Service.Start(ctx, identity.User{ID: "u2", TenantID: f.t.ID, Email: "bob@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	e, err := f.Service.Start(ctx, f.user)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Service.Confirm(ctx, f.user, f.code(t, other.Secret, 0)); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("a code of another secret: %v, want mfa_code_invalid", err)
	}
	// A second start replaces the pending secret: the first one's codes
	// confirm nothing.
	e2, err := f.Service.Start(ctx, f.user)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Service.Confirm(ctx, f.user, f.code(t, e.Secret, 0)); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("a code of the replaced secret: %v, want mfa_code_invalid", err)
	}
	if err := f.Service.Confirm(ctx, f.user, f.code(t, e2.Secret, 0)); err != nil {
		t.Fatal(err)
	}
	if on, _ := f.Service.Enrolled(ctx, f.user); !on {
		t.Fatal("not on after confirmation")
	}
	st, err := f.Service.Status(ctx, f.user)
	if err != nil || !st.Enabled || st.BackupCodesLeft != tenant.DefaultBackupCodeCount {
		t.Fatalf("status %+v, %v", st, err)
	}
	if _, err := f.Service.Start(ctx, f.user); !errors.Is(err, mfa.ErrAlreadyEnabled) {
		t.Fatalf("start while on: %v, want mfa_already_enabled", err)
	}
}

func TestATOTPCodeIsAcceptedOnceWithinTheSkew(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	e := f.enrol(t)
	c := f.code(t, e.Secret, 0)
	if err := f.Service.Verify(ctx, f.user, c, mfa.Client{}); err != nil {
		t.Fatalf("the current code: %v", err)
	}
	if err := f.Service.Verify(ctx, f.user, c, mfa.Client{}); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("the same code again: %v, want mfa_code_invalid", err)
	}
	// One step either side is accepted; two are not.
	if err := f.Service.Verify(ctx, f.user, f.code(t, e.Secret, -1), mfa.Client{}); err != nil {
		t.Fatalf("the previous step's code: %v", err)
	}
	if err := f.Service.Verify(ctx, f.user, f.code(t, e.Secret, 1), mfa.Client{}); err != nil {
		t.Fatalf("the next step's code: %v", err)
	}
	for _, off := range []int{-2, 2} {
		if err := f.Service.Verify(ctx, f.user, f.code(t, e.Secret, off), mfa.Client{}); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("a code %d steps off: %v, want mfa_code_invalid", off, err)
		}
	}
	// Spaces as an app shows them ("123 456") are read.
	f.clock.Advance(90 * time.Second)
	c = f.code(t, e.Secret, 0)
	if err := f.Service.Verify(ctx, f.user, c[:3]+" "+c[3:], mfa.Client{}); err != nil {
		t.Fatalf("a code with a space: %v", err)
	}
}

func TestTwentyParallelSubmissionsOfOneCodeSucceedOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	e := f.enrol(t)
	c := f.code(t, e.Secret, 0)
	var ok atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if f.Service.Verify(ctx, f.user, c, mfa.Client{}) == nil {
				ok.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	if ok.Load() != 1 {
		t.Fatalf("%d of 20 parallel submissions of one code succeeded, want 1", ok.Load())
	}
}

func TestABackupCodeWorksOnceAndMailsTheOwner(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	e := f.enrol(t)
	code := e.BackupCodes[3]
	grouped := strings.ToUpper(code[:5] + "-" + code[5:]) // as printed, typed in capitals
	if err := f.Service.Verify(ctx, f.user, grouped, mfa.Client{IP: "203.0.113.9", Device: "Firefox on Linux"}); err != nil {
		t.Fatalf("a backup code: %v", err)
	}
	if err := f.Service.Verify(ctx, f.user, code, mfa.Client{}); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("the same backup code again: %v, want mfa_code_invalid", err)
	}
	if len(f.mail.sent) != 1 || f.mail.kind[0] != message.MailBackupCodeUsed || f.mail.sent[0].Left != tenant.DefaultBackupCodeCount-1 ||
		f.mail.sent[0].IP != "203.0.113.9" {
		t.Fatalf("notices %+v %+v", f.mail.kind, f.mail.sent)
	}
	var ok atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if f.Service.Verify(ctx, f.user, e.BackupCodes[5], mfa.Client{}) == nil {
				ok.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	if ok.Load() != 1 {
		t.Fatalf("%d of 20 parallel uses of one backup code succeeded, want 1", ok.Load())
	}
}

func TestWrongCodesAreLimitedPerUserAndBackupCodesLockApart(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(tn *tenant.Tenant) {
		tn.MFA.PerUser = tenant.Limit{Count: 6, Window: time.Hour}
		tn.MFA.BackupLockout = tenant.Limit{Count: 3, Window: 30 * time.Minute}
	})
	e := f.enrol(t)
	for i := range 3 {
		if err := f.Service.Verify(ctx, f.user, "zzzzzzzzzz", mfa.Client{}); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("wrong backup code %d: %v", i+1, err)
		}
	}
	err := f.Service.Verify(ctx, f.user, e.BackupCodes[0], mfa.Client{})
	if !errors.Is(err, mfa.ErrBackupLocked) || errs.As(err).RetryAfter < 1 {
		t.Fatalf("a right backup code after 3 wrong ones: %v, want mfa_backup_locked with Retry-After", err)
	}
	// TOTP codes still work, and count against the user's budget.
	if err := f.Service.Verify(ctx, f.user, f.code(t, e.Secret, 0), mfa.Client{}); err != nil {
		t.Fatalf("a TOTP code while backup codes are locked: %v", err)
	}
	for i := range 3 {
		if err := f.Service.Verify(ctx, f.user, "000000", mfa.Client{}); !errors.Is(err, mfa.ErrInvalidCode) && !errors.Is(err, throttle.ErrThrottled) {
			t.Fatalf("wrong TOTP code %d: %v", i+1, err)
		}
	}
	f.clock.Advance(30 * time.Second)
	if err := f.Service.Verify(ctx, f.user, f.code(t, e.Secret, 0), mfa.Client{}); !errors.Is(err, throttle.ErrThrottled) {
		t.Fatalf("a right code after 6 wrong ones: %v, want throttled", err)
	}
	// The lock lasts the whole window, not a share of it.
	f.clock.Advance(28 * time.Minute)
	if err := f.Service.Verify(ctx, f.user, e.BackupCodes[0], mfa.Client{}); !errors.Is(err, mfa.ErrBackupLocked) {
		t.Fatalf("a right backup code 28.5 minutes after 3 wrong ones: %v, want still locked", err)
	}
	f.clock.Advance(3 * time.Minute)
	if err := f.Service.Verify(ctx, f.user, e.BackupCodes[0], mfa.Client{}); err != nil {
		t.Fatalf("a backup code once the lock is over: %v", err)
	}
}

func TestDisableNeedsProof(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	e := f.enrol(t)
	if err := f.Service.Disable(ctx, f.user, mfa.Proof{}); !errors.Is(err, mfa.ErrProofRequired) {
		t.Fatalf("no proof: %v", err)
	}
	if err := f.Service.Disable(ctx, f.user, mfa.Proof{Code: "123456"}); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("a wrong code: %v", err)
	}
	if err := f.Service.Disable(ctx, f.user, mfa.Proof{Password: "a guess"}); !errors.Is(err, errWrongPassword) {
		t.Fatalf("a wrong password: %v", err)
	}
	if on, _ := f.Service.Enrolled(ctx, f.user); !on {
		t.Fatal("turned off without proof")
	}
	if err := f.Service.Disable(ctx, f.user, mfa.Proof{Code: e.BackupCodes[1]}); err != nil {
		t.Fatalf("a backup code: %v", err)
	}
	if on, _ := f.Service.Enrolled(ctx, f.user); on {
		t.Fatal("still on")
	}
	if left, _ := f.Backup.Left(ctx, f.t.ID, f.user.ID); left != 0 {
		t.Fatalf("%d backup codes left after disabling", left)
	}
	// On again, then off with the password.
	f.enrol(t)
	if err := f.Service.Disable(ctx, f.user, mfa.Proof{Password: "the password"}); err != nil {
		t.Fatalf("the password: %v", err)
	}
	if err := f.Service.Disable(ctx, f.user, mfa.Proof{Password: "the password"}); !errors.Is(err, mfa.ErrNotEnrolled) {
		t.Fatalf("off twice: %v", err)
	}
}

func TestNewBackupCodesNeedACurrentCodeAndReplaceTheOld(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	e := f.enrol(t)
	if _, err := f.Service.RegenerateBackupCodes(ctx, f.user, e.BackupCodes[0]); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("a backup code as proof: %v, want mfa_code_invalid", err)
	}
	codes, err := f.Service.RegenerateBackupCodes(ctx, f.user, f.code(t, e.Secret, 0))
	if err != nil || len(codes) != tenant.DefaultBackupCodeCount {
		t.Fatalf("%d codes, %v", len(codes), err)
	}
	if err := f.Service.Verify(ctx, f.user, e.BackupCodes[2], mfa.Client{}); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("an old backup code: %v", err)
	}
	if err := f.Service.Verify(ctx, f.user, codes[2], mfa.Client{}); err != nil {
		t.Fatalf("a new backup code: %v", err)
	}
}

func TestTheTenantsTOTPShapeIsHonoured(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(tn *tenant.Tenant) {
		tn.MFA.TOTP = tenant.TOTPPolicy{Digits: 8, Period: 60 * time.Second, Algorithm: "SHA256", Skew: 0}
		tn.MFA.BackupCodes = tenant.Seed001BackupCodes
	})
	e, err := f.Service.Start(ctx, f.user)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.URI, "digits=8") || !strings.Contains(e.URI, "period=60") || !strings.Contains(e.URI, "algorithm=SHA256") {
		t.Fatalf("uri %q", e.URI)
	}
	if len(e.BackupCodes) != 8 || len(e.BackupCodes[0]) != 8 {
		t.Fatalf("backup codes %v", e.BackupCodes)
	}
	opts := totp.ValidateOpts{Period: 60, Digits: otp.DigitsEight, Algorithm: otp.AlgorithmSHA256}
	prev, _ := totp.GenerateCodeCustom(e.Secret, f.clock.Now().Add(-time.Minute), opts)
	if err := f.Service.Confirm(ctx, f.user, prev); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("the previous step's code with skew 0: %v", err)
	}
	cur, _ := totp.GenerateCodeCustom(e.Secret, f.clock.Now(), opts)
	if err := f.Service.Confirm(ctx, f.user, cur); err != nil {
		t.Fatalf("the current 8-digit SHA-256 code: %v", err)
	}
}

func TestASecretSealedForOneUserOpensForNoOther(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	e := f.enrol(t)
	// Bob's row gets Ann's sealed secret: it must not open for Bob.
	ann, _ := f.TOTPs.Get(ctx, f.t.ID, f.user.ID)
	bob := identity.User{ID: "u2", TenantID: f.t.ID, Email: "bob@example.com"}
	ann.UserID = bob.ID
	if err := f.TOTPs.Put(ctx, ann); err != nil {
		t.Fatal(err)
	}
	if err := f.TOTPs.Confirm(ctx, f.t.ID, bob.ID, ann.EnrolmentID, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := f.Service.Verify(ctx, bob, f.code(t, e.Secret, 0), mfa.Client{}); err == nil || errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("another user's sealed secret: %v, want an error opening it", err)
	}
}

func TestResetTurnsTheFactorOffWithoutProof(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if err := f.Service.Reset(ctx, f.user); !errors.Is(err, mfa.ErrNotEnrolled) {
		t.Fatalf("reset without a factor: %v", err)
	}
	f.enrol(t)
	if err := f.Service.Reset(ctx, f.user); err != nil {
		t.Fatal(err)
	}
	if on, _ := f.Service.Enrolled(ctx, f.user); on {
		t.Fatal("still on after a reset")
	}
	if left, _ := f.Backup.Left(ctx, f.t.ID, f.user.ID); left != 0 {
		t.Fatalf("%d backup codes left after a reset", left)
	}
}
