// Package sms sends text messages through a Twilio-compatible REST API
// (POST {base}/2010-04-01/Accounts/{sid}/Messages.json). The dev-mode sender
// that records messages instead is adapters/outbox.
package sms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/portcullis/portcullis/adapters/tracing"
	"github.com/portcullis/portcullis/application/notify"
	"github.com/portcullis/portcullis/domain/errs"
	"github.com/portcullis/portcullis/domain/message"
)

// Defaults of Options.
const (
	DefaultBaseURL = "https://api.twilio.com"
	// DefaultAttemptTimeout bounds one request: the provider answers a
	// healthy send in well under a second.
	DefaultAttemptTimeout = 5 * time.Second
	// DefaultMaxElapsed bounds one SendSMS, retries and waits included,
	// when the caller's context allows longer: a user is waiting for the
	// answer of the request that sends the code.
	DefaultMaxElapsed = 15 * time.Second
	DefaultMinBackoff = 250 * time.Millisecond
	DefaultMaxBackoff = 4 * time.Second
)

// Options configure a Twilio sender.
type Options struct {
	BaseURL    string // scheme and host (and optional path prefix); DefaultBaseURL when empty
	AccountSID string
	AuthToken  Secret
	// Exactly one of From (a number in E.164 form or a sender id) and
	// MessagingServiceSID (the provider picks the sender) is set.
	From                string
	MessagingServiceSID string

	// Client sends the requests; nil means a client of its own. Its own
	// Timeout, if any, applies on top of AttemptTimeout.
	Client         *http.Client
	AttemptTimeout time.Duration // per request; DefaultAttemptTimeout when zero
	// MaxElapsed bounds a whole SendSMS; the context's deadline (the code's
	// lifetime) bounds it too, whichever comes first.
	MaxElapsed time.Duration
	// MinBackoff and MaxBackoff bound the exponential backoff between
	// retries (with jitter); a Retry-After from the provider overrides it.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// Logger receives retries and misconfiguration reports; never a token,
	// never a message body. nil discards.
	Logger *slog.Logger
}

// LogValue lists the options with the token masked.
func (o Options) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("base_url", o.BaseURL),
		slog.String("account_sid", o.AccountSID),
		slog.Any("auth_token", o.AuthToken),
		slog.String("from", o.From),
		slog.String("messaging_service_sid", o.MessagingServiceSID),
		slog.Duration("attempt_timeout", o.AttemptTimeout),
		slog.Duration("max_elapsed", o.MaxElapsed),
	)
}

// Twilio sends SMS through a Twilio-compatible REST API.
type Twilio struct {
	endpoint string // full Messages.json URL
	opts     Options
	client   *http.Client
	log      *slog.Logger
}

var _ notify.SMSSender = (*Twilio)(nil)

// NewTwilio checks the options and fills in their defaults.
func NewTwilio(o Options) (*Twilio, error) {
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(o.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("sms: base URL must be an http(s) URL without credentials, query or fragment")
	}
	switch {
	case o.AccountSID == "" || strings.ContainsAny(o.AccountSID, "/?#% \t\r\n"):
		return nil, errors.New("sms: account SID is required and must not contain URL delimiters")
	case o.AuthToken.IsZero():
		return nil, errors.New("sms: auth token is required")
	case (o.From == "") == (o.MessagingServiceSID == ""):
		return nil, errors.New("sms: exactly one of From and MessagingServiceSID must be set")
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = DefaultAttemptTimeout
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
	client := o.Client
	if client == nil {
		client = &http.Client{}
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Twilio{
		endpoint: strings.TrimSuffix(o.BaseURL, "/") + "/2010-04-01/Accounts/" + url.PathEscape(o.AccountSID) + "/Messages.json",
		opts:     o,
		client:   client,
		log:      log.With("component", "sms", "provider", "twilio", "account_sid", o.AccountSID),
	}, nil
}

// String describes the sender without its token.
func (t *Twilio) String() string {
	return fmt.Sprintf("sms.Twilio{endpoint: %s, auth_token: %s}", t.endpoint, masked)
}

// Format prints String for every verb, %#v included: the default printers
// would walk into the options and print the token.
func (t *Twilio) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, t.String()) }

// LogValue describes the sender without its token.
func (t *Twilio) LogValue() slog.Value { return t.opts.LogValue() }

// Client-safe reasons for the "phone" field, by provider error code.
var invalidNumber = map[int]string{
	21211: "is not a valid phone number",
	21217: "is not a valid phone number",
	21401: "is not a valid phone number",
	21421: "is not a valid phone number",
	21614: "is not a mobile number that can receive text messages",
	21612: "cannot be reached by text message",
	21408: "is in a region this service does not send text messages to",
	21610: "has opted out of text messages from this service",
	21265: "must not be a short code",
}

// Provider codes that mean our credentials or sender are wrong: retrying
// cannot help, and an operator must act.
var misconfigured = map[int]bool{
	20003: true, // authentication failed
	20404: true, // account (or resource) not found
	21212: true, // invalid From number
	21606: true, // From number is not SMS-capable
	21659: true, // From is not a number of this account
	21703: true, // messaging service has no sender
}

