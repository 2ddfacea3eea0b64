package mailtmpl

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	texttemplate "text/template"
	"text/template/parse"
	"time"
	"unicode/utf8"

	"github.com/portcullis/portcullis/domain/message"
)

const layoutFile = "layout.html"

// New parses the default templates and the overrides of opts.OverrideDir
// and checks them all by rendering every kind with sample data, once with
// every field set and once with only what the kind needs. A file that does
// not parse, uses a field a template does not have, uses range, template,
// define or block, fails to render, renders a subject that is not one
// line, leaves out the link or code of its kind (or, with
// opts.VerificationCode, the code given to a verification mail), or
// renders more than MaxOutput bytes is an error naming the file and the
// reason.
func New(opts Options) (*Templates, error) {
	name := opts.TenantName
	if strings.TrimSpace(name) == "" {
		return nil, errors.New("mailtmpl: the tenant name is required")
	}
	if hasControl(name) {
		return nil, errors.New("mailtmpl: the tenant name must not contain line breaks or control characters")
	}
	brand, err := checkBrand(opts.Brand)
	if err != nil {
		return nil, err
	}
	src, err := newSources(opts.OverrideDir)
	if err != nil {
		return nil, err
	}
	t := &Templates{tenant: name, brand: brand, verificationCode: opts.VerificationCode,
		colours: strings.NewReplacer(primarySentinel, brand.PrimaryColor, labelSentinel, labelColour(brand.PrimaryColor))}
	set, err := src.parseAll()
	if err != nil {
		return nil, err
	}
	t.layout, t.kinds = set.layout, set.kinds
	// Every tenant is dry-run, on the shared defaults too: its name and
	// options are part of what is rendered (a long name can overflow the
	// subject's limit).
	for _, kind := range message.MailKinds() {
		if err := t.dryRun(set.kinds[kind]); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// set is a parsed and checked layout with the templates of every kind. It
// holds nothing of a tenant's (the button's colours are filled in after
// rendering, see button), so one set of the built-in files serves every
// tenant without overrides, and a tenant's overrides are parsed beside
// the shared built-in parts.
type set struct {
	layout part
	kinds  map[message.MailKind]*kindSet
}

// defaultParts parses every built-in file once per process: thousands of
// tenants share them (about 200 KB of parse trees each otherwise).
var defaultParts = sync.OnceValues(func() (map[string]part, error) {
	src := &sources{}
	parts := map[string]part{}
	for name := range known() {
		p, err := src.parseFile(name)
		if err != nil {
			return nil, err
		}
		parts[name] = p
	}
	return parts, nil
})

// defaultSet is the set of the built-in files alone.
var defaultSet = sync.OnceValues(func() (*set, error) {
	return (&sources{}).buildSet()
})

// parseAll returns the set of s: without overrides the shared set of the
// built-in files; else its overrides, parsed now, and the shared built-in
// parts for the rest.
func (s *sources) parseAll() (*set, error) {
	if len(s.overrides) == 0 {
		return defaultSet()
	}
	return s.buildSet()
}

// buildSet builds the set of s's parts (see parse).
func (s *sources) buildSet() (*set, error) {
	out := &set{kinds: map[message.MailKind]*kindSet{}}
	var err error
	if out.layout, err = s.parse(layoutFile); err != nil {
		return nil, err
	}
	for _, kind := range message.MailKinds() {
		ks := &kindSet{kind: kind}
		if ks.subject, err = s.parse(string(kind) + ".subject.txt"); err != nil {
			return nil, err
		}
		if ks.text, err = s.parse(string(kind) + ".txt"); err != nil {
			return nil, err
		}
		if ks.html, err = s.parse(string(kind) + ".html"); err != nil {
			return nil, err
		}
		out.kinds[kind] = ks
	}
	return out, nil
}

// fileError is a problem with one template file.
type fileError struct {
	origin string
	err    error
}

func (e *fileError) Error() string {
	return "mailtmpl: " + e.origin + ": " + strings.TrimPrefix(e.err.Error(), "template: ")
}

func (e *fileError) Unwrap() error { return e.err }

var hexColour = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// checkBrand fills in the default colours and refuses anything but CSS hex
// colours: the layout puts them into style attributes, where html/template
// would turn anything it cannot prove harmless into "ZgotmplZ".
func checkBrand(b Brand) (Brand, error) {
	for _, c := range []struct {
		field string
		value *string
		def   string
	}{
		{"primary_color", &b.PrimaryColor, DefaultPrimaryColor},
		{"text_color", &b.TextColor, DefaultTextColor},
		{"background_color", &b.BackgroundColor, DefaultBackgroundColor},
	} {
		if *c.value == "" {
			*c.value = c.def
		} else if !hexColour.MatchString(*c.value) {
			return Brand{}, fmt.Errorf("mailtmpl: brand.%s: %q is not a CSS hex colour (#rgb or #rrggbb)", c.field, *c.value)
		}
	}
	return b, nil
}

// sources finds each template file: in the override directory when it has
// it, else among the defaults.
type sources struct {
	dir       string
	overrides map[string]bool
}

// known are the names of every template file.
func known() map[string]bool {
	names := map[string]bool{layoutFile: true}
	for _, k := range message.MailKinds() {
		names[string(k)+".subject.txt"] = true
		names[string(k)+".txt"] = true
		names[string(k)+".html"] = true
	}
	return names
}

func newSources(dir string) (*sources, error) {
	s := &sources{dir: dir, overrides: map[string]bool{}}
	if dir == "" {
		return s, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("mailtmpl: override directory: %w", err)
	}
	names := known()
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() {
			continue
		}
		if names[n] {
			s.overrides[n] = true
			continue
		}
		if ext := path.Ext(n); ext == ".txt" || ext == ".html" {
			return nil, &fileError{origin: filepath.Join(dir, n), err: fmt.Errorf(
				"is not a mail template this server knows: the names are <kind>.subject.txt, <kind>.txt and <kind>.html for the kinds %s, and %s", kindList(), layoutFile)}
		}
	}
	return s, nil
}

func kindList() string {
	var ks []string
	for _, k := range message.MailKinds() {
		ks = append(ks, string(k))
	}
	return strings.Join(ks, ", ")
}

// read returns the text of the named file and where it came from.
func (s *sources) read(name string) (text, origin string, err error) {
	if !s.overrides[name] {
		origin = "templates/" + name + " (built in)"
		b, err := defaults.ReadFile("templates/" + name)
		if err != nil {
			return "", origin, &fileError{origin: origin, err: err}
		}
		return string(b), origin, nil
	}
	origin = filepath.Join(s.dir, name)
	f, err := os.Open(origin)
	if err != nil {
		return "", origin, &fileError{origin: origin, err: err}
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxOutput+1))
	switch {
	case err != nil:
		return "", origin, &fileError{origin: origin, err: err}
	case len(b) > MaxOutput:
		return "", origin, &fileError{origin: origin, err: fmt.Errorf("is larger than %d bytes", MaxOutput)}
	case !utf8.Valid(b):
		return "", origin, &fileError{origin: origin, err: errors.New("is not UTF-8 text")}
	}
	return string(b), origin, nil
}

