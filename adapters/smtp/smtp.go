// Package smtp sends a tenant's mail through its SMTP server, on
// github.com/wneessen/go-mail. The dev-mode sender that records mail
// instead is adapters/outbox.
//
// Every header value is checked before a connection is opened: a line
// break or other control character in the recipient, the subject, the
// sender or the reply-to address is refused, so no input can add a header.
// Certificates are always verified (TLS 1.2 or later); the only way around
// that, InsecureSkipVerify, is refused for any host but a loopback one.
package smtp

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mathrand "math/rand/v2"
	"net"
	"net/mail"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"

	gomail "github.com/wneessen/go-mail"

	"github.com/portcullis/portcullis/adapters/credential"
	"github.com/portcullis/portcullis/adapters/tracing"
	"github.com/portcullis/portcullis/application/notify"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/message"
	"github.com/portcullis/portcullis/domain/tenant"
)

// Defaults of Options.
const (
	// DefaultTimeout bounds one attempt's connection: connecting, the TLS
	// handshake and each step of the SMTP exchange.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxElapsed bounds one SendMail, retries and waits included,
	// when the context has no deadline; callers normally pass a context
	// that ends with the lifetime of the code or link being mailed.
	DefaultMaxElapsed = 10 * time.Minute
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = time.Minute
)

// Options configure a Mailer.
type Options struct {
	Host string
	// Port is the server's port; 0 means the TLS mode's submission port
	// (587 for STARTTLS, 465 for implicit TLS, 25 for none).
	Port int
	// TLS is the mode: tenant.SMTPStartTLS (the default when empty; the
	// server must offer STARTTLS), tenant.SMTPImplicitTLS, or
	// tenant.SMTPNoTLS (clear text, for a loopback host only).
	TLS tenant.SMTPTLS
	// InsecureSkipVerify accepts any certificate; refused unless Host is
	// localhost or a loopback address.
	InsecureSkipVerify bool
	// Username, when set, authenticates (AUTH PLAIN, else LOGIN, else what
	// the server offers) with Password; the credentials are only ever sent
	// over TLS or to a loopback host.
	Username string
	Password credential.Secret
	// From is the sender, an address with an optional display name
	// ("Shop <no-reply@shop.example>"); ReplyTo, optional, likewise.
	From    string
	ReplyTo string

	Timeout time.Duration // per attempt; DefaultTimeout when zero
	// MaxElapsed bounds a whole SendMail when its context has no deadline;
	// DefaultMaxElapsed when zero.
	MaxElapsed time.Duration
	// MinBackoff and MaxBackoff bound the exponential backoff between
	// attempts (with jitter).
	MinBackoff time.Duration
	MaxBackoff time.Duration

	// Tenant names the tenant in log records.
	Tenant string
	// Logger receives one record per failed attempt: the tenant, the
	// recipient's domain, the SMTP reply code and the attempt number,
	// never an address, a subject, a body or the password. nil discards.
	Logger *slog.Logger

	// rootCAs replaces the system's roots; only tests set it
	// (export_test.go), to trust a certificate they made.
	rootCAs *x509.CertPool
}

// LogValue lists the options with the password masked.
func (o Options) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("host", o.Host),
		slog.Int("port", o.Port),
		slog.String("tls", string(o.TLS)),
		slog.Bool("insecure_skip_verify", o.InsecureSkipVerify),
		slog.String("username", o.Username),
		slog.Any("password", o.Password),
		slog.Duration("timeout", o.Timeout),
	)
}

// Mailer sends mail through one tenant's SMTP server.
type Mailer struct {
	opts    Options
	from    *mail.Address
	replyTo *mail.Address
	idHost  string // the domain of Message-IDs: the sender's
	helo    string
	tls     *tls.Config
	log     *slog.Logger
}

var _ notify.Mailer = (*Mailer)(nil)