// SendSMS posts m, retrying network errors, 429 and 5xx answers with
// backoff until the send succeeds, the context ends or MaxElapsed passes.
// An invalid destination is an Invalid error on field "phone"; anything
// else that fails is Unavailable with a Retry-After.
func (t *Twilio) SendSMS(ctx context.Context, m message.SMS) (err error) {
	ctx, span := tracing.StartClient(ctx, "sms send", attribute.String("provider", "twilio"))
	defer func() { tracing.End(span, err) }()
	form := url.Values{"To": {m.To}, "Body": {m.Text}}
	if t.opts.MessagingServiceSID != "" {
		form.Set("MessagingServiceSid", t.opts.MessagingServiceSID)
	} else {
		form.Set("From", t.opts.From)
	}
	body := form.Encode()
	ctx, cancel := context.WithTimeout(ctx, t.opts.MaxElapsed)
	defer cancel()

	for attempt := 0; ; attempt++ {
		out := t.attempt(ctx, body, m.Text)
		if out.err == nil {
			return nil
		}
		if !out.retry {
			return out.err
		}
		wait := backoff(attempt, t.opts.MinBackoff, t.opts.MaxBackoff)
		if out.retryAfter > 0 {
			wait = out.retryAfter
		}
		deadline, _ := ctx.Deadline() // always set: MaxElapsed
		if ctx.Err() != nil || time.Now().Add(wait).After(deadline) {
			t.log.WarnContext(ctx, "sms provider unavailable, giving up", "attempts", attempt+1, "error", out.cause)
			return unavailable(out.retryAfter, out.cause)
		}
		t.log.InfoContext(ctx, "sms provider failed, retrying", "attempt", attempt+1, "wait", wait, "error", out.cause)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return unavailable(out.retryAfter, out.cause)
		case <-timer.C:
		}
	}
}

// outcome is one attempt's result.
type outcome struct {
	err        error         // nil on success
	retry      bool          // worth another attempt
	retryAfter time.Duration // the provider's Retry-After, if any
	cause      error         // what went wrong, for logs and wrapping
}

// providerError is the error body of the API.
type providerError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

func (t *Twilio) attempt(ctx context.Context, body, text string) outcome {
	actx, cancel := context.WithTimeout(ctx, t.opts.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, t.endpoint, strings.NewReader(body))
	if err != nil {
		return t.fail(fmt.Errorf("sms: build request: %w", err), false, 0)
	}
	req.SetBasicAuth(t.opts.AccountSID, t.opts.AuthToken.Reveal())
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := t.client.Do(req)
	if err != nil {
		// The *url.Error names the endpoint (account SID, no credentials).
		return t.fail(fmt.Errorf("sms: send: %w", err), true, 0)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return outcome{}
	}

	var pe providerError
	_ = json.Unmarshal(raw, &pe)
	cause := fmt.Errorf("sms: provider answered %d, code %d: %s (%s)", resp.StatusCode, pe.Code,
		t.scrub(pe.Message, text), pe.MoreInfo)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || pe.Code == 20429:
		return t.fail(cause, true, retryAfter(resp.Header.Get("Retry-After")))
	case resp.StatusCode >= 500:
		return t.fail(cause, true, retryAfter(resp.Header.Get("Retry-After")))
	case invalidNumber[pe.Code] != "":
		return outcome{err: errs.InvalidFields(errs.FieldError{Field: "phone", Reason: invalidNumber[pe.Code]}).Wrap(cause), cause: cause}
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden || misconfigured[pe.Code]:
		t.log.ErrorContext(ctx, "sms provider refused our account settings: check the tenant's sms.provider configuration",
			"status", resp.StatusCode, "code", pe.Code, "more_info", pe.MoreInfo)
		return t.fail(cause, false, 0)
	default:
		t.log.ErrorContext(ctx, "sms provider refused the message", "status", resp.StatusCode, "code", pe.Code, "more_info", pe.MoreInfo)
		return t.fail(cause, false, 0)
	}
}

func (t *Twilio) fail(cause error, retry bool, after time.Duration) outcome {
	o := outcome{retry: retry, retryAfter: after, cause: cause}
	if !retry {
		o.err = unavailable(0, cause)
	} else {
		o.err = cause
	}
	return o
}

// scrub removes the token and the message text (it holds the code) from a
// provider's message before it reaches an error string or a log: an API
// that echoes the request must not leak either.
func (t *Twilio) scrub(s, text string) string {
	if tok := t.opts.AuthToken.Reveal(); tok != "" {
		s = strings.ReplaceAll(s, tok, masked)
	}
	if text != "" {
		s = strings.ReplaceAll(s, text, masked)
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// unavailable is the error a client sees for a provider that is down,
// throttling us, or refusing our account: retry later.
func unavailable(after time.Duration, cause error) *errs.Error {
	secs := errs.DefaultRetryAfter
	if after > 0 {
		secs = int((after + time.Second - 1) / time.Second)
	}
	return errs.ErrUnavailable.WithMessage("Text messages cannot be sent right now; try again later.").WithRetryAfter(secs).Wrap(cause)
}

// retryAfter reads a Retry-After header: delay seconds or an HTTP date.
func retryAfter(h string) time.Duration {
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if at, err := http.ParseTime(h); err == nil {
		if d := time.Until(at); d > 0 {
			return d
		}
	}
	return 0
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
	return half + rand.N(half+1)
}
