// Command truyvet is the contact-tracing analytics backend: one binary whose
// subcommands are its stages. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/truyvet/truyvet/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, cli.OSEnv())
	stop()
	os.Exit(code)
}
