package sqltest

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// unprivilegedEnv marks the copy of a test binary that Unprivileged runs.
const unprivilegedEnv = "CASTELLAN_TEST_UNPRIVILEGED"

// nobody is the user and group Unprivileged runs as.
const nobody = 65534

// Unprivileged runs fn as a user without root's powers, so that file
// modes hold: root writes a 0444 file and creates files in a 0555
// directory. When the test runs as another user, fn runs in it. Under
// root, the test binary runs again, as nobody, with only the calling
// test selected, and fn runs there; the test fails if that run fails,
// with its output. The calling test must be a top-level test that calls
// Unprivileged first, with nothing before it that must run as root.
func Unprivileged(t *testing.T, fn func(t *testing.T)) {
	t.Helper()
	if os.Getenv(unprivilegedEnv) != "" || os.Geteuid() != 0 {
		fn(t)
		return
	}
	// The test binary's directory is root's alone: nobody runs a copy.
	dir, err := os.MkdirTemp("", "castellan-unprivileged-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	tmp := filepath.Join(dir, "tmp")
	bin := filepath.Join(dir, "test")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	for path, mode := range map[string]os.FileMode{dir: 0o755, tmp: 0o700} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(tmp, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	if err := copyFile(bin, os.Args[0]); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run", "^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), unprivilegedEnv+"=1", "TMPDIR="+tmp, "HOME="+tmp)
	cmd.Dir = tmp
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("%s as user %d: %v\n%s", t.Name(), nobody, err, out)
	}
	t.Logf("ran as user %d:\n%s", nobody, out)
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// WantOnlyFile fails the test unless dir holds the one entry name: a
// refused open must leave nothing behind (no -wal or -shm files).
func WantOnlyFile(tb testing.TB, dir, name string) {
	tb.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 1 || names[0] != name {
		tb.Fatalf("refusing left %v in the directory, want %s alone", names, name)
	}
}
