package pages

import (
	"io/fs"
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/portcullis/portcullis/domain/tenant"
)

// Every language a tenant may choose has a catalogue, with the keys of
// the English one: a page never shows a key or falls back by accident.
func TestCataloguesHaveTheSameKeys(t *testing.T) {
	cats, err := Catalogs()
	if err != nil {
		t.Fatal(err)
	}
	en := cats["en"]
	if len(en) == 0 {
		t.Fatal("no English catalogue")
	}
	for _, lang := range tenant.Languages {
		c, ok := cats[lang]
		if !ok {
			t.Errorf("tenant.Languages has %q, which has no catalogue", lang)
			continue
		}
		for k := range en {
			if c[k] == "" {
				t.Errorf("%s lacks %q", lang, k)
			}
		}
		for k := range c {
			if _, ok := en[k]; !ok {
				t.Errorf("%s has %q, which English has not", lang, k)
			}
		}
	}
	for lang := range cats {
		if !slices.Contains(tenant.Languages, lang) {
			t.Errorf("catalogue %s is not in tenant.Languages: no tenant could choose it", lang)
		}
	}
}

// Every message key the templates and handlers name is in the catalogue.
func TestEveryKeyUsedExists(t *testing.T) {
	cats, err := Catalogs()
	if err != nil {
		t.Fatal(err)
	}
	keyLit := regexp.MustCompile(`"((?:app|common|signin|register|signout|forgot|reset|verify|magic|sms|emailcode|mfa|enroll|account|error|lang)\.[a-z_0-9]+)"`)
	var sources []string
	_ = fs.WalkDir(templateFS, "templates", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := templateFS.ReadFile(p)
			sources = append(sources, string(b))
		}
		return nil
	})
	for _, f := range []string{"pages.go", "flows.go", "view.go", "captcha.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, string(b))
	}
	n := 0
	for _, src := range sources {
		for _, m := range keyLit.FindAllStringSubmatch(src, -1) {
			n++
			if _, ok := cats["en"][m[1]]; !ok {
				t.Errorf("%q is used but not in the catalogue", m[1])
			}
		}
	}
	if n < 50 {
		t.Fatalf("found only %d keys in use: the pattern no longer matches how keys are written", n)
	}
}

// T fills arguments in and falls back to English, then to the key.
func TestTranslate(t *testing.T) {
	v := &view{cat: Catalog{"a": "Hallo {0}, {1}"}, fallback: Catalog{"a": "Hello {0}", "b": "Only English"}}
	if got := v.T("a", "Ada", 3); got != "Hallo Ada, 3" {
		t.Errorf("T(a) = %q", got)
	}
	if got := v.T("b"); got != "Only English" {
		t.Errorf("T(b) = %q, want the English fallback", got)
	}
	if got := v.T("c"); got != "c" {
		t.Errorf("T(c) = %q, want the key", got)
	}
}

// The templates parse with the layout, each defining its main block.
func TestTemplatesParse(t *testing.T) {
	for _, name := range pageNames {
		tpl, err := parsePage(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if tpl.Lookup("main") == nil || tpl.Lookup("layout") == nil {
			t.Errorf("%s: no main or layout block", name)
		}
	}
}
