package e2e_test

// The browser harness: a headless Chromium per test, driven over the
// DevTools protocol (chromedp), for the hosted HTML pages under /auth/.
//
//	b := newBrowser(t)
//	b.open(t, srv.URL+"/auth/signin")
//	b.fill(t, "#email", "ada@example.com")
//	b.submit(t, "button[type=submit]")
//	if got := b.text(t, "h1"); got != "Welcome" { ... }
//	b.screenshot(t, "signin")
//
// Every helper fails the test (t.Fatal) with the page's URL and an excerpt of
// its text when a step fails or takes longer than browserActionTimeout. Every
// Content Security Policy violation on any page the browser shows fails the
// test at its end (or at b.checkCSP): a listener injected before any page
// script reports each securitypolicyviolation event at once, and the browser's
// own console messages about the policy are recorded too.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/storage"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// Bounds on the browser's waits. Each helper call is one "action set" under
// browserActionTimeout, so a page that hangs fails the test instead of
// hanging it; elements of a loaded page are looked for only briefly.
const (
	browserStartTimeout  = 60 * time.Second
	browserActionTimeout = 60 * time.Second
	elementTimeout       = 10 * time.Second
	diagnosisTimeout     = 5 * time.Second
)

// Viewports: the desktop one every browser starts with, and the phone one of
// the second screenshot.
const (
	desktopWidth, desktopHeight = 1280, 900
	phoneWidth, phoneHeight     = 360, 780
)

// cspBinding is the name of the DevTools binding through which the injected
// listener reports each violation as it happens, so that one on a page the
// browser is leaving (say, in the click that submits its form) is not lost.
const cspBinding = "__portcullisCSPViolation"

// cspListener runs in every document before any of the page's scripts. It
// keeps the violations in window.__cspViolations (drained by the helpers) and
// reports each through cspBinding; the id lets the harness count each once.
const cspListener = `(() => {
	if (window.__cspViolations) return;
	const seen = window.__cspViolations = [];
	let n = 0;
	window.addEventListener('securitypolicyviolation', (e) => {
		const v = {
			id: performance.timeOrigin + '/' + (++n),
			violatedDirective: e.violatedDirective,
			blockedURI: e.blockedURI,
			sourceFile: e.sourceFile,
			lineNumber: e.lineNumber,
			sample: e.sample,
			disposition: e.disposition,
			documentURI: e.documentURI,
		};
		seen.push(v);
		try { window.` + cspBinding + `(JSON.stringify(v)); } catch (_) {}
	}, true);
})();`

// browser is one headless Chromium with one tab, its own profile and so its
// own cookies. newBrowser makes it; the helpers below drive it, one at a time
// (subtests that share a browser must not run in parallel).
type browser struct {
	// ctx is the tab's chromedp context. It has no deadline (a deadline on it
	// would end the browser); each helper derives one with a timeout.
	ctx context.Context

	mu       sync.Mutex
	seen     map[string]bool // ids of violations reported by the pages
	pending  []string        // violations not yet reported or taken
	reported int             // violations reported so far (for the counts)
}

// cspViolation is one securitypolicyviolation event as cspListener records it.
type cspViolation struct {
	ID                string `json:"id"`
	ViolatedDirective string `json:"violatedDirective"`
	BlockedURI        string `json:"blockedURI"`
	SourceFile        string `json:"sourceFile"`
	LineNumber        int    `json:"lineNumber"`
	Sample            string `json:"sample"`
	Disposition       string `json:"disposition"`
	DocumentURI       string `json:"documentURI"`
}

// String is the violation in one line: page, directive, what was blocked, where.
func (v cspViolation) String() string {
	s := fmt.Sprintf("%s: %q blocked %q", v.DocumentURI, v.ViolatedDirective, v.BlockedURI)
	if v.SourceFile != "" {
		s += fmt.Sprintf(" at %s:%d", v.SourceFile, v.LineNumber)
	}
	if v.Sample != "" {
		s += fmt.Sprintf(" (sample %q)", v.Sample)
	}
	if v.Disposition == "report" {
		s += " [report-only]"
	}
	return s
}

