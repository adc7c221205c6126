package sqlstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// checkSQLiteFile checks, before SQLite touches anything, that the store
// at path can be written: SQLite would open a file it may not write
// read-only, so that a server started "ready" and failed every write, and
// would leave -wal and -shm files beside it; and it reports every other
// failure as "unable to open database file (14)". The error names the
// path and the reason.
func checkSQLiteFile(path string) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("open sqlite database %s: %s", path, fmt.Sprintf(format, args...))
	}
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fail("directory %s does not exist", dir)
	case err != nil:
		return fail("directory %s: %v", dir, reason(err))
	case !st.IsDir():
		return fail("%s is not a directory", dir)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	switch {
	case err == nil:
		f.Close()
	case errors.Is(err, fs.ErrNotExist):
		// SQLite creates it.
	case errors.Is(err, syscall.EISDIR):
		return fail("it is a directory")
	case errors.Is(err, syscall.EROFS):
		return fail("the file is on a read-only file system")
	case errors.Is(err, fs.ErrPermission):
		return fail("the file is read-only for this process (%v)", reason(err))
	default:
		return fail("%v", reason(err))
	}
	// SQLite creates the file, or its -wal and -shm files, in the directory.
	probe, err := os.CreateTemp(dir, ".castellan-probe-*")
	switch {
	case errors.Is(err, syscall.EROFS):
		return fail("directory %s is on a read-only file system", dir)
	case errors.Is(err, fs.ErrPermission):
		return fail("directory %s is read-only for this process (%v)", dir, reason(err))
	case err != nil:
		return fail("cannot create files in directory %s (%v)", dir, reason(err))
	}
	probe.Close()
	return os.Remove(probe.Name())
}

// reason is the system's reason for err, without the path it repeats.
func reason(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
