package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/portcullis/portcullis/adapters/mongo"
	"github.com/portcullis/portcullis/application/keyring"
)

// keysUsage is the help of the keys commands.
var keysUsage = `usage:
  portcullis keys rotate -tenant ID [-now] [-config FILE]

rotate stores a new signing key for the tenant. It is published in the
tenant's JWKS at once and signs new tokens ` + keyring.PublishLead.String() + ` later (keyring.PublishLead:
longer than the JWKS cache lifetime, so that every verifier knows it first);
the old key is still published and accepted until the tokens it signed have
expired (tokens.access_ttl plus 90s), then retired. With -now the new key
signs at once: for up to 5 minutes, its tokens fail with verifiers that
cached the JWKS before it. Running servers pick the new key up within 30s.
tokens.key_rotation rotates on a period instead.`

// keysCommand runs portcullis keys.
func keysCommand(args []string, out, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "rotate" {
		fmt.Fprintln(stderr, keysUsage)
		return 2
	}
	fs := flag.NewFlagSet("portcullis keys rotate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := configFlag(fs)
	tenantID := fs.String("tenant", "", "the tenant whose signing key to rotate")
	now := fs.Bool("now", false, "the new key signs at once instead of after "+keyring.PublishLead.String())
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "portcullis keys rotate: "+format+"\n", a...)
		return 1
	}
	if *tenantID == "" {
		return fail("-tenant is required")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, db, t, closeDB, err := openTenant(ctx, *configPath, *tenantID)
	if err != nil {
		return fail("%v", err)
	}
	defer closeDB()
	mk, err := provideMasterKey(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return fail("%v", err)
	}
	sealer, err := provideSealer(mk)
	if err != nil {
		return fail("%v", err)
	}
	ring := provideKeyring(t, mongo.NewKeyStore(db), sealer, provideClock(), provideRandom())
	old, err := ring.Current(ctx)
	if err != nil {
		return fail("%v", err)
	}
	lead := keyring.PublishLead
	if *now {
		lead = 0
	}
	k, err := ring.Rotate(ctx, lead)
	if err != nil {
		return fail("%v", err)
	}
	retire := k.ActivatesAt.Add(t.Tokens.Access + keyring.Refresh + time.Minute)
	fmt.Fprintf(out, "tenant %s: key %s (generation %d) is published, and signs from %s;\n"+
		"key %s (generation %d) is accepted until %s, then retired\n",
		t.ID, k.ID, k.Generation, k.ActivatesAt.Format(time.RFC3339), old.ID, old.Generation, retire.Format(time.RFC3339))
	return 0
}
