package seed001

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/adapters/http/web"
	"github.com/portcullis/portcullis/domain/errs"
)

// seedError is how the profile shows one core code: the original's
// CamelCase code and title; its detail when the original has a fixed one
// (else the core message, or the field reasons); its status when it
// differs from the one the error's kind maps to (the original answers 400
// unless its notes say otherwise).
type seedError struct {
	code, title, detail string
	status              int
}

// codes maps core codes to this profile's. The titles and details of the
// original's own codes are its own (django-axor-auth's users/views.py).
var codes = map[string]seedError{
	// Wrong credentials are the original's LoginSerializerErrors, 400.
	"invalid_credentials":    {code: "LoginSerializerErrors", title: "Invalid credentials", status: http.StatusBadRequest},
	"unauthenticated":        {code: "NotAuthenticated", title: "Authentication required"},
	"throttled":              {code: "Throttled", title: "Too many attempts"},
	"invalid_request":        {code: "ValidationError", title: "Invalid request"},
	"weak_password":          {code: "WeakPassword", title: "Password too weak"},
	"csrf_failed":            {code: "CSRFFailed", title: "CSRF check failed"},
	"busy":                   {code: "ServiceBusy", title: "Service busy"},
	"method_disabled":        {code: "MethodDisabled", title: "Sign-in method disabled"},
	"method_not_allowed":     {code: "MethodNotAllowed", title: "Method not allowed"},
	"unsupported_media_type": {code: "UnsupportedMediaType", title: "Unsupported media type"},

	// A mailed token the flow refused, and a dead credential: both are the
	// original's InvalidToken; the status stays the kind's (400 for a
	// mailed token, 401 for a credential). A used or expired magic link
	// (the one-time-code engine's otp_expired, 401 on the canonical API)
	// is a mailed token too.
	"invalid_token":  {code: "InvalidToken", title: "Invalid token", detail: "Token is invalid or expired."},
	"otp_expired":    {code: "InvalidToken", title: "Invalid token", detail: "Token is invalid or expired.", status: http.StatusBadRequest},
	"token_required": {code: "TokenRequired", title: "Insufficient data", detail: "Token is required."},
	"email_taken":    {code: "EmailInUse", title: "Email in use", detail: "Email is already in use.", status: http.StatusBadRequest},
	"email_verified": {code: "EmailVerified", title: "Email verified", detail: "Email is already verified."},
	// 400 as in the original, with Retry-After (the error handler sets it
	// from the error).
	"email_verification_link_sent_recently": {code: "EmailVerificationLinkSentRecently",
		title: "Email verification link sent recently", status: http.StatusBadRequest},
	"password_required":    {code: "OldNewPasswordRequired", title: "Insufficient data", detail: "Old password and new password are required."},
	"invalid_new_password": {code: "InvalidNewPassword", title: "Invalid new password"},
	"invalid_old_password": {code: "InvalidOldPassword", title: "Invalid old password", detail: "Old password is incorrect."},
	// The original's register view answers every input it refuses with
	// this code; the register route renders those errors as it (routes).
	"invalid_registration_info": {code: "InvalidRegistrationInfo", title: "Invalid information provided.", status: http.StatusBadRequest},
	// A tenant that has closed sign-up (403 on the canonical API).
	"registration_disabled": {code: "RegistrationDisabled", title: "Registration disabled",
		detail: "Registration is disabled.", status: http.StatusBadRequest},
	// A CAPTCHA the tenant asks for (captcha.policy): none sent, or one the
	// provider refused or that was used before; 400 like the original's
	// other refusals of input. A provider that cannot be reached is 503
	// CaptchaUnavailable (its kind's status), with Retry-After.
	"captcha_required":    {code: "CaptchaRequired", title: "CAPTCHA required", status: http.StatusBadRequest},
	"captcha_invalid":     {code: "InvalidCaptcha", title: "Invalid CAPTCHA", status: http.StatusBadRequest},
	"captcha_unavailable": {code: "CaptchaUnavailable", title: "CAPTCHA unavailable"},

	// A session of the user that is not there (active_sessions/close/):
	// the notes' NoActiveSessionOrToken, 400.
	"session_not_found": {code: "NoActiveSessionOrToken", title: "Invalid request",
		detail: "No active session or token found.", status: http.StatusBadRequest},

	// The second factor at a sign-in (login/, magic_link/consume/): the
	// document's TOTPRequired and TOTPIncorrect, 401, word for word. The
	// challenge a sign-in without a code ends in is not shown (the
	// original has no second step to present it to; the client sends the
	// first factor again with code). Backup codes locked after too many
	// wrong ones are refused like a wrong code, as the original does.
	"mfa_required":      totpRequired,
	"mfa_code_required": totpRequired,
	"mfa_code_invalid":  totpIncorrect,
	"mfa_backup_locked": totpIncorrect,

	// The totp/ routes: the original's codes, titles and details
	// (users_totp/views.py), all 400. A wrong code there is InvalidTOTPToken
	// (the routes render the factor's errors as invalid_totp_token or, at
	// totp/enable/, invalid_totp_setup_token).
	"mfa_already_enabled": {code: "TOTPAlreadyEnabledOnInit", title: "TOTP is already enabled",
		detail: "You are attempting to setup TOTP but it is already enabled.", status: http.StatusBadRequest},
	"mfa_not_enrolled": totpNotSetup,
	"mfa_not_started":  totpNotSetup,
	// totp/enable/ with more characters than a TOTP code (a backup code);
	// the detail is the error's, which names the tenant's digits.
	"invalid_totp_token_too_long": {code: "InvalidTOTPTokenTooLong", title: "Invalid TOTP Token", status: http.StatusBadRequest},
	"invalid_totp_token": {code: "InvalidTOTPToken", title: "Invalid TOTP Token",
		detail: "The provided TOTP token or backup code is invalid. Please try again.", status: http.StatusBadRequest},
	"invalid_totp_setup_token": {code: "InvalidTOTPToken", title: "Invalid TOTP Token",
		detail: "The provided TOTP token is invalid. Please try again.", status: http.StatusBadRequest},
}

