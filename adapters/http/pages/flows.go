package pages

import (
	"errors"
	"html/template"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/adapters/http/web"
	"github.com/portcullis/portcullis/application/device"
	"github.com/portcullis/portcullis/application/emaillogin"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/mfa"
	"github.com/portcullis/portcullis/application/password"
	"github.com/portcullis/portcullis/application/recovery"
	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/application/smslogin"
	"github.com/portcullis/portcullis/application/verification"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/link"
	"github.com/portcullis/portcullis/domain/redirect"
	"github.com/portcullis/portcullis/domain/tenant"
)

func tenantOf(c *fiber.Ctx) *web.TenantServices { return web.Tenant(c.UserContext()) }

// form returns a form field, copied out of Fiber's buffers (a background
// mail may outlive the request).
func form(c *fiber.Ctx, name string) string { return strings.Clone(c.FormValue(name)) }

// captchaResponse is the widget's response among the form's fields.
func captchaResponse(c *fiber.Ctx) string {
	return web.CaptchaResponse(map[string]string{
		"captcha": form(c, "captcha"), "g-recaptcha-response": form(c, "g-recaptcha-response"),
		"h-captcha-response": form(c, "h-captcha-response"), "cf-turnstile-response": form(c, "cf-turnstile-response"),
	})
}

// required marks each empty field; it reports whether all were given.
func required(v *view, fields map[string]string, order ...string) bool {
	ok := true
	for _, name := range order {
		if strings.TrimSpace(fields[name]) == "" {
			v.fieldError(name, v.T("error.required"))
			ok = false
		}
	}
	if !ok {
		v.Error = v.T("common.error_summary")
	}
	return ok
}

// showForm renders page again with err on its form. On the pages that
// take a code, a refused code is an error of the code field.
func (h *handlers) showForm(c *fiber.Ctx, v *view, page string, err error) error {
	e := web.FromError(err)
	if e.Kind == errs.Internal {
		return err
	}
	v.formError(e)
	if (page == "code" || page == "mfa" || page == "enroll") && e.Kind == errs.Unauthenticated && len(e.Fields) == 0 {
		v.fieldError("code", v.Error)
	}
	web.SetRetryAfter(c, e)
	return h.render(c, web.StatusOf(e), page, v)
}

// The challenge cookie holds a second step's token with its kind.
const (
	challengeMFA   = "mfa:"
	challengeEnrol = "enrol:"
	challengeTTL   = 10 * time.Minute
)

// signedIn ends a sign-in: the session cookie (and the device's), then
// the way back (next, or the account page).
func (h *handlers) signedIn(c *fiber.Ctx, v *view, out login.Outcome, dev device.Credential) error {
	if out.Credentials.Cookie == "" {
		return errs.ErrInternal.Wrap(errors.New("pages: a sign-in without a browser session"))
	}
	web.SetSessionCookie(c, h.opts.Dev, out.Credentials.Cookie, out.Credentials.Session.ExpiresAt)
	if dev.Token != "" {
		web.SetDeviceCookie(c, h.opts.Dev, dev)
	}
	h.clearCookie(c, cookieChallenge)
	return seeOther(c, afterSignIn(v))
}

// signInFailed answers a first factor that did not sign in: a second step
// to take (its token into a cookie, out of every URL) or the form again.
func (h *handlers) signInFailed(c *fiber.Ctx, v *view, page string, err error) error {
	e := errs.As(err)
	if e != nil {
		switch {
		case errors.Is(err, login.ErrMFARequired):
			if tok, _ := e.Extensions["mfa_token"].(string); tok != "" {
				h.setCookie(c, cookieChallenge, challengeMFA+tok, challengeTTL)
				return seeOther(c, withNext(Prefix+"/second-factor/", v))
			}
		case errors.Is(err, login.ErrMFAEnrolmentRequired):
			if tok, _ := e.Extensions["enrolment_token"].(string); tok != "" {
				h.setCookie(c, cookieChallenge, challengeEnrol+tok, challengeTTL)
				return seeOther(c, withNext(Prefix+"/enroll-totp/", v))
			}
		}
	}
	withCaptcha(v, tenantOf(c).Tenant, tenant.CaptchaLogin, err)
	return h.showForm(c, v, page, err)
}

// signInView sets the sign-in page's title.
func signInView(v *view, t tenant.Tenant) {
	v.Title, v.Heading = "signin.heading", t.Name()
}

func (h *handlers) signIn(c *fiber.Ctx, v *view) error {
	t := tenantOf(c).Tenant
	signInView(v, t)
	withCaptcha(v, t, tenant.CaptchaLogin, nil)
	if c.Query("signed_out") != "" {
		v.Notice = v.T("signout.done")
	}
	return h.render(c, fiber.StatusOK, "signin", v)
}

