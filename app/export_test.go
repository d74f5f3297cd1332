package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"

	"protrude/lesions"
	"protrude/overlays"
	"protrude/seg"
	"protrude/volume"
	"protrude/volume/nifti"
)

// reopenExport opens the masks file name of an export in dir onto a fresh window on the
// same scan, as File > Open masks does, and returns that window.
func reopenExport(t *testing.T, scan, dir, name string) *viewerUI {
	t.Helper()
	ui := newSessionTestUI(t, scan)
	path := filepath.Join(dir, name)
	masks, err := readMasksFor(path, ui.study, nil)
	if err != nil {
		t.Fatal(err)
	}
	review, err := readReviewFor(path, masks[overlays.TumorName], ui.study)
	if err != nil {
		t.Fatal(err)
	}
	ui.showMasksWithReview(masks, review, path)
	return ui
}

// checkStatuses checks that the lesion list of ui has the IDs and statuses of want.
func checkStatuses(t *testing.T, step string, ui *viewerUI, want *lesions.Table) {
	t.Helper()
	got := ui.lesionList.table
	if got == nil || len(got.Lesions) != len(want.Lesions) {
		t.Fatalf("%s: lesion table %v, want %d lesions", step, got, len(want.Lesions))
	}
	for n, w := range want.Lesions {
		if g := got.Lesions[n]; g.ID != w.ID || g.Status != w.Status {
			t.Errorf("%s: lesion %d has ID %d status %q, want ID %d status %q", step, n, g.ID, g.Status, w.ID, w.Status)
		}
	}
}

func TestExportMasksNIfTIReopens(t *testing.T) {
	dir := t.TempDir()
	ui := editedTestSession(t, dir)
	set, err := ui.captureMaskSet()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "export")
	names, err := exportMaskFiles(ui.study, set, out, formatNIfTI)
	if err != nil {
		t.Fatal(err)
	}
	// The protruded-region and base-network layers have no mask, so they get no file.
	want := []string{"kidney.nii.gz", "tumor.nii.gz", "labels.nii.gz", lesionsFileName}
	if !slices.Equal(names, want) {
		t.Errorf("exported %v, want %v", names, want)
	}
	if _, err := exportMaskFiles(ui.study, set, out, formatSEG); err == nil || !strings.Contains(err.Error(), "NIfTI file") {
		t.Errorf("SEG export of a NIfTI scan: error %v, want one that says the scan is a NIfTI file", err)
	}

	_, h, err := nifti.ReadMask(filepath.Join(out, "tumor.nii.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h.Descrip, researchNotice) {
		t.Errorf("tumor.nii.gz descrip %q lacks the research notice", h.Descrip)
	}

	// The per-layer file and the label map both load back with the review.
	scan := ui.study.Path
	for _, name := range []string{"tumor.nii.gz", "labels.nii.gz"} {
		back := reopenExport(t, scan, out, name)
		checkVoxels(t, name, back.layers[tumorLayer].Mask, labelledVoxels(ui.layers[tumorLayer].Mask))
		checkStatuses(t, name, back, ui.lesionList.table)
	}
	if back := reopenExport(t, scan, out, "kidney.nii.gz"); back.lesionList.table != nil {
		t.Error("kidney.nii.gz alone gave the tumor layer a lesion table")
	}
}