// NewMailer checks the options and fills in their defaults.
func NewMailer(o Options) (*Mailer, error) {
	if o.TLS == "" {
		o.TLS = tenant.SMTPStartTLS
	}
	loopback := isLoopback(o.Host)
	switch {
	case o.Host == "" || hasControl(o.Host) || strings.ContainsAny(o.Host, " /@"):
		return nil, errors.New("smtp: host is required and must be a host name or IP address")
	case o.TLS != tenant.SMTPStartTLS && o.TLS != tenant.SMTPImplicitTLS && o.TLS != tenant.SMTPNoTLS:
		return nil, fmt.Errorf("smtp: unknown TLS mode %q", o.TLS)
	case o.TLS == tenant.SMTPNoTLS && !loopback:
		return nil, errors.New("smtp: TLS mode none is allowed only for localhost, 127.0.0.1 or ::1")
	case o.InsecureSkipVerify && !loopback:
		return nil, errors.New("smtp: insecure_skip_verify is allowed only for localhost, 127.0.0.1 or ::1")
	case o.Port < 0 || o.Port > 65535:
		return nil, errors.New("smtp: port must be between 1 and 65535")
	case (o.Username == "") != o.Password.IsZero():
		return nil, errors.New("smtp: username and password go together")
	case hasControl(o.Username):
		return nil, errors.New("smtp: username must not contain control characters")
	}
	if o.Port == 0 {
		o.Port = tenant.DefaultSMTPPort(o.TLS)
	}
	from, err := headerAddress(o.From)
	if err != nil {
		return nil, fmt.Errorf("smtp: from: %w", err)
	}
	m := &Mailer{from: from, idHost: domainOf(from.Address)}
	if o.ReplyTo != "" {
		if m.replyTo, err = headerAddress(o.ReplyTo); err != nil {
			return nil, fmt.Errorf("smtp: reply-to: %w", err)
		}
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxElapsed <= 0 {
		o.MaxElapsed = DefaultMaxElapsed
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(DefaultMaxBackoff, o.MinBackoff)
	}
	m.helo, err = os.Hostname()
	if err != nil || m.helo == "" || hasControl(m.helo) || strings.ContainsAny(m.helo, " ") {
		m.helo = "localhost"
	}
	m.tls = &tls.Config{
		ServerName:         strings.Trim(o.Host, "[]"),
		MinVersion:         tls.VersionTLS12,
		RootCAs:            o.rootCAs,
		InsecureSkipVerify: o.InsecureSkipVerify && loopback, // loopback only, checked above
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m.log = log.With("component", "smtp", "tenant", o.Tenant)
	m.opts = o
	return m, nil
}

// String describes the mailer without its password. String, Format and
// LogValue have value receivers so that a copied Mailer masks too.
func (m Mailer) String() string {
	return fmt.Sprintf("smtp.Mailer{host: %s, port: %d, tls: %s, username: %q, password: %s}",
		m.opts.Host, m.opts.Port, m.opts.TLS, m.opts.Username, credential.Masked)
}

// Format prints String for every verb, %#v included: the default printers
// would walk into the options.
func (m Mailer) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, m.String()) }

// LogValue describes the mailer without its password.
func (m Mailer) LogValue() slog.Value { return m.opts.LogValue() }

// Errors of SendMail, matched with errors.Is; a *DeliveryError wraps one
// of them.
var (
	// ErrRejected: the server refused the message, our credentials or the
	// connection's security for good (a 5xx reply, a certificate that
	// does not verify); retrying cannot help.
	ErrRejected = errs.E(errs.Invalid, "mail_rejected", "The e-mail could not be delivered.")
	// ErrUnavailable: every attempt failed temporarily (4xx replies,
	// connection errors, timeouts) until the context ended.
	ErrUnavailable = errs.E(errs.Unavailable, "mail_unavailable", "E-mail cannot be sent right now; try again later.")
)

// DeliveryError is a delivery that failed: for good (Permanent), or
// temporarily on every attempt the context allowed. Its text names the
// step and the server's reply with the recipient's local part and the
// password masked, so that callers can log it.
type DeliveryError struct {
	Permanent bool
	// Code is the SMTP reply code of the last attempt; 0 when there was
	// none (a network, timeout or TLS failure).
	Code int
	// EnhancedCode is the server's enhanced status code ("5.1.1"), if any.
	EnhancedCode string
	Attempts     int
	reason       string
}

func (e *DeliveryError) Error() string {
	how := "temporarily"
	if e.Permanent {
		how = "permanently"
	}
	return fmt.Sprintf("smtp: delivery failed %s after %d attempt(s): %s", how, e.Attempts, e.reason)
}

// Unwrap returns ErrRejected or ErrUnavailable, so that errs.KindOf and
// errors.Is see the kind.
func (e *DeliveryError) Unwrap() error {
	if e.Permanent {
		return ErrRejected
	}
	return ErrUnavailable
}

