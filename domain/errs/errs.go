// Package errs defines the one error type of the Portcullis core: a kind that
// decides how every API surface reports it, a stable machine code, a message
// safe to show a client, optional field-level details and a wrapped cause.
package errs

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies an error by what the caller can do about it. Adapters map a
// kind to a transport status in exactly one place.
type Kind uint8

// The kinds of error the core reports.
const (
	Internal        Kind = iota // a fault of ours; details are logged, never shown
	Invalid                     // the request is malformed or breaks a rule
	Unauthenticated             // credentials are missing, wrong or expired
	Forbidden                   // authenticated, but not allowed
	NotFound                    // the thing asked for does not exist
	Conflict                    // the request collides with the current state
	RateLimited                 // too many attempts; try again later
	Unavailable                 // a dependency is down or overloaded; retry
)

var kindNames = [...]string{"internal", "invalid", "unauthenticated", "forbidden", "not_found", "conflict", "rate_limited", "unavailable"}

// String returns the kind's lower-case name.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// FieldError names one input field and what is wrong with it.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// String renders the field error as "field: reason".
func (f FieldError) String() string { return f.Field + ": " + f.Reason }

// Error is the core's error value. Sentinels are *Error values compared by
// code with errors.Is; wrap them with With* helpers or fmt.Errorf("op: %w").
type Error struct {
	Kind    Kind
	Code    string       // stable, machine-readable, e.g. "tenant_not_found"
	Message string       // safe to show to a client
	Fields  []FieldError // field-level details for Invalid errors
	// RetryAfter, in whole seconds, for RateLimited and Unavailable errors.
	RetryAfter int
	// Extensions are members a surface adds to its error body (RFC 9457's
	// extension members), such as the token of an MFA challenge. They are
	// shown to the client: never a secret of anyone but the caller.
	Extensions map[string]any
	Err        error // the cause; logged, never shown
}

// E builds an error of the kind with a code and a client-safe message.
func E(kind Kind, code, message string) *Error {
	return &Error{Kind: kind, Code: code, Message: message}
}

// Error renders code, message, fields and cause for logs.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Code)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	for i, f := range e.Fields {
		if i == 0 {
			b.WriteString(" (")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.String())
		if i == len(e.Fields)-1 {
			b.WriteString(")")
		}
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same code, so that a
// sentinel matches every copy made from it.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Code != ""
}

// Wrap returns a copy of e with cause attached.
func (e *Error) Wrap(cause error) *Error {
	c := *e
	c.Err = cause
	return &c
}

// WithMessage returns a copy of e with a different client-safe message.
func (e *Error) WithMessage(format string, args ...any) *Error {
	c := *e
	c.Message = fmt.Sprintf(format, args...)
	return &c
}

// WithFields returns a copy of e carrying field-level details.
func (e *Error) WithFields(fields ...FieldError) *Error {
	c := *e
	c.Fields = append(append([]FieldError(nil), e.Fields...), fields...)
	return &c
}

// WithExtensions returns a copy of e carrying members for the error body.
func (e *Error) WithExtensions(ext map[string]any) *Error {
	c := *e
	c.Extensions = ext
	return &c
}

// WithRetryAfter returns a copy of e telling the client when to try again.
func (e *Error) WithRetryAfter(seconds int) *Error {
	c := *e
	c.RetryAfter = seconds
	return &c
}

// DefaultRetryAfter is the Retry-After, in seconds, of an Unavailable error
// that does not say how long to wait: long enough for a store failover or a
// restart, short enough for a client to try again while its user waits.
const DefaultRetryAfter = 5

// RetryAfter returns how many seconds a client should wait before trying
// again after e: e's own RetryAfter when set, DefaultRetryAfter for any other
// Unavailable error, and 0 (no advice) otherwise. Every surface's renderer
// sets the Retry-After header from it, so that no 503 goes without one.
func RetryAfter(e *Error) int {
	switch {
	case e == nil:
		return 0
	case e.RetryAfter > 0:
		return e.RetryAfter
	case e.Kind == Unavailable:
		return DefaultRetryAfter
	}
	return 0
}

// As returns the *Error in err's chain, or an Internal error wrapping err when
// there is none. It returns nil for a nil err.
func As(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return ErrInternal.Wrap(err)
}

// KindOf returns the kind of err (Internal for errors of other types).
func KindOf(err error) Kind { return As(err).Kind }

// InvalidFields builds an Invalid error listing field problems.
func InvalidFields(fields ...FieldError) *Error {
	return ErrInvalid.WithFields(fields...)
}

// Sentinels shared by every use case.
var (
	ErrInternal       = E(Internal, "internal", "An internal error occurred.")
	ErrInvalid        = E(Invalid, "invalid_request", "The request is invalid.")
	ErrUnavailable    = E(Unavailable, "unavailable", "The service is temporarily unavailable.")
	ErrTenantNotFound = E(NotFound, "tenant_not_found", "No tenant matches this request.")
	ErrNotFound       = E(NotFound, "not_found", "The requested resource does not exist.")
	ErrConflict       = E(Conflict, "conflict", "The request conflicts with the current state.")
)