// parse returns the named part: the override's, parsed now, or the
// shared built-in one.
func (s *sources) parse(name string) (part, error) {
	if !s.overrides[name] {
		parts, err := defaultParts()
		if err != nil {
			return part{}, err
		}
		return parts[name], nil
	}
	return s.parseFile(name)
}

// parseFile reads and parses the named file (text/template for .txt,
// html/template for .html) and checks its shape and the fields it uses:
// those of the layout for the layout, else those of a kind.
func (s *sources) parseFile(name string) (part, error) {
	fields := kindFields
	if name == layoutFile {
		fields = layoutFields
	}
	text, origin, err := s.read(name)
	if err != nil {
		return part{}, err
	}
	p := part{name: name, origin: origin}
	var tree *parse.Tree
	var count int
	if strings.HasSuffix(name, ".html") {
		t, err := htmltemplate.New(name).Funcs(htmlFuncs).Parse(text)
		if err != nil {
			return part{}, &fileError{origin: origin, err: err}
		}
		p.tmpl, tree, count = t, t.Tree, len(t.Templates())
	} else {
		if strings.HasSuffix(name, ".subject.txt") {
			// An editor's final newline is not part of the subject.
			text = strings.TrimRight(text, "\r\n")
		}
		t, err := texttemplate.New(name).Funcs(textFuncs).Parse(text)
		if err != nil {
			return part{}, &fileError{origin: origin, err: err}
		}
		p.tmpl, tree, count = t, t.Tree, len(t.Templates())
	}
	if count > 1 {
		return part{}, &fileError{origin: origin, err: errors.New("must not use define or block: a mail template is one template")}
	}
	if tree != nil && tree.Root != nil {
		if err := checkTree(tree.Root, fields); err != nil {
			return part{}, &fileError{origin: origin, err: err}
		}
	}
	return p, nil
}

