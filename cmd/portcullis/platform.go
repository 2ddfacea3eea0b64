package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/adapters/mongo"
	"github.com/portcullis/portcullis/config"
)

// platformUsage is the help of the platform commands.
const platformUsage = `usage:
  portcullis platform key create -id ID [-scopes tenants:read,tenants:write] [-config FILE]

key create makes a platform API key for /platform/v1 and prints it once:
pk.<id>.<secret>. Only the SHA-256 of the secret is stored (platform_keys),
so a lost key cannot be shown again: make another. Keys may also be listed
in the platform configuration (platform_api_keys, with the SHA-256 of their
secret).`

// platformCommand runs portcullis platform.
func platformCommand(args []string, out, stderr io.Writer) int {
	if len(args) < 2 || args[0] != "key" || args[1] != "create" {
		fmt.Fprintln(stderr, platformUsage)
		return 2
	}
	fs := flag.NewFlagSet("portcullis platform key create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := configFlag(fs)
	id := fs.String("id", "", "the key's id: 1 to 32 lowercase letters, digits and dashes")
	scopes := fs.String("scopes", config.ScopeTenantsRead+","+config.ScopeTenantsWrite, "the key's scopes, comma-separated")
	if err := fs.Parse(args[2:]); err != nil {
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "portcullis platform key create: "+format+"\n", a...)
		return 1
	}
	if !config.PlatformKeyID.MatchString(*id) {
		return fail("-id %q must be 1 to 32 lowercase letters, digits and dashes", *id)
	}
	var list []string
	for _, s := range strings.Split(*scopes, ",") {
		s = strings.TrimSpace(s)
		if s != config.ScopeTenantsRead && s != config.ScopeTenantsWrite {
			return fail("-scopes: %q is not a scope (%s, %s)", s, config.ScopeTenantsRead, config.ScopeTenantsWrite)
		}
		if !slices.Contains(list, s) {
			list = append(list, s)
		}
	}
	cfg, err := config.Load(*configPath, os.Environ())
	if err != nil {
		return fail("%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db, closeDB, err := provideMongo(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return fail("open the store: %v", err)
	}
	defer closeDB()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return fail("%v", err)
	}
	secret := base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(secret))
	if err := mongo.NewPlatformKeyStore(db).Create(ctx, mongo.PlatformKey{ID: *id, SHA256: sum[:], Scopes: list, CreatedAt: time.Now().UTC()}); err != nil {
		return fail("%v", err)
	}
	fmt.Fprintf(out, "pk.%s.%s\n", *id, secret)
	fmt.Fprintf(stderr, "platform key %s (%s) created; it is shown only now\n", *id, strings.Join(list, ", "))
	return 0
}