func (h *handlers) signInPost(c *fiber.Ctx, v *view) error {
	rt := tenantOf(c)
	signInView(v, rt.Tenant)
	withCaptcha(v, rt.Tenant, tenant.CaptchaLogin, nil)
	if !v.Methods.Password {
		return errs.ErrNotFound
	}
	if err := h.checkForm(c); err != nil {
		return h.showForm(c, v, "signin", err)
	}
	in := map[string]string{"email": form(c, "email"), "password": form(c, "password")}
	v.values["email"] = in["email"]
	if !required(v, in, "email", "password") {
		return h.render(c, fiber.StatusBadRequest, "signin", v)
	}
	if err := web.CheckCookieLogin(c, identity.SessionWeb); err != nil {
		return h.showForm(c, v, "signin", err)
	}
	out, err := rt.Passwords.Login(c.UserContext(), password.LoginInput{Email: in["email"], Password: in["password"], Kind: identity.SessionWeb,
		Client: web.Client(c), DeviceToken: web.DeviceToken(c, h.opts.Dev), Captcha: captchaResponse(c)})
	if err != nil {
		return h.signInFailed(c, v, "signin", err)
	}
	return h.signedIn(c, v, out.Outcome, out.Device)
}

func (h *handlers) register(c *fiber.Ctx, v *view) error {
	t := tenantOf(c).Tenant
	if !v.Methods.Password {
		return errs.ErrNotFound
	}
	v.Title = "register.title"
	passwordHint(v, t)
	withCaptcha(v, t, tenant.CaptchaRegister, nil)
	if c.Query("done") != "" {
		v.Done, v.Notice = true, v.T("register.done")
	}
	return h.render(c, fiber.StatusOK, "register", v)
}

func (h *handlers) registerPost(c *fiber.Ctx, v *view) error {
	rt := tenantOf(c)
	if !v.Methods.Password {
		return errs.ErrNotFound
	}
	v.Title = "register.title"
	passwordHint(v, rt.Tenant)
	withCaptcha(v, rt.Tenant, tenant.CaptchaRegister, nil)
	if err := h.checkForm(c); err != nil {
		return h.showForm(c, v, "register", err)
	}
	in := map[string]string{"first_name": form(c, "first_name"), "last_name": form(c, "last_name"), "email": form(c, "email"), "password": form(c, "password")}
	for _, k := range []string{"first_name", "last_name", "email"} {
		v.values[k] = in[k]
	}
	if !required(v, in, "email", "password") {
		return h.render(c, fiber.StatusBadRequest, "register", v)
	}
	_, err := rt.Passwords.Register(c.UserContext(), password.RegisterInput{
		Profile:  identity.Profile{Email: in["email"], FirstName: in["first_name"], LastName: in["last_name"]},
		Password: in["password"], Client: web.Client(c), Captcha: captchaResponse(c), Paths: link.Seed001,
	})
	// A taken address answers like a new one: the page must not tell who
	// has an account (its owner is told by mail).
	if err != nil && !errors.Is(err, identity.ErrEmailTaken) && !errors.Is(err, identity.ErrPhoneTaken) {
		withCaptcha(v, rt.Tenant, tenant.CaptchaRegister, err)
		return h.showForm(c, v, "register", err)
	}
	return seeOther(c, withNext(Prefix+"/register/", v)+sep(v)+"done=1")
}

// sep is the separator before one more query parameter of withNext's URL.
func sep(v *view) string {
	if v.Next == "" {
		return "?"
	}
	return "&"
}

// principal is the browser's signed-in user, by its session cookie only.
func (h *handlers) principal(c *fiber.Ctx) (session.Principal, bool) {
	rt := tenantOf(c)
	value := c.Cookies(web.SessionCookie(h.opts.Dev))
	if value == "" {
		return session.Principal{}, false
	}
	p, err := rt.Sessions.Authenticate(c.UserContext(), session.ByCookie, strings.Clone(value))
	if err != nil {
		return session.Principal{}, false
	}
	return p, true
}

func (h *handlers) signOut(c *fiber.Ctx, v *view) error {
	v.Title = "signout.title"
	if _, ok := h.principal(c); !ok || c.Query("done") != "" {
		v.Done, v.Notice = true, v.T("signout.done")
	}
	return h.render(c, fiber.StatusOK, "signout", v)
}

func (h *handlers) signOutPost(c *fiber.Ctx, v *view) error {
	rt := tenantOf(c)
	v.Title = "signout.title"
	if err := h.checkForm(c); err != nil {
		return h.showForm(c, v, "signout", err)
	}
	if value := c.Cookies(web.SessionCookie(h.opts.Dev)); value != "" {
		if _, err := rt.Sessions.Logout(c.UserContext(), session.ByCookie, strings.Clone(value)); err != nil && errs.KindOf(err) != errs.Unauthenticated {
			return h.showForm(c, v, "signout", err)
		}
	}
	web.ClearSessionCookie(c, h.opts.Dev)
	if v.Next != "" {
		return seeOther(c, v.Next)
	}
	return seeOther(c, Prefix+"/sign-out/?done=1")
}

