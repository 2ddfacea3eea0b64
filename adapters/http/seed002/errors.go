package seed002

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/adapters/http/web"
	"github.com/portcullis/portcullis/domain/errs"
)

// The seed's error texts, word for word, and ours where it has none.
const (
	ErrorInvalidCredentials = "Invalid credentials"
	ErrorActivationPending  = "If an account exists and requires activation, an OTP has been sent."
	ErrorWait               = "Please wait before requesting another OTP"
	ErrorUserNotFound       = "User Not Found"
	ErrorOTPNotCorrect      = "User OTP Is Not Correct"
	ErrorMissingToken       = "Missing token on header!"
	ErrorTokenNotActive     = "token is not active!"
	ErrorAccessDenied       = "Access denied!"
	// Ours: the second factor of an admin who has one.
	ErrorSecondFactorRequired  = "Second factor code required"
	ErrorSecondFactorIncorrect = "Second factor code is not correct"
	ErrorEnrolmentRequired     = "Two-step verification must be set up before signing in"
	// The storefront API's answer to a failed CAPTCHA check (seed notes:
	// "a failed check is 400"), for one missing and one refused alike.
	ErrorInvalidCaptcha = "Invalid Captcha"
)

// errorBody is the seed's error shape.
type errorBody struct {
	Error string `json:"error"`
}

func fixed(status int, text string) web.Rendering {
	return func(*errs.Error) (int, any) { return status, errorBody{text} }
}

// errorTable renders every error as {"error": "..."}: the seed's texts
// and statuses for the core codes below; a field error as 400 naming the
// fields and their reasons; anything else with its kind's status and its
// message.
var errorTable = &web.ErrorTable{
	Codes: map[string]web.Rendering{
		// Wrong credentials, an unknown address, a disabled account and
		// anyone but an admin: one answer.
		"invalid_credentials": fixed(fiber.StatusUnauthorized, ErrorInvalidCredentials),
		"activation_pending":  fixed(fiber.StatusForbidden, ErrorActivationPending),
		// A code asked for within a minute of the last, at the login or
		// at resend; the daily cap of codes is answered alike (the
		// error handler sets Retry-After for both).
		"otp_cooldown":  fixed(fiber.StatusTooManyRequests, ErrorWait),
		"otp_daily_cap": fixed(fiber.StatusTooManyRequests, ErrorWait),
		// otp/user/: an address without an account (or a disabled
		// account's, with the right code); a wrong code, one expired or
		// used, and every code after the attempt limit killed it.
		"user_not_found":        fixed(fiber.StatusNotFound, ErrorUserNotFound),
		"otp_invalid":           fixed(fiber.StatusNotFound, ErrorOTPNotCorrect),
		"otp_expired":           fixed(fiber.StatusNotFound, ErrorOTPNotCorrect),
		"otp_attempts_exceeded": fixed(fiber.StatusNotFound, ErrorOTPNotCorrect),
		// The token: none (or no "Token" header), one that is unknown,
		// expired, revoked or of a disabled account, and one of anyone
		// but an active admin.
		"unauthenticated": fixed(fiber.StatusUnauthorized, ErrorMissingToken),
		"invalid_token":   fixed(fiber.StatusUnauthorized, ErrorTokenNotActive),
		"access_denied":   fixed(fiber.StatusForbidden, ErrorAccessDenied),
		// An admin with a second factor sends its code with the password
		// (the field code): the seed has no second step.
		"mfa_required":           fixed(fiber.StatusUnauthorized, ErrorSecondFactorRequired),
		"mfa_code_required":      fixed(fiber.StatusUnauthorized, ErrorSecondFactorRequired),
		"mfa_code_invalid":       fixed(fiber.StatusUnauthorized, ErrorSecondFactorIncorrect),
		"mfa_enrolment_required": fixed(fiber.StatusForbidden, ErrorEnrolmentRequired),
		// A CAPTCHA the tenant asks for at the login: none, or one
		// refused or used before. A provider away is 503 with its message.
		"captcha_required": fixed(fiber.StatusBadRequest, ErrorInvalidCaptcha),
		"captcha_invalid":  fixed(fiber.StatusBadRequest, ErrorInvalidCaptcha),
	},
	Otherwise: func(e *errs.Error) (int, any) {
		if len(e.Fields) > 0 {
			parts := make([]string, len(e.Fields))
			for i, f := range e.Fields {
				parts[i] = f.Field + ": " + f.Reason
			}
			return fiber.StatusBadRequest, errorBody{strings.Join(parts, "; ")}
		}
		return web.StatusOf(e), errorBody{e.Message}
	},
}
