// Package notify declares the ports through which use cases reach people:
// e-mail and SMS. Each tenant has its own senders, built from its providers'
// credentials.
package notify

import (
	"context"

	"github.com/portcullis/portcullis/domain/message"
)

// Mailer sends e-mail.
type Mailer interface {
	SendMail(ctx context.Context, m message.Mail) error
}

// SMSSender sends text messages.
type SMSSender interface {
	SendSMS(ctx context.Context, m message.SMS) error
}

// Composer turns a kind of e-mail and what it should show into the mail to
// send: subject, plain text and HTML, in one tenant's words and colours.
//
// There is one Composer per tenant, built with the tenant. Its templates
// are parsed and checked once, when it is built (a template that does not
// parse, uses an unknown field or fails to render stops the tenant from
// building); Compose never parses, and is safe for concurrent use. Compose
// does no I/O and is bounded in time and output, which is why it takes no
// context.
//
// Compose fails, and nothing should be sent, when the kind is unknown,
// when data lacks what the kind needs (a link, a code), when Link is not
// an absolute http(s) URL, or when to or the rendered subject would hold a
// line break (a header injection). Its errors never contain the link, the
// code or other data, so a caller may log them.
type Composer interface {
	Compose(kind message.MailKind, to string, d message.MailData) (message.Mail, error)
}
