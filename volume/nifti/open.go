package nifti

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// ErrNotRegular is wrapped by the error of [OpenRegular] for a path that exists but
// is not a regular file.
var ErrNotRegular = errors.New("not a regular file")

// OpenRegular opens path for reading after checking that it is a regular file or a
// symbolic link to one. Any other file type is rejected with [ErrNotRegular] before
// the open, and the message gives the path and the type. Opening a named pipe (FIFO)
// blocks until another process opens it for writing, and reading a device such as
// /dev/zero may never end.
//
// NOTE: a FIFO that replaces the file between the check and the open still blocks.
func OpenRegular(path string) (*os.File, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, notRegularError(path, info.Mode())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}

	// A folder or device that replaced the file after the check is caught here.
	if info, err = f.Stat(); err != nil || !info.Mode().IsRegular() {
		f.Close()
		if err != nil {
			return nil, err
		}
		return nil, notRegularError(path, info.Mode())
	}
	return f, nil
}

func notRegularError(path string, mode fs.FileMode) error {
	return fmt.Errorf("open %s: %w but a %s", path, ErrNotRegular, fileTypeName(mode))
}

// fileTypeName returns the usual name of the file type in mode, for error messages.
func fileTypeName(mode fs.FileMode) string {
	switch {
	case mode.IsDir():
		return "folder"
	case mode&fs.ModeNamedPipe != 0:
		return "named pipe (FIFO)"
	case mode&fs.ModeSocket != 0:
		return "socket"
	case mode&fs.ModeCharDevice != 0:
		return "character device"
	case mode&fs.ModeDevice != 0:
		return "block device"
	default:
		return fmt.Sprintf("file of type %v", mode.Type())
	}
}
