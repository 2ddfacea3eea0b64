package web_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/adapters/http/web"
)

// bind runs MagicLinkBinding and SetMagicLinkCookie on a request carrying
// cookie (none when "") and returns the value and the cookie set.
func bind(t *testing.T, dev bool, cookie string) (string, *http.Cookie) {
	t.Helper()
	var got string
	app := fiber.New()
	app.Post("/", func(c *fiber.Ctx) error {
		var err error
		if got, err = web.MagicLinkBinding(c, dev); err != nil {
			return err
		}
		web.SetMagicLinkCookie(c, dev, got, 20*time.Minute)
		return nil
	})
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: web.MagicLinkCookie(dev), Value: cookie})
	}
	resp, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == web.MagicLinkCookie(dev) {
			return got, c
		}
	}
	t.Fatalf("no %s cookie set: %v", web.MagicLinkCookie(dev), resp.Header.Values("Set-Cookie"))
	return "", nil
}

func TestMagicLinkBinding(t *testing.T) {
	t.Parallel()
	v, c := bind(t, false, "")
	if len(v) != 43 || c.Value != v || c.Name != "__Host-portcullis_ml" || !c.HttpOnly || !c.Secure ||
		c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.MaxAge != 1200 {
		t.Fatalf("value %q, cookie %+v", v, c)
	}
	if again, _ := bind(t, false, v); again != v {
		t.Errorf("a browser with a minted value got another one: %q, want %q", again, v)
	}
	if other, _ := bind(t, false, "chosen-by-someone"); other == "chosen-by-someone" || len(other) != 43 {
		t.Errorf("a value not of ours was kept: %q", other)
	}
	if v2, _ := bind(t, false, ""); v2 == v {
		t.Error("two browsers got the same value")
	}
	if _, c := bind(t, true, ""); c.Name != "portcullis_ml" || c.Secure {
		t.Errorf("dev mode cookie %+v, want portcullis_ml without Secure", c)
	}
}
