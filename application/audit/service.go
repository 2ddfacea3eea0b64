package audit

import (
	"context"
	"fmt"

	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/domain/errs"
)

// Page sizes of a query.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// Service is one stream of the audit log as it is read: a tenant's, by
// its admins, or the platform's, by operators.
type Service struct {
	tenantID string
	types    func(Type) bool // the types of the stream
	log      Log
	clock    platform.Clock
}

// NewService returns the audit log of tenant tenantID.
func NewService(tenantID string, l Log, clock platform.Clock) *Service {
	return &Service{tenantID: tenantID, types: Type.Known, log: l, clock: clock}
}

// NewPlatformService returns the platform's own stream (PlatformTenant).
func NewPlatformService(l Log, clock platform.Clock) *Service {
	return &Service{tenantID: PlatformTenant, types: Type.Platform, log: l, clock: clock}
}

// Query returns a page of the stream's events that match f, newest first:
// the first page for an empty cursor, else the page after the one whose
// Next the cursor is. A limit of 0 means DefaultLimit. Bad input is an
// errs.Invalid error naming its field: "type" (not a type of the stream),
// "user_id", "target_id", "until" (not after since), "limit" (not 0 to
// MaxLimit) and "cursor" (not a cursor this log gave).
func (s *Service) Query(ctx context.Context, f Filter, cursor string, limit int) (Page, error) {
	var fields []errs.FieldError
	for _, t := range f.Types {
		if !s.types(t) {
			fields = append(fields, errs.FieldError{Field: "type", Reason: fmt.Sprintf("%q is not an event type", t)})
		}
	}
	if len(f.UserID) > maxField {
		fields = append(fields, errs.FieldError{Field: "user_id", Reason: fmt.Sprintf("must be at most %d characters", maxField)})
	}
	if len(f.TargetID) > maxField {
		fields = append(fields, errs.FieldError{Field: "target_id", Reason: fmt.Sprintf("must be at most %d characters", maxField)})
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		fields = append(fields, errs.FieldError{Field: "until", Reason: "must be after since"})
	}
	switch {
	case limit == 0:
		limit = DefaultLimit
	case limit < 0 || limit > MaxLimit:
		fields = append(fields, errs.FieldError{Field: "limit", Reason: fmt.Sprintf("must be between 1 and %d", MaxLimit)})
	}
	if cursor != "" && !ValidID(cursor) {
		fields = append(fields, ErrInvalidCursor.Fields...)
	}
	if len(fields) > 0 {
		return Page{}, errs.InvalidFields(fields...)
	}
	page, err := s.log.Query(ctx, s.tenantID, f, cursor, limit, s.clock.Now().UTC())
	if err != nil {
		return Page{}, fmt.Errorf("audit: query: %w", err)
	}
	return page, nil
}
