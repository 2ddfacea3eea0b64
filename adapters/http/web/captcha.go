package web

// The names a CAPTCHA response comes in: the API's own, and those the
// providers' widgets post their forms with (reCAPTCHA v2 and v3, hCaptcha,
// Turnstile).
const (
	FieldCaptcha         = "captcha"
	FieldRecaptchaWidget = "g-recaptcha-response"
	FieldHCaptchaWidget  = "h-captcha-response"
	FieldTurnstileWidget = "cf-turnstile-response"
)

// captchaFields lists the names in the order they are read: the first one
// that is not empty is the response.
var captchaFields = []string{FieldCaptcha, FieldRecaptchaWidget, FieldHCaptchaWidget, FieldTurnstileWidget}

// CaptchaFields are a JSON body's CAPTCHA response under each of its
// names; a request DTO embeds it, and the handler passes Response() to the
// use case, which decides whether the route asks for one.
type CaptchaFields struct {
	Captcha   string `json:"captcha"`
	Recaptcha string `json:"g-recaptcha-response"`
	HCaptcha  string `json:"h-captcha-response"`
	Turnstile string `json:"cf-turnstile-response"`
}

// Response is the first of the fields that is not empty, "" for none.
func (f CaptchaFields) Response() string {
	for _, v := range []string{f.Captcha, f.Recaptcha, f.HCaptcha, f.Turnstile} {
		if v != "" {
			return v
		}
	}
	return ""
}

// CaptchaResponse is the CAPTCHA response among a body's fields (as
// DecodeFields reads a JSON object or a form), under any of its names;
// "" for none.
func CaptchaResponse(fields map[string]string) string {
	for _, k := range captchaFields {
		if v := fields[k]; v != "" {
			return v
		}
	}
	return ""
}