// chromiumPath is the Chromium to run: $CHROMIUM_PATH, else /usr/bin/chromium,
// else chromium, chromium-browser or google-chrome on the PATH; "" if none.
func chromiumPath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM_PATH"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("CHROMIUM_PATH=%s: %v", p, err)
		}
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile (so its own
// cookies) in a 1280×900 window, with the CSP listener installed for every
// document. Without Chromium the test is skipped, except on CI (CI set),
// where it fails. Cleanup checks the CSP violations and stops the browser.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromiumPath(t)
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("browser tests need Chromium and none is installed; .ci/run installs it (apt-get install chromium chromium-driver), or set CHROMIUM_PATH")
		}
		t.Skip("browser tests need Chromium: apt-get install chromium (or set CHROMIUM_PATH)")
	}

	output := &cappedBuffer{max: 64 << 10}
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(desktopWidth, desktopHeight),
		chromedp.CombinedOutput(output),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browser{seen: map[string]bool{}}
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithListener(b.onEvent))
	b.ctx = ctx
	started := false
	t.Cleanup(func() {
		if started {
			b.checkCSP(t)
		}
		cancelTab()
		cancelAlloc() // stops the process and waits for it
	})

	// The first action starts the browser, whose life is bound to the
	// context of that action: a timer, not a deadline, bounds the start.
	timer := time.AfterFunc(browserStartTimeout, cancelAlloc)
	begin := time.Now()
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, runtime.AddBinding, runtime.AddBindingParams{Name: cspBinding}); err != nil {
			return fmt.Errorf("add the CSP binding: %w", err)
		}
		if _, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspListener}); err != nil {
			return fmt.Errorf("inject the CSP listener: %w", err)
		}
		return nil
	}))
	if !timer.Stop() {
		err = fmt.Errorf("did not start within %s (%v)", browserStartTimeout, err)
	}
	if err != nil {
		t.Fatalf("browser: starting %s: %v\nits output:\n%s", path, err, output)
	}
	started = true
	t.Logf("browser: %s started in %s", path, time.Since(begin).Round(time.Millisecond))
	return b
}

// onEvent records the violations the tab reports. It runs in chromedp's
// read loop: it must be quick and must not send commands.
func (b *browser) onEvent(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventBindingCalled:
		if ev.Name != cspBinding {
			return
		}
		var v cspViolation
		if err := json.Unmarshal([]byte(ev.Payload), &v); err != nil {
			b.record("", "unreadable violation report "+ev.Payload)
			return
		}
		b.record(v.ID, v.String())
	case *cdplog.EventEntryAdded:
		if e := ev.Entry; e != nil && mentionsCSP(e.Text) {
			b.record("", fmt.Sprintf("console (%s %s): %s%s", e.Source, e.Level, e.Text, place(e.URL, e.LineNumber+1)))
		}
	case *runtime.EventConsoleAPICalled:
		var parts []string
		for _, a := range ev.Args {
			parts = append(parts, remoteText(a))
		}
		if text := strings.Join(parts, " "); mentionsCSP(text) {
			b.record("", fmt.Sprintf("console.%s: %s", ev.Type, text))
		}
	case *runtime.EventExceptionThrown:
		if d := ev.ExceptionDetails; d != nil {
			text := d.Text
			if d.Exception != nil {
				text += " " + remoteText(d.Exception)
			}
			if mentionsCSP(text) {
				b.record("", "exception: "+text+place(d.URL, d.LineNumber+1))
			}
		}
	}
}

// record adds a violation; a page's violation (with an id) counts once
// however it arrived.
func (b *browser) record(id, what string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if id != "" {
		if b.seen[id] {
			return
		}
		b.seen[id] = true
	}
	b.pending = append(b.pending, what)
}

// mentionsCSP reports whether a console message is about the policy.
func mentionsCSP(s string) bool { return strings.Contains(s, "Content Security Policy") }

// place is " (url:line)", or "" without a URL.
func place(url string, line int64) string {
	if url == "" {
		return ""
	}
	return fmt.Sprintf(" (%s:%d)", url, line)
}

// remoteText is a console argument as text.
func remoteText(o *runtime.RemoteObject) string {
	if o == nil {
		return ""
	}
	if len(o.Value) > 0 {
		var s string
		if json.Unmarshal(o.Value, &s) == nil {
			return s
		}
		return string(o.Value)
	}
	return o.Description
}

