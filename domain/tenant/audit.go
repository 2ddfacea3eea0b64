package tenant

import (
	"fmt"
	"time"
)

// AuditPolicy (configuration section audit) is how a tenant keeps its
// audit log.
type AuditPolicy struct {
	// Retention is how long an audit event is kept: each event is stored
	// with its expiry (its time plus the retention in force when it was
	// written) and deleted by the periodic sweep once that has passed. A
	// change applies to events written after it.
	Retention time.Duration
}

// Defaults and bounds of the audit policy. A day at least, so that a typo
// ("90m" for 90 days) does not erase the log within the hour; ten years
// at most.
const (
	DefaultAuditRetention = 90 * 24 * time.Hour
	MinAuditRetention     = 24 * time.Hour
	MaxAuditRetention     = 10 * 365 * 24 * time.Hour
)

// DefaultAuditPolicy is the policy of a tenant that sets none of it.
func DefaultAuditPolicy() AuditPolicy { return AuditPolicy{Retention: DefaultAuditRetention} }

// problems lists what is wrong with the section.
func (p AuditPolicy) problems() []Problem {
	if p.Retention < MinAuditRetention || p.Retention > MaxAuditRetention {
		return []Problem{{Field: "audit.retention", Reason: fmt.Sprintf("must be between %s and %s, got %s", MinAuditRetention, MaxAuditRetention, p.Retention)}}
	}
	return nil
}
