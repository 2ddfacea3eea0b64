package audit

import (
	"context"
	"time"

	"github.com/portcullis/portcullis/application/platform"
)

// TenantRecorder is one tenant's Recorder: it stamps an event and hands it
// to the platform's Writer.
type TenantRecorder struct {
	tenantID  string
	retention time.Duration
	w         *Writer
	clock     platform.Clock
}

var _ Recorder = (*TenantRecorder)(nil)

// NewTenantRecorder returns the recorder of tenant tenantID, whose events
// are kept for retention (the tenant's audit.retention).
func NewTenantRecorder(tenantID string, retention time.Duration, w *Writer, clock platform.Clock) *TenantRecorder {
	return &TenantRecorder{tenantID: tenantID, retention: retention, w: w, clock: clock}
}

// NewPlatformRecorder returns the recorder of the platform's own stream
// (PlatformTenant), whose events are kept for PlatformRetention.
func NewPlatformRecorder(w *Writer, clock platform.Clock) *TenantRecorder {
	return NewTenantRecorder(PlatformTenant, PlatformRetention, w, clock)
}

// Record stamps e with the tenant, the time, a new id and the expiry the
// tenant's retention gives it, and with the request id, client address and
// user agent ctx carries where e has none; cuts its fields to their
// bounds; and queues it. It never blocks and never fails.
func (r *TenantRecorder) Record(ctx context.Context, e Event) {
	now := r.clock.Now().UTC()
	e.TenantID, e.Time, e.ID, e.ExpiresAt = r.tenantID, now, NewID(now), now.Add(r.retention)
	if e.RequestID == "" {
		e.RequestID = platform.RequestID(ctx)
	}
	if !e.IP.IsValid() {
		e.IP = platform.ClientIP(ctx)
	}
	if e.UserAgent == "" {
		e.UserAgent = platform.UserAgent(ctx)
	}
	r.w.Add(e.bounded())
}
