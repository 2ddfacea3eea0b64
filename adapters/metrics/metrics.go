// Package metrics exposes Portcullis' metrics in the Prometheus text
// format (github.com/prometheus/client_golang): HTTP requests by route
// template, method and status; sign-ins by tenant, method and outcome;
// limiter denials; the password-hashing pool; the audit writer; tenant
// containers built; and the Go runtime and process.
//
// Label values are bounded: routes are the templates Fiber matched (never
// raw paths; "unmatched" for none), statuses are numbers, methods and
// outcomes come from fixed sets, and tenants past the first MaxTenants
// seen are folded into "other".
package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultMaxTenants is how many tenants get a label of their own unless
// Options say otherwise.
const DefaultMaxTenants = 100

// OtherTenant is the label of the tenants past MaxTenants.
const OtherTenant = "other"

// Options configure the metrics.
type Options struct {
	// MaxTenants is how many tenants, in the order they are first seen,
	// get a label of their own; the rest share OtherTenant. Zero or less
	// means DefaultMaxTenants.
	MaxTenants int
}

// Metrics are the process's collectors in their own registry.
type Metrics struct {
	reg        *prometheus.Registry
	maxTenants int

	mu      sync.Mutex
	tenants map[string]bool

	requests       *prometheus.HistogramVec
	logins         *prometheus.CounterVec
	loginFailures  *prometheus.CounterVec
	limiterDenials *prometheus.CounterVec
	messages       *prometheus.CounterVec
	tenantsBuilt   prometheus.Counter
}

// New returns the metrics, with the Go runtime's and the process's.
func New(o Options) *Metrics {
	if o.MaxTenants <= 0 {
		o.MaxTenants = DefaultMaxTenants
	}
	m := &Metrics{reg: prometheus.NewRegistry(), maxTenants: o.MaxTenants, tenants: map[string]bool{}}
	m.requests = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "portcullis_http_request_duration_seconds",
		Help:    "HTTP requests by route template, method and status: how long each took to answer.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"route", "method", "status"})
	m.logins = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portcullis_logins_total",
		Help: "Sign-ins by tenant, login method and outcome (succeeded, failed, mfa_required, mfa_enrolment_required).",
	}, []string{"tenant", "method", "outcome"})
	m.loginFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portcullis_login_failures_total",
		Help: "Refused sign-ins by tenant, login method and reason code (invalid_credentials, throttled, otp_invalid, ...).",
	}, []string{"tenant", "method", "reason"})
	m.limiterDenials = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portcullis_limiter_denials_total",
		Help: "Attempts refused by a rate limit, by tenant.",
	}, []string{"tenant"})
	m.messages = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portcullis_messages_sent_total",
		Help: "Messages (sign-in codes, links, notices) handed to the tenant's provider, by tenant, channel (sms, mail) and outcome (sent, failed: the provider refused or was unreachable).",
	}, []string{"tenant", "channel", "outcome"})
	m.tenantsBuilt = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "portcullis_tenant_containers_built_total",
		Help: "Tenant service containers built: at first use and after each configuration change.",
	})
	m.reg.MustRegister(m.requests, m.logins, m.loginFailures, m.limiterDenials, m.messages, m.tenantsBuilt,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is where further collectors are registered.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Tenant is the label of tenant id: its own for the first MaxTenants
// seen, OtherTenant after.
func (m *Metrics) Tenant(id string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tenants[id] {
		return id
	}
	if len(m.tenants) >= m.maxTenants {
		return OtherTenant
	}
	m.tenants[id] = true
	return id
}

// Request records one answered request: route is the template that
// matched ("" for none), status the one sent.
func (m *Metrics) Request(route, method string, status int, took time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	// Copies: Fiber's strings point into buffers it reuses.
	m.requests.WithLabelValues(strings.Clone(route), strings.Clone(method), strconv.Itoa(status)).Observe(took.Seconds())
}

// TenantBuilt counts a tenant container built.
func (m *Metrics) TenantBuilt() { m.tenantsBuilt.Inc() }

// LimiterDenied counts an attempt a rate limit of tenant refused.
func (m *Metrics) LimiterDenied(tenant string) {
	m.limiterDenials.WithLabelValues(m.Tenant(tenant)).Inc()
}

// Message counts a message of tenant on channel handed to its provider;
// err is the provider's answer.
func (m *Metrics) Message(tenant, channel string, err error) {
	outcome := "sent"
	if err != nil {
		outcome = "failed"
	}
	m.messages.WithLabelValues(m.Tenant(tenant), channel, outcome).Inc()
}

// Login outcomes.
const (
	OutcomeSucceeded            = "succeeded"
	OutcomeFailed               = "failed"
	OutcomeMFARequired          = "mfa_required"
	OutcomeMFAEnrolmentRequired = "mfa_enrolment_required"
)

// Login counts a sign-in of tenant by method with outcome; a failed one
// also by its reason.
func (m *Metrics) Login(tenant, method, outcome, reason string) {
	t := m.Tenant(tenant)
	if method == "" {
		method = "unknown"
	}
	m.logins.WithLabelValues(t, method, outcome).Inc()
	if outcome == OutcomeFailed {
		if reason == "" {
			reason = "unknown"
		}
		m.loginFailures.WithLabelValues(t, method, reason).Inc()
	}
}
