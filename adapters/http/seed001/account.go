package seed001

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/adapters/http/web"
	"github.com/portcullis/portcullis/application/emaillogin"
	"github.com/portcullis/portcullis/application/profile"
	"github.com/portcullis/portcullis/application/recovery"
	"github.com/portcullis/portcullis/domain/identity"
	"github.com/portcullis/portcullis/domain/link"
)

// The account routes of the original besides login, register, logout and
// me: address verification, password reset, magic links, profile changes
// and the user's sessions. Each calls one use case; every link a flow
// started here mails points at the original's front-end pages under the
// tenant's base URL (link.Seed001). Every answer is Cache-Control:
// no-store: each either carries a credential or says something about a
// token or an account.

type emailRequest struct {
	Email string `json:"email"`
}

// emailSendRequest is the body of the routes that mail an address a link
// a CAPTCHA may guard (a reset link, a magic link).
type emailSendRequest struct {
	Email string `json:"email"`
	web.CaptchaFields
}

type tokenRequest struct {
	Token string `json:"token"`
}

func noStore(c *fiber.Ctx) { c.Set(fiber.HeaderCacheControl, "no-store") }

func noContent(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusNoContent) }

// verifyEmail uses a verification token: the address is verified.
func (h handlers) verifyEmail(c *fiber.Ctx) error {
	noStore(c)
	var req tokenRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	if _, err := web.Tenant(c.UserContext()).Verification.Verify(c.UserContext(), req.Token); err != nil {
		return err
	}
	return noContent(c)
}

// resendVerification mails the signed-in user a new verification link:
// EmailVerified when the address is verified,
// EmailVerificationLinkSentRecently within the cooldown.
func (h handlers) resendVerification(c *fiber.Ctx) error {
	noStore(c)
	p, err := h.principal(c)
	if err != nil {
		return err
	}
	if err := web.Tenant(c.UserContext()).Verification.Send(c.UserContext(), p.User, link.Seed001); err != nil {
		return err
	}
	return noContent(c)
}

// forgotPassword mails a reset link when the address has an account; the
// answer is 204 whatever the address.
func (h handlers) forgotPassword(c *fiber.Ctx) error {
	noStore(c)
	var req emailSendRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	if err := web.Tenant(c.UserContext()).Recovery.Forgot(c.UserContext(), recovery.ForgotInput{
		Email: req.Email, Client: web.Client(c), Paths: link.Seed001, Captcha: req.Response(),
	}); err != nil {
		return err
	}
	return noContent(c)
}

// validateReset confirms a reset token without using it.
func (h handlers) validateReset(c *fiber.Ctx) error {
	noStore(c)
	var req tokenRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	if err := web.Tenant(c.UserContext()).Recovery.Validate(c.UserContext(), req.Token); err != nil {
		return err
	}
	return noContent(c)
}

type resetRequest struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

// resetPassword sets a new password with a reset token; every session of
// the user ends.
func (h handlers) resetPassword(c *fiber.Ctx) error {
	noStore(c)
	var req resetRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	if _, err := web.Tenant(c.UserContext()).Recovery.Reset(c.UserContext(), recovery.ResetInput{
		Token: req.Token, Password: req.Password, Client: web.Client(c),
	}); err != nil {
		return err
	}
	return noContent(c)
}

// requestMagicLink mails a sign-in link when the address has an account;
// the answer is 204 whatever the address. When the tenant binds links to
// the browser that asked (email.same_device), the browser gets the
// binding cookie here, as on the canonical API.
func (h handlers) requestMagicLink(c *fiber.Ctx) error {
	noStore(c)
	var req emailSendRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	in := emaillogin.LinkInput{Email: req.Email, Client: web.Client(c), Paths: link.Seed001, Captcha: req.Response()}
	if err := web.SendMagicLink(c, h.opts.Dev, web.Tenant(c.UserContext()).EmailLogin, in); err != nil {
		return err
	}
	return noContent(c)
}

type consumeRequest struct {
	Token string `json:"token"`
	// Code is the original's TOTP or backup code for an account with TOTP
	// on (ignored for an account without).
	Code string `json:"code"`
	web.CaptchaFields
}

