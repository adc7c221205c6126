package sealing

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// keyFileHeader opens a generated key file, for the operator who finds it.
const keyFileHeader = `# Castellan key-encryption keys: "<key-id> <base64 of 32 bytes>", one a line.
# The first key seals new secrets; the others still open what they sealed.
# Back this file up with the database: without it, access keys cannot sign.
`

// newKeyLine returns a fresh key's ID and its key-file line.
func newKeyLine() (id, line string, err error) {
	var idBytes [6]byte
	key := make([]byte, KeySize)
	if _, err := rand.Read(idBytes[:]); err != nil {
		return "", "", err
	}
	if _, err := rand.Read(key); err != nil {
		return "", "", err
	}
	id = "kek-" + hex.EncodeToString(idBytes[:])
	return id, id + " " + base64.StdEncoding.EncodeToString(key) + "\n", nil
}

// GenerateKeyFile writes a new key file with one fresh key at path,
// readable by its owner only (0600), and returns the key's ID. It refuses
// to overwrite an existing file: losing its keys loses every sealed
// secret.
func GenerateKeyFile(path string) (string, error) {
	id, line, err := newKeyLine()
	if err != nil {
		return "", fmt.Errorf("generate secret key file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("generate secret key file: %w", err)
	}
	_, err = f.WriteString(keyFileHeader + line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return "", fmt.Errorf("generate secret key file: %w", err)
	}
	return id, nil
}

// AddKey puts a fresh key before the other keys of the key file at path,
// which makes it the current one, and returns its ID. The file must parse;
// it is replaced whole (a new file renamed over it, 0600), so that a
// crash leaves either the old keys or the new ones.
func AddKey(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("add key: %w", err)
	}
	if _, err := Parse(path, data); err != nil {
		return "", fmt.Errorf("add key: %w", err)
	}
	id, line, err := newKeyLine()
	if err != nil {
		return "", fmt.Errorf("add key: %w", err)
	}
	// After the leading comments, before the first key.
	lines := strings.SplitAfter(string(data), "\n")
	at := 0
	for at < len(lines) {
		text := strings.TrimSpace(lines[at])
		if text != "" && !strings.HasPrefix(text, "#") {
			break
		}
		at++
	}
	updated := strings.Join(lines[:at], "") + line + strings.Join(lines[at:], "")
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return "", fmt.Errorf("add key: %w", err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file 0600 already; say so for the reader.
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", fmt.Errorf("add key: %w", err)
	}
	_, err = tmp.WriteString(updated)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return "", fmt.Errorf("add key: %w", err)
	}
	return id, nil
}
