package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/portcullis/portcullis/adapters/http/server"
)

// bareCommand is the hidden subcommand that serves the reference handler.
const bareCommand = "bare"

// bareUser is the reference handler's answer: about the size and shape of
// GET /auth/v1/me's.
var bareUser = fiber.Map{"user": fiber.Map{"id": "x", "email": "a@b.c"}}

// runBare serves the bare reference handler: Fiber with the server's own
// configuration (server.BaseConfig), one route answering a small JSON body,
// nothing else — no middleware, no tenant, no store. It logs a JSON
// "listening" line to stderr, like the server, and stops on SIGTERM.
func runBare(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("portcullis-load "+bareCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "listen address (127.0.0.1 only)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if host, _, err := net.SplitHostPort(*listen); err != nil || host != "127.0.0.1" {
		fmt.Fprintf(stderr, "portcullis-load %s: -listen %q: must be 127.0.0.1:PORT\n", bareCommand, *listen)
		return 2
	}
	app := fiber.New(server.BaseConfig(server.DefaultRequestTimeout))
	handler := func(c *fiber.Ctx) error { return c.JSON(bareUser) }
	app.Get("/auth/v1/me", handler)
	app.Get("/", handler)

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "portcullis-load %s: %v\n", bareCommand, err)
		return 1
	}
	line, _ := json.Marshal(map[string]string{"msg": "listening", "url": "http://" + ln.Addr().String()})
	fmt.Fprintf(stderr, "%s\n", line)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = app.ShutdownWithTimeout(5 * time.Second)
	}()
	if err := app.Listener(ln); err != nil {
		fmt.Fprintf(stderr, "portcullis-load %s: %v\n", bareCommand, err)
		return 1
	}
	return 0
}

// startBare re-executes this binary as the bare reference server.
func startBare(ctx context.Context) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return startChild(ctx, "bare reference server", self, []string{bareCommand, "-listen", "127.0.0.1:0"}, childEnv(nil), os.TempDir())
}
