package seed003

import (
	"maps"
	"net/http"
	"strings"

	"github.com/portcullis/portcullis/adapters/http/web"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/storefront"
)

// The titles of the refusals: the seed's notes' word for word, and ours
// where they have none.
const (
	TitleInvalidCredentials = "Invalid Credentials"
	TitleInvalidEmail       = "Enter a valid email address"
	TitleInvalidCaptcha     = "Invalid Captcha"
	TitleInvalidPhone       = "Invalid Phone"

	// Ours.
	TitleCaptchaUnavailable = "Captcha verification is unavailable, try again later"
	TitleTFARequired        = "Two-factor authentication required"
	TitleTFAEnrolment       = "Two-factor authentication must be set up before signing in"
	TitleInvalidToken       = "Invalid or expired token"
	TitleTokenRequired      = "access_token is required"
	TitleCodeRequired       = "code is required"
	TitleInvalidCode        = "Invalid Code"
	TitleTooManyAttempts    = "Too many incorrect attempts"
	TitleInvalidOTP         = "Invalid OTP"
	TitleOTPExpired         = "OTP expired"
	TitleOTPWait            = "Please wait before requesting another OTP"
	TitleOTPDailyLimit      = "Maximum OTP requests reached for today"
	TitleTooManyRequests    = "Too Many Requests"
	TitleEmailTaken         = "Email already registered"
	TitlePhoneTaken         = "Mobile number already registered"
	TitleInvalidPlatform    = "Invalid platform"
	MessageNotRegistered    = "Mobile number is not registered"
)

// errorBody is the seed's error shape.
type errorBody struct {
	Title string `json:"title"`
}

func fixed(status int, title string) web.Rendering {
	return func(*errs.Error) (int, any) { return status, errorBody{title} }
}

// codes are the renderings every route shares.
var codes = map[string]web.Rendering{
	// Wrong credentials, an unknown address, and a blocked (disabled)
	// account with its right password: one answer, as the pipeline
	// decides (the seed's "401 for a blocked account" is this one, so
	// that it tells nobody which accounts exist or are blocked).
	"invalid_credentials": fixed(http.StatusUnauthorized, TitleInvalidCredentials),
	// A CAPTCHA none sent, refused, of another action or site, or used
	// before (the seed's "a failed check is 400").
	"captcha_required":    fixed(http.StatusBadRequest, TitleInvalidCaptcha),
	"captcha_invalid":     fixed(http.StatusBadRequest, TitleInvalidCaptcha),
	"captcha_unavailable": fixed(http.StatusServiceUnavailable, TitleCaptchaUnavailable),
	// A password login of a user with a second factor, on a route without
	// the second step (login-tfa answers it otherwise: tfaErrors).
	"mfa_required":           fixed(http.StatusUnauthorized, TitleTFARequired),
	"mfa_enrolment_required": fixed(http.StatusForbidden, TitleTFAEnrolment),
	// verify-tfa: the "2f." token and the code.
	"mfa_token_required":    fixed(http.StatusBadRequest, TitleTokenRequired),
	"mfa_token_invalid":     fixed(http.StatusUnauthorized, TitleInvalidToken),
	"mfa_code_required":     fixed(http.StatusBadRequest, TitleCodeRequired),
	"mfa_code_invalid":      fixed(http.StatusUnauthorized, TitleInvalidCode),
	"mfa_attempts_exceeded": fixed(http.StatusUnauthorized, TitleTooManyAttempts),
	"mfa_backup_locked":     fixed(http.StatusTooManyRequests, TitleTooManyAttempts),
	// The SMS code: wrong, expired (or never sent, or used), and every
	// code, the right one too, once it had its wrong attempts.
	"otp_invalid":           fixed(http.StatusUnauthorized, TitleInvalidOTP),
	"otp_expired":           fixed(http.StatusUnauthorized, TitleOTPExpired),
	"otp_attempts_exceeded": fixed(http.StatusUnauthorized, TitleTooManyAttempts),
	// 429s, each with Retry-After (the error handler sets it).
	"otp_cooldown":  fixed(http.StatusTooManyRequests, TitleOTPWait),
	"otp_daily_cap": fixed(http.StatusTooManyRequests, TitleOTPDailyLimit),
	"throttled":     fixed(http.StatusTooManyRequests, TitleTooManyRequests),
	// register: an address or a number another account has (the seed's
	// registration answers a sign-in, so it cannot answer alike).
	"email_taken": fixed(http.StatusBadRequest, TitleEmailTaken),
	"phone_taken": fixed(http.StatusBadRequest, TitlePhoneTaken),
}

// withCodes is the shared table with some codes rendered otherwise.
func withCodes(extra map[string]web.Rendering) *web.ErrorTable {
	all := maps.Clone(codes)
	maps.Copy(all, extra)
	return &web.ErrorTable{Codes: all, Otherwise: otherwise}
}

var (
	// errorTable renders every error as {"title": "..."}: the codes
	// above, a field error as 400 naming the fields (the seed's own
	// texts for an e-mail address and a phone number), anything else
	// with its kind's status and its message.
	errorTable = withCodes(nil)
	// loginErrors are the password logins': a user with a second factor
	// is refused (the seed documents the second step on login-tfa only).
	loginErrors = errorTable
	// tfaErrors are login-tfa's: a user with a second factor is answered
	// 200 with the login answer's fields, access_token "2f." and the
	// challenge's token, the rest empty (nothing is merged, no name is
	// shown and no sign-in counted before the second step).
	tfaErrors = withCodes(map[string]web.Rendering{"mfa_required": tfaAnswer})
	// mobileErrors are login-mobile's: a number without an account is
	// answered 200, is_registered false, and sent nothing.
	mobileErrors = withCodes(map[string]web.Rendering{"unknown_phone": notRegistered})
)

// tfaAnswer renders the challenge of login-tfa's first step.
func tfaAnswer(e *errs.Error) (int, any) {
	token, _ := e.Extensions["mfa_token"].(string)
	if token == "" {
		return http.StatusUnauthorized, errorBody{TitleTFARequired}
	}
	return http.StatusOK, loginAnswer{AccessToken: TFAPrefix + token, Status: StatusSignedIn,
		Cart: web.CartJSON(storefront.Cart{}), Wishlist: []string{}}
}

func notRegistered(*errs.Error) (int, any) {
	return http.StatusOK, mobileAnswer{Message: MessageNotRegistered, OTPSent: false, IsRegistered: false}
}

// fieldNames are the core's names of fields as the seed names them.
var fieldNames = map[string]string{"first_name": "firstname", "last_name": "lastname"}

// otherwise renders what the codes do not: field errors as 400, one text
// per field ("Enter a valid email address" for the address, "Invalid
// Phone" for a number), joined by "; "; anything else with its kind's
// status and its message.
func otherwise(e *errs.Error) (int, any) {
	if len(e.Fields) == 0 {
		return web.StatusOf(e), errorBody{e.Message}
	}
	var parts []string
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			parts = append(parts, s)
		}
	}
	for _, f := range e.Fields {
		switch f.Field {
		case "email":
			add(TitleInvalidEmail)
		case "phone", "mobile", "telephone":
			add(TitleInvalidPhone)
		case "platform":
			add(TitleInvalidPlatform)
		default:
			name := f.Field
			if n, ok := fieldNames[name]; ok {
				name = n
			}
			add(name + ": " + f.Reason)
		}
	}
	return http.StatusBadRequest, errorBody{strings.Join(parts, "; ")}
}
