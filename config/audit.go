package config

import (
	"time"

	"github.com/portcullis/portcullis/domain/tenant"
)

// auditSpec is the audit section of the tenant schema (tenant.AuditPolicy).
type auditSpec struct {
	Retention time.Duration `mapstructure:"retention"`
}

func auditSpecFrom(p tenant.AuditPolicy) auditSpec { return auditSpec{Retention: p.Retention} }

func (s auditSpec) policy() tenant.AuditPolicy { return tenant.AuditPolicy{Retention: s.Retention} }

func (s auditSpec) document() map[string]any {
	return map[string]any{"retention": s.Retention.String()}
}
