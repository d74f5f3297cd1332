package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReplacesContent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.txt")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte("new content")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "new content" {
		t.Errorf("content = %q, want %q", got, "new content")
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want the replaced file's 0600", info.Mode().Perm())
	}
}

// TestNewFileModeFollowsUmask compares a new file's mode with that of a file made by
// os.WriteFile with 0666, which the kernel reduces by the umask.
func TestNewFileModeFollowsUmask(t *testing.T) {
	dir := t.TempDir()
	reference := filepath.Join(dir, "reference")
	if err := os.WriteFile(reference, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "new")
	if err := Write(path, []byte("x")); err != nil {
		t.Fatal(err)
	}
	want, _ := os.Stat(reference)
	got, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Mode().Perm() != want.Mode().Perm() {
		t.Errorf("mode = %v, want %v as os.WriteFile gives", got.Mode().Perm(), want.Mode().Perm())
	}
}

func TestAbortAllRemovesOpenFiles(t *testing.T) {
	dir := t.TempDir()
	var files []*File
	for _, name := range []string{"a.nii", "b.nii"} {
		f, err := Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte("partial")); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	if err := files[1].Commit(); err != nil {
		t.Fatal(err)
	}
	AbortAll()
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "b.nii" {
		names := make([]string, len(entries))
		for n, e := range entries {
			names[n] = e.Name()
		}
		t.Errorf("the folder holds %v after AbortAll, want only the committed b.nii", names)
	}
	if err := files[0].Commit(); err == nil {
		t.Error("Commit after AbortAll succeeded")
	}
}

func TestWriteFuncFailureKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.txt")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	failure := errors.New("encoder failed")
	err := WriteFunc(path, func(w io.Writer) error {
		if _, err := w.Write([]byte("partial")); err != nil {
			return err
		}
		return failure
	})
	if !errors.Is(err, failure) {
		t.Fatalf("error = %v, want %v", err, failure)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "old" {
		t.Errorf("content = %q, want the old content", got)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("folder has %d entries, want only out.txt (no temporary file left)", len(entries))
	}
}

func TestWriteAtOutOfOrderThenCommit(t *testing.T) {
	dir, path, f := createOverOld(t)
	defer f.Abort()
	for _, part := range []struct {
		off  int64
		text string
	}{{6, "world"}, {0, "hello "}} {
		if _, err := f.WriteAt([]byte(part.text), part.off); err != nil {
			t.Fatal(err)
		}
		f.StartWriteback(part.off, int64(len(part.text)))
	}
	if got, _ := os.ReadFile(path); string(got) != "old" {
		t.Errorf("before Commit the path holds %q, want the old content", got)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "hello world" {
		t.Errorf("content = %q, want %q", got, "hello world")
	}
	if err := f.Commit(); err == nil {
		t.Error("a second Commit succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("folder has %d entries, want only out.bin", len(entries))
	}
}

func TestAbortKeepsOldFile(t *testing.T) {
	dir, path, f := createOverOld(t)
	if _, err := f.Write([]byte("partial")); err != nil {
		t.Fatal(err)
	}
	f.Abort()
	f.Abort()
	if got, _ := os.ReadFile(path); string(got) != "old" {
		t.Errorf("content = %q, want the old content", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("folder has %d entries, want only out.bin (no temporary file left)", len(entries))
	}
}

// createOverOld writes "old" to out.bin in a new folder and starts new content for it.
func createOverOld(t *testing.T) (dir, path string, f *File) {
	t.Helper()
	dir = t.TempDir()
	path = filepath.Join(dir, "out.bin")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	return dir, path, f
}
