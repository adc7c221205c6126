// Package sealing seals the secrets Castellan must read back (an access
// key's, to verify signed requests) under the operator's key-encryption
// keys: AES-256-GCM from the standard library, a random 12-byte nonce
// before each ciphertext, and the caller's additional data bound in, so
// that a sealed value opens only for the row it was sealed for.
//
// The keys come from a text file, one key a line:
//
//	# comments and blank lines are ignored
//	<key-id> <base64 of 32 random bytes>
//
// The first key is the current one, which Seal uses; the others still
// open what they sealed, until `castellan rotate-secret-key` has sealed
// it again under the current key and the operator removes them.
package sealing

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"strings"

	"github.com/castellan-iam/castellan"
)

// KeySize is the length of a key-encryption key: AES-256.
const KeySize = 32

// nonceSize is GCM's standard nonce length, prepended to each ciphertext.
const nonceSize = 12

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Keyring holds the key-encryption keys of a key file.
type Keyring struct {
	current string
	aeads   map[string]cipher.AEAD
}

var _ castellan.SecretSealer = (*Keyring)(nil)

// Parse reads a key file's text; errors name the file (name) and line.
func Parse(name string, data []byte) (*Keyring, error) {
	k := &Keyring{aeads: map[string]cipher.AEAD{}}
	lines := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; lines.Scan(); n++ {
		line := strings.TrimSpace(lines.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, aead, err := parseKeyLine(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		if _, dup := k.aeads[id]; dup {
			return nil, fmt.Errorf("%s:%d: key ID %q appears twice", name, n, id)
		}
		k.aeads[id] = aead
		if k.current == "" {
			k.current = id
		}
	}
	if err := lines.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if k.current == "" {
		return nil, fmt.Errorf("%s: no key (want lines \"<key-id> <base64 of %d bytes>\")", name, KeySize)
	}
	return k, nil
}

// parseKeyLine reads "<key-id> <base64 key>". Its errors never quote the
// key material.
func parseKeyLine(line string) (string, cipher.AEAD, error) {
	fields := strings.Fields(line)
	if len(fields) != 2 {
		return "", nil, fmt.Errorf("want \"<key-id> <base64 of %d bytes>\", got %d fields", KeySize, len(fields))
	}
	id := fields[0]
	if !keyIDPattern.MatchString(id) {
		return "", nil, fmt.Errorf("key ID %q: want 1-64 of A-Z a-z 0-9 _ -", id)
	}
	raw, err := base64.StdEncoding.DecodeString(fields[1])
	if err != nil {
		return "", nil, fmt.Errorf("key %s: not standard base64", id)
	}
	if len(raw) != KeySize {
		return "", nil, fmt.Errorf("key %s: %d bytes, want %d", id, len(raw), KeySize)
	}
	aead, err := newAEAD(raw)
	return id, aead, err
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// openPermissions are the permission bits a key file must not have:
// whoever reads it opens every sealed secret, and whoever writes it
// chooses the key new secrets are sealed with. Its group may read it
// (a group shared with a secret manager), not change it.
const openPermissions = 0o027

// Load reads the key file at path. A file that other users may read or
// change, or its group change, is refused (on Unix).
func Load(path string) (*Keyring, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read secret key file: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read secret key file: %w", err)
	}
	if perm := info.Mode().Perm(); runtime.GOOS != "windows" && perm&openPermissions != 0 {
		return nil, fmt.Errorf("secret key file %s has mode %04o: others may read or change it; chmod 600 it", path, perm)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read secret key file: %w", err)
	}
	return Parse(path, data)
}

// CurrentKeyID implements castellan.SecretSealer.
func (k *Keyring) CurrentKeyID() string { return k.current }

// Seal implements castellan.SecretSealer: the current key, a fresh
// random nonce, and the nonce followed by the ciphertext.
func (k *Keyring) Seal(plaintext, aad []byte) (string, []byte, error) {
	nonce := make([]byte, nonceSize, nonceSize+len(plaintext)+k.aeads[k.current].Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", nil, fmt.Errorf("seal: %w", err)
	}
	return k.current, k.aeads[k.current].Seal(nonce, nonce, plaintext, aad), nil
}

// ErrOpen is the error of a sealed value that does not authenticate
// under its key and additional data.
var ErrOpen = errors.New("sealed secret does not authenticate")

// Open implements castellan.SecretSealer.
func (k *Keyring) Open(keyID string, sealed, aad []byte) ([]byte, error) {
	aead, ok := k.aeads[keyID]
	if !ok {
		return nil, fmt.Errorf("open: no key-encryption key %q in the key file", keyID)
	}
	if len(sealed) < nonceSize+aead.Overhead() {
		return nil, ErrOpen
	}
	plain, err := aead.Open(nil, sealed[:nonceSize], sealed[nonceSize:], aad)
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}
