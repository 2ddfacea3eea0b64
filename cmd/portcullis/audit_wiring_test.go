package main

import (
	"context"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/adapters/outbox"
	"github.com/portcullis/portcullis/application/audit"
	"github.com/portcullis/portcullis/application/audit/audittest"
	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/domain/tenant"
)

// TestEveryUseCaseOfATenantHasItsAuditRecorder: a hand-written provider
// that builds a Deps by hand compiles without the Audit field and panics
// at the first event; this walks a built tenant's services and finds
// every audit.Recorder field, which must be set.
func TestEveryUseCaseOfATenantHasItsAuditRecorder(t *testing.T) {
	w := audit.NewWriter(audittest.NewMemoryLog(), audit.WriterOptions{})
	t.Cleanup(func() { _ = w.Close(context.Background()) })
	p := &Platform{Logger: slog.New(slog.DiscardHandler), Clock: provideClock(), Random: provideRandom(),
		MasterKey: make(MasterKey, config.MasterKeySize), Outbox: outbox.New(slog.New(slog.DiscardHandler), 10),
		DevBaseURL: "http://localhost:8080", AuditWriter: w}
	tn := tenant.Default()
	tn.ID = "shop"
	tn.LoginMethods = tenant.LoginMethods
	rt, cleanup, err := initTenant(context.Background(), p, tn)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()

	recorderType := reflect.TypeFor[audit.Recorder]()
	found := map[string]bool{}
	seen := map[uintptr]bool{}
	var walk func(path string, v reflect.Value)
	walk = func(path string, v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() || seen[v.Pointer()] {
				return
			}
			seen[v.Pointer()] = true
			walk(path, v.Elem())
		case reflect.Struct:
			if v.Type().PkgPath() != "" && !strings.HasPrefix(v.Type().PkgPath(), "github.com/portcullis/portcullis/") {
				return
			}
			for i := range v.NumField() {
				f := v.Type().Field(i)
				fv := v.Field(i)
				if f.Type == recorderType {
					found[v.Type().String()+"."+f.Name] = true
					if fv.IsNil() {
						t.Errorf("%s.%s (%s) is nil", path, f.Name, v.Type())
					}
					continue
				}
				walk(path+"."+f.Name, fv)
			}
		case reflect.Interface:
			if !v.IsNil() {
				walk(path, v.Elem())
			}
		}
	}
	walk("TenantServices", reflect.ValueOf(rt))
	for _, deps := range []string{"login.Deps", "password.Deps", "smslogin.Deps", "emaillogin.Deps", "session.Deps",
		"profile.Deps", "recovery.Deps", "mfa.Deps", "adminlogin.Deps", "admin.Deps"} {
		if !found[deps+".Audit"] {
			t.Errorf("no %s.Audit found in the built tenant: the walk missed it", deps)
		}
	}
}