// collect reads the current page's window.__cspViolations, after letting
// the tasks already queued (a violation event is one) run. A web page
// without the listener is a harness failure: its violations would go unseen.
func (b *browser) collect(ctx context.Context) error {
	type pageState struct {
		URL        string         `json:"url"`
		Installed  bool           `json:"installed"`
		Violations []cspViolation `json:"violations"`
	}
	st, err := chromedp.Run(ctx, chromedp.Evaluate[pageState](`new Promise((r) => setTimeout(r, 0)).then(() => ({
		url: location.href,
		installed: Array.isArray(window.__cspViolations),
		violations: window.__cspViolations || [],
	}))`, chromedp.EvalAwaitPromise))
	if err != nil {
		return fmt.Errorf("reading the page's CSP violations: %w", err)
	}
	if !st.Installed && (strings.HasPrefix(st.URL, "http:") || strings.HasPrefix(st.URL, "https:")) {
		return fmt.Errorf("the CSP listener is missing on %s; its violations would go unseen", st.URL)
	}
	for _, v := range st.Violations {
		b.record(v.ID, v.String())
	}
	return nil
}

// violations collects the current page's violations and returns, and
// forgets, every violation recorded so far (so they fail nothing). For the
// harness's self-test and for tests that expect a violation.
func (b *browser) violations(t testing.TB) []string {
	t.Helper()
	b.do(t, "read the CSP violations", diagnosisTimeout, b.collect)
	b.mu.Lock()
	defer b.mu.Unlock()
	v := b.pending
	b.pending = nil
	return v
}

// checkCSP fails the test (t.Errorf) listing every violation recorded since
// the last check, including the current page's. newBrowser's cleanup calls
// it; a test may call it mid-way to fail nearer the cause.
func (b *browser) checkCSP(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, diagnosisTimeout)
	defer cancel()
	if err := b.collect(ctx); err != nil {
		if t.Failed() { // most likely the page that failed the test
			t.Logf("browser: CSP check: %v", err)
		} else {
			t.Errorf("browser: CSP check: %v", err)
		}
	}
	b.mu.Lock()
	v := b.pending
	b.pending = nil
	first := b.reported
	b.reported += len(v)
	b.mu.Unlock()
	if len(v) == 0 {
		return
	}
	var list strings.Builder
	for i, s := range v {
		fmt.Fprintf(&list, "\n\t%d. %s", first+i+1, s)
	}
	t.Errorf("browser: %d Content Security Policy violation(s):%s", len(v), list.String())
}

// do runs f under a fresh timeout and fails the test on error, saying what
// it was doing, where, and what the page showed.
func (b *browser) do(t testing.TB, what string, timeout time.Duration, f func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := f(ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("not done within %s (%w)", timeout, err)
		}
		b.fatal(t, what, err)
	}
}

// fatal fails the test with the current URL and the start of the page text.
func (b *browser) fatal(t testing.TB, what string, err error) {
	t.Helper()
	where, text := b.describe()
	t.Fatalf("browser: %s: %v\n\tpage: %s\n\ttext: %s", what, err, where, text)
}

// describe is the current URL and an excerpt of the page's text, for
// failure messages; it never fails.
func (b *browser) describe() (where, text string) {
	ctx, cancel := context.WithTimeout(b.ctx, diagnosisTimeout)
	defer cancel()
	type state struct {
		URL  string `json:"url"`
		Text string `json:"text"`
	}
	st, err := chromedp.Run(ctx, chromedp.Evaluate[state](`({url: location.href, text: document.body ? document.body.innerText : ''})`))
	if err != nil { // say a page still loading: ask the browser, not the page
		ctx, cancel := context.WithTimeout(b.ctx, diagnosisTimeout)
		defer cancel()
		if info, ierr := chromedp.Call(ctx, target.GetTargetInfo, target.GetTargetInfoParams{}); ierr == nil && info.TargetInfo != nil {
			return info.TargetInfo.URL, "(the page does not answer: " + err.Error() + ")"
		}
		return "(unknown)", "(the page does not answer: " + err.Error() + ")"
	}
	text = strings.Join(strings.Fields(st.Text), " ")
	if r := []rune(text); len(r) > 600 {
		text = string(r[:600]) + "…"
	}
	return st.URL, fmt.Sprintf("%q", text)
}

// jsCall is a JavaScript call of fn with the arguments as JSON literals.
func jsCall(fn string, args ...any) string {
	lits := make([]string, len(args))
	for i, a := range args {
		j, err := json.Marshal(a)
		if err != nil {
			panic(err)
		}
		lits[i] = string(j)
	}
	return "(" + fn + ")(" + strings.Join(lits, ", ") + ")"
}

