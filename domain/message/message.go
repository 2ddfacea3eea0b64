// Package message holds the messages Portcullis sends people: e-mails and
// SMS texts.
package message

import "time"

// Mail is one e-mail.
type Mail struct {
	To      string
	Subject string
	Text    string // plain-text body
	HTML    string // optional HTML body
}

// SMS is one text message to a phone number in E.164 form.
type SMS struct {
	To   string
	Text string
}

// MailKind names what an e-mail is for. Each kind has its own templates
// (subject, text, HTML); its value is the stem of their file names.
type MailKind string

// The kinds of e-mail Portcullis sends.
const (
	// MailVerification asks the recipient to confirm their address (Link).
	MailVerification MailKind = "verification"
	// MailPasswordReset carries a link that sets a new password (Link).
	MailPasswordReset MailKind = "password_reset"
	// MailMagicLink carries a link that signs the recipient in (Link).
	MailMagicLink MailKind = "magic_link"
	// MailEmailCode carries a one-time sign-in code (Code).
	MailEmailCode MailKind = "email_code"
	// MailSignupNotice tells the owner of an account that someone tried to
	// register with its address or phone number (Reason says which).
	MailSignupNotice MailKind = "signup_notice"
	// MailPasswordChanged tells the owner that the password was changed.
	MailPasswordChanged MailKind = "password_changed"
	// MailNewSignIn tells the owner of a sign-in from a new device or place.
	MailNewSignIn MailKind = "new_signin"
	// MailEmailChanged tells the old address that the account's address
	// was changed (to NewEmail).
	MailEmailChanged MailKind = "email_changed"
	// MailBackupCodeUsed tells the owner that one of the account's
	// second-factor backup codes was used (Left of them remain).
	MailBackupCodeUsed MailKind = "backup_code_used"
	// MailAdminActivation carries the code that activates an admin
	// account before its first sign-in (Code; seed 002's admin login).
	MailAdminActivation MailKind = "admin_activation"
	// MailInvite invites the owner of an account an admin created, which
	// has no password yet, to set one (Link).
	MailInvite MailKind = "invite"
)

// MailKinds lists every kind, in a fixed order.
func MailKinds() []MailKind {
	return []MailKind{MailVerification, MailPasswordReset, MailMagicLink, MailEmailCode,
		MailSignupNotice, MailPasswordChanged, MailNewSignIn, MailEmailChanged, MailBackupCodeUsed, MailAdminActivation, MailInvite}
}

// Valid reports whether k is one of MailKinds.
func (k MailKind) Valid() bool {
	for _, x := range MailKinds() {
		if k == x {
			return true
		}
	}
	return false
}

// MailData is what a mail template may show. The caller fills what the
// kind needs; the rest stays zero and the templates leave it out.
type MailData struct {
	// Name is the recipient's first name; may be empty.
	Name string
	// Email is the recipient's address.
	Email string
	// Link is an absolute http(s) URL, built by the caller from the
	// tenant's configured base URL (never from the request's Host).
	Link string
	// Code is the one-time code of an email_code or admin_activation
	// mail.
	Code string
	// Expires is how long Link or Code stays valid.
	Expires time.Duration
	// When is when the event a notice reports happened.
	When time.Time
	// IP is the client address of that event.
	IP string
	// Device summarises the client's user agent ("Firefox on Linux").
	Device string
	// NewEmail is the account's new address, in an email_changed notice.
	NewEmail string
	// Reason completes "Someone tried to create an account …" in a
	// signup_notice, e.g. "with this e-mail address, which already has one".
	Reason string
	// Left is how many backup codes the account has left, in a
	// backup_code_used notice.
	Left int
}
