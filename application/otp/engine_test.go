package otp_test

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/otp"
	"github.com/portcullis/portcullis/application/otp/otptest"
	"github.com/portcullis/portcullis/application/platform/platformtest"
	"github.com/portcullis/portcullis/domain/errs"
	domain "github.com/portcullis/portcullis/domain/otp"
)

var ctx = context.Background()

// spy records what the engine hands the store.
type spy struct {
	otp.Store
	issued []otp.Challenge
}

func (s *spy) Issue(ctx context.Context, tenantID string, c otp.Challenge, cooldown time.Duration, dayKey string, dailyCap int) (time.Duration, bool, error) {
	s.issued = append(s.issued, c)
	return s.Store.Issue(ctx, tenantID, c, cooldown, dayKey, dailyCap)
}

type fixture struct {
	clock *platformtest.Clock
	store *spy
}

func newFixture() *fixture {
	c := platformtest.NewClock(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	return &fixture{clock: c, store: &spy{Store: otptest.NewMemoryStore(c)}}
}

func (f *fixture) engine(t *testing.T, tenantID string) *otp.Engine {
	t.Helper()
	key, err := otp.DeriveKey([]byte("a master key of at least sixteen bytes"), tenantID)
	if err != nil {
		t.Fatal(err)
	}
	return otp.New(tenantID, key, f.store, f.clock, rand.Reader)
}

var sms = domain.LoginSMS(5*time.Minute, domain.DefaultLength, domain.DefaultLimits())

func TestACodeVerifiesOnceForItsTenantPurposeAndSubject(t *testing.T) {
	t.Parallel()
	f := newFixture()
	shop, other := f.engine(t, "shop"), f.engine(t, "other")
	is, err := shop.Issue(ctx, sms, "+905355555555", "+905355555555")
	if err != nil {
		t.Fatal(err)
	}
	if !is.ExpiresAt.Equal(f.clock.Now().Add(5 * time.Minute)) {
		t.Errorf("expires at %s", is.ExpiresAt)
	}
	stored := f.store.issued[0]
	if strings.Contains(stored.Digest, is.Secret) || strings.Contains(stored.Key, "+90535") || len(stored.Digest) != 64 {
		t.Fatalf("the store was handed the secret or the subject in the clear: %+v", stored)
	}
	email := sms
	email.Purpose, email.Channel = domain.PurposeLoginEmail, domain.ChannelEmail
	for name, try := range map[string]func() error{
		"another tenant":  func() error { _, err := other.Verify(ctx, sms, "+905355555555", is.Secret); return err },
		"another purpose": func() error { _, err := shop.Verify(ctx, email, "+905355555555", is.Secret); return err },
		"another subject": func() error { _, err := shop.Verify(ctx, sms, "+905355555556", is.Secret); return err },
	} {
		if err := try(); !errors.Is(err, otp.ErrExpired) {
			t.Errorf("%s: %v, want otp_expired", name, err)
		}
	}
	subject, err := shop.Verify(ctx, sms, "+905355555555", is.Secret)
	if err != nil || subject != "+905355555555" {
		t.Fatalf("verify = %q, %v", subject, err)
	}
	if _, err := shop.Verify(ctx, sms, "+905355555555", is.Secret); !errors.Is(err, otp.ErrExpired) {
		t.Fatalf("a used code: %v", err)
	}
}

func TestWrongCodesKillTheChallengeButMalformedOnesCostNothing(t *testing.T) {
	t.Parallel()
	f := newFixture()
	e := f.engine(t, "shop")
	is, err := e.Issue(ctx, sms, "u1", "+905355555555")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "123", "abcdef", "1234567", strings.Repeat("9", 100)} {
		if _, err := e.Verify(ctx, sms, "u1", bad); !errors.Is(err, otp.ErrInvalid) {
			t.Fatalf("malformed %q: %v", bad, err)
		}
	}
	wrong := "000000"
	if is.Secret == wrong {
		wrong = "000001"
	}
	for i := range domain.DefaultMaxAttempts {
		if _, err := e.Verify(ctx, sms, "u1", wrong); !errors.Is(err, otp.ErrInvalid) {
			t.Fatalf("wrong %d: %v", i+1, err)
		}
	}
	if _, err := e.Verify(ctx, sms, "u1", is.Secret); !errors.Is(err, otp.ErrExhausted) {
		t.Fatalf("the right code after %d wrong ones: %v, want otp_attempts_exceeded", domain.DefaultMaxAttempts, err)
	}
}