// waitElement waits (briefly) until selector, a valid CSS selector,
// matches an element.
func waitElement(ctx context.Context, selector string) error {
	invalid, err := chromedp.Run(ctx, chromedp.Evaluate[string](jsCall(`(s) => {
		try { document.querySelector(s); return ''; } catch (e) { return e.message; }
	}`, selector)))
	if err != nil {
		return err
	}
	if invalid != "" {
		return errors.New(invalid)
	}
	_, err = chromedp.Run(ctx, chromedp.PollFunction[bool](`(s) => document.querySelector(s) !== null`,
		chromedp.WithPollingArgs(selector), chromedp.WithPollingMutation(), chromedp.WithPollingTimeout(elementTimeout)))
	if errors.Is(err, chromedp.ErrPollingTimeout) {
		return fmt.Errorf("no element matches %q within %s", selector, elementTimeout)
	}
	return err
}

// check runs a JavaScript check of the element selector matches; a
// non-empty result is what is wrong with it.
func check(ctx context.Context, selector, fn string, args ...any) error {
	if err := waitElement(ctx, selector); err != nil {
		return err
	}
	problem, err := chromedp.Run(ctx, chromedp.Evaluate[string](jsCall(fn, append([]any{selector}, args...)...)))
	if err != nil {
		return err
	}
	if problem != "" {
		return fmt.Errorf("the element %q %s", selector, problem)
	}
	return nil
}