func (h *handlers) forgot(c *fiber.Ctx, v *view) error {
	t := tenantOf(c).Tenant
	v.Title = "forgot.title"
	withCaptcha(v, t, tenant.CaptchaForgot, nil)
	if c.Query("done") != "" {
		v.Done, v.Notice = true, v.T("forgot.done")
	}
	return h.render(c, fiber.StatusOK, "forgot", v)
}

func (h *handlers) forgotPost(c *fiber.Ctx, v *view) error {
	rt := tenantOf(c)
	v.Title = "forgot.title"
	withCaptcha(v, rt.Tenant, tenant.CaptchaForgot, nil)
	if err := h.checkForm(c); err != nil {
		return h.showForm(c, v, "forgot", err)
	}
	in := map[string]string{"email": form(c, "email")}
	v.values["email"] = in["email"]
	if !required(v, in, "email") {
		return h.render(c, fiber.StatusBadRequest, "forgot", v)
	}
	err := rt.Recovery.Forgot(c.UserContext(), recovery.ForgotInput{Email: in["email"], Client: web.Client(c), Paths: link.Seed001, Captcha: captchaResponse(c)})
	if err != nil {
		withCaptcha(v, rt.Tenant, tenant.CaptchaForgot, err)
		return h.showForm(c, v, "forgot", err)
	}
	return seeOther(c, withNext(Prefix+"/forgot-password/", v)+sep(v)+"done=1")
}

// The mailed tokens' kinds in the flow cookie.
const (
	flowReset  = "reset:"
	flowVerify = "verify:"
	flowMagic  = "magic:"
	flowTTL    = 15 * time.Minute
)

// flowToken moves a mailed token out of the address bar: a GET with
// ?token= stores it in the flow cookie and answers 303 to the page
// without it (the bool says so: the caller returns err). Without one, it
// returns the cookie's token of kind, "" for none.
func (h *handlers) flowToken(c *fiber.Ctx, kind string) (string, bool, error) {
	if tok := c.Query("token"); tok != "" {
		h.setCookie(c, cookieFlow, kind+strings.Clone(tok), flowTTL)
		return "", true, seeOther(c, string(c.Request().URI().Path()))
	}
	v := h.cookie(c, cookieFlow)
	if !strings.HasPrefix(v, kind) {
		return "", false, nil
	}
	return strings.TrimPrefix(v, kind), false, nil
}

func (h *handlers) reset(c *fiber.Ctx, v *view) error {
	rt := tenantOf(c)
	v.Title = "reset.title"
	passwordHint(v, rt.Tenant)
	if c.Query("done") != "" {
		v.Done, v.Notice = true, v.T("reset.done")
		return h.render(c, fiber.StatusOK, "reset", v)
	}
	tok, moved, err := h.flowToken(c, flowReset)
	if moved || err != nil {
		return err
	}
	if tok == "" || rt.Recovery.Validate(c.UserContext(), tok) != nil {
		v.Invalid, v.Error = true, v.T("reset.invalid")
		return h.render(c, fiber.StatusBadRequest, "reset", v)
	}
	v.Token = tok
	return h.render(c, fiber.StatusOK, "reset", v)
}

func (h *handlers) resetPost(c *fiber.Ctx, v *view) error {
	rt := tenantOf(c)
	v.Title = "reset.title"
	passwordHint(v, rt.Tenant)
	v.Token = form(c, "token")
	if err := h.checkForm(c); err != nil {
		return h.showForm(c, v, "reset", err)
	}
	in := map[string]string{"password": form(c, "password")}
	if !required(v, in, "password") {
		return h.render(c, fiber.StatusBadRequest, "reset", v)
	}
	if _, err := rt.Recovery.Reset(c.UserContext(), recovery.ResetInput{Token: v.Token, Password: in["password"], Client: web.Client(c)}); err != nil {
		if errors.Is(err, recovery.ErrInvalidToken) {
			v.Invalid, v.Error = true, v.T("reset.invalid")
			return h.render(c, fiber.StatusBadRequest, "reset", v)
		}
		if e := errs.As(err); e != nil && e.Kind == errs.Invalid && len(e.Fields) > 0 {
			for i := range e.Fields {
				if e.Fields[i].Field == "new_password" {
					e.Fields[i].Field = "password"
				}
			}
		}
		return h.showForm(c, v, "reset", err)
	}
	h.clearCookie(c, cookieFlow)
	// The reset ended every session of the account, this browser's too.
	web.ClearSessionCookie(c, h.opts.Dev)
	return seeOther(c, Prefix+"/forgot-password/process/?done=1")
}