// consumeMagicLink uses a magic link up and signs in: the answer of this
// profile's login, in the mode the request asks for, with its TOTP errors.
// As in the original, a link refused for its TOTP code (none, or a wrong
// one) stays usable: its page sends the token again with the code.
func (h handlers) consumeMagicLink(c *fiber.Ctx) error {
	noStore(c)
	var req consumeRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	k := kind(c)
	if err := web.CheckCookieLogin(c, k); err != nil {
		return err
	}
	out, err := web.Tenant(c.UserContext()).EmailLogin.ConsumeLink(c.UserContext(), emaillogin.ConsumeInput{
		Token: req.Token, Kind: k, Client: web.Client(c), Device: web.MagicLinkDevice(c, h.opts.Dev), WithLatest: true,
		SecondFactor: req.Code, Resubmit: true, Captcha: req.Response(),
	})
	if err != nil {
		return err
	}
	return h.answer(c, out.User, &out.Outcome)
}

type changePasswordRequest struct {
	OldPassword string `json:"old_password"`
	NewPassword string `json:"new_password"`
}

// changePassword sets a new password; every other session of the user
// ends, the current one stays.
func (h handlers) changePassword(c *fiber.Ctx) error {
	noStore(c)
	p, err := h.principal(c)
	if err != nil {
		return err
	}
	var req changePasswordRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	if err := web.Tenant(c.UserContext()).Profile.ChangePassword(c.UserContext(), p, req.OldPassword, req.NewPassword); err != nil {
		return err
	}
	return noContent(c)
}

type changeNameRequest struct {
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
}

// changeName sets both names (the original takes both) and answers the
// user.
func (h handlers) changeName(c *fiber.Ctx) error {
	noStore(c)
	p, err := h.principal(c)
	if err != nil {
		return err
	}
	var req changeNameRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	u, err := web.Tenant(c.UserContext()).Profile.ChangeName(c.UserContext(), p, req.FirstName, req.LastName)
	if err != nil {
		return err
	}
	return c.JSON(userJSON(u))
}

type changeEmailRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// changeEmail moves the account to a new, unverified address (mailed a
// verification link) and answers the user.
func (h handlers) changeEmail(c *fiber.Ctx) error {
	noStore(c)
	p, err := h.principal(c)
	if err != nil {
		return err
	}
	var req changeEmailRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	u, err := web.Tenant(c.UserContext()).Profile.ChangeEmail(c.UserContext(), p, profile.ChangeEmailInput{
		Email: req.Email, Password: req.Password, Paths: link.Seed001,
	})
	if err != nil {
		return err
	}
	return c.JSON(userJSON(u))
}

// activeSessions lists the user's live sessions as the original does:
// browser sessions under "sessions", tokens under "tokens". The
// original's tokens are its app tokens; the canonical API's bearer
// sessions (access and refresh tokens) are listed with them, so that
// every way in the account has is shown and can be closed.
func (h handlers) activeSessions(c *fiber.Ctx) error {
	noStore(c)
	p, err := h.principal(c)
	if err != nil {
		return err
	}
	list, err := web.Tenant(c.UserContext()).Sessions.Sessions(c.UserContext(), p)
	if err != nil {
		return err
	}
	now := time.Now()
	out := struct {
		Sessions []sessionBody `json:"sessions"`
		Tokens   []tokenBody   `json:"tokens"`
	}{Sessions: []sessionBody{}, Tokens: []tokenBody{}}
	for _, s := range list {
		if s.Kind == identity.SessionWeb {
			out.Sessions = append(out.Sessions, sessionJSON(s, now))
		} else {
			out.Tokens = append(out.Tokens, tokenJSON(s, now))
		}
	}
	return c.JSON(out)
}

type closeRequest struct {
	ID string `json:"id"`
}

// closeSession ends one of the user's sessions or tokens by its id.
func (h handlers) closeSession(c *fiber.Ctx) error {
	noStore(c)
	p, err := h.principal(c)
	if err != nil {
		return err
	}
	var req closeRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	if err := web.Tenant(c.UserContext()).Sessions.RevokeSession(c.UserContext(), p, req.ID); err != nil {
		return err
	}
	return noContent(c)
}

// closeOtherSessions ends every session and token of the user but the one
// of the request. (The original ends only those of the request's own
// kind; ending all is what a user asking for it means.)
func (h handlers) closeOtherSessions(c *fiber.Ctx) error {
	noStore(c)
	p, err := h.principal(c)
	if err != nil {
		return err
	}
	if _, err := web.Tenant(c.UserContext()).Sessions.RevokeOtherSessions(c.UserContext(), p); err != nil {
		return err
	}
	return noContent(c)
}