// waitDocument waits for the document to be complete, then collects its
// violations. A poll whose JavaScript context a navigation replaced under
// it (the page of a redirect after a form's post is still committing) is
// polled again in the new one, until ctx ends.
func (b *browser) waitDocument(ctx context.Context) error {
	for {
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.readyState === 'complete'`, chromedp.WithPollingTimeout(0)))
		if err == nil {
			break
		}
		if !contextReplaced(err) || ctx.Err() != nil {
			return fmt.Errorf("waiting for the document to complete: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return b.collect(ctx)
}

// contextReplaced says whether err is the DevTools protocol's answer for
// a JavaScript context that a navigation destroyed while it was used.
func contextReplaced(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Cannot find context with specified id") || strings.Contains(msg, "Execution context was destroyed")
}

// open loads url and waits for the document to complete; it returns the
// HTTP status of the document (after redirects).
func (b *browser) open(t testing.TB, url string) int {
	t.Helper()
	var status int
	b.do(t, "open "+url, browserActionTimeout, func(ctx context.Context) error {
		if err := b.collect(ctx); err != nil { // the page being left
			return err
		}
		resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
		if err != nil {
			return err
		}
		if resp != nil {
			status = int(resp.Status)
		}
		return b.waitDocument(ctx)
	})
	return status
}

// fill types value into the text field (input or textarea) selector
// matches, replacing what it held, as a user would key it in; a select gets
// the option with that value. Checkboxes, radios and buttons take click.
func (b *browser) fill(t testing.TB, selector, value string) {
	t.Helper()
	b.do(t, fmt.Sprintf("fill %q", selector), browserActionTimeout, func(ctx context.Context) error {
		if err := check(ctx, selector, `(s, v) => {
			const el = document.querySelector(s);
			const tag = el.tagName.toLowerCase();
			if (el.getClientRects().length === 0) return 'is not visible';
			if (el.disabled) return 'is disabled';
			if (el.readOnly) return 'is read-only';
			if (tag === 'select') {
				if (![...el.options].some((o) => o.value === v)) return 'has no option with the value ' + JSON.stringify(v);
				el.value = v;
				el.dispatchEvent(new Event('input', {bubbles: true}));
				el.dispatchEvent(new Event('change', {bubbles: true}));
				return '';
			}
			if (tag === 'input' && ['checkbox', 'radio', 'submit', 'button', 'reset', 'image', 'file', 'hidden', 'range', 'color'].includes(el.type))
				return 'is an <input type=' + el.type + '>: use click (or eval)';
			if (tag !== 'input' && tag !== 'textarea') return 'is a <' + tag + '>, not a text field';
			el.focus();
			el.value = '';
			return '';
		}`, value); err != nil {
			return err
		}
		tag, err := chromedp.Run(ctx, chromedp.Evaluate[string](jsCall(`(s) => document.querySelector(s).tagName`, selector)))
		if err != nil {
			return err
		}
		if tag != "SELECT" && value != "" {
			if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(selector), value)); err != nil {
				return err
			}
		}
		return b.collect(ctx)
	})
}

// navigates is the JavaScript check that an element submits a form or
// follows a link: what submit needs and click refuses.
const navigates = `(el) => {
	const c = el.closest('button, input[type=submit], input[type=image], a[href]');
	if (!c) return false;
	if (c.tagName === 'A') {
		const h = c.getAttribute('href');
		return !h.startsWith('#') && !h.startsWith('javascript:') && (c.target === '' || c.target === '_self');
	}
	return c.form !== null && (c.type === 'submit' || c.type === 'image');
}`

// click clicks the element selector matches, with the mouse, and does not
// wait for any navigation: an element that submits a form or follows a link
// is refused (use submit, which waits for the next page).
func (b *browser) click(t testing.TB, selector string) {
	t.Helper()
	b.do(t, fmt.Sprintf("click %q", selector), browserActionTimeout, func(ctx context.Context) error {
		if err := check(ctx, selector, `(s) => {
			const el = document.querySelector(s);
			if (el.getClientRects().length === 0) return 'is not visible';
			if (el.disabled) return 'is disabled';
			if ((`+navigates+`)(el)) return 'submits a form or follows a link: use submit, which waits for the next page';
			return '';
		}`); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(selector))); err != nil {
			return err
		}
		return b.collect(ctx)
	})
}

// submit clicks the element selector matches (a form's submit button, or a
// link) and waits for the new document to complete; it returns the HTTP
// status of that document (after redirects). It fails at once, listing the
// fields, when the browser's own form validation would stop the submission.
func (b *browser) submit(t testing.TB, selector string) int {
	t.Helper()
	var status int
	b.do(t, fmt.Sprintf("submit %q", selector), browserActionTimeout, func(ctx context.Context) error {
		if err := check(ctx, selector, `(s) => {
			const el = document.querySelector(s);
			if (el.getClientRects().length === 0) return 'is not visible';
			if (el.disabled) return 'is disabled';
			if (!(`+navigates+`)(el)) return 'neither submits a form nor follows a link: use click';
			const c = el.closest('button, input, a');
			const form = c.tagName === 'A' ? null : c.form;
			if (form && !form.noValidate && !c.formNoValidate && !form.checkValidity()) {
				const bad = [...form.elements].filter((f) => f.willValidate && !f.checkValidity())
					.map((f) => (f.name || f.id || f.tagName.toLowerCase()) + ': ' + f.validationMessage);
				return 'would not submit: the form is invalid (' + bad.join('; ') + ')';
			}
			return '';
		}`); err != nil {
			return err
		}
		if err := b.collect(ctx); err != nil { // the page being left
			return err
		}
		resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(selector)))
		if err != nil {
			return fmt.Errorf("waiting for the next page: %w", err)
		}
		if resp != nil {
			status = int(resp.Status)
		}
		return b.waitDocument(ctx)
	})
	return status
}

// text is the rendered text (innerText, trimmed) of the element selector
// matches.
func (b *browser) text(t testing.TB, selector string) string {
	t.Helper()
	var text string
	b.do(t, fmt.Sprintf("read the text of %q", selector), browserActionTimeout, func(ctx context.Context) error {
		if err := waitElement(ctx, selector); err != nil {
			return err
		}
		var err error
		text, err = chromedp.Run(ctx, chromedp.Evaluate[string](jsCall(`(s) => document.querySelector(s).innerText`, selector)))
		return err
	})
	return strings.TrimSpace(text)
}

// attr is the attribute name of the element selector matches; "" when the
// element has no such attribute.
func (b *browser) attr(t testing.TB, selector, name string) string {
	t.Helper()
	var value string
	b.do(t, fmt.Sprintf("read the attribute %s of %q", name, selector), browserActionTimeout, func(ctx context.Context) error {
		if err := waitElement(ctx, selector); err != nil {
			return err
		}
		v, err := chromedp.Run(ctx, chromedp.Evaluate[*string](jsCall(`(s, n) => document.querySelector(s).getAttribute(n)`, selector, name)))
		if v != nil {
			value = *v
		}
		return err
	})
	return value
}

// url is the current document's URL.
func (b *browser) url(t testing.TB) string {
	t.Helper()
	var u string
	b.do(t, "read the URL", browserActionTimeout, func(ctx context.Context) (err error) {
		u, err = chromedp.Run(ctx, chromedp.Location())
		return err
	})
	return u
}

// waitVisible waits (up to browserActionTimeout) until the element selector
// matches is present and visible, as after a script shows it.
func (b *browser) waitVisible(t testing.TB, selector string) {
	t.Helper()
	b.do(t, fmt.Sprintf("wait for %q to be visible", selector), browserActionTimeout, func(ctx context.Context) error {
		return chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(selector)))
	})
}

// cookies are all the browser's cookies, HttpOnly ones included, for every
// site (each browser has its own profile, so only this test's).
func (b *browser) cookies(t testing.TB) []*network.Cookie {
	t.Helper()
	var cookies []*network.Cookie
	b.do(t, "read the cookies", browserActionTimeout, func(ctx context.Context) error {
		res, err := chromedp.Call(ctx, storage.GetCookies, storage.GetCookiesParams{})
		cookies = res.Cookies
		return err
	})
	return cookies
}

// eval evaluates the JavaScript expression js in the page (awaiting it when
// it is a promise) and decodes its JSON value into out, unless out is nil.
func (b *browser) eval(t testing.TB, js string, out any) {
	t.Helper()
	b.do(t, "evaluate "+js, browserActionTimeout, func(ctx context.Context) error {
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](js, chromedp.EvalAwaitPromise))
		if err != nil {
			return err
		}
		if out != nil {
			if raw == nil {
				return errors.New("the value is undefined")
			}
			if err := json.Unmarshal(raw, out); err != nil {
				return fmt.Errorf("decoding %s into %T: %w", raw, out, err)
			}
		}
		return b.collect(ctx)
	})
}

// screenshotName is what a screenshot's name may be: part of a file name.
var screenshotName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// screenshot writes full-page PNGs of the current page into the directory
// $PORTCULLIS_SCREENSHOTS names (created if need be; relative to the test
// directory): <name>-1280.png at the desktop width and <name>-360.png as a
// 360 px wide phone; then the desktop viewport is back. Without the variable
// it does nothing (make screenshots sets it).
func (b *browser) screenshot(t testing.TB, name string) {
	t.Helper()
	dir := os.Getenv("PORTCULLIS_SCREENSHOTS")
	if dir == "" {
		return
	}
	if !screenshotName.MatchString(name) {
		t.Fatalf("browser: screenshot name %q: use letters, digits, '.', '_' and '-'", name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("browser: screenshot: %v", err)
	}
	shots := []struct {
		width, height int64
		mobile        bool
	}{
		{desktopWidth, desktopHeight, false},
		{phoneWidth, phoneHeight, true},
	}
	for _, s := range shots {
		file := filepath.Join(dir, fmt.Sprintf("%s-%d.png", name, s.width))
		b.do(t, "screenshot "+file, browserActionTimeout, func(ctx context.Context) error {
			if err := setViewport(ctx, s.width, s.height, s.mobile); err != nil {
				return err
			}
			shot, err := chromedp.Run(ctx, fullPage(s.width))
			if err != nil {
				return err
			}
			return os.WriteFile(file, shot, 0o644)
		})
	}
	b.do(t, "restore the desktop viewport", browserActionTimeout, func(ctx context.Context) error {
		if _, err := chromedp.Call(ctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{}); err != nil {
			return err
		}
		_, err := chromedp.Call(ctx, emulation.SetTouchEmulationEnabled, emulation.SetTouchEmulationEnabledParams{Enabled: false})
		return err
	})
}

// setViewport emulates a viewport (a touch phone when mobile) and waits for
// the page to lay itself out in it.
func setViewport(ctx context.Context, width, height int64, mobile bool) error {
	if _, err := chromedp.Call(ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: width, Height: height, DeviceScaleFactor: 1, Mobile: mobile,
	}); err != nil {
		return err
	}
	if _, err := chromedp.Call(ctx, emulation.SetTouchEmulationEnabled, emulation.SetTouchEmulationEnabledParams{Enabled: mobile}); err != nil {
		return err
	}
	// Two animation frames: the resize has been laid out and painted.
	_, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](
		`new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))`, chromedp.EvalAwaitPromise))
	return err
}

// fullPage captures the whole page, width CSS pixels wide and as tall as its
// content, as a PNG.
func fullPage(width int64) chromedp.Action[[]byte] {
	return func(ctx context.Context, tg *chromedp.Target) ([]byte, error) {
		m, err := cdp.Call(ctx, tg, page.GetLayoutMetrics, cdp.Empty{})
		if err != nil {
			return nil, err
		}
		height := 1.0
		if m.CSSContentSize != nil {
			height = max(height, m.CSSContentSize.Height)
		}
		if m.CSSLayoutViewport != nil {
			height = max(height, float64(m.CSSLayoutViewport.ClientHeight))
		}
		res, err := cdp.Call(ctx, tg, page.CaptureScreenshot, page.CaptureScreenshotParams{
			Format:                page.CaptureScreenshotFormatPng,
			Clip:                  &page.Viewport{X: 0, Y: 0, Width: float64(width), Height: height, Scale: 1},
			CaptureBeyondViewport: new(true),
			FromSurface:           new(true),
		})
		return res.Data, err
	}
}

// cappedBuffer keeps the first max bytes written to it (the browser's
// output, shown when it fails to start).
type cappedBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.max - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (c *cappedBuffer) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// TestBrowserHarness checks the harness itself against a local server: that
// it sees CSP violations (and fails a test over them), fills and submits a
// form through a redirect, keeps browsers apart, and writes screenshots.
//
// It is not parallel: it sets PORTCULLIS_SCREENSHOTS with t.Setenv.
func TestBrowserHarness(t *testing.T) {
	const policy = "default-src 'self'; script-src 'nonce-abc'; form-action 'self'"
	mux := http.NewServeMux()
	respond := func(w http.ResponseWriter, body string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", policy)
		fmt.Fprintf(w, `<!doctype html><html lang="en"><head><meta charset="utf-8">`+
			`<meta name="viewport" content="width=device-width, initial-scale=1"><title>harness</title></head><body>%s</body></html>`, body)
	}
	mux.HandleFunc("GET /dirty", func(w http.ResponseWriter, r *http.Request) {
		respond(w, `<p style="color: red">styled inline</p><script>document.title = 'inline script ran';</script>`)
	})
	mux.HandleFunc("GET /clean", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "visited", Value: "yes", Path: "/", HttpOnly: true})
		respond(w, `<h1>Sign up</h1><p id="js">no script</p>