func (h *handlers) verify(c *fiber.Ctx, v *view) error {
	rt := tenantOf(c)
	v.Title = "verify.title"
	if c.Query("done") != "" {
		v.Done, v.Notice = true, v.T("verify.done")
		return h.render(c, fiber.StatusOK, "verify", v)
	}
	tok, moved, err := h.flowToken(c, flowVerify)
	if moved || err != nil {
		return err
	}
	if tok == "" || rt.Verification.Check(c.UserContext(), tok) != nil {
		v.Invalid, v.Error = true, v.T("verify.invalid")
		return h.render(c, fiber.StatusBadRequest, "verify", v)
	}
	v.Token = tok
	return h.render(c, fiber.StatusOK, "verify", v)
}

func (h *handlers) verifyPost(c *fiber.Ctx, v *view) error {
	rt := tenantOf(c)
	v.Title = "verify.title"
	v.Token = form(c, "token")
	if err := h.checkForm(c); err != nil {
		return h.showForm(c, v, "verify", err)
	}
	if _, err := rt.Verification.Submit(c.UserContext(), verification.Submission{Token: v.Token}); err != nil {
		if errs.KindOf(err) == errs.Invalid || errs.KindOf(err) == errs.NotFound {
			v.Invalid, v.Error = true, v.T("verify.invalid")
			return h.render(c, fiber.StatusBadRequest, "verify", v)
		}
		return h.showForm(c, v, "verify", err)
	}
	h.clearCookie(c, cookieFlow)
	return seeOther(c, Prefix+"/verify-email/process/?done=1")
}

// sendView sets up the first page of a sign-in by code or link.
func sendView(v *view, channel string) {
	v.Channel = channel
	switch channel {
	case "sms":
		v.Title, v.Intro, v.Submit, v.Action = "sms.title", "sms.intro", "sms.send", Prefix+"/sms/"
	case "email":
		v.Title, v.Intro, v.Submit, v.Action = "emailcode.title", "emailcode.intro", "emailcode.send", Prefix+"/email-code/"
	case "magic":
		v.Title, v.Intro, v.Submit, v.Action = "magic.title", "magic.intro", "magic.submit", Prefix+"/magic-link/"
	}
}

// codeView sets up the page that takes the code sent.
func codeView(v *view, channel string) {
	v.Channel = channel
	if channel == "sms" {
		v.Title, v.Submit, v.Action, v.Resend = "sms.title", "sms.verify", Prefix+"/sms/verify/", Prefix+"/sms/"
		return
	}
	v.Title, v.Submit, v.Action, v.Resend = "emailcode.title", "emailcode.verify", Prefix+"/email-code/verify/", Prefix+"/email-code/"
}

// codeChannel is a sign-in by a code sent to the user: by SMS or by
// e-mail. Its pages: the form that asks for the number or address, the
// code form shown once the code is sent (the number or address in a
// hidden field, never in the URL), and the code's check.
type codeChannel struct {
	name    string // "sms" or "email", the view's Channel
	field   string // the input: "phone" or "email"
	route   tenant.CaptchaRoute
	sentKey string // the notice once sent
	on      func(methods) bool
	send    func(c *fiber.Ctx, rt *web.TenantServices, to string) error
	verify  func(c *fiber.Ctx, rt *web.TenantServices, to, code string) (login.Outcome, error)
}

var (
	smsChannel = codeChannel{name: "sms", field: "phone", route: tenant.CaptchaSMSSend, sentKey: "sms.sent",
		on: func(m methods) bool { return m.SMS },
		send: func(c *fiber.Ctx, rt *web.TenantServices, to string) error {
			return rt.SMS.Send(c.UserContext(), smslogin.SendInput{Phone: to, Client: web.Client(c), Captcha: captchaResponse(c)})
		},
		verify: func(c *fiber.Ctx, rt *web.TenantServices, to, code string) (login.Outcome, error) {
			return rt.SMS.Verify(c.UserContext(), smslogin.VerifyInput{Phone: to, Code: code, Kind: identity.SessionWeb, Client: web.Client(c),
				Captcha: captchaResponse(c)})
		}}
	emailChannel = codeChannel{name: "email", field: "email", route: tenant.CaptchaEmailSend, sentKey: "emailcode.sent",
		on: func(m methods) bool { return m.Email },
		send: func(c *fiber.Ctx, rt *web.TenantServices, to string) error {
			return rt.EmailLogin.SendCode(c.UserContext(), emaillogin.SendInput{Email: to, Client: web.Client(c), Captcha: captchaResponse(c)})
		},
		verify: func(c *fiber.Ctx, rt *web.TenantServices, to, code string) (login.Outcome, error) {
			return rt.EmailLogin.VerifyCode(c.UserContext(), emaillogin.VerifyInput{Email: to, Code: code, Kind: identity.SessionWeb,
				Client: web.Client(c), Captcha: captchaResponse(c)})
		}}
)

