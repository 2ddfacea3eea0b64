package smslogin_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/application/account/accounttest"
	"github.com/portcullis/portcullis/application/audit/audittest"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/login/logintest"
	"github.com/portcullis/portcullis/application/otp"
	"github.com/portcullis/portcullis/application/otp/otptest"
	"github.com/portcullis/portcullis/application/platform/platformtest"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/session/sessiontest"
	"github.com/portcullis/portcullis/application/smslogin"
	"github.com/portcullis/portcullis/application/throttle"
	"github.com/portcullis/portcullis/application/throttle/throttletest"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/message"
	"github.com/portcullis/portcullis/domain/tenant"
)

var ctx = context.Background()

// outbox is an SMSSender that records messages and can be made to fail.
type outbox struct {
	mu   sync.Mutex
	sent []message.SMS
	fail error
}

func (o *outbox) SendSMS(_ context.Context, m message.SMS) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail != nil {
		return o.fail
	}
	o.sent = append(o.sent, m)
	return nil
}

func (o *outbox) messages() []message.SMS {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]message.SMS(nil), o.sent...)
}

var codeInText = regexp.MustCompile(`\b(\d{4,10})\b`)

func (o *outbox) lastCode(t *testing.T, to string) string {
	t.Helper()
	msgs := o.messages()
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].To == to {
			if m := codeInText.FindStringSubmatch(msgs[i].Text); m != nil {
				return m[1]
			}
		}
	}
	t.Fatalf("no code sent to %s (sent: %v)", to, msgs)
	return ""
}

type tokens struct{}

func (tokens) Issue(_ context.Context, c session.AccessClaims) (string, error) {
	return "at." + c.SessionID, nil
}
func (tokens) Verify(context.Context, string) (session.AccessClaims, error) {
	return session.AccessClaims{}, session.ErrInvalidToken
}

// parse is a stand-in for the tenant's phone rules: "+90" numbers of 10
// digits, calling code 90; "+1" numbers, calling code 1.
func parse(raw string) (string, string, error) {
	raw = strings.ReplaceAll(raw, " ", "")
	switch {
	case strings.HasPrefix(raw, "+90") && len(raw) == 13:
		return raw, "90", nil
	case strings.HasPrefix(raw, "+1") && len(raw) == 12:
		return raw, "1", nil
	}
	return "", "", errs.InvalidFields(errs.FieldError{Field: "phone", Reason: "is not a valid mobile number"})
}

type fixture struct {
	svc   *smslogin.Service
	sess  *session.Service
	users *accounttest.MemoryUsers
	box   *outbox
	clock *platformtest.Clock
	t     tenant.Tenant
	// audit holds what the method and its pipeline recorded.
	audit *audittest.Recorder
}

func newFixture(t *testing.T, limits smslogin.Limits) *fixture {
	t.Helper()
	return newFixtureWith(t, limits, func(*tenant.SMSPolicy) {})
}

// newFixtureWith is newFixture for a tenant whose default SMS policy is
// changed by policy; the tenant must still validate.
func newFixtureWith(t *testing.T, limits smslogin.Limits, policy func(*tenant.SMSPolicy)) *fixture {
	t.Helper()
	return newFixtureTenant(t, limits, func(tn *tenant.Tenant) { policy(&tn.SMS) })
}