<form method="post" action="/greet"><label>Name <input id="name" name="name" required></label>
<label>Colour <select id="colour" name="colour"><option value="red">red</option><option value="blue">blue</option></select></label>
<button id="toggle" type="button">toggle</button><button id="go" type="submit">Go</button></form>
<script nonce="abc">document.getElementById('js').textContent = 'script ran';
document.getElementById('toggle').addEventListener('click', () => { document.getElementById('js').textContent = 'toggled'; });</script>`)
	})
	mux.HandleFunc("POST /greet", func(w http.ResponseWriter, r *http.Request) {
		q := url.Values{"name": {r.PostFormValue("name")}, "colour": {r.PostFormValue("colour")}}
		http.Redirect(w, r, "/result?"+q.Encode(), http.StatusSeeOther)
	})
	mux.HandleFunc("GET /result", func(w http.ResponseWriter, r *http.Request) {
		var body strings.Builder
		fmt.Fprintf(&body, `<p id="greeting">Hello, %s (%s)</p>`, html.EscapeString(r.URL.Query().Get("name")), html.EscapeString(r.URL.Query().Get("colour")))
		for range 60 { // taller than the viewport, for the full-page shots
			body.WriteString(`<p>filler line</p>`)
		}
		respond(w, body.String())
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	b := newBrowser(t)

	t.Run("sees CSP violations", func(t *testing.T) {
		b.open(t, srv.URL+"/dirty")
		got := b.violations(t)
		joined := strings.Join(got, "\n")
		// Each violation once from the page's listener, once from the console.
		for _, want := range []string{`"script-src-elem" blocked "inline"`, `"style-src-attr" blocked "inline"`,
			"console (security error): Executing inline script violates", "console (security error): Applying inline style violates"} {
			if n := strings.Count(joined, want); n != 1 {
				t.Errorf("%d records of %s, want 1; recorded:\n%s", n, want, joined)
			}
		}
		if title := b.text(t, "title"); title == "inline script ran" {
			t.Errorf("the inline script without the nonce ran")
		}
		if len(b.violations(t)) != 0 {
			t.Errorf("violations are not forgotten once taken")
		}

		// A violation reaches the harness even when the page's own record
		// of it is gone (as with a page left at once): through the binding.
		b.open(t, srv.URL+"/clean")
		b.eval(t, `new Promise((done) => {
			addEventListener('securitypolicyviolation', () => setTimeout(() => { window.__cspViolations.length = 0; done(); }), {once: true});
			document.body.insertAdjacentHTML('beforeend', '<p style="color: red">late</p>');
		})`, nil)
		if got := strings.Join(b.violations(t), "\n"); !strings.Contains(got, `"style-src-attr" blocked "inline"`) {
			t.Errorf("a violation whose page record was cleared went unseen; recorded:\n%s", got)
		}

		// Left on the page, a violation fails the test at checkCSP.
		b.open(t, srv.URL+"/dirty")
		b.open(t, srv.URL+"/clean") // the violations of a page left count too
		rec := &recordingTB{TB: t}
		b.checkCSP(rec)
		if len(rec.errors) != 1 || !strings.Contains(rec.errors[0], "Content Security Policy violation") ||
			!strings.Contains(rec.errors[0], srv.URL+"/dirty") {
			t.Errorf("checkCSP reported %q; want one error listing the violations of %s/dirty", rec.errors, srv.URL)
		}
		rec = &recordingTB{TB: t}
		b.checkCSP(rec)
		if len(rec.errors) != 0 {
			t.Errorf("checkCSP reported the same violations twice: %q", rec.errors)
		}
	})

	t.Run("fills and submits a form", func(t *testing.T) {
		if status := b.open(t, srv.URL+"/clean"); status != http.StatusOK {
			t.Errorf("open: status %d, want 200", status)
		}
		if got := b.text(t, "#js"); got != "script ran" {
			t.Errorf("#js = %q; the nonce'd script did not run", got)
		}
		b.click(t, "#toggle")
		if got := b.text(t, "#js"); got != "toggled" {
			t.Errorf("#js = %q after click, want toggled", got)
		}
		if got := b.attr(t, "#name", "required"); got != "" {
			t.Errorf("attr required = %q, want \"\"", got)
		}
		if got := b.attr(t, "form", "action"); got != "/greet" {
			t.Errorf("attr action = %q, want /greet", got)
		}
		b.fill(t, "#name", "first")
		b.fill(t, "#name", "Ada <Lovelace>") // replaces
		b.fill(t, "#colour", "blue")
		if status := b.submit(t, "#go"); status != http.StatusOK {
			t.Errorf("submit: status %d, want 200", status)
		}
		if got, want := b.text(t, "#greeting"), "Hello, Ada <Lovelace> (blue)"; got != want {
			t.Errorf("result page says %q, want %q", got, want)
		}
		if u := b.url(t); !strings.HasPrefix(u, srv.URL+"/result?") {
			t.Errorf("url = %s, want the result page", u)
		}
		b.waitVisible(t, "#greeting")
		var sum int
		b.eval(t, `Promise.resolve(20 + 22)`, &sum)
		if sum != 42 {
			t.Errorf("eval = %d, want 42", sum)
		}
		var found bool
		for _, c := range b.cookies(t) {
			found = found || (c.Name == "visited" && c.Value == "yes" && c.HTTPOnly)
		}
		if !found {
			t.Errorf("the HttpOnly cookie visited=yes is not among the cookies")
		}
		if other := newBrowser(t); len(other.cookies(t)) != 0 {
			t.Errorf("a new browser shares cookies: %v", other.cookies(t))
		}
		b.checkCSP(t)
	})

	t.Run("writes screenshots", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "shots")
		t.Setenv("PORTCULLIS_SCREENSHOTS", dir)
		b.screenshot(t, "result")
		for _, width := range []int{desktopWidth, phoneWidth} {
			file := filepath.Join(dir, fmt.Sprintf("result-%d.png", width))
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(f)
			f.Close()
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			size := img.Bounds().Size()
			if size.X != width {
				t.Errorf("%s is %d px wide, want %d", file, size.X, width)
			}
			if size.Y <= desktopHeight {
				t.Errorf("%s is %d px tall: not the full page (the page is taller than %d px)", file, size.Y, desktopHeight)
			}
		}
		var w int
		b.eval(t, `window.innerWidth`, &w)
		if w != desktopWidth {
			t.Errorf("after the screenshots the viewport is %d px wide, want %d", w, desktopWidth)
		}
	})
}

// recordingTB is a testing.TB whose Errorf is recorded instead of failing.
type recordingTB struct {
	testing.TB
	errors []string
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
