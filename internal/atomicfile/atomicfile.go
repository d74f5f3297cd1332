// Package atomicfile replaces a file's content all at once: readers of the path see
// either the old content or all of the new content, never a partial file.
package atomicfile

import (
	"bufio"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// File is new content for a path, written to a temporary file in the same folder.
// Commit makes it the path's content; Abort, or a failed Commit, removes it and leaves
// the path unchanged.
type File struct {
	path string
	tmp  *os.File
	// mode is the permission set at Commit: that of the file it replaces, or else
	// 0666 less the process's umask, as os.Create would give.
	mode fs.FileMode

	mu   sync.Mutex // guards done against AbortAll from a signal handler
	done bool
}

// open lists the Files not yet committed or aborted, for AbortAll.
var open sync.Map // *File -> struct{}

// Create starts new content for path.
func Create(path string) (*File, error) {
	mode := newFileMode
	if info, err := os.Stat(path); err == nil && info.Mode().IsRegular() {
		mode = info.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, err
	}
	f := &File{path: path, tmp: tmp, mode: mode}
	open.Store(f, struct{}{})
	return f, nil
}

// AbortAll aborts every File not yet committed, for a process that is about to exit
// on a signal: it leaves no temporary files behind.
func AbortAll() {
	open.Range(func(key, _ any) bool {
		key.(*File).Abort()
		return true
	})
}

// Write appends p at the current offset.
func (f *File) Write(p []byte) (int, error) { return f.tmp.Write(p) }

// WriteAt writes p at offset off. Several goroutines may call it at once on ranges
// that do not overlap.
func (f *File) WriteAt(p []byte, off int64) (int, error) { return f.tmp.WriteAt(p, off) }

// StartWriteback starts the kernel's writeback of the given byte range to the disk
// and returns without waiting for it. A file written piece by piece then needs less
// time in Commit's sync. Where the system has no such call, it does nothing.
func (f *File) StartWriteback(off, n int64) { startWriteback(f.tmp, off, n) }

// Commit syncs the content to the disk, gives it the mode of the file it replaces (or
// 0666 less the umask for a new file) and renames it onto the path. After a crash the
// path then holds either the old or the whole new content. After an error the
// temporary file is gone and the path is unchanged.
func (f *File) Commit() error { return f.commit(true) }

// CommitWithoutSync is Commit without the sync before the rename. Other processes
// still see the old or the whole new content, but after a power cut or a kernel crash
// the path may hold an empty or partial file. It suits output that can be made again
// from its source, where the sync would cost more than the rest of the write.
func (f *File) CommitWithoutSync() error { return f.commit(false) }

func (f *File) commit(sync bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		return os.ErrClosed
	}
	var err error
	if sync {
		err = f.tmp.Sync()
	}
	if err == nil {
		err = f.tmp.Close()
	}
	// CreateTemp makes the file private (0600).
	if err == nil {
		err = os.Chmod(f.tmp.Name(), f.mode)
	}
	if err == nil {
		err = os.Rename(f.tmp.Name(), f.path)
	}
	if err != nil {
		f.abortLocked()
		return err
	}
	f.done = true
	open.Delete(f)
	if !sync {
		return nil
	}
	// The file is complete at path by now, so a failed folder sync, which some file
	// systems do not support, is not reported.
	if d, err := os.Open(filepath.Dir(f.path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Abort removes the temporary file. It does nothing after Commit or another Abort,
// so it suits a defer.
func (f *File) Abort() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.abortLocked()
}

func (f *File) abortLocked() {
	if f.done {
		return
	}
	f.done = true
	open.Delete(f)
	f.tmp.Close()
	os.Remove(f.tmp.Name())
}

// WriteFunc writes what fill produces to a temporary file in path's folder, syncs it
// and renames it onto path, with the mode that Commit gives. On any error the temporary
// file is removed and path is unchanged.
func WriteFunc(path string, fill func(io.Writer) error) error {
	return writeFunc(path, fill, true)
}

// WriteFuncWithoutSync is WriteFunc without the sync; see CommitWithoutSync.
func WriteFuncWithoutSync(path string, fill func(io.Writer) error) error {
	return writeFunc(path, fill, false)
}

func writeFunc(path string, fill func(io.Writer) error, sync bool) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	buffered := bufio.NewWriterSize(f, 1<<20)
	if err := fill(buffered); err != nil {
		return err
	}
	if err := buffered.Flush(); err != nil {
		return err
	}
	return f.commit(sync)
}

// Write replaces path's content with data, as WriteFunc does.
func Write(path string, data []byte) error {
	return WriteFunc(path, func(w io.Writer) error {
		_, err := io.Copy(w, bytes.NewReader(data))
		return err
	})
}
