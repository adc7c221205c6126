package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/castellan-iam/castellan/catalog"
	"github.com/castellan-iam/castellan/password"
	"github.com/castellan-iam/castellan/sqlstore"
)

// DefaultDatabase is the embedded store castellan uses when given none.
const DefaultDatabase = "sqlite://./castellan.db"

// flags is a FlagSet whose flags default to environment variables.
type flags struct {
	*flag.FlagSet
	getenv func(string) string
}

func newFlags(name string, stderr io.Writer, getenv func(string) string) *flags {
	fs := flag.NewFlagSet("castellan "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &flags{FlagSet: fs, getenv: getenv}
}

// str defines a string flag whose default comes from env when set there.
func (f *flags) str(name, env, def, help string) *string {
	if v := f.getenv(env); v != "" {
		def = v
	}
	return f.String(name, def, help+" ($"+env+")")
}

// boolean defines a bool flag whose default comes from env ("true"/"1").
func (f *flags) boolean(name, env string, help string) *bool {
	v := f.getenv(env)
	return f.Bool(name, v == "true" || v == "1", help+" ($"+env+")")
}

// storeOpener opens the store the flags name.
type storeOpener func(ctx context.Context, opts sqlstore.Options) (*sqlstore.DB, error)

// store defines --database and --catalog and returns a function opening
// the store they name.
func (f *flags) store() storeOpener {
	database := f.str("database", "CASTELLAN_DATABASE", DefaultDatabase, "store URL: sqlite://<path> or postgres://user@host:port/db")
	extra := f.str("catalog", "CASTELLAN_CATALOG", "", "service catalogue file extending the built-in one (services, actions, roles)")
	return func(ctx context.Context, opts sqlstore.Options) (*sqlstore.DB, error) {
		var files []catalog.NamedFile
		if *extra != "" {
			data, err := os.ReadFile(*extra)
			if err != nil {
				return nil, fmt.Errorf("--catalog: %w", err)
			}
			files = append(files, catalog.NamedFile{Name: *extra, Data: data})
		}
		cat, err := catalog.Load(files...)
		if err != nil {
			return nil, fmt.Errorf("--catalog: %w", err)
		}
		opts.Catalog = cat
		opts.Passwords = password.Argon2id()
		return sqlstore.Open(ctx, *database, opts)
	}
}

// logFlags are the log flags.
type logFlags struct{ format, level *string }

// logging defines the log flags.
func (f *flags) logging() logFlags {
	return logFlags{
		format: f.str("log-format", "CASTELLAN_LOG_FORMAT", "text", "log format: text or json"),
		level:  f.str("log-level", "CASTELLAN_LOG_LEVEL", "info", "log level: debug, info, warn or error"),
	}
}

// json reports whether logs are JSON, so that whatever else the process
// prints for machines is JSON too.
func (l logFlags) json() bool { return strings.EqualFold(*l.format, "json") }

// logger builds the logger the flags describe, writing to w.
func (l logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*l.level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", *l.level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(*l.format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", *l.format)
}

// parse parses args and refuses positional arguments.
func (f *flags) parse(args []string) error {
	if err := f.Parse(args); err != nil {
		return err
	}
	if f.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", f.Arg(0))
	}
	return nil
}
