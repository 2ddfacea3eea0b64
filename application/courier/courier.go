// Package courier composes a tenant's e-mail from its templates and
// delivers it in the background, so that what a client is told never
// waits on, or depends on, the mail server: a flow stores its secret,
// hands the mail to the courier and answers. The mailer retries temporary
// failures until the deadline the flow gives (the lifetime of the link or
// code the mail carries); a mail that still cannot go is logged under the
// request id, without its content.
package courier

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/portcullis/portcullis/application/notify"
	"github.com/portcullis/portcullis/application/platform"
	"github.com/portcullis/portcullis/domain/message"
)

// Courier is one tenant's mail delivery.
type Courier struct {
	tenantID string
	compose  notify.Composer
	mail     notify.Mailer
	log      *slog.Logger

	background platform.Background
}

// New returns the courier of a tenant.
func New(tenantID string, compose notify.Composer, mail notify.Mailer, log *slog.Logger) *Courier {
	if log == nil {
		log = slog.Default()
	}
	return &Courier{tenantID: tenantID, compose: compose, mail: mail, log: log}
}

// Send composes the mail of kind for to and delivers it in the background
// until deadline. It fails only when the mail cannot be composed (a
// template or a flow that lacks what the kind needs), which would fail for
// every address alike; nothing is sent then.
func (c *Courier) Send(ctx context.Context, kind message.MailKind, to string, d message.MailData, deadline time.Time) error {
	m, err := c.compose.Compose(kind, to, d)
	if err != nil {
		return fmt.Errorf("courier: compose %s: %w", kind, err)
	}
	rid := platform.RequestID(ctx)
	c.background.Go(ctx, deadline, func(ctx context.Context) {
		if err := c.mail.SendMail(ctx, m); err != nil {
			c.log.Warn("mail not delivered", "tenant", c.tenantID, "kind", string(kind), "request_id", rid,
				"to_domain", domainOf(to), "error", err)
		}
	})
	return nil
}

// Rehearse composes the mail of kind and sends nothing: a flow answering
// for an address without an account calls it where it would call Send, so
// that both answers cost the same work.
func (c *Courier) Rehearse(kind message.MailKind, d message.MailData) {
	_, _ = c.compose.Compose(kind, "nobody@example.invalid", d)
}

// Wait waits until the mail being delivered has gone or been given up, or
// ctx ends.
func (c *Courier) Wait(ctx context.Context) error { return c.background.Wait(ctx) }

// domainOf is the part of an address after its last "@": enough to tell a
// provider's trouble from a mailbox's, without logging the mailbox.
func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return ""
}