// codeStart is the form that asks where to send the code.
func (h *handlers) codeStart(ch codeChannel) pageFunc {
	return func(c *fiber.Ctx, v *view) error {
		if !ch.on(v.Methods) {
			return errs.ErrNotFound
		}
		sendView(v, ch.name)
		withCaptcha(v, tenantOf(c).Tenant, ch.route, nil)
		return h.render(c, fiber.StatusOK, "send", v)
	}
}

// codeSend sends a code and shows the form that takes it.
func (h *handlers) codeSend(ch codeChannel) pageFunc {
	return func(c *fiber.Ctx, v *view) error {
		rt := tenantOf(c)
		if !ch.on(v.Methods) {
			return errs.ErrNotFound
		}
		sendView(v, ch.name)
		withCaptcha(v, rt.Tenant, ch.route, nil)
		if err := h.checkForm(c); err != nil {
			return h.showForm(c, v, "send", err)
		}
		in := map[string]string{ch.field: form(c, ch.field)}
		v.values[ch.field] = in[ch.field]
		if !required(v, in, ch.field) {
			return h.render(c, fiber.StatusBadRequest, "send", v)
		}
		if err := ch.send(c, rt, in[ch.field]); err != nil {
			withCaptcha(v, rt.Tenant, ch.route, err)
			return h.showForm(c, v, "send", err)
		}
		v.Captcha = nil
		codeView(v, ch.name)
		v.Notice = v.T(ch.sentKey)
		return h.render(c, fiber.StatusOK, "code", v)
	}
}

// codeVerify signs in with the code.
func (h *handlers) codeVerify(ch codeChannel) pageFunc {
	return func(c *fiber.Ctx, v *view) error {
		rt := tenantOf(c)
		if !ch.on(v.Methods) {
			return errs.ErrNotFound
		}
		codeView(v, ch.name)
		if err := h.checkForm(c); err != nil {
			return h.showForm(c, v, "code", err)
		}
		in := map[string]string{ch.field: form(c, ch.field), "code": form(c, "code")}
		v.values[ch.field] = in[ch.field]
		if !required(v, in, "code") {
			return h.render(c, fiber.StatusBadRequest, "code", v)
		}
		if err := web.CheckCookieLogin(c, identity.SessionWeb); err != nil {
			return h.showForm(c, v, "code", err)
		}
		out, err := ch.verify(c, rt, in[ch.field], in["code"])
		if err != nil {
			return h.signInFailed(c, v, "code", err)
		}
		return h.signedIn(c, v, out, device.Credential{})
	}
}

func (h *handlers) magicLink(c *fiber.Ctx, v *view) error {
	if !v.Methods.Email {
		return errs.ErrNotFound
	}
	sendView(v, "magic")
	withCaptcha(v, tenantOf(c).Tenant, tenant.CaptchaEmailSend, nil)
	if c.Query("sent") != "" {
		v.Notice = v.T("magic.sent")
	}
	return h.render(c, fiber.StatusOK, "send", v)
}

func (h *handlers) magicLinkPost(c *fiber.Ctx, v *view) error {
	rt := tenantOf(c)
	if !v.Methods.Email {
		return errs.ErrNotFound
	}
	sendView(v, "magic")
	withCaptcha(v, rt.Tenant, tenant.CaptchaEmailSend, nil)
	if err := h.checkForm(c); err != nil {
		return h.showForm(c, v, "send", err)
	}
	in := map[string]string{"email": form(c, "email")}
	v.values["email"] = in["email"]
	if !required(v, in, "email") {
		return h.render(c, fiber.StatusBadRequest, "send", v)
	}
	li := emaillogin.LinkInput{Email: in["email"], Next: v.Next, Client: web.Client(c), Paths: link.Seed001, Captcha: captchaResponse(c)}
	if err := web.SendMagicLink(c, h.opts.Dev, rt.EmailLogin, li); err != nil {
		withCaptcha(v, rt.Tenant, tenant.CaptchaEmailSend, err)
		return h.showForm(c, v, "send", err)
	}
	return seeOther(c, withNext(Prefix+"/magic-link/", v)+sep(v)+"sent=1")
}

func (h *handlers) magicProcess(c *fiber.Ctx, v *view) error {
	rt := tenantOf(c)
	v.Title = "magic.process_title"
	tok, moved, err := h.flowToken(c, flowMagic)
	if moved || err != nil {
		return err
	}
	info, err := rt.EmailLogin.ConfirmLink(c.UserContext(), tok)
	if tok == "" || err != nil {
		v.Invalid, v.Error = true, v.T("magic.invalid")
		return h.render(c, fiber.StatusBadRequest, "magicprocess", v)
	}
	v.Token, v.values["email"] = tok, info.Email
	return h.render(c, fiber.StatusOK, "magicprocess", v)
}

