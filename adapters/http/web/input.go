package web

import (
	"bytes"
	"mime"
	"mime/multipart"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/portcullis/portcullis/application/session"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/identity"
)

// The media types request bodies may have. JSON is exactly
// application/json: structured-suffix types (application/problem+json,
// application/merge-patch+json, application/vnd.api+json...) name other
// documents with their own meaning, and none of them is what a client of
// these endpoints sends, so they are refused rather than guessed at.
const (
	MIMEJSON      = "application/json"
	MIMEForm      = "application/x-www-form-urlencoded"
	MIMEMultipart = "multipart/form-data"
)

// maxMultipartMemory bounds what a multipart form may hold in memory; the
// body limit of the server is lower, so no part goes to disk.
const maxMultipartMemory = 2 << 20

// CheckRequest refuses what no surface may read in two ways: more than one
// Authorization header (a proxy and this server could each act on a
// different one) and query parameters that are not valid UTF-8 (they would
// be repaired into U+FFFD, so that different bytes read alike). Every
// surface calls it before its handlers, so that the error has the
// surface's shape; Guard runs it for the platform's own tenant routes.
func CheckRequest(c *fiber.Ctx) error {
	if err := singleAuthorization(c); err != nil {
		return err
	}
	var bad *errs.FieldError
	c.Request().URI().QueryArgs().VisitAll(func(k, v []byte) {
		if bad != nil || (utf8.Valid(k) && utf8.Valid(v)) {
			return
		}
		name := "query"
		if utf8.Valid(k) && len(k) > 0 {
			name = string(k)
		}
		bad = &errs.FieldError{Field: name, Reason: identity.ReasonInvalidUTF8}
	})
	if bad != nil {
		return errs.InvalidFields(*bad)
	}
	return nil
}

// Guard is CheckRequest as middleware, for routes whose errors the
// platform error handler renders as problem+json.
func Guard(c *fiber.Ctx) error {
	if err := CheckRequest(c); err != nil {
		return err
	}
	return c.Next()
}

// singleAuthorization refuses a request with more than one Authorization
// header.
func singleAuthorization(c *fiber.Ctx) error {
	if n := len(c.Request().Header.PeekAll(fiber.HeaderAuthorization)); n > 1 {
		return errs.InvalidFields(errs.FieldError{Field: fiber.HeaderAuthorization,
			Reason: "must be sent at most once, got " + strconv.Itoa(n) + " headers"})
	}
	return nil
}

// CheckCookieLogin refuses, with session.ErrCSRF, a login that would set
// the session cookie on a request a browser sent from another site (login
// CSRF: the victim would be signed in to the attacker's account). The rule
// is SameOrigin's, with the tenant's allowed redirect origins. Logins for
// bearer or app tokens are not checked: their credential is returned in
// the body, which another site cannot read, and is never sent by the
// browser on its own.
func CheckCookieLogin(c *fiber.Ctx, kind identity.SessionKind) error {
	if kind != identity.SessionWeb {
		return nil
	}
	if !SameOrigin(c, Tenant(c.UserContext()).Tenant.Redirects.Allow) {
		return session.ErrCSRF
	}
	return nil
}

// mediaType parses the request's Content-Type. It returns "" when there is
// none and reports a malformed one, or a charset other than UTF-8 (the only
// one JSON and these forms may use), as unsupported.
func mediaType(c *fiber.Ctx, want string) (string, error) {
	raw := c.Get(fiber.HeaderContentType)
	if strings.TrimSpace(raw) == "" {
		return "", unsupported(want, "the request has no Content-Type")
	}
	mt, params, err := mime.ParseMediaType(raw)
	if err != nil {
		return "", unsupported(want, "the Content-Type is malformed")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return "", unsupported(want, "the charset must be utf-8")
	}
	return mt, nil
}

// unsupported is the 415 error: the body must be want; why says what the
// request sent instead.
func unsupported(want, why string) *errs.Error {
	return errs.E(errs.Invalid, "unsupported_media_type", "The request body must be "+want+"; "+why+".")
}

func unsupportedType(want, got string) *errs.Error {
	if len(got) > 100 {
		got = got[:100]
	}
	return unsupported(want, `got "`+got+`"`)
}

// DecodeFields reads the string fields of a body sent as a JSON object, a
// URL-encoded form or a multipart form, the three Django REST framework
// accepts by default; any other type is 415. An empty body has no fields.
// Non-string JSON values are left out; form fields keep their first value;
// file parts are ignored. Field names and values that are not valid UTF-8
// are refused, naming the field. The query string is never read.
func DecodeFields(c *fiber.Ctx) (map[string]string, error) {
	const want = MIMEJSON + ", " + MIMEForm + " or " + MIMEMultipart
	fields := map[string]string{}
	body := c.Body()
	if len(bytes.TrimSpace(body)) == 0 {
		return fields, nil
	}
	mt, err := mediaType(c, want)
	if err != nil {
		return nil, err
	}
	switch mt {
	case MIMEJSON:
		var m map[string]any
		if err := DecodeJSON(c, &m); err != nil {
			return nil, err
		}
		for k, v := range m {
			if s, ok := v.(string); ok {
				fields[k] = s
			}
		}
		return fields, nil
	case MIMEForm:
		args := fasthttp.AcquireArgs()
		defer fasthttp.ReleaseArgs(args)
		args.ParseBytes(body)
		var bad error
		args.VisitAll(func(k, v []byte) {
			if bad == nil {
				bad = addField(fields, string(k), string(v))
			}
		})
		return fields, bad
	case MIMEMultipart:
		_, params, _ := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
		if params["boundary"] == "" {
			return nil, errs.InvalidFields(errs.FieldError{Field: "body", Reason: "is multipart/form-data without a boundary"})
		}
		form, err := multipart.NewReader(bytes.NewReader(body), params["boundary"]).ReadForm(maxMultipartMemory)
		if err != nil {
			return nil, errs.InvalidFields(errs.FieldError{Field: "body", Reason: "is not a valid multipart/form-data body"})
		}
		defer form.RemoveAll()
		for k, vs := range form.Value {
			if len(vs) > 0 {
				if err := addField(fields, k, vs[0]); err != nil {
					return nil, err
				}
			}
		}
		return fields, nil
	}
	return nil, unsupportedType(want, mt)
}

// addField records a form field's first value, refusing invalid UTF-8.
func addField(fields map[string]string, k, v string) error {
	switch {
	case !utf8.ValidString(k):
		return errs.InvalidFields(errs.FieldError{Field: "body", Reason: "has a field name that " + identity.ReasonInvalidUTF8})
	case !utf8.ValidString(v):
		return errs.InvalidFields(errs.FieldError{Field: k, Reason: identity.ReasonInvalidUTF8})
	}
	if _, seen := fields[k]; !seen {
		fields[k] = v
	}
	return nil
}