func TestCooldownAndDailyCap(t *testing.T) {
	t.Parallel()
	f := newFixture()
	e := f.engine(t, "shop")
	if _, err := e.Issue(ctx, sms, "u1", "+905355555555"); err != nil {
		t.Fatal(err)
	}
	_, err := e.Issue(ctx, sms, "u1", "+905355555555")
	if !errors.Is(err, otp.ErrCooldown) || errs.As(err).RetryAfter != 60 {
		t.Fatalf("a resend at once: %v (retry after %d)", err, errs.As(err).RetryAfter)
	}
	for i := 1; i < domain.DefaultDailyCap; i++ {
		f.clock.Advance(domain.DefaultCooldown)
		if _, err := e.Issue(ctx, sms, "u1", "+905355555555"); err != nil {
			t.Fatalf("code %d of the day: %v", i+1, err)
		}
	}
	f.clock.Advance(domain.DefaultCooldown)
	_, err = e.Issue(ctx, sms, "u1", "+905355555555")
	if !errors.Is(err, otp.ErrDailyCap) || errs.As(err).RetryAfter < 1 {
		t.Fatalf("code %d of the day: %v", domain.DefaultDailyCap+1, err)
	}
	// Another subject sending to the same destination shares its cap.
	if _, err := e.Issue(ctx, sms, "u2", "+905355555555"); !errors.Is(err, otp.ErrDailyCap) {
		t.Fatalf("another subject to the capped destination: %v", err)
	}
	// Another purpose to the same destination has a cap of its own.
	reset := domain.EmailLink(domain.PurposePasswordReset, time.Hour, 1)
	reset.Channel = domain.ChannelSMS
	if _, err := e.Issue(ctx, reset, "u1", "+905355555555"); err != nil {
		t.Fatalf("another purpose to the capped destination: %v", err)
	}
	f.clock.Advance(24 * time.Hour)
	if _, err := e.Issue(ctx, sms, "u1", "+905355555555"); err != nil {
		t.Fatalf("the next day: %v", err)
	}
}

func TestALinkTokenNamesItsSubject(t *testing.T) {
	t.Parallel()
	f := newFixture()
	e := f.engine(t, "shop")
	link := domain.Kind{Purpose: domain.PurposeMagicLink, Channel: domain.ChannelEmail, Form: domain.FormLink, TTL: time.Hour,
		Limits: domain.Limits{MaxAttempts: 1, Cooldown: time.Minute, DailyCap: 5}}
	a, err := e.Issue(ctx, link, "user-a", "a@example.com")
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.Issue(ctx, link, "user-b", "b@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Secret) < 43 || a.Secret == b.Secret {
		t.Fatalf("tokens %q %q", a.Secret, b.Secret)
	}
	if subject, err := e.Verify(ctx, link, "", b.Secret); err != nil || subject != "user-b" {
		t.Fatalf("verify b = %q, %v", subject, err)
	}
	if subject, err := e.Verify(ctx, link, "", a.Secret); err != nil || subject != "user-a" {
		t.Fatalf("verify a = %q, %v", subject, err)
	}
	if _, err := e.Verify(ctx, link, "", a.Secret); !errors.Is(err, otp.ErrExpired) {
		t.Fatalf("a used link: %v", err)
	}
}

// A secret that could not be delivered is taken back whole: the holder can
// ask again at once, and the day's count is as if it had not been sent.
func TestAnUndeliveredSecretIsWithdrawn(t *testing.T) {
	t.Parallel()
	f := newFixture()
	e := f.engine(t, "shop")
	one := sms
	one.Limits.DailyCap = 1
	is, err := e.Issue(ctx, one, "u1", "+905355555555")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Withdraw(ctx, one, "u1", "+905355555555", is); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Verify(ctx, one, "u1", is.Secret); !errors.Is(err, otp.ErrExpired) {
		t.Fatalf("the withdrawn code: %v", err)
	}
	again, err := e.Issue(ctx, one, "u1", "+905355555555")
	if err != nil {
		t.Fatalf("asking again at once, within the cooldown and a cap of 1: %v", err)
	}
	if _, err := e.Verify(ctx, one, "u1", again.Secret); err != nil {
		t.Fatalf("the new code: %v", err)
	}
}

// A link can be checked (a page that asks to confirm, a reset token
// validated before the new password is typed) as often as wanted without
// using it up; a link of another purpose or tenant does not check; a code
// cannot be checked at all, since its guesses must count.
func TestALinkIsCheckedWithoutBeingUsedUp(t *testing.T) {
	t.Parallel()
	f := newFixture()
	shop, other := f.engine(t, "shop"), f.engine(t, "other")
	link := domain.Kind{Purpose: domain.PurposePasswordReset, Channel: domain.ChannelEmail, Form: domain.FormLink, TTL: 30 * time.Minute,
		Limits: domain.Limits{MaxAttempts: 1, DailyCap: 5}}
	verify := link
	verify.Purpose = domain.PurposeEmailVerify
	is, err := shop.Issue(ctx, link, "user-a", "a@example.com")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if subject, err := shop.Check(ctx, link, is.Secret); err != nil || subject != "user-a" {
			t.Fatalf("check = %q, %v", subject, err)
		}
	}
	for name, check := range map[string]func() (string, error){
		"another purpose": func() (string, error) { return shop.Check(ctx, verify, is.Secret) },
		"another tenant":  func() (string, error) { return other.Check(ctx, link, is.Secret) },
		"malformed":       func() (string, error) { return shop.Check(ctx, link, is.Secret[:20]) },
	} {
		if subject, err := check(); !errors.Is(err, otp.ErrExpired) || subject != "" {
			t.Errorf("%s: %q, %v; want ErrExpired", name, subject, err)
		}
	}
	if subject, err := shop.Verify(ctx, link, "", is.Secret); err != nil || subject != "user-a" {
		t.Fatalf("verify after checks = %q, %v", subject, err)
	}
	if _, err := shop.Check(ctx, link, is.Secret); !errors.Is(err, otp.ErrExpired) {
		t.Fatalf("check of a used link: %v", err)
	}
	if _, err := shop.Check(ctx, sms, "123456"); err == nil {
		t.Fatal("a code was checked without counting")
	}
}