// The fields a template may name. Names are checked wherever they appear,
// in every branch, whatever dot is there: a misspelt field is an error even
// on a branch the dry run does not take.
var (
	kindFields   = fieldSet("Tenant", "Brand", "Name", "Email", "Link", "Code", "Expires", "When", "IP", "Device", "NewEmail", "Reason", "Left")
	layoutFields = fieldSet("Tenant", "Brand", "Name", "Email", "Link", "Code", "Expires", "When", "IP", "Device", "NewEmail", "Reason", "Left", "Subject", "Body")
	brandFields  = fieldSet("PrimaryColor", "TextColor", "BackgroundColor")
)

func fieldSet(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

func fieldNames(fields map[string]bool) string {
	var ns []string
	for n := range fields {
		ns = append(ns, "."+n)
	}
	sort.Strings(ns)
	return strings.Join(ns, ", ")
}

// checkTree refuses loops and template calls (with no loop and no call,
// rendering takes time in proportion to the template's size) and fields
// the template does not have.
func checkTree(n parse.Node, fields map[string]bool) error {
	field := func(idents []string) error {
		for _, id := range idents {
			if !fields[id] && !brandFields[id] {
				return fmt.Errorf("has no field .%s (the fields are %s; .Brand has .PrimaryColor, .TextColor and .BackgroundColor)", id, fieldNames(fields))
			}
		}
		return nil
	}
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkTree(c, fields); err != nil {
				return err
			}
		}
	case *parse.RangeNode:
		return errors.New("must not use range: a mail template has no loops")
	case *parse.TemplateNode:
		return errors.New("must not use template: a mail template is one template")
	case *parse.IfNode:
		return firstErr(checkTree(n.Pipe, fields), checkTree(n.List, fields), checkTree(n.ElseList, fields))
	case *parse.WithNode:
		return firstErr(checkTree(n.Pipe, fields), checkTree(n.List, fields), checkTree(n.ElseList, fields))
	case *parse.ActionNode:
		return checkTree(n.Pipe, fields)
	case *parse.PipeNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Cmds {
			if err := checkTree(c, fields); err != nil {
				return err
			}
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			if err := checkTree(a, fields); err != nil {
				return err
			}
		}
	case *parse.FieldNode:
		return field(n.Ident)
	case *parse.VariableNode:
		return field(n.Ident[1:]) // Ident[0] is the variable
	case *parse.ChainNode:
		return firstErr(checkTree(n.Node, fields), field(n.Field))
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// safeFuncs replaces the built-in functions whose results can outgrow
// their arguments (print $x $x doubles, js doubles backslashes) with ones
// that refuse a result larger than MaxOutput: a chain of them in a
// variable could otherwise build gigabytes before anything is written to
// the capped writer.
func safeFuncs() map[string]any {
	capped := func(s string) (string, error) {
		if len(s) > MaxOutput {
			return "", fmt.Errorf("%w: a value of more than %d bytes", ErrTooLarge, MaxOutput)
		}
		return s, nil
	}
	return map[string]any{
		"print":   func(a ...any) (string, error) { return capped(fmt.Sprint(a...)) },
		"printf":  func(f string, a ...any) (string, error) { return capped(fmt.Sprintf(f, a...)) },
		"println": func(a ...any) (string, error) { return capped(fmt.Sprintln(a...)) },
		"js":      func(a ...any) (string, error) { return capped(texttemplate.JSEscaper(a...)) },
		"html":    func(a ...any) (string, error) { return capped(texttemplate.HTMLEscaper(a...)) },
		"urlquery": func(a ...any) (string, error) {
			return capped(texttemplate.URLQueryEscaper(a...))
		},
	}
}

// buttonHTML is the link button of the HTML mails: a table cell, which
// mail clients paint reliably, and the link written out below it for
// clients that show no button.
var buttonHTML = htmltemplate.Must(htmltemplate.New("button").Parse(
	`<table role="presentation" cellspacing="0" cellpadding="0" border="0" style="margin:24px 0">` +
		`<tr><td style="border-radius:6px;background-color:{{.Color}}">` +
		`<a href="{{.Link}}" style="display:inline-block;padding:12px 24px;border-radius:6px;font-weight:bold;text-decoration:none;color:{{.Label}}">{{.Text}}</a>` +
		`</td></tr></table>` +
		`<p style="font-size:13px">If the button does not work, copy this link into your browser:<br>` +
		`<a href="{{.Link}}" style="color:{{.Color}};word-break:break-all">{{.Link}}</a></p>`))

// The functions of the templates: the same for every tenant, so that
// parsed templates can be shared.
var (
	textFuncs = safeFuncs()
	htmlFuncs = func() htmltemplate.FuncMap {
		fs := htmltemplate.FuncMap{"button": button}
		for k, f := range textFuncs {
			fs[k] = f
		}
		return fs
	}()
)

// The button's colours while rendering: random names, new in every
// process, that no template or data can know. Templates.render replaces
// them with the tenant's primary colour and the label colour on it. They
// are CSS identifiers, which html/template passes unchanged into a style
// attribute.
var primarySentinel, labelSentinel = func() (string, string) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	x := hex.EncodeToString(b)
	return "pcbrand" + x + "primary", "pcbrand" + x + "label"
}()