func TestExportMasksRealDICOMSEG(t *testing.T) {
	series := sharedData(t, "dicom/real_ncct_series")
	ui := newSessionTestUI(t, series)
	g := ui.study.CT.Grid

	// A kidney slab and an empty protruded region stand for a run's output. The tumor
	// is painted by hand afterwards, so only its segment is SEMIAUTOMATIC.
	kidney, protrusion := volume.NewMask(g), volume.NewMask(g)
	for k := 70; k < 90; k++ {
		for j := 40; j < 60; j++ {
			for i := 30; i < 50; i++ {
				kidney.Labels[g.Offset(i, j, k)] = 1
			}
		}
	}
	ui.showMasks(map[string]*volume.Mask{overlays.KidneyName: kidney, overlays.ProtrusionName: protrusion, overlays.TumorName: volume.NewMask(g)}, "run")
	ui.last = newLastRun(nil, kidney, protrusion, ui.layers[tumorLayer].Mask)
	paintStroke(t, ui, [3]int{35, 45, 80})
	paintStroke(t, ui, [3]int{45, 55, 85})
	if n := ui.lesionRowCount(); n != 2 {
		t.Fatalf("%d lesions after two strokes, want 2", n)
	}
	ui.selectLesion(0)
	ui.setLesionStatus(lesions.Rejected)

	set, err := ui.captureMaskSet()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if _, err := exportMaskFiles(ui.study, set, out, formatBoth); err != nil {
		t.Fatal(err)
	}
	segPath := filepath.Join(out, "segmentation.dcm")
	checkDciodvfy(t, segPath)

	// The SEG loads back with identical voxels and the review.
	back := reopenExport(t, series, out, "segmentation.dcm")
	for n := range 3 {
		checkVoxels(t, "SEG layer "+ui.layers[n].Name, back.layers[n].Mask, labelledVoxels(ui.layers[n].Mask))
	}
	checkStatuses(t, "SEG", back, ui.lesionList.table)

	src, err := seg.ReadSource(series, g)
	if err != nil {
		t.Fatal(err)
	}
	segments, err := seg.Read(segPath, src)
	if err != nil {
		t.Fatal(err)
	}
	wantTypes := []string{seg.AlgorithmAutomatic, seg.AlgorithmAutomatic, seg.AlgorithmSemiautomatic}
	for n, s := range segments {
		if s.AlgorithmType != wantTypes[n] {
			t.Errorf("segment %d (%s) is %s, want %s", s.Number, s.Label, s.AlgorithmType, wantTypes[n])
		}
	}

	checkGeometryAgainstDcm2niix(t, series, filepath.Join(out, "kidney.nii.gz"))

	// The NIfTI header stores the grid in float32, but masks opened from it take the
	// scan's exact grid, which a re-run compares with ==.
	fromNIfTI := reopenExport(t, series, out, "labels.nii.gz")
	for n := range 3 {
		if m := fromNIfTI.layers[n].Mask; m == nil || m.Grid != fromNIfTI.study.CT.Grid {
			t.Errorf("layer %s from labels.nii.gz is not on the scan's exact grid", fromNIfTI.layers[n].Name)
		}
	}
	checkVoxels(t, "kidney from labels.nii.gz", fromNIfTI.layers[kidneyLayer].Mask, labelledVoxels(ui.layers[kidneyLayer].Mask))
}

// checkDciodvfy runs dciodvfy (Debian dicom3tools) on path and fails on any error.
func checkDciodvfy(t *testing.T, path string) {
	t.Helper()
	dciodvfy, err := exec.LookPath("dciodvfy")
	if err != nil {
		t.Skip("skipping: dciodvfy is not installed (apt install dicom3tools)")
	}
	out, _ := exec.Command(dciodvfy, path).CombinedOutput()
	if !strings.Contains(string(out), "Segmentation") {
		t.Errorf("dciodvfy did not recognise a Segmentation:\n%s", out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "Error") {
			t.Errorf("dciodvfy %s: %s", filepath.Base(path), line)
		}
	}
}

