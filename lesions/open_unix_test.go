//go:build unix

package lesions

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"protrude/volume"
	"protrude/volume/nifti"
)

func TestLoadRejectsNamedPipe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lesions.json")
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Skipf("skipping: mkfifo %s: %v", path, err)
	}
	// Opening the pipe for writing releases a Load that is still blocked in open.
	t.Cleanup(func() {
		if w, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
	})
	g := testGrid([3]int{4, 4, 4})

	done := make(chan error, 1)
	go func() {
		_, err := Load(path, volume.NewMask(g), volume.NewVolume(g))
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Load of a named pipe is still blocked after 10 s")
	}

	if !errors.Is(err, nifti.ErrNotRegular) {
		t.Fatalf("Load of a named pipe: error %v, want nifti.ErrNotRegular", err)
	}
	for _, want := range []string{path, "named pipe (FIFO)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Load of a named pipe: error %q does not contain %q", err, want)
		}
	}
}
