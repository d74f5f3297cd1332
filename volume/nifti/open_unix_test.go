//go:build unix

package nifti

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// makeFIFO creates a named pipe in a temporary folder. Its cleanup opens the pipe for
// writing without blocking, which releases a reader still blocked in open.
func makeFIFO(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Skipf("skipping: mkfifo %s: %v", path, err)
	}
	t.Cleanup(func() {
		if w, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
	})
	return path
}

// errorWithin runs read and returns its error, or fails the test when read has not
// returned after 10 s, as when it blocks on a named pipe.
func errorWithin(t *testing.T, read func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- read() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("the read is still blocked after 10 s")
		return nil
	}
}

func TestReadersRejectNamedPipe(t *testing.T) {
	readers := []struct {
		name string
		read func(path string) error
	}{
		{"Read", func(path string) error { _, _, err := Read(path); return err }},
		{"ReadMask", func(path string) error { _, _, err := ReadMask(path); return err }},
		{"ReadMaskOnGrid", func(path string) error {
			_, _, err := ReadMaskOnGrid(path, writeGrids["identity axes"])
			return err
		}},
		{"ReadHeader", func(path string) error { _, err := ReadHeader(path); return err }},
	}
	for _, r := range readers {
		t.Run(r.name, func(t *testing.T) {
			path := makeFIFO(t, "mask.nii.gz")
			err := errorWithin(t, func() error { return r.read(path) })
			if !errors.Is(err, ErrNotRegular) {
				t.Fatalf("%s of a named pipe: error %v, want ErrNotRegular", r.name, err)
			}
			for _, want := range []string{path, "named pipe (FIFO)"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%s of a named pipe: error %q does not contain %q", r.name, err, want)
				}
			}
		})
	}
}

func TestOpenRegularRejectsOtherTypes(t *testing.T) {
	cases := []struct {
		name, path, want string
	}{
		{"folder", t.TempDir(), "folder"},
		{"character device", os.DevNull, "character device"},
	}
	for _, c := range cases {
		f, err := OpenRegular(c.path)
		if err == nil {
			f.Close()
			t.Errorf("OpenRegular of a %s: no error", c.name)
			continue
		}
		if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("OpenRegular of a %s: error %v, want ErrNotRegular naming %q", c.name, err, c.want)
		}
	}
}

func TestOpenRegularFollowsSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "mask.nii")
	if err := os.WriteFile(target, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.nii")
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("skipping: symlink: %v", err)
	}
	f, err := OpenRegular(link)
	if err != nil {
		t.Fatalf("OpenRegular of a symbolic link to a regular file: %v", err)
	}
	f.Close()
}
