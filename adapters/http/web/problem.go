package web

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/domain/errs"
)

// ContentTypeProblem is the media type of RFC 9457 problem details.
const ContentTypeProblem = "application/problem+json"

// Problem is an RFC 9457 problem details body with Portcullis' stable code.
type Problem struct {
	Type      string            `json:"type"`
	Title     string            `json:"title"`
	Status    int               `json:"status"`
	Detail    string            `json:"detail,omitempty"`
	Code      string            `json:"code"`
	Errors    []errs.FieldError `json:"errors,omitempty"`
	RequestID string            `json:"request_id,omitempty"`
	// Extensions are the error's extension members (an MFA challenge's
	// mfa_token and methods), written beside the others.
	Extensions map[string]any `json:"-"`
}

// MarshalJSON writes the problem's members and its extension members; an
// extension never replaces a member of the problem itself.
func (p Problem) MarshalJSON() ([]byte, error) {
	type plain Problem
	base, err := json.Marshal(plain(p))
	if err != nil || len(p.Extensions) == 0 {
		return base, err
	}
	members := map[string]json.RawMessage{}
	if err := json.Unmarshal(base, &members); err != nil {
		return nil, err
	}
	for k, v := range p.Extensions {
		if _, taken := members[k]; taken {
			continue
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		members[k] = raw
	}
	return json.Marshal(members)
}

// Status is the one place an error kind becomes an HTTP status.
func Status(k errs.Kind) int {
	switch k {
	case errs.Invalid:
		return http.StatusBadRequest
	case errs.Unauthenticated:
		return http.StatusUnauthorized
	case errs.Forbidden:
		return http.StatusForbidden
	case errs.NotFound:
		return http.StatusNotFound
	case errs.Conflict:
		return http.StatusConflict
	case errs.RateLimited:
		return http.StatusTooManyRequests
	case errs.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// FromError converts any error into the core error it stands for: core
// errors as they are, Fiber's own errors (unknown route, body too large...)
// into the matching kind, anything else into an internal error.
func FromError(err error) *errs.Error {
	var fe *fiber.Error
	if errors.As(err, &fe) {
		return fromFiber(fe)
	}
	return errs.As(err)
}

// fiberErrors are the Fiber errors that keep their own precise status while
// sharing the Invalid kind, and the codes of the core whose status is not
// their kind's (a failed If-Match is a Conflict answered 412); fromFiber
// and StatusOf both read this table.
var fiberErrors = []struct {
	status        int
	code, message string
}{
	{fiber.StatusMethodNotAllowed, "method_not_allowed", "This method is not allowed on this resource."},
	{fiber.StatusRequestEntityTooLarge, "request_too_large", "The request body is too large."},
	{fiber.StatusRequestHeaderFieldsTooLarge, "headers_too_large", "The request headers are too large."},
	{fiber.StatusRequestTimeout, "request_timeout", "The request was not received in time."},
	{fiber.StatusUnsupportedMediaType, "unsupported_media_type", "The request body's media type is not supported."},
	{fiber.StatusPreconditionFailed, "precondition_failed", "A precondition of the request failed."},
}

func fromFiber(fe *fiber.Error) *errs.Error {
	if fe.Code == fiber.StatusNotFound {
		return errs.ErrNotFound
	}
	for _, f := range fiberErrors {
		if f.status == fe.Code {
			return errs.E(errs.Invalid, f.code, f.message)
		}
	}
	if fe.Code >= 400 && fe.Code < 500 {
		return errs.E(errs.Invalid, "bad_request", "The request could not be understood.")
	}
	return errs.ErrInternal.Wrap(fe)
}

// StatusOf is the status of e: its own for the errors of the table above
// (415 unsupported_media_type, 405, 413...), else the one its kind maps to.
// Every surface's renderer uses it.
func StatusOf(e *errs.Error) int {
	for _, f := range fiberErrors {
		if f.code == e.Code {
			return f.status
		}
	}
	return Status(e.Kind)
}

// NewProblem builds the problem body for e.
func NewProblem(e *errs.Error, requestID string) Problem {
	status := StatusOf(e)
	p := Problem{
		Type:       "urn:portcullis:problem:" + e.Code,
		Title:      http.StatusText(status),
		Status:     status,
		Detail:     e.Message,
		Code:       e.Code,
		Errors:     e.Fields,
		RequestID:  requestID,
		Extensions: e.Extensions,
	}
	return p
}

// Rendering is how a surface shows one error: its status and body.
type Rendering func(e *errs.Error) (status int, body any)

// ErrorTable is one API surface's error shapes: by error code, and for
// every other code by Otherwise. The central error handler looks it up for
// the requests the surface serves (UseErrors); a surface never renders an
// error itself.
type ErrorTable struct {
	Codes     map[string]Rendering
	Otherwise Rendering
}

func (t *ErrorTable) render(e *errs.Error) (int, any) {
	if r, ok := t.Codes[e.Code]; ok {
		return r(e)
	}
	return t.Otherwise(e)
}

const localErrorTable = "portcullis.errors"

// UseErrors makes t the error table of the request.
func UseErrors(c *fiber.Ctx, t *ErrorTable) { c.Locals(localErrorTable, t) }

// ErrorHandler renders every error that reaches Fiber: in the error table
// of the surface that served the request, else as problem+json. Internal
// errors are logged with their cause; the client sees only a generic
// problem and the request id to quote, on every surface.
func ErrorHandler(log *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		e := FromError(err)
		rid := RequestID(c.UserContext())
		if e.Kind == errs.Internal {
			log.Error("internal error", "request_id", rid, "method", c.Method(), "path", LogPath(c), "error", err)
			return Render(c, errs.ErrInternal, rid)
		}
		if t, ok := c.Locals(localErrorTable).(*ErrorTable); ok && t != nil {
			status, body := t.render(e)
			SetRetryAfter(c, e)
			return c.Status(status).JSON(body)
		}
		return Render(c, e, rid)
	}
}

// Render writes e as problem+json, with Retry-After when e carries one and
// for every Unavailable error (see errs.RetryAfter).
func Render(c *fiber.Ctx, e *errs.Error, requestID string) error {
	p := NewProblem(e, requestID)
	SetRetryAfter(c, e)
	c.Status(p.Status)
	if err := c.JSON(p); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, ContentTypeProblem)
	return nil
}

// SetRetryAfter sets the Retry-After header for e, as errs.RetryAfter
// advises: the error handler calls it for every surface, so that every 503
// and every 429 that knows its wait tells the client when to come back.
func SetRetryAfter(c *fiber.Ctx, e *errs.Error) {
	if s := errs.RetryAfter(e); s > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(s))
	}
}
