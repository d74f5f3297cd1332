package nifti

import (
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"unsafe"

	"protrude/internal/atomicfile"
	"protrude/volume"
)

// Int16SliceWriter writes an int16 volume to an uncompressed .nii file one slice
// (k plane) at a time, in any order and from several goroutines at once. Each slice
// goes to its place in the file as soon as it arrives, and the kernel starts writing
// it to disk then, so a reader that decodes slices overlaps decoding with the disk.
// The file appears at its path only after Commit, which checks that every slice was
// written. The result is byte for byte what [WriteInt16Volume] writes.
type Int16SliceWriter struct {
	path       string
	sync       bool
	file       *atomicfile.File
	planeBytes int64
	mu         sync.Mutex
	written    []bool
	missing    int
}

// CreateInt16Slices starts a .nii file for an int16 volume on grid g.
func CreateInt16Slices(path string, g volume.Grid, opts WriteOptions) (*Int16SliceWriter, error) {
	if strings.HasSuffix(strings.ToLower(path), ".gz") {
		return nil, fmt.Errorf("nifti: write volume %s: slices can be written at their offsets only in an uncompressed .nii file: %w", path, ErrUnsupported)
	}
	if err := checkWritable(g, g.NumVoxels()); err != nil {
		return nil, fmt.Errorf("nifti: write volume %s: %w", path, err)
	}
	f, err := atomicfile.Create(path)
	if err != nil {
		return nil, fmt.Errorf("nifti: write volume %s: %w", path, err)
	}
	if _, err := f.WriteAt(newHeader(g, DatatypeInt16, opts).encode(), 0); err != nil {
		f.Abort()
		return nil, fmt.Errorf("nifti: write volume %s: %w", path, err)
	}
	return &Int16SliceWriter{
		path:       path,
		sync:       !opts.SkipSync,
		file:       f,
		planeBytes: 2 * int64(g.Size[0]) * int64(g.Size[1]),
		written:    make([]bool, g.Size[2]),
		missing:    g.Size[2],
	}, nil
}

// WriteSlice writes plane k, Size[0]*Size[1] values with i fastest. The caller may
// reuse values once it returns.
func (w *Int16SliceWriter) WriteSlice(k int, values []int16) error {
	if k < 0 || k >= len(w.written) {
		return fmt.Errorf("nifti: write volume %s: slice %d is outside 0 to %d", w.path, k, len(w.written)-1)
	}
	if int64(2*len(values)) != w.planeBytes {
		return fmt.Errorf("nifti: write volume %s: slice %d has %d values, but a slice of the grid has %d", w.path, k, len(values), w.planeBytes/2)
	}
	var data []byte
	if nativeLittleEndian {
		data = unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(values))), 2*len(values))
	} else {
		data = make([]byte, 2*len(values))
		for n, value := range values {
			binary.LittleEndian.PutUint16(data[2*n:], uint16(value))
		}
	}
	off := singleFileDataOffset + int64(k)*w.planeBytes
	if _, err := w.file.WriteAt(data, off); err != nil {
		return fmt.Errorf("nifti: write volume %s: slice %d: %w", w.path, k, err)
	}
	if w.sync {
		// Commit will sync, so the disk may as well start on this slice now.
		w.file.StartWriteback(off, w.planeBytes)
	}
	w.mu.Lock()
	if !w.written[k] {
		w.written[k] = true
		w.missing--
	}
	w.mu.Unlock()
	return nil
}

// Commit syncs the file, unless WriteOptions.SkipSync was set, and renames it onto
// the path. It fails, and leaves the path unchanged, when a slice was never written.
func (w *Int16SliceWriter) Commit() error {
	w.mu.Lock()
	missing := w.missing
	w.mu.Unlock()
	if missing > 0 {
		first := 0
		for first < len(w.written) && w.written[first] {
			first++
		}
		w.file.Abort()
		return fmt.Errorf("nifti: write volume %s: %d of %d slices were never written, the first is slice %d", w.path, missing, len(w.written), first)
	}
	commit := w.file.Commit
	if !w.sync {
		commit = w.file.CommitWithoutSync
	}
	if err := commit(); err != nil {
		return fmt.Errorf("nifti: write volume %s: %w", w.path, err)
	}
	return nil
}

// Abort removes the unfinished file. It does nothing after Commit, so it suits a defer.
func (w *Int16SliceWriter) Abort() { w.file.Abort() }
