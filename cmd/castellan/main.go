// Command castellan is the Castellan server and its administration tool:
//
//	castellan serve      run the API (embedded SQLite by default)
//	castellan migrate    apply pending schema migrations
//	castellan bootstrap  create an organization with its first owner, or an operator token
//	castellan bench      generate a synthetic organization into a fresh store and measure it
//	castellan rotate-secret-key  seal access key and federation secrets again under the current key-encryption key
//	castellan version    print the version
//
// Every flag can also be set by an environment variable, named in its help.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, the next one kills the process at once, for
	// an operator who does not want to wait for the graceful shutdown.
	go func() {
		<-ctx.Done()
		stop()
	}()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "castellan:", err)
		}
		os.Exit(2)
	}
}

const usage = `Castellan: identity, access and organization service for cloud platforms.

Usage:
  castellan serve      [flags]   run the API server
  castellan migrate    [flags]   apply pending schema migrations and exit
  castellan bootstrap  [flags]   create an organization and its first owner (or --operator: an operator token)
  castellan bench      [flags]   generate a synthetic organization into a fresh store and measure decisions
  castellan rotate-secret-key [flags]
                                 seal access key and federation secrets again under the key file's current key (--generate: a new one)
  castellan version              print the version

Run "castellan <command> -h" for the flags of a command.
`

// run is main without the process: tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "serve":
		err = runServe(ctx, rest, stdout, stderr, getenv)
	case "migrate":
		err = runMigrate(ctx, rest, stdout, stderr, getenv)
	case "bootstrap":
		err = runBootstrap(ctx, rest, os.Stdin, stdout, stderr, getenv)
	case "bench":
		err = runBench(ctx, rest, stdout, stderr, getenv)
	case "rotate-secret-key":
		err = runRotateSecretKey(ctx, rest, stdout, stderr, getenv)
	case "version", "-version", "--version":
		err = runVersion(rest, stdout, stderr, getenv)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
	// "castellan serve -h" printed the flags it was asked for: success.
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

// runVersion prints the version; it has no flags but -h.
func runVersion(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	f := newFlags("version", stderr, getenv)
	if err := f.parse(args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "castellan", version())
	return nil
}

// version is the module version the binary was built from, or the VCS
// revision for builds from a checkout.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return "devel-" + s.Value[:12]
		}
	}
	return "devel"
}
