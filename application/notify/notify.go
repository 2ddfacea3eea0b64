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
