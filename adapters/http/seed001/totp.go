package seed001

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/adapters/http/web"
	"github.com/portcullis/portcullis/application/mfa"
	"github.com/portcullis/portcullis/domain/errs"
)

// The original's TOTP routes, signed in as the account routes are: set up
// an authenticator app (init, then enable with a code of the new secret),
// turn it off, replace the backup codes. Each calls one use case of the
// tenant's second factor; every answer is Cache-Control: no-store (a
// secret, backup codes, or something about the account's factor).

// totpCodes render the factor's refusals at totp/disable/ and
// totp/new-backup-codes/ as the original's InvalidTOTPToken: a wrong,
// missing or used code, and a backup code while backup codes are locked,
// are all "the provided TOTP token or backup code is invalid" there.
var totpCodes = map[string]web.Rendering{
	"mfa_code_invalid":   as("invalid_totp_token"),
	"mfa_code_required":  as("invalid_totp_token"),
	"mfa_proof_required": as("invalid_totp_token"),
	"mfa_backup_locked":  as("invalid_totp_token"),
}

// totpEnableCodes are totpCodes at totp/enable/, which takes a TOTP code
// only and words its refusal so.
var totpEnableCodes = map[string]web.Rendering{
	"mfa_code_invalid":  as("invalid_totp_setup_token"),
	"mfa_code_required": as("invalid_totp_setup_token"),
}

type totpCodeRequest struct {
	Code string `json:"code"`
}

// totpInit starts setting up an authenticator app: 201 with the secret
// (key), the backup codes and the otpauth URI (provision), shown this
// once; the factor is on only after totp/enable/.
func (h handlers) totpInit(c *fiber.Ctx) error {
	noStore(c)
	p, err := h.principal(c)
	if err != nil {
		return err
	}
	e, err := web.Tenant(c.UserContext()).MFA.Start(c.UserContext(), p.User)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(totpInitBody{Key: e.Secret, BackupCodes: e.BackupCodes, Provision: e.URI})
}

// totpInitBody is the original's init answer, fields in its order.
type totpInitBody struct {
	Key         string   `json:"key"`
	BackupCodes []string `json:"backup_codes"`
	Provision   string   `json:"provision"`
}

// emptyOK is the original's bare 200: no body (SendStatus would write
// "OK").
func emptyOK(c *fiber.Ctx) error {
	c.Status(fiber.StatusOK)
	return nil
}

// totpEnable turns the started factor on with a current code of its
// secret. As in the original, a code longer than a TOTP code (a backup
// code) is refused before anything is checked.
func (h handlers) totpEnable(c *fiber.Ctx) error {
	noStore(c)
	p, err := h.principal(c)
	if err != nil {
		return err
	}
	var req totpCodeRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	rt := web.Tenant(c.UserContext())
	if digits := rt.Tenant.MFA.TOTP.Digits; utf8.RuneCountInString(strings.TrimSpace(req.Code)) > digits {
		return errs.E(errs.Invalid, "invalid_totp_token_too_long",
			"Please use a "+strconv.Itoa(digits)+"-digit TOTP token to enable TOTP. Backup codes cannot be used.")
	}
	if err := rt.MFA.Confirm(c.UserContext(), p.User, req.Code); err != nil {
		return err
	}
	return emptyOK(c)
}

// totpDisable turns the factor off with a current code or an unused
// backup code (which is used up).
func (h handlers) totpDisable(c *fiber.Ctx) error {
	noStore(c)
	p, err := h.principal(c)
	if err != nil {
		return err
	}
	var req totpCodeRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	if err := web.Tenant(c.UserContext()).MFA.Disable(c.UserContext(), p.User, mfa.Proof{Code: req.Code}); err != nil {
		return err
	}
	return emptyOK(c)
}

// totpNewBackupCodes replaces the backup codes, after a current code of
// the app: 200 {backup_codes}.
func (h handlers) totpNewBackupCodes(c *fiber.Ctx) error {
	noStore(c)
	p, err := h.principal(c)
	if err != nil {
		return err
	}
	var req totpCodeRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	codes, err := web.Tenant(c.UserContext()).MFA.RegenerateBackupCodes(c.UserContext(), p.User, req.Code)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"backup_codes": codes})
}