func (h *handlers) magicProcessPost(c *fiber.Ctx, v *view) error {
	rt := tenantOf(c)
	v.Title = "magic.process_title"
	v.Token = form(c, "token")
	if err := h.checkForm(c); err != nil {
		return h.showForm(c, v, "magicprocess", err)
	}
	if err := web.CheckCookieLogin(c, identity.SessionWeb); err != nil {
		return h.showForm(c, v, "magicprocess", err)
	}
	out, err := rt.EmailLogin.ConsumeLink(c.UserContext(), emaillogin.ConsumeInput{Token: v.Token, Kind: identity.SessionWeb,
		Client: web.Client(c), Device: web.MagicLinkDevice(c, h.opts.Dev), Captcha: captchaResponse(c)})
	if err != nil {
		if e := errs.As(err); e != nil && (e.Code == "invalid_token" || e.Kind == errs.Invalid) {
			v.Invalid, v.Error = true, v.T("magic.invalid")
			return h.render(c, fiber.StatusBadRequest, "magicprocess", v)
		}
		return h.signInFailed(c, v, "magicprocess", err)
	}
	h.clearCookie(c, cookieFlow)
	if out.Next != "" {
		if target, ok := redirect.Check(out.Next, rt.Tenant.Redirects); ok {
			v.Next = target
		}
	}
	return h.signedIn(c, v, out.Outcome, device.Credential{})
}

// challenge returns the browser's second-step token of kind, "" for none.
func (h *handlers) challenge(c *fiber.Ctx, kind string) string {
	v := h.cookie(c, cookieChallenge)
	if !strings.HasPrefix(v, kind) {
		return ""
	}
	return strings.TrimPrefix(v, kind)
}

func (h *handlers) secondFactor(c *fiber.Ctx, v *view) error {
	v.Title = "mfa.title"
	if h.challenge(c, challengeMFA) == "" {
		v.Invalid, v.Error = true, v.T("mfa.expired")
		return h.render(c, fiber.StatusBadRequest, "mfa", v)
	}
	return h.render(c, fiber.StatusOK, "mfa", v)
}

func (h *handlers) secondFactorPost(c *fiber.Ctx, v *view) error {
	rt := tenantOf(c)
	v.Title = "mfa.title"
	if err := h.checkForm(c); err != nil {
		return h.showForm(c, v, "mfa", err)
	}
	tok := h.challenge(c, challengeMFA)
	if tok == "" {
		v.Invalid, v.Error = true, v.T("mfa.expired")
		return h.render(c, fiber.StatusBadRequest, "mfa", v)
	}
	in := map[string]string{"code": form(c, "code")}
	if !required(v, in, "code") {
		return h.render(c, fiber.StatusBadRequest, "mfa", v)
	}
	if err := web.CheckCookieLogin(c, identity.SessionWeb); err != nil {
		return h.showForm(c, v, "mfa", err)
	}
	out, err := rt.Login.CompleteSecondFactor(c.UserContext(), login.SecondStep{Token: tok, Code: in["code"], Client: web.Client(c)})
	if err != nil {
		if errors.Is(err, login.ErrMFATokenInvalid) || errors.Is(err, login.ErrMFAAttemptsExceeded) {
			h.clearCookie(c, cookieChallenge)
			v.Invalid, v.Error = true, v.errorText(errs.As(err))
			return h.render(c, fiber.StatusUnauthorized, "mfa", v)
		}
		e := errs.As(err)
		if e != nil && e.Kind == errs.Unauthenticated {
			v.fieldError("code", v.T("error.otp_invalid"))
			v.Error = v.T("error.otp_invalid")
			return h.render(c, fiber.StatusUnauthorized, "mfa", v)
		}
		return h.showForm(c, v, "mfa", err)
	}
	return h.signedIn(c, v, out, device.Credential{})
}

// enrolment is what the enrolment page shows of a new factor.
type enrolment struct {
	Secret      string
	QR          template.URL // a data: URI of our own PNG
	BackupCodes []string
}

// enrollUser is the user setting up a factor: the enrolment token's (a
// sign-in that requires one) or the signed-in user's.
func (h *handlers) enrollUser(c *fiber.Ctx) (identity.User, bool, error) {
	rt := tenantOf(c)
	if tok := h.challenge(c, challengeEnrol); tok != "" {
		u, err := rt.Login.EnrolmentUser(c.UserContext(), tok)
		return u, true, err
	}
	p, ok := h.principal(c)
	if !ok {
		return identity.User{}, false, errNeedSignIn
	}
	return p.User, false, nil
}

// errNeedSignIn sends a page that needs a signed-in user to sign in.
var errNeedSignIn = errors.New("pages: sign in first")

