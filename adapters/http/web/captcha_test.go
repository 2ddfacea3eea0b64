package web_test

import (
	"encoding/json"
	"testing"

	"github.com/portcullis/portcullis/adapters/http/web"
)

// A CAPTCHA response is read under the API's name or any widget's, the
// API's first; none is "".
func TestTheCaptchaResponseIsReadUnderEveryName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		fields map[string]string
		want   string
	}{
		{"none", map[string]string{"email": "a@example.com"}, ""},
		{"captcha", map[string]string{"captcha": "t1"}, "t1"},
		{"reCAPTCHA's widget", map[string]string{"g-recaptcha-response": "t2"}, "t2"},
		{"hCaptcha's widget", map[string]string{"h-captcha-response": "t3"}, "t3"},
		{"Turnstile's widget", map[string]string{"cf-turnstile-response": "t4"}, "t4"},
		{"captcha first", map[string]string{"cf-turnstile-response": "t4", "captcha": "t1"}, "t1"},
		{"an empty one is none", map[string]string{"captcha": "", "g-recaptcha-response": "t2"}, "t2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := web.CaptchaResponse(tc.fields); got != tc.want {
				t.Fatalf("fields %v: %q, want %q", tc.fields, got, tc.want)
			}
			body, _ := json.Marshal(tc.fields)
			var dto struct {
				Email string `json:"email"`
				web.CaptchaFields
			}
			if err := json.Unmarshal(body, &dto); err != nil {
				t.Fatal(err)
			}
			if got := dto.Response(); got != tc.want {
				t.Fatalf("JSON %s: %q, want %q", body, got, tc.want)
			}
		})
	}
}
