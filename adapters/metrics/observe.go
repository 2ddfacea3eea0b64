package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/adapters/crypto/argon2"
	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/notify"
	"github.com/portcullis/portcullis/application/throttle"
	"github.com/portcullis/portcullis/domain/message"
	"github.com/portcullis/portcullis/domain/tenant"
)

// AuditObserver is a tenant's audit recorder that also counts its sign-in
// events (login.succeeded, login.failed, mfa.challenged,
// mfa.enrolment_required) in portcullis_logins_total: every login method
// of every surface records them, so none is left out.
type AuditObserver struct {
	m      *Metrics
	tenant string
	next   audit.Recorder
}

var _ audit.Recorder = (*AuditObserver)(nil)

// ObserveAudit returns next counting the sign-ins of tenant.
func (m *Metrics) ObserveAudit(tenantID string, next audit.Recorder) *AuditObserver {
	return &AuditObserver{m: m, tenant: tenantID, next: next}
}

// Record counts e when it is a sign-in's, and records it.
func (o *AuditObserver) Record(ctx context.Context, e audit.Event) {
	switch e.Type {
	case audit.LoginSucceeded:
		o.m.Login(o.tenant, e.Method, OutcomeSucceeded, "")
	case audit.LoginFailed:
		o.m.Login(o.tenant, e.Method, OutcomeFailed, e.Reason)
	case audit.MFAChallenged:
		o.m.Login(o.tenant, e.Method, OutcomeMFARequired, "")
	case audit.MFAEnrolmentRequired:
		o.m.Login(o.tenant, e.Method, OutcomeMFAEnrolmentRequired, "")
	}
	o.next.Record(ctx, e)
}

// Limiter is a tenant's rate limiter that counts its denials.
type Limiter struct {
	m      *Metrics
	tenant string
	next   throttle.Limiter
}

var _ throttle.Limiter = (*Limiter)(nil)

// ObserveLimiter returns next counting the attempts it refuses.
func (m *Metrics) ObserveLimiter(tenantID string, next throttle.Limiter) *Limiter {
	return &Limiter{m: m, tenant: tenantID, next: next}
}

// Hit counts an attempt, as next does, and a refusal.
func (l *Limiter) Hit(ctx context.Context, key string, lim tenant.Limit) (bool, time.Duration, error) {
	ok, retry, err := l.next.Hit(ctx, key, lim)
	if err == nil && !ok {
		l.m.LimiterDenied(l.tenant)
	}
	return ok, retry, err
}

// Refund gives an attempt back, as next does.
func (l *Limiter) Refund(ctx context.Context, key string, lim tenant.Limit) error {
	return l.next.Refund(ctx, key, lim)
}

// Reset forgets key's attempts, as next does.
func (l *Limiter) Reset(ctx context.Context, key string) error { return l.next.Reset(ctx, key) }

