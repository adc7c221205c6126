package password_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan/password"
)

// fast keeps the tests quick; Default is what production uses.
var fast = password.Hasher{Params: password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}

func TestHashVerify(t *testing.T) {
	for _, h := range []password.Hasher{fast, password.Argon2id()} {
		hash, err := h.Hash("Correct-Horse-7")
		if err != nil {
			t.Fatal(err)
		}
		want := "$argon2id$v=19$m=" // PHC string format
		if h.Params == password.Default {
			want += "19456,t=2,p=1$"
		}
		if !strings.HasPrefix(hash, want) || strings.Count(hash, "$") != 5 {
			t.Fatalf("got %q, want prefix %q", hash, want)
		}
		for _, c := range []struct {
			password string
			ok       bool
		}{{"Correct-Horse-7", true}, {"correct-horse-7", false}, {"Correct-Horse-", false}, {"", false}} {
			ok, err := h.Verify(hash, c.password)
			if err != nil || ok != c.ok {
				t.Errorf("Verify(%q) = %v, %v; want %v", c.password, ok, err, c.ok)
			}
		}
		// Salted: the same password hashes differently each time.
		if again, _ := h.Hash("Correct-Horse-7"); again == hash {
			t.Fatal("two hashes of one password are equal")
		}
	}
}

// TestVerifyOtherParams checks that hashes made under other parameters
// still verify: parameters are read from the hash.
func TestVerifyOtherParams(t *testing.T) {
	hash, _ := fast.Hash("pw")
	if ok, err := password.Argon2id().Verify(hash, "pw"); !ok || err != nil {
		t.Fatalf("got %v, %v", ok, err)
	}
}

func TestVerifyMalformed(t *testing.T) {
	good, _ := fast.Hash("pw")
	parts := strings.Split(good, "$")
	for _, bad := range []string{
		"", "plain", "$argon2i$v=19$m=64,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=18$m=64,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=0,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=99999999,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1,x=2$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1$!!$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1$" + parts[4] + "$",
		good + "$",
	} {
		if ok, err := fast.Verify(bad, "pw"); ok || !errors.Is(err, password.ErrMalformedHash) {
			t.Errorf("Verify(%q) = %v, %v; want ErrMalformedHash", bad, ok, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	good, _ := fast.Hash("pw")
	for _, s := range []string{good, "", "$argon2id$v=19$m=64,t=1,p=1$$", "$argon2id$v=19$m=+64,t=01,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := password.Decode(s)
		if err != nil {
			return
		}
		// What decodes is within the bounds Verify may compute with.
		if p.Memory == 0 || p.Memory > 1<<20 || p.Time == 0 || p.Time > 64 || p.Threads == 0 || len(salt) < 8 || len(key) < 16 || len(key) > 128 {
			t.Fatalf("accepted %q as %+v", s, p)
		}
	})
}

func BenchmarkHash(b *testing.B) {
	h := password.Argon2id()
	for b.Loop() {
		if _, err := h.Hash("Correct-Horse-7"); err != nil {
			b.Fatal(err)
		}
	}
}
