// Package courier composes a tenant's e-mail from its templates and
// delivers it in the background, so that what a client is told never
// waits on, or depends on, the mail server: a flow stores its secret,
// hands the mail to the courier and answers. The mailer retries temporary
// failures until the deadline the flow gives (the lifetime of the link or
// code the mail carries); a mail that still cannot go is logged under the
// request id, without its content.
//
// A flow whose answer must not tell whether an address has an account —
// in its time as in its body — hands the courier more than the mail: with
// Later it leaves the whole part of its work that depends on the address
// (the account lookup, the secret, the mail) to run after the answer.
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

// Later runs f in the background, after the request is answered,
// detached from the request's cancellation but keeping its values (the
// request id), until deadline; an error f returns is logged under the
// request id with the flow's name. A flow calls it for the part of its
// work that depends on the address it was given (whether an account has
// it, the secret issued for it, the mail sent to it), so that its answer
// comes after the same work whatever the address: what is left to the
// answer (input checks, the client's and the address's budgets) costs
// the same for every address. f may call Send; Wait waits for both.
//
// f's errors never reach a client, and must not hold an address, a link
// or a code: they are logged.
func (c *Courier) Later(ctx context.Context, deadline time.Time, flow string, f func(ctx context.Context) error) {
	rid := platform.RequestID(ctx)
	c.background.Go(ctx, deadline, func(ctx context.Context) {
		if err := f(ctx); err != nil {
			c.log.Warn("mail request failed", "tenant", c.tenantID, "flow", flow, "request_id", rid, "error", err)
		}
	})
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