// WatchHasher exposes the password-hashing pool: slots, in use, waiting
// (the queue), waits and their time, and calls that gave up.
func (m *Metrics) WatchHasher(h *argon2.Hasher) {
	stat := func(f func(argon2.Stats) float64) func() float64 { return func() float64 { return f(h.Stats()) } }
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "portcullis_hash_pool_slots", Help: "Password hashes the pool computes at once."},
			stat(func(s argon2.Stats) float64 { return float64(s.Slots) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "portcullis_hash_pool_in_use", Help: "Password hashes computing now."},
			stat(func(s argon2.Stats) float64 { return float64(s.InUse) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "portcullis_hash_pool_queue_depth", Help: "Password hashes waiting for a slot now."},
			stat(func(s argon2.Stats) float64 { return float64(s.Waiting) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "portcullis_hash_pool_computed_total", Help: "Password hashes computed."},
			stat(func(s argon2.Stats) float64 { return float64(s.Computed) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "portcullis_hash_pool_waits_total", Help: "Password hashes that waited for a slot."},
			stat(func(s argon2.Stats) float64 { return float64(s.Waits) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "portcullis_hash_pool_wait_seconds_total", Help: "Time password hashes waited for a slot, in all."},
			stat(func(s argon2.Stats) float64 { return s.WaitSeconds })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "portcullis_hash_pool_busy_total", Help: "Password hashes refused after waiting the queue timeout (503)."},
			stat(func(s argon2.Stats) float64 { return float64(s.Busy) })),
	)
}

// WatchAuditWriter exposes the audit writer: events written, dropped (the
// buffer full), lost (the store refused them) and queued.
func (m *Metrics) WatchAuditWriter(w *audit.Writer) {
	stat := func(f func(audit.Stats) float64) func() float64 { return func() float64 { return f(w.Stats()) } }
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "portcullis_audit_events_written_total", Help: "Audit events written to the store."},
			stat(func(s audit.Stats) float64 { return float64(s.Written) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "portcullis_audit_events_dropped_total", Help: "Audit events dropped: the writer's buffer was full."},
			stat(func(s audit.Stats) float64 { return float64(s.Dropped) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "portcullis_audit_events_lost_total", Help: "Audit events lost: the store refused them after retries."},
			stat(func(s audit.Stats) float64 { return float64(s.Lost) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "portcullis_audit_events_queued", Help: "Audit events waiting to be written."},
			stat(func(s audit.Stats) float64 { return float64(s.Queued) })),
	)
}

// SMS is a tenant's SMS sender whose sends are counted.
type SMS struct {
	m      *Metrics
	tenant string
	next   notify.SMSSender
}

var _ notify.SMSSender = (*SMS)(nil)

// ObserveSMS returns next counting its sends.
func (m *Metrics) ObserveSMS(tenantID string, next notify.SMSSender) *SMS {
	return &SMS{m: m, tenant: tenantID, next: next}
}

// SendSMS sends msg with next and counts the outcome.
func (s *SMS) SendSMS(ctx context.Context, msg message.SMS) error {
	err := s.next.SendSMS(ctx, msg)
	s.m.Message(s.tenant, "sms", err)
	return err
}

// Mail is a tenant's mail sender whose sends are counted.
type Mail struct {
	m      *Metrics
	tenant string
	next   notify.Mailer
}

var _ notify.Mailer = (*Mail)(nil)

// ObserveMail returns next counting its sends.
func (m *Metrics) ObserveMail(tenantID string, next notify.Mailer) *Mail {
	return &Mail{m: m, tenant: tenantID, next: next}
}

// SendMail sends msg with next and counts the outcome.
func (s *Mail) SendMail(ctx context.Context, msg message.Mail) error {
	err := s.next.SendMail(ctx, msg)
	s.m.Message(s.tenant, "mail", err)
	return err
}

// HitCounter is a cache's lookups: answered from it, and read through.
type HitCounter interface {
	Hits() int64
	Misses() int64
}

// WatchCache exposes a cache's hits and misses (its hit ratio is
// hits / (hits + misses)) under the label cache=name.
// Breaker is the state of a circuit breaker (redis.Breaker).
type Breaker interface {
	Open() bool
	Opened() uint64
	Refused() uint64
}

// WatchRedisBreaker exposes the Redis circuit breaker: whether it is
// open, how often it opened, how many commands it failed at once.
func (m *Metrics) WatchRedisBreaker(b Breaker) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "portcullis_redis_breaker_open", Help: "1 while Redis commands fail at once after failing for want of Redis (the breaker is open or probing), else 0."},
			func() float64 {
				if b.Open() {
					return 1
				}
				return 0
			}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "portcullis_redis_breaker_opened_total", Help: "Times the Redis circuit breaker opened."},
			func() float64 { return float64(b.Opened()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "portcullis_redis_breaker_refused_total", Help: "Redis commands and pipelines failed at once by the open breaker."},
			func() float64 { return float64(b.Refused()) }),
	)
}

func (m *Metrics) WatchCache(name string, c HitCounter) {
	labels := prometheus.Labels{"cache": name}
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "portcullis_cache_hits_total", Help: "Cache lookups answered from the cache.", ConstLabels: labels},
			func() float64 { return float64(c.Hits()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "portcullis_cache_misses_total", Help: "Cache lookups read through to the store.", ConstLabels: labels},
			func() float64 { return float64(c.Misses()) }),
	)
}
