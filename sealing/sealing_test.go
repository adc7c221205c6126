package sealing_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan/sealing"
)

func key(b byte) string {
	return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, sealing.KeySize))
}

func mustParse(t *testing.T, text string) *sealing.Keyring {
	t.Helper()
	k, err := sealing.Parse("keys", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	k := mustParse(t, "# keys\n\nnew "+key(2)+"\n  old "+key(1)+"  \n")
	if got := k.CurrentKeyID(); got != "new" {
		t.Fatalf("CurrentKeyID: got %q, want new", got)
	}
	secret, aad := []byte("the-secret"), []byte("CAKAAAA")
	id, sealed, err := k.Seal(secret, aad)
	if err != nil || id != "new" {
		t.Fatalf("Seal: got %q, %v; want new", id, err)
	}
	if bytes.Contains(sealed, secret) || len(sealed) != 12+len(secret)+16 {
		t.Fatalf("Seal: got %x: want a 12-byte nonce and the ciphertext with its tag", sealed)
	}
	_, again, _ := k.Seal(secret, aad)
	if bytes.Equal(sealed[:12], again[:12]) {
		t.Error("two seals used the same nonce")
	}
	t.Run("OK", func(t *testing.T) {
		got, err := k.Open(id, sealed, aad)
		if err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("Open: got %q, %v; want %q", got, err, secret)
		}
	})
	t.Run("ErrTampered", func(t *testing.T) {
		for i := range sealed {
			bad := bytes.Clone(sealed)
			bad[i] ^= 1
			if _, err := k.Open(id, bad, aad); !errors.Is(err, sealing.ErrOpen) {
				t.Fatalf("byte %d flipped: got %v, want ErrOpen", i, err)
			}
		}
		if _, err := k.Open(id, sealed[:20], aad); !errors.Is(err, sealing.ErrOpen) {
			t.Fatalf("truncated: got %v, want ErrOpen", err)
		}
	})
	t.Run("ErrWrongAAD", func(t *testing.T) {
		if _, err := k.Open(id, sealed, []byte("CAKBBBB")); !errors.Is(err, sealing.ErrOpen) {
			t.Fatalf("got %v, want ErrOpen", err)
		}
	})
	t.Run("ErrWrongKey", func(t *testing.T) {
		if _, err := k.Open("old", sealed, aad); !errors.Is(err, sealing.ErrOpen) {
			t.Fatalf("got %v, want ErrOpen", err)
		}
	})
	t.Run("ErrUnknownKeyID", func(t *testing.T) {
		_, err := k.Open("gone", sealed, aad)
		if err == nil || !strings.Contains(err.Error(), `"gone"`) {
			t.Fatalf("got %v, want an error naming the key ID", err)
		}
	})
}

func TestParseErrors(t *testing.T) {
	short := base64.StdEncoding.EncodeToString(make([]byte, 16))
	for _, c := range []struct {
		name, text, want string
	}{
		{"Empty", "", "keys: no key"},
		{"OnlyComments", "# nothing\n\n", "keys: no key"},
		{"OneField", "# k\nk1\n", "keys:2: want"},
		{"ThreeFields", "k1 " + key(1) + " extra\n", "keys:1: want"},
		{"BadID", "k.1 " + key(1) + "\n", `keys:1: key ID "k.1"`},
		{"LongID", strings.Repeat("k", 65) + " " + key(1) + "\n", "keys:1: key ID"},
		{"NotBase64", "k1 not*base64\n", "keys:1: key k1: not standard base64"},
		{"ShortKey", "k1 " + short + "\n", "keys:1: key k1: 16 bytes, want 32"},
		{"Duplicate", "k1 " + key(1) + "\n\nk1 " + key(2) + "\n", `keys:3: key ID "k1" appears twice`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := sealing.Parse("keys", []byte(c.text))
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("got %v, want %q…", err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), key(1)) {
				t.Fatalf("the error quotes the key: %v", err)
			}
		})
	}
}

func TestGenerateAndRotate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "castellan.db.secret-key")
	first, err := sealing.GenerateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: got %v, %v; want mode 0600", info, err)
	}
	before, _ := os.ReadFile(path)
	if _, err := sealing.GenerateKeyFile(path); !errors.Is(err, os.ErrExist) {
		t.Fatalf("GenerateKeyFile over a file: got %v, want ErrExist", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("GenerateKeyFile changed the existing file")
	}
	old, err := sealing.Load(path)
	if err != nil || old.CurrentKeyID() != first {
		t.Fatalf("Load: got %v, %v; want current key %s", old, err, first)
	}
	aad := []byte("CAKAAAA")
	_, sealedOld, err := old.Seal([]byte("secret"), aad)
	if err != nil {
		t.Fatal(err)
	}

	second, err := sealing.AddKey(path)
	if err != nil || second == first {
		t.Fatalf("AddKey: got %q, %v; want a new key", second, err)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file after AddKey: got %v, %v; want mode 0600", info, err)
	}
	text, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(text), strings.SplitAfter(string(before), "\n")[0]) {
		t.Errorf("AddKey moved the header:\n%s", text)
	}
	rotated, err := sealing.Load(path)
	if err != nil || rotated.CurrentKeyID() != second {
		t.Fatalf("Load after AddKey: got %v, %v; want current key %s", rotated, err, second)
	}
	if got, err := rotated.Open(first, sealedOld, aad); err != nil || string(got) != "secret" {
		t.Fatalf("the old key opens: got %q, %v", got, err)
	}
	id, sealedNew, err := rotated.Seal([]byte("secret"), aad)
	if err != nil || id != second {
		t.Fatalf("Seal after AddKey: got %q, %v; want %s", id, err, second)
	}
	if _, err := old.Open(second, sealedNew, aad); err == nil {
		t.Fatal("the keyring without the new key opened its seal")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("AddKey left files behind: %v", entries)
	}

	if err := os.WriteFile(path, []byte("bad line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := sealing.AddKey(path); err == nil {
		t.Fatal("AddKey to a malformed file: got nil error")
	}
	if text, _ := os.ReadFile(path); string(text) != "bad line\n" {
		t.Fatalf("AddKey changed a malformed file: %q", text)
	}
}

// TestLoadPermissions: a key file that other users may read or change,
// or its group change, is refused without quoting a key, since whoever
// reads it opens every sealed secret and whoever writes it chooses the
// key new secrets are sealed with; the owner's and its group's reading
// is fine.
func TestLoadPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		return // no Unix permission bits to check there
	}
	path := filepath.Join(t.TempDir(), "secret-key")
	if err := os.WriteFile(path, []byte("k1 "+key(1)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		mode os.FileMode
		ok   bool
	}{
		{0o600, true}, {0o400, true}, {0o640, true}, {0o440, true},
		{0o644, false}, {0o604, false}, {0o602, false}, {0o620, false}, {0o666, false},
	} {
		if err := os.Chmod(path, c.mode); err != nil {
			t.Fatal(err)
		}
		_, err := sealing.Load(path)
		if (err == nil) != c.ok {
			t.Errorf("mode %04o: got %v, want ok %v", c.mode, err, c.ok)
		}
		if err != nil && (strings.Contains(err.Error(), key(1)) || !strings.Contains(err.Error(), "chmod 600")) {
			t.Errorf("mode %04o: %v: want the fix named and no key quoted", c.mode, err)
		}
	}
}
