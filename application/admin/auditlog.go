package admin

import (
	"context"

	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/domain/identity"
)

// AuditLog returns a page of the tenant's audit log (audit:read): the
// events that match f, newest first, limit of them (0: audit.DefaultLimit),
// after cursor (see audit.Service.Query, which reports bad input by
// field). The events hold no secret: they never did.
func (s *Service) AuditLog(ctx context.Context, actor identity.User, f audit.Filter, cursor string, limit int) (audit.Page, error) {
	if err := s.require(ctx, actor, ActionReadAudit, "", identity.ScopeAuditRead); err != nil {
		return audit.Page{}, err
	}
	return s.d.Log.Query(ctx, f, cursor, limit)
}
