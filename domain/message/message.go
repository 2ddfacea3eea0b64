// Package message holds the messages Portcullis sends people: e-mails and
// SMS texts.
package message

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
