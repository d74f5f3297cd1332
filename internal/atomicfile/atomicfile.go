// Package atomicfile replaces a file's content all at once: readers of the path see
// either the old content or all of the new content, never a partial file.
package atomicfile

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
)

// WriteFunc writes what fill produces to a temporary file in path's folder, syncs it,
// makes it readable by all (0644) and renames it onto path. On any error the temporary
// file is removed and path is unchanged.
func WriteFunc(path string, fill func(io.Writer) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()

	buffered := bufio.NewWriterSize(tmp, 1<<20)
	if err := fill(buffered); err != nil {
		return err
	}
	if err := buffered.Flush(); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// CreateTemp makes the file private (0600), and the result is an ordinary file.
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	committed = true

	// The file is complete at path by now, so a failed folder sync, which some file
	// systems do not support, is not reported.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Write replaces path's content with data, as WriteFunc does.
func Write(path string, data []byte) error {
	return WriteFunc(path, func(w io.Writer) error {
		_, err := io.Copy(w, bytes.NewReader(data))
		return err
	})
}