func (h *handlers) needSignIn(c *fiber.Ctx, back string) error {
	return seeOther(c, Prefix+"/?next="+strings.ReplaceAll(back, "/", "%2F"))
}

func (h *handlers) enroll(c *fiber.Ctx, v *view) error {
	rt := tenantOf(c)
	if !v.Methods.TOTP {
		return errs.ErrNotFound
	}
	v.Title = "enroll.title"
	u, _, err := h.enrollUser(c)
	if errors.Is(err, errNeedSignIn) {
		return h.needSignIn(c, Prefix+"/enroll-totp/")
	}
	if err != nil {
		return err
	}
	e, err := rt.MFA.Start(c.UserContext(), u)
	if err != nil {
		return err
	}
	v.Data = enrolment{Secret: e.Secret, QR: template.URL(e.QRDataURI()), BackupCodes: e.BackupCodes}
	return h.render(c, fiber.StatusOK, "enroll", v)
}

func (h *handlers) enrollPost(c *fiber.Ctx, v *view) error {
	rt := tenantOf(c)
	if !v.Methods.TOTP {
		return errs.ErrNotFound
	}
	v.Title = "enroll.title"
	if err := h.checkForm(c); err != nil {
		return h.showForm(c, v, "enroll", err)
	}
	u, enrolling, err := h.enrollUser(c)
	if errors.Is(err, errNeedSignIn) {
		return h.needSignIn(c, Prefix+"/enroll-totp/")
	}
	if err != nil {
		return err
	}
	in := map[string]string{"code": form(c, "code")}
	if !required(v, in, "code") {
		return h.render(c, fiber.StatusBadRequest, "enroll", v)
	}
	if enrolling {
		out, err := rt.Login.CompleteEnrolment(c.UserContext(), login.SecondStep{Token: h.challenge(c, challengeEnrol), Code: in["code"], Client: web.Client(c)})
		if err != nil {
			return h.enrollFailed(c, v, err)
		}
		return h.signedIn(c, v, out, device.Credential{})
	}
	if err := rt.MFA.Confirm(c.UserContext(), u, in["code"]); err != nil {
		return h.enrollFailed(c, v, err)
	}
	return seeOther(c, Prefix+"/account/?saved=mfa")
}

// enrollFailed shows the code's error; the secret shown before stays the
// pending one, so the app set up with it gives the next code.
func (h *handlers) enrollFailed(c *fiber.Ctx, v *view, err error) error {
	e := web.FromError(err)
	if e.Kind == errs.Unauthenticated || e.Kind == errs.Invalid {
		v.fieldError("code", v.T("error.otp_invalid"))
		v.Error = v.T("error.otp_invalid")
		return h.render(c, web.StatusOf(e), "enroll", v)
	}
	return h.showForm(c, v, "enroll", err)
}

// accountData is what the account page shows.
type accountData struct {
	Email       string
	TOTP, MFAOn bool
	BackupLeft  int
	Sessions    []sessionRow
	BackupCodes []string
}

type sessionRow struct {
	ID, Agent, LastUsed string
	Current             bool
}

// accountNotices are the notices of ?saved= after an account form.
var accountNotices = map[string]string{"name": "account.name_saved", "password": "account.password_changed", "revoked": "account.revoked",
	"mfa": "enroll.done", "mfa_off": "account.mfa_disabled"}

func (h *handlers) account(c *fiber.Ctx, v *view) error {
	p, ok := h.principal(c)
	if !ok {
		return h.needSignIn(c, Prefix+"/account/")
	}
	if key, ok := accountNotices[c.Query("saved")]; ok {
		v.Notice = v.T(key)
	}
	return h.showAccount(c, v, p, fiber.StatusOK, nil)
}

// showAccount renders the account page for p.
func (h *handlers) showAccount(c *fiber.Ctx, v *view, p session.Principal, status int, codes []string) error {
	rt := tenantOf(c)
	v.Title = "account.title"
	d := accountData{Email: p.User.Email, TOTP: v.Methods.TOTP, BackupCodes: codes}
	if _, set := v.values["first_name"]; !set {
		v.values["first_name"], v.values["last_name"] = p.User.FirstName, p.User.LastName
	}
	if d.TOTP {
		st, err := rt.MFA.Status(c.UserContext(), p.User)
		if err != nil {
			return err
		}
		d.MFAOn, d.BackupLeft = st.Enabled, st.BackupCodesLeft
	}
	list, err := rt.Sessions.Sessions(c.UserContext(), p)
	if err != nil {
		return err
	}
	for _, s := range list {
		agent := login.DeviceName(s.UserAgent)
		if agent == "" {
			agent = s.UserAgent
		}
		if agent == "" {
			agent = string(s.Kind)
		}
		d.Sessions = append(d.Sessions, sessionRow{ID: s.ID, Agent: agent, LastUsed: s.LastSeenAt.UTC().Format("2006-01-02 15:04 UTC"), Current: s.ID == p.Session.ID})
	}
	v.Data = d
	v.focused = true // the account page opens on nothing in particular
	if v.focus != "" {
		v.focused = false
	}
	return h.render(c, status, "account", v)
}

