package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/sync/errgroup"
)

// Paths of the canonical API.
const (
	pathRegister = "/auth/v1/register"
	pathLogin    = "/auth/v1/login"
	pathMe       = "/auth/v1/me"
)

// sessionCookie is the session cookie's name in dev mode (mode A). A server
// outside dev mode names it __Host-portcullis_session and sets it Secure,
// which plain HTTP cannot carry: the cookie phase needs dev mode.
const sessionCookie = "portcullis_session"

// user is one registered account and its three credentials.
type user struct {
	Email    string
	Password string
	// LoginBody is the JSON body of a bearer login, ready to send.
	LoginBody []byte

	Bearer   string // "Bearer <access JWT>"
	AppToken string // "Token <app token>"
	Cookie   string // "portcullis_session=<value>"
}

// client sends single requests to the tenant, for setup and checks.
type client struct {
	hc      *fasthttp.HostClient
	host    string
	timeout time.Duration
}

// answer is a fully read response.
type answer struct {
	Status     int
	Body       []byte
	RetryAfter string
	Cookie     string // the session cookie's value, when Set-Cookie had it
}

// do sends one request; header lines are "Name: value".
func (c client) do(method, path string, body []byte, headers ...string) (answer, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(method)
	req.Header.SetHost(c.host)
	req.SetRequestURI(path)
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	if body != nil {
		req.Header.SetContentType("application/json")
		req.SetBody(body)
	}
	if err := c.hc.DoTimeout(req, resp, c.timeout); err != nil {
		return answer{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	a := answer{Status: resp.StatusCode(), Body: append([]byte(nil), resp.Body()...), RetryAfter: string(resp.Header.Peek(fasthttp.HeaderRetryAfter))}
	ck := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(ck)
	ck.SetKey(sessionCookie)
	if resp.Header.Cookie(ck) {
		a.Cookie = string(ck.Value())
	}
	return a, nil
}

// doRetrying is do that waits out "503 + Retry-After" (the hash pool is
// full) up to 20 times, each wait Retry-After plus up to a second of
// jitter, so that the setup's clients do not all come back at once (on a
// machine busy with other work five waits in step were not always enough).
func (c client) doRetrying(ctx context.Context, method, path string, body []byte, headers ...string) (answer, error) {
	for attempt := 0; ; attempt++ {
		a, err := c.do(method, path, body, headers...)
		if err != nil || a.Status != fasthttp.StatusServiceUnavailable || a.RetryAfter == "" || attempt == 19 {
			return a, err
		}
		secs, _ := strconv.Atoi(a.RetryAfter)
		select {
		case <-ctx.Done():
			return a, ctx.Err()
		case <-time.After(time.Duration(max(secs, 1))*time.Second + time.Duration(mrand.Int64N(int64(time.Second)))):
		}
	}
}

// newUsers returns n accounts with addresses unique to this run and random
// passwords the default policy accepts.
func newUsers(n int) []*user {
	run := make([]byte, 4)
	_, _ = rand.Read(run)
	users := make([]*user, n)
	for i := range users {
		pw := make([]byte, 8)
		_, _ = rand.Read(pw)
		u := &user{
			Email:    fmt.Sprintf("load-%s-%03d@example.com", hex.EncodeToString(run), i),
			Password: "Lh7-" + hex.EncodeToString(pw) + "-qZ",
		}
		u.LoginBody = mustJSON(map[string]string{"email": u.Email, "password": u.Password, "session": "bearer"})
		users[i] = u
	}
	return users
}

// setUp registers every user and logs each in three times: for an access
// token, an app token and a session cookie. Several users at once, since
// each step hashes a password.
func setUp(ctx context.Context, c client, users []*user, concurrency int) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for _, u := range users {
		g.Go(func() error { return setUpOne(ctx, c, u) })
	}
	return g.Wait()
}

func setUpOne(ctx context.Context, c client, u *user) error {
	if err := register(ctx, c, u); err != nil {
		return err
	}
	for _, kind := range []string{"bearer", "app", "cookie"} {
		if err := logIn(ctx, c, u, kind); err != nil {
			return err
		}
	}
	return nil
}

// register registers u at c's tenant.
func register(ctx context.Context, c client, u *user) error {
	a, err := c.doRetrying(ctx, "POST", pathRegister, mustJSON(map[string]string{
		"email": u.Email, "password": u.Password, "first_name": "Load", "last_name": "Harness",
	}))
	if err != nil {
		return err
	}
	if a.Status != fasthttp.StatusAccepted {
		return fmt.Errorf("register %s at %s: status %d, want 202: %s", u.Email, c.host, a.Status, a.Body)
	}
	return nil
}

// logIn logs u in at c's tenant for the credential of session kind
// ("bearer", "app" or "cookie") and keeps it in u.
func logIn(ctx context.Context, c client, u *user, kind string) error {
	a, err := c.doRetrying(ctx, "POST", pathLogin, mustJSON(map[string]string{"email": u.Email, "password": u.Password, "session": kind}))
	if err != nil {
		return err
	}
	if a.Status != fasthttp.StatusOK {
		return fmt.Errorf("login %s (session %q): status %d, want 200: %s", u.Email, kind, a.Status, a.Body)
	}
	var out struct {
		AccessToken string `json:"access_token"`
		AppToken    string `json:"app_token"`
	}
	if err := json.Unmarshal(a.Body, &out); err != nil {
		return fmt.Errorf("login %s (session %q): %w: %s", u.Email, kind, err, a.Body)
	}
	switch {
	case kind == "bearer" && out.AccessToken != "":
		u.Bearer = "Bearer " + out.AccessToken
	case kind == "app" && out.AppToken != "":
		u.AppToken = "Token " + out.AppToken
	case kind == "cookie" && a.Cookie != "":
		u.Cookie = sessionCookie + "=" + a.Cookie
	default:
		return fmt.Errorf("login %s (session %q): the answer lacks the credential: %s", u.Email, kind, a.Body)
	}
	return nil
}

// checkMe makes sure that each of u's credentials answers GET /auth/v1/me
// with u, so that the phases measure what they claim.
func checkMe(c client, u *user) error {
	var errs []error
	for _, h := range []string{"Authorization: " + u.Bearer, "Authorization: " + u.AppToken, "Cookie: " + u.Cookie} {
		a, err := c.do("GET", pathMe, nil, h)
		switch {
		case err != nil:
			errs = append(errs, err)
		case a.Status != fasthttp.StatusOK || !strings.Contains(string(a.Body), u.Email):
			scheme, _, _ := strings.Cut(h, " ")
			errs = append(errs, fmt.Errorf("GET %s with %s…: status %d: %s", pathMe, scheme, a.Status, a.Body))
		}
	}
	return errors.Join(errs...)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
