// Command hrgate is the single hrgate binary: the server and every
// operator command. main only wires packages together; the logic lives in
// the packages it imports.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(Run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Environ()))
}

// Run executes one hrgate command line and returns the process exit code.
// End-to-end tests call it directly with their own arguments, writers,
// environment and a context they cancel to stop a server.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, environ []string) int {
	m := &Main{Stdout: stdout, Stderr: stderr, Environ: environ}
	defer m.Close()
	cmd := m.rootCommand()
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	if err := cmd.ExecuteContext(ctx); err != nil {
		m.Close() // the log comes out before the error that ends it
		if !errors.As(err, new(exitStatus)) {
			fmt.Fprintln(stderr, "hrgate: "+errorText(err))
		}
		return exitCode(err)
	}
	return 0
}
