// Package outbox is the dev-mode mail and SMS provider: instead of sending,
// it records each message in memory (and the log) so that a developer or an
// end-to-end test can read codes and links from the dev outbox endpoint.
package outbox

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/portcullis/portcullis/application/notify"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/message"
)

// Kinds of recorded message.
const (
	KindMail = "mail"
	KindSMS  = "sms"
)

// Message is one recorded message.
type Message struct {
	ID       string    `json:"id"`
	Kind     string    `json:"kind"`
	TenantID string    `json:"tenant_id"`
	To       string    `json:"to"`
	Subject  string    `json:"subject,omitempty"`
	Text     string    `json:"text"`
	HTML     string    `json:"html,omitempty"`
	SentAt   time.Time `json:"sent_at"`
}

// DefaultCapacity is how many messages per tenant are kept; older ones are
// dropped first.
const DefaultCapacity = 500

// Outbox holds the most recent messages of every tenant.
type Outbox struct {
	log      *slog.Logger
	capacity int

	mu   sync.Mutex
	seq  uint64
	msgs map[string][]Message
}

// New returns an empty outbox that logs each message to log.
func New(log *slog.Logger, capacity int) *Outbox {
	if capacity <= 0 {
		capacity = DefaultCapacity
	}
	return &Outbox{log: log, capacity: capacity, msgs: map[string][]Message{}}
}

func (o *Outbox) record(m Message) {
	o.mu.Lock()
	o.seq++
	m.ID = strconv.FormatUint(o.seq, 10)
	m.SentAt = time.Now().UTC()
	list := append(o.msgs[m.TenantID], m)
	if len(list) > o.capacity {
		list = slices.Delete(list, 0, len(list)-o.capacity)
	}
	o.msgs[m.TenantID] = list
	o.mu.Unlock()
	// The codes and links are read from GET /dev/outbox, never from the
	// log: a log is copied to places a secret must not go, dev mode or not.
	o.log.Info("dev outbox: message recorded (read it at GET /dev/outbox)", "kind", m.Kind, "tenant", m.TenantID, "id", m.ID)
}

// Messages returns a tenant's messages, oldest first; to, if not empty,
// keeps only those sent to that address or number.
func (o *Outbox) Messages(tenantID, to string) []Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []Message
	for _, m := range o.msgs[tenantID] {
		if to == "" || m.To == to {
			out = append(out, m)
		}
	}
	return out
}

// Clear forgets a tenant's messages.
func (o *Outbox) Clear(tenantID string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.msgs, tenantID)
}

// Mailer returns the tenant's mail sender.
func (o *Outbox) Mailer(tenantID string) *Mailer { return &Mailer{box: o, tenantID: tenantID} }

// SMS returns the tenant's SMS sender.
func (o *Outbox) SMS(tenantID string) *SMSSender { return &SMSSender{box: o, tenantID: tenantID} }

// Mailer records e-mail for one tenant.
type Mailer struct {
	box      *Outbox
	tenantID string
}

var _ notify.Mailer = (*Mailer)(nil)

// SendMail records m.
func (s *Mailer) SendMail(_ context.Context, m message.Mail) error {
	s.box.record(Message{Kind: KindMail, TenantID: s.tenantID, To: m.To, Subject: m.Subject, Text: m.Text, HTML: m.HTML})
	return nil
}

// SMSSender records text messages for one tenant.
type SMSSender struct {
	box      *Outbox
	tenantID string
}

var _ notify.SMSSender = (*SMSSender)(nil)

// SendSMS records m.
func (s *SMSSender) SendSMS(_ context.Context, m message.SMS) error {
	s.box.record(Message{Kind: KindSMS, TenantID: s.tenantID, To: m.To, Text: m.Text})
	return nil
}

// Unconfigured is the sender of a tenant that has no provider for a channel
// outside dev mode: every send fails as unavailable instead of vanishing.
type Unconfigured struct {
	Channel string // "mail" or "sms"
}

var (
	_ notify.Mailer    = Unconfigured{}
	_ notify.SMSSender = Unconfigured{}
)

// SendMail fails: no mail provider is configured.
func (u Unconfigured) SendMail(context.Context, message.Mail) error { return u.err() }

// SendSMS fails: no SMS provider is configured.
func (u Unconfigured) SendSMS(context.Context, message.SMS) error { return u.err() }

func (u Unconfigured) err() error {
	return errs.ErrUnavailable.WithMessage("No %s provider is configured for this tenant.", u.Channel)
}
