// Package seed003 serves the seed 003 compatibility profile: the login
// API of a storefront under /api/v1, /api/v2 and /api/v3 (see routes),
// whose answers carry the user's cart and wishlist merged with the
// guest's, and whose every refusal is {"title": "..."}. The profile is
// switched on per tenant (profiles.seed003.enabled), which must be a
// storefront.
//
// Every login answers the same body (loginAnswer): access_token, our
// access JWT (Authorization: Bearer), username, status 1, ccnt (the
// number of cart lines), cart, wishlist and is_first_time_login; the
// registration adds user_id. The guest's cart and wishlist come in
// localcart ({"items": [...]}) and localwishlist ([...]), read before any
// work; the pipeline merges them once the session starts (after the
// second step, for a user with a second factor).
//
// /api/v3/login asks for a solved CAPTCHA (g-recaptcha-response, or the
// other widgets' names) whatever the tenant's captcha.policy, checked by
// the tenant's provider before any password work; a tenant without a
// provider does not serve it. /api/v2/login-tfa answers a user with a
// second factor an access_token "2f." + the MFA challenge's token, good
// for /api/v2/verify-tfa only. /api/v2/login-mobile sends an SMS code to
// a 10-digit national number (read in the tenant's sms.default_region)
// under the profile's daily cap, and says whether the number has an
// account, as the seed's clients expect; /api/v1/verify-otp-login signs
// in with it.
//
// Each handler decodes, calls one use case and encodes; every status and
// body of a refusal is chosen by the error tables (errors.go).
package seed003

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/adapters/http/web"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/password"
	"github.com/portcullis/portcullis/application/smslogin"
	shop "github.com/portcullis/portcullis/application/storefront"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/storefront"
	"github.com/portcullis/portcullis/domain/tenant"
)

// TFAPrefix begins the access_token of a sign-in waiting for its second
// factor: the rest is the MFA challenge's token.
const TFAPrefix = "2f."

// MessageOTPSent is login-mobile's answer, word for word.
const MessageOTPSent = "OTP sent successfully"

// route is one of the profile's routes: its handler, its error table,
// and whether it asks for a CAPTCHA whatever the tenant's policy.
type route struct {
	handle  fiber.Handler
	errors  *web.ErrorTable
	captcha bool
}

// routes are the profile's routes, all POST, by path. /api/v2/login and
// login-tfa are one login: login-tfa's error table answers a user with a
// second factor with the "2f." token.
var routes = map[string]route{
	"/api/v2/login":     {handle: login2, errors: loginErrors},
	"/api/v3/login":     {handle: login3, errors: loginErrors, captcha: true},
	"/api/v2/login-tfa": {handle: login2, errors: tfaErrors},
	// Ours: the seed does not document the second step of login-tfa.
	"/api/v2/verify-tfa":       {handle: verifyTFA, errors: errorTable},
	"/api/v2/login-mobile":     {handle: loginMobile, errors: mobileErrors},
	"/api/v1/verify-otp-login": {handle: verifyOTP, errors: errorTable},
	"/api/v2/register":         {handle: register, errors: errorTable},
}

// Register adds the routes.
func Register(r fiber.Router) {
	for path, rt := range routes {
		r.Post(path, enabled(rt))
	}
}

// enabled serves the route for a tenant with the profile on, in the
// profile's error shapes; for any other tenant the request goes on (and
// ends in the platform's 404). A route that asks for a CAPTCHA whatever
// the policy (/api/v3/login) is served only by a tenant with a provider.
func enabled(rt route) fiber.Handler {
	return func(c *fiber.Ctx) error {
		t := web.Tenant(c.UserContext()).Tenant
		if !t.Profiles.Seed003 || (rt.captcha && t.Captcha.Provider == tenant.CaptchaNone) {
			return c.Next()
		}
		web.UseErrors(c, rt.errors)
		// Every answer here carries a credential or tells about one.
		c.Set(fiber.HeaderCacheControl, "no-store")
		if err := web.CheckRequest(c); err != nil {
			return err
		}
		return rt.handle(c)
	}
}

// localFields are a body's guest cart and wishlist under the seed's
// names.
type localFields struct {
	LocalCart     json.RawMessage `json:"localcart"`
	LocalWishlist json.RawMessage `json:"localwishlist"`
}

