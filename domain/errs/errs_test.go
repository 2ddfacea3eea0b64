package errs_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/portcullis/portcullis/domain/errs"
)

func TestSentinelMatchesWrappedCopies(t *testing.T) {
	t.Parallel()
	cause := errors.New("disk on fire")
	err := fmt.Errorf("load tenant: %w", errs.ErrTenantNotFound.Wrap(cause).WithMessage("no tenant %q", "x"))
	if !errors.Is(err, errs.ErrTenantNotFound) {
		t.Fatal("errors.Is should match the sentinel through wrapping and copies")
	}
	if errors.Is(err, errs.ErrNotFound) {
		t.Fatal("a different code must not match")
	}
	if !errors.Is(err, cause) {
		t.Fatal("the cause must stay reachable")
	}
	if got := errs.KindOf(err); got != errs.NotFound {
		t.Fatalf("KindOf = %v, want not_found", got)
	}
	if got := errs.As(err).Message; got != `no tenant "x"` {
		t.Fatalf("message = %q", got)
	}
}

func TestAsTreatsForeignErrorsAsInternal(t *testing.T) {
	t.Parallel()
	if errs.As(nil) != nil {
		t.Fatal("As(nil) must be nil")
	}
	e := errs.As(errors.New("boom"))
	if e.Kind != errs.Internal || e.Code != "internal" {
		t.Fatalf("got %v %q", e.Kind, e.Code)
	}
	if e.Message == "boom" {
		t.Fatal("the cause must not become the client-visible message")
	}
}

func TestErrorStringListsFields(t *testing.T) {
	t.Parallel()
	e := errs.InvalidFields(errs.FieldError{Field: "email", Reason: "is required"}, errs.FieldError{Field: "name", Reason: "is too long"})
	want := "invalid_request: The request is invalid. (email: is required; name: is too long)"
	if e.Error() != want {
		t.Fatalf("got %q, want %q", e.Error(), want)
	}
	if e.Kind.String() != "invalid" {
		t.Fatalf("kind name %q", e.Kind.String())
	}
}

func TestRetryAfterDefaultsForUnavailable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		e    *errs.Error
		want int
	}{
		{"unavailable without advice", errs.ErrUnavailable.Wrap(errors.New("store down")), errs.DefaultRetryAfter},
		{"another unavailable code", errs.E(errs.Unavailable, "busy", "Busy."), errs.DefaultRetryAfter},
		{"unavailable with its own", errs.ErrUnavailable.WithRetryAfter(1), 1},
		{"rate limited keeps its own", errs.E(errs.RateLimited, "throttled", "Slow down.").WithRetryAfter(42), 42},
		{"other kinds have none", errs.ErrInternal, 0},
		{"nil", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := errs.RetryAfter(tc.e); got != tc.want {
				t.Fatalf("RetryAfter = %d, want %d", got, tc.want)
			}
		})
	}
}
