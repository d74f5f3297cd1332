package main

import (
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"protrude/volume"
	"protrude/volume/nifti"
)

// outputSetNames are the files that segment writes.
var outputSetNames = []string{"kidney.nii.gz", "protrusion.nii.gz", "tumor.nii.gz", "montage.png"}

// writeOldOutputs fills dir with one file per output name whose content is "old NAME".
func writeOldOutputs(t *testing.T, dir string) {
	t.Helper()
	for _, name := range outputSetNames {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("old "+name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// checkOldOutputs checks that dir contains exactly the files of writeOldOutputs,
// unchanged.
func checkOldOutputs(t *testing.T, dir string) {
	t.Helper()
	for _, name := range outputSetNames {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v, want the old file", name, err)
			continue
		}
		if string(b) != "old "+name {
			t.Errorf("%s contains %d bytes of new content, want the old file", name, len(b))
		}
	}
	checkFolderNames(t, dir, outputSetNames)
}

// checkFolderNames checks that dir contains exactly the given names, so that no
// staging folder or partial file is left behind.
func checkFolderNames(t *testing.T, dir string, want []string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	expected := map[string]bool{}
	for _, name := range want {
		expected[name] = true
	}
	for _, e := range entries {
		if !expected[e.Name()] {
			t.Errorf("folder contains %s, want only %v", e.Name(), want)
		}
	}
	if len(entries) != len(want) {
		t.Errorf("folder has %d entries, want %d (%v)", len(entries), len(want), want)
	}
}

// maskWriters returns real writers for the output names: a NIfTI mask for each .nii.gz
// name and a 2×3 PNG for montage.png. The writer for failName fails, because its mask has
// a zero spacing, which the NIfTI writer rejects.
func maskWriters(t *testing.T, failName string) []outputFile {
	t.Helper()
	g := volume.Grid{Size: [3]int{4, 3, 2}, SpacingMM: volume.Vec3{1, 1, 2}, AxesLPS: volume.IdentityAxesLPS}
	st := &study{}
	var files []outputFile
	for _, name := range outputSetNames {
		m := volume.NewMask(g)
		m.Labels[5] = 1
		if name == failName {
			m.SpacingMM[1] = 0
		}
		if strings.HasSuffix(name, ".png") {
			files = append(files, outputFile{name, func(path string) error {
				if name == failName {
					return nifti.WriteMask(path, m, nifti.WriteOptions{})
				}
				return writePNGAtomic(path, image.NewGray(image.Rect(0, 0, 2, 3)))
			}})
			continue
		}
		files = append(files, outputFile{name, func(path string) error { return st.writeMask(path, m) }})
	}
	return files
}

func TestWriteOutputSetReplacesAll(t *testing.T) {
	dir := t.TempDir()
	writeOldOutputs(t, dir)
	if err := writeOutputSet(dir, maskWriters(t, "")); err != nil {
		t.Fatal(err)
	}
	for _, name := range outputSetNames {
		if strings.HasSuffix(name, ".nii.gz") {
			m, _, err := nifti.ReadMask(filepath.Join(dir, name))
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if m.Labels[5] != 1 {
				t.Errorf("%s: label 5 = %d, want the new mask's 1", name, m.Labels[5])
			}
			continue
		}
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Errorf("%s is not the new PNG: %v", name, err)
		} else if img.Bounds().Dx() != 2 || img.Bounds().Dy() != 3 {
			t.Errorf("%s is %v, want the new 2×3 image", name, img.Bounds())
		}
	}
	checkFolderNames(t, dir, outputSetNames)
}

// TestWriteOutputSetFailedWriteKeepsOld makes each output's write fail in turn,
// the montage last, and checks that no old file was replaced.
func TestWriteOutputSetFailedWriteKeepsOld(t *testing.T) {
	for _, failName := range outputSetNames {
		t.Run(failName, func(t *testing.T) {
			dir := t.TempDir()
			writeOldOutputs(t, dir)
			err := writeOutputSet(dir, maskWriters(t, failName))
			if err == nil {
				t.Fatal("writeOutputSet succeeded, want the failed write's error")
			}
			if !strings.Contains(err.Error(), "none of the 4 output files were replaced") || !strings.Contains(err.Error(), failName) {
				t.Errorf("error %q, want it to name %s and say that nothing was replaced", err, failName)
			}
			checkOldOutputs(t, dir)
		})
	}
}

// TestWriteOutputSetFailureInEmptyFolder checks that a failed first run leaves no file.
func TestWriteOutputSetFailureInEmptyFolder(t *testing.T) {
	dir := t.TempDir()
	if err := writeOutputSet(dir, maskWriters(t, "montage.png")); err == nil {
		t.Fatal("writeOutputSet succeeded, want the montage's error")
	}
	checkFolderNames(t, dir, nil)
}

// TestWriteOutputSetFailedRenameRestoresOld makes the rename of the third new file
// fail, after two new files are in place, and checks that the old set is restored.
func TestWriteOutputSetFailedRenameRestoresOld(t *testing.T) {
	dir := t.TempDir()
	writeOldOutputs(t, dir)
	if err := os.Remove(filepath.Join(dir, "tumor.nii.gz")); err != nil {
		t.Fatal(err)
	}

	failure := errors.New("injected rename failure")
	placed := 0
	renameFile = func(from, to string) error {
		if filepath.Dir(to) == dir && strings.Contains(from, ".protrude-staging-") && !strings.Contains(from, "previous") {
			placed++
			if placed == 3 {
				return failure
			}
		}
		return os.Rename(from, to)
	}
	t.Cleanup(func() { renameFile = os.Rename })

	err := writeOutputSet(dir, maskWriters(t, ""))
	if !errors.Is(err, failure) {
		t.Fatalf("error %v, want the injected rename failure", err)
	}
	for _, name := range outputSetNames {
		if name == "tumor.nii.gz" {
			if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s exists (%v), want it absent as before the run", name, err)
			}
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(b) != "old "+name {
			t.Errorf("%s contains %d bytes (%v), want the old content restored", name, len(b), err)
		}
	}
	checkFolderNames(t, dir, []string{"kidney.nii.gz", "protrusion.nii.gz", "montage.png"})
}

func TestWriteOutputSetRejectsFolderAtTarget(t *testing.T) {
	dir := t.TempDir()
	writeOldOutputs(t, dir)
	if err := os.Remove(filepath.Join(dir, "montage.png")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "montage.png"), 0o755); err != nil {
		t.Fatal(err)
	}
	err := writeOutputSet(dir, maskWriters(t, ""))
	if err == nil || !strings.Contains(err.Error(), "is not a regular file") {
		t.Fatalf("error %v, want one saying montage.png is not a regular file", err)
	}
	info, err := os.Stat(filepath.Join(dir, "montage.png"))
	if err != nil || !info.IsDir() {
		t.Errorf("montage.png is no longer the folder it was (%v)", err)
	}
	for _, name := range outputSetNames[:3] {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(b) != "old "+name {
			t.Errorf("%s contains %d bytes (%v), want the old content", name, len(b), err)
		}
	}
	checkFolderNames(t, dir, outputSetNames)
}