// newFixtureTenant is newFixture for a tenant changed by mutate; the
// tenant must still validate.
func newFixtureTenant(t *testing.T, limits smslogin.Limits, mutate func(*tenant.Tenant)) *fixture {
	t.Helper()
	tn := tenant.Default()
	tn.ID, tn.DisplayName = "shop", "Shop"
	tn.LoginMethods = []tenant.LoginMethod{tenant.MethodPassword, tenant.MethodSMSOTP}
	mutate(&tn)
	if err := tn.Validate(); err != nil {
		t.Fatal(err)
	}
	c := platformtest.NewClock(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	users := accounttest.NewMemoryUsers()
	sessions, revs := sessiontest.NewMemorySessions(), sessiontest.NewMemoryRevocations(c)
	sync := session.NewSync(sessions, revs, c, time.Second)
	sess := session.New(tn, session.Deps{Users: users, Sessions: sessions, Refresh: sessiontest.NewMemoryRefreshTokens(),
		Revocations: revs, Tokens: tokens{}, Sync: sync, Audit: audittest.NewRecorder(), Clock: c, Random: rand.Reader})
	key, err := otp.DeriveKey([]byte("a master key of at least sixteen bytes"), tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{sess: sess, users: users, box: &outbox{}, clock: c, t: tn, audit: audittest.NewRecorder()}
	f.svc = smslogin.New(tn, tn.SMS, limits, smslogin.Deps{
		Users: users, Parse: parse, Codes: otp.New(tn.ID, key, otptest.NewMemoryStore(c), c, rand.Reader), Sender: f.box,
		Limiter: throttletest.NewMemoryLimiter(c),
		Login:   logintest.New(t, tn, logintest.Options{Users: users, Issuer: session.NewIssuer(sess), Clock: c, Audit: f.audit}).Pipeline,
		Audit:   f.audit, Clock: c,
	})
	return f
}

var generous = smslogin.Limits{
	PerIP:          tenant.Limit{Count: 1000, Window: time.Hour},
	PerCallingCode: tenant.Limit{Count: 1000, Window: time.Hour},
	PerTenant:      tenant.Limit{Count: 1000, Window: 24 * time.Hour},
}

func (f *fixture) user(t *testing.T, id, phone string) identity.User {
	t.Helper()
	u := identity.User{ID: id, TenantID: f.t.ID, Email: id + "@example.com", EmailKey: id + "@example.com", Phone: phone, Active: true, Role: identity.RoleUser}
	if err := f.users.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestASMSCodeSignsInAndVerifiesTheNumber(t *testing.T) {
	t.Parallel()
	f := newFixture(t, generous)
	f.user(t, "ann", "+905355555555")
	if err := f.svc.Send(ctx, smslogin.SendInput{Phone: "+90 535 555 55 55", Wait: true}); err != nil {
		t.Fatal(err)
	}
	msgs := f.box.messages()
	if len(msgs) != 1 || msgs[0].To != "+905355555555" || !strings.Contains(msgs[0].Text, "Shop") || !strings.Contains(msgs[0].Text, "5 minutes") {
		t.Fatalf("sent %+v", msgs)
	}
	code := f.box.lastCode(t, "+905355555555")
	out, err := f.svc.Verify(ctx, smslogin.VerifyInput{Phone: "+905355555555", Code: code, Kind: identity.SessionApp})
	if err != nil {
		t.Fatal(err)
	}
	if out.Result != login.Signed || out.Credentials.AppToken == "" || strings.Join(out.Credentials.Session.AMR, ",") != "sms" {
		t.Fatalf("outcome %+v", out)
	}
	if u, _ := f.users.ByID(ctx, "shop", "ann"); !u.PhoneVerified {
		t.Fatal("a successful SMS login did not mark the number verified")
	}
	if _, err := f.svc.Verify(ctx, smslogin.VerifyInput{Phone: "+905355555555", Code: code, Kind: identity.SessionApp}); !errors.Is(err, otp.ErrExpired) {
		t.Fatalf("the code again: %v", err)
	}
}

func TestAnUnknownNumberGetsNoMessage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, generous)
	if err := f.svc.Send(ctx, smslogin.SendInput{Phone: "+905350000000"}); err != nil {
		t.Fatalf("an unknown number on a surface that does not reveal it: %v", err)
	}
	if err := f.svc.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Send(ctx, smslogin.SendInput{Phone: "+905350000001", Wait: true}); !errors.Is(err, smslogin.ErrUnknownPhone) {
		t.Fatalf("an unknown number on a surface that reveals it: %v", err)
	}
	if msgs := f.box.messages(); len(msgs) != 0 {
		t.Fatalf("messages went to numbers without an account: %+v", msgs)
	}
	// The same cooldown answers for a known and an unknown number.
	f.user(t, "bob", "+905351111111")
	for _, phone := range []string{"+905350000000", "+905351111111"} {
		_ = f.svc.Send(ctx, smslogin.SendInput{Phone: phone})
		if err := f.svc.Send(ctx, smslogin.SendInput{Phone: phone}); !errors.Is(err, otp.ErrCooldown) {
			t.Fatalf("%s: a second request at once: %v", phone, err)
		}
	}
}

func TestPumpingIsCappedBeforeTheProviderIsCalled(t *testing.T) {
	t.Parallel()
	limits := generous
	limits.PerCallingCode = tenant.Limit{Count: 5, Window: time.Hour}
	f := newFixture(t, limits)
	throttled := 0
	for i := range 100 {
		phone := fmt.Sprintf("+90535%07d", i)
		f.user(t, fmt.Sprintf("u%d", i), phone)
		err := f.svc.Send(ctx, smslogin.SendInput{Phone: phone, Wait: true})
		switch {
		case errors.Is(err, throttle.ErrThrottled):
			throttled++
			if errs.As(err).RetryAfter < 1 {
				t.Fatalf("429 without Retry-After: %v", err)
			}
		case err != nil:
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if n := len(f.box.messages()); n != 5 || throttled != 95 {
		t.Fatalf("%d messages sent and %d requests throttled, want 5 and 95", n, throttled)
	}
	// Another calling code has its own cap.
	f.user(t, "us", "+12025550123")
	if err := f.svc.Send(ctx, smslogin.SendInput{Phone: "+12025550123", Wait: true}); err != nil {
		t.Fatalf("another calling code: %v", err)
	}
}

func TestAnUndeliveredCodeIsWithdrawn(t *testing.T) {
	t.Parallel()
	f := newFixture(t, generous)
	f.user(t, "ann", "+905355555555")
	f.box.fail = errs.ErrUnavailable.Wrap(errors.New("provider: 500"))
	err := f.svc.Send(ctx, smslogin.SendInput{Phone: "+905355555555", Wait: true})
	if !errors.Is(err, smslogin.ErrUndelivered) || errs.As(err).RetryAfter < 1 {
		t.Fatalf("a provider outage: %v", err)
	}
	f.box.fail = nil
	// The failed code left no cooldown behind: the user asks again at once.
	if err := f.svc.Send(ctx, smslogin.SendInput{Phone: "+905355555555", Wait: true}); err != nil {
		t.Fatalf("asking again after the outage: %v", err)
	}
	if _, err := f.svc.Verify(ctx, smslogin.VerifyInput{Phone: "+905355555555", Code: f.box.lastCode(t, "+905355555555"), Kind: identity.SessionAPI}); err != nil {
		t.Fatal(err)
	}

	// In the background too.
	f.box.fail = errs.ErrUnavailable.Wrap(errors.New("provider: 500"))
	f.user(t, "bob", "+905351111111")
	if err := f.svc.Send(ctx, smslogin.SendInput{Phone: "+905351111111"}); err != nil {
		t.Fatalf("a background delivery answers at once: %v", err)
	}
	if err := f.svc.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	f.box.fail = nil
	if err := f.svc.Send(ctx, smslogin.SendInput{Phone: "+905351111111", Wait: true}); err != nil {
		t.Fatalf("asking again after a failed background delivery: %v", err)
	}
}

func TestBadInputIsAFieldError(t *testing.T) {
	t.Parallel()
	f := newFixture(t, generous)
	for _, in := range []smslogin.SendInput{{Phone: ""}, {Phone: "12"}} {
		if err := f.svc.Send(ctx, in); errs.KindOf(err) != errs.Invalid || len(errs.As(err).Fields) == 0 || errs.As(err).Fields[0].Field != "phone" {
			t.Fatalf("send %+v: %v", in, err)
		}
	}
	if _, err := f.svc.Verify(ctx, smslogin.VerifyInput{Phone: "+905355555555"}); errs.KindOf(err) != errs.Invalid || errs.As(err).Fields[0].Field != "code" {
		t.Fatalf("verify without a code: %v", err)
	}
}

func TestTheTenantsCodeLengthIsTheCodesLength(t *testing.T) {
	t.Parallel()
	f := newFixtureWith(t, generous, func(p *tenant.SMSPolicy) { p.CodeLength = 8 })
	f.user(t, "ann", "+905355555555")
	if err := f.svc.Send(ctx, smslogin.SendInput{Phone: "+905355555555", Wait: true}); err != nil {
		t.Fatal(err)
	}
	code := f.box.lastCode(t, "+905355555555")
	if len(code) != 8 || f.svc.Kind().Length != 8 {
		t.Fatalf("code %q of a tenant with code_length 8 (kind %+v)", code, f.svc.Kind())
	}
	if _, err := f.svc.Verify(ctx, smslogin.VerifyInput{Phone: "+905355555555", Code: code[:6], Kind: identity.SessionApp}); !errors.Is(err, otp.ErrInvalid) {
		t.Fatalf("a 6-digit code: %v, want otp_invalid", err)
	}
	if _, err := f.svc.Verify(ctx, smslogin.VerifyInput{Phone: "+905355555555", Code: code, Kind: identity.SessionApp}); err != nil {
		t.Fatalf("the 8-digit code: %v", err)
	}
}

func TestTheTenantsMaxAttemptsKillTheChallenge(t *testing.T) {
	t.Parallel()
	f := newFixtureWith(t, generous, func(p *tenant.SMSPolicy) { p.MaxAttempts = 2 })
	f.user(t, "ann", "+905355555555")
	if err := f.svc.Send(ctx, smslogin.SendInput{Phone: "+905355555555", Wait: true}); err != nil {
		t.Fatal(err)
	}
	code := f.box.lastCode(t, "+905355555555")
	wrong := []byte(code)
	wrong[0] = '0' + (wrong[0]-'0'+1)%10
	for i := range 2 {
		if _, err := f.svc.Verify(ctx, smslogin.VerifyInput{Phone: "+905355555555", Code: string(wrong), Kind: identity.SessionApp}); !errors.Is(err, otp.ErrInvalid) {
			t.Fatalf("wrong code %d: %v, want otp_invalid", i+1, err)
		}
	}
	if _, err := f.svc.Verify(ctx, smslogin.VerifyInput{Phone: "+905355555555", Code: code, Kind: identity.SessionApp}); !errors.Is(err, otp.ErrExhausted) {
		t.Fatalf("the right code after 2 wrong ones: %v, want otp_attempts_exceeded", err)
	}
}

func TestNoResendCooldownAllowsAnImmediateSecondCode(t *testing.T) {
	t.Parallel()
	f := newFixtureWith(t, generous, func(p *tenant.SMSPolicy) { p.ResendCooldown = 0 })
	f.user(t, "ann", "+905355555555")
	for i := range 2 {
		if err := f.svc.Send(ctx, smslogin.SendInput{Phone: "+905355555555", Wait: true}); err != nil {
			t.Fatalf("send %d at once: %v", i+1, err)
		}
	}
	if n := len(f.box.messages()); n != 2 {
		t.Fatalf("%d messages, want 2", n)
	}
	if _, err := f.svc.Verify(ctx, smslogin.VerifyInput{Phone: "+905355555555", Code: f.box.lastCode(t, "+905355555555"), Kind: identity.SessionApp}); err != nil {
		t.Fatalf("the latest code: %v", err)
	}
}

func TestTheTenantsDailyCapRefusesTheNextCode(t *testing.T) {
	t.Parallel()
	f := newFixtureWith(t, generous, func(p *tenant.SMSPolicy) { p.DailyCap = 2 })
	f.user(t, "ann", "+905355555555")
	for i := range 2 {
		if err := f.svc.Send(ctx, smslogin.SendInput{Phone: "+905355555555", Wait: true}); err != nil {
			t.Fatalf("send %d: %v", i+1, err)
		}
		f.clock.Advance(tenant.DefaultSMSResendCooldown)
	}
	err := f.svc.Send(ctx, smslogin.SendInput{Phone: "+905355555555", Wait: true})
	if !errors.Is(err, otp.ErrDailyCap) || errs.KindOf(err) != errs.RateLimited || errs.As(err).RetryAfter < 1 {
		t.Fatalf("the third code of the day: %v, want otp_daily_cap (429) with Retry-After", err)
	}
	if n := len(f.box.messages()); n != 2 {
		t.Fatalf("%d messages, want 2", n)
	}
}

func TestTheTenantsMessageIsWhatTheSenderGets(t *testing.T) {
	t.Parallel()
	f := newFixtureWith(t, generous, func(p *tenant.SMSPolicy) {
		p.CodeTTL = 2 * time.Minute
		p.Message = tenant.ParseSMSMessage("{{.Tenant}}: use {{.Code}} within {{.Expires}}.")
	})
	f.user(t, "ann", "+905355555555")
	if err := f.svc.Send(ctx, smslogin.SendInput{Phone: "+905355555555", Wait: true}); err != nil {
		t.Fatal(err)
	}
	code := f.box.lastCode(t, "+905355555555")
	if msgs := f.box.messages(); len(msgs) != 1 || msgs[0].Text != "Shop: use "+code+" within 2 minutes." {
		t.Fatalf("sent %+v", msgs)
	}
	if _, err := f.svc.Verify(ctx, smslogin.VerifyInput{Phone: "+905355555555", Code: code, Kind: identity.SessionApp}); err != nil {
		t.Fatal(err)
	}
}

func TestTheDefaultMessageIsUnchanged(t *testing.T) {
	t.Parallel()
	f := newFixture(t, generous)
	f.user(t, "ann", "+905355555555")
	if err := f.svc.Send(ctx, smslogin.SendInput{Phone: "+905355555555", Wait: true}); err != nil {
		t.Fatal(err)
	}
	code := f.box.lastCode(t, "+905355555555")
	if msgs := f.box.messages(); len(msgs) != 1 || msgs[0].Text != code+" is your Shop sign-in code. It expires in 5 minutes. Do not share it." {
		t.Fatalf("sent %+v", msgs)
	}
}

// The bounds a tenant may configure make kinds the engine accepts.
func TestThePolicysBoundsMakeUsableKinds(t *testing.T) {
	t.Parallel()
	for name, p := range map[string]func(*tenant.SMSPolicy){
		"lowest": func(p *tenant.SMSPolicy) {
			p.CodeTTL, p.CodeLength, p.MaxAttempts, p.ResendCooldown, p.DailyCap = tenant.MinSMSCodeTTL, tenant.MinSMSCodeLength, tenant.MinSMSMaxAttempts, tenant.MinSMSResendCooldown, tenant.MinSMSDailyCap
		},
		"highest": func(p *tenant.SMSPolicy) {
			p.CodeTTL, p.CodeLength, p.MaxAttempts, p.ResendCooldown, p.DailyCap = tenant.MaxSMSCodeTTL, tenant.MaxSMSCodeLength, tenant.MaxSMSMaxAttempts, tenant.MaxSMSResendCooldown, tenant.MaxSMSDailyCap
		},
	} {
		f := newFixtureWith(t, generous, p)
		if err := f.svc.Kind().Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
