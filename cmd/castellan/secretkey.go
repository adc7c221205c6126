package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"

	"github.com/castellan-iam/castellan/sealing"
	"github.com/castellan-iam/castellan/sqlstore"
)

// secretKeyFile defines --secret-key-file; secretKeyPath reads it after
// parsing.
func (f *flags) secretKeyFile() *string {
	return f.str("secret-key-file", "CASTELLAN_SECRET_KEY_FILE", "",
		`file of key-encryption keys ("<key-id> <base64 of 32 bytes>" a line, the first current) sealing access key secrets so that keys can sign requests; with SQLite, default <database file>.secret-key`)
}

// secretKeyPath is the key file to use: the flag's, or with SQLite the
// file beside the database (dev is then true); "" with PostgreSQL and no
// flag.
func (f *flags) secretKeyPath(flagValue string) (path string, dev bool) {
	if flagValue != "" {
		return flagValue, false
	}
	database := f.Lookup("database").Value.String()
	if file, ok := strings.CutPrefix(database, "sqlite://"); ok {
		return file + ".secret-key", true
	}
	return "", false
}

// openServeStore opens serve's store with the keyring that seals access
// key secrets. In dev mode (SQLite, no --secret-key-file) it generates the
// key file when missing, once the store has opened: a store that cannot
// open gets no key file beside it. It says once which file holds the
// key-encryption key; it never logs a key.
func (f *flags) openServeStore(ctx context.Context, openStore storeOpener, opts sqlstore.Options, flagValue string, log *slog.Logger) (*sqlstore.DB, error) {
	path, dev := f.secretKeyPath(flagValue)
	if path == "" {
		log.Warn("no --secret-key-file: access keys created now cannot sign compatibility API requests (they still exchange for tokens)")
		return openStore(ctx, opts)
	}
	generated := false
	if _, err := os.Stat(path); dev && errors.Is(err, fs.ErrNotExist) {
		db, err := openStore(ctx, opts)
		if err != nil {
			return nil, err
		}
		db.Close()
		if _, err := sealing.GenerateKeyFile(path); err != nil {
			return nil, err
		}
		generated = true
	}
	keys, err := sealing.Load(path)
	if err != nil {
		return nil, fmt.Errorf("--secret-key-file: %w", err)
	}
	log.Info("access key secrets are sealed with the key-encryption key of this file: back it up with the database",
		"secretKeyFile", path, "keyId", keys.CurrentKeyID(), "generated", generated)
	opts.Sealer = keys
	return openStore(ctx, opts)
}

// runRotateSecretKey seals every access key secret again under the
// current key of the key file; --generate first puts a fresh key at its
// head.
func runRotateSecretKey(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	f := newFlags("rotate-secret-key", stderr, getenv)
	openStore := f.store()
	keyFile := f.secretKeyFile()
	generate := f.Bool("generate", false, "first put a fresh key at the head of the key file, making it the current key")
	if err := f.parse(args); err != nil {
		return err
	}
	path, _ := f.secretKeyPath(*keyFile)
	if path == "" {
		return errors.New("--secret-key-file is required with PostgreSQL")
	}
	if *generate {
		id, err := sealing.AddKey(path)
		if err != nil {
			return fmt.Errorf("--generate: %w", err)
		}
		fmt.Fprintf(stdout, "added key-encryption key %s at the head of %s\n", id, path)
	}
	keys, err := sealing.Load(path)
	if err != nil {
		return fmt.Errorf("--secret-key-file: %w", err)
	}
	db, err := openStore(ctx, sqlstore.Options{Sealer: keys})
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := db.RotateSealedSecrets(ctx)
	if n > 0 || err == nil {
		fmt.Fprintf(stdout, "sealed %d secrets (access keys, federation client secrets) again under key-encryption key %s\n", n, keys.CurrentKeyID())
	}
	return err
}
