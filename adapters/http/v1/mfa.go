package v1

import (
	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/adapters/http/web"
	"github.com/portcullis/portcullis/application/device"
	"github.com/portcullis/portcullis/application/login"
	"github.com/portcullis/portcullis/application/mfa"
	"github.com/portcullis/portcullis/domain/identity"
)

// registerMFA adds the second step of a sign-in and the routes of a
// signed-in user's second factor.
func (h handlers) registerMFA(g fiber.Router) {
	g.Post("/mfa/verify", h.mfaVerify)
	g.Get("/mfa", h.mfaStatus)
	g.Post("/mfa/totp/setup", h.totpSetup)
	g.Post("/mfa/totp/confirm", h.totpConfirm)
	g.Post("/mfa/totp/disable", h.totpDisable)
	g.Post("/mfa/backup-codes", h.backupCodes)
}

type mfaVerifyRequest struct {
	MFAToken string `json:"mfa_token"`
	Code     string `json:"code"`
}

// mfaVerify answers the challenge a first factor ended in (401
// mfa_required with mfa_token): with a right code, the answer of the
// login that began it, in the session kind it asked for.
func (h handlers) mfaVerify(c *fiber.Ctx) error {
	var req mfaVerifyRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	out, err := tenantOf(c).Login.CompleteSecondFactor(c.UserContext(), login.SecondStep{Token: req.MFAToken, Code: req.Code, Client: web.Client(c)})
	if err != nil {
		return err
	}
	if err := web.CheckCookieLogin(c, out.Credentials.Session.Kind); err != nil {
		return err
	}
	return c.JSON(h.loginBody(c, out, device.Credential{}))
}

func statusJSON(s mfa.Status) fiber.Map {
	return fiber.Map{"enabled": s.Enabled, "pending": s.Pending, "backup_codes_left": s.BackupCodesLeft, "required": s.Required,
		"methods": methodsOf(s)}
}

func methodsOf(s mfa.Status) []string {
	if !s.Enabled {
		return []string{}
	}
	if s.BackupCodesLeft > 0 {
		return []string{mfa.MethodTOTP, mfa.MethodBackupCode}
	}
	return []string{mfa.MethodTOTP}
}

// mfaStatus is the signed-in user's second factor.
func (h handlers) mfaStatus(c *fiber.Ctx) error {
	p, err := h.principal(c)
	if err != nil {
		return err
	}
	st, err := tenantOf(c).MFA.Status(c.UserContext(), p.User)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(statusJSON(st))
}

type enrolmentRequest struct {
	// EnrolmentToken is the token of a sign-in that must set up a second
	// factor (403 mfa_enrolment_required); without it the request's
	// session is the user.
	EnrolmentToken string `json:"enrolment_token"`
}

// totpSetup starts setting up an authenticator app: the secret, its
// otpauth URI and QR code, and the backup codes, shown this once. The
// factor is on only after totpConfirm. The user is the signed-in one, or
// the one of an enrolment_token.
func (h handlers) totpSetup(c *fiber.Ctx) error {
	var req enrolmentRequest
	if len(c.Body()) > 0 {
		if err := web.DecodeJSON(c, &req); err != nil {
			return err
		}
	}
	var u identity.User
	if req.EnrolmentToken != "" {
		var err error
		if u, err = tenantOf(c).Login.EnrolmentUser(c.UserContext(), req.EnrolmentToken); err != nil {
			return err
		}
	} else {
		p, err := h.principal(c)
		if err != nil {
			return err
		}
		u = p.User
	}
	e, err := tenantOf(c).MFA.Start(c.UserContext(), u)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"secret": e.Secret, "otpauth_uri": e.URI, "qr_code": e.QRDataURI(),
		"backup_codes": e.BackupCodes})
}

type codeRequest struct {
	Code string `json:"code"`
}

type confirmRequest struct {
	Code           string `json:"code"`
	EnrolmentToken string `json:"enrolment_token"`
}

// totpConfirm turns the factor on with a current code of the new secret.
// With an enrolment_token it also finishes the sign-in that had to set it
// up: the answer is then that login's.
func (h handlers) totpConfirm(c *fiber.Ctx) error {
	var req confirmRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	if req.EnrolmentToken != "" {
		out, err := tenantOf(c).Login.CompleteEnrolment(c.UserContext(), login.SecondStep{Token: req.EnrolmentToken, Code: req.Code, Client: web.Client(c)})
		if err != nil {
			return err
		}
		if err := web.CheckCookieLogin(c, out.Credentials.Session.Kind); err != nil {
			return err
		}
		return c.JSON(h.loginBody(c, out, device.Credential{}))
	}
	p, err := h.principal(c)
	if err != nil {
		return err
	}
	svc := tenantOf(c).MFA
	if err := svc.Confirm(c.UserContext(), p.User, req.Code); err != nil {
		return err
	}
	st, err := svc.Status(c.UserContext(), p.User)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(statusJSON(st))
}

type disableRequest struct {
	Code     string `json:"code"`
	Password string `json:"password"`
}

// totpDisable turns the factor off, with a current code, an unused
// backup code or the password.
func (h handlers) totpDisable(c *fiber.Ctx) error {
	p, err := h.principal(c)
	if err != nil {
		return err
	}
	var req disableRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	if err := tenantOf(c).MFA.Disable(c.UserContext(), p.User, mfa.Proof{Code: req.Code, Password: req.Password}); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// backupCodes replaces the backup codes, with a current code of the app.
func (h handlers) backupCodes(c *fiber.Ctx) error {
	p, err := h.principal(c)
	if err != nil {
		return err
	}
	var req codeRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	codes, err := tenantOf(c).MFA.RegenerateBackupCodes(c.UserContext(), p.User, req.Code)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"backup_codes": codes})
}