// local reads them as every surface does (web.LocalFields), the errors
// naming the seed's fields.
func (f localFields) local() (storefront.Local, error) {
	l, err := web.LocalFields{Cart: f.LocalCart, Wishlist: f.LocalWishlist}.Local()
	if e := errs.As(err); err != nil && len(e.Fields) > 0 {
		renamed := *e
		renamed.Fields = make([]errs.FieldError, len(e.Fields))
		for i, fe := range e.Fields {
			fe.Field = "local" + fe.Field
			renamed.Fields[i] = fe
		}
		return storefront.Local{}, &renamed
	}
	return l, err
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	localFields
	web.CaptchaFields
}

func login2(c *fiber.Ctx) error { return passwordLogin(c, false) }
func login3(c *fiber.Ctx) error { return passwordLogin(c, true) }

// passwordLogin is the e-mail and password login of every login route:
// demand asks for a solved CAPTCHA whatever the tenant's policy. A user
// with a second factor ends in ErrMFARequired, which login-tfa's error
// table renders as its "2f." answer and the others as a refusal.
func passwordLogin(c *fiber.Ctx, demand bool) error {
	var req loginRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	if _, _, err := identity.NormalizeEmail(req.Email); err != nil {
		return errs.InvalidFields(errs.FieldError{Field: "email", Reason: err.Error()})
	}
	local, err := req.local()
	if err != nil {
		return err
	}
	rt := web.Tenant(c.UserContext())
	out, err := rt.Passwords.Login(c.UserContext(), password.LoginInput{
		Email: req.Email, Password: req.Password, Kind: identity.SessionAPI, Client: web.Client(c), Lifetime: rt.Seed003.Session,
		Captcha: req.Response(), DemandCaptcha: demand, Local: local,
	})
	if err != nil {
		return err
	}
	return answer(c, loginBody(out.Outcome))
}

type verifyTFARequest struct {
	AccessToken string `json:"access_token"`
	Code        string `json:"code"`
}

// verifyTFA is the second step of login-tfa: the "2f." token and a code
// of the user's second factor; the login answer, the cart merged now.
func verifyTFA(c *fiber.Ctx) error {
	var req verifyTFARequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	token := strings.TrimSpace(req.AccessToken)
	if token == "" {
		return login.ErrMFATokenRequired
	}
	challenge, ok := strings.CutPrefix(token, TFAPrefix)
	if !ok {
		return login.ErrMFATokenInvalid // an access JWT, or anything else: no sign-in waits on it
	}
	out, err := web.Tenant(c.UserContext()).Login.CompleteSecondFactor(c.UserContext(), login.SecondStep{
		Token: challenge, Code: req.Code, Client: web.Client(c)})
	if err != nil {
		return err
	}
	return answer(c, loginBody(out))
}

type mobileRequest struct {
	Mobile string `json:"mobile"`
	// Shopper is the seed's flag of a shopper's login: every account
	// here signs in alike, so it is read as anything and not used.
	Shopper json.RawMessage `json:"shopper"`
	web.CaptchaFields
}

// mobileAnswer is login-mobile's answer, fields in the seed's order.
type mobileAnswer struct {
	Message      string `json:"message"`
	OTPSent      bool   `json:"otp_sent"`
	IsRegistered bool   `json:"is_registered"`
}

// loginMobile sends a code to the mobile number and says it was sent to
// an account's number; a number without an account (smslogin's
// ErrUnknownPhone, after the same budgets and limits) gets no message,
// and mobileErrors answers so.
func loginMobile(c *fiber.Ctx) error {
	if err := checkPlatform(c); err != nil {
		return err
	}
	var req mobileRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	mobile, err := nationalMobile(req.Mobile)
	if err != nil {
		return err
	}
	if err := web.Tenant(c.UserContext()).Seed003.SMS.Send(c.UserContext(), smslogin.SendInput{
		Phone: mobile, Client: web.Client(c), Wait: true, Captcha: req.Response()}); err != nil {
		return err
	}
	return c.JSON(mobileAnswer{Message: MessageOTPSent, OTPSent: true, IsRegistered: true})
}

type verifyOTPRequest struct {
	Mobile string `json:"mobile"`
	OTP    string `json:"otp"`
	localFields
	web.CaptchaFields
}

