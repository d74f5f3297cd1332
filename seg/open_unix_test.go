//go:build unix

package seg

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"protrude/volume/nifti"
)

func TestReadRejectsNamedPipe(t *testing.T) {
	seriesDir := t.TempDir()
	defaultSeries().write(t, seriesDir)
	src := readSeries(t, seriesDir)
	path := filepath.Join(t.TempDir(), "segmentation.dcm")
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Skipf("skipping: mkfifo %s: %v", path, err)
	}
	// Opening the pipe for writing releases a Read that is still blocked in open.
	t.Cleanup(func() {
		if w, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
	})

	done := make(chan error, 1)
	go func() {
		_, err := Read(path, src)
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Read of a named pipe is still blocked after 10 s")
	}

	if !errors.Is(err, nifti.ErrNotRegular) {
		t.Fatalf("Read of a named pipe: error %v, want nifti.ErrNotRegular", err)
	}
	for _, want := range []string{path, "named pipe (FIFO)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Read of a named pipe: error %q does not contain %q", err, want)
		}
	}
}