// The second-factor answers several core codes share.
var (
	totpRequired = seedError{code: "TOTPRequired", title: "2FA code is required", detail: "TOTP token is required.",
		status: http.StatusUnauthorized}
	totpIncorrect = seedError{code: "TOTPIncorrect", title: "2FA code is incorrect",
		detail: "Provided TOTP code or backup code is incorrect. Please try again.", status: http.StatusUnauthorized}
	totpNotSetup = seedError{code: "TOTPNotSetup", title: "TOTP not set",
		detail: "You will need to start the TOTP setup process first.", status: http.StatusBadRequest}
)

// errorBody is the profile's error shape, fields in the document's order;
// errors (field-level details) is added only for invalid input.
type errorBody struct {
	Detail string            `json:"detail"`
	Status string            `json:"status"`
	Title  string            `json:"title"`
	Code   string            `json:"code"`
	Errors []errs.FieldError `json:"errors,omitempty"`
}

// errorTable renders every error in the profile's body shape, with the
// code, title, detail and status of codes; a code not listed there gets
// its CamelCase form and the status text.
var errorTable = &web.ErrorTable{Otherwise: render}

// withCodes is errorTable with some codes rendered otherwise, for the
// routes whose contract answers them differently.
func withCodes(codes map[string]web.Rendering) *web.ErrorTable {
	return &web.ErrorTable{Codes: codes, Otherwise: render}
}

// as renders an error as the profile renders the core code code: a route
// that shows one code as another (a weak password at a reset is the
// original's InvalidNewPassword).
func as(code string) web.Rendering {
	return func(e *errs.Error) (int, any) {
		c := *e
		c.Code = code
		return render(&c)
	}
}

// asField is as(code) for an error that names no field: it gets one, on
// field, whose reason is the error's message (a taken address at
// register/ is a field error on email, as the original's serializer
// reports the fields it refuses).
func asField(code, field string) web.Rendering {
	return func(e *errs.Error) (int, any) {
		c := *e
		c.Code = code
		if len(c.Fields) == 0 {
			c.Fields = []errs.FieldError{{Field: field, Reason: e.Message}}
		}
		return render(&c)
	}
}

// emptyAnswer answers an error with 204 and no body: what the original
// answers, whatever happened, on the routes that mail something.
func emptyAnswer(*errs.Error) (int, any) { return http.StatusNoContent, nil }

func render(e *errs.Error) (int, any) {
	status := web.StatusOf(e)
	code, title := camel(e.Code), http.StatusText(status)
	m, ok := codes[e.Code]
	if ok {
		code, title = m.code, m.title
		if m.status != 0 {
			status = m.status
		}
	}
	detail := e.Message
	if len(e.Fields) > 0 {
		parts := make([]string, len(e.Fields))
		for i, f := range e.Fields {
			parts[i] = f.Field + ": " + f.Reason
		}
		detail = strings.Join(parts, "; ")
	}
	if ok && m.detail != "" {
		detail = m.detail
	}
	return status, errorBody{Detail: detail, Status: strconv.Itoa(status), Title: title, Code: code, Errors: e.Fields}
}

func camel(code string) string {
	var b strings.Builder
	for _, part := range strings.Split(code, "_") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}