// verifyOTP signs in with the code login-mobile sent.
func verifyOTP(c *fiber.Ctx) error {
	var req verifyOTPRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	mobile, err := nationalMobile(req.Mobile)
	if err != nil {
		return err
	}
	local, err := req.local()
	if err != nil {
		return err
	}
	rt := web.Tenant(c.UserContext())
	out, err := rt.Seed003.SMS.Verify(c.UserContext(), smslogin.VerifyInput{Phone: mobile, Code: req.OTP, Kind: identity.SessionAPI,
		Client: web.Client(c), Lifetime: rt.Seed003.Session, Captcha: req.Response(), Local: local})
	if err != nil {
		return err
	}
	return answer(c, loginBody(out))
}

type registerRequest struct {
	Email        string `json:"email"`
	Password     string `json:"password"`
	Telephone    string `json:"telephone"`
	FirstName    string `json:"firstname"`
	LastName     string `json:"lastname"`
	Gender       string `json:"gender"`
	Birthdate    string `json:"birthdate"`
	ReferralCode string `json:"referral_code"`
	localFields
	web.CaptchaFields
}

// registerAnswer is the login answer and the new account's id.
type registerAnswer struct {
	loginAnswer
	UserID string `json:"user_id"`
}

// register creates the account and signs it in through the pipeline,
// the guest's cart and wishlist merged into the new account's. When the
// account exists but cannot be signed in (the tenant requires a verified
// address) the answer has no token and status 0.
func register(c *fiber.Ctx) error {
	if err := checkPlatform(c); err != nil {
		return err
	}
	var req registerRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	if err := checkDetails(req.Gender, req.Birthdate, req.ReferralCode, time.Now()); err != nil {
		return err
	}
	local, err := req.local()
	if err != nil {
		return err
	}
	rt := web.Tenant(c.UserContext())
	kind := identity.SessionAPI
	reg, err := rt.Passwords.Register(c.UserContext(), password.RegisterInput{
		Profile: identity.Profile{Email: req.Email, FirstName: req.FirstName, LastName: req.LastName, Phone: req.Telephone,
			Extra: map[string]string{"gender": req.Gender, "birthdate": req.Birthdate, "referral_code": req.ReferralCode}},
		Password: req.Password, Client: web.Client(c), SignIn: &kind, Lifetime: rt.Seed003.Session, Captcha: req.Response(), Local: local,
	})
	if err != nil {
		return err
	}
	body := registerAnswer{loginAnswer: notSignedIn(reg.User), UserID: reg.User.ID}
	if reg.Login != nil && reg.Login.Result == login.Signed {
		body.loginAnswer = loginBody(*reg.Login)
	}
	return answer(c, body)
}

// loginAnswer is the seed's login answer, fields in its order.
type loginAnswer struct {
	AccessToken string       `json:"access_token"`
	Username    string       `json:"username"`
	Status      int          `json:"status"`
	CartCount   int          `json:"ccnt"`
	Cart        web.CartBody `json:"cart"`
	Wishlist    []string     `json:"wishlist"`
	FirstLogin  bool         `json:"is_first_time_login"`
}

// StatusSignedIn is the answer's status of a sign-in; StatusNotSignedIn
// (ours) that of a registration that could not sign in.
const (
	StatusSignedIn    = 1
	StatusNotSignedIn = 0
)

// loginBody is the answer of a sign-in: the access token, the user's
// name, the cart and wishlist after the guest's were merged in (the
// local entries dropped are not reported: the seed has no place for
// them).
func loginBody(out login.Outcome) loginAnswer {
	var merged shop.MergeResult
	if out.Storefront != nil {
		merged = *out.Storefront
	}
	return loginAnswer{AccessToken: out.Credentials.AccessToken, Username: username(out.User), Status: StatusSignedIn,
		CartCount: len(merged.Cart.Lines), Cart: web.CartJSON(merged.Cart), Wishlist: web.WishlistJSON(merged.Wishlist),
		FirstLogin: out.FirstSignIn}
}

// notSignedIn is the answer of a registration whose account cannot sign
// in yet: no token, status 0, nothing merged.
func notSignedIn(u identity.User) loginAnswer {
	return loginAnswer{Username: username(u), Status: StatusNotSignedIn, Cart: web.CartJSON(storefront.Cart{}), Wishlist: []string{}}
}

// username is the user's name as the seed shows it: first name, a space,
// last name.
func username(u identity.User) string { return u.FirstName + " " + u.LastName }

func answer(c *fiber.Ctx, body any) error { return c.JSON(body) }