// SendMail delivers m, retrying temporary failures (4xx replies,
// connection errors, timeouts) with exponential backoff and jitter until
// it succeeds, fails for good (5xx, a certificate that does not verify),
// or the context ends (MaxElapsed when it has no deadline); that failure
// is a *DeliveryError. A recipient or subject that could carry a header
// injection (a line break or other control character, or a recipient
// that is not one address), or a mail without a text body, is an
// errs.Invalid error naming the field, before any connection is made.
func (m *Mailer) SendMail(ctx context.Context, mm message.Mail) (err error) {
	ctx, span := tracing.StartClient(ctx, "smtp send")
	defer func() { tracing.End(span, err) }()
	msg, rcpt, err := m.build(mm)
	if err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, m.opts.MaxElapsed)
		defer cancel()
	}
	rcptDomain := domainOf(rcpt.Address)
	for attempt := 1; ; attempt++ {
		err := m.attempt(ctx, msg)
		if err == nil || msg.IsDelivered() {
			// Delivered: a failure after the server took the message (its
			// QUIT, say) must not send it twice.
			return nil
		}
		f := classify(err)
		de := &DeliveryError{Permanent: f.permanent, Code: f.code, EnhancedCode: f.enhanced, Attempts: attempt,
			reason: m.scrub(err.Error(), rcpt.Address)}
		if f.permanent {
			m.log.WarnContext(ctx, "mail refused for good", "rcpt_domain", rcptDomain, "smtp_code", f.code, "attempt", attempt)
			return de
		}
		wait := backoff(attempt-1, m.opts.MinBackoff, m.opts.MaxBackoff)
		deadline, _ := ctx.Deadline() // always set, see above
		if ctx.Err() != nil || time.Now().Add(wait).After(deadline) {
			m.log.WarnContext(ctx, "mail delivery failed; giving up", "rcpt_domain", rcptDomain, "smtp_code", f.code, "attempt", attempt)
			return de
		}
		m.log.InfoContext(ctx, "mail delivery failed; retrying", "rcpt_domain", rcptDomain, "smtp_code", f.code, "attempt", attempt)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return de
		case <-timer.C:
		}
	}
}

// build makes the message once, for every attempt (one Message-ID). The
// recipient and subject are checked here: the sender and reply-to were
// checked by NewMailer.
func (m *Mailer) build(mm message.Mail) (*gomail.Msg, *mail.Address, error) {
	var fields []errs.FieldError
	to, err := headerAddress(mm.To)
	if err != nil {
		fields = append(fields, errs.FieldError{Field: "to", Reason: err.Error()})
	}
	if hasControl(mm.Subject) {
		fields = append(fields, errs.FieldError{Field: "subject", Reason: "must not contain line breaks or other control characters"})
	}
	if mm.Text == "" {
		fields = append(fields, errs.FieldError{Field: "text", Reason: "is required: every mail has a plain-text body"})
	}
	if len(fields) > 0 {
		return nil, nil, errs.InvalidFields(fields...).WithMessage("The e-mail cannot be sent: a header is invalid.")
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(m.from)
	msg.ToMailAddress(to)
	if m.replyTo != nil {
		msg.ReplyToMailAddress(m.replyTo)
	}
	msg.Subject(mm.Subject)
	msg.SetMessageIDWithValue(messageID() + "@" + m.idHost)
	msg.SetDateWithValue(time.Now())
	msg.SetBodyString(gomail.TypeTextPlain, mm.Text)
	if mm.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, mm.HTML)
	}
	return msg, to, nil
}

// attempt makes one connection and sends msg over it. The connection is
// closed when the attempt ends, whatever state it stopped in, and at once
// when the context ends.
func (m *Mailer) attempt(ctx context.Context, msg *gomail.Msg) error {
	timeout := m.opts.Timeout
	if deadline, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(deadline))
	}
	if timeout <= 0 {
		return context.DeadlineExceeded
	}
	var conns connSet
	defer conns.close()
	stop := context.AfterFunc(ctx, conns.close)
	defer stop()

	dial := func(dctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		raw, err := d.DialContext(dctx, network, addr)
		if err != nil {
			return nil, err
		}
		if !conns.add(raw) {
			return nil, net.ErrClosed // the context ended while dialling
		}
		if m.opts.TLS != tenant.SMTPImplicitTLS {
			return raw, nil
		}
		tc := tls.Client(raw, m.tls)
		if err := tc.HandshakeContext(dctx); err != nil {
			return nil, err
		}
		return tc, nil
	}
	opts := []gomail.Option{
		gomail.WithPort(m.opts.Port), gomail.WithTimeout(timeout), gomail.WithDialContextFunc(dial),
		gomail.WithHELO(m.helo), gomail.WithTLSConfig(m.tls), gomail.WithoutNoop(), gomail.WithoutRset(),
	}
	switch m.opts.TLS {
	case tenant.SMTPStartTLS:
		// Mandatory: a server (or a man in the middle) that does not
		// offer STARTTLS gets nothing.
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case tenant.SMTPImplicitTLS:
		// The dialer above speaks TLS from the first byte.
		opts = append(opts, gomail.WithSSL(), gomail.WithTLSPolicy(gomail.NoTLS))
	case tenant.SMTPNoTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if m.opts.Username != "" {
		opts = append(opts, gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthPlain, gomail.SMTPAuthLogin),
			gomail.WithUsername(m.opts.Username), gomail.WithPassword(m.opts.Password.Reveal()))
	}
	c, err := gomail.NewClient(strings.Trim(m.opts.Host, "[]"), opts...)
	if err != nil {
		return fmt.Errorf("smtp: client: %w", err)
	}
	return c.DialAndSendWithContext(ctx, msg)
}