// checkGeometryAgainstDcm2niix converts the DICOM series with dcm2niix and checks with
// nibabel that mask has the same shape and voxel-to-world affine, after both are
// turned to the closest canonical orientation (dcm2niix may store the rows in the
// opposite order).
func checkGeometryAgainstDcm2niix(t *testing.T, series, mask string) {
	t.Helper()
	dcm2niix, err := exec.LookPath("dcm2niix")
	if err != nil {
		t.Skip("skipping: dcm2niix is not installed (apt install dcm2niix)")
	}
	dir := t.TempDir()
	if out, err := exec.Command(dcm2niix, "-z", "y", "-f", "ref", "-o", dir, series).CombinedOutput(); err != nil {
		t.Fatalf("dcm2niix: %v\n%s", err, out)
	}
	ref := filepath.Join(dir, "ref.nii.gz")
	if _, err := os.Stat(ref); err != nil {
		t.Fatalf("dcm2niix wrote no %s: %v", ref, err)
	}
	script := `
import sys, nibabel as nib, numpy as np
a = nib.as_closest_canonical(nib.load(sys.argv[1]))
b = nib.as_closest_canonical(nib.load(sys.argv[2]))
assert a.shape[:3] == b.shape[:3], (a.shape, b.shape)
d = np.abs(a.affine - b.affine).max()
assert d <= 1e-3, "affine differs by %g mm:\n%s\n%s" % (d, a.affine, b.affine)
print("ok")
`
	out, err := exec.Command("/usr/bin/python3", "-c", script, ref, mask).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "No module named 'nibabel'") {
			t.Skip("nibabel is not installed (Debian package python3-nibabel)")
		}
		t.Fatalf("nibabel: %s does not have the geometry dcm2niix gives the series: %v\n%s", mask, err, out)
	}
}

// TestLongMessagesKeepWindowWidth checks that a long stage or status message, such as
// the export's list of files and folder, is cut short instead of widening the window
// past a 1280-pixel screen.
func TestLongMessagesKeepWindowWidth(t *testing.T) {
	ui := newEditTestUI(t)
	before := ui.win.Content().MinSize().Width
	long := "Exported kidney.nii.gz, protrusion.nii.gz, tumor.nii.gz, base_tumor.nii.gz, labels.nii.gz, segmentation.dcm, lesions.json to " +
		strings.Repeat("/a-long-folder-name", 20)
	ui.stageLabel.SetText(long)
	ui.status.SetText(long)
	if after := ui.win.Content().MinSize().Width; after > before || after > 1280 {
		t.Errorf("the window's minimum width went from %.0f to %.0f with a long message", before, after)
	}
}

// TestConfirmReplaceAsksForProtrudeFiles checks that writing into a folder shows a
// confirmation when it contains Protrude files, and goes ahead at once otherwise.
func TestConfirmReplaceAsksForProtrudeFiles(t *testing.T) {
	ui := newEditTestUI(t)
	dir := t.TempDir()
	wrote := 0
	write := func() { wrote++ }
	overlays := func() int { return len(ui.win.Canvas().Overlays().List()) }

	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	ui.confirmReplace(dir, []string{"kidney.nii.gz", lesionsFileName}, write)
	if wrote != 1 || overlays() != 0 {
		t.Fatalf("a folder without Protrude files: %d writes and %d dialogs, want 1 and 0", wrote, overlays())
	}

	// An export left labels.nii.gz; a session save would replace kidney.nii.gz only.
	for _, name := range []string{"kidney.nii.gz", "labels.nii.gz"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ui.confirmReplace(dir, []string{"kidney.nii.gz", sessionFileName}, write)
	if wrote != 1 || overlays() != 1 {
		t.Errorf("a folder with Protrude files: %d writes and %d dialogs, want 1 and 1", wrote, overlays())
	}
}

// TestExportCountsAsSaved checks that after an export, quitting or opening another
// scan needs no confirmation, because the masks and the review are on disk.
func TestExportCountsAsSaved(t *testing.T) {
	dir := t.TempDir()
	ui := editedTestSession(t, dir)
	if !ui.hasUnsavedChanges() {
		t.Fatal("an edited session has no unsaved changes")
	}
	set, err := ui.captureMaskSet()
	if err != nil {
		t.Fatal(err)
	}
	ui.exportMasks(filepath.Join(dir, "export"), formatNIfTI, set)
	waitFor(t, "the export to finish", func() bool {
		var saved bool
		fyne.DoAndWait(func() { saved = !ui.hasUnsavedChanges() })
		return saved
	})
}
