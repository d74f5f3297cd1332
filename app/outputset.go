package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// outputFile is one file of a result set: write creates it at the path it is given,
// which has the file's name in a staging folder.
type outputFile struct {
	name  string
	write func(path string) error
}

// renameFile is os.Rename. Tests replace it to make a rename fail midway.
var renameFile = os.Rename

// writeOutputSet writes files into dir so that they replace the files of an earlier
// run together or not at all. Each file is first written into a staging folder inside
// dir. Only when every write has succeeded are the old files moved into the staging
// folder and the new ones renamed into dir. When a rename fails, the renames done so
// far are undone, so dir keeps the old set. The staging folder is removed in every
// case.
//
// NOTE: each rename is atomic, but the set is not: a crash during the final renames,
// which take microseconds, can leave old and new files side by side.
func writeOutputSet(dir string, files []outputFile) error {
	for _, f := range files {
		target := filepath.Join(dir, f.name)
		info, err := os.Lstat(target)
		if err == nil && !info.Mode().IsRegular() {
			return fmt.Errorf("write %s: it exists and is not a regular file (mode %v); move it away or choose another output folder", target, info.Mode().Type())
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("write %s: %w", target, err)
		}
	}

	staging, err := os.MkdirTemp(dir, ".protrude-staging-")
	if err != nil {
		return fmt.Errorf("create a staging folder in %s: %w", dir, err)
	}
	defer os.RemoveAll(staging)

	for _, f := range files {
		if err := f.write(filepath.Join(staging, f.name)); err != nil {
			return fmt.Errorf("write %s, so none of the %d output files were replaced: %w", filepath.Join(dir, f.name), len(files), err)
		}
	}

	previous := filepath.Join(staging, "previous")
	if err := os.Mkdir(previous, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", previous, err)
	}
	if err := commitOutputSet(dir, staging, previous, files); err != nil {
		return err
	}

	// The files are in place by now, so a failed folder sync, which some file systems
	// do not support, is not reported.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// commitOutputSet moves the old files of dir into previous and the staged files into
// dir. On a failure it moves back what it has moved and returns the error.
func commitOutputSet(dir, staging, previous string, files []outputFile) error {
	var movedAside, placed []string
	undo := func() {
		for _, name := range placed {
			renameFile(filepath.Join(dir, name), filepath.Join(staging, name))
		}
		for _, name := range movedAside {
			renameFile(filepath.Join(previous, name), filepath.Join(dir, name))
		}
	}

	for _, f := range files {
		target := filepath.Join(dir, f.name)
		if _, err := os.Lstat(target); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := renameFile(target, filepath.Join(previous, f.name)); err != nil {
			undo()
			return fmt.Errorf("move the old %s aside, so none of the %d output files were replaced: %w", target, len(files), err)
		}
		movedAside = append(movedAside, f.name)
	}
	for _, f := range files {
		target := filepath.Join(dir, f.name)
		if err := renameFile(filepath.Join(staging, f.name), target); err != nil {
			undo()
			return fmt.Errorf("move the new %s into place, so none of the %d output files were replaced: %w", target, len(files), err)
		}
		placed = append(placed, f.name)
	}
	return nil
}