// accountForm checks an account form: the CSRF token and a signed-in
// user.
func (h *handlers) accountForm(c *fiber.Ctx, v *view) (session.Principal, bool, error) {
	p, ok := h.principal(c)
	if !ok {
		return p, false, h.needSignIn(c, Prefix+"/account/")
	}
	if err := h.checkForm(c); err != nil {
		v.formError(errs.As(err))
		return p, false, h.showAccount(c, v, p, fiber.StatusForbidden, nil)
	}
	return p, true, nil
}

// accountFailed shows err on the account page.
func (h *handlers) accountFailed(c *fiber.Ctx, v *view, p session.Principal, err error) error {
	e := web.FromError(err)
	if e.Kind == errs.Internal {
		return err
	}
	v.formError(e)
	web.SetRetryAfter(c, e)
	return h.showAccount(c, v, p, web.StatusOf(e), nil)
}

func (h *handlers) accountName(c *fiber.Ctx, v *view) error {
	p, ok, err := h.accountForm(c, v)
	if !ok {
		return err
	}
	first, last := form(c, "first_name"), form(c, "last_name")
	v.values["first_name"], v.values["last_name"] = first, last
	if _, err := tenantOf(c).Profile.ChangeName(c.UserContext(), p, first, last); err != nil {
		return h.accountFailed(c, v, p, err)
	}
	return seeOther(c, Prefix+"/account/?saved=name")
}

func (h *handlers) accountPassword(c *fiber.Ctx, v *view) error {
	p, ok, err := h.accountForm(c, v)
	if !ok {
		return err
	}
	in := map[string]string{"old_password": form(c, "old_password"), "new_password": form(c, "new_password")}
	if !required(v, in, "old_password", "new_password") {
		return h.showAccount(c, v, p, fiber.StatusBadRequest, nil)
	}
	if err := tenantOf(c).Profile.ChangePassword(c.UserContext(), p, in["old_password"], in["new_password"]); err != nil {
		return h.accountFailed(c, v, p, err)
	}
	return seeOther(c, Prefix+"/account/?saved=password")
}

func (h *handlers) accountRevoke(c *fiber.Ctx, v *view) error {
	p, ok, err := h.accountForm(c, v)
	if !ok {
		return err
	}
	if err := tenantOf(c).Sessions.RevokeSession(c.UserContext(), p, form(c, "session_id")); err != nil {
		return h.accountFailed(c, v, p, err)
	}
	return seeOther(c, Prefix+"/account/?saved=revoked")
}

func (h *handlers) accountTOTPDisable(c *fiber.Ctx, v *view) error {
	p, ok, err := h.accountForm(c, v)
	if !ok {
		return err
	}
	in := map[string]string{"proof": form(c, "proof")}
	if !required(v, in, "proof") {
		return h.showAccount(c, v, p, fiber.StatusBadRequest, nil)
	}
	if err := tenantOf(c).MFA.Disable(c.UserContext(), p.User, mfa.Proof{Code: in["proof"]}); err != nil {
		if e := errs.As(err); e != nil && e.Kind == errs.Unauthenticated {
			v.fieldError("proof", v.T("error.otp_invalid"))
			v.Error = v.T("error.otp_invalid")
			return h.showAccount(c, v, p, fiber.StatusUnauthorized, nil)
		}
		return h.accountFailed(c, v, p, err)
	}
	return seeOther(c, Prefix+"/account/?saved=mfa_off")
}

// accountBackupCodes replaces the backup codes and shows the new ones on
// the answer itself (they are shown once, so not after a redirect).
func (h *handlers) accountBackupCodes(c *fiber.Ctx, v *view) error {
	p, ok, err := h.accountForm(c, v)
	if !ok {
		return err
	}
	in := map[string]string{"backup_code": form(c, "backup_code")}
	if !required(v, in, "backup_code") {
		return h.showAccount(c, v, p, fiber.StatusBadRequest, nil)
	}
	codes, err := tenantOf(c).MFA.RegenerateBackupCodes(c.UserContext(), p.User, in["backup_code"])
	if err != nil {
		if e := errs.As(err); e != nil && e.Kind == errs.Unauthenticated {
			v.fieldError("backup_code", v.T("error.otp_invalid"))
			v.Error = v.T("error.otp_invalid")
			return h.showAccount(c, v, p, fiber.StatusUnauthorized, nil)
		}
		return h.accountFailed(c, v, p, err)
	}
	return h.showAccount(c, v, p, fiber.StatusOK, codes)
}