// button renders buttonHTML in the sentinel colours, which rendering
// replaces with the tenant's; nothing for an empty link.
func button(link, text string) (htmltemplate.HTML, error) {
	if link == "" {
		return "", nil
	}
	w := &cappedWriter{max: MaxOutput}
	err := buttonHTML.Execute(w, struct{ Link, Text, Color, Label string }{link, text, primarySentinel, labelSentinel})
	if err != nil {
		return "", err
	}
	return htmltemplate.HTML(w.b.String()), nil // rendered by html/template: escaped already
}

// labelColour is black or white, whichever reads better on the hex colour
// bg (by its YIQ brightness).
func labelColour(bg string) string {
	h := strings.TrimPrefix(bg, "#")
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	v, err := strconv.ParseUint(h, 16, 32)
	if err != nil {
		return "#ffffff"
	}
	r, g, b := v>>16&0xff, v>>8&0xff, v&0xff
	if (r*299+g*587+b*114)/1000 >= 150 {
		return "#000000"
	}
	return "#ffffff"
}

// Sample data of the dry run.
const (
	sampleLink = "https://example.com/sample-link?token=SAMPLE"
	sampleCode = "314159"
)

// samples are the data a kind is dry-run with: every field set, and only
// what the kind needs.
func samples(kind message.MailKind) []message.MailData {
	full := message.MailData{
		Name: "Ada", Email: "ada@example.com", Link: sampleLink, Code: sampleCode, Expires: 30 * time.Minute,
		When: time.Date(2025, 1, 2, 15, 4, 0, 0, time.UTC), IP: "192.0.2.1", Device: "Firefox on Linux",
		NewEmail: "ada.new@example.com", Reason: "with this e-mail address, which already has one", Left: 3,
	}
	least := message.MailData{Email: "ada@example.com"}
	n := kindNeeds[kind]
	if n.link {
		least.Link, least.Expires = sampleLink, time.Hour
	}
	if n.code {
		least.Code, least.Expires = sampleCode, 5*time.Minute
	}
	if n.newEmail {
		least.NewEmail = full.NewEmail
	}
	return []message.MailData{full, least}
}

// dryRun renders the kind with each sample and checks the result.
func (t *Templates) dryRun(k *kindSet) error {
	const bodyMark = "<!-- body -->"
	for _, d := range samples(k.kind) {
		m, p, err := t.render(k, t.view(d))
		if err != nil {
			if errors.Is(err, ErrHeader) {
				err = errors.New("must render to one line: a subject has no line breaks or control characters")
			}
			return &fileError{origin: p.origin, err: err}
		}
		if strings.TrimSpace(m.Subject) == "" {
			return &fileError{origin: k.subject.origin, err: errors.New("renders an empty subject")}
		}
		if strings.TrimSpace(m.Text) == "" {
			return &fileError{origin: k.text.origin, err: errors.New("renders an empty text")}
		}
		// The layout must show the body.
		v := t.view(d)
		v.Subject, v.Body = m.Subject, bodyMark
		if page, err := execute(t.layout, v, MaxOutput); err != nil || !strings.Contains(page, bodyMark) {
			if err == nil {
				err = errors.New("must show the mail's body: use {{.Body}}")
			}
			return &fileError{origin: t.layout.origin, err: err}
		}
		n := kindNeeds[k.kind]
		givenCode := k.kind == message.MailVerification && t.verificationCode && d.Code != ""
		for _, need := range []struct {
			on          bool
			value, what string
		}{
			{n.link, d.Link, "the link: use {{.Link}}"},
			{n.code, d.Code, "the code: use {{.Code}}"},
			{givenCode, d.Code, "the code when it is given one (the tenant's email.verification_code): use {{.Code}}"},
		} {
			if !need.on {
				continue
			}
			if !strings.Contains(m.Text, need.value) {
				return &fileError{origin: k.text.origin, err: errors.New("must show " + need.what)}
			}
			if !strings.Contains(m.HTML, need.value) {
				return &fileError{origin: k.html.origin, err: errors.New("must show " + need.what)}
			}
		}
	}
	return nil
}
