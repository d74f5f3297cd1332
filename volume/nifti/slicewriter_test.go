package nifti

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"protrude/volume"
)

// TestInt16SlicesMatchWriteInt16Volume writes the slices in reverse order from two
// goroutines and expects the bytes that WriteInt16Volume writes for the whole volume.
func TestInt16SlicesMatchWriteInt16Volume(t *testing.T) {
	for name, g := range writeGrids {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			v := &volume.Int16Volume{Grid: g, Voxels: make([]int16, g.NumVoxels())}
			for n := range v.Voxels {
				v.Voxels[n] = int16(n*97%4001 - 2000)
			}
			opts := WriteOptions{Description: researchDescription}
			whole := filepath.Join(dir, "whole.nii")
			if err := WriteInt16Volume(whole, v, opts); err != nil {
				t.Fatal(err)
			}

			sliced := filepath.Join(dir, "sliced.nii")
			w, err := CreateInt16Slices(sliced, g, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Abort()
			plane := g.Size[0] * g.Size[1]
			errs := make([]error, g.Size[2])
			var wg sync.WaitGroup
			for k := g.Size[2] - 1; k >= 0; k-- {
				wg.Add(1)
				go func() {
					defer wg.Done()
					buf := append([]int16(nil), v.Voxels[k*plane:(k+1)*plane]...)
					errs[k] = w.WriteSlice(k, buf)
				}()
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(sliced); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the file exists before Commit (stat error %v)", err)
			}
			if err := w.Commit(); err != nil {
				t.Fatal(err)
			}
			a, _ := os.ReadFile(whole)
			b, _ := os.ReadFile(sliced)
			if !bytes.Equal(a, b) {
				t.Fatalf("the sliced file's %d bytes differ from WriteInt16Volume's %d", len(b), len(a))
			}
		})
	}
}

func TestInt16SlicesRejects(t *testing.T) {
	g := writeGrids["identity axes"]
	dir := t.TempDir()
	if _, err := CreateInt16Slices(filepath.Join(dir, "out.nii.gz"), g, WriteOptions{}); err == nil || !strings.Contains(err.Error(), "out.nii.gz") {
		t.Errorf("a .nii.gz path gave error %v, want one that names the file", err)
	}

	path := filepath.Join(dir, "out.nii")
	w, err := CreateInt16Slices(path, g, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	plane := make([]int16, g.Size[0]*g.Size[1])
	for _, k := range []int{-1, g.Size[2]} {
		if err := w.WriteSlice(k, plane); err == nil {
			t.Errorf("slice %d was accepted on a grid with %d slices", k, g.Size[2])
		}
	}
	if err := w.WriteSlice(0, plane[1:]); err == nil || !strings.Contains(err.Error(), "has 19 values") {
		t.Errorf("a short slice gave error %v, want one that gives its length", err)
	}
	if err := w.WriteSlice(0, plane); err != nil {
		t.Fatal(err)
	}
	err = w.Commit()
	if err == nil || !strings.Contains(err.Error(), "2 of 3 slices were never written, the first is slice 1") {
		t.Errorf("Commit with missing slices gave error %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the folder holds %d entries after the failed Commit, want none", len(entries))
	}
}