// connSet holds an attempt's connection so that it can be closed from
// the context's AfterFunc as well as when the attempt returns.
type connSet struct {
	mu     sync.Mutex
	conns  []net.Conn
	closed bool
}

// add keeps c; it closes c and reports false when the set is closed.
func (s *connSet) add(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = c.Close()
		return false
	}
	s.conns = append(s.conns, c)
	return true
}

func (s *connSet) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for _, c := range s.conns {
		_ = c.Close()
	}
	s.conns = nil
}

// failure is what an attempt's error means for the next one.
type failure struct {
	permanent bool
	code      int
	enhanced  string
}

// classify sorts an attempt's error: an SMTP reply is temporary when it is
// 4xx and permanent when 5xx; a network error, timeout or dropped
// connection is temporary; a certificate or TLS failure, a server without
// STARTTLS or AUTH, and anything else unexpected is permanent (an operator
// must act, and retrying would only repeat it).
func classify(err error) failure {
	var se *gomail.SendError
	if errors.As(err, &se) {
		if code := se.ErrorCode(); code != 0 {
			return failure{permanent: code/100 != 4, code: code, enhanced: se.EnhancedStatusCode()}
		}
		switch se.Reason {
		case gomail.ErrGetSender, gomail.ErrGetRcpts, gomail.ErrNoUnencoded:
			return failure{permanent: true}
		}
		return failure{} // the connection failed mid-transaction
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		return failure{permanent: te.Code/100 != 4, code: te.Code}
	}
	var (
		cve   *tls.CertificateVerificationError
		uae   x509.UnknownAuthorityError
		he    x509.HostnameError
		cie   x509.CertificateInvalidError
		rhe   tls.RecordHeaderError
		alert tls.AlertError
	)
	if errors.As(err, &cve) || errors.As(err, &uae) || errors.As(err, &he) || errors.As(err, &cie) ||
		errors.As(err, &rhe) || errors.As(err, &alert) {
		return failure{permanent: true}
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return failure{}
	}
	return failure{permanent: true}
}

// scrub keeps an error's text fit for a log: the recipient's local part
// and the password masked, and the length bounded.
func (m *Mailer) scrub(s, rcpt string) string {
	if pw := m.opts.Password.Reveal(); pw != "" {
		s = strings.ReplaceAll(s, pw, credential.Masked)
	}
	if rcpt != "" {
		s = strings.ReplaceAll(s, rcpt, credential.Masked+"@"+domainOf(rcpt))
	}
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return s
}

// headerAddress parses one address for a header, refusing control
// characters in the text and in the parsed name and address (an encoded
// display name can decode to a line break).
func headerAddress(s string) (*mail.Address, error) {
	if hasControl(s) {
		return nil, errors.New("must not contain line breaks or other control characters")
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, errors.New("is not an e-mail address")
	}
	if hasControl(a.Name) || hasControl(a.Address) {
		return nil, errors.New("must not contain line breaks or other control characters")
	}
	return a, nil
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == unicode.ReplacementChar })
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return strings.ToLower(addr[i+1:])
	}
	return ""
}

func isLoopback(host string) bool {
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// messageID returns 128 random bits, as the local part of a Message-ID.
func messageID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return strings.ToLower(idEncoding.EncodeToString(b)) + "." + strconv.FormatInt(time.Now().Unix(), 36)
}

// backoff is min·2^attempt capped at max, with equal jitter: somewhere in
// [d/2, d), so that many senders retrying at once spread out.
func backoff(attempt int, minD, maxD time.Duration) time.Duration {
	d := minD
	for i := 0; i < attempt && d < maxD; i++ {
		d *= 2
	}
	d = min(d, maxD)
	half := d / 2
	return half + mathrand.N(half+1)
}
